"""sim/streams.py: the shared stream driver and monitor catch what they must."""

import random

import pytest
from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.echo import StreamRegister
from sim.streams import Driver, Monitor, simulate, stream_get, stream_put


class Fickle(wiring.Component):
    """Offers a counter on ``o``; with ``bug`` it changes the payload while not taken."""

    def __init__(self, bug):
        self._bug = bug
        super().__init__({"o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        n = Signal(8)
        m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(n)]
        with m.If(self.o.ready | self._bug):
            m.d.sync += n.eq(n + 1)
        return m


def test_register_passes_every_beat_under_stress():
    dut = StreamRegister(16)
    beats = list(range(0, 60000, 997))
    drv = Driver(dut.i, beats, idle=0.4, rand=random.Random(3))
    mon = Monitor(dut.o, len(beats), backpressure=0.4, rand=random.Random(4),
                  decode=lambda p: int(p))
    simulate(dut, drivers=[drv], monitors=[mon], cap=2000, tail=5)
    assert mon.beats == beats
    assert drv.stalled      # backpressure reached the input through the full register
    assert all(b > a for a, b in zip(drv.cycles, drv.cycles[1:]))
    assert all(o > i for i, o in zip(drv.cycles, mon.cycles))   # latency >= 1


@pytest.mark.parametrize("bug", [False, True])
def test_monitor_checks_the_stream_rules(bug):
    dut = Fickle(bug)
    mon = Monitor(dut.o, 30, backpressure=0.5, rand=random.Random(5), decode=lambda p: int(p))
    if bug:
        with pytest.raises(AssertionError, match="dropped or changed"):
            simulate(dut, monitors=[mon], cap=500)
    else:
        simulate(dut, monitors=[mon], cap=500)
        assert mon.beats == list(range(30))


def test_timeout_names_the_counts():
    dut = StreamRegister(8)
    mon = Monitor(dut.o, 3)
    with pytest.raises(AssertionError, match=r"timeout after 20 cycles: beats 0/3 \(seed=9\)"):
        simulate(dut, monitors=[mon], cap=20, seed=9)


def test_put_and_get():
    dut = StreamRegister(8)
    got = []

    async def bench(ctx):
        await stream_put(ctx, dut.i, 0x5A, idle=0.5, rand=random.Random(1))
        got.append(int(await stream_get(ctx, dut.o, backpressure=0.5, rand=random.Random(2))))
        with pytest.raises(AssertionError, match="no beat on the stream after 6 cycles"):
            await stream_get(ctx, dut.o, cap=6)

    from amaranth.sim import Simulator
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [0x5A]


def test_prescribed_patterns_replay_exactly():
    """offer / at / ready patterns give the transfer edges a trace model would predict: through a
    one-cycle register with ``o`` ready every other edge, each beat leaves one edge after it enters
    and the next enters only when the register is free; ``setup`` runs before edge 0."""
    dut = StreamRegister(8)
    offer = [False, True, True, False, True, True, True]
    ready = [True, False, True, False, True, False, True, False, True]
    drv = Driver(dut.i, [1, 2, 3], offer=offer)
    mon = Monitor(dut.o, 3, ready=ready, decode=int)
    edges = []

    async def setup(ctx):
        for _ in range(4):      # nothing is offered before setup is done
            _, _, valid = await ctx.tick().sample(dut.i.valid)
            edges.append(valid)

    simulate(dut, drivers=[drv], monitors=[mon], cap=len(ready), setup=setup)
    assert edges == [0, 0, 0, 0] and mon.beats == [1, 2, 3]
    assert drv.cycles == [1, 2, 4] and mon.cycles == [2, 4, 6]
    late = Driver(dut.i, [7, 8], at=[3, 0])
    mon = Monitor(dut.o, ready=[True] * 8, decode=int)
    simulate(dut, drivers=[late], monitors=[mon], cycles=8)
    assert late.cycles == [3, 4] and mon.cycles == [4, 5] and mon.beats == [7, 8]
    with pytest.raises(ValueError, match="at has 1 edges for 2 beats"):
        Driver(dut.i, [7, 8], at=[3])
