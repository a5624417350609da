"""Formal: hw/common/bits.py against the arithmetic definitions, for every input of a width.

The blocks are combinational, so one step covers every input value: a BMC of depth 1 is a complete
proof. Each check is also run on a planted bug (a subclass that is wrong on one rare input) and must
then fail.
"""

import pytest
from amaranth import Const, Elaboratable, Module, Signal
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert

from formal_util import FormalFailure, assert_formal
from hw.common.bits import Popcount, PriorityEncoder, count_width, prefix_popcounts

pytestmark = pytest.mark.formal

WIDTHS = [8, 16]


def ripple_count(bits):
    """Reference popcount: a serial chain of +1s (a structure unlike the design's tree)."""
    total = Const(0, count_width(len(bits)))
    for b in bits:
        total = (total + b)[:count_width(len(bits))]
    return total


def encoder_spec(width, dut):
    m = Module()
    m.submodules.dut = dut
    i = Signal(width)
    m.d.comb += [i.eq(AnySeq(width)), dut.i.eq(i)]
    m.d.comb += Assert(dut.valid == (i != 0))
    with m.If(i != 0):
        # index is a set bit with nothing set below it; rest/below follow from it arithmetically.
        m.d.comb += [Assert(i.bit_select(dut.index, 1)),
                     Assert((i & ((Const(1, width + 1) << dut.index) - 1)[:width]) == 0),
                     Assert(dut.rest == i - (Const(1, width + 1) << dut.index)[:width]),
                     Assert(dut.below == ((Const(1, width + 1) << dut.index) - 1)[:width])]
    with m.Else():
        m.d.comb += [Assert(dut.index == 0), Assert(dut.rest == 0),
                     Assert(dut.below == (1 << width) - 1)]
    return m


def popcount_spec(width, dut):
    m = Module()
    m.submodules.dut = dut
    i, mask = Signal(width), Signal(width)
    m.d.comb += [i.eq(AnySeq(width)), mask.eq(AnySeq(width)), dut.i.eq(i), dut.mask.eq(mask)]
    m.d.comb += Assert(dut.o == ripple_count([i[k] & mask[k] for k in range(width)]))
    return m


class _PrefixSums(Elaboratable):
    """Elaboratable: the exclusive prefix popcounts of one free input (``prefix_popcounts``)."""

    def __init__(self, width, bug=False):
        self.width, self.bug = width, bug

    def elaborate(self, platform):
        m = Module()
        v = Signal(self.width)
        m.d.comb += v.eq(AnySeq(self.width))
        pre = prefix_popcounts(v)
        if self.bug:        # planted: the last prefix misses bit 0 when it is the only one set
            last = Signal.like(pre[-1])
            m.d.comb += last.eq(pre[-1] - (v[:self.width - 1] == 1))
            pre = pre[:-1] + [last]
        # Recurrence definition: pre[0] = 0, pre[k+1] = pre[k] + v[k].
        m.d.comb += Assert(pre[0] == 0)
        for k in range(self.width - 1):
            m.d.comb += Assert(pre[k + 1] == pre[k] + v[k])
        return m


class _BadEncoder(PriorityEncoder):
    """Planted bug: index off by one when only the top bit is set."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.i == 1 << (self._width - 1)):
            m.d.comb += self.index.eq(self._width - 2)
        return m


class _BadPopcount(Popcount):
    """Planted bug: counts one too few when every bit is set."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If((self.i & self.mask) == (1 << self._width) - 1):
            m.d.comb += self.o.eq(self._width - 1)
        return m


@pytest.mark.parametrize("width", WIDTHS)
def test_priority_encoder(width):
    assert_formal(encoder_spec(width, PriorityEncoder(width)), f"prio{width}", depth=1)


@pytest.mark.parametrize("width", WIDTHS)
def test_popcount(width):
    assert_formal(popcount_spec(width, Popcount(width, masked=True)), f"popcount{width}", depth=1)


@pytest.mark.parametrize("width", WIDTHS)
def test_prefix_popcounts(width):
    assert_formal(_PrefixSums(width), f"prefix{width}", depth=1)


@pytest.mark.parametrize("spec,name", [
    (lambda: encoder_spec(8, _BadEncoder(8)), "prio_bug"),
    (lambda: popcount_spec(8, _BadPopcount(8, masked=True)), "popcount_bug"),
    (lambda: _PrefixSums(8, bug=True), "prefix_bug"),
])
def test_planted_bug_fails(spec, name):
    with pytest.raises(FormalFailure) as e:
        assert_formal(spec(), name, depth=1)
    assert e.value.status == "FAIL" and e.value.trace.exists()
