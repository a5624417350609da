"""Host-side packing of ``amaranth.lib.data`` layouts: the one place where bits are placed.

Testbenches, drivers and memory-image builders of every engine turn field values into the integer
of a hardware layout and back. Offsets and widths always come from the layout itself
(``Field.offset``, ``Shape.width``), so a layout changed in the hardware changes the host side with
it, and no field position is written by hand anywhere else.

:func:`layout_leaves`
    Every scalar field of a layout with its bit offset and shape.
:class:`Packer`
    Pack one record (a mapping of field values, nested for nested layouts) into an integer with
    range checks that name the field; unpack an integer into field values (signed fields decoded).
    Built once per layout and reused: building costs more than packing one record.
:func:`pack_fields` / :func:`unpack_fields`
    The same for ``count`` records at once (NumPy, one bit matrix): long streams and memory images.

``layout.const(...)`` / ``layout.from_bits(...)`` give the same bits (the tests check it) but are
too slow for the tens of thousands of beats of a paper-sized layer.
"""

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["layout_leaves", "field_range", "Packer", "pack_fields", "unpack_fields"]


def layout_leaves(layout, prefix=(), base=0):
    """Every scalar field of a ``lib.data`` layout: ``[(path, offset, width), ...]``.

    ``path`` is the tuple of keys from the outer layout in (names of struct fields, indices of
    array elements); offsets come from the layout (``Field.offset``).
    """
    return [(path, off, Shape.cast(shape).width)
            for path, off, shape in _leaves(layout, prefix, base)]


def _leaves(layout, prefix=(), base=0):
    out = []
    for key, field in layout:
        if isinstance(field.shape, data.Layout):
            out += _leaves(field.shape, (*prefix, key), base + field.offset)
        else:
            out.append(((*prefix, key), base + field.offset, Shape.cast(field.shape)))
    return out


def field_range(shape):
    """``(lo, hi)``: the values a scalar field of ``shape`` holds (two's complement if signed)."""
    shape = Shape.cast(shape)
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


def _path_name(what, path):
    name = what
    for key in path:
        name += f"[{key}]" if isinstance(key, int) else f".{key}"
    return name


class Packer:
    """Pack and unpack records of one ``lib.data`` layout.

    Parameters
    ----------
    layout : lib.data.Layout
    what : str
        Name of the record in error messages (e.g. ``"load beat"``).

    A field whose shape is itself a layout takes either a mapping / sequence of its fields (packed
    recursively) or a non-negative integer: its bits as already packed (e.g. a memory word that is
    the data of a load beat). Missing fields are zero. Values outside a field's range raise
    ``ValueError`` naming the field, the value and the range.
    """

    def __init__(self, layout, what="record"):
        self.layout = layout
        self.what = what
        self.width = Shape.cast(layout).width
        self._fields = []
        for key, field in layout:
            sub = Packer(field.shape, _path_name(what, (key,))) \
                if isinstance(field.shape, data.Layout) else None
            lo, hi = field_range(field.shape) if sub is None else (0, (1 << field.width) - 1)
            self._fields.append((key, field.offset, field.width, lo, hi, sub))
        self._by_key = {f[0]: f for f in self._fields}

    def pack(self, record=None, /, **fields):
        """The integer of one record: ``record`` (a mapping, or a sequence for an array layout)
        and/or keyword fields (which win over the same keys of ``record``)."""
        if record is None:
            values = fields
        elif fields:
            values = {**record, **fields}
        else:
            values = record
        if isinstance(self.layout, data.ArrayLayout):
            if isinstance(values, dict):
                raise TypeError(f"{self.what}: an array takes a sequence, not a mapping")
            if len(values) > self.layout.length:
                raise ValueError(f"{self.what}: {len(values)} elements, the array holds "
                                 f"{self.layout.length}")
            items = enumerate(values)
        else:
            unknown = [k for k in values if k not in self._by_key]
            if unknown:
                raise ValueError(f"{self.what}: no field {unknown[0]!r} "
                                 f"(fields: {', '.join(map(str, self._by_key))})")
            items = values.items()
        word = 0
        for key, v in items:
            _, off, width, lo, hi, sub = self._by_key[key]
            if sub is not None and not isinstance(v, (int, np.integer)):
                v = sub.pack(v)
            v = int(v)
            if not lo <= v <= hi:
                raise ValueError(f"{_path_name(self.what, (key,))}={v} does not fit {lo}..{hi}")
            word |= (v & ((1 << width) - 1)) << off
        return word

    def pack_rows(self, keys, rows):
        """:meth:`pack` of many records given as tuples of top-level field values in the order of
        ``keys`` (a sub-layout's value as its raw bits): the fast path for long streams."""
        spec = [(k, *self._by_key[k][1:5], (1 << self._by_key[k][2]) - 1) for k in keys]
        out = []
        for row in rows:
            word = 0
            for (key, off, width, lo, hi, mask), v in zip(spec, row):
                v = int(v)
                if not lo <= v <= hi:
                    raise ValueError(f"{_path_name(self.what, (key,))}={v} does not fit {lo}..{hi}")
                word |= (v & mask) << off
            out.append(word)
        return out

    def unpack(self, word, nested=True):
        """Field values of the integer ``word``: a dict (a list for an array layout), signed fields
        decoded; with ``nested=False`` sub-layouts stay integers (their raw bits)."""
        word = int(word)
        if not 0 <= word < (1 << self.width):
            raise ValueError(f"{self.what}: {word:#x} does not fit {self.width} bits")
        out = {}
        for key, off, width, lo, hi, sub in self._fields:
            v = (word >> off) & ((1 << width) - 1)
            if sub is not None:
                if nested:
                    v = sub.unpack(v)
            elif lo < 0 and v > hi:
                v -= 1 << width
            out[key] = v
        if isinstance(self.layout, data.ArrayLayout):
            return [out[i] for i in range(self.layout.length)]
        return out

    def get(self, word, key):
        """One top-level field of ``word`` (signed decoded; a sub-layout as its raw bits)."""
        if key not in self._by_key:
            raise KeyError(f"{self.what}: no field {key!r}")
        _, off, width, lo, hi, sub = self._by_key[key]
        v = (int(word) >> off) & ((1 << width) - 1)
        return v - (1 << width) if sub is None and lo < 0 and v > hi else v


def pack_fields(layout, count, value_of, check=False, what="record"):
    """Pack ``count`` records of ``layout`` at once; returns a list of ``count`` ints.

    ``value_of(path)`` gives, per scalar field (a path of :func:`layout_leaves`), either an int
    array ``[count]`` (fields up to 63 bits) or a bit matrix ``[count, width]`` (bit ``j`` of the
    field in column ``j``; for wider fields, e.g. a 128-bit chunk mask). Values are wrapped to
    their width exactly as ``layout.const`` does; with ``check`` an out-of-range value raises
    ``ValueError`` naming the field.
    """
    size = Shape.cast(layout).width
    nbytes = (size + 7) // 8
    bits = np.zeros((count, nbytes * 8), np.uint8)
    for path, off, shape in _leaves(layout):
        width = shape.width
        v = np.asarray(value_of(path))
        if v.ndim == 2:
            if v.shape != (count, width):
                raise ValueError(f"{_path_name(what, path)}: bit matrix of shape {v.shape}, "
                                 f"need {(count, width)}")
            if check and v.size and not np.isin(v, (0, 1)).all():
                raise ValueError(f"{_path_name(what, path)}: a bit matrix holds only 0 and 1")
            bits[:, off:off + width] = v
            continue
        if width > 63:
            raise ValueError(f"{_path_name(what, path)} is {width} bits: give a bit matrix")
        v = v.astype(np.int64)
        if check and v.size:
            lo, hi = field_range(shape)
            bad = (v < lo) | (v > hi)
            if bad.any():
                raise ValueError(f"{_path_name(what, path)}={int(v[bad][0])} does not fit "
                                 f"{lo}..{hi}")
        bits[:, off:off + width] = (v[:, None] >> np.arange(width, dtype=np.int64)) & 1
    raw = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in raw]


def unpack_fields(layout, words, bits=()):
    """Inverse of :func:`pack_fields`: ``{path: array}`` per scalar field of ``layout``, for the
    integers ``words``: ``int64[count]`` (signed decoded) for fields up to 63 bits, a ``uint8``
    bit matrix ``[count, width]`` for wider ones and for the paths listed in ``bits``."""
    size = Shape.cast(layout).width
    nbytes = (size + 7) // 8
    words = [int(w) for w in words]
    for w in words:
        if not 0 <= w < (1 << size):
            raise ValueError(f"{w:#x} does not fit the layout's {size} bits")
    raw = np.frombuffer(b"".join(w.to_bytes(nbytes, "little") for w in words), np.uint8)
    matrix = np.unpackbits(raw.reshape(len(words), nbytes), axis=1, bitorder="little")
    out = {}
    for path, off, shape in _leaves(layout):
        b = matrix[:, off:off + shape.width]
        if shape.width > 63 or path in bits:
            out[path] = b
            continue
        v = (b.astype(np.int64) << np.arange(shape.width, dtype=np.int64)).sum(axis=1)
        if shape.signed:
            v = np.where(v >> (shape.width - 1) & 1, v - (1 << shape.width), v)
        out[path] = v
    return out
