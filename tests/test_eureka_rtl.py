"""EUREKA core RTL on Verilator: every mode and both baselines, bit-exact and cycle-exact.

Three Verilator builds in all (one per variant, 4x8): each runs all its cases in one simulator
process (``sim/benches/cocotb_eureka_core.py``), back to back, each with seeded random idle cycles
on both inputs and backpressure on the output; a few stall-free cases also check the end-to-end
time (one weight beat per cycle).
"""

import random

import numpy as np
import pytest

from golden import eureka as ge
from hw.eureka.core import EurekaCore
from sim.coverage import Coverage, eureka_case_bins
from sim.run_eureka import DEFAULT_CONFIG, prepare_case, run_cases

pytestmark = pytest.mark.rtl

# The driver's default core (4x8, G=8), so that run_gemm users (CLI, e2e) share this build.
BASE = DEFAULT_CONFIG
assert (BASE.rows, BASE.lanes, BASE.group) == (4, 8, 8)


def nm_exact(rng, rows, k, n, m):
    """Every group of m has exactly n non-zeros (no zero value among them)."""
    w = rng.integers(1, 128, (rows, k)) * rng.choice([-1, 1], (rows, k))
    g = w.reshape(rows, -1, m)
    return (g * (np.argsort(rng.random(g.shape), -1) < n)).reshape(rows, k)


def sparse(rng, rows, k, density):
    return rng.integers(-128, 128, (rows, k)) * (rng.random((rows, k)) < density)


def adversarial(k=64, rows=8):
    z = np.zeros((rows, k), np.int64)
    cases = {}
    w = z.copy()
    w[1] = np.arange(1, k + 1) % 127 + 1            # dense row above an empty one
    w[5] = -(np.arange(k) % 100) - 1
    cases["dense_above_empty"] = w
    w = z.copy()
    w[3] = 127                                       # every non-zero in the bottom row of tile 0
    w[7] = -128
    cases["bottom_row_full"] = w
    w = z.copy()
    w[[0, 2, 4, 6]] = 1                              # all-zero rows interleaved
    cases["zero_rows"] = w
    cases["all_zero"] = z.copy()
    w = z.copy()
    w[6, k - 1] = -128
    cases["single_nonzero"] = w
    w = np.full((rows, k), -128)                     # largest products, dense
    cases["extreme_dense"] = w
    return cases


def stress(rnd):
    return {"idle": round(rnd.uniform(0.1, 0.5), 2), "backpressure": round(rnd.uniform(0.1, 0.5), 2)}


def run_and_check(cfg, prepared, seed):
    cases = [p[0] for p in prepared]
    results = run_cases(cfg, cases, seed=seed)
    for case, sched, golden, model, w in prepared:
        got = results[case["name"]]
        np.testing.assert_array_equal(np.array(got["out"]), golden,
                                      err_msg=f"{case['name']} seed {seed}")
        assert got["cycles"] == model["cycles"], f"{case['name']} seed {seed}"
    return results


def test_eureka_core_all_modes(seed):
    cfg = BASE
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    prepared = []
    a = rng.integers(-128, 128, (72, 3))
    for mode in cfg.supported_modes:
        if mode.startswith("nm"):
            _, n, m = mode.split(":")
            w = nm_exact(rng, 6, 72, int(n), int(m))                   # exact N:M
            w[0, :int(m)] = 0                                          # a degenerate group
        else:
            w = sparse(rng, 6, 72, 0.35)                               # K=72: partial window
        prepared.append(prepare_case(cfg, w, a, mode, f"random_{mode}", **stress(rnd)))
    a64 = rng.integers(-128, 128, (64, 2))
    a64[:, 0] = -128
    for name, w in adversarial().items():
        for mode in ("suds", "unstructured-nosuds", "dense"):
            prepared.append(prepare_case(cfg, w, a64, mode, f"{name}_{mode}", **stress(rnd)))
    for d in (0.1, 0.4):                       # balanced column order (ours): gathered activations
        for mode in ("suds", "unstructured-nosuds"):
            prepared.append(prepare_case(cfg, sparse(rng, 8, 96, d), a64.repeat(2, 0)[:96], mode,
                                         f"permuted_{mode}_{d}", permute=True, **stress(rnd)))
    w = sparse(rng, 8, 64, 0.3)
    for mode in ("suds", "dense"):
        prepared.append(prepare_case(cfg, w, a64, mode, f"stall_free_{mode}", stall_free=True))
    results = run_and_check(cfg, prepared, seed)
    cov = Coverage("eureka_all_modes")
    for case, sched, _, _, w in prepared:
        cov.hit(*eureka_case_bins(cfg, w, sched.mode, sched))
        cov.hit(*(e for e, hit in results[case["name"]]["events"].items() if hit))
    cov.require()       # DESIGN.md's corner cases all ran on this build (sim/coverage.py)
    displaced = sum(p[1].displaced for p in prepared if "_suds" in p[0]["name"])
    assert displaced > 0, "the SUDS cases must exercise displacement"
    for p in prepared:
        if p[0]["stall_free"]:
            assert results[p[0]["name"]]["end_to_end"] == p[3]["cycles"] - 1 + EurekaCore.latency


def test_dense_baseline(seed):
    cfg = BASE.dense_baseline()
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    a = rng.integers(-128, 128, (30, 4))
    prepared = [prepare_case(cfg, sparse(rng, 7, 30, 0.6), a, "dense", "random", **stress(rnd)),
                prepare_case(cfg, np.full((4, 30), -128), np.full((30, 4), -128), "dense",
                             "extreme", **stress(rnd)),
                prepare_case(cfg, sparse(rng, 4, 32, 1.0), a[:, :2].repeat(2, 0)[:32], "dense",
                             "stall_free", stall_free=True)]
    run_and_check(cfg, prepared, seed)


def test_ampere24_baseline_and_torch_pair(seed):
    torch = pytest.importorskip("torch")
    from torch.sparse._semi_structured_conversions import sparse_semi_structured_from_dense_cutlass
    cfg = BASE.ampere24_baseline()
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    w = nm_exact(rng, 16, 64, 2, 4)
    w[3, :8] = 0                                       # groups with fewer than 2 non-zeros
    w[5, 4:6] = 0
    pair = sparse_semi_structured_from_dense_cutlass(torch.from_numpy(w.astype(np.int8)))
    a = rng.integers(-128, 128, (64, 2))
    prepared = [prepare_case(cfg, pair, a, "nm:2:4", "torch_pair", **stress(rnd)),
                prepare_case(cfg, sparse(rng, 5, 20, 0.5), a[:20], "dense", "dense", **stress(rnd)),
                prepare_case(cfg, w, a, "nm:2:4", "stall_free", stall_free=True)]
    run_and_check(cfg, prepared, seed)
    assert prepared[0][3]["cycles"] * 2 == ge.cycle_model(w, 2, "dense", cfg)["cycles"]


def test_bad_data_rejected_before_hardware():
    rng = np.random.default_rng(0)
    w = nm_exact(rng, 4, 32, 2, 4)
    w[2, 9] = w[2, 8] = w[2, 10] = 5                  # group 2 of row 2 has three non-zeros
    a = np.zeros((32, 1), np.int64)
    with pytest.raises(ValueError, match=r"2:4 violation: row 2, group 2"):
        prepare_case(BASE, w, a, "nm:2:4", "bad")
    with pytest.raises(ValueError, match="K=31 rows but the weights have K=32"):
        prepare_case(BASE, w * 0, a[:31], "dense", "bad")
    with pytest.raises(ValueError, match="not supported"):
        prepare_case(BASE.dense_baseline(), w, a, "suds", "bad")
    with pytest.raises(ValueError, match="idle must be a probability"):
        prepare_case(BASE, w * 0, a, "dense", "bad", idle=1.0)


def test_reset_mid_stream(seed):
    """Semantics under faults: ``rst`` with weight beats, windows and results in flight; the same
    case run again right after is bit-exact and its busy count equals the model's."""
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    a = rng.integers(-128, 128, (72, 3))
    prepared = []
    for mode, after in (("suds", 7), ("nm:2:4", 3), ("dense", 20)):
        w = nm_exact(rng, 8, 72, 2, 4) if mode == "nm:2:4" else sparse(rng, 8, 72, 0.4)
        case = prepare_case(BASE, w, a, mode, f"reset_{mode}", **stress(rnd))
        case[0]["reset_after"] = after
        prepared.append(case)
    run_and_check(BASE, prepared, seed)
