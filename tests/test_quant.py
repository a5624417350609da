"""golden/quant.py: requantisation (round half up, saturate) and the output path to SparseMap."""

from fractions import Fraction
import math

import numpy as np
import pytest

from golden.conv import conv2d_dense, relu
from golden.quant import output_to_sparsemap, requantize
from golden.sparsemap import encode_activations


def reference(acc, multiplier, shift, out_bits=8):
    """Round half up of acc*multiplier/2**shift with exact fractions, then saturate."""
    x = Fraction(int(acc) * int(multiplier), 2 ** int(shift))
    r = math.floor(x + Fraction(1, 2))
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    return min(max(r, lo), hi)


def test_hand_computed_rounding():
    # acc * 1 / 2: -2.5 -> -2, 2.5 -> 3, -1.5 -> -1, 1.5 -> 2, -0.5 -> 0, 0.5 -> 1, exact stays
    acc = np.array([-5, 5, -3, 3, -1, 1, -4, 4, 0])
    assert requantize(acc, 1, 1).tolist() == [-2, 3, -1, 2, 0, 1, -2, 2, 0]
    # acc * 3 / 8: 7 -> 2.625 -> 3, -7 -> -2.625 -> -3, 4 -> 1.5 -> 2, -4 -> -1.5 -> -1
    assert requantize(np.array([7, -7, 4, -4]), 3, 3).tolist() == [3, -3, 2, -1]
    # shift 0: no rounding term, just the product
    assert requantize(np.array([3, -3]), 5, 0).tolist() == [15, -15]


def test_saturation():
    assert requantize(np.array([1000, -1000, 127, -128, 128, -129]), 1, 0).tolist() == \
        [127, -128, 127, -128, 127, -128]
    assert requantize(np.array([255, 256]), 1, 1).tolist() == [127, 127]       # 127.5 -> 128 -> 127
    assert requantize(np.array([-257, -256]), 1, 1).tolist() == [-128, -128]   # -128.5 -> -128
    assert requantize(np.array([70000]), 1, 0, out_bits=16).tolist() == [32767]
    assert requantize(np.array([-5, 300]), 1, 0, out_bits=8, signed=False).tolist() == [0, 255]


def test_matches_exact_fractions(seed):
    rng = np.random.default_rng(seed)
    acc = rng.integers(-(2 ** 31), 2 ** 31, 500)
    acc[:4] = [-(2 ** 31), 2 ** 31 - 1, 0, -1]
    for multiplier, shift in [(1, 0), (1, 1), (12345, 20), (2 ** 15 - 1, 24), (2 ** 31 - 1, 62),
                              (77, 7), (2 ** 30, 31)]:
        got = requantize(acc, multiplier, shift)
        assert got.dtype == np.int64
        assert got.tolist() == [reference(x, multiplier, shift) for x in acc], (multiplier, shift)


def test_wide_accumulators_are_exact():
    acc = np.array([2 ** 47 - 1, -(2 ** 47), 2 ** 46 + 3])
    got = requantize(acc, 2 ** 31 - 1, 40, out_bits=32, acc_bits=48)
    assert got.tolist() == [reference(x, 2 ** 31 - 1, 40, 32) for x in acc]


def test_per_channel_parameters():
    acc = np.arange(-12, 12).reshape(2, 3, 4)
    mult = np.array([3, 5]).reshape(2, 1, 1)
    shift = np.array([1, 2]).reshape(2, 1, 1)
    got = requantize(acc, mult, shift)
    expect = [[[reference(x, mult[k, 0, 0], shift[k, 0, 0]) for x in row] for row in acc[k]]
              for k in range(2)]
    assert got.tolist() == expect


def test_output_path_reencodes_to_sparsemap(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (10, 5, 5)) * (rng.random((10, 5, 5)) < 0.5)
    w = rng.integers(-128, 128, (12, 10, 3, 3)) * (rng.random((12, 10, 3, 3)) < 0.5)
    acc = conv2d_dense(a, w, 1, 1)
    sm = output_to_sparsemap(acc, 8, multiplier=3, shift=9)
    expect = requantize(relu(acc), 3, 9)
    np.testing.assert_array_equal(sm.decode(), expect)
    assert sm == encode_activations(expect, 8)
    assert sm.shape == (12, 5, 5) and sm.n_chunks_per_vector == 2
    assert expect.min() == 0 and 0 < sm.density() < 1
    # ReLU and requantisation commute
    np.testing.assert_array_equal(relu(requantize(acc, 3, 9)), expect)
    # without ReLU negative values survive
    assert output_to_sparsemap(acc, 8, 3, 9, apply_relu=False).decode().min() < 0


# ---- bad data ----------------------------------------------------------------------------------

def test_rejects_bad_parameters_and_data():
    acc = np.array([1, 2])
    with pytest.raises(ValueError, match="multiplier must be in 1..2147483647"):
        requantize(acc, 0, 1)
    with pytest.raises(ValueError, match="multiplier must be in"):
        requantize(acc, 2 ** 31, 1)
    with pytest.raises(TypeError, match="multiplier must be an integer"):
        requantize(acc, 0.5, 1)
    with pytest.raises(ValueError, match="shift must be in 0..62"):
        requantize(acc, 1, 63)
    with pytest.raises(ValueError, match="shift must be in 0..62"):
        requantize(acc, 1, -1)
    with pytest.raises(ValueError, match="out_bits must be an int in 2..32"):
        requantize(acc, 1, 1, out_bits=1)
    with pytest.raises(TypeError, match="acc must be an integer array"):
        requantize(acc.astype(float), 1, 1)
    with pytest.raises(ValueError, match=r"requantize input overflow: result\[0\] = 2147483648"):
        requantize(np.array([2 ** 31]), 1, 1)
    with pytest.raises(ValueError, match="do not broadcast"):
        requantize(np.zeros((2, 3), int), np.array([1, 2]), 1)
    with pytest.raises(ValueError, match=r"\[K,Ho,Wo\]"):
        output_to_sparsemap(np.zeros((2, 3), int), 8)
    with pytest.raises(ValueError, match="power of two"):
        output_to_sparsemap(np.zeros((2, 3, 3), int), 12)
