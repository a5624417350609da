"""Formal: the SparseMap encoder (hw/sparten/output.py) round trip, bounded model check.

Any stream of values with any ``last`` flags, idle cycles and backpressure goes in. A reference
builds, from the values accepted since the chunk began (position = order of arrival; the chunk ends
after ``chunk`` values or a ``last``), their SparseMap by its definition: mask bit i set iff value
i is non-zero, the j-th non-zero (in position order) in slot j, every other slot 0, positions past a
``last`` zero padded. Every chunk on ``o`` must equal it (mask, all slots, ``last``): since mask
and packed order determine the values, the chunk decodes back to exactly what went in (the round
trip). Also the stream rules: ``o.valid`` only for a completed chunk, ``o.valid`` and the payload
hold while ``o.ready`` is low, and ``i.ready = ~o.valid | o.ready``. (A first version decoded each
chunk with variable-index selects instead; the solver needed minutes per step.)

BMC from reset to :data:`DEPTH` cycles: a full chunk of 8 values (8 cycles), its emission and a
stall on it, or partial chunks (``last``) with idle cycles, stalls and the start of the next. Values
are 2 bits wide (zero, positive and negative values all occur; at 3 bits and depth 12 the check
took minutes). The encoder clears its whole chunk state (mask, slots, count,
position) with the first value of each chunk, so every chunk starts from the state the first one
starts from, apart from the output register (full or empty; both are reached within the depth).
"""

import types

import pytest
from amaranth import Elaboratable, Module, Mux, Signal, signed
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, ResetSignal

from formal_util import FormalFailure, assert_formal
from hw.sparten.output import SparseMapEncoder

pytestmark = pytest.mark.formal

#: Narrow values keep the solver fast; the logic is the same for any width.
CONFIG = types.SimpleNamespace(chunk=8, value_width=2)
DEPTH = 10


class EncoderSpec(Elaboratable):
    def __init__(self, dut):
        self.dut = dut

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        n, vw = CONFIG.chunk, CONFIG.value_width
        m.d.comb += Assume(~ResetSignal())
        ip, op = dut.i.payload, dut.o.payload
        m.d.comb += [ip.value.eq(AnySeq(vw)), ip.last.eq(AnySeq(1)), dut.i.valid.eq(AnySeq(1)),
                     dut.o.ready.eq(AnySeq(1))]

        # Reference SparseMap of the chunk being filled: position pos is the order of arrival
        # since the chunk began; mask bit = non-zero; the j-th non-zero is slot j.
        pos = Signal(range(n))
        mask, cnt = Signal(n), Signal(range(n + 1))
        slots = [Signal(signed(vw), name=f"slot{k}") for k in range(n)]
        exp_mask, exp_last, exp_valid = Signal(n), Signal(), Signal()
        exp_slots = [Signal(signed(vw), name=f"exp{k}") for k in range(n)]

        m.d.comb += Assert(dut.i.ready == (~dut.o.valid | dut.o.ready))
        m.d.comb += Assert(dut.o.valid == exp_valid)
        with m.If(dut.o.valid):
            m.d.comb += [Assert(op.mask == exp_mask), Assert(op.last == exp_last)]
            m.d.comb += [Assert(op.values[k] == exp_slots[k]) for k in range(n)]
        with m.If(dut.o.valid & dut.o.ready):
            m.d.sync += exp_valid.eq(0)

        with m.If(dut.i.valid & dut.i.ready):
            start = pos == 0
            nz = ip.value != 0
            base_cnt = Mux(start, 0, cnt)
            new_mask = Signal(n)
            m.d.comb += new_mask.eq(Mux(start, 0, mask) | (nz << pos))
            new_slots = [Mux(nz & (base_cnt == k), ip.value, Mux(start, 0, slots[k]))
                         for k in range(n)]
            done = (pos == n - 1) | ip.last
            m.d.sync += [pos.eq(Mux(done, 0, pos + 1)), mask.eq(new_mask),
                         cnt.eq(base_cnt + nz)]
            m.d.sync += [slots[k].eq(new_slots[k]) for k in range(n)]
            with m.If(done):
                m.d.sync += [exp_valid.eq(1), exp_last.eq(ip.last), exp_mask.eq(new_mask)]
                m.d.sync += [exp_slots[k].eq(new_slots[k]) for k in range(n)]

        stalled, held = Signal(), Signal.like(op.as_value())
        m.d.sync += [stalled.eq(dut.o.valid & ~dut.o.ready), held.eq(op.as_value())]
        with m.If(stalled):
            m.d.comb += [Assert(dut.o.valid), Assert(op.as_value() == held)]
        return m


class _DropsLastOfFull(SparseMapEncoder):
    """Planted bug: a chunk with every value non-zero (all-ones mask) loses its 8th value."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.o.payload.mask == (1 << self._config.chunk) - 1):
            m.d.comb += self.o.payload.values[self._config.chunk - 1].eq(0)
        return m


class _SlotFollowsInput(SparseMapEncoder):
    """Planted bug: while the chunk waits for ``o.ready``, slot 0 shows the incoming value."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.o.valid & ~self.o.ready & self.i.valid):
            m.d.comb += self.o.payload.values[0].eq(self.i.payload.value)
        return m


def test_encoder_round_trip():
    assert_formal(EncoderSpec(SparseMapEncoder(CONFIG)), "sparsemap_encoder", depth=DEPTH)


@pytest.mark.parametrize("bug", [_DropsLastOfFull, _SlotFollowsInput])
def test_planted_bug_fails(bug):
    with pytest.raises(FormalFailure) as e:
        assert_formal(EncoderSpec(bug(CONFIG)), f"sparsemap_bug_{bug.__name__}", depth=DEPTH)
    assert e.value.status == "FAIL"
