"""SparTen layer top (hw/sparten/layer.py) against golden/: bit-exact outputs, cycle-exact counters.

Tier 1 (Amaranth simulator): small layers on configurations the RTL tier does not build
(2 and 4 matches per cycle, no permutation network, input FIFO). Tier 2 (cocotb on Verilator, one
simulation per config): random layers with densities 0..1, strides 1-2, padding 0-1, 1x1, FC,
K > n_units, C not a multiple of the chunk, GB-S/GB-H slot orders, the output path and a two-layer
SparseMap chain, every one under random idle cycles on the load port and backpressure on the output.
Every case asserts the hardware cycle counter and the per-unit busy/matched/stall counters equal to
golden/sparten_model.py.
"""

import dataclasses
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.sparten.config import SMALL
from hw.sparten.layer import SparTenLayer
from sim.coverage import Coverage, sparten_layer_bins
from sim.run_sparten import prepare_case
from sim.streams import beat_bits, stream_get, stream_put


def rand_layer(rng, K, C, H, W, R, S, dw, da):
    w = (rng.random((K, C, R, S)) < dw) * rng.integers(-128, 128, (K, C, R, S))
    a = (rng.random((C, H, W)) < da) * rng.integers(-128, 128, (C, H, W))
    return w.astype(np.int8), a.astype(np.int8)


def run_case_amaranth(config, case, seed):
    """Execute one prepared case on the Amaranth simulator (same protocol as the cocotb bench)."""
    dut = SparTenLayer(config)
    rand = random.Random(seed)
    got, res = [], {}
    prefix = getattr(dut, case.stream)

    async def bench(ctx):
        ctx.set(dut.desc.as_value(), case.desc)
        for beat in case.loads:
            await stream_put(ctx, dut.load, beat, idle=case.idle, rand=rand)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        cap = case.cap + 20 * case.n_out + 200
        for _ in range(case.n_out):
            p = await stream_get(ctx, prefix, backpressure=case.backpressure, rand=rand, cap=cap)
            got.append(beat_bits(p))
        res["cycles"] = ctx.get(dut.cycles)
        counters = []
        for u in range(config.n_units):
            ctx.set(dut.ctr_sel, u)
            c = ctx.get(dut.ctr)
            counters.append([int(c.busy), int(c.matched), int(c.stall)])
        res["counters"] = counters

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got, res


def check_amaranth(config, case, seed):
    got, res = run_case_amaranth(config, case, seed)
    assert len(got) == case.n_out, f"{case.name}: {len(got)} of {case.n_out} beats (seed={seed})"
    assert tuple(got) == case.expect, f"{case.name}: output differs from golden (seed={seed})"
    assert res["cycles"] == case.cycles, f"{case.name}: RTL {res['cycles']} != model {case.cycles}"
    counters = tuple(tuple(c) for c in res["counters"])
    assert counters == case.counters, f"{case.name}: counters {counters} != {case.counters}"


AMARANTH_CONFIGS = {
    "m2_fifo_q2": dataclasses.replace(SMALL, matches_per_cycle=2, fifo_depth=2, unit_fifo_depth=2),
    "m4_noperm": dataclasses.replace(SMALL, chunk=16, n_units=3, matches_per_cycle=4, permute=False),
}


@pytest.mark.parametrize("name", sorted(AMARANTH_CONFIGS))
def test_layer_amaranth(name, seed):
    cfg = AMARANTH_CONFIGS[name]
    rng = np.random.default_rng(seed)
    shapes = [  # K, C, H, W, R, S, stride, pad, dw, da
        (5, 12, 5, 4, 3, 3, 1, 1, 0.6, 0.7),
        (4, 20, 4, 4, 1, 1, 2, 0, 1.0, 1.0),
        (7, 9, 1, 1, 1, 1, 1, 0, 0.5, 0.5),      # FC
    ]
    for i, (K, C, H, W, R, S, st, pad, dw, da) in enumerate(shapes):
        w, a = rand_layer(rng, K, C, H, W, R, S, dw, da)
        balance = "gbh" if cfg.permute and i == 0 else "none"
        case, _ = prepare_case(cfg, w, a, st, pad, relu=i == 1, balance=balance,
                               requant=(3, 6) if i == 2 else None, name=f"{name}{i}",
                               idle=0.2, backpressure=0.3)
        check_amaranth(cfg, case, seed)


# ---------------------------------------------------------------------------------------------
# RTL tier: cocotb on Verilator. Two builds: SMALL (chunk 8, 4 units, 1 match/cycle, permutation
# network) and RTL_B (chunk 8, 3 units, 2 matches/cycle, input FIFO, one waiting chunk per unit, no
# permutation network; chunk
# 16 and 4 matches/cycle run on the Amaranth simulator above, to keep Verilator builds cheap).

RTL_B = dataclasses.replace(SMALL, n_units=3, matches_per_cycle=2, fifo_depth=2, permute=False,
                            unit_fifo_depth=1, act_depth=512, weight_depth=256, out_depth=512)

# K, C, H, W, R, S, stride, pad, dw, da, relu, balance, requant
SMALL_SHAPES = [
    (6, 12, 6, 5, 3, 3, 1, 1, 0.5, 0.6, False, "none", None),     # C not a multiple of 8, K > N
    (4, 8, 5, 5, 3, 3, 1, 0, 0.0, 0.7, False, "none", None),       # all-zero weights
    (4, 8, 5, 5, 3, 3, 1, 1, 1.0, 1.0, True, "none", None),        # fully dense, ReLU
    (5, 16, 4, 4, 3, 3, 1, 1, 0.4, 0.0, False, "none", None),      # all-zero activations
    (9, 10, 7, 7, 3, 3, 2, 1, 0.5, 0.5, False, "gbs", None),       # stride 2, GB-S, 3 rounds
    (10, 24, 6, 6, 3, 3, 2, 0, 0.3, 0.8, False, "gbh", None),      # stride 2 no padding, GB-H
    (8, 20, 5, 6, 1, 1, 1, 0, 0.6, 0.4, False, "gbh", None),       # 1x1
    (13, 40, 1, 1, 1, 1, 1, 0, 0.5, 0.5, True, "none", None),      # FC
    (6, 9, 4, 4, 2, 3, 1, 1, 0.9, 0.2, True, "none", (5, 7)),      # output path, R != S
    (3, 1, 3, 3, 3, 3, 1, 1, 1.0, 1.0, False, "none", None),       # C = 1
    (1, 3, 1, 1, 3, 3, 1, 1, 1.0, 1.0, True, "gbs", None),         # K = 1, only the centre tap
]


def small_cases(config, seed, shapes, cov=None):
    """The RTL cases; with ``cov`` (a sim.coverage.Coverage) each case's stimulus is classified."""
    rng = np.random.default_rng(seed)
    pr = random.Random(seed)
    cases = []

    def classify(w, a, stride):
        if cov is not None:
            cov.hit(*sparten_layer_bins(w, a, stride, config.chunk))
    for i, (K, C, H, W, R, S, st, pad, dw, da, relu, bal, req) in enumerate(shapes):
        w, a = rand_layer(rng, K, C, H, W, R, S, dw, da)
        if not config.permute:
            bal = "none"
        case, _ = prepare_case(config, w, a, st, pad, relu, bal, req, name=f"case{i}",
                               idle=pr.choice([0.1, 0.3, 0.5]), backpressure=pr.choice([0.1, 0.3, 0.6]))
        cases.append(case)
        classify(w, a, st)
    # Random shapes beyond the list: any K, C, map, kernel, stride, padding, density, order, mode.
    for i in range(8):
        R, S = pr.randint(1, 3), pr.randint(1, 3)
        pad = pr.randint(0, min(R, S) - 1)
        st = pr.randint(1, 2)
        H, W = pr.randint(max(1, R - 2 * pad), 7), pr.randint(max(1, S - 2 * pad), 7)
        K, C = pr.randint(1, 12), pr.randint(1, 24)
        dw, da = pr.choice([0.0, 0.2, 0.5, 0.9, 1.0]), pr.choice([0.0, 0.3, 0.6, 1.0])
        w, a = rand_layer(rng, K, C, H, W, R, S, dw, da)
        bal = pr.choice(["none", "gbs", "gbh"]) if config.permute else "none"
        req = pr.choice([None, (pr.randint(1, 200), pr.randint(0, 12))])
        case, _ = prepare_case(config, w, a, st, pad, pr.random() < 0.5, bal, req,
                               name=f"random{i}", idle=pr.choice([0.1, 0.4]),
                               backpressure=pr.choice([0.1, 0.5]))
        cases.append(case)
        classify(w, a, st)
    # A two-layer chain: layer 0's output chunks (requantised, ReLU) are the RTL's input of layer 1.
    w0, a0 = rand_layer(rng, 12, 10, 6, 6, 3, 3, 0.5, 0.6)
    w1, _ = rand_layer(rng, 5, 12, 1, 1, 3, 3, 0.5, 1.0)
    c0, i0 = prepare_case(config, w0, a0, 1, 1, True, "none", (3, 8), name="chain0",
                          idle=0.2, backpressure=0.3)
    c1, _ = prepare_case(config, w1, i0["golden"], 2, 1, False, "none", None, name="chain1",
                         idle=0.2, backpressure=0.3, chain=True)
    return cases + [c0, c1]


@pytest.mark.rtl
@pytest.mark.parametrize("cfg_name", ["small", "b"])
def test_layer_rtl(cfg_name, seed):
    from sim.run_sparten import run_cases
    cfg = SMALL if cfg_name == "small" else RTL_B
    shapes = SMALL_SHAPES if cfg_name == "small" else SMALL_SHAPES[:1] + SMALL_SHAPES[4:9]
    cov = Coverage(f"sparten_layer_{cfg_name}")
    cases = small_cases(cfg, seed, shapes, cov)
    results = run_cases(cfg, cases, seed=seed)        # asserts inside the bench; double-check here
    for case, res in zip(cases, results):
        assert tuple(res["out"]) == case.expect, case.name
        assert res["cycles"] == case.cycles, case.name
        cov.hit(*(e for e, hit in res["events"].items() if hit))
    if cfg_name == "small":
        cov.require()       # DESIGN.md's corner cases all ran on this build (sim/coverage.py)
    else:
        cov.write()


@pytest.mark.rtl
@pytest.mark.slow
def test_layer_rtl_million_macs(seed):
    """A ~0.9M-matched-MAC layer (16 x 64 x 3 x 3 on 16 x 16, GB-H) on the RTL: the bench loads the
    memories and lets the design run, so the simulation takes seconds (about 15 s on a quiet
    2-core machine, ~305k cycles)."""
    import time

    from sim.run_sparten import build, run_cases
    build(SMALL)            # not timed: the model is shared with the other tests
    rng = np.random.default_rng(seed)
    w, a = rand_layer(rng, 16, 64, 16, 16, 3, 3, 0.6, 0.7)
    case, info = prepare_case(SMALL, w, a, 1, 1, False, "gbh", None, name="million",
                              idle=0.2, backpressure=0.3)
    assert info["model"]["matched_macs"] > 800_000
    t0 = time.monotonic()
    res = run_cases(SMALL, [case], seed=seed)[0]
    elapsed = time.monotonic() - t0
    assert tuple(res["out"]) == case.expect and res["cycles"] == case.cycles
    print(f"{info['model']['matched_macs']} matched MACs, {res['cycles']} cycles in {elapsed:.1f} s")
    # A loose guard only (shared, loaded cores): it catches Python work creeping into the compute
    # loop (which would cost minutes), not ordinary load.
    assert elapsed < 300, f"{elapsed:.1f} s"


@pytest.mark.rtl
def test_layer_rtl_reset_mid_layer(seed):
    """Semantics under faults: ``rst`` in the middle of a layer (during the compute phase, and
    during the readout) leaves the engine ready for the next run, which is bit- and cycle-exact
    (memories are reloaded; the reset clears only the control state)."""
    from sim.run_sparten import run_cases
    rng = np.random.default_rng(seed)
    w, a = rand_layer(rng, 6, 12, 5, 5, 3, 3, 0.6, 0.7)
    case, _ = prepare_case(SMALL, w, a, 1, 1, False, "gbh", None, name="full", idle=0.2,
                           backpressure=0.3)
    mid = case.replace(name="abort_compute", abort_after=case.cycles // 2)
    late = case.replace(name="abort_readout", abort_after=case.cycles + 8)
    results = run_cases(SMALL, [mid, case, late, case], seed=seed)
    assert [r.get("aborted", False) for r in results] == [True, False, True, False]
    assert results[0]["busy_at_reset"] and results[2]["busy_at_reset"], \
        "the reset must land while the layer is running"
    for res in (results[1], results[3]):
        assert tuple(res["out"]) == case.expect and res["cycles"] == case.cycles
