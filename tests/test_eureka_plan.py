"""GEMM planner of the EUREKA preload top (golden/eureka_plan.py) and its config (pure, no RTL)."""

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from golden import eureka as ge
from golden.eureka_plan import block_beats, plan_gemm, word_bytes
from golden.plan import PlanError
from hw.common.config import ConfigError
from hw.eureka.config import (GEMM_PAPER, GEMM_PRESETS, GEMM_SMALL, SMALL, EurekaConfig,
                              EurekaGemmConfig, resolve_gemm)

CFG = GEMM_SMALL


def sparse(rng, shape, density):
    return rng.integers(-128, 128, shape) * (rng.random(shape) < density)


def covered(plan, M, K, N):
    """How often each (m, k, n) of the GEMM is computed by the plan's tiles."""
    hits = np.zeros((M, K, N), np.int64)
    for t in plan.tiles:
        (r0, r1), (k0, k1), (n0, n1) = t.coords["rows"], t.coords["k"], t.coords["cols"]
        hits[r0:r1, k0:k1, n0:n1] += 1
    return hits


@pytest.mark.parametrize("shape,density,mode,kw,nb", [
    ((10, 300, 7), 0.3, "suds", None, None),        # column blocks (act buffer), one round
    ((10, 300, 7), 0.3, "suds", 2, None),           # K split over 3 blocks (partial sums)
    ((23, 130, 5), 0.9, "dense", None, 2),          # dense: several rounds
    ((9, 64, 3), 0.0, "unstructured-nosuds", 1, 1),  # all zero: one beat per row tile and block
    ((12, 256, 4), None, "nm:2:4", 2, 3),
])
def test_plan_partitions_the_gemm_and_sums_exactly(seed, shape, density, mode, kw, nb):
    rng = np.random.default_rng(seed)
    M, K, N = shape
    if mode.startswith("nm"):
        w = rng.integers(1, 128, (M, K)).reshape(M, -1, 4)
        w = (w * (np.argsort(rng.random(w.shape), -1) < 2)).reshape(M, K)
    else:
        w = sparse(rng, (M, K), density)
    a = rng.integers(-128, 128, (K, N))
    plan = plan_gemm(w, N, mode, CFG, k_windows=kw, n_block=nb)
    assert (covered(plan, M, K, N) == 1).all()
    # host-side partial sums of the tiles give W @ A bit for bit
    out = np.zeros((M, N), np.int64)
    for t in plan.tiles:
        (r0, r1), (k0, k1), (n0, n1) = t.coords["rows"], t.coords["k"], t.coords["cols"]
        out[r0:r1, n0:n1] += ge.gemm(w[r0:r1, k0:k1], a[k0:k1, n0:n1])
        # per tile: the cycle model of its sub-GEMM, and the tile fits both buffers
        assert t.cycles == ge.cycle_model(w[r0:r1, k0:k1], n1 - n0, mode, CFG.core)["cycles"]
        assert t.coords["weight_words"] <= CFG.weight_depth
        assert t.coords["act_words"] <= CFG.act_depth
        assert t.coords["weight_words"] == sum(
            ts.beats for ts in ge.pack(w[r0:r1, k0:k1], mode, CFG.core).tiles)
    np.testing.assert_array_equal(out, w @ a)
    nk = plan.layer["k_blocks"]
    assert plan.psum == ("host" if nk > 1 else "none")
    assert plan.cycles == sum(t.cycles for t in plan.tiles)


def test_traffic_as_stored_and_reuse(seed):
    rng = np.random.default_rng(seed)
    M, K, N = 17, 300, 9
    w = sparse(rng, (M, K), 0.9)
    plan = plan_gemm(w, N, "suds", CFG, k_windows=2, n_block=4)
    # two rounds x three column blocks: the serpentine order reuses the last block at the turn
    assert max(t.coords["round"] for t in plan.tiles) >= 1
    assert any(t.coords["load_weights"] and not t.coords["load_acts"] for t in plan.tiles)
    wb, ab = word_bytes(CFG.weight_word_bits), word_bytes(CFG.act_word_bits)
    ob = word_bytes(CFG.out_word_bits)
    assert ab == CFG.core.window and ob == CFG.core.rows * 4
    seen_w, seen_a, last, prev = set(), set(), None, None
    for t in plan.tiles:
        c = t.coords
        kb = c["kblock"]
        # a buffer is reloaded exactly when the tile needs other contents than the previous one
        assert c["load_weights"] == (prev is None or prev[:2] != (kb, c["round"]))
        assert c["load_acts"] == (prev is None or (prev[0], prev[2]) != (kb, c["nblock"]))
        prev = (kb, c["round"], c["nblock"])
        if kb != last:                                  # a new K block loads both buffers
            assert c["load_weights"] and c["load_acts"]
            last = kb
        assert t.traffic["weights"] == (c["weight_words"] * wb if c["load_weights"] else 0)
        assert t.traffic["activations"] == (c["act_words"] * ab if c["load_acts"] else 0)
        res = c["row_tiles"] * (c["cols"][1] - c["cols"][0]) * ob
        final = kb == plan.layer["k_blocks"] - 1
        assert t.traffic["outputs"] == (res if final else 0)
        assert t.traffic["psums_out"] == (0 if final else res)
        assert t.traffic["psums_in"] == 0               # summed on the host
        seen_w.add((kb, c["round"]))
        seen_a.add((kb, c["nblock"]))
    # every (K block, round) weight set and (K block, column block) activation set loaded >= once
    assert plan.traffic["weights"] >= sum(
        t.coords["weight_words"] * wb for t in plan.tiles if t.coords["load_weights"])
    assert len(seen_w) * 1 <= sum(t.coords["load_weights"] for t in plan.tiles)
    assert plan.layer["k_blocks"] == 3 and plan.psum == "host"
    for B in (1, 7.5, 64):
        assert plan.bound_cycles(B) == sum(max(t.cycles, math.ceil(t.bytes_moved / B))
                                           for t in plan.tiles)
    assert plan.bound_cycles(1) > plan.cycles           # bandwidth-bound at 1 B/cycle


def test_default_blocks_are_the_largest_that_fit(seed):
    rng = np.random.default_rng(seed)
    w = sparse(rng, (8, 1024), 0.9)                     # 16 windows; dense-ish rows: ~8 beats each
    plan = plan_gemm(w, 3, "suds", CFG)
    counts = ge.window_counts(w, CFG.core)
    T = ge.lane_cycles(counts, "suds", CFG.core).max(-1)
    kw = plan.layer["k_windows"]
    assert block_beats(T, kw).max() <= CFG.weight_depth
    if kw < min(16, CFG.act_depth):
        assert block_beats(T, kw + 1).max() > CFG.weight_depth
    assert plan.layer["n_block"] == min(3, CFG.act_depth // kw)


def test_paper_plan_of_the_bench_gemm():
    rng = np.random.default_rng(0)
    w = sparse(rng, (128, 2304), 0.2)
    plan = plan_gemm(w, 64, "suds", GEMM_PAPER)
    assert (covered(plan, 128, 1, 1).sum() == 128) and plan.psum == "none"
    assert plan.cycles == ge.cycle_model(w, 64, "suds", GEMM_PAPER.core)["cycles"]
    assert all(t.coords["weight_words"] <= 512 and t.coords["act_words"] <= 512
               for t in plan.tiles)


def test_plan_errors_name_the_limit():
    rng = np.random.default_rng(1)
    w = sparse(rng, (8, 640), 1.0)                     # 10 windows, dense: 8 beats per window
    with pytest.raises(PlanError, match=r"a K block of 10 windows needs 10 activation words per "
                                        r"column, the activation buffer holds 8"):
        plan_gemm(w, 2, "dense", dataclasses.replace(CFG, act_depth=8), k_windows=10)
    with pytest.raises(PlanError, match=r"row tile 0 of K block 0 needs 80 weight words, the "
                                        r"weight buffer holds 64"):
        plan_gemm(w, 2, "dense", CFG, k_windows=10)
    with pytest.raises(PlanError, match=r"a block of 5 columns x 4 windows needs 20 activation "
                                        r"words, the activation buffer holds 16"):
        plan_gemm(w, 5, "dense", CFG, k_windows=4, n_block=5)
    with pytest.raises(PlanError, match="n_cols must be a positive int"):
        plan_gemm(w, 0, "dense", CFG)
    with pytest.raises(PlanError, match="k_windows must be a positive int"):
        plan_gemm(w, 1, "dense", CFG, k_windows=0)

    class Tiny:                                         # a config from elsewhere, not validated
        core, weight_depth, act_depth = SMALL, 4, 4
        weight_word_bits = act_word_bits = out_word_bits = 8
    with pytest.raises(PlanError, match=r"needs up to 8 weight words \(G\), the weight buffer "
                                        r"holds 4"):
        plan_gemm(w, 1, "dense", Tiny())
    with pytest.raises(ValueError, match="not supported by this core"):
        plan_gemm(w, 1, "nm:2:16", CFG)
    bad = np.zeros((8, 640), np.int64)
    bad[3, 4:7] = 1
    with pytest.raises(ValueError, match="2:4 violation: row 3, group 1"):
        plan_gemm(bad, 1, "nm:2:4", CFG)
    with pytest.raises(TypeError, match="must be an integer array"):
        plan_gemm(w.astype(np.float32), 1, "dense", CFG)
    with pytest.raises(ValueError, match=r"does not fit signed 8-bit"):
        plan_gemm(w * 2, 1, "dense", CFG)


def test_gemm_config_validation_and_round_trip(tmp_path):
    for kwargs, msg in [({"weight_depth": 4}, "weight_depth must be in 8..1048576, not 4"),
                        ({"act_depth": 0}, "act_depth must be in 1..1048576, not 0"),
                        ({"core": "small"}, "core must be an EurekaConfig, not 'small'"),
                        ({"weight_depth": 2.0}, "weight_depth must be an integer, not 2.0")]:
        with pytest.raises(ConfigError, match=re.escape(msg)):
            EurekaGemmConfig(**{"core": SMALL, **kwargs})
    for cfg in GEMM_PRESETS.values():
        assert EurekaGemmConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert resolve_gemm("small") is GEMM_SMALL and resolve_gemm("paper") is GEMM_PAPER
    assert resolve_gemm(SMALL) == EurekaGemmConfig(core=SMALL)
    p = tmp_path / "core.json"
    p.write_text(json.dumps(SMALL.to_dict()))           # a plain core config: default buffers
    assert resolve_gemm(p) == EurekaGemmConfig(core=SMALL)
    p.write_text(json.dumps({"config": GEMM_SMALL.to_dict()}))   # a sidecar
    assert resolve_gemm(str(p)) == GEMM_SMALL
    with pytest.raises(ConfigError, match="config must be one of"):
        resolve_gemm("huge")
    with pytest.raises(ConfigError, match="unknown EurekaGemmConfig field"):
        EurekaGemmConfig.from_dict({"kind": "EurekaGemmConfig", "depth": 3})
    assert GEMM_PAPER.core == EurekaConfig() and GEMM_PAPER.act_word_bits == 256 * 8


def test_planner_is_pure():
    src = (Path(__file__).parents[1] / "golden" / "eureka_plan.py").read_text()
    assert not re.search(r"^\s*(from|import)\s+(hw|sim|synth)\b", src, re.MULTILINE)


@pytest.mark.parametrize("mode", ["suds", "unstructured-nosuds"])
def test_permuted_plan_matches_the_balanced_cycle_model(seed, mode):
    rng = np.random.default_rng(seed)
    w = sparse(rng, (11, 700), 0.3)
    w[5] = 0
    whole = ge.cycle_model(w, 6, mode, CFG.core, permute=True)["cycles"]
    plan = plan_gemm(w, 6, mode, CFG, permute=True)
    assert plan.layer["permute"] and plan.psum == "none"
    assert plan.cycles == whole
    sched = ge.pack(w, mode, CFG.core, permute=True)
    for t in plan.tiles:
        c = t.coords
        assert c["k"] is None and c["row_tiles"] == 1 and c["load_acts"]
        assert c["weight_words"] == sched.tiles[c["round"]].beats <= CFG.weight_depth
        assert c["act_words"] <= CFG.act_depth
    # K blocks of the balanced windows: every tile's windows covered once, cycles never fewer
    split = plan_gemm(w, 6, mode, CFG, permute=True, k_windows=2)
    for r, ts in enumerate(sched.tiles):
        got = sorted(tuple(t.coords["windows"]) for t in split.tiles
                     if t.coords["round"] == r and t.coords["nblock"] == 0)
        assert got[0][0] == 0 and got[-1][1] == len(ts.T)
        assert all(a[1] == b[0] for a, b in zip(got, got[1:]))
    assert split.cycles >= whole and split.psum == "host"
    with pytest.raises(PlanError, match="permute applies to the unstructured modes"):
        plan_gemm(w, 6, "dense", CFG, permute=True)
