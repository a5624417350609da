"""golden/nm.py: N:M compression and 2:4 metadata bit-identical to PyTorch's conversion."""

import itertools

import numpy as np
import pytest
import torch
from torch.sparse import _semi_structured_conversions as tconv

from golden.nm import (MODE_FORMS, MODES, NM_RATIOS, SUPPORTED, check_nm, from_torch_2to4,
                       group_modes, meta_2to4_nibbles, meta_2to4_pack, meta_2to4_unpack,
                       meta_cutlass_reorder, meta_cutlass_unreorder, nm_compress, nm_decompress,
                       parse_mode, to_torch_2to4)

RATIOS = sorted(SUPPORTED, key=lambda r: (r[1], r[0]))
TORCH_DTYPES = {"int8": torch.int8, "float16": torch.float16}


def nm_random(rng, rows, k, n, m, fill=None):
    """Random int8 ``[rows, k]`` satisfying n:m; each group keeps 0..n non-zeros (or ``fill``)."""
    w = rng.integers(-128, 128, size=(rows, k // m, m))
    w[w == 0] = 7
    rank = np.argsort(np.argsort(rng.random(w.shape), axis=-1), axis=-1)   # random permutation
    cnt = rng.integers(0, n + 1, size=(rows, k // m, 1)) if fill is None else fill
    keep = rank < cnt
    return (w * keep).reshape(rows, k)


def all_2to4_groups():
    """Every group pattern with at most two non-zeros (11 patterns), with distinct values."""
    pats = [p for p in itertools.product([0, 1], repeat=4) if sum(p) <= 2]
    assert len(pats) == 11
    return np.array(pats) * np.array([5, -6, 7, -128])


def torch_from_dense(w, dtype):
    return tconv.sparse_semi_structured_from_dense_cutlass(
        torch.from_numpy(np.ascontiguousarray(w)).to(TORCH_DTYPES[dtype]))


def torch_unreordered_meta(meta):
    """PyTorch's metadata words before its CUTLASS reordering, using PyTorch's own offsets."""
    rows, ncols = meta.shape
    offs = tconv._calculate_meta_reordering_scatter_offsets(rows, ncols, meta.dtype, "cpu")
    return torch.gather(meta.reshape(-1), 0, offs).view(rows, ncols).numpy()


def test_supported_ratios_listed():
    # DESIGN.md section 1: at least 1:4, 2:4, 2:8, 4:8; SUPPORTED adds only dense (m, m)
    assert {(1, 4), (2, 4), (2, 8), (4, 8)} <= set(NM_RATIOS)
    assert all(1 <= n < m and not m & (m - 1) for n, m in NM_RATIOS)
    assert len(set(NM_RATIOS)) == len(NM_RATIOS)
    assert SUPPORTED - set(NM_RATIOS) == {(m, m) for _, m in NM_RATIOS}


def test_modes_from_one_list():
    # every mode string group_modes names parses back to a kind of MODES and its ratio
    for g in (1, 2, 4, 8, 16):
        modes = group_modes(g)
        kinds = [parse_mode(m)[0] for m in modes]
        assert set(kinds) <= set(MODES) and {"dense", "suds", "unstructured-nosuds"} <= set(kinds)
        ratios = {parse_mode(m)[1:] for m in modes if parse_mode(m)[0] == "nm"}
        assert ratios == {(n, m) for n, m in NM_RATIOS if g % m == 0}, g
    assert group_modes(4)[:4] == ("dense", "nm:1:4", "nm:2:4", "nm:1:2")
    with pytest.raises(ValueError, match="one of 'dense', 'nm:N:M', 'suds', 'unstructured-nosuds'"):
        parse_mode("sparse")
    assert len(MODE_FORMS) == len(MODES)


@pytest.mark.parametrize("n,m", RATIOS)
def test_round_trip(seed, n, m):
    rng = np.random.default_rng([seed, n, m])
    w = nm_random(rng, 5, 4 * m, n, m)
    values, indices = nm_compress(w, n, m)
    assert values.shape == indices.shape == (5, 4 * n) and values.dtype == indices.dtype == np.int64
    idx = indices.reshape(5, 4, n)
    assert np.all(np.diff(idx, axis=-1) > 0) and idx.min() >= 0 and idx.max() < m
    # every non-zero is kept, every padding value is zero and sits on a zero of w
    g = w.reshape(5, 4, m)
    np.testing.assert_array_equal(values.reshape(5, 4, n), np.take_along_axis(g, idx, -1))
    assert (values != 0).sum() == np.count_nonzero(w)
    np.testing.assert_array_equal(nm_decompress(values, indices, n, m, 4 * m), w)


@pytest.mark.parametrize("n,m", [(1, 4), (2, 8), (4, 8)])
def test_padding_is_lowest_unused_for_other_ratios(n, m):
    w = np.zeros((1, m), dtype=np.int64)
    w[0, m - 1] = 3
    values, indices = nm_compress(w, n, m)
    expect = sorted(([m - 1] + [i for i in range(m - 1)][:n - 1]))
    assert indices[0].tolist() == expect
    assert values[0].tolist() == [3 if i == m - 1 else 0 for i in expect]
    zero_vals, zero_idx = nm_compress(np.zeros((1, m), dtype=np.int64), n, m)
    assert zero_idx[0].tolist() == list(range(n)) and not zero_vals.any()


def test_dense_ratio_is_identity():
    w = np.arange(-8, 8).reshape(2, 8)
    values, indices = nm_compress(w, 8, 8)
    np.testing.assert_array_equal(values, w)
    assert indices.tolist() == [list(range(8))] * 2


# ---- 2:4 against PyTorch -----------------------------------------------------------------------

def test_2to4_padding_matches_torch_on_every_pattern():
    """Our index table equals PyTorch's encoder on all 11 legal patterns (incl. degenerate ones)."""
    groups = all_2to4_groups()                                     # [11, 4]
    # PyTorch needs 16 rows x 64 columns for int8: tile the 11 patterns, each group distinct.
    w = np.resize(groups, (16 * 16, 4)).reshape(16, 64)
    values, meta = to_torch_2to4(w)
    tv, tm = torch_from_dense(w, "int8")
    np.testing.assert_array_equal(values, tv.numpy())
    np.testing.assert_array_equal(meta, tm.numpy())
    # and the table itself, for the record
    _, idx = nm_compress(groups, 2, 4)
    table = {tuple(int(v != 0) for v in g): tuple(i) for g, i in zip(groups, idx.tolist())}
    assert table[(0, 0, 0, 0)] == (2, 3)
    assert table[(1, 0, 0, 0)] == (0, 2)
    assert table[(0, 1, 0, 0)] == (1, 2)
    assert table[(0, 0, 1, 0)] == (2, 3)
    assert table[(0, 0, 0, 1)] == (2, 3)
    assert table[(1, 0, 0, 1)] == (0, 3)


@pytest.mark.parametrize("dtype,rows,k", [("int8", 16, 64), ("int8", 32, 128), ("int8", 48, 192),
                                          ("float16", 32, 32), ("float16", 64, 96)])
@pytest.mark.parametrize("fill", [None, 0, 1, 2])
def test_to_torch_matches_torch(seed, dtype, rows, k, fill):
    rng = np.random.default_rng([seed, rows, k, 9 if fill is None else fill])
    w = nm_random(rng, rows, k, 2, 4, fill)
    values, meta = to_torch_2to4(w, dtype)
    tv, tm = torch_from_dense(w, dtype)
    assert values.dtype == tv.numpy().dtype and meta.dtype == tm.numpy().dtype
    np.testing.assert_array_equal(values, tv.numpy())
    np.testing.assert_array_equal(meta, tm.numpy())
    # word packing before reordering equals PyTorch's, checked with PyTorch's own offsets
    _, indices = nm_compress(w, 2, 4)
    np.testing.assert_array_equal(meta_2to4_pack(indices, tm.dtype.itemsize * 8),
                                  torch_unreordered_meta(tm))
    np.testing.assert_array_equal(meta_cutlass_unreorder(meta), torch_unreordered_meta(tm))
    # both directions of import/export
    np.testing.assert_array_equal(from_torch_2to4(tv, tm), w)
    dense = tconv.sparse_semi_structured_to_dense_cutlass(*to_torch_2to4(w, dtype, as_torch=True))
    np.testing.assert_array_equal(dense.to(torch.int64).numpy(), w)


def test_nibble_and_word_layout_by_hand():
    # groups: (0,1) -> 0b0100, (2,3) -> 0b1110, (0,3) -> 0b1100, (1,2) -> 0b1001
    indices = np.array([[0, 1, 2, 3, 0, 3, 1, 2]])
    assert meta_2to4_nibbles(indices).tolist() == [[0x4, 0xE, 0xC, 0x9]]
    word = meta_2to4_pack(indices, 16)
    assert word.dtype == np.int16 and word.view(np.uint16).tolist() == [[0x9CE4]]
    np.testing.assert_array_equal(meta_2to4_unpack(word), indices)
    indices32 = np.tile(indices, 2)
    word32 = meta_2to4_pack(indices32, 32)
    assert word32.dtype == np.int32 and word32.view(np.uint32).tolist() == [[0x9CE49CE4]]
    np.testing.assert_array_equal(meta_2to4_unpack(word32), indices32)


@pytest.mark.parametrize("dtype,rows,ncols", [(np.int16, 32, 2), (np.int16, 64, 4),
                                              (np.int32, 16, 2), (np.int32, 48, 6)])
def test_cutlass_reorder_matches_torch_offsets(dtype, rows, ncols):
    meta = np.arange(rows * ncols, dtype=dtype).reshape(rows, ncols)
    offs = tconv._calculate_meta_reordering_scatter_offsets(
        rows, ncols, torch.int16 if dtype == np.int16 else torch.int32, "cpu").numpy()
    expect = np.empty(rows * ncols, dtype=dtype)
    expect[offs] = meta.reshape(-1)
    np.testing.assert_array_equal(meta_cutlass_reorder(meta).reshape(-1), expect)
    np.testing.assert_array_equal(meta_cutlass_unreorder(meta_cutlass_reorder(meta)), meta)


# ---- bad data ----------------------------------------------------------------------------------

def test_violation_names_row_and_group():
    w = np.zeros((3, 16), dtype=np.int64)
    w[2, 8:11] = [1, 2, 3]                      # row 2, group 2 of 2:4
    with pytest.raises(ValueError, match=r"2:4 violation: row 2, group 2 \(columns 8..11\) has 3"):
        check_nm(w, 2, 4)
    with pytest.raises(ValueError, match="row 2, group 2"):
        nm_compress(w, 2, 4)
    with pytest.raises(ValueError, match="row 2, group 1"):
        nm_compress(w, 2, 8)
    big = np.zeros((16, 64), dtype=np.int64)
    big[5, 60:64] = [1, 0, 2, 3]                # PyTorch would silently drop one of these
    with pytest.raises(ValueError, match="row 5, group 15"):
        to_torch_2to4(big)
    nm_compress(w, 4, 8)                        # 3 of 8 is fine for 4:8


@pytest.mark.parametrize("n,m", [(0, 4), (5, 4), (2, 3), (2, 6), (1, 512), (2.0, 4), (True, 4)])
def test_bad_ratio(n, m):
    with pytest.raises(ValueError, match="N:M ratio"):
        check_nm(np.zeros((1, 12), dtype=int), n, m)


def test_bad_shapes_and_types():
    with pytest.raises(ValueError, match="K=6 is not a multiple of m=4"):
        nm_compress(np.zeros((2, 6), dtype=int), 2, 4)
    with pytest.raises(ValueError, match=r"2-D \[rows, K\]"):
        nm_compress(np.zeros(8, dtype=int), 2, 4)
    with pytest.raises(TypeError, match="integer array"):
        nm_compress(np.zeros((2, 8)), 2, 4)
    with pytest.raises(ValueError, match="rows to be a multiple of 16"):
        to_torch_2to4(np.zeros((8, 64), dtype=int))
    with pytest.raises(ValueError, match="K a multiple of 64"):
        to_torch_2to4(np.zeros((16, 32), dtype=int))
    with pytest.raises(ValueError, match="multiple of 32"):
        to_torch_2to4(np.zeros((32, 16), dtype=int), "float16")
    with pytest.raises(ValueError, match="does not fit signed 8-bit"):
        to_torch_2to4(np.full((16, 64), 200) * (np.arange(64) % 4 == 0))
    with pytest.raises(ValueError, match="dtype must be one of"):
        to_torch_2to4(np.zeros((16, 64), dtype=int), "bfloat16")


def test_decompress_rejects_bad_indices():
    values = np.array([[1, 2]])
    with pytest.raises(ValueError, match="not strictly increasing"):
        nm_decompress(values, np.array([[2, 2]]), 2, 4, 4)
    with pytest.raises(ValueError, match="not strictly increasing"):
        nm_decompress(values, np.array([[3, 1]]), 2, 4, 4)
    with pytest.raises(ValueError, match=r"indices\[0, 1\] = 4 is outside 0..3"):
        nm_decompress(values, np.array([[0, 4]]), 2, 4, 4)
    with pytest.raises(ValueError, match="needs 4 values per row"):
        nm_decompress(values, np.array([[0, 1]]), 2, 4, 8)
    with pytest.raises(ValueError, match="same 2-D shape"):
        nm_decompress(values, np.array([0, 1]), 2, 4, 4)
    with pytest.raises(ValueError, match="positive multiple of m=4"):
        nm_decompress(values, np.array([[0, 1]]), 2, 4, 6)


def test_from_torch_rejects_bad_pairs():
    w = nm_random(np.random.default_rng(0), 16, 64, 2, 4)
    values, meta = to_torch_2to4(w)
    with pytest.raises(TypeError, match="int8 values come with int32 metadata"):
        from_torch_2to4(values, meta.astype(np.int16))
    with pytest.raises(TypeError, match="int8 or float16"):
        from_torch_2to4(values.astype(np.float32), meta)
    with pytest.raises(ValueError, match="describes"):
        from_torch_2to4(values[:, :16], meta)
    broken = meta.copy()
    broken[0, 0] = 0                            # nibble 0 = indices (0, 0): idx0 < idx1 broken
    with pytest.raises(ValueError, match="must satisfy idx0 < idx1"):
        from_torch_2to4(values, broken)
    with pytest.raises(TypeError, match="whole numbers"):
        from_torch_2to4(np.full((32, 16), 0.5, dtype=np.float16), np.zeros((32, 2), np.int16))
