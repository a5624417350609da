"""hw/barista/fetch.py (one shared bank with request/response ports, combining and snarfing) on the
Amaranth simulator, against golden.barista.fetch_trace: every request and response transfer in the
same cycle, every word bit-exact against the memory, the same number of bank reads; random request
idle and response backpressure, seeded."""

import dataclasses
import os

import numpy as np
import pytest

from golden.barista import fetch_trace
from hw.barista.config import SMALL
from hw.barista.fetch import ChunkFetch
from sim.streams import Driver, Monitor, simulate

SEED = int(os.environ.get("SEED", "0"))


def run_rtl(config, mem, requests, offer, ready):
    """The RTL's transfers, in ``fetch_trace``'s shape: each port's requests put by a
    :class:`Driver` on the prescribed ``offer`` pattern, its responses taken by a
    :class:`Monitor` on the prescribed ``ready`` pattern (which asserts the stream rules)."""
    dut = ChunkFetch(config)
    drivers = [Driver(dut.req[i], reqs, offer=offer[i]) for i, reqs in enumerate(requests)]
    monitors = [Monitor(dut.resp[i], len(reqs), ready=ready[i], decode=int)
                for i, reqs in enumerate(requests)]
    out = {}

    async def preload(ctx):
        for a, v in enumerate(mem):
            ctx.set(dut.wr_en, 1)
            ctx.set(dut.wr_addr, a)
            ctx.set(dut.wr_data, int(v))
            await ctx.tick()
        ctx.set(dut.wr_en, 0)

    async def at_end(ctx):
        out["reads"] = ctx.get(dut.reads)

    simulate(dut, drivers=drivers, monitors=monitors, cap=offer.shape[1], setup=preload,
             at_end=at_end, seed=SEED)
    out.update(req_cycles=[d.cycles for d in drivers], resp_cycles=[m.cycles for m in monitors],
               data=[m.beats for m in monitors],
               cycles=1 + max((c for m in monitors for c in m.cycles), default=-1))
    return out


def _case(rng, config, n_req, n_addr, p_offer, p_ready, cycles=1200):
    n = config.units_per_cluster
    width = config.chunk * (1 + config.value_width)
    mem = [int(x) for x in rng.integers(0, 1 << 62, size=config.input_buffer_chunks)]
    mem = [(x << (width - 62)) | int(rng.integers(0, 1 << 10)) for x in mem]
    requests = [[int(a) for a in rng.integers(0, n_addr, size=n_req)] for _ in range(n)]
    offer = rng.random((n, cycles)) < p_offer
    ready = rng.random((n, cycles)) < p_ready
    return mem, requests, offer, ready


@pytest.mark.parametrize("seed,n_addr,p_offer,p_ready", [
    (1, 3, 0.5, 0.5), (2, 40, 0.8, 0.9), (3, 2, 1.0, 0.3), (4, 8, 0.3, 1.0)])
def test_fetch_matches_the_trace_under_idle_and_backpressure(seed, n_addr, p_offer, p_ready):
    rng = np.random.default_rng([SEED, seed])
    mem, requests, offer, ready = _case(rng, SMALL, 24, n_addr, p_offer, p_ready)
    want = fetch_trace(mem, requests, offer, ready)
    got = run_rtl(SMALL, mem, requests, offer, ready)
    assert got == want, f"SEED={SEED} case {seed}"
    for i, reqs in enumerate(requests):
        assert got["data"][i] == [mem[a] for a in reqs], f"SEED={SEED} port {i}"
    n_total = sum(len(r) for r in requests)
    assert got["reads"] <= n_total


def test_combining_and_snarfing_share_one_read():
    """All ports ask for one address at once: one bank read serves them all (combining); a port
    whose request arrives while that read's data is on the bus later still gets its own read."""
    cfg = dataclasses.replace(SMALL, input_buffer_chunks=16)
    mem = [0x1234 + 7 * a for a in range(16)]
    n = cfg.units_per_cluster
    requests = [[5, 9] for _ in range(n)]
    offer = np.ones((n, 60), dtype=bool)
    ready = np.ones((n, 60), dtype=bool)
    got = run_rtl(cfg, mem, requests, offer, ready)
    assert got["reads"] == 2 and got == fetch_trace(mem, requests, offer, ready)
    assert all(d == [mem[5], mem[9]] for d in got["data"])
    # Each port alone: 2 reads each.
    lone = [[5, 9] if i == 0 else [] for i in range(n)]
    assert fetch_trace(mem, lone, offer, ready)["reads"] == 2
    assert got["resp_cycles"][0][0] == ChunkFetch.latency
