"""Run a 1x1 layer of one filter on the BARISTA filter group (``hw.barista.group.BaristaGroup``)
in the Amaranth simulator and compare it with the golden models.

Used by ``tests/test_barista_group.py`` and by the benchmark's RTL check
(:func:`sim.bench_barista.rtl_check`). The group's memories are loaded through its write ports,
the run is started and every grant, task end and result is recorded.
"""

import dataclasses

import numpy as np

__all__ = ["run_group", "task_costs", "check_layer", "rtl_config"]


def _vec_chunks(v, cfg):
    from golden.sparsemap import encode_vector
    from hw.sparten.memmap import pack_chunk
    return [pack_chunk(c.mask, c.values, cfg) for c in encode_vector(v, cfg.chunk)]


def run_group(config, w, a, tile_size, max_cycles=20000):
    """``w[C]`` one filter, ``a[P, C]`` the positions on ``BaristaGroup(config)``.

    Returns ``{"start", "unit", "value"}`` (per task: grant cycle, unit, result) and ``"end"``
    (cycle of the last task end, counted from the cycle after ``start``).
    """
    from amaranth.sim import Simulator
    from hw.barista.group import BaristaGroup, cu_config

    dut = BaristaGroup(config)
    cu = cu_config(config)
    n, P = config.units_per_cluster, a.shape[0]
    fchunks = _vec_chunks(w, cu)
    nc = len(fchunks)
    if P * nc > config.input_buffer_chunks:
        raise ValueError(f"{P} positions x {nc} chunks do not fit input_buffer_chunks="
                         f"{config.input_buffer_chunks}")
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
        raise RuntimeError(f"the group did not finish in {max_cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


def task_costs(w, a, chunk, matches_per_cycle=1):
    """SparTen's cost of each position's dot product: sum over chunks of max(1, ceil(m / M))."""
    from golden.sparsemap import encode_vector
    mw = [c.mask for c in encode_vector(w, chunk)]
    M = matches_per_cycle
    return [sum(max(1, -(-bin(f & c.mask).count("1") // M))
                for f, c in zip(mw, encode_vector(row, chunk))) for row in a]


def rtl_config(config, W, nc, rows=2):
    """One cluster of ``config``'s units, banks that never limit, no task pieces, and an input
    buffer giving tiles of ``rows`` rows of a ``W``-wide 1x1 layer of ``nc`` chunks (so that the
    layer model's tiles are the group's)."""
    return dataclasses.replace(config, n_clusters=1, banks=64, bank_bytes_per_cycle=1024,
                               min_tasks_per_unit=0,
                               input_buffer_chunks=(config.colours + 1) * rows * W * nc)


def check_layer(w, a, config, rows=2):
    """The 1x1 layer ``w[1,C,1,1]`` on ``a[C,H,W]``: RTL (the group) vs golden.

    Returns ``{rtl_cycles, model_cycles, schedule_cycles, bit_exact, equal, P, C}``:
    ``rtl_cycles`` the group's last task end, ``model_cycles`` :func:`golden.barista.layer_cycles`
    on :func:`rtl_config`, ``schedule_cycles`` :func:`golden.barista.group_schedule`.
    """
    from golden.barista import group_schedule, layer_cycles
    C, H, W = a.shape
    nc = -(-C // config.chunk)
    cfg = rtl_config(config, W, nc, rows)
    wv = np.asarray(w, dtype=np.int64).reshape(C)
    rows_a = np.asarray(a, dtype=np.int64).reshape(C, H * W).T
    got = run_group(cfg, wv, rows_a, rows * W)
    sched = group_schedule(task_costs(wv, rows_a, cfg.chunk, cfg.matches_per_cycle),
                           cfg.units_per_cluster, rows * W, cfg.colours)
    model = layer_cycles(np.asarray(w).reshape(1, C, 1, 1), a, cfg)
    exact = got["value"] == (rows_a @ wv).tolist()
    ok = exact and got["end"] == model["cycles"] == sched["end"] \
        and got["start"] == sched["start"] and got["unit"] == sched["unit"]
    return {"P": H * W, "C": C, "rtl_cycles": got["end"], "model_cycles": model["cycles"],
            "schedule_cycles": sched["end"], "bit_exact": exact, "equal": ok}
