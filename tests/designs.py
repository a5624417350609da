"""Small designs whose synthesis and power are known by hand, shared by the area and power tests."""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Reg"]


class Reg(wiring.Component):
    """``q <= d`` without reset: exactly ``width`` flip-flops and no logic."""

    def __init__(self, width):
        super().__init__({"d": In(width), "q": Out(width)})

    def elaborate(self, platform):
        m = Module()
        r = Signal(len(self.q), reset_less=True)
        m.d.sync += r.eq(self.d)
        m.d.comb += self.q.eq(r)
        return m
