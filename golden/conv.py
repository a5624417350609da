"""Exact integer convolution: a fast dense reference and SparTen's inner-join order.

Layouts are PyTorch's: activations ``a[C,H,W]`` (one image, no batch), filters ``w[K,C,R,S]``,
output ``[K,Ho,Wo]``; zero padding on all four sides, the same stride in both directions.

Accumulators are exact (``int64`` or exact ``float64`` BLAS, see :func:`conv2d_dense`). The result
must fit a signed ``acc_bits`` integer or ``ValueError`` is raised: nothing wraps. Only the final
sums are checked: a two's complement accumulator that wraps in between still ends exact when the
final sum fits, so this is the condition under which hardware and golden agree.
"""

import numpy as np

from .sparsemap import SparseMap, check_int_array, inner_join

__all__ = [
    "conv_output_shape", "im2col", "conv2d_dense", "conv2d_sparse", "match_counts", "fc", "relu",
    "check_acc", "check_conv_operands",
]

# float64 represents every integer below 2**53 exactly, and BLAS only ever adds such integers when
# sum(|a|*|w|) stays below it, whatever order it adds in.
_FLOAT_EXACT = 1 << 53


def _check_geometry(stride, padding):
    for name, v, lo in (("stride", stride, 1), ("padding", padding, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, not {v!r}")
    return int(stride), int(padding)


def _check_acc_bits(acc_bits):
    if isinstance(acc_bits, bool) or not isinstance(acc_bits, (int, np.integer)) \
            or not 2 <= acc_bits <= 64:
        raise ValueError(f"acc_bits must be an int in 2..64, not {acc_bits!r}")
    return int(acc_bits)


def check_acc(out, acc_bits=32, name="accumulator"):
    """Raise ``ValueError`` naming the first element of ``out`` that does not fit signed ``acc_bits``."""
    acc_bits = _check_acc_bits(acc_bits)
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    out = np.asarray(out)
    if out.size and (int(out.min()) < lo or int(out.max()) > hi):
        idx = tuple(int(i) for i in np.argwhere((out < lo) | (out > hi))[0])
        raise ValueError(f"{name} overflow: result{list(idx)} = {int(out[idx])} does not fit a "
                         f"signed {acc_bits}-bit accumulator ({lo}..{hi})")
    return out


def conv_output_shape(H, W, R, S, stride=1, padding=0):
    """``(Ho, Wo)`` of a convolution; ``ValueError`` if the output would be empty."""
    stride, padding = _check_geometry(stride, padding)
    for name, v in (("H", H), ("W", W), ("R", R), ("S", S)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, not {v!r}")
    ho = (H + 2 * padding - R) // stride + 1
    wo = (W + 2 * padding - S) // stride + 1
    if H + 2 * padding < R or W + 2 * padding < S:
        raise ValueError(f"empty output: a {R}x{S} filter does not fit a {H}x{W} map with "
                         f"padding {padding}")
    return int(ho), int(wo)


def im2col(a, R, S, stride=1, padding=0):
    """Unfold ``a[C,H,W]`` into ``[C*R*S, Ho*Wo]``.

    Row ``(c*R + r)*S + s`` matches column ``(c, r, s)`` of ``w.reshape(K, C*R*S)``; column
    ``yo*Wo + xo`` is output position ``(yo, xo)``.
    """
    a = check_int_array(a, bits=None, name="activations")
    if a.ndim != 3:
        raise ValueError(f"activations must be [C,H,W], not shape {a.shape}")
    c, h, w = a.shape
    ho, wo = conv_output_shape(h, w, R, S, stride, padding)
    if padding:
        a = np.pad(a, ((0, 0), (padding, padding), (padding, padding)))
    win = np.lib.stride_tricks.sliding_window_view(a, (R, S), axis=(1, 2))  # [C,H',W',R,S]
    win = win[:, ::stride, ::stride][:, :ho, :wo]                          # [C,Ho,Wo,R,S]
    return np.ascontiguousarray(win.transpose(0, 3, 4, 1, 2)).reshape(c * R * S, ho * wo)


def _check_conv_operands(a, w):
    if a.ndim != 3:
        raise ValueError(f"activations must be [C,H,W], not shape {a.shape}")
    if w.ndim != 4:
        raise ValueError(f"filters must be [K,C,R,S], not shape {w.shape}")
    if 0 in a.shape or 0 in w.shape:
        raise ValueError(f"empty operand: activations {a.shape}, filters {w.shape}")
    if a.shape[0] != w.shape[1]:
        raise ValueError(f"channel mismatch: activations have C={a.shape[0]}, filters "
                         f"[K,C,R,S]={w.shape} have C={w.shape[1]}")


def check_conv_operands(w, a):
    """Filters ``w[K,C,R,S]`` and activations ``a[C,H,W]`` of one layer as integer arrays, for the
    engines' cycle models (values only matter through being non-zero, so any integer width).

    Returns ``(w, a)``; ``ValueError`` naming the operand for a non-integer array, a wrong rank,
    an empty operand or a channel mismatch."""
    w = check_int_array(w, bits=None, name="weights")
    a = check_int_array(a, bits=None, name="activations")
    _check_conv_operands(a, w)
    return w, a


def _exact_matmul(w2, cols):
    """``w2 @ cols`` exactly in int64; BLAS float64 when that is provably exact (much faster)."""
    amax = int(np.abs(cols).max()) if cols.size else 0
    wmax = int(np.abs(w2).max()) if w2.size else 0
    bound = amax * wmax * w2.shape[1]
    if bound < _FLOAT_EXACT:
        return (w2.astype(np.float64) @ cols.astype(np.float64)).astype(np.int64)
    if bound >= 1 << 63:
        raise ValueError(f"operands too wide for an exact int64 accumulator (max |a|={amax}, "
                         f"max |w|={wmax}, {w2.shape[1]} terms)")
    return w2 @ cols


def conv2d_dense(a, w, stride=1, padding=0, acc_bits=32):
    """Exact dense convolution of ``a[C,H,W]`` with ``w[K,C,R,S]`` -> ``int64[K,Ho,Wo]``.

    Vectorised im2col + matmul; fast enough for real layers. Operands are any integer arrays
    (their width is the caller's business; the accumulator width is checked here).

    Raises
    ------
    TypeError
        Non-integer operands.
    ValueError
        Wrong ranks, channel mismatch, bad stride/padding, empty output, or a result that does not
        fit a signed ``acc_bits`` integer.
    """
    stride, padding = _check_geometry(stride, padding)
    acc_bits = _check_acc_bits(acc_bits)
    a = check_int_array(a, bits=None, name="activations")
    w = check_int_array(w, bits=None, name="filters")
    _check_conv_operands(a, w)
    k, c, r, s = w.shape
    ho, wo = conv_output_shape(a.shape[1], a.shape[2], r, s, stride, padding)
    out = _exact_matmul(w.reshape(k, c * r * s), im2col(a, r, s, stride, padding))
    return check_acc(out.reshape(k, ho, wo), acc_bits)


def match_counts(a, w, stride=1, padding=0):
    """Number of inner-join matches (MACs SparTen performs) per output, ``int64[K,Ho,Wo]``.

    ``a``/``w`` may be dense arrays or :class:`SparseMap`; a match is a position where both the
    activation and the filter weight are non-zero (padding never matches).
    """
    if isinstance(a, SparseMap):
        a = a.decode()
    if isinstance(w, SparseMap):
        w = w.decode()
    a = (check_int_array(a, bits=None, name="activations") != 0).astype(np.int64)
    w = (check_int_array(w, bits=None, name="filters") != 0).astype(np.int64)
    return conv2d_dense(a, w, stride, padding, acc_bits=64)


def conv2d_sparse(a_sm, w_sm, stride=1, padding=0, acc_bits=32, trace=None):
    """Convolution computed from two :class:`SparseMap` operands in SparTen's order.

    For every output ``(k, yo, xo)``: taps ``(r, s)`` in row-major order, skipping taps that fall
    in the zero padding; for each tap the channel chunks ``j`` in order; within a chunk the inner
    join of the two masks, lowest matching position first, one multiply-accumulate per match
    using the exclusive-prefix offsets into the packed value arrays. Slow (pure Python per match)
    by design: it is the reference of order, not of speed. Same result contract as
    :func:`conv2d_dense`.

    ``trace``, if a list, receives one tuple ``(k, yo, xo, r, s, j, position, offset_w,
    offset_a)`` per multiply-accumulate, in the order performed (the MAC sequence of a CU).
    """
    stride, padding = _check_geometry(stride, padding)
    acc_bits = _check_acc_bits(acc_bits)
    for name, sm, rank in (("a_sm", a_sm, 3), ("w_sm", w_sm, 4)):
        if not isinstance(sm, SparseMap):
            raise TypeError(f"{name} must be a SparseMap, not {type(sm).__name__}")
        if len(sm.shape) != rank:
            raise ValueError(f"{name} must encode a rank-{rank} tensor, not shape {sm.shape}")
        sm.validate()
    c, h, wd = a_sm.shape
    k, wc, r, s = w_sm.shape
    if wc != c:
        raise ValueError(f"channel mismatch: activations have C={c}, filters [K,C,R,S]="
                         f"{tuple(w_sm.shape)} have C={wc}")
    if a_sm.chunk != w_sm.chunk:
        raise ValueError(f"chunk mismatch: activations chunk={a_sm.chunk}, filters "
                         f"chunk={w_sm.chunk}")
    ho, wo = conv_output_shape(h, wd, r, s, stride, padding)
    out = np.zeros((k, ho, wo), dtype=object)          # Python ints: exact whatever the widths
    for kk in range(k):
        fk = w_sm.chunks[kk]
        for yo in range(ho):
            for xo in range(wo):
                acc = 0
                for rr in range(r):
                    y = yo * stride - padding + rr
                    if not 0 <= y < h:
                        continue
                    for ss in range(s):
                        x = xo * stride - padding + ss
                        if not 0 <= x < wd:
                            continue
                        for j, (fch, ach) in enumerate(zip(fk[rr][ss], a_sm.chunks[y][x])):
                            fv, av = fch.values, ach.values
                            for p, of, oa in inner_join(fch.mask, ach.mask):
                                acc += int(fv[of]) * int(av[oa])
                                if trace is not None:
                                    trace.append((kk, yo, xo, rr, ss, j, p, of, oa))
                out[kk, yo, xo] = acc
    check_acc(out, acc_bits)
    return out.astype(np.int64)


def fc(a, w, acc_bits=32, chunk=None):
    """Fully connected layer ``w[K,C] @ a[C]`` as a 1x1 convolution on a 1x1 map -> ``int64[K]``.

    With ``chunk`` given the operands go through SparseMap and :func:`conv2d_sparse` (their
    width must then fit 8 bits signed, SparseMap's default).
    """
    a = check_int_array(a, bits=None, name="activations")
    w = check_int_array(w, bits=None, name="weights")
    if a.ndim != 1 or w.ndim != 2:
        raise ValueError(f"fc needs a[C] and w[K,C], not shapes {a.shape} and {w.shape}")
    if a.shape[0] != w.shape[1]:
        raise ValueError(f"channel mismatch: a has C={a.shape[0]}, w[K,C]={w.shape} has "
                         f"C={w.shape[1]}")
    a4, w4 = a.reshape(-1, 1, 1), w.reshape(*w.shape, 1, 1)
    if chunk is None:
        return conv2d_dense(a4, w4, acc_bits=acc_bits).reshape(-1)
    from .sparsemap import encode_activations, encode_filters
    return conv2d_sparse(encode_activations(a4, chunk), encode_filters(w4, chunk),
                         acc_bits=acc_bits).reshape(-1)


def relu(x):
    """``max(x, 0)`` of an integer array, as ``int64``."""
    x = check_int_array(x, bits=None, name="relu input")
    return np.maximum(x, 0)
