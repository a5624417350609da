"""golden/balance.py: validity of SparTen assignments and that GB-S/GB-H never cost more cycles."""

import numpy as np
import pytest

from golden import balance
from golden.balance import (METHODS, assign, check_perm, filter_profile, identity_perm,
                            inverse_perm, round_cost)
from golden.sparsemap import encode_filters
from golden.sparten_model import layer_cycles
from hw.sparten.config import SparTenConfig
from hw.sparten.layer import SparTenLayer


def _skewed_filters(rng, K, C, R, S, lo=0.05, hi=0.95):
    """Filters whose densities spread from ``lo`` to ``hi`` (shuffled), int8 non-zeros."""
    dens = rng.permutation(np.linspace(lo, hi, K))
    mask = rng.random((K, C, R, S)) < dens[:, None, None, None]
    vals = rng.integers(1, 128, size=mask.shape) * rng.choice([-1, 1], size=mask.shape)
    return np.where(mask, vals, 0).astype(np.int64)


@pytest.mark.parametrize("K,n_units", [(16, 4), (18, 4), (3, 8), (7, 1), (1, 1)])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_a_valid_perm(seed, K, n_units, method):
    rng = np.random.default_rng(seed)
    w = _skewed_filters(rng, K, 11, 3, 3)
    perm = assign(w, n_units, method, chunk=8)
    rounds = -(-K // n_units)
    assert perm.dtype == np.int64 and perm.shape == (rounds * n_units,)
    assert sorted(perm[perm >= 0].tolist()) == list(range(K))
    assert (perm == -1).sum() == rounds * n_units - K
    np.testing.assert_array_equal(check_perm(perm, K, n_units), perm)
    inv = inverse_perm(perm, K, n_units)
    np.testing.assert_array_equal(perm[inv], np.arange(K))


def test_none_is_identity():
    w = np.ones((10, 4, 1, 1), dtype=np.int64)
    np.testing.assert_array_equal(assign(w, 4), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1])
    np.testing.assert_array_equal(assign(w, 4, "none"), identity_perm(10, 4))
    np.testing.assert_array_equal(identity_perm(8, 4), np.arange(8))


def test_gbs_sorts_by_whole_filter_density():
    nnz = [3, 9, 1, 9, 5, 0]
    w = np.zeros((6, 16, 1, 1), dtype=np.int64)
    for k, n in enumerate(nnz):
        w[k, :n] = 1
    # Heaviest first, ties by channel index, empty slots in the last (lightest) round.
    np.testing.assert_array_equal(assign(w, 4, "gbs"), [1, 3, 4, 0, 2, 5, -1, -1])


def test_sparsemap_input_equals_dense_input(seed):
    rng = np.random.default_rng(seed)
    w = _skewed_filters(rng, 12, 20, 3, 3)
    sm = encode_filters(w, 8)
    for method in METHODS:
        np.testing.assert_array_equal(assign(sm, 4, method), assign(w, 4, method, chunk=8))
    with pytest.raises(ValueError, match="chunk"):
        assign(sm, 4, "gbh", chunk=16)


def test_profile_counts_chunk_nonzeros():
    w = np.zeros((2, 20, 1, 2), dtype=np.int64)
    w[0, [0, 7, 8, 19], 0, 1] = 1
    w[1, :, 0, 0] = 5
    prof = filter_profile(w, chunk=8)
    assert prof.shape == (2, 1, 2, 3)
    np.testing.assert_array_equal(prof[0, 0, 1], [2, 1, 1])
    np.testing.assert_array_equal(prof[1, 0, 0], [8, 8, 4])
    np.testing.assert_array_equal(prof[:, :, :, :].sum(axis=(1, 2, 3)), [4, 20])
    dens = np.full(20, 0.5)
    np.testing.assert_allclose(filter_profile(w, 8, act_density=dens), prof * 0.5)


@pytest.mark.parametrize("bad,match", [
    (np.array([0, 1, 2]), "slots"),
    (np.array([0, 1, 2, 2]), r"\[2\] repeated, output channel\(s\) \[3\] missing"),
    (np.array([0, 1, 2, 4]), "outside"),
    (np.array([0, 1, -2, 3]), "outside"),
    (np.array([0, 1, 1, 3]), "repeated"),
    (np.array([-1, 1, 2, 3]), r"\[0\] missing"),
])
def test_bad_perm_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        check_perm(bad, 4, 2)


def test_bad_arguments_rejected():
    w = np.ones((4, 4, 1, 1))
    with pytest.raises(TypeError):
        check_perm(np.array([0.0, 1.0]), 2, 2)
    with pytest.raises(ValueError, match="perm has 6 slots"):
        check_perm(np.array([0, 1, 2, 3, -1, -1]), 4, 2)   # a round of nothing but empty slots
    with pytest.raises(ValueError, match="method"):
        assign(w, 2, "greedy")
    with pytest.raises(ValueError, match="n_units"):
        assign(w, 0, "gbs")
    with pytest.raises(ValueError, match=r"\[K, C, R, S\]"):
        assign(np.ones((4, 4)), 2)
    with pytest.raises(ValueError, match="chunk"):
        assign(w, 2, "gbh", chunk=12)
    with pytest.raises(ValueError, match="act_density"):
        assign(w, 2, "gbh", act_density=np.ones(3))


def test_gbh_never_worse_than_gbs_or_none_on_its_objective(seed):
    rng = np.random.default_rng(seed)
    for trial in range(5):
        K = int(rng.integers(5, 40))
        w = _skewed_filters(rng, K, int(rng.integers(3, 40)), 3, 3)
        prof = filter_profile(w, 8)
        costs = {m: round_cost(prof, assign(w, 4, m, chunk=8), 4) for m in METHODS}
        assert costs["gbh"] <= min(costs["gbs"], costs["none"]), (trial, costs)


def _cycles(w, a, n_units, chunk, perm):
    cfg = SparTenConfig(chunk=chunk, n_units=n_units)
    return layer_cycles(w, a, cfg, stride=1, padding=1, perm=perm,
                        pipeline=SparTenLayer.latency_of(cfg))["cycles"]


@pytest.mark.parametrize("trial", range(3))
def test_balancing_never_costs_cycles_on_skewed_layers(seed, trial):
    """On layers whose filter densities spread widely, GB-S and GB-H cut the modelled cycles."""
    rng = np.random.default_rng([seed, trial])
    K, C, H = [(24, 20, 5), (30, 16, 4), (16, 40, 3)][trial]
    w = _skewed_filters(rng, K, C, 3, 3)
    a = np.where(rng.random((C, H, H)) < 0.5, rng.integers(1, 128, size=(C, H, H)), 0)
    cyc = {m: _cycles(w, a, 4, 8, assign(w, 4, m, chunk=8)) for m in METHODS}
    assert cyc["gbs"] <= cyc["none"], cyc
    assert cyc["gbh"] <= cyc["none"], cyc


def test_module_exports():
    assert set(balance.__all__) >= {"assign", "check_perm", "inverse_perm", "identity_perm"}
