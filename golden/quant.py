"""Requantisation of accumulators and the output path ReLU -> requantise -> SparseMap.

``requantize`` is the fixed-point scale hardware can do in one multiplier and one shifter:
``(acc * multiplier + 2**(shift-1)) >> shift`` with an arithmetic (floor) shift, i.e. round half
up (towards +inf): -2.5 -> -2, 2.5 -> 3, then saturation to the signed ``out_bits`` range.
"""

import numpy as np

from .conv import check_acc, relu
from .sparsemap import check_int_array, encode_activations

__all__ = ["MULTIPLIER_MAX", "SHIFT_MAX", "requantize", "output_to_sparsemap"]

MULTIPLIER_MAX = (1 << 31) - 1
SHIFT_MAX = 62


def _check_param(name, value, lo, hi):
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer (or integer array), not {value!r}")
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value!r}")
    return arr.astype(np.int64)


def requantize(acc, multiplier, shift, out_bits=8, acc_bits=32, signed=True):
    """Scale accumulators by ``multiplier / 2**shift``, round half up, saturate -> ``int64``.

    Parameters
    ----------
    acc : integer array
        Accumulators; must fit signed ``acc_bits`` (``ValueError`` otherwise).
    multiplier : int or integer array
        ``1 .. 2**31-1``; an array broadcasts against ``acc`` (e.g. per output channel, shape
        ``[K,1,1]`` for ``acc[K,Ho,Wo]``).
    shift : int or integer array
        ``0 .. 62`` (``0``: no rounding term); broadcasts like ``multiplier``.
    out_bits : int
        Output width, ``2..32``; results saturate to its signed range (unsigned if ``signed`` is
        False, ``0 .. 2**out_bits - 1``).
    """
    if isinstance(out_bits, bool) or not isinstance(out_bits, (int, np.integer)) \
            or not 2 <= out_bits <= 32:
        raise ValueError(f"out_bits must be an int in 2..32, not {out_bits!r}")
    acc = check_int_array(acc, bits=None, name="acc")
    check_acc(acc, acc_bits, name="requantize input")
    m = _check_param("multiplier", multiplier, 1, MULTIPLIER_MAX)
    sh = _check_param("shift", shift, 0, SHIFT_MAX)
    try:
        np.broadcast_shapes(acc.shape, m.shape, sh.shape)
    except ValueError:
        raise ValueError(f"multiplier shape {m.shape} / shift shape {sh.shape} do not broadcast "
                         f"to acc shape {acc.shape}") from None
    # |acc| <= 2**(acc_bits-1) and multiplier < 2**31, so acc*multiplier + 2**(shift-1) stays below
    # 2**62 + 2**61 < 2**63 when acc_bits <= 32; wider accumulators use Python ints (no wrap).
    if acc_bits <= 32:
        prod = acc * m
        half = np.where(sh > 0, np.left_shift(np.int64(1), np.maximum(sh - 1, 0)), 0)
        res = (prod + half) >> sh
    else:
        prod = acc.astype(object) * m.astype(object)
        half = np.vectorize(lambda s: (1 << (int(s) - 1)) if s > 0 else 0, otypes=[object])(sh)
        res = (prod + half) >> sh.astype(object)
    if signed:
        lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    else:
        lo, hi = 0, (1 << out_bits) - 1
    res = np.asarray(res)
    return np.clip(res, lo, hi).astype(np.int64).reshape(np.broadcast_shapes(
        acc.shape, m.shape, sh.shape))


def output_to_sparsemap(acc, chunk, multiplier=1, shift=0, out_bits=8, acc_bits=32,
                        apply_relu=True):
    """The output path: ReLU -> requantise -> SparseMap of ``acc[K,Ho,Wo]`` (next layer's input).

    ReLU and requantisation commute (requantisation is monotone and maps 0 to 0), so the order
    the hardware uses does not change the result.
    """
    acc = check_int_array(acc, bits=None, name="acc")
    if acc.ndim != 3:
        raise ValueError(f"output must be [K,Ho,Wo], not shape {acc.shape}")
    x = relu(acc) if apply_relu else acc
    q = requantize(x, multiplier, shift, out_bits=out_bits, acc_bits=acc_bits)
    return encode_activations(q, chunk, bits=out_bits)
