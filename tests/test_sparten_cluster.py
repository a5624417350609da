"""SparTen cluster (hw/sparten/cluster.py) on the Amaranth simulator: the barrier makes a chunk
cost its slowest unit, back to back (checked against golden/innerjoin.join_cost); the activation
chunk and its group prefixes held once in the cluster give the same results at the same edges as a
copy in every unit; sharing needs the barrier.
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
from sim.streams import Driver
from sparten_chunks import chunk_fields, rand_chunk


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


def _run_cluster(dut, cfg, filters, beats, seed):
    """Load ``filters[addr][unit]`` into the banks, then drive ``beats`` with random idle cycles;
    returns every result strobe as ``(edge, unit, addr, value)`` and the transfer edges."""
    n = cfg.n_units
    rand = random.Random(seed)
    driver = Driver(dut.i, beats, idle=0.4, rand=rand)
    events = []

    async def load_then_drive(ctx):
        for t, row in enumerate(filters):
            for u in range(n):
                m, v = compact(row[u])
                ctx.set(dut.w_wr, {"en": 1, "unit": u, "addr": t, "data": {
                    "mask": m, "values": list(v) + [0] * (cfg.chunk - len(v))}})
                await ctx.tick()
        ctx.set(dut.w_wr.en, 0)
        await driver.run(ctx)

    async def monitor(ctx):
        want = n * sum(b["last"] for b in beats)
        for t in range(20000):
            await ctx.tick()
            for u in range(n):
                if ctx.get(dut.res[u].valid):
                    events.append((t, u, ctx.get(dut.res[u].addr), ctx.get(dut.res[u].value)))
            if len(events) == want:
                break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(load_then_drive)
    sim.add_testbench(monitor)
    sim.run()
    return events, driver.cycles


#: Shared-chunk configurations: SMALL (chunk 8, one group of the join), chunk 32 (four groups: the
#: held group prefixes and the in-group popcount), and chunk 32 with two matches per cycle.
SHARED_CONFIGS = {
    "chunk8": SMALL,
    "chunk32": dataclasses.replace(SMALL, chunk=32, n_units=3),
    "chunk32_mpc2": dataclasses.replace(SMALL, chunk=32, n_units=2, matches_per_cycle=2),
    "chunk32_onehot": dataclasses.replace(SMALL, chunk=32, n_units=2, select="onehot"),
    "chunk16_mpc2_onehot": dataclasses.replace(SMALL, chunk=16, n_units=2, matches_per_cycle=2,
                                               select="onehot"),
}


@pytest.mark.parametrize("name", sorted(SHARED_CONFIGS))
def test_cluster_shared_act_matches_private(name, seed):
    """The activation chunk (and its group prefixes) held once in the cluster (the default at
    unit_fifo_depth 0) gives the same dot products, at the same edges, as a copy in every unit;
    both equal the golden sums."""
    cfg = SHARED_CONFIGS[name]
    n = cfg.n_units
    rand = random.Random(f"{seed}:shared:{name}")
    filters = [[rand_chunk(rand, cfg.chunk, rand.choice([0.2, 0.6, 1.0])) for _ in range(n)]
               for _ in range(8)]
    beats, want = [], {}
    for p in range(10):
        k = rand.randint(1, 3)
        for i in range(k):
            addr = rand.randrange(len(filters))
            act = rand_chunk(rand, cfg.chunk, rand.choice([0.0, 0.5, 1.0]))
            am, av = chunk_fields(act)
            beats.append({"act": {"mask": am, "values": av}, "w_addr": addr, "first": i == 0,
                          "last": i == k - 1, "out_addr": p})
            for u in range(n):
                want[u, p] = want.get((u, p), 0) + int(np.dot(filters[addr][u], act))
    shared = Cluster(cfg)
    assert shared.shared_act
    got_s, taken_s = _run_cluster(shared, cfg, filters, beats, seed)
    got_p, taken_p = _run_cluster(Cluster(cfg, shared_act=False), cfg, filters, beats, seed)
    assert got_s == got_p, f"seed={seed}"
    assert taken_s == taken_p, f"seed={seed}"
    assert {(u, a): v for _, u, a, v in got_s} == want, f"seed={seed}"
    assert len(got_s) == len(want)


def test_shared_act_needs_barrier():
    cfg = dataclasses.replace(SMALL, unit_fifo_depth=2)
    private = Cluster(cfg)
    private._MustUse__silence = True
    assert not private.shared_act
    with pytest.raises(ValueError, match="unit_fifo_depth"):
        Cluster(cfg, shared_act=True)
    with pytest.raises(ValueError, match="unit_fifo_depth"):
        ComputeUnit(cfg, shared_act=True)
