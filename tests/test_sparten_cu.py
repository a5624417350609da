"""SparTen compute unit and cluster (hw/sparten/cu.py, cluster.py) on the Amaranth simulator.

The unit: random chunk pairs grouped into output positions (first/last framing) under random idle
cycles; every dot product must equal the golden one, written at its address, and the busy /
matched counters must equal the golden inner-join costs. The cluster: the barrier makes a chunk
cost its slowest unit, back to back (checked against golden/innerjoin.join_costs).
"""

import dataclasses
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.innerjoin import join_cost
from golden.sparsemap import compact
from hw.sparten.cluster import Cluster
from hw.sparten.config import SMALL
from hw.sparten.cu import ComputeUnit
from hw.sparten.memmap import pack_chunk
from streams import Driver


def rand_chunk(rand, chunk, density):
    vec = np.array([rand.randrange(-128, 128) if rand.random() < density else 0
                    for _ in range(chunk)], dtype=np.int64)
    return vec


def chunk_fields(vec):
    mask, vals = compact(vec)
    return mask, list(vals) + [0] * (len(vec) - len(vals))


@pytest.mark.parametrize("mpc", [1, 2, 4])
def test_cu_dot_products_and_counters(mpc, seed):
    cfg = dataclasses.replace(SMALL, matches_per_cycle=mpc)
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


def test_cluster_barrier_cycles(seed):
    """Back-to-back chunks: the cluster takes chunk t+1 exactly max_u cost(u, t) cycles after t."""
    cfg = SMALL
    rand = random.Random(seed)
    n = cfg.n_units
    dut = Cluster(cfg)
    filters = [[rand_chunk(rand, cfg.chunk, rand.choice([0.2, 0.6, 1.0])) for _ in range(n)]
               for _ in range(6)]
    acts = [rand_chunk(rand, cfg.chunk, rand.choice([0.0, 0.5, 1.0])) for _ in range(6)]
    costs = [max(join_cost(int(np.count_nonzero(filters[t][u] * acts[t])), 1) for u in range(n))
             for t in range(6)]
    taken = []

    async def bench(ctx):
        for t in range(6):
            for u in range(n):
                m, v = compact(filters[t][u])
                ctx.set(dut.w_wr, {"en": 1, "unit": u, "addr": t, "data": {
                    "mask": m, "values": list(v) + [0] * (cfg.chunk - len(v))}})
                await ctx.tick()
        ctx.set(dut.w_wr.en, 0)
        cycle = 0
        for t in range(6):
            am, av = chunk_fields(acts[t])
            ctx.set(dut.i.payload, {"act": {"mask": am, "values": av}, "w_addr": t,
                                    "first": 1, "last": 1, "out_addr": t})
            ctx.set(dut.i.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                cycle += 1
                if ready:
                    taken.append(cycle)
                    break
        ctx.set(dut.i.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # Chunk t+2 enters the input stage when chunk t+1 leaves it for the units, i.e. when chunk t
    # is done: the spacing of transfers is the cost of the chunk two ahead in the pipeline.
    gaps = [b - a for a, b in zip(taken, taken[1:])]
    assert gaps[1:] == costs[:len(gaps) - 1], (gaps, costs)
    assert pack_chunk(0, [], cfg) == 0
