"""golden/sparsemap.py: exact SparseMap round trips, the inner join, and rejection of bad data."""

import numpy as np
import pytest

from golden.sparsemap import (Chunk, SparseMap, check_chunk, check_int_array, compact,
                              decode_vector, encode_activations, encode_filters, encode_vector,
                              inner_join, mask_of, popcount, prefix_offsets)

CHUNKS = [8, 16, 32, 64, 128, 256]


def sparse_ints(rng, shape, density, bits=8):
    lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
    x = rng.integers(lo, hi, size=shape)
    x[x == 0] = 1                                   # density is then exactly the keep fraction
    return np.where(rng.random(shape) < density, x, 0)


def check_map_layout(sm, dense):
    """Every chunk holds exactly the channels it claims, channel-innermost, mask bit i = element i."""
    c = sm.channels
    for idx, vec in sm.vectors():
        col = dense[(slice(None), *idx)] if sm.kind == "activations" else dense[idx[0], :, idx[1], idx[2]]
        assert len(vec) == -(-c // sm.chunk)
        for j, ch in enumerate(vec):
            part = np.zeros(sm.chunk, dtype=np.int64)
            seg = col[j * sm.chunk:(j + 1) * sm.chunk]
            part[:len(seg)] = seg
            assert ch.mask == sum(1 << i for i in range(sm.chunk) if part[i] != 0)
            np.testing.assert_array_equal(ch.values, part[part != 0])


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
def test_activation_round_trip(seed, chunk, density):
    rng = np.random.default_rng([seed, chunk, int(density * 10)])
    c = chunk + chunk // 2 + 3                      # not a multiple of chunk: partial last chunk
    a = sparse_ints(rng, (c, 3, 2), density)
    sm = encode_activations(a, chunk)
    assert sm.shape == (c, 3, 2) and sm.n_chunks_per_vector == 2 and sm.kind == "activations"
    check_map_layout(sm, a)
    out = sm.decode()
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, a)
    assert sm.nnz() == np.count_nonzero(a)
    assert sm.density() == pytest.approx(np.count_nonzero(a) / a.size)
    if density in (0.0, 1.0):
        assert sm.density() == density


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("density", [0.0, 0.5, 1.0])
def test_filter_round_trip(seed, chunk, density):
    rng = np.random.default_rng([seed, chunk, int(density * 10), 1])
    c = 2 * chunk - 5
    w = sparse_ints(rng, (2, c, 2, 3), density)
    sm = encode_filters(w, chunk)
    assert sm.shape == (2, c, 2, 3) and sm.n_chunks_per_vector == 2 and sm.kind == "filters"
    assert len(sm.chunks) == 2 and len(sm.chunks[0]) == 2 and len(sm.chunks[0][0]) == 3
    check_map_layout(sm, w)
    np.testing.assert_array_equal(sm.decode(), w)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_exact_multiple_and_single_nonzero(chunk):
    a = np.zeros((chunk, 2, 2), dtype=np.int64)
    a[chunk - 1, 1, 0] = -128                       # the top bit of the mask, the extreme value
    sm = encode_activations(a, chunk)
    assert sm.n_chunks_per_vector == 1
    ch = sm.chunks[1][0][0]
    assert ch.mask == 1 << (chunk - 1) and list(ch.values) == [-128]
    assert all(c.mask == 0 and len(c.values) == 0
               for (y, x), v in sm.vectors() if (y, x) != (1, 0) for c in v)
    np.testing.assert_array_equal(sm.decode(), a)


def test_channel_count_smaller_than_chunk():
    a = np.arange(1, 4).reshape(3, 1, 1)
    sm = encode_activations(a, 256)
    assert sm.chunks[0][0][0].mask == 0b111
    np.testing.assert_array_equal(sm.decode(), a)


def test_wider_values_and_unsigned():
    a = np.array([[[40000]], [[-3]]])
    np.testing.assert_array_equal(encode_activations(a, 8, bits=17).decode(), a)
    u = np.array([[[255]], [[0]]])
    np.testing.assert_array_equal(encode_activations(u, 8, bits=8, signed=False).decode(), u)
    with pytest.raises(ValueError, match="40000"):
        encode_activations(a, 8)


@pytest.mark.parametrize("chunk", [8, 64, 256])
def test_vector_round_trip(seed, chunk):
    rng = np.random.default_rng([seed, chunk, 2])
    for length in (1, chunk - 1, chunk, chunk + 1, 3 * chunk + 7):
        v = sparse_ints(rng, (length,), 0.4)
        chunks = encode_vector(v, chunk)
        assert len(chunks) == -(-length // chunk)
        np.testing.assert_array_equal(decode_vector(chunks, length), v)
        for c in chunks:
            np.testing.assert_array_equal(Chunk(c.mask, c.values, chunk).dense(),
                                          np.concatenate([v, np.zeros(chunk, int)])[
                                              chunks.index(c) * chunk:][:chunk])


def test_compact_is_the_encoder(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        v = sparse_ints(rng, (32,), rng.random())
        mask, values = compact(v)
        [ch] = encode_vector(v, 32)
        assert mask == ch.mask == mask_of(v)
        np.testing.assert_array_equal(values, ch.values)


def test_popcount_and_prefix_offsets():
    assert popcount(0) == 0 and popcount(0b1011) == 3 and popcount((1 << 256) - 1) == 256
    assert prefix_offsets(0b10110, 8) == [0, 0, 1, 2, 2, 3, 3, 3]
    assert prefix_offsets(0, 8) == [0] * 8
    assert prefix_offsets((1 << 8) - 1, 8) == list(range(8))
    with pytest.raises(ValueError, match="negative"):
        popcount(-1)
    with pytest.raises(ValueError, match="bits at or above chunk=8"):
        prefix_offsets(1 << 8, 8)


def test_inner_join_hand_case():
    # positions:      a = {1, 2, 4, 7}, b = {0, 2, 3, 7}; matches at 2 and 7
    a, b = 0b10010110, 0b10001101
    assert inner_join(a, b, 8) == [(2, 1, 1), (7, 3, 3)]
    assert inner_join(0, b, 8) == []
    assert inner_join(0xFF, 0xFF, 8) == [(i, i, i) for i in range(8)]
    assert inner_join(1 << 255, (1 << 256) - 1, 256) == [(255, 0, 255)]


def test_inner_join_gives_the_dot_product(seed):
    rng = np.random.default_rng(seed)
    for chunk in CHUNKS:
        for _ in range(10):
            x, y = (sparse_ints(rng, (chunk,), rng.random()) for _ in range(2))
            [cx], [cy] = encode_vector(x, chunk), encode_vector(y, chunk)
            matches = inner_join(cx.mask, cy.mask, chunk)
            assert [p for p, _, _ in matches] == list(np.flatnonzero((x != 0) & (y != 0)))
            assert sum(int(cx.values[i]) * int(cy.values[j]) for _, i, j in matches) == int(x @ y)


# ---- bad data ----------------------------------------------------------------------------------

def test_check_int_array():
    out = check_int_array(np.array([-128, 127], dtype=np.int8))
    assert out.dtype == np.int64
    with pytest.raises(ValueError, match=r"values\[1\] = 128 does not fit signed 8-bit"):
        check_int_array([0, 128])
    with pytest.raises(ValueError, match=r"-129"):
        check_int_array([-129])
    with pytest.raises(ValueError, match=r"acts\[0, 1\] = -1 does not fit unsigned 4-bit"):
        check_int_array([[0, -1]], bits=4, signed=False, name="acts")
    with pytest.raises(TypeError, match="integer array, not dtype float64"):
        check_int_array(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="bool"):
        check_int_array(np.array([True]))
    with pytest.raises(ValueError, match="does not fit int64"):
        check_int_array(np.array([2 ** 64 - 1], dtype=np.uint64), bits=None)


@pytest.mark.parametrize("bad", [0, 4, 7, 12, 100, 512, -8, 8.0, "8", True])
def test_chunk_not_a_power_of_two_in_range(bad):
    with pytest.raises(ValueError, match="power of two in 8..256"):
        check_chunk(bad)
    with pytest.raises(ValueError, match="power of two in 8..256"):
        encode_activations(np.ones((2, 1, 1), dtype=int), bad)


def test_chunk_validate():
    Chunk(0b101, np.array([3, -4]), 8).validate()
    with pytest.raises(ValueError, match="popcount 2 but the chunk holds 1 value"):
        Chunk(0b101, np.array([3]), 8).validate()
    with pytest.raises(ValueError, match="popcount 1 but the chunk holds 2"):
        Chunk(0b100, np.array([3, 4]), 8).dense()
    with pytest.raises(ValueError, match="non-zero"):
        Chunk(0b11, np.array([3, 0]), 8).validate()
    with pytest.raises(ValueError, match="bits at or above chunk=8"):
        Chunk(1 << 8, np.array([3]), 8).validate()
    with pytest.raises(TypeError, match="integer array"):
        Chunk(0b1, np.array([1.5]), 8).validate()
    with pytest.raises(ValueError, match="does not fit signed 8-bit"):
        Chunk(0b1, np.array([200]), 8).validate(bits=8)
    with pytest.raises(ValueError, match="power of two"):
        Chunk(0b1, np.array([1]), 24).validate()


def test_decode_vector_rejects_bad_input():
    chunks = encode_vector(np.arange(1, 11), 8)
    with pytest.raises(ValueError, match="length 20 needs 3 chunk"):
        decode_vector(chunks, 20)
    with pytest.raises(ValueError, match="padding position 9"):
        decode_vector(chunks, 9)
    with pytest.raises(ValueError, match="chunk 1 has chunk=16"):
        decode_vector([chunks[0], Chunk(1, np.array([1]), 16)], 10)
    with pytest.raises(ValueError, match="popcount"):
        decode_vector([chunks[0], Chunk(0b11, np.array([1]), 8)], 10)


def test_sparsemap_validate_rejects_tampering():
    a = np.arange(1, 11).reshape(10, 1, 1)
    sm = encode_activations(a, 8)
    bad = SparseMap(sm.shape, 8, [[[sm.chunks[0][0][0], Chunk(0b111, np.array([9, 10, 1]), 8)]]])
    with pytest.raises(ValueError, match="padding past channel 10"):
        bad.decode()
    bad = SparseMap(sm.shape, 8, [[[sm.chunks[0][0][0]]]])
    with pytest.raises(ValueError, match=r"vector \(0, 0\) has 1 chunk"):
        bad.validate()
    bad = SparseMap((10, 2, 1), 8, sm.chunks)
    with pytest.raises(ValueError, match="has length 1, expected 2"):
        bad.validate()
    bad = SparseMap(sm.shape, 8, [[[sm.chunks[0][0][0], Chunk(0b11, np.array([9]), 8)]]])
    with pytest.raises(ValueError, match="popcount 2 but the chunk holds 1"):
        bad.decode()
    bad = SparseMap(sm.shape, 8, [[[sm.chunks[0][0][0], Chunk(0b11, np.array([9, 300]), 8)]]])
    with pytest.raises(ValueError, match="300"):
        bad.decode()


@pytest.mark.parametrize("shape", [(4,), (2, 3), (1, 2, 3, 4), (0, 2, 2)])
def test_activation_rank_and_shape(shape):
    with pytest.raises(ValueError, match=r"\[C,H,W\]"):
        encode_activations(np.ones(shape, dtype=int), 8)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), (1, 2, 3, 4, 5), (2, 0, 1, 1)])
def test_filter_rank_and_shape(shape):
    with pytest.raises(ValueError, match=r"\[K,C,R,S\]"):
        encode_filters(np.ones(shape, dtype=int), 8)


def test_encoders_reject_floats_and_wide_values():
    with pytest.raises(TypeError, match="activations must be an integer array"):
        encode_activations(np.ones((2, 2, 2)), 8)
    with pytest.raises(ValueError, match=r"filters\[0, 1, 0, 0\] = 128 does not fit"):
        encode_filters(np.array([0, 128]).reshape(1, 2, 1, 1), 8)
    with pytest.raises(ValueError, match="does not fit"):
        encode_vector([0, -129], 8)


def test_equality():
    a = np.arange(-4, 4).reshape(2, 2, 2)
    assert encode_activations(a, 8) == encode_activations(a.copy(), 8)
    assert encode_activations(a, 8) != encode_activations(a + (a == 3), 8)
