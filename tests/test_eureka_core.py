"""EUREKA core on the Amaranth simulator (fast tier): every mode and variant, bit- and cycle-exact."""

import dataclasses
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden import eureka as ge
from hw.eureka.beats import decode_results, gemm_streams
from hw.eureka.config import EurekaConfig
from hw.eureka.core import EurekaCore
from sim.streams import Driver, Monitor, simulate


def run_amaranth(cfg, w, a, mode, seed=0, idle=0.3, backpressure=0.3):
    """Run W x A on the core in Amaranth's simulator; return (out, busy cycles, end-to-end cycles)."""
    sched = ge.pack(w, mode, cfg)
    wb, ab, n_out = gemm_streams(sched, a)
    dut = EurekaCore(cfg)
    rnd = random.Random(seed)
    cap = 20 * (len(wb) + n_out) + 100
    drv_w = Driver(dut.w, wb, idle=idle, rand=rnd)
    # independent lanes: one activation stream per lane
    drv_a = [Driver(port, beats, idle=idle, rand=rnd) for port, beats in
             (zip(dut.a, ab) if cfg.independent else [(dut.a, ab)])]
    mon = Monitor(dut.o, n_out, backpressure=backpressure, rand=rnd,
                  decode=lambda p: p.as_value().value)
    state = {}

    async def at_end(ctx):
        ctx.set(dut.o.ready, 0)
        state["busy"] = ctx.get(dut.busy)

    simulate(dut, drivers=[drv_w, *drv_a], monitors=[mon], cap=cap, at_end=at_end, seed=seed)
    state["first"], state["end"] = drv_w.cycles[0], mon.cycles[-1]
    # every activation window was consumed, none twice (a surplus would hang or shift results)
    assert [len(d.cycles) for d in drv_a] == [len(d.beats) for d in drv_a]
    return decode_results(cfg, mon.beats, w.shape[0], a.shape[1]), sched, state


def _weights(rng, mode, rows, k, density=0.35):
    if mode.startswith("nm"):
        _, n, m = mode.split(":")
        n, m = int(n), int(m)
        w = rng.integers(-128, 128, (rows, k))
        g = w.reshape(rows, -1, m)
        return (g * (np.argsort(rng.random(g.shape), -1) < n)).reshape(rows, k)
    return rng.integers(-128, 128, (rows, k)) * (rng.random((rows, k)) < density)


@pytest.mark.parametrize("variant,mode", [
    ("eureka", "suds"), ("eureka", "unstructured-nosuds"), ("eureka", "nm:2:4"),
    ("eureka", "dense"), ("dense", "dense"), ("ampere24", "nm:2:4")])
def test_core_amaranth(variant, mode, seed):
    base = EurekaConfig(rows=4, lanes=4, group=8)
    cfg = {"eureka": base, "dense": base.dense_baseline(), "ampere24": base.ampere24_baseline()}[variant]
    rng = np.random.default_rng(seed)
    w = _weights(rng, mode, 6, 40)
    w[1] = 0
    a = rng.integers(-128, 128, (40, 3))
    out, sched, st = run_amaranth(cfg, w, a, mode, seed=seed)
    np.testing.assert_array_equal(out, w @ a, err_msg=f"{variant} {mode} seed {seed}")
    assert st["busy"] == ge.cycle_model(w, 3, mode, cfg)["cycles"]
    # stall-free: end-to-end = busy cycles - 1 + latency (one beat per cycle, no bubbles)
    out, sched, st = run_amaranth(cfg, w, a, mode, seed=seed, idle=0, backpressure=0)
    np.testing.assert_array_equal(out, w @ a)
    assert st["end"] - st["first"] == st["busy"] - 1 + EurekaCore.latency


@pytest.mark.parametrize("variant", ["eureka", "dense", "ampere24"])
def test_fast_packing_equals_layout_const(variant, seed):
    from hw.eureka.beats import (act_window_beats, act_window_beats_const, tile_weight_beats,
                                 tile_weight_beats_const)
    base = EurekaConfig(rows=3, lanes=4, group=8)
    cfg = {"eureka": base, "dense": base.dense_baseline(), "ampere24": base.ampere24_baseline()}[variant]
    mode = {"eureka": "suds", "dense": "dense", "ampere24": "nm:2:4"}[variant]
    rng = np.random.default_rng(seed)
    w = _weights(rng, mode, 5, 64, density=0.5)
    w[0, :2] = [-128, 127]
    w[0, 2:4] = 0
    sched = ge.pack(w, mode, cfg)
    for tile in sched.tiles:
        assert tile_weight_beats(cfg, tile) == tile_weight_beats_const(cfg, tile)
    win = rng.integers(-128, 128, (6, cfg.lanes, cfg.group))
    assert act_window_beats(cfg, win) == act_window_beats_const(cfg, win)


def _submodules(cfg):
    """Names of the core's submodules as Yosys sees them (RTLIL module ``t.<name>``)."""
    import re

    from amaranth.back import rtlil
    text = rtlil.convert(EurekaCore(cfg), name="t", emit_src=False)
    return set(re.findall(r"^module \\t\.(\S+)$", text, re.M))


@pytest.mark.parametrize("variant", ["eureka", "eureka-nosuds", "dense", "ampere24"])
def test_datapath_blocks_are_named_submodules(variant):
    # synth/area.py attributes area by these names; a rename must break this test first.
    R = 3
    base = EurekaConfig(rows=R, lanes=2, group=4)
    cfg = {"eureka": base, "eureka-nosuds": EurekaConfig(rows=R, lanes=2, group=4,
                                                          modes=("dense", "nm:2:4")),
           "dense": base.dense_baseline(), "ampere24": base.ampere24_baseline()}[variant]
    want = {f"mul{r}" for r in range(R)} | {f"own_tree{r}" for r in range(R)}
    if variant != "dense":
        want |= {f"sel{r}" for r in range(R)}
    if variant == "eureka":
        want |= {f"suds{r}" for r in range(1, R)} | {f"mov_tree{r}" for r in range(1, R)}
    assert _submodules(cfg) == want


def test_row_blocks_select_gate_and_steer(seed):
    # The blocks alone: invalid slots give a zero activation, SUDS steering is an exact demux.
    from hw.eureka.core import RowSelect, RowSteer
    cfg = EurekaConfig(rows=1, lanes=3, group=4)
    sel, steer = RowSelect(cfg), RowSteer(cfg)
    rnd = random.Random(seed)

    async def bench(ctx):
        for _ in range(60):
            a = [[rnd.randint(-128, 127) for _ in range(4)] for _ in range(3)]
            s = [rnd.randrange(4) for _ in range(3)]
            v = [rnd.randrange(2) for _ in range(3)]
            p = [rnd.choice([-128 * 127, 128 * 128, rnd.randint(-16384, 16384)]) for _ in range(3)]
            d = [rnd.randrange(2) for _ in range(3)]
            for l in range(3):
                for g in range(4):
                    ctx.set(sel.a[l][g], a[l][g])
                ctx.set(sel.sel[l], s[l])
                ctx.set(sel.valid[l], v[l])
                ctx.set(steer.p[l], p[l])
                ctx.set(steer.disp[l], d[l])
            await ctx.delay(1e-9)
            for l in range(3):
                assert ctx.get(sel.x[l]) == (a[l][s[l]] if v[l] else 0)
                assert ctx.get(steer.own[l]) == (0 if d[l] else p[l])
                assert ctx.get(steer.mov[l]) == (p[l] if d[l] else 0)

    from amaranth.hdl import Module
    m = Module()
    m.submodules.sel, m.submodules.steer = sel, steer
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("select", ["mux", "onehot"])
@pytest.mark.parametrize("group", [2, 4, 8])
def test_row_select_styles(select, group, seed):
    # Both ways of writing the G:1 select are the same function: every sel, valid and lane.
    from hw.eureka.core import RowSelect
    L = 3
    cfg = EurekaConfig(rows=1, lanes=L, group=group, select=select)
    dut = RowSelect(cfg)
    rnd = random.Random(seed)

    async def bench(ctx):
        for _ in range(4):
            a = [[rnd.randint(-128, 127) for _ in range(group)] for _ in range(L)]
            a[0][group - 1] = -128                   # the sign bit through the AND-OR
            for l in range(L):
                for g in range(group):
                    ctx.set(dut.a[l][g], a[l][g])
            for s in range(group):
                for v in (0, 1):
                    for l in range(L):
                        ctx.set(dut.sel[l], (s + l) % group)
                        ctx.set(dut.valid[l], v)
                    await ctx.delay(1e-9)
                    for l in range(L):
                        assert ctx.get(dut.x[l]) == (a[l][(s + l) % group] if v else 0), \
                            (select, group, l, s, v)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_core_mux_select_exact(seed):
    # the indexed-mux select (the old netlist, kept as an option) stays bit- and cycle-exact
    cfg = EurekaConfig(rows=4, lanes=4, group=8, select="mux")
    rng = np.random.default_rng(seed)
    w = _weights(rng, "suds", 6, 64, density=0.4)
    a = rng.integers(-128, 128, (64, 2))
    out, sched, st = run_amaranth(cfg, w, a, "suds", seed=seed)
    np.testing.assert_array_equal(out, w @ a)
    assert st["busy"] == ge.cycle_model(w, 2, "suds", cfg)["cycles"]


# -- SUDS area options (issue 11 item 1): bit- and cycle-exact on the Amaranth simulator -----------


@pytest.mark.parametrize("steer,budget", [("before", 0), ("after", 0), ("after", 1), ("after", 2)])
def test_core_suds_datapaths(steer, budget, seed):
    cfg = EurekaConfig(rows=4, lanes=4, group=8, steer=steer, disp_budget=budget)
    rng = np.random.default_rng(seed)
    w = _weights(rng, "suds", 6, 64, density=0.4)
    w[0, :48] = rng.integers(1, 128, 48)             # dense top row: many moved weights
    a = rng.integers(-128, 128, (64, 2))
    out, sched, st = run_amaranth(cfg, w, a, "suds", seed=seed)
    assert sched.displaced > 8
    np.testing.assert_array_equal(out, w @ a, err_msg=f"{steer} D={budget} seed {seed}")
    assert st["busy"] == ge.cycle_model(w, 2, "suds", cfg)["cycles"]


# -- independent lanes (issue 11 item 2): bit- and cycle-exact on the Amaranth simulator ----------

#: The tests' 4x8 G=8 core with independent lanes (full moved path: ``disp_budget=0``).
INDEPENDENT = EurekaConfig(rows=4, lanes=8, group=8, lane_sync="independent", disp_budget=0)


def _lane_cases(rng):
    """Weights over several windows (K=150: 3 windows, the last partial) whose lanes differ:
    random rows, a lane that is empty in every window, a tile with no non-zero at all (its
    outputs cost one beat each and pop no activation), the bottom row overflowing."""
    w = _weights(rng, "suds", 12, 150, density=0.3)
    w[0, :64] = rng.integers(1, 128, 64)              # dense top row in window 0: moved weights
    w[:4, 8:16] = 0                                   # lane 1 of window 0 empty in tile 0
    w[:4, 72:80] = 0
    w[:4, 136:144] = 0                                # ... and in windows 1, 2: the lane is idle
    w[3, 100:116] = -128                              # bottom row full in lanes 4, 5 of window 1
    w[4:8] = 0                                        # tile 1 all-zero
    return w


@pytest.mark.parametrize("mode", ["suds", "unstructured-nosuds", "nm:2:4"])
def test_core_independent_lanes(mode, seed):
    cfg = INDEPENDENT
    rng = np.random.default_rng(seed)
    w = _lane_cases(rng) if mode != "nm:2:4" else _weights(rng, mode, 5, 128)
    a = rng.integers(-128, 128, (w.shape[1], 2))
    out, sched, st = run_amaranth(cfg, w, a, mode, seed=seed)
    np.testing.assert_array_equal(out, w @ a, err_msg=f"independent {mode} seed {seed}")
    model = ge.cycle_model(w, 2, mode, cfg)
    assert st["busy"] == model["cycles"] == sched.cycles_per_column * 2
    if mode == "suds":
        assert sched.displaced > 8
        lock = ge.cycle_model(w, 2, mode, dataclasses.replace(cfg, lane_sync="lockstep"))
        assert model["cycles"] < lock["cycles"], "independent lanes must save cycles here"


def test_core_independent_lanes_stall_free(seed):
    rng = np.random.default_rng(seed)
    w = _lane_cases(rng)[:4]
    a = rng.integers(-128, 128, (w.shape[1], 2))
    out, sched, st = run_amaranth(INDEPENDENT, w, a, "suds", seed=seed, idle=0, backpressure=0)
    np.testing.assert_array_equal(out, w @ a)
    assert st["end"] - st["first"] == st["busy"] - 1 + EurekaCore.latency


def test_independent_lanes_mismatch_rejected():
    from hw.eureka.beats import tile_weight_beats
    from sim.run_eureka import prepare_case
    w = np.ones((4, 64), np.int64)
    lock = dataclasses.replace(INDEPENDENT, lane_sync="lockstep")
    with pytest.raises(ValueError, match="packed for lock-step lanes but the core's lane_sync is "
                                         "'independent'"):
        tile_weight_beats(INDEPENDENT, ge.pack(w, "suds", lock).tiles[0])
    with pytest.raises(ValueError, match="packed for independent lanes but the core's lane_sync"):
        tile_weight_beats(lock, ge.pack(w, "suds", INDEPENDENT).tiles[0])
    with pytest.raises(ValueError, match="activation stream per lane, which this cocotb bench"):
        prepare_case(INDEPENDENT, w, np.ones((64, 1), np.int64), "suds", "x")


# -- trees shared between rows (issue 11 item 1): bit- and cycle-exact on the Amaranth simulator ---

#: The tests' 4x8 G=8 core whose pairs of rows share their trees (rows take turns on them).
SHARED = EurekaConfig(rows=4, lanes=8, group=8, tree_share=2)


@pytest.mark.parametrize("mode", ["suds", "nm:2:4", "dense", "unstructured-nosuds"])
def test_core_shared_trees(mode, seed):
    rng = np.random.default_rng(seed)
    w = _weights(rng, mode, 6, 152, density=0.4)
    if mode == "suds":
        w[0, :64] = rng.integers(1, 128, 64)           # dense top row: moved weights into row 1
        w[2, 64:128] = rng.integers(-128, 0, 64)       # ... and across the pairs (row 2 -> row 1)
        w[5, :16] = 127                                # bottom row of tile 1 full in two lanes
    a = rng.integers(-128, 128, (w.shape[1], 3))
    out, sched, st = run_amaranth(SHARED, w, a, mode, seed=seed)
    np.testing.assert_array_equal(out, w @ a, err_msg=f"shared trees {mode} seed {seed}")
    model = ge.cycle_model(w, 3, mode, SHARED)
    assert st["busy"] == model["cycles"] == sched.cycles_per_column * 3 * SHARED.issue_interval
    if mode == "suds":
        assert sched.displaced > 8
    # stall-free: a beat every issue_interval cycles, output latency as for a tree per row
    out, sched, st = run_amaranth(SHARED, w, a, mode, seed=seed, idle=0, backpressure=0)
    np.testing.assert_array_equal(out, w @ a)
    assert st["end"] - st["first"] == st["busy"] - SHARED.issue_interval + EurekaCore.latency


def test_core_shared_trees_nosuds_and_budgets(seed):
    # without the SUDS path (no moved trees) and with a full moved path (no budget)
    rng = np.random.default_rng(seed)
    for cfg, mode in [(dataclasses.replace(SHARED, modes=("dense", "nm:2:4")), "nm:2:4"),
                      (dataclasses.replace(SHARED, disp_budget=0), "suds")]:
        w = _weights(rng, mode, 4, 64, density=0.5)
        w[0, :48] = rng.integers(1, 128, 48)
        if mode == "nm:2:4":
            w = _weights(rng, mode, 4, 64)
        a = rng.integers(-128, 128, (64, 2))
        out, sched, st = run_amaranth(cfg, w, a, mode, seed=seed)
        np.testing.assert_array_equal(out, w @ a, err_msg=f"{cfg} {mode}")
        assert st["busy"] == ge.cycle_model(w, 2, mode, cfg)["cycles"]


def test_shared_trees_blocks():
    # one tree set per pair of rows, with its row-select; the selects and multipliers stay per row
    cfg = EurekaConfig(rows=4, lanes=2, group=4, tree_share=2)
    want = {f"mul{r}" for r in range(4)} | {f"sel{r}" for r in range(4)} | \
        {f"own_tree{j}" for j in range(2)} | {f"suds{j}" for j in range(2)} | \
        {f"mov_tree{j}" for j in range(2)} | {f"share{j}" for j in range(2)}
    assert _submodules(cfg) == want
    for c, want in ((cfg, 0.5), (SHARED.dense_baseline(), 1)):
        core = EurekaCore(c)
        core._MustUse__silence = True                 # built for its property, not elaborated
        assert core.throughput == want


# -- moved sums folded into the row trees (issue 11 item 1, area) ---------------------------------


@pytest.mark.parametrize("form", ["tree", "accumulate"])
def test_core_moved_sum_in_tree(seed, form):
    # moved_sum="tree" (what "auto", the default, resolves to here): M[r+1] - M[r] is added to row
    # r's tree sum; extreme products (the difference of -128*-128 and -128*127 is the widest one)
    # must come through exactly. "accumulate" (D=1, no longer the default) likewise.
    cfg = EurekaConfig(rows=4, lanes=8, group=8, moved_sum=form)
    assert cfg.moved_sum_resolved == form
    rng = np.random.default_rng(seed)
    w = _weights(rng, "suds", 8, 152, density=0.4)
    w[0, :64] = -128                                  # dense top row: moved into row 1
    w[1, :64:3] = 127
    w[4, 64:128] = rng.integers(-128, 128, 64) | 1     # and in tile 1, window 1
    a = rng.integers(-128, 128, (152, 3))
    a[:64, 0] = -128
    a[:64:2, 1] = 127
    out, sched, st = run_amaranth(cfg, w, a, "suds", seed=seed)
    assert sched.displaced > 8
    np.testing.assert_array_equal(out, w @ a, err_msg=f"moved_sum {form} seed {seed}")
    assert st["busy"] == ge.cycle_model(w, 3, "suds", cfg)["cycles"]
    out, sched, st = run_amaranth(cfg, w, a, "suds", seed=seed, idle=0, backpressure=0)
    np.testing.assert_array_equal(out, w @ a)
    assert st["end"] - st["first"] == st["busy"] - 1 + EurekaCore.latency
