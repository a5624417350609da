"""SparseMap: SparTen's two-sided bitmask format, exact and validated.

A tensor is linearised **channel-innermost** (activations ``[y][x][c]``, filters ``[k][r][s][c]``)
and every channel vector is cut into chunks of ``chunk`` elements (a power of two in 8..256). A
chunk is a ``chunk``-bit mask (bit ``i`` set iff element ``i`` is non-zero) plus the non-zero values
packed in position order. When the channel count is not a multiple of ``chunk`` the last chunk of
every vector is zero-padded, so padding never shows up in the mask.

The encoder follows the hardware's output path (zero-detect -> mask -> exclusive prefix sum ->
compaction, see :func:`compact`) so that the RTL encoder can be compared with it step by step.

Everything here is exact: values are ``int64`` inside, masks are Python ints (up to 256 bits, which
no NumPy integer holds). Bad data raises ``ValueError``/``TypeError`` naming the problem; nothing is
truncated or wrapped.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CHUNK_MIN", "CHUNK_MAX",
    "check_int_array", "check_chunk", "popcount", "prefix_offsets", "mask_of", "compact",
    "Chunk", "encode_vector", "decode_vector", "inner_join",
    "SparseMap", "encode_activations", "encode_filters",
]

CHUNK_MIN = 8
CHUNK_MAX = 256


def _int_range(bits, signed):
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def check_int_array(x, bits=8, signed=True, name="values"):
    """Return ``x`` as a new ``int64`` array after checking it holds integers of the given width.

    Parameters
    ----------
    x : array_like
        Integer data (NumPy array, nested lists, CPU torch tensor). Floats, booleans and objects are
        refused even when they hold whole numbers, so that a float pipeline cannot leak in unseen.
    bits : int or None
        Width of the values; ``None`` accepts every ``int64`` value.
    signed : bool
        Two's complement (``-2**(bits-1) .. 2**(bits-1)-1``) or unsigned (``0 .. 2**bits-1``).
    name : str
        Used in error messages.

    Raises
    ------
    TypeError
        If ``x`` is not an integer array.
    ValueError
        If a value is outside the range of the width; the message gives the first offending index.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):   # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, not dtype {arr.dtype}")
    if bits is not None:
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 64:
            raise ValueError(f"{name}: bits must be an int in 1..64, not {bits!r}")
        lo, hi = _int_range(int(bits), signed)
    else:
        lo, hi = -(1 << 63), (1 << 63) - 1
    if arr.size:
        # Compare as Python ints: uint64 values above int64's range must not wrap on conversion.
        amin, amax = int(arr.min()), int(arr.max())
        if amin < lo or amax > hi:
            bad = np.argwhere((arr < lo) | (arr > hi)) if arr.ndim else [()]
            idx = tuple(int(i) for i in bad[0])
            kind = f"{'signed' if signed else 'unsigned'} {bits}-bit" if bits is not None else "int64"
            raise ValueError(f"{name}[{', '.join(map(str, idx))}] = {int(arr[idx])} does not fit "
                             f"{kind} ({lo}..{hi})")
    return arr.astype(np.int64, copy=True)


def check_chunk(chunk):
    """Return ``chunk`` as an int; ``ValueError`` unless it is a power of two in 8..256."""
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)):
        raise ValueError(f"chunk must be a power of two in {CHUNK_MIN}..{CHUNK_MAX}, not {chunk!r}")
    chunk = int(chunk)
    if not CHUNK_MIN <= chunk <= CHUNK_MAX or chunk & (chunk - 1):
        raise ValueError(f"chunk must be a power of two in {CHUNK_MIN}..{CHUNK_MAX}, not {chunk!r}")
    return chunk


def popcount(x):
    """Number of set bits of a non-negative Python int."""
    x = int(x)
    if x < 0:
        raise ValueError(f"popcount of a negative mask {x!r}")
    return bin(x).count("1")


def prefix_offsets(mask, chunk):
    """Exclusive prefix popcounts of ``mask``: element ``i`` is ``popcount(mask & ((1 << i) - 1))``.

    For a set bit ``i`` this is where element ``i`` sits in the packed value array.
    """
    chunk = check_chunk(chunk)
    _check_mask(mask, chunk)
    out, count = [], 0
    for i in range(chunk):
        out.append(count)
        count += (mask >> i) & 1
    return out


def mask_of(vec):
    """Bit mask (Python int) of the non-zero elements of a 1-D array, bit ``i`` for element ``i``."""
    nz = np.asarray(vec) != 0
    return int.from_bytes(np.packbits(nz, bitorder="little").tobytes(), "little")


def compact(vec):
    """Hardware-order encoding of one dense chunk: zero-detect, mask, exclusive prefix, compaction.

    Returns ``(mask, values)``; ``values[prefix[i]] = vec[i]`` for every set bit ``i``.
    """
    vec = np.asarray(vec, dtype=np.int64)
    nz = vec != 0
    prefix = np.cumsum(nz) - nz                     # exclusive prefix sum of the zero-detect bits
    values = np.zeros(int(nz.sum()), dtype=np.int64)
    values[prefix[nz]] = vec[nz]
    return mask_of(nz), values


def _check_mask(mask, chunk):
    if isinstance(mask, bool) or not isinstance(mask, (int, np.integer)):
        raise TypeError(f"mask must be an int, not {type(mask).__name__}")
    mask = int(mask)
    if mask < 0:
        raise ValueError(f"mask must be non-negative, not {mask:#x}")
    if mask >> chunk:
        raise ValueError(f"mask {mask:#x} has bits at or above chunk={chunk}")
    return mask


@dataclass(frozen=True, eq=False)
class Chunk:
    """One SparseMap chunk.

    Members
    -------
    mask : int
        ``chunk``-bit mask, bit ``i`` set iff element ``i`` is non-zero.
    values : np.ndarray
        The non-zero values (``int64``) in position order; ``len(values) == popcount(mask)``.
    chunk : int
        Chunk length (power of two in 8..256).
    """

    mask: int
    values: np.ndarray
    chunk: int

    def validate(self, bits=None, signed=True):
        """Raise ``ValueError``/``TypeError`` unless the chunk is well formed (returns ``self``).

        Checks: chunk a power of two in 8..256, mask an int without bits at or above ``chunk``,
        ``popcount(mask) == len(values)``, no packed value is zero, and (if ``bits``) every value
        fits the width.
        """
        chunk = check_chunk(self.chunk)
        mask = _check_mask(self.mask, chunk)
        values = np.asarray(self.values)
        if values.ndim != 1:
            raise ValueError(f"chunk values must be 1-D, not shape {values.shape}")
        check_int_array(values, bits=bits, signed=signed, name="chunk values")
        n = popcount(mask)
        if n != len(values):
            raise ValueError(f"mask {mask:#x} has popcount {n} but the chunk holds {len(values)} "
                             f"value(s)")
        if np.any(values == 0):
            raise ValueError(f"chunk values must all be non-zero (position "
                             f"{int(np.flatnonzero(values == 0)[0])} of the packed array is 0)")
        return self

    def dense(self):
        """The chunk as a dense ``int64`` vector of length ``chunk``."""
        self.validate()
        out = np.zeros(self.chunk, dtype=np.int64)
        bits = np.unpackbits(np.frombuffer(self.mask.to_bytes(self.chunk // 8, "little"),
                                           dtype=np.uint8), bitorder="little").astype(bool)
        out[bits] = self.values
        return out

    @property
    def nnz(self):
        return len(self.values)

    def __eq__(self, other):
        if not isinstance(other, Chunk):
            return NotImplemented
        return (self.mask == other.mask and self.chunk == other.chunk
                and np.array_equal(self.values, other.values))

    __hash__ = None

    def __repr__(self):
        return f"Chunk(mask={self.mask:#0{self.chunk // 4 + 2}x}, values={list(map(int, self.values))}, chunk={self.chunk})"


def _encode_rows(rows, chunk):
    """Encode a 2-D ``[n_vectors, padded_length]`` int64 array into lists of chunks (fast path)."""
    n_vec, length = rows.shape
    n_chunks = length // chunk
    blocks = rows.reshape(n_vec, n_chunks, chunk)
    nz = blocks != 0
    packed = np.packbits(nz, axis=-1, bitorder="little")          # [n_vec, n_chunks, chunk/8]
    counts = nz.sum(axis=-1)
    flat_vals = blocks[nz]                                       # position order, chunk by chunk
    ends = np.cumsum(counts.ravel())
    starts = ends - counts.ravel()
    out = []
    i = 0
    for v in range(n_vec):
        row = []
        for j in range(n_chunks):
            mask = int.from_bytes(packed[v, j].tobytes(), "little")
            row.append(Chunk(mask, flat_vals[starts[i]:ends[i]].copy(), chunk))
            i += 1
        out.append(row)
    return out


def _pad_channels(x, chunk):
    """Pad the last axis of ``x`` with zeros up to a multiple of ``chunk``."""
    c = x.shape[-1]
    n_chunks = -(-c // chunk)
    if n_chunks * chunk == c:
        return x
    pad = [(0, 0)] * (x.ndim - 1) + [(0, n_chunks * chunk - c)]
    return np.pad(x, pad)


def encode_vector(vec, chunk, bits=8, signed=True):
    """Encode a 1-D integer vector into ``ceil(len / chunk)`` chunks, the last one zero-padded."""
    chunk = check_chunk(chunk)
    vec = check_int_array(vec, bits=bits, signed=signed, name="vector")
    if vec.ndim != 1:
        raise ValueError(f"encode_vector needs a 1-D vector, not shape {vec.shape}")
    if vec.size == 0:
        raise ValueError("encode_vector needs at least one element")
    return _encode_rows(_pad_channels(vec, chunk)[None, :], chunk)[0]


def decode_vector(chunks, length):
    """Decode a list of chunks back to a dense ``int64`` vector of ``length`` elements.

    Raises ``ValueError`` if a chunk is malformed, chunk sizes differ, ``length`` does not need
    exactly ``len(chunks)`` chunks, or a padding position past ``length`` is non-zero.
    """
    chunks = list(chunks)
    if not chunks:
        raise ValueError("decode_vector needs at least one chunk")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive int, not {length!r}")
    size = chunks[0].chunk
    for j, c in enumerate(chunks):
        if not isinstance(c, Chunk):
            raise TypeError(f"chunk {j} is a {type(c).__name__}, not a Chunk")
        if c.chunk != size:
            raise ValueError(f"chunk {j} has chunk={c.chunk}, chunk 0 has chunk={size}")
    if -(-length // size) != len(chunks):
        raise ValueError(f"length {length} needs {-(-length // size)} chunk(s) of {size}, "
                         f"got {len(chunks)}")
    dense = np.concatenate([c.dense() for c in chunks])
    if np.any(dense[length:]):
        pos = int(length + np.flatnonzero(dense[length:])[0])
        raise ValueError(f"padding position {pos} (>= length {length}) is non-zero")
    return dense[:length].copy()


def inner_join(mask_a, mask_b, chunk=None):
    """SparTen's inner join of two masks, in the order the hardware produces matches.

    Returns a list of ``(position, offset_a, offset_b)`` for every bit set in ``mask_a & mask_b``,
    lowest position first (priority encoder order); the offsets are the exclusive prefix popcounts
    of each mask below ``position``, i.e. the indices into the two packed value arrays. An empty
    list means no match (the chunk still costs the hardware its fixed overhead).
    """
    if chunk is not None:
        chunk = check_chunk(chunk)
        mask_a, mask_b = _check_mask(mask_a, chunk), _check_mask(mask_b, chunk)
    else:
        mask_a, mask_b = int(mask_a), int(mask_b)
        if mask_a < 0 or mask_b < 0:
            raise ValueError("masks must be non-negative")
    out = []
    m = mask_a & mask_b
    while m:
        low = m & -m
        p = low.bit_length() - 1
        below = low - 1
        out.append((p, popcount(mask_a & below), popcount(mask_b & below)))
        m ^= low
    return out


@dataclass(eq=False)
class SparseMap:
    """A SparseMap-encoded activation ``[C,H,W]`` or filter ``[K,C,R,S]`` tensor.

    Members
    -------
    shape : tuple of int
        The PyTorch shape of the dense tensor (rank 3: activations, rank 4: filters).
    chunk : int
        Chunk length, a power of two in 8..256.
    chunks : nested lists of :class:`Chunk`
        Activations: ``chunks[y][x][j]``; filters: ``chunks[k][r][s][j]``; chunk ``j`` covers
        channels ``j*chunk .. (j+1)*chunk - 1`` (the last one zero-padded past ``C``).
    bits : int
        Value width the tensor was checked against.
    signed : bool
        Whether values are two's complement (``True``) or unsigned.
    """

    shape: tuple
    chunk: int
    chunks: list
    bits: int = 8
    signed: bool = True

    @property
    def kind(self):
        return {3: "activations", 4: "filters"}[len(self.shape)]

    @property
    def channels(self):
        return self.shape[0] if len(self.shape) == 3 else self.shape[1]

    @property
    def n_chunks_per_vector(self):
        return -(-self.channels // self.chunk)

    def vectors(self):
        """Iterate ``(index, list_of_chunks)`` over channel vectors in storage order.

        ``index`` is ``(y, x)`` for activations and ``(k, r, s)`` for filters.
        """
        if self.kind == "activations":
            _, h, w = self.shape
            for y in range(h):
                for x in range(w):
                    yield (y, x), self.chunks[y][x]
        else:
            k, _, r, s = self.shape
            for kk in range(k):
                for rr in range(r):
                    for ss in range(s):
                        yield (kk, rr, ss), self.chunks[kk][rr][ss]

    def validate(self):
        """Raise ``ValueError``/``TypeError`` unless the structure and every chunk is well formed."""
        if len(self.shape) not in (3, 4) or any(
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                for d in self.shape):
            raise ValueError(f"SparseMap shape must be [C,H,W] or [K,C,R,S] of positive ints, "
                             f"not {self.shape!r}")
        check_chunk(self.chunk)
        outer = self.shape[1:] if self.kind == "activations" else (self.shape[0], *self.shape[2:])
        self._check_nesting(self.chunks, outer, ())
        for idx, vec in self.vectors():
            if len(vec) != self.n_chunks_per_vector:
                raise ValueError(f"vector {idx} has {len(vec)} chunk(s), expected "
                                 f"{self.n_chunks_per_vector}")
            for j, c in enumerate(vec):
                if not isinstance(c, Chunk):
                    raise TypeError(f"chunk {idx + (j,)} is a {type(c).__name__}, not a Chunk")
                if c.chunk != self.chunk:
                    raise ValueError(f"chunk {idx + (j,)} has chunk={c.chunk}, map has {self.chunk}")
                c.validate(bits=self.bits, signed=self.signed)
            tail = self.channels - (self.n_chunks_per_vector - 1) * self.chunk
            if vec[-1].mask >> tail:
                raise ValueError(f"chunk {idx + (len(vec) - 1,)} has mask bits in the padding "
                                 f"past channel {self.channels}")
        return self

    @staticmethod
    def _check_nesting(node, dims, where):
        if not dims:
            return
        if len(node) != dims[0]:
            raise ValueError(f"chunks{list(where)} has length {len(node)}, expected {dims[0]}")
        for i, sub in enumerate(node):
            SparseMap._check_nesting(sub, dims[1:], where + (i,))

    def decode(self):
        """The dense ``int64`` tensor in its PyTorch layout (validates first)."""
        self.validate()
        c = self.channels
        if self.kind == "activations":
            _, h, w = self.shape
            out = np.zeros((h, w, c), dtype=np.int64)
        else:
            k, _, r, s = self.shape
            out = np.zeros((k, r, s, c), dtype=np.int64)
        for idx, vec in self.vectors():
            out[idx] = np.concatenate([ch.dense() for ch in vec])[:c]
        return np.moveaxis(out, -1, 0 if self.kind == "activations" else 1).copy()

    def nnz(self):
        """Number of non-zero values stored."""
        return sum(ch.nnz for _, vec in self.vectors() for ch in vec)

    def density(self):
        """Fraction of non-zero elements of the dense tensor (padding not counted)."""
        return self.nnz() / float(np.prod(self.shape))

    def __eq__(self, other):
        if not isinstance(other, SparseMap):
            return NotImplemented
        return (tuple(self.shape) == tuple(other.shape) and self.chunk == other.chunk
                and all(a == b for (_, va), (_, vb) in zip(self.vectors(), other.vectors())
                        for a, b in zip(va, vb)))

    __hash__ = None


def encode_activations(a, chunk, bits=8, signed=True):
    """Encode activations ``a[C,H,W]`` (PyTorch layout) into a :class:`SparseMap`.

    ``chunks[y][x][j]`` holds channels ``j*chunk ..`` of spatial position ``(y, x)``.
    """
    chunk = check_chunk(chunk)
    a = check_int_array(a, bits=bits, signed=signed, name="activations")
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"activations must be a non-empty [C,H,W] array, not shape {a.shape}")
    c, h, w = a.shape
    rows = _pad_channels(np.moveaxis(a, 0, -1).reshape(h * w, c), chunk)
    flat = _encode_rows(rows, chunk)
    chunks = [flat[y * w:(y + 1) * w] for y in range(h)]
    return SparseMap(tuple(int(d) for d in a.shape), chunk, chunks, bits, signed)


def encode_filters(w, chunk, bits=8, signed=True):
    """Encode filters ``w[K,C,R,S]`` (PyTorch layout) into a :class:`SparseMap`.

    ``chunks[k][r][s][j]`` holds channels ``j*chunk ..`` of tap ``(r, s)`` of filter ``k``.
    """
    chunk = check_chunk(chunk)
    w = check_int_array(w, bits=bits, signed=signed, name="filters")
    if w.ndim != 4 or 0 in w.shape:
        raise ValueError(f"filters must be a non-empty [K,C,R,S] array, not shape {w.shape}")
    k, c, r, s = w.shape
    rows = _pad_channels(np.moveaxis(w, 1, -1).reshape(k * r * s, c), chunk)
    flat = _encode_rows(rows, chunk)
    chunks = [[flat[(kk * r + rr) * s:(kk * r + rr + 1) * s] for rr in range(r)] for kk in range(k)]
    return SparseMap(tuple(int(d) for d in w.shape), chunk, chunks, bits, signed)
