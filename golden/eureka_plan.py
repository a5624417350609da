"""GEMM planner of the EUREKA preload top: any ``D[M,N] = W[M,K] x A[K,N]`` cut into tiles that fit.

Pure Python/NumPy (the config is an argument: an :class:`hw.eureka.config.EurekaGemmConfig` or
anything with its fields ``core``, ``weight_depth``, ``act_depth`` and word widths
``weight_word_bits``, ``act_word_bits``, ``out_word_bits``).

The buffers of the top (``hw/eureka/preload.py``): the **weight buffer** holds weight beats of the
packed schedule (one word per beat: the compressed weights with their select/valid/displacement
metadata, as the core executes them); the **activation buffer** holds dense activation windows
(``L*G`` values per word, ``col_windows`` words per column). A tile is one run of the top:

* **K blocks** of ``k_windows`` windows (``k_windows * L*G`` rows of ``A``). Split K is summed **on
  the host** *(ours)*: every K block's results leave the chip as partial sums (``psums_out``, full
  ``acc_width`` words), the host adds them exactly in int64 and checks the range; that costs no
  engine cycles and the chip never reads a partial sum back (``psums_in`` = 0). The planner takes
  the largest block whose columns fit the activation buffer and whose every row tile's beats fit
  the weight buffer.
* **Row rounds**: consecutive row tiles (R output rows each) whose beats for the K block fit the
  weight buffer together (greedy; the beat count per row tile comes from the cycle model's window
  costs, so rounds depend on the weights' sparsity).
* **Column blocks** (N) of ``n_block`` columns: ``k_windows * n_block`` activation words.

Within a K block, tiles run round-major or column-block-major, whichever moves fewer bytes, in
serpentine order (every other pass backwards); the buffers keep their contents between runs, so a
tile loads only what differs from the previous tile (``coords["load_weights"]``, ``coords["load_acts"]``). Per tile: ``cycles`` from
:func:`golden.eureka.cycle_model` of its sub-GEMM (what the top's beat counter shows), bytes as
stored: weight words x ``ceil(weight_word_bits / 8)``, activation words x
``ceil(act_word_bits / 8)``, results (one per row tile and column, R accumulators) x
``ceil(out_word_bits / 8)``.
"""

import numpy as np

from . import eureka as ge
from .nm import UNSTRUCTURED_MODES
from .plan import Plan, PlanError, Tile

__all__ = ["plan_gemm", "block_beats", "word_bytes"]


def word_bytes(bits):
    """Bytes of one stored word of ``bits`` bits (whole bytes)."""
    return -(-int(bits) // 8)


def block_beats(T, k_windows):
    """Beats per ``[row tile, K block]`` from window costs ``T[row tile, window]``: the sum over
    the block's windows, or 1 when all are empty (the one all-invalid beat carrying ``last``)."""
    tiles, nwin = T.shape
    nk = -(-nwin // k_windows)
    pad = np.zeros((tiles, nk * k_windows), np.int64)
    pad[:, :nwin] = T
    b = pad.reshape(tiles, nk, k_windows).sum(axis=2)
    return np.where(b == 0, 1, b)


def _check_config(config):
    core = config.core
    if config.weight_depth < core.group:
        raise PlanError(f"one window of a row tile needs up to {core.group} weight words (G), the "
                        f"weight buffer holds {config.weight_depth}")
    if config.act_depth < 1:
        raise PlanError(f"one window needs 1 activation word, the activation buffer holds "
                        f"{config.act_depth}")


def _positive(name, v, allow_none=True):
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise PlanError(f"{name} must be a positive int, not {v!r}")



def _column_blocks(N, kw, n_block, config):
    """Column blocks ``[(j0, j1)]`` of ``N`` columns whose activations (``kw`` windows each) fit
    the activation buffer; ``n_block`` columns per block if given, else as many as fit."""
    if n_block is None:
        nb = min(N, config.act_depth // kw)
    else:
        nb = min(int(n_block), N)
        if kw * nb > config.act_depth:
            raise PlanError(f"a block of {nb} columns x {kw} windows needs {kw * nb} activation "
                            f"words, the activation buffer holds {config.act_depth}")
    return [(j0, min(j0 + nb, N)) for j0 in range(0, N, nb)]

def plan_gemm(w, n_cols, mode, config, k_windows=None, n_block=None, permute=False):
    """Plan ``W[M,K] x A[K, n_cols]`` in ``mode`` on the preload top of ``config``.

    Parameters
    ----------
    w : int array ``[M,K]`` (values within the core's ``value_width``)
    n_cols : int
        N, the columns of ``A``.
    mode : str
        A mode the core runs (``"dense"``, ``"nm:N:M"``, ``"suds"``, ``"unstructured-nosuds"``).
    config : EurekaGemmConfig (or an object with its fields)
    k_windows, n_block : int or None
        Force the K block (in windows of ``L*G``) or the column block; None: the largest that fit.
    permute : bool
        Unstructured modes: the balanced column order of :func:`golden.eureka.pack` with
        ``permute=True`` (rows densest first, each row tile's columns in its own order). Activations
        are then gathered per row tile, so a round is one row tile, every tile loads its own
        activations, and K blocks are blocks of that tile's windows (``coords["k"]`` is ``None``;
        ``coords["windows"]`` gives the range, ``coords["rows"]`` the range in the sorted order).

    Returns
    -------
    golden.plan.Plan
        ``engine="eureka"``, ``psum`` ``"host"`` when K is split, else ``"none"``. Tile ``coords``:
        ``kblock``, ``round``, ``nblock``, ``rows`` / ``k`` / ``cols`` (half-open ranges of the
        GEMM), ``row_tiles``, ``k_windows`` (windows of this block), ``weight_words``,
        ``act_words``, ``load_weights``, ``load_acts``.

    Raises
    ------
    PlanError
        A forced block that does not fit (words needed and available), a buffer too small for one
        window, a bad ``n_cols``. ``ValueError`` for bad weights or a mode the core does not run.
    """
    core = config.core
    _check_config(config)
    _positive("n_cols", n_cols, allow_none=False)
    _positive("k_windows", k_windows)
    _positive("n_block", n_block)
    w = ge.check_weights(w, core)
    ge.cycle_model(w, 1, mode, core)                   # checks the mode and the N:M groups
    kind, n, m = core.check_mode(mode)
    if not isinstance(permute, bool):
        raise PlanError(f"permute must be True or False, not {permute!r}")
    if permute:
        return _plan_permuted(w, int(n_cols), mode, kind, config, k_windows, n_block)
    M, K = w.shape
    N = int(n_cols)
    T = ge.lane_cycles(ge.window_counts(w, core), kind, core, n, m).max(axis=-1)   # [tiles, win]
    n_tiles, nwin = T.shape

    kw = _k_block(T, nwin, k_windows, config)
    beats = block_beats(T, kw)                         # [row tile, K block]
    nk = beats.shape[1]
    col_blocks = _column_blocks(N, kw, n_block, config)
    tiles = []
    for b in range(nk):
        tiles += _k_block_tiles(w, b, kw, beats, col_blocks, mode, config)
    return Plan(engine="eureka",
                layer={"M": M, "K": K, "N": N, "mode": mode, "k_windows": kw,
                       "n_block": col_blocks[0][1] - col_blocks[0][0],
                       "k_blocks": nk},
                tiles=tuple(tiles), psum="host" if nk > 1 else "none")


def _k_block(T, nwin, k_windows, config):
    """Windows of a K block: ``k_windows`` checked against both buffers, or (None) the most that
    fit them."""
    if k_windows is None:
        kw = min(nwin, config.act_depth)
        while block_beats(T, kw).max() > config.weight_depth:
            kw -= 1                                     # ends by weight_depth // G (T <= G)
        return kw
    kw = min(int(k_windows), nwin)
    if kw > config.act_depth:
        raise PlanError(f"a K block of {kw} windows needs {kw} activation words per column, "
                        f"the activation buffer holds {config.act_depth}")
    bb = block_beats(T, kw)
    t, b = np.unravel_index(int(bb.argmax()), bb.shape)
    if bb[t, b] > config.weight_depth:
        raise PlanError(f"row tile {t} of K block {b} needs {int(bb[t, b])} weight words, the "
                        f"weight buffer holds {config.weight_depth}")
    return kw


def _k_block_tiles(w, b, kw, beats, col_blocks, mode, config):
    """The tiles of K block ``b``: its rounds of row tiles times the column blocks, in the order
    that loads least (:func:`_order`), each checked against the cycle model."""
    core = config.core
    M, K = w.shape
    R, LG = core.rows, core.window
    nk = beats.shape[1]
    wb, ab, ob = (word_bytes(config.weight_word_bits), word_bytes(config.act_word_bits),
                  word_bytes(config.out_word_bits))
    tiles = []
    k0, k1 = b * kw * LG, min((b + 1) * kw * LG, K)
    win_b = -(-(k1 - k0) // LG)
    rounds = _rounds(beats[:, b], config.weight_depth)
    order = _order(rounds, beats[:, b], col_blocks, win_b, wb, ab)
    prev_w = prev_a = None
    for r, j in order:
        t0, t1 = rounds[r]
        r0, r1 = t0 * R, min(t1 * R, M)
        n0, n1 = col_blocks[j]
        words = int(beats[t0:t1, b].sum())
        cyc = ge.cycle_model(w[r0:r1, k0:k1], n1 - n0, mode, core)["cycles"]
        assert cyc == words * (n1 - n0), "plan beats disagree with the cycle model"
        load_w, load_a = prev_w != r, prev_a != j
        prev_w, prev_a = r, j
        out_bytes = (t1 - t0) * (n1 - n0) * ob
        split = nk > 1 and b < nk - 1
        tiles.append(Tile(
            coords={"kblock": b, "round": r, "nblock": j, "rows": [r0, r1], "k": [k0, k1],
                    "cols": [n0, n1], "row_tiles": t1 - t0, "k_windows": win_b,
                    "weight_words": words, "act_words": win_b * (n1 - n0),
                    "load_weights": load_w, "load_acts": load_a},
            cycles=int(cyc),
            traffic={"weights": words * wb if load_w else 0,
                     "activations": win_b * (n1 - n0) * ab if load_a else 0,
                     "psums_in": 0,
                     "psums_out": out_bytes if split else 0,
                     "outputs": 0 if split else out_bytes}))
    return tiles


def _rounds(beats, depth):
    """Greedy consecutive row-tile groups ``[(t0, t1), ...]`` whose beats fit ``depth``."""
    out, t0, used = [], 0, 0
    for t, b in enumerate(beats):
        if used + b > depth:
            out.append((t0, t))
            t0, used = t, 0
        used += int(b)
    out.append((t0, len(beats)))
    return out


def _order(rounds, beats, col_blocks, win_b, wb, ab):
    """Tile order ``[(round, nblock)]`` of one K block moving fewer bytes (round-major on a tie)."""
    words = [int(beats[t0:t1].sum()) for t0, t1 in rounds]
    acts = [win_b * (n1 - n0) for n0, n1 in col_blocks]
    nr, nc = len(rounds), len(col_blocks)
    # round-major: weights once per round; activations once per (round, block) unless one block
    round_major = sum(words) * wb + (sum(acts) * (nr if nc > 1 else 1)) * ab
    block_major = sum(acts) * ab + sum(words) * wb * (nc if nr > 1 else 1)
    # serpentine: every other pass runs backwards, so the buffer loaded last is reused once more
    if block_major < round_major:
        return [(r, j) for j in range(nc) for r in (range(nr) if j % 2 == 0 else
                                                    range(nr - 1, -1, -1))]
    return [(r, j) for r in range(nr) for j in (range(nc) if r % 2 == 0 else range(nc - 1, -1, -1))]


def _plan_permuted(w, N, mode, kind, config, k_windows, n_block):
    """:func:`plan_gemm` with the balanced column order (one row tile per round)."""
    from .eureka_perm import balance_tiles
    core = config.core
    if kind not in UNSTRUCTURED_MODES:
        raise PlanError(f"permute applies to the unstructured modes (suds, unstructured-nosuds), "
                        f"not {mode!r}")
    M, K = w.shape
    R = core.rows
    wp = np.zeros((-(-M // R) * R, K), np.int64)
    wp[:M] = w[ge.row_order(w)]
    Ts = [T for _, T in balance_tiles(wp.reshape(-1, R, K), core, kind)]
    most = max(len(T) for T in Ts)

    def beats_of(kw):
        return [block_beats(np.asarray(T, np.int64)[None], kw)[0] for T in Ts]

    if k_windows is None:
        kw = min(most, config.act_depth)
        while max(b.max() for b in beats_of(kw)) > config.weight_depth:
            kw -= 1
    else:
        kw = min(int(k_windows), most)
        if kw > config.act_depth:
            raise PlanError(f"a K block of {kw} windows needs {kw} activation words per column, "
                            f"the activation buffer holds {config.act_depth}")
        for t, bb in enumerate(beats_of(kw)):
            if bb.max() > config.weight_depth:
                raise PlanError(f"row tile {t} of K block {int(bb.argmax())} needs {int(bb.max())} "
                                f"weight words, the weight buffer holds {config.weight_depth}")
    col_blocks = _column_blocks(N, kw, n_block, config)
    wb, ab, ob = (word_bytes(config.weight_word_bits), word_bytes(config.act_word_bits),
                  word_bytes(config.out_word_bits))
    tiles = []
    nk = 1
    for t, (T, bb) in enumerate(zip(Ts, beats_of(kw))):
        nk_t = len(bb)
        nk = max(nk, nk_t)
        for b in range(nk_t):
            win_b = min(kw, len(T) - b * kw)
            for j, (n0, n1) in enumerate(col_blocks):
                words = int(bb[b])
                out_bytes = (n1 - n0) * ob
                split = nk_t > 1 and b < nk_t - 1
                tiles.append(Tile(
                    coords={"kblock": b, "round": t, "nblock": j,
                            "rows": [t * R, min((t + 1) * R, M)], "k": None,
                            "windows": [b * kw, b * kw + win_b], "cols": [n0, n1], "row_tiles": 1,
                            "k_windows": win_b, "weight_words": words,
                            "act_words": win_b * (n1 - n0), "load_weights": j == 0,
                            "load_acts": True},
                    cycles=words * (n1 - n0),
                    traffic={"weights": words * wb if j == 0 else 0,
                             "activations": win_b * (n1 - n0) * ab, "psums_in": 0,
                             "psums_out": out_bytes if split else 0,
                             "outputs": 0 if split else out_bytes}))
    return Plan(engine="eureka",
                layer={"M": M, "K": K, "N": N, "mode": mode, "k_windows": kw,
                       "n_block": col_blocks[0][1] - col_blocks[0][0],
                       "k_blocks": nk, "permute": True},
                tiles=tuple(tiles), psum="host" if nk > 1 else "none")
