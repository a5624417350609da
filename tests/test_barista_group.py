"""hw/barista/group.py (one filter's barrier-free group: dispatcher + SparTen compute units,
unchanged) on the Amaranth simulator: results bit-exact against NumPy, every task granted in the
cycle and to the unit golden.barista.group_schedule says, with SparTen's chunk costs."""

import dataclasses
import os

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.barista import group_schedule
from golden.sparsemap import encode_vector
from hw.barista.config import SMALL
from hw.barista.group import BaristaGroup, cu_config
from hw.sparten.memmap import pack_chunk

SEED = int(os.environ.get("SEED", "0"))


def _vec_chunks(v, cfg):
    return [pack_chunk(c.mask, c.values, cfg) for c in encode_vector(v, cfg.chunk)]


def run_group(config, w, a, tile_size, max_cycles=4000):
    """``w[C]`` one filter, ``a[P, C]`` the positions: per task (start cycle, unit), results."""
    dut = BaristaGroup(config)
    cu = cu_config(config)
    n, P = config.units_per_cluster, a.shape[0]
    fchunks = _vec_chunks(w, cu)
    nc = len(fchunks)
    out = {"start": [None] * P, "unit": [None] * P, "value": [None] * P}

    async def bench(ctx):
        for j, word in enumerate(fchunks):
            ctx.set(dut.wgt_we, 1)
            ctx.set(dut.wgt_addr, j)
            ctx.set(dut.wgt_data.as_value(), word)
            await ctx.tick()
        ctx.set(dut.wgt_we, 0)
        for p in range(P):
            for j, word in enumerate(_vec_chunks(a[p], cu)):
                ctx.set(dut.act_we, 1)
                ctx.set(dut.act_addr, p * nc + j)
                ctx.set(dut.act_data.as_value(), word)
                await ctx.tick()
        ctx.set(dut.act_we, 0)
        ctx.set(dut.n_tasks, P)
        ctx.set(dut.tile_size, tile_size)
        ctx.set(dut.n_chunks, nc)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        last = None
        for t in range(max_cycles):
            grant = ctx.get(dut.grant)
            for i in range(n):
                if grant >> i & 1:
                    k = ctx.get(dut.dispatch.task[i])
                    out["start"][k], out["unit"][k] = t, i
                r = ctx.get(dut.res[i])
                if r.valid:
                    out["value"][int(r.addr)] = int(r.value)
            if ctx.get(dut.fin):
                last = t
            if all(v is not None for v in out["value"]):
                out["end"] = last
                return
            await ctx.tick()
        raise AssertionError("group did not finish")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


def task_costs(w, a, chunk):
    mw = [c.mask for c in encode_vector(w, chunk)]
    return [sum(max(1, bin(f & c.mask).count("1")) for f, c in zip(mw, encode_vector(row, chunk)))
            for row in a]


@pytest.mark.parametrize("seed,C,P,colours,tile,dw,da", [
    (1, 24, 40, 2, 8, 0.5, 0.5), (2, 8, 30, 1, 4, 0.9, 0.9), (3, 40, 24, 3, 5, 0.3, 0.6),
    (4, 16, 33, 2, 16, 0.0, 0.5)])
def test_group_is_bit_exact_and_follows_the_schedule(seed, C, P, colours, tile, dw, da):
    cfg = dataclasses.replace(SMALL, colours=colours)
    rng = np.random.default_rng([SEED, seed])
    w = np.where(rng.random(C) < dw, rng.integers(-128, 128, C), 0)
    a = np.where(rng.random((P, C)) < da, rng.integers(1, 128, (P, C)), 0)
    got = run_group(cfg, w, a, tile)
    assert got["value"] == (a @ w).tolist(), f"SEED={SEED}"
    want = group_schedule(task_costs(w, a, cfg.chunk), cfg.units_per_cluster, tile, colours)
    assert got["start"] == want["start"] and got["unit"] == want["unit"], f"SEED={SEED}"
    assert got["end"] == want["end"]
