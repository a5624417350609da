"""golden/conv.py: dense and inner-join convolution equal torch.nn.functional.conv2d exactly."""

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from golden.conv import (check_acc, conv2d_dense, conv2d_sparse, conv_output_shape, fc, im2col,
                         match_counts, relu)
from golden.sparsemap import Chunk, SparseMap, encode_activations, encode_filters

SEED = int(os.environ.get("SEED", "1"))

# Tiny convolutions: torch's intra-op thread pool only adds contention (70 ms vs 30 us per call on
# the 2 shared cores, each already running a pytest-xdist worker).
torch.set_num_threads(1)


def torch_conv(a, w, stride=1, padding=0):
    """PyTorch's conv2d on the same integers, in float64: exact for these magnitudes (< 2**53)."""
    out = F.conv2d(torch.from_numpy(a).double()[None], torch.from_numpy(w).double(),
                   stride=stride, padding=padding)[0]
    return out.to(torch.int64).numpy()


def sparse_ints(rng, shape, density, lo=-128, hi=128):
    x = rng.integers(lo, hi, size=shape)
    x[x == 0] = 1
    return np.where(rng.random(shape) < density, x, 0)


@st.composite
def conv_cases(draw):
    r = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 2))
    h = draw(st.integers(max(1, r - 2 * padding), 6))
    w = draw(st.integers(max(1, s - 2 * padding), 6))
    c = draw(st.integers(1, 20))
    k = draw(st.integers(1, 3))
    chunk = draw(st.sampled_from([8, 16, 32]))
    da = draw(st.sampled_from([0.0, 1.0, 0.1, 0.5, 0.9]))
    dw = draw(st.sampled_from([0.0, 1.0, 0.2, 0.5]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    return (sparse_ints(rng, (c, h, w), da), sparse_ints(rng, (k, c, r, s), dw), stride, padding,
            chunk)


@hypothesis_seed(SEED)
# Shared, loaded CI cores: never fail on timing, only on results.
@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases())
def test_conv_matches_torch(case):
    a, w, stride, padding, chunk = case
    ref = torch_conv(a, w, stride, padding)
    np.testing.assert_array_equal(conv2d_dense(a, w, stride, padding), ref)
    got = conv2d_sparse(encode_activations(a, chunk), encode_filters(w, chunk), stride, padding)
    assert got.dtype == np.int64 and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(match_counts(a, w, stride, padding),
                                  torch_conv((a != 0).astype(np.int64), (w != 0).astype(np.int64),
                                             stride, padding))


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 0), (2, 1), (3, 2)])
@pytest.mark.parametrize("chunk", [8, 64, 256])
def test_fixed_corner_cases(seed, stride, padding, chunk):
    """The corner cases that always run: partial last chunk, densities 0/1, extremes, stride 2."""
    rng = np.random.default_rng([seed, stride, padding, chunk])
    c = chunk + 3
    for da, dw in [(0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.3, 0.6)]:
        a = sparse_ints(rng, (c, 4, 5), da)
        w = sparse_ints(rng, (2, c, 3, 2), dw)
        ref = torch_conv(a, w, stride, padding)
        np.testing.assert_array_equal(conv2d_dense(a, w, stride, padding), ref)
        np.testing.assert_array_equal(
            conv2d_sparse(encode_activations(a, chunk), encode_filters(w, chunk), stride, padding),
            ref)


def test_extreme_values_all_dense():
    # -128 * -128 summed over everything: the largest int8 dot product, exact.
    a = np.full((40, 3, 3), -128)
    w = np.full((2, 40, 3, 3), -128)
    ref = torch_conv(a, w, 1, 1)
    assert ref.max() == 40 * 9 * 128 * 128
    np.testing.assert_array_equal(conv2d_dense(a, w, 1, 1), ref)
    np.testing.assert_array_equal(conv2d_sparse(encode_activations(a, 32), encode_filters(w, 32),
                                                1, 1), ref)


def test_one_by_one_and_fc(seed):
    rng = np.random.default_rng(seed)
    a = sparse_ints(rng, (19, 4, 4), 0.5)
    w = sparse_ints(rng, (5, 19, 1, 1), 0.5)
    ref = torch_conv(a, w)
    np.testing.assert_array_equal(conv2d_dense(a, w), ref)
    np.testing.assert_array_equal(conv2d_sparse(encode_activations(a, 8), encode_filters(w, 8)),
                                  ref)
    x = sparse_ints(rng, (300,), 0.4)
    m = sparse_ints(rng, (7, 300), 0.4)
    expect = (torch.from_numpy(m).double() @ torch.from_numpy(x).double()).to(torch.int64).numpy()
    got = fc(x, m)
    assert got.shape == (7,)
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(fc(x, m, chunk=128), expect)
    np.testing.assert_array_equal(
        F.linear(torch.from_numpy(x).double(), torch.from_numpy(m).double()).to(torch.int64),
        got)


def test_inner_join_order_is_observable():
    """conv2d_sparse's MACs: taps row-major, chunks in order, lowest matching position first."""
    a = np.zeros((16, 1, 2), dtype=np.int64)
    a[[1, 3, 5, 12], 0, 0] = [1, 2, 3, 4]
    a[[0, 9], 0, 1] = [5, 6]
    w = np.zeros((1, 16, 1, 2), dtype=np.int64)
    w[0, [3, 5, 7, 12], 0, 0] = [7, 8, 9, 10]
    w[0, [0, 2, 9], 0, 1] = [11, 12, 13]
    trace = []
    out = conv2d_sparse(encode_activations(a, 8), encode_filters(w, 8), trace=trace)
    assert out.tolist() == [[[2 * 7 + 3 * 8 + 4 * 10 + 5 * 11 + 6 * 13]]]
    # (k, yo, xo, r, s, chunk, position, offset into filter values, offset into activation values)
    assert trace == [
        (0, 0, 0, 0, 0, 0, 3, 0, 1),     # channel 3: filter value #0, activation value #1
        (0, 0, 0, 0, 0, 0, 5, 1, 2),     # channel 5
        (0, 0, 0, 0, 0, 1, 4, 0, 0),     # channel 12 = chunk 1 position 4
        (0, 0, 0, 0, 1, 0, 0, 0, 0),     # tap s=1, channel 0
        (0, 0, 0, 0, 1, 1, 1, 0, 0),     # channel 9
    ]


def test_conv_output_shape():
    assert conv_output_shape(5, 7, 3, 3, 1, 0) == (3, 5)
    assert conv_output_shape(5, 7, 3, 3, 2, 1) == (3, 4)
    assert conv_output_shape(1, 1, 1, 1) == (1, 1)
    assert conv_output_shape(1, 1, 3, 3, 1, 1) == (1, 1)
    with pytest.raises(ValueError, match="empty output"):
        conv_output_shape(2, 5, 3, 3)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        conv_output_shape(5, 5, 3, 3, 0)
    with pytest.raises(ValueError, match="padding must be an int >= 0"):
        conv_output_shape(5, 5, 3, 3, 1, -1)


def test_im2col_matches_torch_unfold(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (3, 5, 6))
    for stride, padding in [(1, 0), (2, 1), (3, 2)]:
        cols = im2col(a, 2, 3, stride, padding)
        ref = F.unfold(torch.from_numpy(a).double()[None], (2, 3), padding=padding,
                       stride=stride)[0].to(torch.int64).numpy()
        np.testing.assert_array_equal(cols, ref)


def test_relu():
    x = np.array([-5, 0, 7, -(2 ** 40)])
    out = relu(x)
    assert out.dtype == np.int64 and out.tolist() == [0, 0, 7, 0]
    with pytest.raises(TypeError, match="integer array"):
        relu(np.array([1.0]))


def test_dense_is_fast_on_a_real_layer():
    """Benchmarks run conv2d_dense on real layers: a ResNet 3x3x256 layer takes ~0.05 s.

    The bound is loose (shared cores); it only catches a fall back to per-element Python loops,
    which would take minutes.
    """
    import time
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (256, 14, 14))
    w = rng.integers(-128, 128, (256, 256, 3, 3))
    t = time.perf_counter()
    out = conv2d_dense(a, w, 1, 1)
    assert time.perf_counter() - t < 10.0
    assert out.shape == (256, 14, 14)
    k = rng.integers(0, 256, 8)
    ref = torch_conv(a, w[k], 1, 1)
    np.testing.assert_array_equal(out[k], ref)


def test_wide_operands_use_exact_int64():
    # Beyond 2**53 float64 BLAS would round; the int64 path must stay exact.
    a = np.full((4, 1, 1), 2 ** 26 + 1)
    w = np.full((1, 4, 1, 1), 2 ** 26 + 3)
    exact = 4 * (2 ** 26 + 1) * (2 ** 26 + 3)
    assert conv2d_dense(a, w, acc_bits=64).item() == exact
    with pytest.raises(ValueError, match="too wide for an exact int64"):
        conv2d_dense(np.full((4, 1, 1), 2 ** 31), np.full((1, 4, 1, 1), 2 ** 31), acc_bits=64)


# ---- bad data ----------------------------------------------------------------------------------

def test_accumulator_overflow_is_reported_not_wrapped():
    a = np.full((64, 1, 1), 127)
    w = np.full((1, 64, 1, 1), 127)
    assert conv2d_dense(a, w, acc_bits=21).item() == 64 * 127 * 127          # 1032256 < 2**20
    with pytest.raises(ValueError, match=r"overflow: result\[0, 0, 0\] = 1032256 does not fit a "
                                         r"signed 20-bit"):
        conv2d_dense(a, w, acc_bits=20)
    with pytest.raises(ValueError, match="does not fit a signed 20-bit"):
        conv2d_sparse(encode_activations(a, 64), encode_filters(w, 64), acc_bits=20)
    with pytest.raises(ValueError, match="does not fit a signed 16-bit"):
        fc(np.full(64, 127), np.full((1, 64), -127), acc_bits=16)
    with pytest.raises(ValueError, match="acc_bits must be an int in 2..64"):
        conv2d_dense(a, w, acc_bits=65)
    with pytest.raises(ValueError, match=r"result\[1\] = -9"):
        check_acc(np.array([0, -9]), acc_bits=4)


def test_channel_mismatch():
    a, w = np.ones((3, 4, 4), int), np.ones((2, 4, 3, 3), int)
    with pytest.raises(ValueError, match="channel mismatch: activations have C=3"):
        conv2d_dense(a, w)
    with pytest.raises(ValueError, match="channel mismatch: activations have C=3"):
        conv2d_sparse(encode_activations(a, 8), encode_filters(w, 8))
    with pytest.raises(ValueError, match="channel mismatch"):
        fc(np.ones(3, int), np.ones((2, 4), int))
    with pytest.raises(ValueError, match="chunk mismatch"):
        conv2d_sparse(encode_activations(a, 8), encode_filters(np.ones((2, 3, 1, 1), int), 16))


def test_wrong_ranks_types_and_geometry():
    a, w = np.ones((3, 4, 4), int), np.ones((2, 3, 3, 3), int)
    with pytest.raises(ValueError, match=r"activations must be \[C,H,W\]"):
        conv2d_dense(a[0], w)
    with pytest.raises(ValueError, match=r"filters must be \[K,C,R,S\]"):
        conv2d_dense(a, w[0])
    with pytest.raises(TypeError, match="activations must be an integer array"):
        conv2d_dense(a.astype(float), w)
    with pytest.raises(TypeError, match="filters must be an integer array"):
        conv2d_dense(a, w.astype(np.float32))
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        conv2d_dense(a, w, stride=0)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        conv2d_dense(a, w, stride=1.5)
    with pytest.raises(ValueError, match="padding must be an int >= 0"):
        conv2d_sparse(encode_activations(a, 8), encode_filters(w, 8), padding=-1)
    with pytest.raises(ValueError, match="empty output"):
        conv2d_dense(np.ones((3, 2, 2), int), w)
    with pytest.raises(TypeError, match="a_sm must be a SparseMap"):
        conv2d_sparse(a, encode_filters(w, 8))
    with pytest.raises(ValueError, match="w_sm must encode a rank-4"):
        conv2d_sparse(encode_activations(a, 8), encode_activations(a, 8))
    with pytest.raises(ValueError, match=r"fc needs a\[C\] and w\[K,C\]"):
        fc(np.ones((3, 1), int), np.ones((2, 3), int))


def test_sparse_conv_rejects_corrupt_maps():
    a, w = np.ones((3, 2, 2), int), np.ones((1, 3, 1, 1), int)
    asm = encode_activations(a, 8)
    asm.chunks[1][1][0] = Chunk(0b111, np.array([1, 1]), 8)      # popcount 3, two values
    with pytest.raises(ValueError, match="popcount 3 but the chunk holds 2"):
        conv2d_sparse(asm, encode_filters(w, 8))
    wsm = SparseMap((1, 3, 1, 1), 8, [[[[Chunk(0b1, np.array([0]), 8)]]]])
    with pytest.raises(ValueError, match="non-zero"):
        conv2d_sparse(encode_activations(a, 8), wsm)
