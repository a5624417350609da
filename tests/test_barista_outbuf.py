"""hw/barista/outbuf.py (coloured output buffer) on the Amaranth simulator against
golden.barista.drain_trace: every drained entry in the same cycle and bit-exact, every colour freed
in the same cycle; writes into one colour go on while another drains; random backpressure."""

import dataclasses
import os

import numpy as np
import pytest

from golden.barista import drain_trace
from hw.barista.config import SMALL
from hw.barista.outbuf import ColourBuffer
from sim.streams import Driver, Monitor, simulate

SEED = int(os.environ.get("SEED", "0"))


def run_rtl(config, writes, closes, ready):
    """The RTL's transfers, in ``drain_trace``'s shape, over the whole ``ready`` pattern: writes
    and closes put by :class:`Driver` from their prescribed cycles (each close held until taken),
    ``o`` taken by a :class:`Monitor` on the prescribed ``ready`` pattern (it asserts the stream
    rules), ``freed`` watched at every edge."""
    dut = ColourBuffer(config)
    at = sorted(writes)
    wr = Driver(dut.i, [dict(zip(("colour", "addr", "value"), writes[t])) for t in at], at=at)
    cl = Driver(dut.close, [{"colour": c, "count": n} for _, c, n in closes],
                at=[t for t, _, _ in closes])
    freed = []
    mon = Monitor(dut.o, ready=ready, decode=lambda p: (int(p.colour), int(p.addr), int(p.value)),
                  watch=[dut.freed, dut.freed_colour],
                  on_edge=lambda t, v: freed.append((t, v[1])) if v[0] else None)
    simulate(dut, drivers=[wr, cl], monitors=[mon], cycles=len(ready), seed=SEED)
    assert wr.cycles == at and not wr.stalled, "the write stream must always be ready"
    return {"out": [(t, *b) for t, b in zip(mon.cycles, mon.beats)], "freed": freed,
            "closed": cl.cycles}


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
