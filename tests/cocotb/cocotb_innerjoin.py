"""cocotb tests of hw.common.innerjoin.InnerJoin on Verilator.

Stimulus and expected beats come from tests/test_innerjoin.py (golden/innerjoin.py) in ``$STIM``.
Scoreboard shape: StreamDriver (idle cycles) -> DUT -> StreamMonitor (backpressure) -> compare.
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from hw.common.innerjoin import input_layout, output_layout
from sim.cocotb_util import CycleCounter, StreamDriver, StreamMonitor, pack, rng, sidecar, start, unpack


def _load():
    cfg = sidecar()["config"]
    with open(os.environ["STIM"]) as f:
        stim = json.load(f)
    return cfg["chunk"], cfg["matches_per_cycle"], stim


async def _input_transfers(dut, counter, out):
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if int(dut.i__valid.value) and int(dut.i__ready.value):
            out.append(counter.now)


async def _run(dut, name, idle, backpressure):
    chunk, mpc, stim = _load()
    lin, lout = input_layout(chunk), output_layout(chunk, mpc)
    await start(dut)
    r = rng(name)
    counter = CycleCounter(dut.clk)
    transfers = []
    cocotb.start_soon(_input_transfers(dut, counter, transfers))
    drv = StreamDriver(dut, "i", r, idle=idle)
    mon = StreamMonitor(dut, "o", r, backpressure=backpressure, counter=counter)
    cases = [(int(f, 16), int(a, 16)) for f, a in stim["cases"]]
    drv.send_all(pack(lin, {"mask_f": f, "mask_a": a, "last": k % 2}) for k, (f, a) in enumerate(cases))
    n = len(stim["beats"])
    slack = 1.0 / (1.0 - max(idle, backpressure)) ** 2
    await mon.wait_for(n, timeout_cycles=int(slack * 4 * (n + len(cases))) + 200)
    for k, (raw, want) in enumerate(zip(mon.beats, stim["beats"])):
        b = unpack(lout, raw)
        lanes = [[int(ln.pos), int(ln.off_f), int(ln.off_a)] for ln in b.lanes if ln.valid]
        got = [lanes, bool(b.last), int(b.chunk_last)]
        assert got == want, f"beat {k}: got {got}, want {want} (seed {os.environ['SPARSE_HW_SEED']})"
        assert int(b.n) == len(lanes)
    return transfers, mon.cycles, stim["stream_cycles"]


@cocotb.test()
async def innerjoin_idle_and_backpressure(dut):
    await _run(dut, "stress", idle=0.3, backpressure=0.3)


@cocotb.test()
async def innerjoin_heavy_backpressure(dut):
    await _run(dut, "heavy", idle=0.05, backpressure=0.7)


@cocotb.test()
async def innerjoin_cycle_exact(dut):
    """Stall-free: inclusive cycles from first input transfer to last beat == golden model."""
    transfers, out_cycles, want = await _run(dut, "cycles", idle=0.0, backpressure=0.0)
    assert out_cycles[-1] - transfers[0] + 1 == want, (out_cycles[-1], transfers[0], want)
    assert out_cycles == list(range(out_cycles[0], out_cycles[0] + len(out_cycles))), "bubble"
