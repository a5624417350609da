"""Accumulator overflow semantics, each engine pushed to the limit of its config.

SparTen: the config check makes overflow impossible (``acc_width`` must hold ``max_reduction``
products of two most negative values). At the smallest accepted ``acc_width`` a reduction of
exactly ``max_reduction`` such products (the largest sum the check allows) is exact on the RTL; one
bit less is rejected naming the field, and a layer whose reduction is longer than
``max_reduction`` is rejected before any hardware runs, so no accepted layer can overflow.

EUREKA: the check only guarantees one beat (a row's products and the moved ones) fits; across beats
the accumulators wrap like a two's-complement register of ``acc_width`` bits (documented in
:func:`hw.eureka.core.result_layout`). At the smallest accepted ``acc_width``, a dot product one
above the largest representable value wraps to the most negative one on the RTL, while the golden
model refuses such data with a clear error; one below the limit is exact.
"""

import dataclasses

import numpy as np
import pytest

from golden import eureka as ge
from hw.common.config import ConfigError
from hw.eureka.config import EurekaConfig
from hw.sparten.config import SMALL as SPARTEN_SMALL
from sim.run_sparten import prepare_case
from test_eureka_core import run_amaranth as run_eureka
from test_sparten_layer import check_amaranth

#: C * R * S of the test layer: 8 channels x 3 x 3 taps.
REDUCTION = 72
SPARTEN_LIMIT = dataclasses.replace(SPARTEN_SMALL, max_reduction=REDUCTION, acc_width=22,
                                    act_depth=64, weight_depth=64, out_depth=64)


def test_sparten_config_limit():
    assert SPARTEN_LIMIT.min_acc_width == SPARTEN_LIMIT.acc_width == 22
    with pytest.raises(ConfigError, match=r"acc_width=21 .* max_reduction=72"):
        dataclasses.replace(SPARTEN_LIMIT, acc_width=21)


def test_sparten_largest_reduction_is_exact(seed):
    w = np.full((2, 8, 3, 3), -128, np.int8)
    a = np.full((8, 3, 3), -128, np.int8)
    case, info = prepare_case(SPARTEN_LIMIT, w, a, 1, 1, name="limit", idle=0.2,
                              backpressure=0.3)
    # The centre output sums all 72 products of +16384: the largest sum the config allows.
    assert int(info["golden"][0, 1, 1]) == REDUCTION * 128 * 128 < 1 << 21
    check_amaranth(SPARTEN_LIMIT, case, seed)


def test_sparten_longer_reduction_rejected():
    w = np.full((1, 16, 3, 3), -128, np.int8)           # 144 products: 2359296 > 2**21 - 1
    a = np.full((16, 3, 3), -128, np.int8)
    with pytest.raises(ValueError, match=r"C\*R\*S \(reduction length\) = 144, the config "
                                         r"allows at most 72"):
        prepare_case(SPARTEN_LIMIT, w, a, 1, 1)


EUREKA_LIMIT = EurekaConfig(rows=2, lanes=2, group=2, acc_width=19)


def test_eureka_config_limit():
    with pytest.raises(ConfigError, match="acc_width must be in 19..64, not 18"):
        dataclasses.replace(EUREKA_LIMIT, acc_width=18)


@pytest.mark.parametrize("k", [15, 16])
def test_eureka_accumulator_wraps_as_documented(k, seed):
    w = np.full((2, k), -128)
    a = np.full((k, 1), -128)
    true = k * 128 * 128                 # 245760 fits 19 bits; 262144 = 2**18 does not
    top = 1 << (EUREKA_LIMIT.acc_width - 1)
    wrapped = (true + top) % (2 * top) - top
    out, _, _ = run_eureka(EUREKA_LIMIT, w, a, "dense", seed=seed)
    np.testing.assert_array_equal(out, np.full((2, 1), wrapped))
    if true < top:
        assert wrapped == true
        np.testing.assert_array_equal(ge.gemm(w, a, acc_width=EUREKA_LIMIT.acc_width), out)
    else:
        assert wrapped == -top
        with pytest.raises(ValueError, match="overflow"):
            ge.gemm(w, a, acc_width=EUREKA_LIMIT.acc_width)
