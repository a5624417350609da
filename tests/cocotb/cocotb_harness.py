"""cocotb tests of the harness itself on hw.common.echo.StreamRegister."""

import os

import cocotb

from hw.common.echo import echo_layout
from sim.cocotb_util import CycleCounter, StreamDriver, StreamMonitor, pack, rng, sidecar, start, unpack


async def _echo(dut, name, idle, backpressure, n=300):
    width = sidecar()["width"]
    layout = echo_layout(width)
    await start(dut)
    r = rng(name)
    counter = CycleCounter(dut.clk)
    drv = StreamDriver(dut, "i", r, idle=idle)
    mon = StreamMonitor(dut, "o", r, backpressure=backpressure, counter=counter)
    sent = [r.randrange(1 << width) for _ in range(n)]
    drv.send_all(pack(layout, {"value": v, "last": k == n - 1}) for k, v in enumerate(sent))
    start_cycle = counter.now
    await mon.wait_for(n, timeout_cycles=20 * n + 100)
    got = [unpack(layout, b) for b in mon.beats]
    assert [int(g.value) for g in got] == sent
    assert [int(g.last) for g in got] == [0] * (n - 1) + [1]
    return mon.cycles[-1] - start_cycle


@cocotb.test()
async def echo_no_stall(dut):
    cycles = await _echo(dut, "no_stall", 0.0, 0.0)
    # One beat per cycle after the latency of the register(s) (one cycle each) and the driver's
    # first edge.
    latency = sidecar().get("latency", 1)
    assert cycles == 300 + latency, cycles


@cocotb.test()
async def echo_idle_and_backpressure(dut):
    await _echo(dut, "stress", 0.3, 0.4)


@cocotb.test(skip=os.environ.get("HARNESS_MUST_FAIL") != "1")
async def deliberately_failing(dut):
    await start(dut)
    assert False, "this test fails on purpose"


@cocotb.test(skip=not sidecar().get("memories"))
async def memories_start_at_their_init(dut):
    """Read every word of the design's memories before any write: the zero-initialised one (its
    init written as a loop by sim.verilator.compact_zero_init) reads 0, the other its init."""
    from cocotb.triggers import Timer
    mems = sidecar()["memories"]
    for addr in range(max(len(v) for v in mems.values())):
        dut.a.value = addr
        await Timer(1, unit="ns")
        for port, init in mems.items():
            if addr < len(init):
                assert int(getattr(dut, port).value) == init[addr], (port, addr)
