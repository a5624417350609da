"""Formal: the inner join (hw/common/innerjoin.py) against its contract, bounded model check.

Free inputs every cycle (masks, ``last``, side data, ``i.valid``, ``o.ready``: any idle and any
backpressure). A reference built from the contract alone watches the transfers: it keeps the masks
of the chunk in flight and the matches reported so far, and asserts on every output beat that

* each valid lane is the lowest not yet reported set bit of ``mask_f & mask_a`` (so every match is
  reported once, in order), lanes fill lowest first (lane ``l`` valid iff ``l < n``);
* ``off_f``/``off_a`` are the popcounts of ``mask_f``/``mask_a`` below the match (a serial count,
  unlike the design's trees);
* ``last`` is set exactly when nothing remains, every earlier beat is full, and a chunk's beats
  number ``max(1, ceil(matches / matches_per_cycle))``; ``chunk_last`` and ``extra`` pass through;
* the stream rules: ``o.valid`` rises only after an accepted chunk (latency one cycle), ``o.valid``
  and the payload hold while ``o.ready`` is low; ``i.ready`` is ``~busy | (o.ready & last)``.

k-induction does not close (the reference's state is not tied to the design's internal registers
in states no trace reaches), so this is BMC from reset to :data:`DEPTH` clock cycles. The bound is
chosen so that it still says something about every later cycle: accepting a chunk overwrites all of
the join's state (matches, masks, framing, side data) except ``busy``, so the states after any
accept are those after the first accept from reset (``busy`` 0) or after a back-to-back accept
(``busy`` 1); within the depth both are reached and then a full chunk of 8 matches at 1 per cycle
(9 cycles with the latency) or two full chunks at 2 per cycle runs to its end under any stalls that
fit.
"""

import pytest
from amaranth import Const, Elaboratable, Module, Signal
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, ResetSignal

import hw.common.innerjoin as innerjoin_mod
from formal_util import FormalFailure, assert_formal
from hw.common.bits import Popcount, PriorityEncoder
from hw.common.innerjoin import InnerJoin
from test_formal_bits import ripple_count

pytestmark = pytest.mark.formal

CHUNK = 8
#: BMC depth in clock cycles, per matches_per_cycle.
DEPTH = {1: 12, 2: 10}
EXTRA = 3


def below(pos, width):
    """Ones at every position under ``pos`` (``(1 << pos) - 1``)."""
    return ((Const(1, width + 1) << pos) - 1)[:width]


class JoinSpec(Elaboratable):
    """The design plus the reference described in the module docstring."""

    def __init__(self, dut):
        self.dut = dut

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        n, mpc = dut.chunk, dut.matches_per_cycle
        m.d.comb += Assume(~ResetSignal())
        ip, op = dut.i.payload, dut.o.payload
        m.d.comb += [ip.mask_f.eq(AnySeq(n)), ip.mask_a.eq(AnySeq(n)), ip.last.eq(AnySeq(1)),
                     ip.extra.eq(AnySeq(EXTRA)), dut.i.valid.eq(AnySeq(1)),
                     dut.o.ready.eq(AnySeq(1))]

        busy, mf, ma, done = Signal(), Signal(n), Signal(n), Signal(n)
        clast, extra = Signal(), Signal(EXTRA)
        beats = Signal(range(n + 2))
        matches = mf & ma

        m.d.comb += Assert(dut.o.valid == busy)
        m.d.comb += Assert(dut.i.ready == (~busy | (dut.o.ready & op.last)))
        cum = done
        with m.If(dut.o.valid):
            m.d.comb += Assert(op.n <= mpc)
            for lane in range(mpc):
                ln = op.lanes[lane]
                m.d.comb += Assert(ln.valid == (lane < op.n))
                remaining = matches & ~cum
                with m.If(ln.valid):
                    m.d.comb += [
                        Assert(remaining.bit_select(ln.pos, 1)),
                        Assert((remaining & below(ln.pos, n)) == 0),
                        Assert(ln.off_f == ripple_count(list(mf & below(ln.pos, n)))[:len(ln.off_f)]),
                        Assert(ln.off_a == ripple_count(list(ma & below(ln.pos, n)))[:len(ln.off_a)]),
                    ]
                cum = cum | (ln.valid << ln.pos)[:n]
            after = Signal(n)
            m.d.comb += after.eq(cum)
            m.d.comb += [Assert(op.last == ((matches & ~after) == 0)),
                         Assert(op.chunk_last == clast), Assert(op.extra == extra)]
            with m.If(~op.last):
                m.d.comb += Assert(op.n == mpc)
            with m.If(matches != 0):
                m.d.comb += Assert(op.n >= 1)
            with m.If(op.last):
                total = ripple_count(list(matches))
                # The contract's beat count: max(1, ceil(total / mpc)).
                expect = Signal(range(n + 2))
                m.d.comb += expect.eq(((total + (mpc - 1)) // mpc))
                with m.If(total == 0):
                    m.d.comb += Assert(beats == 0)
                with m.Else():
                    m.d.comb += Assert(beats + 1 == expect)
            with m.If(dut.o.ready):
                m.d.sync += [done.eq(after), beats.eq(beats + 1)]
                with m.If(op.last):
                    m.d.sync += busy.eq(0)
        with m.If(dut.i.valid & dut.i.ready):
            m.d.sync += [busy.eq(1), mf.eq(ip.mask_f), ma.eq(ip.mask_a), clast.eq(ip.last),
                         extra.eq(ip.extra), done.eq(0), beats.eq(0)]

        # Stream rules on o: valid and payload hold while the consumer stalls.
        stalled, held = Signal(), Signal.like(op.as_value())
        m.d.sync += [stalled.eq(dut.o.valid & ~dut.o.ready), held.eq(op.as_value())]
        with m.If(stalled):
            m.d.comb += [Assert(dut.o.valid), Assert(op.as_value() == held)]
        return m


class _OffsetBitFlip(Popcount):
    """Planted bug in the prefix sums: an offset of 7 (every mask bit below position 7 set) comes
    out as 6, bit 0 flipped."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If((self.i & self.mask) == 0b0111_1111):
            m.d.comb += self.o.eq(6)
        return m


class _UnstablePayload(InnerJoin):
    """Planted bug: under backpressure the beat's ``chunk_last`` shows the *incoming* chunk's."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.o.valid & ~self.o.ready & self.i.valid):
            m.d.comb += self.o.payload.chunk_last.eq(self.i.payload.last)
        return m


class _SkipTop(PriorityEncoder):
    """Planted bug in the priority encoder: when exactly bits 6 and 7 remain it reports 7 first."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.i == 0b1100_0000):
            m.d.comb += [self.index.eq(7), self.rest.eq(0b0100_0000), self.below.eq(0b0111_1111)]
        return m


@pytest.mark.parametrize("mpc", [1, 2])
def test_innerjoin(mpc):
    assert_formal(JoinSpec(InnerJoin(CHUNK, mpc, extra=EXTRA)), f"innerjoin_mpc{mpc}",
                  depth=DEPTH[mpc])


@pytest.mark.parametrize("bug", ["offset", "payload", "order"])
def test_planted_bug_fails(bug, monkeypatch):
    if bug == "order":
        monkeypatch.setattr(innerjoin_mod, "PriorityEncoder", _SkipTop)
    elif bug == "offset":
        monkeypatch.setattr(innerjoin_mod, "Popcount", _OffsetBitFlip)
    dut = (_UnstablePayload if bug == "payload" else InnerJoin)(CHUNK, 1, extra=EXTRA)
    with pytest.raises(FormalFailure) as e:
        assert_formal(JoinSpec(dut), f"innerjoin_bug_{bug}", depth=DEPTH[1])
    assert e.value.status == "FAIL"
