"""SUDS scheduling of one EUREKA row tile (golden/eureka.py re-exports every name).

Minimal push-down per lane-window (:func:`suds_pushdown`), the fewest cycles by binary search
(:func:`suds_cycles`), an exhaustive reference for small cases (:func:`suds_exhaustive`), and the
lock-step variant under a displacement budget of moved slots per row and cycle
(:func:`suds_budget_cycles`). See :mod:`golden.eureka` for the window layout and the contract.
"""

import numpy as np

__all__ = ["suds_pushdown", "suds_cycles", "suds_exhaustive", "suds_budget_feasible",
           "suds_budget_cycles"]


def suds_pushdown(n, T, axis=0):
    """Minimal push-down ``d`` for counts ``n`` (rows along ``axis``) and budget ``T``.

    ``T`` broadcasts against ``n`` without its row axis. Returns ``(d, feasible)``: ``d`` has
    ``n``'s shape; ``feasible`` is True where every row's received weights fit
    (``d_{r-1} <= T``) and the bottom row pushes nothing.
    """
    n = np.moveaxis(np.asarray(n, dtype=np.int64), axis, 0)
    T = np.asarray(T, dtype=np.int64)
    d = np.zeros_like(n)
    prev = np.zeros(n.shape[1:], dtype=np.int64)
    ok = np.ones(n.shape[1:], dtype=bool)
    for r in range(n.shape[0]):
        ok &= prev <= T
        d[r] = np.maximum(0, n[r] + prev - T)
        prev = d[r]
    ok &= prev == 0
    return np.moveaxis(d, 0, axis), ok


def suds_cycles(n, axis=0, limit=None):
    """Fewest cycles per lane-window with SUDS for counts ``n`` (rows along ``axis``).

    Feasibility is monotone in ``T`` and ``T = max_r n_r`` is always feasible, so the answer is
    the first feasible ``T`` of a binary search; it is done for all lane-windows at once.
    """
    n = np.moveaxis(np.asarray(n, dtype=np.int64), axis, 0)
    lo = np.zeros(n.shape[1:], dtype=np.int64)            # infeasible unless everything is 0
    hi = n.max(axis=0) if n.shape[0] else lo.copy()      # always feasible
    _, ok0 = suds_pushdown(n, lo)
    hi = np.where(ok0, 0, hi)
    lo = np.where(ok0, 0, lo)
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        _, ok = suds_pushdown(n, mid)
        active = hi - lo > 1
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid, lo)
    return hi


def suds_exhaustive(n):
    """Optimal SUDS cycles of one lane-window by trying every displacement vector (small cases).

    ``n`` is a sequence of per-row counts; row ``r`` may push any ``0 <= d_r <= n_r`` to row
    ``r+1`` (the bottom row none), and a row's load is ``n_r - d_r + d_{r-1}``.
    """
    import itertools
    n = [int(x) for x in n]
    best = max(n) if n else 0
    ranges = [range(x + 1) for x in n[:-1]]
    for d in itertools.product(*ranges):
        d = (*d, 0)
        load = max(n[r] - d[r] + (d[r - 1] if r else 0) for r in range(len(n)))
        best = min(best, load)
    return best


def suds_budget_feasible(counts, T, budget):
    """Whether ``T`` cycles per window ``[tile, win]`` hold window counts ``[tile, R, win, L]``
    with SUDS under a displacement budget of ``budget`` segments.

    Minimal push-down per lane (``suds_pushdown``) and, for every hosting row and segment of
    ``L / budget`` contiguous lanes, at most ``T`` displaced weights in all (one per cycle: the
    packer gives the segment's lanes disjoint cycles).
    """
    tiles, R, nwin, L = counts.shape
    d, ok = suds_pushdown(counts, T[:, :, None], axis=1)              # d [tile, R, win, L]
    seg = d.reshape(tiles, R, nwin, budget, L // budget).sum(axis=-1)
    return ok.all(axis=-1) & (seg <= T[:, None, :, None]).all(axis=(1, 3))


def suds_budget_cycles(counts, budget):
    """Fewest lock-step cycles per window ``[tile, win]`` with SUDS and a displacement budget.

    The lanes of a segment share the budget, so a window's lanes are scheduled together. Minimal
    push-down stays optimal for a given ``T`` (every feasible schedule displaces at least as much
    in every row and lane, and displacing less never breaks a segment's budget), and feasibility
    is monotone in ``T``: binary search between the window's unbudgeted SUDS cycles (a lower
    bound) and ``max n`` (no displacement).
    """
    counts = np.asarray(counts, dtype=np.int64)
    lo = suds_cycles(counts, axis=1).max(axis=-1)                     # [tile, win]
    hi = counts.max(axis=(1, 3))
    ok = suds_budget_feasible(counts, lo, budget)
    hi = np.where(ok, lo, hi)
    bad = np.where(ok, lo - 1, lo)                                     # known infeasible
    while np.any(hi - bad > 1):
        mid = (bad + hi) // 2
        ok = suds_budget_feasible(counts, mid, budget)
        active = hi - bad > 1
        hi = np.where(active & ok, mid, hi)
        bad = np.where(active & ~ok, mid, bad)
    return hi
