"""hw/common/pack.py: layout packing agrees with Amaranth's own ``layout.const``/``from_bits``."""

import random

import numpy as np
import pytest
from amaranth import signed, unsigned
from amaranth.lib import data

from hw.common.pack import Packer, field_range, layout_leaves, pack_fields, unpack_fields

# A layout with every kind of field: unsigned, signed, a nested struct, an array of signed
# elements and a field wider than 64 bits, at offsets that are not byte aligned.
INNER = data.StructLayout({"flag": 1, "level": signed(5)})
LAYOUT = data.StructLayout({
    "a": unsigned(3),
    "b": signed(7),
    "inner": INNER,
    "vals": data.ArrayLayout(signed(4), 5),
    "wide": unsigned(70),
    "last": 1,
})


def _random_record(r):
    return {"a": r.randrange(8), "b": r.randint(-64, 63),
            "inner": {"flag": r.randrange(2), "level": r.randint(-16, 15)},
            "vals": [r.randint(-8, 7) for _ in range(5)],
            "wide": r.getrandbits(70), "last": r.randrange(2)}


def test_leaves_follow_the_layout():
    leaves = {path: (off, w) for path, off, w in layout_leaves(LAYOUT)}
    assert leaves[("a",)] == (0, 3)
    assert leaves[("b",)] == (LAYOUT["b"].offset, 7)
    assert leaves[("inner", "level")] == (LAYOUT["inner"].offset + INNER["level"].offset, 5)
    assert leaves[("vals", 3)] == (LAYOUT["vals"].offset + 12, 4)
    assert sum(w for _, w in leaves.values()) == LAYOUT.size
    assert field_range(signed(4)) == (-8, 7) and field_range(unsigned(3)) == (0, 7)


def test_packer_matches_const_and_from_bits():
    r = random.Random(1)
    p = Packer(LAYOUT)
    for _ in range(200):
        rec = _random_record(r)
        word = p.pack(rec)
        assert word == LAYOUT.const(rec).as_value().value
        view = LAYOUT.from_bits(word)
        got = p.unpack(word)
        assert got["b"] == int(view.b) and got["inner"]["level"] == int(view.inner.level)
        assert got["vals"] == [int(view.vals[i]) for i in range(5)]
        assert got == rec
        assert p.get(word, "b") == rec["b"] and p.get(word, "wide") == rec["wide"]
        assert p.pack_rows(["wide", "b"], [(rec["wide"], rec["b"])]) == \
            [p.pack(wide=rec["wide"], b=rec["b"])]
        # a sub-layout given as its raw bits packs the same
        assert p.pack(rec, inner=Packer(INNER).pack(rec["inner"])) == word
        assert p.unpack(word, nested=False)["inner"] == Packer(INNER).pack(rec["inner"])


def test_packer_rejects_what_does_not_fit():
    p = Packer(LAYOUT, "test beat")
    with pytest.raises(ValueError, match=r"test beat.b=64 does not fit -64..63"):
        p.pack(b=64)
    with pytest.raises(ValueError, match=r"test beat.a=-1 does not fit 0..7"):
        p.pack(a=-1)
    with pytest.raises(ValueError, match=r"test beat.vals\[2\]=8 does not fit -8..7"):
        p.pack(vals=[0, 0, 8])
    with pytest.raises(ValueError, match=r"test beat.a=8 does not fit 0..7"):
        p.pack_rows(["b", "a"], [(0, 7), (1, 8)])
    with pytest.raises(ValueError, match="6 elements"):
        p.pack(vals=[0] * 6)
    with pytest.raises(ValueError, match="no field 'c'"):
        p.pack(c=1)
    with pytest.raises(ValueError, match="does not fit"):
        p.unpack(1 << LAYOUT.size)
    with pytest.raises(KeyError):
        p.get(0, "nope")


def test_pack_fields_vectorised_equals_packer():
    r = random.Random(2)
    recs = [_random_record(r) for _ in range(64)]
    p = Packer(LAYOUT)

    def value_of(path):
        if path == ("wide",):       # wider than 63 bits: a bit matrix
            return np.array([[(x["wide"] >> j) & 1 for j in range(70)] for x in recs])
        return np.array([_at(x, path) for x in recs])
    words = pack_fields(LAYOUT, len(recs), value_of, check=True)
    assert words == [p.pack(x) for x in recs]
    back = unpack_fields(LAYOUT, words)
    as_bits = unpack_fields(LAYOUT, words, bits=[("a",)])[("a",)]
    np.testing.assert_array_equal(as_bits, [[(x["a"] >> j) & 1 for j in range(3)] for x in recs])
    for path, _, _ in layout_leaves(LAYOUT):
        if path == ("wide",):
            assert [int("".join(map(str, row[::-1])), 2) for row in back[path]] == \
                [x["wide"] for x in recs]
        else:
            np.testing.assert_array_equal(back[path], [_at(x, path) for x in recs], str(path))


def test_pack_fields_checks_when_asked():
    def value_of(path):
        if path == ("wide",):
            return np.zeros((2, 70), np.uint8)
        return np.full(2, 9 if path == ("a",) else 0)
    assert pack_fields(LAYOUT, 2, value_of)[0] == 9 & 7          # wrapped, as const does
    with pytest.raises(ValueError, match=r"record.a=9 does not fit 0..7"):
        pack_fields(LAYOUT, 2, value_of, check=True)
    with pytest.raises(ValueError, match="give a bit matrix"):
        pack_fields(LAYOUT, 2, lambda path: np.zeros(2))


def _at(rec, path):
    for k in path:
        rec = rec[k]
    return rec
