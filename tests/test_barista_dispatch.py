"""hw/barista/dispatch.py (dynamic round-robin within a filter, coloured tiles) on the Amaranth
simulator, against golden.barista.group_schedule: every task granted to the same unit in the same
cycle; and that schedule against golden.barista.layer_cycles on a one-filter layer."""

import dataclasses
import os

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden import barista
from golden.barista import group_schedule
from hw.barista.config import SMALL
from hw.barista.dispatch import TaskDispatch

SEED = int(os.environ.get("SEED", "0"))
#: The dispatcher's registered tile stages, which the schedule reads.
LAT = TaskDispatch.latencies()


def run_rtl(config, costs, tile_size, max_cycles=5000):
    """Units as the testbench: busy for each granted task's cost, then ``fin``."""
    dut = TaskDispatch(config)
    n = config.units_per_cluster
    got = {"start": [None] * len(costs), "unit": [None] * len(costs)}

    async def bench(ctx):
        ctx.set(dut.n_tasks, len(costs))
        ctx.set(dut.tile_size, tile_size)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ends = [None] * n
        last = 0
        for t in range(max_cycles):
            fin = sum(1 << i for i in range(n) if ends[i] == t)
            ctx.set(dut.fin, fin)
            grant = ctx.get(dut.grant)
            for i in range(n):
                if ends[i] == t:
                    ends[i] = None
                    last = t
                if grant >> i & 1:
                    k = ctx.get(dut.task[i])
                    assert got["start"][k] is None, f"task {k} granted twice"
                    got["start"][k], got["unit"][k] = t, i
                    ends[i] = t + int(costs[k])
            if all(s is not None for s in got["start"]) and all(e is None for e in ends):
                got["end"] = last
                await ctx.tick()
                got["idle"] = ctx.get(dut.idle)
                return
            await ctx.tick()
        raise AssertionError("dispatch did not finish")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("colours,tile_size,n_tasks", [(1, 4, 37), (2, 5, 40), (3, 9, 50),
                                                       (2, 64, 30)])
def test_dispatch_matches_group_schedule(colours, tile_size, n_tasks):
    cfg = dataclasses.replace(SMALL, colours=colours)
    rng = np.random.default_rng([SEED, colours, tile_size])
    costs = [int(c) for c in rng.integers(1, 13, size=n_tasks)]
    want = group_schedule(costs, cfg.units_per_cluster, tile_size, colours, **LAT)
    got = run_rtl(cfg, costs, tile_size)
    assert got["start"] == want["start"], f"SEED={SEED}"
    assert got["unit"] == want["unit"], f"SEED={SEED}"
    assert got["end"] == want["end"] and got["idle"] == 1


@pytest.mark.parametrize("colours", [1, 2])
def test_group_schedule_is_the_layer_model(colours):
    """One cluster, one filter: layer_cycles's vectorised scheduler gives group_schedule's end."""
    rng = np.random.default_rng(13)
    w = np.where(rng.random((1, 8, 3, 3)) < 0.6, rng.integers(1, 9, (1, 8, 3, 3)), 0)
    a = np.where(rng.random((8, 8, 8)) < 0.5, rng.integers(1, 9, (8, 8, 8)), 0)
    cfg = dataclasses.replace(SMALL, n_clusters=1, units_per_cluster=4, colours=colours,
                              banks=64, bank_bytes_per_cycle=1024, min_tasks_per_unit=0,
                              input_buffer_chunks=(colours + 1) * 32)
    r = barista.layer_cycles(w, a, cfg, 1, 1, **LAT)
    from golden.sparten_model import chunk_counts
    from golden.innerjoin import join_costs
    cost = sum(join_costs(c, 1)[:, 0] for *_, c in chunk_counts(w, a, cfg.chunk, 1, 1))
    tiles = barista.tile_positions(8, 8, 3, 1, 8, 1, 32, cfg.output_buffer_entries)
    assert len({len(t) for t in tiles}) == 1 and len(tiles) > 2
    want = group_schedule(cost.tolist(), 4, len(tiles[0]), colours, **LAT)
    assert r["cycles"] == want["end"]
    assert run_rtl(cfg, cost.tolist(), len(tiles[0]))["end"] == want["end"]


def test_a_long_task_holds_its_colour_and_tiles_open_in_order():
    """Tile 0 has one long task: with 2 colours tile 2 waits for it, and tile 3 (whose colour,
    tile 1's, is long free) still waits for tile 2 to open."""
    cfg = dataclasses.replace(SMALL, colours=2)
    costs = [60, 1, 1, 1] + [1] * 4 + [2] * 4 + [3] * 4 + [1] * 5
    want = group_schedule(costs, 4, 4, 2, **LAT)
    lat = LAT["open_latency"] + LAT["release_latency"]
    assert min(want["start"][8:]) == want["start"][0] + 60 + lat   # wait for tile 0
    got = run_rtl(cfg, costs, 4)
    assert (got["start"], got["unit"], got["end"]) == (want["start"], want["unit"], want["end"])
