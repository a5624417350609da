"""SparTen compute unit (hw/sparten/cu.py) on the Amaranth simulator: random chunk pairs grouped
into output positions (first/last framing) under random idle cycles; every dot product must equal
the golden one, written at its address, and the busy / matched counters must equal the golden
inner-join costs. The cluster's tests are in test_sparten_cluster.py.
"""

import dataclasses
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.innerjoin import join_cost
from hw.sparten.config import SMALL
from hw.sparten.cu import ComputeUnit
from sim.streams import Driver
from sparten_chunks import chunk_fields, rand_chunk


@pytest.mark.parametrize("mpc,select", [(1, "mux"), (2, "mux"), (4, "mux"), (1, "onehot"),
                                        (4, "onehot")])
def test_cu_dot_products_and_counters(mpc, select, seed):
    cfg = dataclasses.replace(SMALL, matches_per_cycle=mpc, select=select)
    rand = random.Random(f"{seed}:{mpc}")
    dut = ComputeUnit(cfg)
    positions = []
    for p in range(12):
        n = rand.randint(1, 4)
        dens = rand.choice([0.0, 0.3, 0.7, 1.0])
        pairs = [(rand_chunk(rand, cfg.chunk, dens), rand_chunk(rand, cfg.chunk, rand.random()))
                 for _ in range(n)]
        positions.append(pairs)
    want_res = [(p, int(sum(int(np.dot(f, a)) for f, a in pairs))) for p, pairs in enumerate(positions)]
    want_busy = sum(join_cost(int(np.count_nonzero(f * a)), mpc) for pairs in positions
                    for f, a in pairs)
    want_matched = sum(int(np.count_nonzero(f * a)) for pairs in positions for f, a in pairs)
    got = []

    beats = []
    for p, pairs in enumerate(positions):
        for i, (f, a) in enumerate(pairs):
            fm, fv = chunk_fields(f)
            am, av = chunk_fields(a)
            beats.append({"act": {"mask": am, "values": av}, "wgt": {"mask": fm, "values": fv},
                          "first": i == 0, "last": i == len(pairs) - 1, "out_addr": p})
    driver = Driver(dut.i, beats, idle=0.3, rand=rand)

    res_cycles = []

    async def monitor(ctx):
        for t in range(5000):
            _, _, v, addr, value = await ctx.tick().sample(dut.res.valid, dut.res.addr,
                                                           dut.res.value)
            if v:
                got.append((int(addr), int(value)))
                res_cycles.append(t)
            if len(got) == len(positions):
                break
        for _ in range(4):
            await ctx.tick()
        assert ctx.get(dut.count.busy) == want_busy
        assert ctx.get(dut.count.matched) == want_matched
        assert ctx.get(dut.idle)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(driver.run, background=True)
    sim.add_testbench(monitor)
    sim.run()
    assert got == want_res, f"seed={seed}"
    # The published latency: a position's result is valid ComputeUnit.latency cycles after the
    # transfer of its last chunk, plus that chunk's cost beyond one beat.
    ends = [k for k, b in enumerate(beats) if b["last"]]
    want_cycles = [driver.cycles[k] + ComputeUnit.latency
                   + join_cost(int(np.count_nonzero(pairs[-1][0] * pairs[-1][1])), mpc) - 1
                   for k, pairs in zip(ends, positions)]
    assert res_cycles == want_cycles, f"seed={seed}"


def test_select_is_validated():
    from hw.common.config import ConfigError
    from hw.sparten.config import PAPER, SparTenConfig
    from hw.sparten.dense_baseline import DenseMacConfig
    with pytest.raises(ConfigError, match="select"):
        SparTenConfig(select="tree")
    with pytest.raises(ConfigError, match="select"):
        DenseMacConfig(select="tree")
    onehot = dataclasses.replace(PAPER, select="onehot")
    assert DenseMacConfig.like(onehot).select == "onehot"       # like for like
    assert SparTenConfig().select == PAPER.select == "mux"      # BARISTA's units: unchanged
