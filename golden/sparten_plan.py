"""SparTen layer planner: a conv / FC layer of any size cut into tiles that fit a config.

Pure Python/NumPy; the config is taken as the object given (a ``SparTenConfig`` or anything with
its fields: ``chunk``, ``value_width``, ``acc_width``, ``n_units``, ``act_depth``,
``weight_depth``, ``out_depth``, ``max_channels``, ``max_size``, ``max_kernel``, ``max_stride``,
``max_reduction``, ``permute``).

Tiling
------
A tile is one run of the layer top (``hw/sparten/layer.py``) on a piece of the layer:

* **output-channel groups** (``coords["k"]``): whole rounds of ``n_units`` filters, as many as the
  filter banks (``weight_depth``) and output banks (``out_depth``) hold;
* **input-channel blocks** (``coords["c"]``): when one filter of all ``C`` channels does not fit
  a unit's bank, the activation memory, ``max_channels`` or ``max_reduction``, the channels are
  cut on chunk boundaries into blocks of equal chunk counts. **Partial sums are carried on the
  host**: every block runs as a layer of its own in raw accumulator mode and the runtime adds the
  int32 results exactly (int64 on the host); ReLU / requantisation are applied once, after the
  last block. The engine spends no cycle on the addition (the host does it); every block's
  results leave the chip at ``acc_width`` bits, counted as ``psums_out`` for all blocks but the
  last, whose results are the ``outputs``. Nothing is read back (``psums_in`` = 0).
* **spatial blocks** (``coords["oy"]``, ``coords["ox"]``): output rows x columns; the tile's input
  window (``coords["iy"]``, ``coords["ix"]``, in input coordinates) includes the halo, i.e. the
  ``R - stride`` rows and ``S - stride`` columns its neighbours also read. A layer that fits in one
  spatial block runs with the hardware's own padding (``coords["pad"]`` = the layer's padding);
  when it is cut, each window is taken from the zero-padded input, so border tiles carry their
  padding as explicit zero positions and run with padding 0 (a zero position costs the sequencer
  the same one cycle per chunk as a padding tap, and the cycle model counts either exactly).

Blocks are chosen to fit first, then to move the fewest words: among the feasible numbers of
rounds per group and block shapes, the planner takes the one with the least estimated traffic
(activation words times groups plus weight words times spatial blocks), ties to fewer tiles.

Per tile: ``cycles`` = :func:`golden.sparten_model.layer_cycles` on exactly that tile (its filters,
its window, its padding, its slot table), which the RTL's cycle counter must equal; bytes as
stored (:func:`stored_bytes`): a SparseMap chunk is ``chunk / 8`` bytes of mask plus
``ceil(nnz * value_width / 8)`` bytes of packed non-zero values. ``weights`` counts the tile's
real filters (idle slots of a last round are not fetched), ``activations`` the window's real input
positions (the padding zeros of border windows are written on chip, not fetched), ``psums_out`` /
``outputs`` ``k * Ho_t * Wo_t * acc_width / 8`` bytes.
"""

import numpy as np

from .balance import METHODS
from .conv import conv_output_shape
from .plan import Plan, PlanError, Tile

__all__ = ["hw_padding_ok", "tiling", "tile_tensors", "tile_perm", "stored_bytes",
           "plan_layer"]


def _int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise PlanError(f"{name} must be an int >= {lo}, not {v!r}")
    return int(v)


def hw_padding_ok(config, R, S, padding):
    """Whether the layer top's own padding can do ``padding`` (what hw/sparten/memmap accepts)."""
    return padding < max(R, S) and padding <= config.max_kernel


def _check_geometry(config, K, C, H, W, R, S, stride, padding):
    """One-line ``PlanError`` for a layer beyond the config's geometric limits."""
    if R > config.max_kernel or S > config.max_kernel:
        raise PlanError(f"kernel {R}x{S} exceeds the config's max_kernel = {config.max_kernel}")
    if stride > config.max_stride:
        raise PlanError(f"stride {stride} exceeds the config's max_stride = {config.max_stride}")
    if R > config.max_size or S > config.max_size:
        raise PlanError(f"kernel {R}x{S} exceeds the config's max_size = {config.max_size} (one "
                        f"output's input window must fit)")
    conv_output_shape(H, W, R, S, stride, padding)   # empty output -> ValueError


def _channel_blocks(config, C, R, S):
    """Input-channel blocks ``[(c0, c1), ...]``; ``PlanError`` when even one chunk cannot fit."""
    chunk, taps = config.chunk, R * S
    if taps > config.weight_depth:
        raise PlanError(f"one filter needs R*S*1 = {taps} words of a unit's filter bank even with "
                        f"C blocked to one chunk; weight_depth = {config.weight_depth}")
    if taps > config.act_depth:
        raise PlanError(f"one output needs R*S*1 = {taps} activation words even with C blocked "
                        f"to one chunk; act_depth = {config.act_depth}")
    if taps > config.max_reduction:
        raise PlanError(f"one input channel needs a reduction of R*S = {taps} products; "
                        f"max_reduction = {config.max_reduction}")
    nc_max = min(config.weight_depth // taps, config.act_depth // taps)
    c_max = min(C, config.max_channels, config.max_reduction // taps, nc_max * chunk)
    if c_max == C:
        return [(0, C)]
    if c_max >= chunk:
        # Whole chunks per block, as equal as possible (a block's chunks start at its c0).
        nc = -(-C // chunk)
        per = -(-nc // -(-nc // (c_max // chunk)))
        size = per * chunk
    else:
        size = -(-C // -(-C // c_max))
    return [(c0, min(C, c0 + size)) for c0 in range(0, C, size)]


def _spatial(config, H, W, Ho, Wo, R, S, stride, padding, nc, pmax):
    """Best spatial blocking for ``nc`` chunks per position and ``pmax`` outputs per unit bank.

    Returns ``(est_words, n_blocks, ho_t, wo_t, single)`` or None when nothing fits.
    """
    if (Ho * Wo <= pmax and hw_padding_ok(config, R, S, padding)
            and max(H, W, Ho, Wo) <= config.max_size and H * W * nc <= config.act_depth):
        return (H * W * nc, 1, Ho, Wo, True)
    best = None
    seen = set()
    for nbx in range(1, Wo + 1):
        wo_t = -(-Wo // nbx)
        if wo_t in seen:
            continue
        seen.add(wo_t)
        ww = (wo_t - 1) * stride + S
        if ww > config.max_size or ww * R * nc > config.act_depth:
            continue
        hw_max = min(config.max_size, config.act_depth // (ww * nc))
        ho_t = min(Ho, pmax // wo_t, (hw_max - R) // stride + 1)
        if ho_t < 1:
            continue
        nby = -(-Ho // ho_t)
        ho_t = -(-Ho // nby)
        nbx_ = -(-Wo // wo_t)
        words = nby * nbx_ * ((ho_t - 1) * stride + R) * ww * nc
        cand = (words, nby * nbx_, ho_t, wo_t, False)
        if best is None or cand[:2] < best[:2]:
            best = cand
    return best


def tiling(config, K, C, H, W, R, S, stride=1, padding=0):
    """The tiles of a layer as coordinate dicts (no data needed); see the module docstring.

    Returns ``(coords_list, blocks)``: ``blocks`` counts ``{"k", "c", "y", "x"}`` blocks.
    Raises :class:`golden.plan.PlanError` (one line) for a layer beyond the config's geometric
    limits or a tile that can never fit.
    """
    K, C, H, W, R, S = (_int(n, v, 1) for n, v in
                        (("K", K), ("C", C), ("H", H), ("W", W), ("R", R), ("S", S)))
    stride, padding = _int("stride", stride, 1), _int("padding", padding, 0)
    _check_geometry(config, K, C, H, W, R, S, stride, padding)
    Ho, Wo = conv_output_shape(H, W, R, S, stride, padding)
    n = config.n_units
    cblocks = _channel_blocks(config, C, R, S)
    nc = -(-(cblocks[0][1] - cblocks[0][0]) // config.chunk)
    w_words = K * R * S * nc * len(cblocks)
    best = None
    # a group holds whole rounds of n filters (or max_channels filters if fewer than n)
    per_round = min(n, config.max_channels)
    r_max = min(config.weight_depth // (R * S * nc), -(-K // n), config.out_depth,
                max(1, config.max_channels // n))
    for rounds in range(1, r_max + 1):
        sp = _spatial(config, H, W, Ho, Wo, R, S, stride, padding, nc, config.out_depth // rounds)
        if sp is None:
            continue
        n_k = -(-K // min(rounds * n, config.max_channels))
        cost = (n_k * sp[0] * len(cblocks) + sp[1] * w_words, n_k * sp[1])
        if best is None or cost < best[0]:
            best = (cost, rounds, sp)
    if best is None:
        raise PlanError(f"no tile fits: one output of {nc} channel chunks needs {R * S * nc} "
                        f"filter words and {R * S * nc} activation words (weight_depth = "
                        f"{config.weight_depth}, act_depth = {config.act_depth}, max_size = "
                        f"{config.max_size})")
    _, rounds, (_, _, ho_t, wo_t, single) = best
    group = min(rounds * n, config.max_channels)
    n_k = -(-K // group)
    # groups as equal as can be, in whole rounds
    k_size = min(group, -(-(-(-K // n_k)) // per_round) * per_round)
    out = []
    for k0 in range(0, K, k_size):
        k1 = min(K, k0 + k_size)
        for oy0 in range(0, Ho, ho_t):
            oy1 = min(Ho, oy0 + ho_t)
            for ox0 in range(0, Wo, wo_t):
                ox1 = min(Wo, ox0 + wo_t)
                if single:
                    iy, ix, pad = [0, H], [0, W], padding
                else:
                    iy = [oy0 * stride - padding, (oy1 - 1) * stride - padding + R]
                    ix = [ox0 * stride - padding, (ox1 - 1) * stride - padding + S]
                    pad = 0
                for b, (c0, c1) in enumerate(cblocks):
                    out.append({"k": [k0, k1], "c": [c0, c1], "cblock": b, "oy": [oy0, oy1],
                                "ox": [ox0, ox1], "iy": iy, "ix": ix, "pad": pad,
                                "last_cblock": b == len(cblocks) - 1})
    blocks = {"k": -(-K // k_size), "c": len(cblocks), "y": -(-Ho // ho_t), "x": -(-Wo // wo_t)}
    return out, blocks


def tile_tensors(w, a, coords):
    """``(w_t[k,c,R,S], a_t[c,h,w], pad)`` of one tile: its filters and its input window (zeros
    where the window leaves the input)."""
    k0, k1 = coords["k"]
    c0, c1 = coords["c"]
    (y0, y1), (x0, x1) = coords["iy"], coords["ix"]
    _, H, W = a.shape
    win = np.zeros((c1 - c0, y1 - y0, x1 - x0), dtype=a.dtype)
    ys, ye, xs, xe = max(0, y0), min(H, y1), max(0, x0), min(W, x1)
    if ys < ye and xs < xe:
        win[:, ys - y0:ye - y0, xs - x0:xe - x0] = a[c0:c1, ys:ye, xs:xe]
    return np.ascontiguousarray(w[k0:k1, c0:c1]), win, coords["pad"]


def _real_window(a, coords):
    c0, c1 = coords["c"]
    (y0, y1), (x0, x1) = coords["iy"], coords["ix"]
    _, H, W = a.shape
    return a[c0:c1, max(0, y0):min(H, y1), max(0, x0):min(W, x1)]


def tile_perm(w_t, config, balance="none"):
    """The slot table a tile runs with: ``None`` (identity) or golden/balance.py's assignment of
    the tile's filters (each output-channel group is balanced on its own)."""
    if balance not in METHODS:
        raise ValueError(f"balance must be one of {list(METHODS)}, not {balance!r}")
    if balance == "none":
        return None
    if not config.permute:
        raise ValueError(f"balance={balance!r} needs a config with permute=True")
    from .balance import assign
    return assign(w_t, config.n_units, method=balance, chunk=config.chunk)


def stored_bytes(vectors, chunk, value_width):
    """Bytes of ``vectors[V, L]`` stored as SparseMap chunks (channel-innermost, ``L`` padded to
    whole chunks): per chunk ``chunk / 8`` bytes of mask + ``ceil(nnz * value_width / 8)``."""
    v = np.asarray(vectors)
    V, L = v.shape
    nc = -(-L // chunk)
    if V == 0 or L == 0:
        return 0
    pad = np.zeros((V, nc * chunk), dtype=bool)
    pad[:, :L] = v != 0
    nnz = pad.reshape(V * nc, chunk).sum(axis=1)
    return int(V * nc * (chunk // 8) + np.sum((nnz * value_width + 7) // 8))


def _traffic(w_t, a_real, coords, config):
    k, c, R, S = w_t.shape
    wv = w_t.transpose(0, 2, 3, 1).reshape(k * R * S, c)
    av = a_real.transpose(1, 2, 0).reshape(-1, c)
    ho = coords["oy"][1] - coords["oy"][0]
    wo = coords["ox"][1] - coords["ox"][0]
    res = k * ho * wo * (-(-config.acc_width // 8))
    return {"weights": stored_bytes(wv, config.chunk, config.value_width),
            "activations": stored_bytes(av, config.chunk, config.value_width),
            "psums_in": 0,
            "psums_out": 0 if coords["last_cblock"] else res,
            "outputs": res if coords["last_cblock"] else 0}


def _as_conv(w, a):
    w, a = np.asarray(w), np.asarray(a)
    if w.ndim == 2 and a.ndim == 1:         # FC: a 1x1 convolution on a 1x1 map
        return w[:, :, None, None], a[:, None, None], "fc"
    if w.ndim != 4 or a.ndim != 3:
        raise ValueError(f"need w[K,C,R,S] and a[C,H,W] (or FC w[K,C] and x[C]), got shapes "
                         f"{w.shape} and {a.shape}")
    if w.shape[1] != a.shape[0]:
        raise ValueError(f"channel mismatch: weights have C={w.shape[1]}, activations have "
                         f"C={a.shape[0]}")
    return w, a, "conv"


def plan_layer(config, w, a, stride=1, padding=0, balance="none", models=None, progress=None, *,
               pipeline):
    """Plan a layer on ``config``: a :class:`golden.plan.Plan` with every tile's cycles and bytes.

    Parameters
    ----------
    w, a : integer arrays
        ``w[K,C,R,S]``, ``a[C,H,W]``; or an FC layer ``w[K,C]``, ``x[C]`` (run as 1x1 on 1x1).
    balance : ``"none"`` | ``"gbs"`` | ``"gbh"``
        Filter order of every output-channel group (:func:`tile_perm`).
    models : list or None
        When a list, the full cycle-model dict of every tile is appended to it (the runtime
        reuses them instead of modelling each tile twice).
    progress : callable or None
        Called with one line per tile modelled.
    pipeline : int
        The layer top's fill/drain cycles, ``SparTenLayer.latency_of(config)`` (passed to
        :func:`golden.sparten_model.layer_cycles`).

    Raises
    ------
    golden.plan.PlanError
        One line: a geometric limit (kernel, stride) or a tile that can never fit.
    """
    from .sparten_model import layer_cycles

    w, a, kind = _as_conv(w, a)
    if balance not in METHODS:
        raise ValueError(f"balance must be one of {list(METHODS)}, not {balance!r}")
    K, C, R, S = w.shape
    _, H, W = a.shape
    coords, blocks = tiling(config, K, C, H, W, R, S, stride, padding)
    Ho, Wo = conv_output_shape(H, W, R, S, stride, padding)
    tiles = []
    for i, c in enumerate(coords):
        w_t, a_t, pad = tile_tensors(w, a, c)
        m = layer_cycles(w_t, a_t, config, stride, pad, perm=tile_perm(w_t, config, balance),
                         pipeline=pipeline)
        if models is not None:
            models.append(m)
        tiles.append(Tile(coords=c, cycles=int(m["cycles"]),
                          traffic=_traffic(w_t, _real_window(a, c), c, config)))
        if progress:
            progress(f"plan tile {i + 1}/{len(coords)}: k {c['k']} c {c['c']} oy {c['oy']} "
                     f"ox {c['ox']}: {m['cycles']} cycles")
    layer = {"kind": kind, "K": K, "C": C, "H": H, "W": W, "R": R, "S": S, "stride": int(stride),
             "padding": int(padding), "Ho": Ho, "Wo": Wo, "balance": balance, "blocks": blocks}
    return Plan("sparten", layer, tuple(tiles), psum="host" if blocks["c"] > 1 else "none")
