"""How BARISTA's layer model deals out its work, and the one scheduling rule it shares with the
RTL: filters to clusters (:func:`cluster_filters`, longest processing time on the non-zeros),
units to the filters of a cluster (:func:`units_per_filter`, in proportion to the non-zeros),
output positions to tiles (:func:`tile_positions`, bands that fit the buffers), tasks to units and
tiles to colours (:func:`group_schedule` with :func:`tile_open`: greedy dynamic round-robin, a tile
opening once the colour it reuses has drained). :func:`golden.barista_layer.layer_cycles` is
these rules vectorised over a whole layer; :func:`group_schedule` is also the cycle behaviour of
``hw.barista.dispatch.TaskDispatch`` (a test ties the three). Pure Python/NumPy, nothing
imported from ``hw/``.
"""

import numpy as np

__all__ = ["cluster_filters", "units_per_filter", "tile_positions", "group_schedule", "tile_open"]


def cluster_filters(nnz, n_clusters):
    """Filters dealt to clusters, longest-processing-time first on ``nnz`` (per-filter non-zeros).

    Returns a list of ``n_clusters`` int arrays of channel indices, each heaviest first.
    """
    nnz = np.asarray(nnz, dtype=np.int64)
    order = np.lexsort((np.arange(len(nnz)), -nnz))
    load = [0] * n_clusters
    out = [[] for _ in range(n_clusters)]
    for k in order.tolist():
        c = min(range(n_clusters), key=lambda i: (load[i], len(out[i]), i))
        out[c].append(k)
        load[c] += int(nnz[k])
    return [np.asarray(x, dtype=np.int64) for x in out]


def units_per_filter(nnz, n_units):
    """Units given to each of ``len(nnz) <= n_units`` filters, in proportion to ``nnz`` (largest
    remainder, at least one each); sums to ``n_units``."""
    nnz = np.asarray(nnz, dtype=np.float64)
    n = len(nnz)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n > n_units:
        raise ValueError(f"{n} filters cannot each get a unit of {n_units}")
    spare = n_units - n
    weight = nnz + 1e-9
    share = spare * weight / weight.sum()
    g = np.floor(share).astype(np.int64)
    rest = spare - int(g.sum())
    if rest:
        frac = share - g
        g[np.lexsort((np.arange(n), -frac))[:rest]] += 1
    return g + 1


def tile_positions(ho, wo, R, stride, W, nc, rows_fit_chunks, out_fit):
    """Cut the ``ho x wo`` output positions into tiles (lists of flat position indices, row-major).

    A band of ``n`` output rows reads ``((n-1)*stride + R) * W * nc`` input chunks; the band is the
    tallest with at most ``rows_fit_chunks`` of them and at most ``out_fit`` positions. When not
    even one row fits, a row is cut into runs of ``t`` positions reading ``R * ((t-1)*stride +
    S_eff) * nc`` chunks (``S_eff = R``, square kernels *(ours)*). Raises ValueError when a single
    position does not fit.
    """
    def band(n):
        return ((n - 1) * stride + R) * W * nc

    n = 0
    while n < ho and band(n + 1) <= rows_fit_chunks and (n + 1) * wo <= out_fit:
        n += 1
    if n >= 1:
        return [np.arange(y * wo, min(ho, y + n) * wo) for y in range(0, ho, n)]
    t = 0
    while t < wo and R * (t * stride + R) * nc <= rows_fit_chunks and t + 1 <= out_fit:
        t += 1
    if t < 1:
        raise ValueError(f"one output position needs {R * R * nc} input chunks and one output "
                         f"entry per filter: the buffers cannot hold it")
    return [np.arange(y * wo + x, y * wo + min(wo, x + t)) for y in range(ho)
            for x in range(0, wo, t)]


def group_schedule(costs, n_units, tile_size, colours, open_latency=0, release_latency=0):
    """The schedule :func:`layer_cycles` gives one filter group, task by task (scalar reference,
    and the cycle behaviour of ``hw.barista.dispatch.TaskDispatch``).

    Tasks ``0..n-1`` cost ``costs[i]`` cycles and form tiles of ``tile_size`` consecutive tasks.
    Task ``i`` goes to the unit that frees first (lowest index on ties) and starts at the later of
    that and its tile's release. Tile ``s`` opens ``open_latency`` cycles after tile ``s - 1``
    opened and after tile ``s - colours`` completed (its last task ended), tile 0 in cycle 0, and
    is released ``release_latency`` cycles after it opened (``TaskDispatch.open_latency`` and
    ``release_latency``; 0 and 0: a dispatcher that opens and grants in the cycle a colour frees,
    several tiles a cycle). Returns
    ``{"start", "unit", "end"}`` (per-task lists, and the last task's end).
    """
    free = [0] * n_units
    opened, done, starts, units = 0, [], [], []
    for s, t0 in enumerate(range(0, len(costs), tile_size)):
        opened = tile_open(opened, s, done, colours, open_latency)
        release = opened + release_latency
        end = 0
        for c in costs[t0:t0 + tile_size]:
            u = min(range(n_units), key=lambda k: (free[k], k))
            st = max(free[u], release)
            free[u] = st + int(c)
            end = max(end, free[u])
            starts.append(st)
            units.append(u)
        done.append(end)
    return {"start": starts, "unit": units, "end": max(done) if done else 0}


def tile_open(prev_open, s, done, colours, open_latency):
    """The cycle tile ``s`` opens: ``open_latency`` after tile ``s - 1`` opened (``prev_open``)
    and after tile ``s - colours`` completed (``done[s - colours]``); tile 0 in cycle 0. The
    one rule of :func:`group_schedule` and :func:`layer_cycles`."""
    o = prev_open + open_latency if s else 0
    if s >= colours:
        o = max(o, done[s - colours] + open_latency)
    return o
