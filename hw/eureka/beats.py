"""Stream beats of the EUREKA core from a golden schedule (shared by every testbench and driver).

Payloads are built with the core's own ``lib.data`` layouts (:func:`hw.eureka.core.weight_layout`
etc.) through the shared helpers of :mod:`hw.common.pack` (``layout_leaves`` and ``pack_fields``
are re-exported here for the callers that import them from this module), so bits are never packed
by hand. A GEMM ``D = W x A`` runs as: for each row
tile ``t`` of the schedule, for each column ``n`` of ``A``: the tile's weight beats (the last one
with ``last``) and the activation windows of column ``n`` that the tile uses; one result per
``(t, n)``, in that order. With independent lanes (``lane_sync="independent"``) every lane ``l``
has its own activation stream: the G activations of each window lane ``l`` uses, in its order.
"""

import numpy as np

from hw.common.pack import layout_leaves, pack_fields

from .core import act_layout, lane_act_layout, result_layout, weight_layout

__all__ = ["layout_leaves", "pack_fields", "tile_weight_beats", "act_window_beats",
           "lane_act_beats",
           "gemm_streams", "decode_results", "tile_weight_beats_const", "act_window_beats_const"]


def tile_weight_beats(config, tile):
    """Integer payloads of one :class:`golden.eureka.TileSchedule` (``last`` on the final beat)."""
    if not config.has_suds and tile.disp.any():
        raise ValueError("schedule displaces a weight but the core has no SUDS path")
    if tile.independent != config.independent:
        kind = "independent" if tile.independent else "lock-step"
        raise ValueError(f"schedule is packed for {kind} lanes but the core's lane_sync is "
                         f"{config.lane_sync!r}")
    S = tile.beats
    last = np.zeros(S, np.int64)
    last[-1:] = 1
    fields = {"w": tile.w, "sel": tile.sel, "valid": tile.valid, "disp": tile.disp}

    def value_of(path):
        if path[0] == "slot":
            _, r, l, name = path
            return fields[name][:, r, l]
        if path[0] == "last_window":               # independent lanes: ("last_window", l)
            return tile.last_window[:, path[1]] if len(path) > 1 else tile.last_window
        return last
    return pack_fields(weight_layout(config), S, value_of)


def tile_weight_beats_const(config, tile):
    """Reference packing of :func:`tile_weight_beats` with ``layout.const`` (slow; for tests)."""
    lay = weight_layout(config)
    R, L = config.rows, config.lanes
    beats = []
    for s in range(tile.beats):
        slots = []
        for r in range(R):
            row = []
            for l in range(L):
                f = {"w": int(tile.w[s, r, l])}
                if config.has_mux:
                    f["sel"] = int(tile.sel[s, r, l])
                    f["valid"] = int(tile.valid[s, r, l])
                if config.has_suds:
                    f["disp"] = int(tile.disp[s, r, l])
                elif tile.disp[s, r, l]:
                    raise ValueError("schedule displaces a weight but the core has no SUDS path")
                row.append(f)
            slots.append(row)
        lw = tile.last_window[s]
        beats.append(lay.const({"slot": slots, "last_window": [int(x) for x in lw]
                                if tile.independent else int(lw),
                                "last": int(s == tile.beats - 1)}).as_value().value)
    return beats


def act_window_beats(config, windows):
    """Integer payloads of activation windows ``[n, L, G]``."""
    windows = np.asarray(windows)
    return pack_fields(act_layout(config), len(windows), lambda p: windows[:, p[1], p[2]])


def lane_act_beats(config, windows):
    """Integer payloads of one lane's activation windows ``[n, G]`` (independent lanes)."""
    windows = np.asarray(windows)
    return pack_fields(lane_act_layout(config), len(windows), lambda p: windows[:, p[1]])


def act_window_beats_const(config, windows):
    """Reference packing of :func:`act_window_beats` with ``layout.const`` (slow; for tests)."""
    lay = act_layout(config)
    return [lay.const({"a": [[int(x) for x in lane] for lane in win]}).as_value().value
            for win in np.asarray(windows)]


def gemm_streams(schedule, a):
    """``(weight_beats, act_beats, n_results)`` to run ``schedule`` on ``a[K,N]``; with
    independent lanes ``act_beats`` is a list of L lists, lane ``l``'s stream."""
    from golden.eureka import check_activations, tile_activation_windows
    cfg = schedule.config
    a = check_activations(a, schedule.K, cfg)
    N = a.shape[1]
    w_beats, a_beats = [], []
    if cfg.independent:
        a_beats = [[] for _ in range(cfg.lanes)]
    cache = {}
    for t, tile in enumerate(schedule.tiles):
        wb = tile_weight_beats(cfg, tile)
        aw = tile_activation_windows(a, cfg, tile)        # [N, win, L, G], gathered if permuted
        for n in range(N):
            w_beats += wb
            if cfg.independent:
                for l, wins in enumerate(tile.windows):
                    a_beats[l] += lane_act_beats(cfg, aw[n, wins, l])
                continue
            key = (n, tuple(tile.windows.tolist())) if tile.k_index is None else None
            if key is None or key not in cache:
                beats = act_window_beats(cfg, aw[n, tile.windows])
                if key is not None:
                    cache[key] = beats
            else:
                beats = cache[key]
            a_beats += beats
    return w_beats, a_beats, len(schedule.tiles) * N


def decode_results(config, beats, M, N):
    """Result payloads (tile-major, then column) -> ``int64[M, N]``."""
    lay = result_layout(config)
    R = config.rows
    tiles = -(-M // R)
    if len(beats) != tiles * N:
        raise ValueError(f"expected {tiles * N} result beats, got {len(beats)}")
    out = np.zeros((tiles * R, N), dtype=np.int64)
    for i, b in enumerate(beats):
        t, n = divmod(i, N)
        v = lay.from_bits(int(b))
        out[t * R:(t + 1) * R, n] = [int(v.acc[r]) for r in range(R)]
    return out[:M]
