"""N:M structured sparsity (Ampere 2:4 and generalisations) and PyTorch's 2:4 metadata.

In every group of ``m`` consecutive elements along K of a weight row ``w[rows, K]`` at most ``n``
are non-zero. Compressed form: ``n`` values and ``n`` in-group indices (``log2(m)`` bits each) per
group, indices strictly increasing. A group with fewer than ``n`` non-zeros is padded with zero
values at chosen unused indices:

* **2:4** uses exactly PyTorch's choice (``torch/sparse/_semi_structured_conversions.py``, which
  follows CUTLASS), so that metadata is bit-identical: all-zero -> (2, 3), only 0 -> (0, 2), only
  1 -> (1, 2), only 2 -> (2, 3), only 3 -> (2, 3).
* every other ratio pads with the lowest unused indices.

2:4 metadata: per group a nibble ``idx0 | idx1 << 2``; nibbles packed little-endian into 16-bit
(PyTorch's half/bfloat16 layout) or 32-bit (int8 layout) words (:func:`meta_2to4_pack`); PyTorch
then permutes the words into CUTLASS's interleaved column-major order (:func:`meta_cutlass_reorder`).
:func:`to_torch_2to4` / :func:`from_torch_2to4` produce / accept exactly PyTorch's
``(values, meta)`` pair. All of this is pure NumPy; torch is imported only when ``as_torch=True``.
"""

import numpy as np

from .sparsemap import check_int_array

__all__ = [
    "NM_RATIOS", "SUPPORTED", "MODES", "UNSTRUCTURED_MODES", "MODE_FORMS", "parse_mode", "mode_name", "group_modes",
    "check_nm_ratio", "check_nm", "nm_compress", "nm_decompress",
    "meta_2to4_nibbles", "meta_2to4_pack", "meta_2to4_unpack",
    "meta_cutlass_reorder", "meta_cutlass_unreorder", "to_torch_2to4", "from_torch_2to4",
]

#: N:M ratios (N < M) the engines know, written here only: the EUREKA packer and core run
#: ``nm:N:M`` for each of them whose M divides the core's group G (DESIGN.md section 1 asks for at
#: least 1:4, 2:4, 2:8 and 4:8).
NM_RATIOS = ((1, 4), (2, 4), (2, 8), (4, 8), (1, 8), (1, 2), (1, 16), (2, 16), (4, 16), (8, 16))

#: Ratios the golden model is tested with: :data:`NM_RATIOS` and dense ``(m, m)`` for each M.
SUPPORTED = frozenset(NM_RATIOS) | {(m, m) for _, m in NM_RATIOS}

#: Kinds of EUREKA execution mode, written here only (golden is the lowest layer; hw/eureka reads
#: them): dense, N:M structured, unstructured with SUDS displacement, unstructured without it.
MODES = ("dense", "nm", "suds", "unstructured-nosuds")

#: The unstructured modes (weights of any pattern), with and without SUDS displacement.
UNSTRUCTURED_MODES = ("suds", "unstructured-nosuds")

#: The mode strings as a user writes them (``nm`` takes its ratio: ``nm:2:4``), for messages.
MODE_FORMS = tuple("nm:N:M" if k == "nm" else k for k in MODES)


def parse_mode(mode):
    """Parse a mode string into ``(kind, n, m)``.

    ``"dense"`` -> ``("dense", None, None)``, ``"nm:2:4"`` -> ``("nm", 2, 4)``, ``"suds"`` and
    ``"unstructured-nosuds"`` likewise with ``None``. Raises :class:`ValueError` naming the mode.
    """
    if not isinstance(mode, str):
        raise ValueError(f"mode must be a string like 'dense', 'nm:2:4', 'suds', not {mode!r}")
    if mode in MODES and mode != "nm":
        return mode, None, None
    parts = mode.split(":")
    if len(parts) == 3 and parts[0] == "nm" and parts[1].isdigit() and parts[2].isdigit():
        n, m = int(parts[1]), int(parts[2])
        if not 1 <= n < m:
            raise ValueError(f"mode {mode!r}: N:M needs 1 <= N < M")
        return "nm", n, m
    raise ValueError(f"mode must be one of {', '.join(repr(f) for f in MODE_FORMS)}, "
                     f"not {mode!r}")


def mode_name(kind, n=None, m=None):
    """The mode string of ``(kind, n, m)``: the inverse of :func:`parse_mode`."""
    return f"nm:{n}:{m}" if kind == "nm" else kind


def group_modes(group):
    """Every mode a core whose lanes select among ``group`` activations can run, in
    :data:`MODES` order (``nm:N:M`` for each ratio of :data:`NM_RATIOS` whose M divides it)."""
    return tuple(mode_name("nm", n, m) if k == "nm" else k
                 for k in MODES for n, m in (NM_RATIOS if k == "nm" else [(None, None)])
                 if k != "nm" or group % m == 0)

# PyTorch/CUTLASS's 2:4 index pair for each pattern of non-zeros with at most two set (bit i of the
# key = element i non-zero). Patterns with two non-zeros take them; the padding choices are
# PyTorch's (documented in its file next to the encoder).
_TORCH_2TO4 = {
    0b0000: (2, 3), 0b0001: (0, 2), 0b0010: (1, 2), 0b0100: (2, 3), 0b1000: (2, 3),
    0b0011: (0, 1), 0b0101: (0, 2), 0b0110: (1, 2), 0b1001: (0, 3), 0b1010: (1, 3),
    0b1100: (2, 3),
}
_LUT_2TO4 = np.full((16, 2), -1, dtype=np.int64)
for _key, _pair in _TORCH_2TO4.items():
    _LUT_2TO4[_key] = _pair


def check_nm_ratio(n, m):
    """Raise ``ValueError`` unless ``m`` is a power of two in 1..256 and ``1 <= n <= m``.

    Ratios in :data:`SUPPORTED` are the tested ones; others of this form also work here.
    """
    for name, v in (("n", n), ("m", m)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"N:M ratio {n!r}:{m!r}: {name} must be an int")
    if not 1 <= m <= 256 or m & (m - 1) or not 1 <= n <= m:
        raise ValueError(f"bad N:M ratio {n}:{m}: m must be a power of two in 1..256 and "
                         f"1 <= n <= m (tested: {sorted(SUPPORTED)})")
    return int(n), int(m)


def _groups(w, m, name="w"):
    if w.ndim != 2:
        raise ValueError(f"{name} must be 2-D [rows, K], not shape {w.shape}")
    rows, k = w.shape
    if k == 0 or rows == 0:
        raise ValueError(f"{name} must be non-empty, not shape {w.shape}")
    if k % m:
        raise ValueError(f"K={k} is not a multiple of m={m}")
    return w.reshape(rows, k // m, m)


def check_nm(w, n, m):
    """Raise ``ValueError`` naming the first row and group of ``w[rows, K]`` with more than ``n``
    non-zeros among ``m``, or for a bad ratio/shape; ``TypeError`` for non-integer ``w``."""
    n, m = check_nm_ratio(n, m)
    w = check_int_array(w, bits=None, name="w")
    counts = (_groups(w, m) != 0).sum(axis=-1)
    bad = np.argwhere(counts > n)
    if len(bad):
        r, g = (int(i) for i in bad[0])
        raise ValueError(f"{n}:{m} violation: row {r}, group {g} (columns {g * m}..{g * m + m - 1}) "
                         f"has {int(counts[r, g])} non-zeros (at most {n} allowed; "
                         f"{len(bad)} bad group(s) in all)")


def nm_compress(w, n, m):
    """Compress ``w[rows, K]`` to ``(values, indices)``, both ``int64[rows, K//m*n]``.

    Group ``g`` of row ``i`` occupies columns ``g*n .. g*n+n-1`` of both arrays; ``indices`` are
    in-group positions ``0..m-1``, strictly increasing within a group. Padding: see the module
    docstring (PyTorch's choice for 2:4, lowest unused indices otherwise).
    """
    n, m = check_nm_ratio(n, m)
    w = check_int_array(w, bits=None, name="w")
    check_nm(w, n, m)
    g = _groups(w, m)
    rows, ngroups, _ = g.shape
    nz = g != 0
    if (n, m) == (2, 4):
        key = (nz * (1 << np.arange(4))).sum(axis=-1)
        idx = _LUT_2TO4[key]                                       # [rows, groups, 2]
    else:
        # Non-zeros first, then unused positions lowest first; keep n, then sort ascending.
        order = np.argsort(~nz, axis=-1, kind="stable")
        idx = np.sort(order[..., :n], axis=-1)
    vals = np.take_along_axis(g, idx, axis=-1)
    return vals.reshape(rows, ngroups * n), idx.reshape(rows, ngroups * n).astype(np.int64)


def nm_decompress(values, indices, n, m, K):
    """Inverse of :func:`nm_compress`: ``int64[rows, K]``.

    ``ValueError`` if shapes disagree, an index is outside ``0..m-1``, or indices of a group are
    not strictly increasing (which would make two values land on one position).
    """
    n, m = check_nm_ratio(n, m)
    values = check_int_array(values, bits=None, name="values")
    indices = check_int_array(indices, bits=None, name="indices")
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1 or K % m:
        raise ValueError(f"K must be a positive multiple of m={m}, not {K!r}")
    if values.ndim != 2 or values.shape != indices.shape:
        raise ValueError(f"values {values.shape} and indices {indices.shape} must be the same 2-D "
                         f"shape")
    rows = values.shape[0]
    if values.shape[1] != K // m * n:
        raise ValueError(f"{n}:{m} with K={K} needs {K // m * n} values per row, got "
                         f"{values.shape[1]}")
    idx = indices.reshape(rows, K // m, n)
    if idx.size and (idx.min() < 0 or idx.max() >= m):
        r, c = (int(i) for i in np.argwhere((indices < 0) | (indices >= m))[0])
        raise ValueError(f"indices[{r}, {c}] = {int(indices[r, c])} is outside 0..{m - 1}")
    if n > 1:
        bad = np.argwhere(np.any(np.diff(idx, axis=-1) <= 0, axis=-1))
        if len(bad):
            r, g = (int(i) for i in bad[0])
            raise ValueError(f"row {r}, group {g}: indices {idx[r, g].tolist()} are not strictly "
                             f"increasing")
    out = np.zeros((rows, K // m, m), dtype=np.int64)
    np.put_along_axis(out, idx, values.reshape(rows, K // m, n), axis=-1)
    return out.reshape(rows, K)


def meta_2to4_nibbles(indices):
    """Per-group 4-bit metadata ``idx0 | idx1 << 2`` from 2:4 ``indices[rows, K//2]`` ->
    ``int64[rows, K//4]``."""
    idx = check_int_array(indices, bits=None, name="indices")
    if idx.ndim != 2 or idx.shape[1] % 2:
        raise ValueError(f"2:4 indices must be [rows, K//2] with an even column count, not "
                         f"{idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() > 3):
        raise ValueError("2:4 indices must be in 0..3")
    pairs = idx.reshape(idx.shape[0], -1, 2)
    if np.any(pairs[..., 0] >= pairs[..., 1]):
        r, g = (int(i) for i in np.argwhere(pairs[..., 0] >= pairs[..., 1])[0])
        raise ValueError(f"row {r}, group {g}: 2:4 indices {pairs[r, g].tolist()} must satisfy "
                         f"idx0 < idx1")
    return pairs[..., 0] | (pairs[..., 1] << 2)


def _word_dtype(word_bits):
    if word_bits == 16:
        return np.uint16, np.int16
    if word_bits == 32:
        return np.uint32, np.int32
    raise ValueError(f"word_bits must be 16 or 32, not {word_bits!r}")


def meta_2to4_pack(indices, word_bits=16):
    """Pack 2:4 metadata nibbles little-endian into words, as PyTorch does before reordering.

    Word ``j`` of a row holds groups ``j*q .. j*q+q-1`` (``q = word_bits // 4``), group ``j*q``
    in bits 3..0. Returns ``int16`` (``word_bits=16``) or ``int32`` (``32``, PyTorch's layout for
    int8 values) words, ``[rows, K // (4*q)]``, the bit pattern PyTorch stores.
    """
    udt, sdt = _word_dtype(word_bits)
    nib = meta_2to4_nibbles(indices).astype(np.uint64)
    q = word_bits // 4
    rows, groups = nib.shape
    if groups % q:
        raise ValueError(f"{groups} groups per row is not a multiple of the {q} nibbles per "
                         f"{word_bits}-bit word (K must be a multiple of {4 * q})")
    shifts = (4 * np.arange(q)).astype(np.uint64)
    words = (nib.reshape(rows, groups // q, q) << shifts).sum(axis=-1, dtype=np.uint64)
    return words.astype(udt).view(sdt)


def meta_2to4_unpack(meta):
    """Inverse of :func:`meta_2to4_pack`: ``int16``/``int32`` words -> ``indices[rows, K//2]``."""
    meta = np.asarray(meta)
    if meta.dtype not in (np.int16, np.int32):
        raise TypeError(f"2:4 metadata must be int16 or int32 words, not {meta.dtype}")
    if meta.ndim != 2:
        raise ValueError(f"2:4 metadata must be 2-D, not shape {meta.shape}")
    q = meta.dtype.itemsize * 2
    u = meta.view(np.uint16 if q == 4 else np.uint32).astype(np.uint64)
    nib = (u[..., None] >> (4 * np.arange(q)).astype(np.uint64)) & np.uint64(0xF)
    nib = nib.reshape(meta.shape[0], -1).astype(np.int64)
    idx = np.stack([nib & 3, nib >> 2], axis=-1).reshape(meta.shape[0], -1)
    return idx


def _cutlass_offsets(rows, ncols, word_bits):
    """Flat destination of each ``[rows, ncols]`` metadata word in CUTLASS's reordered array.

    CUTLASS's sparse GEMM reads metadata as ColumnMajorInterleaved<2> after a row permutation
    (groups of 32 rows for 16-bit words, 16 for 32-bit) and a swap inside every 2x2 block. PyTorch
    applies the same permutation; rows must be a multiple of the group and ``ncols`` even.
    """
    group, interweave = (32, 4) if word_bits == 16 else (16, 2)
    r = np.arange(rows)[:, None].repeat(ncols, axis=1)
    c = np.arange(ncols)[None, :].repeat(rows, axis=0)
    r = r // group * group + (r % 8) * interweave + (r % group) // 8
    swap = ((r % 2 == 0) & (c % 2 == 1)).astype(np.int64) - ((r % 2 == 1) & (c % 2 == 0))
    r, c = r + swap, c - swap
    return ((c // 2) * rows * 2 + r * 2 + c % 2).reshape(-1)


def _check_cutlass_shape(rows, ncols, word_bits):
    group = 32 if word_bits == 16 else 16
    if rows % group:
        raise ValueError(f"PyTorch's 2:4 layout with {word_bits}-bit metadata needs rows to be a "
                         f"multiple of {group}, not {rows}")
    if ncols % 2:
        raise ValueError(f"PyTorch's 2:4 layout needs an even number of metadata words per row "
                         f"(K a multiple of {word_bits * 2}), got {ncols}")


def _cutlass_words(meta):
    """``(meta, its offsets in the stored order)`` of 2-D int16/int32 metadata words, checked."""
    meta = np.asarray(meta)
    if meta.dtype not in (np.int16, np.int32) or meta.ndim != 2:
        raise TypeError(f"metadata must be 2-D int16/int32 words, not {meta.dtype} {meta.shape}")
    bits = meta.dtype.itemsize * 8
    _check_cutlass_shape(*meta.shape, bits)
    return meta, _cutlass_offsets(*meta.shape, bits)


def meta_cutlass_reorder(meta):
    """Permute packed metadata words ``[rows, ncols]`` into PyTorch's/CUTLASS's stored order."""
    meta, offsets = _cutlass_words(meta)
    out = np.empty(meta.size, dtype=meta.dtype)
    out[offsets] = meta.reshape(-1)
    return out.reshape(meta.shape)


def meta_cutlass_unreorder(meta):
    """Inverse of :func:`meta_cutlass_reorder`."""
    meta, offsets = _cutlass_words(meta)
    return meta.reshape(-1)[offsets].reshape(meta.shape)


_VALUE_DTYPES = {"int8": (np.int8, 32), "float16": (np.float16, 16)}


def to_torch_2to4(w, dtype="int8", as_torch=False):
    """``(values, meta)`` exactly as ``sparse_semi_structured_from_dense_cutlass`` returns them.

    Parameters
    ----------
    w : integer array ``[rows, K]``
        Must satisfy 2:4 (``ValueError`` naming row and group otherwise; PyTorch would silently
        drop the excess non-zeros) and fit ``dtype``.
    dtype : ``"int8"`` or ``"float16"``
        PyTorch's value dtype: int8 values come with int32 metadata (rows % 16 == 0, K % 64 == 0),
        float16 with int16 metadata (rows % 32 == 0, K % 32 == 0).
    as_torch : bool
        Return CPU torch tensors instead of NumPy arrays (imports torch).
    """
    if dtype not in _VALUE_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_VALUE_DTYPES)}, not {dtype!r}")
    vdt, word_bits = _VALUE_DTYPES[dtype]
    w = check_int_array(w, bits=8 if dtype == "int8" else 12, name="w")   # float16: exact ints
    values, indices = nm_compress(w, 2, 4)
    meta = meta_2to4_pack(indices, word_bits)
    _check_cutlass_shape(*meta.shape, word_bits)
    values, meta = values.astype(vdt), meta_cutlass_reorder(meta)
    if as_torch:
        import torch
        return torch.from_numpy(values.copy()), torch.from_numpy(meta.copy())
    return values, meta


def from_torch_2to4(values, meta):
    """Dense ``int64[rows, K]`` from PyTorch's 2:4 ``(values, meta)`` pair (NumPy or torch).

    ``TypeError`` for value dtypes other than int8/float16 (PyTorch's float32 path is 1:2 on pairs
    and not supported), or non-integral float16 values.
    """
    def to_np(x):
        if hasattr(x, "detach") and hasattr(x, "cpu"):
            return x.detach().cpu().numpy()
        return np.asarray(x)
    values, meta = to_np(values), to_np(meta)
    if values.dtype == np.int8:
        expect = np.int32
    elif values.dtype == np.float16:
        expect = np.int16
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise TypeError("float16 2:4 values must be whole numbers")
    else:
        raise TypeError(f"2:4 values must be int8 or float16, not {values.dtype}")
    if meta.dtype != expect:
        raise TypeError(f"{values.dtype} values come with {np.dtype(expect)} metadata, not "
                        f"{meta.dtype}")
    if values.ndim != 2 or meta.ndim != 2 or meta.shape[0] != values.shape[0]:
        raise ValueError(f"values {values.shape} and meta {meta.shape} must be 2-D with equal rows")
    q = meta.dtype.itemsize * 2
    if meta.shape[1] * q * 2 != values.shape[1]:
        raise ValueError(f"meta {meta.shape} describes {meta.shape[1] * q * 2} values per row, "
                         f"values have {values.shape[1]}")
    indices = meta_2to4_unpack(meta_cutlass_unreorder(meta))
    pairs = indices.reshape(indices.shape[0], -1, 2)
    if np.any(pairs[..., 0] >= pairs[..., 1]):
        r, g = (int(i) for i in np.argwhere(pairs[..., 0] >= pairs[..., 1])[0])
        raise ValueError(f"row {r}, group {g}: metadata indices {pairs[r, g].tolist()} must "
                         f"satisfy idx0 < idx1")
    return nm_decompress(values.astype(np.int64), indices, 2, 4, values.shape[1] * 2)
