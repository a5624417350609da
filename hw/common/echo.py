"""A one-stage stream register: the smallest design with the project's stream contract.

It exists to test the harness (sim/verilator.py, sim/cocotb_util.py) on a design whose behaviour is
obvious, and as the canonical skid-less pipeline register for other blocks.
"""

from amaranth import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamRegister"]


class StreamRegister(wiring.Component):
    """Registers a stream: every beat appears on ``o`` one cycle after it is accepted on ``i``.

    Parameters
    ----------
    layout : lib.data layout or int
        Payload layout.

    Members
    -------
    i : In(stream.Signature(layout))
    o : Out(stream.Signature(layout))

    Latency is one cycle; throughput is one beat per cycle while ``o`` is ready (``i.ready`` follows
    ``o.ready`` whenever the register is full).
    """

    latency = 1

    def __init__(self, layout):
        self._layout = layout
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(self.o.ready | ~self.o.valid)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


def echo_layout(width=16):
    return data.StructLayout({"value": width, "last": 1})
