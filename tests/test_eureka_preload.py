"""The EUREKA preload top (hw/eureka/preload.py) at SMALL size in Amaranth's simulator.

Protocol and cycle contract under flow-control stress: random idle cycles on ``load`` and random
backpressure on ``o`` (``sim/pysim_script.py``); results bit-exact against golden, ``beats`` equal
to the golden cycle model, ``cycles = beats + stalls + latency`` (and ``stalls = 0`` without
backpressure), buffers kept between runs.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden import eureka as ge
from hw.eureka import preload_image as pi
from hw.eureka.config import GEMM_SMALL
from hw.eureka.core import EurekaCore
from hw.eureka.preload import TARGET_ACT, TARGET_WEIGHT, EurekaGemm
from sim.pysim_script import run_script
from sim.run_eureka import run_gemm_tiled
from sim.streams import stream_put

CFG = GEMM_SMALL


def sparse(rng, shape, density):
    return rng.integers(-128, 128, shape) * (rng.random(shape) < density)


def run_case(w, a, mode, seed, idle=0.0, backpressure=0.0, reload_weights=True):
    """One run (or two: the second reuses the weights) of ``W x A`` on the top, checked."""
    sched = ge.pack(w, mode, CFG.core)
    words = pi.weight_words(CFG, sched.tiles)
    acts, nwin = pi.act_words(CFG, a)
    N = a.shape[1]
    desc = pi.desc_value(CFG, len(sched.tiles), N, nwin)
    run = [("poke", "desc", desc), ("pulse", "start"), ("until", "done", 100_000),
           ("peek", "beats"), ("peek", "stalls"), ("peek", "cycles")]
    script = [("drain", "o"),
              ("feed", "load", pi.load_beats(CFG, TARGET_WEIGHT, words)
               + pi.load_beats(CFG, TARGET_ACT, acts)), *run]
    if not reload_weights:
        script += run                                  # same buffers, second run
    res = run_script(EurekaGemm(CFG), script, seed=seed, idle=idle, backpressure=backpressure)
    model = ge.cycle_model(w, N, mode, CFG.core)["cycles"]
    runs = 1 if reload_weights else 2
    n_out = len(sched.tiles) * N
    assert len(res.streams["o"]) == runs * n_out
    for r in range(runs):
        out = pi.decode_outputs(CFG, res.streams["o"][r * n_out:(r + 1) * n_out],
                                len(sched.tiles), N)[:w.shape[0]]
        np.testing.assert_array_equal(out, w @ a, err_msg=f"{mode} seed {seed} run {r}")
        beats, stalls, cycles = res.peeks[3 * r:3 * r + 3]
        assert beats == model, (mode, beats, model)
        assert cycles == beats + stalls + EurekaGemm.latency, (mode, cycles, beats, stalls)
        if not backpressure:
            assert stalls == 0
    return res


def test_latency_is_composed_from_the_stages():
    assert EurekaGemm.latency == (EurekaGemm.issue_stages - 1 + EurekaCore.latency
                                  + EurekaGemm.end_stages)


@pytest.mark.parametrize("mode,density", [("suds", 0.35), ("nm:2:4", None), ("dense", 0.8),
                                          ("unstructured-nosuds", 0.2)])
def test_modes_under_stress(seed, mode, density):
    rng = np.random.default_rng(seed)
    if density is None:
        w = rng.integers(1, 128, (7, 128)).reshape(7, -1, 4)
        w = (w * (np.argsort(rng.random(w.shape), -1) < 2)).reshape(7, 128)
    else:
        w = sparse(rng, (7, 136), density)             # K=136: a partial last window
    a = rng.integers(-128, 128, (w.shape[1], 3))
    res = run_case(w, a, mode, seed, idle=0.3, backpressure=0.4)
    assert res.peeks[1] > 0, "the backpressure must stall the core"


def test_no_stall_cycle_count_and_buffer_reuse(seed):
    rng = np.random.default_rng(seed)
    w = sparse(rng, (8, 64), 0.3)
    w[4:] = 0                                          # an all-zero row tile: one beat per column
    a = rng.integers(-128, 128, (64, 4))
    a[:, 0] = -128
    run_case(w, a, "suds", seed, reload_weights=False)


def test_empty_run_and_load_ready_while_running():
    """``n_tiles = 0`` ends at once with no result; ``load.ready`` is low for a whole run."""
    top = EurekaGemm(CFG)
    rng = np.random.default_rng(0)
    w = sparse(rng, (4, 64), 0.5)
    sched = ge.pack(w, "suds", CFG.core)
    loads = pi.load_beats(CFG, TARGET_WEIGHT, pi.weight_words(CFG, sched.tiles))
    acts, nwin = pi.act_words(CFG, rng.integers(-128, 128, (64, 2)))
    loads += pi.load_beats(CFG, TARGET_ACT, acts)
    seen = {}

    async def bench(ctx):
        for beat in loads:
            await stream_put(ctx, top.load, beat)
        ctx.set(top.o.ready, 1)
        ctx.set(top.desc.as_value(), pi.desc_value(CFG, 0, 2, nwin))
        ctx.set(top.start, 1)
        await ctx.tick()
        ctx.set(top.start, 0)
        n = 0
        while not ctx.get(top.done):
            await ctx.tick()
            n += 1
        seen["empty"] = (n, ctx.get(top.cycles), ctx.get(top.beats))
        ctx.set(top.desc.as_value(), pi.desc_value(CFG, 1, 2, nwin))
        ctx.set(top.start, 1)
        await ctx.tick()
        ctx.set(top.start, 0)
        ready, outs = [], 0
        while not ctx.get(top.done):
            ready.append(ctx.get(top.load.ready))
            outs += ctx.get(top.o.valid)
            await ctx.tick()
        seen["ready"], seen["outs"], seen["after"] = ready, outs, ctx.get(top.load.ready)

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen["empty"] == (1, 1, 0)
    assert seen["ready"] and not any(seen["ready"]) and seen["after"] == 1
    assert seen["outs"] == 2


def test_tiled_runtime_on_amaranth_sim(seed):
    """The runtime's whole script (rounds, K split with host partial sums, column blocks, buffer
    reuse) under load idle cycles and output backpressure."""
    rng = np.random.default_rng(seed)
    w = sparse(rng, (10, 200), 0.3)
    a = rng.integers(-128, 128, (200, 5))
    out, st = run_gemm_tiled(w, a, "suds", config=CFG, sim="amaranth", k_windows=2, n_block=3,
                             seed=seed, idle=0.2, backpressure=0.3)
    np.testing.assert_array_equal(out, w @ a)
    assert st["psum"] == "host" and st["n_tiles"] == 4 and st["bit_exact"] and st["torch_exact"]
    assert all(t["cycles"] == t["model_cycles"] for t in st["tiles"])
    assert sum(t["stalls"] for t in st["tiles"]) > 0
