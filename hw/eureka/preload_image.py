"""Buffer images, load beats and descriptor of a run on :class:`hw.eureka.preload.EurekaGemm`.

Pure Python/NumPy around the wrapper's own layouts (so bits are packed in one place): the runtime
(``sim/run_eureka.py``) and the tests turn golden schedules (:class:`golden.eureka.TileSchedule`)
and activation blocks into the words the ``load`` port writes, and decode the results.
"""

import numpy as np

from hw.common.pack import Packer

from .beats import act_window_beats, tile_weight_beats
from .core import result_layout
from .preload import TARGET_ACT, TARGET_WEIGHT, desc_layout, load_layout, weight_word_layout

__all__ = ["beat_windows", "weight_words", "act_words", "load_beats", "desc_value",
           "decode_outputs"]


def beat_windows(tile):
    """The activation window (index within a column) of every beat of a tile schedule."""
    if not tile.beats:
        return np.zeros(0, np.int64)
    ends = np.concatenate([[0], np.cumsum(tile.last_window)[:-1]])
    return tile.windows[ends].astype(np.int64)


def weight_words(config, tiles):
    """Weight-buffer words of row-tile schedules stored back to back (address order)."""
    word = Packer(weight_word_layout(config), "weight word")
    words = []
    for t in tiles:
        if t.k_index is not None:
            raise ValueError("preload runs use the natural column order (permute=False)")
        for beat, win in zip(tile_weight_beats(config.core, t), beat_windows(t)):
            words.append(word.pack(beat=beat, win=int(win)))
    if len(words) > config.weight_depth:
        raise ValueError(f"weight words = {len(words)}, the weight buffer holds "
                         f"{config.weight_depth}")
    return words


def act_words(config, a):
    """Activation-buffer words of a block ``a[k, n]`` (k <= its windows * L*G; zero padded): column
    ``j`` at words ``j*col_windows ..``. Returns ``(words, col_windows)``."""
    from golden.eureka import activation_windows
    aw = activation_windows(np.asarray(a, dtype=np.int64), config.core)   # [N, win, L, G]
    n, nwin = aw.shape[:2]
    if n * nwin > config.act_depth:
        raise ValueError(f"activation words = {n * nwin}, the activation buffer holds "
                         f"{config.act_depth}")
    return act_window_beats(config.core, aw.reshape(n * nwin, *aw.shape[2:])), nwin


def load_beats(config, target, words, base=0):
    """``load`` payloads writing ``words`` at ``base, base+1, ...`` of ``target``."""
    beat = Packer(load_layout(config), "load beat")
    if target not in (TARGET_WEIGHT, TARGET_ACT):
        raise ValueError(f"target must be {TARGET_WEIGHT} or {TARGET_ACT}, not {target!r}")
    return [beat.pack(target=target, addr=base + i, data=int(w)) for i, w in enumerate(words)]


def desc_value(config, n_tiles, n_cols, col_windows):
    """The ``desc`` port value of a run (fields range-checked by ``const``)."""
    lay = desc_layout(config)
    for name, v, hi in (("n_tiles", n_tiles, config.weight_depth),
                        ("n_cols", n_cols, config.act_depth),
                        ("col_windows", col_windows, config.act_depth)):
        if not 0 <= v <= hi:
            raise ValueError(f"{name} = {v}, the buffers allow 0..{hi}")
    return lay.const({"n_tiles": n_tiles, "n_cols": n_cols,
                      "col_windows": col_windows}).as_value().value


def decode_outputs(config, beats, n_tiles, n_cols):
    """Result payloads (tile-major, then column) -> ``int64[n_tiles * R, n_cols]``."""
    lay = result_layout(config.core)
    R = config.core.rows
    if len(beats) != n_tiles * n_cols:
        raise ValueError(f"expected {n_tiles * n_cols} results, got {len(beats)}")
    out = np.zeros((n_tiles * R, n_cols), np.int64)
    for i, b in enumerate(beats):
        t, n = divmod(i, n_cols)
        v = lay.from_bits(int(b))
        out[t * R:(t + 1) * R, n] = [int(v.acc[r]) for r in range(R)]
    return out
