"""Cycle-exact traces of BARISTA's RTL blocks (pure Python, nothing imported from ``hw/``).

RTL: ``hw.barista.dispatch.TaskDispatch`` gives :func:`golden.barista.group_schedule`'s
schedule cycle for cycle, and so does ``hw.barista.group.BaristaGroup`` (the dispatcher with
SparTen's compute units, on 1x1 layers, task costs from the real chunk matches); that schedule is
the scheduling rule of :func:`golden.barista_layer.layer_cycles` (a test ties them).
``hw.barista.fetch.ChunkFetch`` (a bank with its request/response ports) follows
:func:`fetch_trace`, ``hw.barista.outbuf.ColourBuffer`` :func:`drain_trace`. The whole cluster,
``hw.barista.cluster.BaristaCluster`` (shared banks, combining and snarfing, the dispatcher,
SparTen's units, the coloured buffer; KxK layers with stride and padding), follows
:func:`cluster_trace` cycle for cycle under output backpressure (every grant, every drained result,
cycles, bank reads), and ``hw.barista.engine.BaristaEngine`` (several clusters, the filters dealt by
:func:`~golden.barista.cluster_filters`) :func:`engine_trace`. Where the RTL is exact and the
layer model abstracts: the banks (the model's ``combine_window`` rule combines requests that meet
within the window, the RTL's single-level network only those pending at once: on the benchmark's
reduced 3x3 layers both read 68-93% of the requests, on its 1x1 layer the RTL 68%, the model 27%),
the fetch latency (3 cycles, hidden by the private queue except on short tasks) and the drain of a
colour (the RTL frees it after the drain, the model when its last task ends); and the RTL runs one
cluster's filters filter-major over all its units, where the model gives each filter its own group.
On one-filter layers (the same schedule) the model is a lower bound of the trace (a test checks it);
with several filters it may be above it (a filter's group of one unit is slower than the RTL's
sharing), see the benchmark's RTL rows.

The layer model these traces are compared with is :mod:`golden.barista_layer`; the cycle steps
they are built of (a bank, the drain, the cluster's registers) are :mod:`golden.barista_steps`.
"""

import numpy as np

from .barista_schedule import cluster_filters
from .barista_steps import Bank, ClusterRun, drain_step
from .conv import conv_output_shape
from .sparsemap import check_int_array

__all__ = ["fetch_trace", "drain_trace", "cluster_layout", "cluster_trace", "engine_filters",
           "engine_trace"]


def fetch_trace(mem, requests, offer, ready):
    """Cycle-exact behaviour of ``hw.barista.fetch.ChunkFetch`` (one bank, combining, snarfing).

    Parameters
    ----------
    mem : sequence of int
        The bank's words.
    requests : list of lists of int
        Per port, the addresses it requests, in order.
    offer : bool array ``[ports, cycles]``
        Whether port ``i`` starts offering its next request in cycle ``t`` (an offered request is
        held, valid, until taken: the stream rules).
    ready : bool array ``[ports, cycles]``
        Whether port ``i`` takes a response in cycle ``t``.

    Returns
    -------
    dict
        ``req_cycles`` / ``resp_cycles`` (per port, the cycles of the transfers), ``data`` (per
        port, the words received), ``reads`` (bank reads issued), ``cycles`` (cycle after the last
        response). Raises RuntimeError when the patterns end before every response is taken.
    """
    n = len(requests)
    offer = np.asarray(offer, dtype=bool)
    ready = np.asarray(ready, dtype=bool)
    bank = Bank(n, [int(x) for x in mem])
    hold = [False] * n
    nxt = [0] * n
    req_c = [[] for _ in range(n)]
    resp_c = [[] for _ in range(n)]
    got = [[] for _ in range(n)]
    total = sum(len(r) for r in requests)
    done = 0
    for t in range(offer.shape[1]):
        req = {}
        for i in range(n):
            valid = nxt[i] < len(requests[i]) and (hold[i] or bool(offer[i, t]))
            if valid and not bank.pend[i]:
                req[i] = requests[i][nxt[i]]
                req_c[i].append(t)
                nxt[i] += 1
            hold[i] = valid and i not in req
        taken = [i for i in range(n) if bank.have[i] and ready[i, t]]
        for i in taken:
            resp_c[i].append(t)
            got[i].append(bank.pdata[i])
        done += len(taken)
        bank.step(req, taken)
        if done == total:
            return {"req_cycles": req_c, "resp_cycles": resp_c, "data": got,
                    "reads": bank.reads, "cycles": t + 1}
    raise RuntimeError(f"patterns of {offer.shape[1]} cycles end with {total - done} responses "
                       f"not taken")


def drain_trace(colours, depth, writes, closes, ready):
    """Cycle-exact behaviour of ``hw.barista.outbuf.ColourBuffer``.

    Parameters
    ----------
    colours, depth : int
        Banks and entries per bank.
    writes : dict
        ``{cycle: (colour, addr, value)}``: the write stream's transfers (it is always ready).
    closes : list of (cycle, colour, count)
        Close requests, each offered from its cycle on and held until taken (in order).
    ready : bool sequence
        ``o.ready`` per cycle.

    Returns
    -------
    dict
        ``out``: ``[(cycle, colour, addr, value)]`` transfers of ``o``; ``freed``:
        ``[(cycle, colour)]``; ``closed``: cycles the closes were taken.
    """
    mem = [[0] * depth for _ in range(colours)]
    rp = [0] * colours
    st = dict(active=False, colour=0, count=0, raddr=0, pending=False, paddr=0, ovalid=False,
              oaddr=0, odata=0, last=False)
    out, freed, closed = [], [], []
    queue = list(closes)
    for t, rdy in enumerate(ready):
        s, new_rp, sent, done = drain_step(st, rp, mem, depth, rdy)
        if sent:
            out.append((t,) + sent)
        if done:
            freed.append((t, st["colour"]))
        close = queue[0] if queue and queue[0][0] <= t else None
        if close is not None and not st["active"]:
            queue.pop(0)
            closed.append(t)
            s.update(active=True, colour=close[1], count=close[2], raddr=0, pending=False,
                     ovalid=False, last=False)
        if t in writes:
            c, a, v = writes[t]
            mem[c][a] = v
        st, rp = s, new_rp
    return {"out": out, "freed": freed, "closed": closed}


def cluster_layout(w_shape, a_shape, config, stride=1, padding=0, tile_size=None):
    """Where a layer lives in ``hw.barista.cluster.BaristaCluster`` and what it asks of it.

    Pixel ``(y, x)``'s channel chunk ``j`` is at ``(y*W + x)*nc + j``, filter ``k``'s tap ``(r, s)``
    chunk ``j`` at ``fbase + ((k*R + r)*R + s)*nc + j`` with ``fbase = H*W*nc``. Returns a dict
    (``K, C, R, H, W, nc, out_h, out_w, n_tasks, tile_size, fbase, chunks``); raises ValueError
    naming the parameter when the cluster cannot run the layer. ``tile_size`` defaults to one
    output row (at least ``units_per_cluster`` tasks, at most one colour).
    """
    K, C, R, S = w_shape
    C2, H, W = a_shape
    if C2 != C:
        raise ValueError(f"channel mismatch: weights have C={C}, activations have C={C2}")
    if R != S:
        raise ValueError(f"the cluster runs square kernels, not {R}x{S}")
    if not 1 <= R <= 15 or not 1 <= stride <= 15:
        raise ValueError(f"kernel {R} and stride {stride} must be in 1..15")
    if not 0 <= padding < R:
        raise ValueError(f"padding must be in 0..{R - 1} (kernel - 1), not {padding!r}")
    if not (1 <= H <= 255 and 1 <= W <= 255):
        raise ValueError(f"map {H}x{W}: height and width must be in 1..255")
    ho, wo = conv_output_shape(H, W, R, S, stride, padding)
    nc = -(-C // config.chunk)
    fbase = H * W * nc
    chunks = fbase + K * R * R * nc
    if chunks > config.input_buffer_chunks:
        raise ValueError(f"layer needs {chunks} chunks (map {fbase}, filters {chunks - fbase}); "
                         f"input_buffer_chunks={config.input_buffer_chunks}")
    n_tasks = K * ho * wo
    if n_tasks >= 1 << 16:
        raise ValueError(f"{n_tasks} tasks (filters x positions): at most 65535")
    U, E = config.units_per_cluster, config.output_buffer_entries
    if tile_size is None:
        tile_size = min(E, max(U, wo))
    if not max(1, U) <= tile_size <= E:
        raise ValueError(f"tile_size must be in {U}..{E} (units_per_cluster.."
                         f"output_buffer_entries), not {tile_size!r}")
    return {"K": K, "C": C, "R": R, "H": H, "W": W, "nc": nc, "out_h": ho, "out_w": wo,
            "n_tasks": n_tasks, "tile_size": int(tile_size), "fbase": fbase, "chunks": chunks}


def cluster_trace(w, a, config, stride=1, padding=0, tile_size=None, ready=None, *,
                  result_latency, grants_per_cycle, fin_latency, max_cycles=10 ** 6):
    """Cycle-exact behaviour of ``hw.barista.cluster.BaristaCluster`` on one layer.

    Parameters
    ----------
    w, a : int arrays ``[K,C,R,R]``, ``[C,H,W]``
    config : BaristaConfig-like
    ready : bool sequence or None
        ``o.ready`` in each cycle, cycle 0 being the one after ``start`` (None: always ready).
    result_latency : int
        The compute unit's result latency (``hw.sparten.cu.ComputeUnit.result_latency``: cycles
        from a task's last join beat to its result).
    grants_per_cycle : int or None
        The dispatcher's grants per cycle at most (``BaristaCluster.grants_per_cycle``; None:
        every unit).
    fin_latency : int
        Cycles from a unit's last request of a task to its ``fin`` at the dispatcher, 0 or 1
        (``BaristaCluster.fin_latency``; ``BaristaCluster.latencies()`` gives both keywords).

    Returns
    -------
    dict
        ``cycles`` (the RTL's ``cycles`` counter at ``done``), ``out`` (``[(colour, addr, value)]``
        in drain order), ``out_cycles``, ``reads``, ``requests``, ``grants`` (per task:
        ``(cycle, unit)``), ``unit_busy`` (join cycles per unit), ``layout``
        (:func:`cluster_layout`) and ``values`` (per task, in task order).
    """
    w = check_int_array(w, bits=None, name="weights")
    a = check_int_array(a, bits=None, name="activations")
    lay = cluster_layout(w.shape, a.shape, config, stride, padding, tile_size)
    run = ClusterRun(w, a, lay, config, stride, padding, result_latency, grants_per_cycle,
                     fin_latency)
    for t in range(max_cycles):
        rdy = True if ready is None else bool(ready[t]) if t < len(ready) else None
        if rdy is None:
            raise RuntimeError(f"the ready pattern ({len(ready)} cycles) ended before done")
        if run.cycle(t, rdy):
            return run.result(t)
    raise RuntimeError(f"the cluster trace did not finish in {max_cycles} cycles")


def engine_filters(w, n_clusters):
    """The filters of each cluster of ``hw.barista.engine.BaristaEngine``: the layer model's
    deal (:func:`cluster_filters`, longest processing time on the filters' non-zeros). Raises
    ValueError when a cluster would get none."""
    w = np.asarray(w)
    if w.shape[0] < n_clusters:
        raise ValueError(f"{w.shape[0]} filters for {n_clusters} clusters: every cluster needs "
                         f"at least one")
    nnz = (w != 0).reshape(w.shape[0], -1).sum(axis=1)
    return [[int(k) for k in f] for f in cluster_filters(nnz, n_clusters)]


def engine_trace(w, a, config, stride=1, padding=0, tile_size=None, ready=None, *,
                 result_latency, grants_per_cycle, fin_latency):
    """Cycle-exact behaviour of ``hw.barista.engine.BaristaEngine``: every cluster runs
    :func:`cluster_trace` on its filters (:func:`engine_filters`) with its own output ``ready``
    pattern (``ready[c]``, or None). Returns ``{"filters", "clusters" (the traces), "cycles"
    (the slowest cluster's)}``."""
    filters = engine_filters(w, config.n_clusters)
    w = np.asarray(w)
    traces = [cluster_trace(w[f], a, config, stride, padding, tile_size,
                            None if ready is None else ready[c], result_latency=result_latency,
                            grants_per_cycle=grants_per_cycle, fin_latency=fin_latency)
              for c, f in enumerate(filters)]
    return {"filters": filters, "clusters": traces,
            "cycles": max(t["cycles"] for t in traces)}
