"""hw/barista/outbuf.py (coloured output buffer) on the Amaranth simulator against
golden.barista.drain_trace: every drained entry in the same cycle and bit-exact, every colour freed
in the same cycle; writes into one colour go on while another drains; random backpressure."""

import dataclasses
import os

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.barista import drain_trace
from hw.barista.config import SMALL
from hw.barista.outbuf import ColourBuffer

SEED = int(os.environ.get("SEED", "0"))


def run_rtl(config, writes, closes, ready):
    dut = ColourBuffer(config)
    got = {"out": [], "freed": [], "closed": []}

    async def bench(ctx):
        queue = list(closes)
        held = None              # an entry offered and not taken: must stay, unchanged
        for t, rdy in enumerate(ready):
            w = writes.get(t)
            ctx.set(dut.i.valid, w is not None)
            if w is not None:
                ctx.set(dut.i.payload, {"colour": w[0], "addr": w[1], "value": w[2]})
            c = queue[0] if queue and queue[0][0] <= t else None
            ctx.set(dut.close.valid, c is not None)
            if c is not None:
                ctx.set(dut.close.payload, {"colour": c[1], "count": c[2]})
            ctx.set(dut.o.ready, bool(rdy))
            ov = ctx.get(dut.o.valid)
            ob = ctx.get(dut.o.payload.as_value()) if ov else None
            assert held is None or ob == held, f"cycle {t}: an offered entry changed or vanished"
            held = ob if ov and not rdy else None
            if ov and rdy:
                p = ctx.get(dut.o.payload)
                got["out"].append((t, int(p.colour), int(p.addr), int(p.value)))
            if ctx.get(dut.freed):
                got["freed"].append((t, ctx.get(dut.freed_colour)))
            if c is not None and ctx.get(dut.close.ready):
                got["closed"].append(t)
                queue.pop(0)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("seed,p_ready", [(1, 1.0), (2, 0.5), (3, 0.2)])
def test_drain_while_the_next_colour_fills(seed, p_ready):
    cfg = dataclasses.replace(SMALL, colours=2, output_buffer_entries=16)
    rng = np.random.default_rng([SEED, seed])
    cycles = 400
    vals = rng.integers(-(1 << 31), 1 << 31, size=(3, 16))
    # Tile 0 fills colour 0 (cycles 0-31, in random order), is closed, and drains while tile 1
    # fills colour 1 (cycles 40-71); then colour 1 is closed; then colour 0 again (tile 2, 10
    # entries) and an empty close.
    writes, t = {}, 0
    for tile, (colour, n, start) in enumerate([(0, 16, 0), (1, 16, 40), (0, 10, 150)]):
        addrs = rng.permutation(n)
        for j, a in enumerate(addrs):
            writes[start + 2 * j] = (colour, int(a), int(vals[tile, a]))
    closes = [(34, 0, 16), (75, 1, 16), (180, 0, 10), (181, 1, 0)]
    ready = rng.random(cycles) < p_ready
    want = drain_trace(2, 16, writes, closes, ready)
    got = run_rtl(cfg, writes, closes, ready)
    assert got == want, f"SEED={SEED}"
    drained = [(c, a, v) for _, c, a, v in got["out"]]
    assert drained == ([(0, a, int(vals[0, a])) for a in range(16)]
                       + [(1, a, int(vals[1, a])) for a in range(16)]
                       + [(0, a, int(vals[2, a])) for a in range(10)])
    assert [c for _, c in got["freed"]] == [0, 1, 0, 1]
    # No barrier: colour 1 was written while colour 0 drained.
    first_out, last_out = got["out"][0][0], got["out"][15][0]
    assert any(first_out <= t <= last_out and w[0] == 1 for t, w in writes.items())
