"""Offline K-permutation for the EUREKA core (ours): pack each row tile's columns into balanced windows.

Measurement (``sim/bench_eureka.py``) shows what limits unstructured sparsity on the core: a window
costs its most loaded (row, lane) after one SUDS step, and with the K columns in their natural order
the per-row count of a lane is Binomial(G, d_w), whose tail over L lock-step lanes sets ``T``.
Weights are known offline and the driver gathers activations anyway (implicit im2col), so the
columns of each row tile may be visited in any order, at no cost to the core:

1. columns that are zero in every row of the tile are dropped (the tile never needs their
   activations);
2. the remaining columns, densest first, are placed first-fit into lane groups ("bins") of at most
   G columns in which no row exceeds a cap ``t`` non-zeros; a new window (L bins) opens when none
   fits;
3. the cap giving the fewest cycles (windows' SUDS cycle counts summed) wins.

The result is an index vector ``k_index`` (``-1`` = a padding slot whose activation is 0) that
maps each activation slot ``win*L*G + l*G + g`` of the tile to a column of ``W``; the core and
its cycle contract are unchanged (``golden.eureka.pack(..., permute=True)``).
"""

import numpy as np

__all__ = ["balance_tiles", "balance_tile"]


def _first_fit(P, valid, t, L, G):
    """First-fit of the columns of every tile at once.

    ``P[tiles, C, R]`` 0/1 patterns (densest first), ``valid[tiles, C]`` real columns. Returns
    ``(where[tiles, C], loads[tiles, B, R], cnt[tiles, B], n_open[tiles])``. A new window opens only
    when no open bin fits, and every open bin holds a column, so at most ``C + L`` bins open.
    """
    tiles, C, R = P.shape
    B = C + L
    loads = np.zeros((tiles, B, R), np.int64)
    cnt = np.zeros((tiles, B), np.int64)
    where = np.full((tiles, C), -1, np.int64)
    n_open = np.full(tiles, L, np.int64)
    ar = np.arange(tiles)
    for i in range(C):
        p = P[:, i]                                            # [tiles, R]
        hi = int(n_open.max())
        fit = (cnt[:, :hi] < G) & ~((loads[:, :hi] >= t) & (p[:, None, :] > 0)).any(axis=-1)
        fit &= np.arange(hi)[None, :] < n_open[:, None]
        b = np.argmax(fit, axis=1)
        none = ~fit[ar, b]
        b = np.where(none, n_open, b)
        v = valid[:, i]
        n_open += L * (none & v)
        loads[ar, b] += p * v[:, None]
        cnt[ar, b] += v
        where[:, i] = np.where(v, b, -1)
    return where, loads, cnt, n_open


def balance_tiles(wt, config, kind="suds"):
    """Column orders of row tiles ``wt[tiles, R, K]`` for the unstructured modes.

    Returns a list of ``(k_index, T)`` per tile: ``k_index`` int64 ``[n_win * L * G]`` (``-1`` for
    padding) and the lock-step cycles ``T`` per window of that order (an all-zero tile gets one
    window of one cycle, as in :func:`golden.eureka.window_cycles`).
    """
    from .eureka import lane_cycles
    tiles, R, K = wt.shape
    L, G = config.lanes, config.group
    nz = wt != 0
    used = nz.any(axis=1)                                      # [tiles, K]
    C = max(1, int(used.sum(axis=1).max()))
    P = np.zeros((tiles, C, R), np.int64)
    valid = np.zeros((tiles, C), bool)
    cols = np.full((tiles, C), -1, np.int64)
    for t in range(tiles):
        c = np.nonzero(used[t])[0]
        pt = nz[t][:, c].T.astype(np.int64)
        order = np.argsort(-pt.sum(axis=1), kind="stable")   # densest columns first
        P[t, :len(c)], valid[t, :len(c)], cols[t, :len(c)] = pt[order], True, c[order]
    # Caps far below the mean per-bin load of the busiest row only open windows (and cost time):
    # start one below it and raise the cap while cycles fall.
    min_win = np.maximum(1, -(-valid.sum(axis=1) // (L * G)))
    mean = P.sum(axis=1).max(axis=1) / (min_win * L)
    start = max(1, int(np.floor(mean.min())) - 1)
    best = [None] * tiles
    plain_best = [None] * tiles
    worse = np.zeros(tiles, bool)
    for cap in range(start, G + 1):
        where, loads, cnt, n_open = _first_fit(P, valid, cap, L, G)
        for t in range(tiles):
            if worse[t]:
                continue
            nwin = int(n_open[t]) // L
            counts = loads[t, :nwin * L].reshape(nwin, L, R).transpose(2, 0, 1)[None]
            T = lane_cycles(counts, kind, config).max(axis=-1)[0]
            cyc = int(T.sum())
            # Stop by the no-SUDS cost in both modes, so that both explore the same caps and SUDS
            # (never slower on a given packing) is never slower than no SUDS overall.
            plain = int(counts.max(axis=1).max(axis=-1).sum())
            if best[t] is None or cyc < best[t][0]:
                best[t] = (cyc, where[t].copy(), cnt[t, :nwin * L].copy(), T)
            if plain_best[t] is None or plain < plain_best[t]:
                plain_best[t] = plain
            else:
                worse[t] = True                                # caps beyond the optimum only grow
        if worse.all():
            break
    out = []
    for t in range(tiles):
        _, where, cnt, T = best[t]
        nwin = len(cnt) // L
        k_index = np.full(nwin * L * G, -1, np.int64)
        slot = np.zeros(len(cnt), np.int64)
        for i in np.nonzero(where >= 0)[0]:
            b = int(where[i])
            w_i, l_i = divmod(b, L)
            k_index[w_i * L * G + l_i * G + slot[b]] = cols[t, i]
            slot[b] += 1
        if T.sum() == 0:
            T = T.copy()
            T[0] = 1
        out.append((k_index, T))
    return out


def balance_tile(wt, config, kind="suds"):
    """:func:`balance_tiles` for one tile ``wt[R, K]``: ``(k_index, T)``."""
    return balance_tiles(wt[None], config, kind)[0]
