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
from sim.run_sparten import prepare_case


def rand_layer(rng, K, C, H, W, R, S, dw, da):
    w = (rng.random((K, C, R, S)) < dw) * rng.integers(-128, 128, (K, C, R, S))
    a = (rng.random((C, H, W)) < da) * rng.integers(-128, 128, (C, H, W))
    return w.astype(np.int8), a.astype(np.int8)


def run_case_amaranth(config, case, seed):
    """Execute one prepared case on the Amaranth simulator (same protocol as the cocotb bench)."""
    dut = SparTenLayer(config)
    rand = random.Random(seed)
    got, res = [], {}
    prefix = dut.o_chunk if case["mode"] == "chunk" else dut.o_acc

    async def bench(ctx):
        ctx.set(dut.desc.as_value(), case["desc"])
        for beat in case["loads"]:
            while rand.random() < case["idle"]:
                ctx.set(dut.load.valid, 0)
                await ctx.tick()
            ctx.set(dut.load.valid, 1)
            ctx.set(dut.load.payload.as_value(), beat)
            await ctx.tick().until(dut.load.ready)
        ctx.set(dut.load.valid, 0)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(case["cap"] + 20 * case["n_out"] + 200):
            r = rand.random() >= case["backpressure"]
            ctx.set(prefix.ready, r)
            _, _, v, p = await ctx.tick().sample(prefix.valid, prefix.payload)
            if v and r:
                got.append(int(p.as_value().value) if hasattr(p, "as_value") else int(p))
            if len(got) == case["n_out"]:
                break
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
    assert len(got) == case["n_out"], f"{case['name']}: {len(got)} of {case['n_out']} beats (seed={seed})"
    assert got == case["expect"], f"{case['name']}: output differs from golden (seed={seed})"
    assert res["cycles"] == case["cycles"], f"{case['name']}: RTL {res['cycles']} != model {case['cycles']}"
    assert res["counters"] == case["counters"], f"{case['name']}: counters {res['counters']} != {case['counters']}"


AMARANTH_CONFIGS = {
    "m2_fifo": dataclasses.replace(SMALL, matches_per_cycle=2, fifo_depth=2),
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
