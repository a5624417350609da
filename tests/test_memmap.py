"""hw/sparten/memmap.py: the SparTen layer's memory images, load beats and descriptor.

Every image is decoded here with Amaranth's own views of the hardware layouts
(``layout.from_bits``) and compared with golden/ (SparseMap chunks, the slot table), so a packing
bug, a wrong address or two swapped fields show up without a simulator.
"""

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Shape

from golden.sparsemap import encode_vector
from golden.sparten_model import slot_table
from hw.sparten.config import SMALL
from hw.sparten.cu import chunk_word, counter_layout
from hw.sparten.layer import (TARGET_ACT, TARGET_TABLE, TARGET_WEIGHT, descriptor_layout,
                              load_layout, table_layout)
from hw.sparten.memmap import (chain_loads, chunk_rows, chunks_of_activations, pack_chunk,
                               pack_chunks, pack_desc, pack_loads, plan_layer, unit_counters,
                               unpack_chunk, unpack_chunks)
from hw.sparten.output import chunk_layout as out_chunk_layout

CONFIGS = {"small": SMALL,
           "c16_u3_noperm": dataclasses.replace(SMALL, chunk=16, n_units=3, permute=False)}


def _sparse(rng, shape, d):
    return ((rng.random(shape) < d) * rng.integers(-128, 128, shape)).astype(np.int8)


def _view(layout, word):
    return layout.from_bits(int(word))


def _chunk_of(view, n):
    return int(view.mask), [int(view.values[i]) for i in range(n)]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_activation_image_is_golden_sparsemap(name):
    cfg = CONFIGS[name]
    rng = np.random.default_rng(3)
    a = _sparse(rng, (cfg.chunk + 5, 3, 4), 0.4)          # C not a multiple of the chunk
    C, H, W = a.shape
    nc = -(-C // cfg.chunk)
    words = chunks_of_activations(a, cfg)
    assert len(words) == H * W * nc
    for y in range(H):
        for x in range(W):
            for j, ch in enumerate(encode_vector(a[:, y, x], cfg.chunk)):
                mask, vals = _chunk_of(_view(chunk_word(cfg), words[(y * W + x) * nc + j]),
                                       cfg.chunk)
                assert mask == ch.mask, (y, x, j)
                assert vals == list(ch.values) + [0] * (cfg.chunk - len(ch.values)), (y, x, j)


def test_chunk_packing_round_trips():
    cfg = SMALL
    rng = np.random.default_rng(4)
    rows = _sparse(rng, (50, cfg.chunk), 0.5).astype(np.int64)
    rows[0] = 0                                            # all-zero chunk
    rows[1] = -128                                         # all-ones mask, the extreme value
    words = pack_chunks(rows, cfg)
    back, last = unpack_chunks(words, cfg)
    np.testing.assert_array_equal(back, rows)
    assert last is None
    for row, word in zip(rows, words):
        nz = np.flatnonzero(row)
        assert pack_chunk(sum(1 << int(i) for i in nz), row[nz], cfg) == word
        mask, vals = unpack_chunk(word, cfg)
        assert [int(v) for v in vals] == [int(v) for v in row[nz]]
    # o_chunk beats carry `last` beside the same bits
    flags = np.arange(len(rows)) % 3 == 2
    beats = pack_chunks(rows, cfg, last=flags)
    back, last = unpack_chunks(beats, cfg, out_chunk_layout(cfg))
    np.testing.assert_array_equal(back, rows)
    np.testing.assert_array_equal(last, flags)
    assert [int(_view(out_chunk_layout(cfg), b).last) for b in beats] == list(flags.astype(int))
    bad = pack_chunk(0b1, [5], cfg) | pack_chunk(0, [0, 7], cfg)     # a value past the popcount
    with pytest.raises(ValueError, match="unused slot 1"):
        unpack_chunk(bad, cfg)
    with pytest.raises(ValueError, match="unused slot"):
        unpack_chunks([bad], cfg)


def test_stored_chunk_is_the_output_chunk_without_last():
    """An output chunk is written unchanged into the next layer's activation memory."""
    for cfg in CONFIGS.values():
        word, out = chunk_word(cfg), out_chunk_layout(cfg)
        assert [(k, f.offset, Shape.cast(f.shape)) for k, f in word] == \
            [(k, f.offset, Shape.cast(f.shape)) for k, f in out if k != "last"]


def test_load_beats_and_descriptor_match_const():
    cfg = SMALL
    lay = load_layout(cfg)
    loads = [(TARGET_ACT, 0, 5, 123456), (TARGET_WEIGHT, 3, 17, (1 << 72) - 1),
             (TARGET_TABLE, 0, 2, 9)]
    assert pack_loads(cfg, loads) == [
        lay.const({"target": t, "unit": u, "addr": a,
                   "data": chunk_word(cfg).from_bits(d)}).as_bits()
        for t, u, a, d in loads]
    with pytest.raises(ValueError, match=r"load beat.unit=4 does not fit 0..3"):
        pack_loads(cfg, [(TARGET_WEIGHT, 4, 0, 0)])
    plan = plan_layer(np.ones((2, 3, 3, 3), np.int8), np.ones((3, 4, 4), np.int8), cfg, 1, 1,
                      relu=True, sparse_out=True, multiplier=77, shift=5)
    view = _view(descriptor_layout(cfg), pack_desc(cfg, plan.desc))
    for name, v in plan.desc.items():
        assert int(getattr(view, name)) == v, name
    assert int(view.base0) < 0                                  # the signed field survives
    with pytest.raises(ValueError, match=r"layer descriptor.shift=99 does not fit"):
        pack_desc(cfg, {**plan.desc, "shift": 99})
    with pytest.raises(ValueError, match="lacks field 'relu'"):
        pack_desc(cfg, {k: v for k, v in plan.desc.items() if k != "relu"})


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_filter_banks_and_channel_table(name):
    """Unit u, round q holds the filter of slot q*n+u; the table sends channel k to its slot."""
    cfg = CONFIGS[name]
    rng = np.random.default_rng(5)
    K, C, R, S = 7, 11, 3, 2
    w = _sparse(rng, (K, C, R, S), 0.5)
    a = _sparse(rng, (C, 5, 4), 0.5)
    perm = rng.permutation(K) if cfg.permute else None
    plan = plan_layer(w, a, cfg, 1, 1, table=perm)
    n, nc = cfg.n_units, -(-C // cfg.chunk)
    np.testing.assert_array_equal(plan.table, slot_table(K, n, perm))
    P = plan.desc["P"]
    banks, table = {}, {}
    for target, unit, addr, word in plan.loads:
        if target == TARGET_WEIGHT:
            banks[unit, addr] = word
        elif target == TARGET_TABLE:
            t = _view(table_layout(cfg), word)
            table[addr] = (int(t.unit), int(t.base))
    for slot, k in enumerate(plan.table):
        q, u = divmod(slot, n)
        for r in range(R):
            for s in range(S):
                vec = w[k, :, r, s] if k >= 0 else np.zeros(C, np.int8)
                for j, ch in enumerate(encode_vector(vec, cfg.chunk)):
                    addr = q * R * S * nc + (r * S + s) * nc + j
                    mask, vals = _chunk_of(_view(chunk_word(cfg), banks[u, addr]), cfg.chunk)
                    assert mask == ch.mask and vals[:len(ch.values)] == list(ch.values), \
                        (slot, r, s, j)
        if cfg.permute and k >= 0:
            assert table[int(k)] == (u, q * P), (slot, k)
    assert bool(table) == cfg.permute


def test_chain_loads_write_output_chunks_in_order():
    cfg = SMALL
    rng = np.random.default_rng(6)
    rows = _sparse(rng, (9, cfg.chunk), 0.5)
    beats = pack_chunks(rows, cfg, last=np.arange(9) % 2)
    loads = chain_loads(cfg, beats)
    words = pack_chunks(rows, cfg)
    for i, beat in enumerate(loads):
        v = _view(load_layout(cfg), beat)
        assert (int(v.target), int(v.addr)) == (TARGET_ACT, i)
        assert v.data.as_bits() == words[i]


def test_unit_counters_by_name():
    v = counter_layout().const({"busy": 11, "matched": 22, "stall": 33}).as_bits()
    assert unit_counters(SMALL, v) == [11, 22, 33]


def test_chunk_rows_pad_the_last_chunk():
    rows = chunk_rows(np.arange(1, 11).reshape(1, 10), SMALL)
    assert rows.shape == (2, 8)
    assert list(rows[1]) == [9, 10, 0, 0, 0, 0, 0, 0]
