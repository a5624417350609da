"""EUREKA golden model: offline packer/scheduler, optimal SUDS, cycle model, exact GEMM.

The core (``hw/eureka/core.py``) has R rows x L lanes of multiply slots. A **window** is the next
``L*G`` elements of K: lane ``l`` sees activations ``k = win*L*G + l*G + g`` for ``g < G`` and picks
one per cycle with a G:1 mux. A window costs ``T`` cycles; every (row, lane) slot processes one weight
per cycle. The packer turns int8 ``W[M,K]`` into the per-cycle weight stream the core executes:

* ``dense``: ``T = G``, slot ``(r, l)`` processes position ``g = t`` at cycle ``t``;
* ``nm:N:M`` (M divides G): ``T = N*G/M``; cycle ``t`` processes value ``t % N`` of group ``t // N``
  of the lane, with the N:M in-group index (``golden.nm.nm_compress``; 2:4 metadata is PyTorch's);
* ``unstructured-nosuds``: per lane, ``T = max_r n_r`` (``n_r`` = non-zeros of row r in the lane);
* ``suds``: per lane the fewest ``T`` such that pushing down the minimal excess
  ``d_r = max(0, n_r + d_{r-1} - T)`` row by row keeps ``d_{r-1} <= T`` (the displaced weights fit
  the vacant slots of the row below, same lane) and the bottom row pushes nothing. Minimal push-down
  is optimal (pushing more only loads the row below), and feasibility is monotone in ``T``, so the
  smallest feasible ``T`` is the optimum; :func:`suds_exhaustive` checks this on small cases.

Lanes run in **lock-step** (``lane_sync="lockstep"``, the default): a window costs ``max_l T_l``.
With **independent** lanes (``lane_sync="independent"``: each lane its own activation stream and
window counter) an output costs ``max_l sum_w T_{l,w}``: lane ``l`` runs its windows back to back,
its beat ``s`` is the ``s``-th cycle of its own schedule, and a lane that ends early gets
all-invalid slots until the slowest lane ends the output. Both are in the RTL and the packer, and
:func:`cycle_model` predicts either (``lockstep=``, by default the config's). Windows with
``T = 0`` (lock-step: no non-zero in any lane; independent: none in that lane; only in the
unstructured modes) are skipped: neither weights nor activations are streamed for them. An output
whose windows are all empty still costs one cycle (one all-invalid beat carrying ``last``; with
lock-step lanes it pops window 0, with independent lanes it pops nothing).

Offline reordering (ours, ``permute=True``, unstructured modes): rows sorted densest first and each
row tile's columns packed into balanced windows (``golden/eureka_perm.py``); the driver gathers the
activations and restores the output order; the core is unchanged.

Cycle contract: the RTL counts **busy cycles**, cycles in which a weight beat is in the array's
first stage; that count equals ``sum_w T_w`` beats per (row tile, output column) times the
core's ``config.issue_interval`` (cycles a beat occupies it: 2 when pairs of rows share their
reduction trees, ``tree_share=2``, and take them in turns), which is what the model returns.

Everything is exact integer NumPy; the packer is vectorised over rows, lanes and windows.
"""

import dataclasses

import numpy as np

from .nm import MODES, UNSTRUCTURED_MODES, parse_mode  # noqa: F401  (MODES: golden.eureka.MODES for its readers)
from .eureka_suds import (suds_budget_cycles, suds_budget_feasible, suds_cycles,  # noqa: F401
                          suds_exhaustive, suds_pushdown)
from .sparsemap import check_int_array

__all__ = [
    "MODES", "check_weights", "check_activations", "layout_windows", "window_counts",
    "suds_cycles", "suds_pushdown", "suds_exhaustive", "lane_cycles", "independent",
    "window_cycles",
    "cycle_model", "Schedule", "TileSchedule", "pack", "execute", "gemm", "conv2d_gemm",
    "activation_windows", "tile_activation_windows", "row_order",
]



def _parse(config, mode):
    kind, n, m = parse_mode(mode)
    config.check_mode(mode)
    return kind, n, m


def check_weights(w, config, name="weights"):
    """``int64`` copy of ``w[M,K]`` after checking dtype, rank and value width."""
    w = check_int_array(w, bits=config.value_width, name=name)
    if w.ndim != 2 or 0 in w.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array [M,K], not shape {w.shape}")
    return w


def check_activations(a, k, config, name="activations"):
    """``int64`` copy of ``a[K,N]`` after checking dtype, rank, width and K."""
    a = check_int_array(a, bits=config.value_width, name=name)
    if a.ndim != 2 or 0 in a.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array [K,N], not shape {a.shape}")
    if a.shape[0] != k:
        raise ValueError(f"{name} have K={a.shape[0]} rows but the weights have K={k} columns")
    return a


def layout_windows(w, config):
    """Pad ``w[M,K]`` and view it as ``[tiles, R, windows, L, G]`` (zero padding)."""
    R, L, G = config.rows, config.lanes, config.group
    M, K = w.shape
    tiles, nwin = -(-M // R), -(-K // (L * G))
    wp = np.zeros((tiles * R, nwin * L * G), dtype=np.int64)
    wp[:M, :K] = w
    return wp.reshape(tiles, R, nwin, L, G)


def window_counts(w, config):
    """Non-zeros per ``[tile, row, window, lane]``."""
    return (layout_windows(w, config) != 0).sum(axis=-1)


# -- cycle model -------------------------------------------------------------------------------


def lane_cycles(counts, kind, config, n=None, m=None):
    """Cycles ``T`` per ``[tile, window, lane]`` for window counts ``[tile, row, window, lane]``."""
    tiles, _, nwin, L = counts.shape
    if kind == "dense":
        return np.full((tiles, nwin, L), config.group, dtype=np.int64)
    if kind == "nm":
        return np.full((tiles, nwin, L), n * config.group // m, dtype=np.int64)
    if kind == "unstructured-nosuds":
        return counts.max(axis=1)
    if kind == "suds":
        if getattr(config, "disp_budget", 0):
            T = suds_budget_cycles(counts, config.disp_budget)          # [tile, win]
            return np.broadcast_to(T[:, :, None], (tiles, nwin, L)).copy()
        return suds_cycles(counts, axis=1)
    raise ValueError(f"unknown mode kind {kind!r}")


def independent(config):
    """True when ``config`` has independent lanes (``lane_sync="independent"``)."""
    return getattr(config, "lane_sync", "lockstep") == "independent"


def window_cycles(counts, kind, config, n=None, m=None):
    """Lock-step cycles per ``[tile, window]``, including the one-beat rule for empty outputs."""
    T = lane_cycles(counts, kind, config, n, m).max(axis=-1)
    empty = T.sum(axis=1) == 0
    T[empty, 0] = 1
    return T


def cycle_model(w, n_cols, mode, config, lockstep=None, permute=False):
    """Predict the busy cycles of ``D = W x A`` with ``A`` of ``n_cols`` columns.

    Parameters
    ----------
    w : int array ``[M,K]``
    n_cols : int
        N, the columns of A (output positions of a convolution).
    mode : str
        ``"dense"``, ``"nm:N:M"``, ``"suds"`` or ``"unstructured-nosuds"``.
    config : EurekaConfig
    lockstep : bool or None
        Lanes share each window's cycle count or run independently (each lane its own
        activation stream; an output finishes when its slowest lane does). None (default): as
        ``config.lane_sync`` says, which is what the RTL of ``config`` counts. Independent lanes
        cannot share a displacement budget, so ``lockstep=False`` on a config with one models it
        without (``disp_budget`` of the result: 0), as ``lane_sync="independent"`` requires.
    permute : bool
        Unstructured modes, lock-step: model the balanced column order of :func:`pack` with
        ``permute=True`` (a Python loop per tile; slower than the plain model).

    Returns
    -------
    dict
        ``cycles`` (total busy cycles), ``tile_cycles`` (per row tile, one output column),
        ``dense_cycles`` (the dense baseline core of the same R x L: ``ceil(K/L)`` per tile and
        column), ``ideal_cycles`` (``dense_cycles / min(1/d_w, G)``), ``macs`` (non-zero weights
        times N), ``displaced`` (displaced weights in one pass of the schedule), ``utilization``
        (non-zero MACs / (cycles * R * L)), ``suds_removed`` (share of windows with imbalance
        without SUDS whose SUDS cost is the balanced ``ceil(sum n / R)``; SUDS mode only).
    """
    w = check_weights(w, config)
    kind, n, m = _parse(config, mode)
    if kind == "nm":
        from .nm import check_nm
        check_nm(np.pad(w, ((0, 0), (0, (-w.shape[1]) % m))), n, m)
    if isinstance(n_cols, bool) or not isinstance(n_cols, (int, np.integer)) or n_cols < 1:
        raise ValueError(f"n_cols must be a positive int, not {n_cols!r}")
    if lockstep is None:
        lockstep = not independent(config)
    _check_permute(permute, kind, not lockstep)
    if not lockstep and config.disp_budget:
        # Independent lanes do not share windows, so they cannot share a budget of moved slots:
        # that design has a full moved path per row. Modelled so, and said in the result.
        config = dataclasses.replace(config, disp_budget=0)
    counts = window_counts(w, config)
    lanes = lane_cycles(counts, kind, config, n, m)            # [tile, win, lane]
    # a beat occupies the core issue_interval cycles (rows sharing a tree take turns on it)
    tile = _tile_cycles(w, counts, lanes, kind, config, n, m, lockstep, permute) * \
        config.issue_interval
    M, K = w.shape
    tiles = counts.shape[0]
    dense_tile = -(-K // config.lanes)
    nnz = int((w != 0).sum())
    cycles = int(tile.sum()) * int(n_cols)
    density = nnz / w.size
    ideal_speedup = min(1 / density, config.group) if density else config.group
    out = {
        "cycles": cycles,
        "tile_cycles": tile.astype(np.int64),
        "dense_cycles": dense_tile * tiles * int(n_cols),
        "ideal_cycles": dense_tile * tiles * int(n_cols) / ideal_speedup,
        "macs": nnz * int(n_cols),
        "utilization": nnz * int(n_cols) / (cycles * config.macs),
        "displaced": 0,
        "suds_removed": None,
        "lockstep": bool(lockstep),
        "permute": bool(permute),
        "disp_budget": config.disp_budget,
    }
    if kind == "suds" and not permute:
        out.update(_suds_stats(counts, lanes, config, n, m, lockstep))
    return out


def _tile_cycles(w, counts, lanes, kind, config, n, m, lockstep, permute):
    """Busy cycles of every row tile for one output column (the balanced order's, the lock-step
    windows' or the independent lanes' sum)."""
    if permute:
        from .eureka_perm import balance_tiles
        R = config.rows
        wp = np.zeros((counts.shape[0] * R, w.shape[1]), np.int64)
        wp[:w.shape[0]] = w[row_order(w)]
        return np.array([T.sum() for _, T in balance_tiles(wp.reshape(-1, R, w.shape[1]), config,
                                                            kind)], np.int64)
    if lockstep:
        return window_cycles(counts, kind, config, n, m).sum(axis=1)
    return np.maximum(lanes.sum(axis=1).max(axis=-1), 1)


def _suds_stats(counts, lanes, config, n, m, lockstep):
    """SUDS mode: ``displaced`` weights of one pass and ``suds_removed`` (see cycle_model)."""
    T = window_cycles(counts, "suds", config, n, m)[:, :, None] if lockstep else lanes
    d, _ = suds_pushdown(counts, T, axis=1)
    nos = counts.max(axis=1)                                     # [tile, win, lane]
    bal = -(-counts.sum(axis=1) // config.rows)
    imbalanced = nos > bal
    if lockstep:
        imbalanced = imbalanced.any(axis=-1)
        removed = (lanes.max(axis=-1) == bal.max(axis=-1)) & imbalanced
    else:
        removed = (lanes == bal) & imbalanced
    n_imb = int(imbalanced.sum())
    return {"displaced": int(d.sum()),
            "suds_removed": float(removed.sum() / n_imb) if n_imb else 1.0}


# -- packer ------------------------------------------------------------------------------------


@dataclasses.dataclass
class TileSchedule:
    """The weight stream of one row tile (R output rows) for one output column.

    Members
    -------
    w, sel : int64 ``[S, R, L]``
        Weight and G:1 select index of every slot in each of the ``S`` beats (cycles).
    valid, disp : bool ``[S, R, L]``
        Slot holds a real weight; slot holds a weight of the row above (its product goes to that
        row's accumulator). Row 0 never has ``disp``.
    last_window : bool ``[S]`` (lock-step) or ``[S, L]`` (independent lanes)
        The beat is the last cycle of its window (of lane ``l``'s window); the core then pops
        the activation window (lane ``l``'s).
    windows : int64 ``[n_used]``, or a tuple of L such arrays (independent lanes)
        Indices of the windows streamed, in order (windows with ``T = 0`` are skipped); with
        independent lanes, lane ``l``'s own windows.
    T : int64 ``[n_windows]`` (lock-step) or ``[n_windows, L]`` (independent lanes)
        Cycles per window (per lane-window).
    k_index : int64 ``[n_windows * L * G]`` or None
        With ``permute``: the column of ``W`` (row of ``A``) behind each activation slot
        ``win*L*G + l*G + g`` of this tile, ``-1`` for a zero pad; ``None``: natural order.
    """

    w: np.ndarray
    sel: np.ndarray
    valid: np.ndarray
    disp: np.ndarray
    last_window: np.ndarray
    windows: np.ndarray
    T: np.ndarray
    k_index: np.ndarray = None

    @property
    def beats(self):
        return len(self.last_window)

    @property
    def displaced(self):
        return int(self.disp.sum())

    @property
    def independent(self):
        """True for the stream of independent lanes (a ``last_window`` bit per lane)."""
        return self.last_window.ndim == 2

    def window_of_beat(self):
        """int64 ``[S, L]``: the window each lane's slots of each beat read (the ``j``-th window
        a lane streams ends at its ``j``-th ``last_window`` beat; beats after a lane's last
        window, all-invalid, read its last one)."""
        L = self.w.shape[2]
        ends = self.last_window if self.independent else \
            np.broadcast_to(self.last_window[:, None], (self.beats, L))
        wins = self.windows if self.independent else (self.windows,) * L
        out = np.zeros((self.beats, L), np.int64)
        for l in range(L):
            if len(wins[l]):
                j = np.concatenate([[0], np.cumsum(ends[:, l])[:-1]])
                out[:, l] = wins[l][np.minimum(j, len(wins[l]) - 1)]
        return out


@dataclasses.dataclass
class Schedule:
    """Packed weight streams of a whole ``W[M,K]``: one :class:`TileSchedule` per row tile."""

    config: object
    mode: str
    M: int
    K: int
    tiles: list
    row_order: np.ndarray = None

    def to_natural(self, out):
        """Rows of a result in the core's order (``row_order``) back to ``W``'s row order."""
        if self.row_order is None:
            return out
        nat = np.empty_like(out)
        nat[self.row_order] = out
        return nat

    @property
    def cycles_per_column(self):
        return sum(t.beats for t in self.tiles)

    @property
    def displaced(self):
        return sum(t.displaced for t in self.tiles)


def pack(w, mode, config, permute=False):
    """Pack ``w[M,K]`` for ``mode`` into a :class:`Schedule` the core executes.

    ``permute`` (unstructured modes only; ours): rows sorted densest first (:func:`row_order`, so
    that SUDS finds denser rows above sparser ones and a tile holds rows of similar density; the
    driver restores the order of the outputs), and each row tile's columns visited in the balanced
    order of :func:`golden.eureka_perm.balance_tile` (empty columns dropped); the driver gathers
    the activations in that order (``TileSchedule.k_index``).

    ``w`` may also be PyTorch's 2:4 ``(values, meta)`` pair (int8 values with int32 metadata) in
    mode ``"nm:2:4"``; it is expanded with :func:`golden.nm.from_torch_2to4`.

    Raises ``ValueError`` for a bad shape, a value outside ``value_width``, a mode the core does not
    run, or (N:M) a group with more than N non-zeros, naming the row and group.
    """
    kind, n, m = _parse(config, mode)
    if isinstance(w, tuple):
        if mode != "nm:2:4":
            raise ValueError(f"a (values, meta) pair is PyTorch's 2:4 format; mode must be "
                             f"'nm:2:4', not {mode!r}")
        from .nm import from_torch_2to4
        w = from_torch_2to4(*w)
    w = check_weights(w, config)
    M, K = w.shape
    R, L, G = config.rows, config.lanes, config.group
    if kind == "nm":
        from .nm import check_nm
        check_nm(np.pad(w, ((0, 0), (0, (-K) % m))), n, m)
    _check_permute(permute, kind, independent(config))
    if permute:
        from .eureka_perm import balance_tiles
        tiles = []
        order = row_order(w)
        wp = np.zeros((-(-M // R) * R, K), np.int64)
        wp[:M] = w[order]
        wp = wp.reshape(-1, R, K)
        for wt, (k_index, T) in zip(wp, balance_tiles(wp, config, kind)):
            w4 = np.where(k_index >= 0, wt[:, np.maximum(k_index, 0)], 0)
            w4 = w4.reshape(R, -1, L, G)
            ts = _pack_tile(w4, (w4 != 0).sum(axis=-1), T, kind, n, m, config)
            ts.k_index = k_index
            tiles.append(ts)
        return Schedule(config=config, mode=mode, M=M, K=K, tiles=tiles, row_order=order)
    w5 = layout_windows(w, config)                       # [tiles, R, win, L, G]
    counts = (w5 != 0).sum(axis=-1)
    if independent(config):
        T = lane_cycles(counts, kind, config, n, m)      # [tiles, win, L]
    else:
        T = window_cycles(counts, kind, config, n, m)    # [tiles, win]
    tiles = []
    for t in range(w5.shape[0]):
        tiles.append(_pack_tile(w5[t], counts[t], T[t], kind, n, m, config))
    return Schedule(config=config, mode=mode, M=M, K=K, tiles=tiles)


def row_order(w):
    """Row order of the permuted schedule: densest rows first (stable)."""
    return np.argsort(-(np.asarray(w) != 0).sum(axis=1), kind="stable").astype(np.int64)


def _check_permute(permute, kind, independent_lanes=False):
    if not isinstance(permute, bool):
        raise ValueError(f"permute must be True or False, not {permute!r}")
    if permute and kind not in UNSTRUCTURED_MODES:
        raise ValueError(f"permute applies to the unstructured modes (suds, unstructured-nosuds), "
                         f"not {kind!r}")
    if permute and independent_lanes:
        raise ValueError("permute (the balanced column order) is for lock-step lanes only, not "
                         "independent ones (lane_sync 'independent')")


def _pack_tile(w4, counts, T, kind, n, m, config):
    """The :class:`TileSchedule` of one row tile ``w4[R, win, L, G]``; ``T`` is ``[win]``
    (lock-step) or ``[win, L]`` (independent lanes: every lane its own window offsets)."""
    R, nwin, L, G = w4.shape
    indep = T.ndim == 2
    TL = T if indep else np.broadcast_to(T[:, None], (nwin, L))     # [win, L]
    S = max(int(TL.sum(axis=0).max(initial=0)), 1)
    offset = np.cumsum(TL, axis=0) - TL                  # first beat of each lane-window
    shape = (S, R, L)
    slots = (np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape, bool),
             np.zeros(shape, bool))                      # w, sel, valid, disp [beat, R, L]
    if kind == "dense":
        _place_dense(slots, w4, offset)
    elif kind == "nm":
        _place_nm(slots, w4, offset, n, m)
    else:
        _place_unstructured(slots, w4, counts, TL, offset, kind, config)
    if indep:
        last = np.zeros((S, L), bool)
        wi, li = np.nonzero(TL)
        last[offset[wi, li] + TL[wi, li] - 1, li] = True
        windows = tuple(np.nonzero(TL[:, l])[0].astype(np.int64) for l in range(L))
    else:
        last = np.zeros(S, bool)
        used = np.nonzero(T)[0]
        last[offset[used, 0] + T[used] - 1] = True
        windows = used.astype(np.int64)
    ws, sel, valid, disp = slots
    return TileSchedule(w=ws, sel=sel, valid=valid, disp=disp, last_window=last,
                        windows=windows, T=T.astype(np.int64))


def _place_dense(slots, w4, offset):
    """Dense mode: weight g of every lane-window in its beat g (zeros included)."""
    ws, sel, valid, _ = slots
    r_i, w_i, l_i, g_i = np.indices(w4.shape)
    beat = offset[w_i, l_i] + g_i
    ws[beat, r_i, l_i] = w4
    sel[beat, r_i, l_i] = g_i
    valid[beat, r_i, l_i] = True


def _place_nm(slots, w4, offset, n, m):
    """N:M mode: the N kept values of every group of M, in K order, with their indices."""
    from .nm import nm_compress
    ws, sel, valid, _ = slots
    R, nwin, L, G = w4.shape
    per = n * G // m                                     # values per lane-window
    vals, idx = nm_compress(w4.reshape(R, -1), n, m)      # groups of m along K, in K order
    vals = vals.reshape(R, nwin, L, per)
    idx = idx.reshape(R, nwin, L, G // m, n)
    idx = (idx + m * np.arange(G // m)[:, None]).reshape(R, nwin, L, per)
    r_i, w_i, l_i, t_i = np.indices(vals.shape)
    beat = offset[w_i, l_i] + t_i
    ws[beat, r_i, l_i] = vals
    sel[beat, r_i, l_i] = idx
    valid[beat, r_i, l_i] = vals != 0


def _place_unstructured(slots, w4, counts, TL, offset, kind, config):
    """Unstructured modes: every row's own non-zeros, and (SUDS) the weights pushed down into
    the row below, in the cycles the budget leaves them."""
    ws, sel, valid, disp = slots
    R, nwin, L, G = w4.shape
    nz = w4 != 0
    rank = np.cumsum(nz, axis=-1) - 1
    if kind == "suds":
        d, ok = suds_pushdown(counts, TL, axis=0)
        assert ok.all()
    else:
        d = np.zeros_like(counts)
    keep = counts - d                                    # [R, win, L]
    own = nz & (rank < keep[..., None])
    moved = nz & ~own
    # Where row r hosts the weights of row r-1 in lane l: cycles [start, start + host) of the
    # window. Without a budget right after its own weights; with one, the lanes of a segment
    # take disjoint cycles (exclusive prefix sum of host over the segment), own weights around.
    host = np.zeros_like(d)
    host[1:] = d[:-1]
    budget = getattr(config, "disp_budget", 0)
    if budget:
        seg = host.reshape(R, nwin, budget, L // budget)
        start = (np.cumsum(seg, axis=-1) - seg).reshape(R, nwin, L)
    else:
        start = keep
    r, wi, li, gi = np.nonzero(own)
    j = rank[r, wi, li, gi]
    beat = offset[wi, li] + np.where(j < start[r, wi, li], j, j + host[r, wi, li])
    ws[beat, r, li] = w4[r, wi, li, gi]
    sel[beat, r, li] = gi
    valid[beat, r, li] = True
    r, wi, li, gi = np.nonzero(moved)
    if len(r):
        assert r.max() < R - 1, "the bottom row never pushes down"
        cyc = start[r + 1, wi, li] + rank[r, wi, li, gi] - keep[r, wi, li]
        assert np.all(cyc < TL[wi, li])
        beat = offset[wi, li] + cyc
        ws[beat, r + 1, li] = w4[r, wi, li, gi]
        sel[beat, r + 1, li] = gi
        valid[beat, r + 1, li] = True
        disp[beat, r + 1, li] = True


def tile_activation_windows(a, config, tile):
    """Activation windows ``[N, windows, L, G]`` of one tile (gathered by ``tile.k_index``)."""
    if tile.k_index is None:
        return activation_windows(a, config)
    L, G = config.lanes, config.group
    k = tile.k_index
    g = np.where(k[:, None] >= 0, a[np.maximum(k, 0)], 0)         # [slots, N]
    return g.T.reshape(a.shape[1], -1, L, G)


def activation_windows(a, config):
    """Pad ``a[K,N]`` and view it as ``[N, windows, L, G]`` (what lane ``l`` sees per window)."""
    L, G = config.lanes, config.group
    K, N = a.shape
    nwin = -(-K // (L * G))
    ap = np.zeros((nwin * L * G, N), dtype=np.int64)
    ap[:K] = a
    return ap.T.reshape(N, nwin, L, G)


def execute(schedule, a):
    """Run a :class:`Schedule` on ``a[K,N]`` the way the core does; ``int64[M,N]`` (no wrap).

    This checks the packer (the result must equal ``W @ A``) independently of the RTL.
    """
    cfg = schedule.config
    a = check_activations(a, schedule.K, cfg)
    N = a.shape[1]
    R, L = cfg.rows, cfg.lanes
    out = np.zeros((len(schedule.tiles) * R, N), dtype=np.int64)
    for t, ts in enumerate(schedule.tiles):
        aw = tile_activation_windows(a, cfg, ts)        # [N, win, L, G]
        lane = np.arange(L)[None, None, :]
        act = aw[:, ts.window_of_beat()[:, None, :], lane, ts.sel]   # [N, S, R, L]
        prod = np.where(ts.valid, ts.w, 0) * act
        own = np.where(ts.disp, 0, prod).sum(axis=(1, 3))     # [N, R]
        moved = np.where(ts.disp, prod, 0).sum(axis=(1, 3))
        acc = own.copy()
        acc[:, :-1] += moved[:, 1:]
        out[t * R:(t + 1) * R] = acc.T
    return schedule.to_natural(out[:schedule.M])


def gemm(w, a, c=None, acc_width=32):
    """Exact ``W @ A (+ C)`` in int64; ``ValueError`` if a result does not fit ``acc_width`` bits."""
    from .conv import check_acc
    w = check_int_array(w, bits=None, name="weights")
    a = check_int_array(a, bits=None, name="activations")
    if w.ndim != 2 or a.ndim != 2 or w.shape[1] != a.shape[0]:
        raise ValueError(f"shapes do not chain: weights {w.shape} x activations {a.shape}")
    out = w @ a
    if c is not None:
        c = check_int_array(c, bits=acc_width, name="C")
        if c.shape != out.shape:
            raise ValueError(f"C must have shape {out.shape}, not {c.shape}")
        out = out + c
    return check_acc(out, acc_width)


def conv2d_gemm(a, w, stride=1, padding=0):
    """Convolution as GEMM operands: ``(W2[K, C*R*S], A2[C*R*S, Ho*Wo], (Ho, Wo))``."""
    from .conv import conv_output_shape, im2col
    a = check_int_array(a, bits=None, name="activations")
    w = check_int_array(w, bits=None, name="filters")
    if a.ndim != 3 or w.ndim != 4 or a.shape[0] != w.shape[1]:
        raise ValueError(f"conv needs activations [C,H,W] and filters [K,C,R,S] with equal C, not "
                         f"{a.shape} and {w.shape}")
    K, C, R, S = w.shape
    ho, wo = conv_output_shape(a.shape[1], a.shape[2], R, S, stride, padding)
    return w.reshape(K, C * R * S), im2col(a, R, S, stride, padding), (ho, wo)
