"""Cycle model of the SparTen layer top (hw/sparten/layer.py), exact and vectorised.

What the hardware does (and so what this counts): the layer runs ``rounds = ceil(K / n_units)``
rounds; in each round unit ``u`` owns the filter of the slot table's entry ``round*n_units + u``
(``perm``; ``-1`` = no filter, its masks are zero). For every output position ``(yo, xo)``, every
tap ``(r, s)`` (row-major, padding taps included as all-zero chunks) and every channel chunk ``j``,
one activation chunk is broadcast to all units. Each unit's inner join spends
``max(1, ceil(m / M))`` cycles on it (``m`` matches, ``M`` matches per cycle); the cluster accepts the
next chunk when every unit is done (the barrier), so a chunk costs ``max_u`` of that, and chunks
follow each other without bubbles. Hence::

    cycles = PIPELINE + sum over chunks t of max_u max(1, ceil(m[u, t] / M))

with ``PIPELINE`` the fill/drain of the datapath: the hardware's
:attr:`hw.sparten.layer.SparTenLayer.latency`, which callers pass in as ``pipeline`` (golden/ does
not import hw/, and no pipeline constant is copied here). The match counts
``m[u, t]`` are computed per tap and chunk as a 0/1 matrix product (float32 BLAS, exact because
counts are at most 256), so a VGG-16 layer takes seconds.

Baselines beside it (same ``n_units`` units of ``M`` MACs, same barrier and rounds, no pipeline
overhead): ``dense_cycles`` multiplies every channel of every tap (``ceil(C / M)`` cycles per tap and
position); ``onesided_cycles`` skips zero weights only (a chunk costs ``max_u max(1, ceil(nnz_w / M))``).
"""

import numpy as np

from .innerjoin import join_costs
from .conv import check_conv_operands, conv_output_shape

__all__ = ["slot_table", "chunk_counts", "layer_cycles"]


def slot_table(K, n_units, perm=None):
    """The slot -> output-channel table, ``int64[rounds * n_units]``, ``-1`` for an idle slot.

    ``perm`` may be ``None`` (channel ``k`` in slot ``k``), a permutation of ``range(K)`` (the
    channels in slot order, padded with ``-1``), or a full table of length ``rounds * n_units``
    holding every channel once and ``-1`` elsewhere (what golden/balance.py emits).
    """
    rounds = -(-K // n_units)
    n = rounds * n_units
    if perm is None:
        table = np.full(n, -1, dtype=np.int64)
        table[:K] = np.arange(K)
        return table
    perm = np.asarray(perm)
    if perm.dtype.kind not in "iu" or perm.ndim != 1:
        raise TypeError(f"perm must be a 1-D integer array, not {perm.dtype} of shape {perm.shape}")
    perm = perm.astype(np.int64)
    if len(perm) == K:
        perm = np.concatenate([perm, np.full(n - K, -1, dtype=np.int64)])
    if len(perm) != n:
        raise ValueError(f"perm must have K={K} or rounds*n_units={n} entries, not {len(perm)}")
    used = np.sort(perm[perm >= 0])
    if not np.array_equal(used, np.arange(K)) or np.any(perm < -1):
        raise ValueError(f"perm must hold every channel 0..{K - 1} exactly once (and -1 for idle "
                         f"slots), got {perm.tolist()}")
    return perm


def _bits(x):
    return (x != 0).astype(np.float32)


def chunk_counts(w, a, chunk, stride=1, padding=0):
    """Match counts per chunk, as a generator of ``(r, s, j, counts[P, K])`` (``P = Ho*Wo``).

    ``counts[p, k]`` is ``popcount(mask_w[k, r, s, j] & mask_a[tap position of p, j])``; zero for a
    padding tap. Taps in row-major order, chunks innermost (the sequencer's order within a
    position).
    """
    K, C, R, S = w.shape
    _, H, W = a.shape
    ho, wo = conv_output_shape(H, W, R, S, stride, padding)
    nc = -(-C // chunk)
    ab = np.zeros((nc * chunk, H + 2 * padding, W + 2 * padding), dtype=np.float32)
    ab[:C, padding:padding + H, padding:padding + W] = _bits(a)
    wb = np.zeros((K, nc * chunk, R, S), dtype=np.float32)
    wb[:, :C] = _bits(w)
    for r in range(R):
        for s in range(S):
            win = ab[:, r:r + stride * (ho - 1) + 1:stride, s:s + stride * (wo - 1) + 1:stride]
            win = win.reshape(nc * chunk, ho * wo)
            for j in range(nc):
                blk = win[j * chunk:(j + 1) * chunk]             # [chunk, P]
                wk = wb[:, j * chunk:(j + 1) * chunk, r, s]       # [K, chunk]
                yield r, s, j, np.rint(blk.T @ wk.T).astype(np.int64)


def layer_cycles(w, a, config, stride=1, padding=0, perm=None, *, pipeline):
    """Predict the layer top's cycle count (and baselines) for ``w[K,C,R,S]`` on ``a[C,H,W]``.

    Parameters
    ----------
    w, a : integer arrays
        Filters and activations in PyTorch layouts (values only matter through being non-zero).
    config : hw.sparten.config.SparTenConfig
        Uses ``chunk``, ``n_units``, ``matches_per_cycle`` and ``fifo_depth``.
    stride, padding : int
    perm : None or integer array
        Slot table or channel order (see :func:`slot_table`).
    pipeline : int
        Fill/drain cycles of the layer top beyond the chunk costs: ``SparTenLayer.latency_of(config)``
        of the hardware the prediction is for.

    Returns
    -------
    dict
        ``cycles`` (the RTL's cycle counter), ``dense_cycles``, ``onesided_cycles``,
        ``matched_macs``, ``utilization`` (matched MACs / (cycles * n_units * M)),
        ``rounds``, ``chunks`` (broadcast chunks), ``pipeline``, and per unit ``unit_busy``,
        ``unit_matched``, ``unit_stall`` (lists of ``n_units`` ints: cycles the unit worked, MACs it
        did, cycles it waited at the barrier) and ``ideal_cycles`` (matched MACs spread perfectly
        over all units, no barrier).
    """
    w, a = check_conv_operands(w, a)
    if isinstance(pipeline, bool) or not isinstance(pipeline, (int, np.integer)) or pipeline < 0:
        raise ValueError(f"pipeline must be a non-negative int (the layer top's latency), "
                         f"not {pipeline!r}")
    pipe = int(pipeline)
    K, C, R, S = w.shape
    n, mpc, chunk = config.n_units, config.matches_per_cycle, config.chunk
    table = slot_table(K, n, perm)
    rounds = len(table) // n
    valid = table >= 0
    idx = np.where(valid, table, 0)
    ho, wo = conv_output_shape(a.shape[1], a.shape[2], R, S, stride, padding)
    P = ho * wo
    nc = -(-C // chunk)
    total, onesided, busy, matched_u, stall = _barrier_sums(w, a, config, stride, padding,
                                                            valid, idx, P, rounds)
    if getattr(config, "unit_fifo_depth", 0):
        span, busy_q = _windowed_span(w, a, config, stride, padding, valid, idx, P, rounds)
        assert np.array_equal(busy_q, busy)
        total = span
        stall = span - busy
    cycles = total + pipe
    matched = int(matched_u.sum())
    dense = rounds * P * R * S * -(-C // mpc)
    return {
        "cycles": cycles,
        "dense_cycles": dense,
        "onesided_cycles": onesided,
        "matched_macs": matched,
        "utilization": matched / (cycles * n * mpc) if cycles else 0.0,
        "ideal_cycles": -(-matched // (n * mpc)),
        "rounds": rounds,
        "chunks": rounds * P * R * S * nc,
        "pipeline": pipe,
        "unit_busy": busy.tolist(),
        "unit_matched": matched_u.tolist(),
        "unit_stall": stall.tolist(),
    }


def _barrier_sums(w, a, config, stride, padding, valid, idx, P, rounds):
    """The chunk stream behind the per-chunk barrier, summed over taps and chunks: ``(cycles,
    onesided cycles, per-unit busy, per-unit matched MACs, per-unit barrier stall)`` (``valid``,
    ``idx``: the slot table's filters; ``P`` output positions)."""
    K, C, R, S = w.shape
    n, mpc, chunk = config.n_units, config.matches_per_cycle, config.chunk
    nc = -(-C // chunk)
    total = onesided = 0
    busy = np.zeros(n, dtype=np.int64)
    matched_u = np.zeros(n, dtype=np.int64)
    stall = np.zeros(n, dtype=np.int64)
    wnz = np.zeros((K, nc * chunk, R, S), dtype=np.int64)
    wnz[:, :C] = w != 0
    for r, s, j, counts in chunk_counts(w, a, chunk, stride, padding):
        slots = np.where(valid, counts[:, idx], 0).reshape(P, rounds, n)    # [P, rounds, n]
        cost_u = join_costs(slots, mpc)
        cost = cost_u.max(axis=2)                                          # [P, rounds]
        total += int(cost.sum())
        busy += cost_u.sum(axis=(0, 1))
        stall += (cost[:, :, None] - cost_u).sum(axis=(0, 1))
        matched_u += slots.sum(axis=(0, 1))
        nnz = wnz[:, j * chunk:(j + 1) * chunk, r, s].sum(axis=1)         # [K]
        nnz_slots = np.where(valid, nnz[idx], 0).reshape(rounds, n)
        onesided += P * int(join_costs(nnz_slots, mpc).max(axis=1).sum())
    return total, onesided, busy, matched_u, stall


def _windowed_span(w, a, config, stride, padding, valid, idx, P, rounds):
    """Cycles of the chunk stream when each unit may hold ``unit_fifo_depth`` waiting chunks.

    Chunk ``t`` is broadcast at edge ``e[t] >= e[t-1] + 1`` once every unit has started chunk
    ``t - Q`` (``Q = unit_fifo_depth``); unit ``u`` starts it at ``max(e[t], J[u])`` (``J``: the
    edge its join frees, the start plus the chunk's cost). Returns (span from the first broadcast
    to the last unit's last beat, per-unit busy cycles). A recurrence over chunks, vectorised over
    units only: slower than the barrier sum (seconds per million chunks), used only with queues.
    """
    n, mpc, Q = config.n_units, config.matches_per_cycle, config.unit_fifo_depth
    K, C, R, S = w.shape
    nc = -(-C // config.chunk)
    per_pos = R * S * nc
    costs = np.empty((P, per_pos, rounds, n), dtype=np.int16)
    for i, (r, s, j, counts) in enumerate(chunk_counts(w, a, config.chunk, stride, padding)):
        slots = np.where(valid, counts[:, idx], 0).reshape(P, rounds, n)
        costs[:, i] = join_costs(slots, mpc)
    costs = costs.transpose(2, 0, 1, 3).reshape(-1, n)     # sequencer order: round, position, tap, j
    busy = costs.sum(axis=0, dtype=np.int64)
    # Plain Python lists: for a few dozen units per step they beat NumPy's per-call overhead.
    ring = [0] * Q              # max start of each of the last Q chunks (over units)
    free = [0] * n
    e = -1
    for t, row in enumerate(costs.tolist()):
        e += 1
        if t >= Q and ring[t % Q] > e:
            e = ring[t % Q]
        start = [f if f > e else e for f in free]
        ring[t % Q] = max(start)
        free = [s_ + c for s_, c in zip(start, row)]
    return max(free), busy
