"""Formal: EUREKA's N:M select (``sel<r>``), SUDS steering (``suds<r>``) and the core's streams.

Two levels:

* **Blocks, complete.** :class:`hw.eureka.core.RowSelect` and :class:`RowSteer` are combinational,
  so a depth-1 check covers every input: for the SMALL core's row (8 lanes, G = 8, 8-bit values)
  the chosen activation is ``a[l][sel[l]]`` (the metadata's) or 0 for an invalid slot, and each
  product goes to exactly one of the two trees, the moved one iff ``disp``.
* **Moved products, complete.** :class:`RowMoved` (the default ``steer="after"`` datapath) for each
  displacement budget: every segment's output is the sum of its displaced products, given the
  schedule's promise of at most one displaced slot per segment and cycle.
* **The core, bounded.** A 2 x 2 core (G = 4, SUDS built with the default datapath and budget,
  2-bit values, 7-bit accumulators) with
  free weight beats, free activation windows (each obeying the stream rules), free backpressure.
  A transaction-level reference, written from the schedule format alone, adds for every accepted
  weight beat (within the displacement budget) ``w * a[l][sel]`` of each valid slot to the
  accumulator of the slot's *owner* (its
  own row, or the row above when ``disp`` is set; wrapping at ``acc_width`` as documented) and
  queues the sums at each ``last``. Asserted: every output beat equals the queue's head (so no
  output is lost, duplicated or reordered, and at most :attr:`EurekaCore.latency` are in flight);
  a window is consumed exactly with a weight beat that has ``last_window``; ``busy`` counts the
  weight beats; ``o`` holds valid and payload under backpressure. BMC to :data:`DEPTH` cycles
  (the core's latency plus three): outputs of up to three accepted beats (accumulated or back to
  back, under any stalls that fit) are compared. The solver time grows steeply with depth and value
  width (the sums of products of two structurally different circuits must be shown equal), so
  the widths are the smallest the config accepts; the select and steering logic does not depend
  on them, and the blocks' complete checks above run at full width.
* **Independent lanes, bounded.** The same core with ``lane_sync="independent"``: the per-lane
  handshake (which beats transfer, which lane's window each pops, ``busy``) for any beats,
  windows and backpressure; its results are checked on Amaranth's simulator
  (``tests/test_eureka_core.py``).
"""

import dataclasses

import pytest
from amaranth import Elaboratable, Module, Signal, signed
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Mux, ResetSignal

import hw.eureka.core as core_mod
from formal_util import FormalFailure, assert_formal
from hw.eureka.config import SMALL, EurekaConfig
from hw.eureka.core import EurekaCore, RowMoved, RowSelect, RowSteer, act_layout, weight_layout

pytestmark = pytest.mark.formal

#: The core the bounded proof builds: 2 rows x 2 lanes, G = 4, SUDS, the narrowest values and
#: accumulators the config accepts.
CORE = EurekaConfig(rows=2, lanes=2, group=4, value_width=2, acc_width=7)
#: Cycles: the core's latency plus three, so that the outputs of the first three accepted beats
#: (accumulated or back to back) are compared.
DEPTH = EurekaCore.latency + 3


def _pick(a_lane, sel, group):
    """Reference select: a chain of equality tests (not an indexed mux like the design's)."""
    out = a_lane[0]
    for g in range(1, group):
        out = Mux(sel == g, a_lane[g], out)
    return out


class SelectSpec(Elaboratable):
    def __init__(self, cfg, dut):
        self.cfg, self.dut = cfg, dut

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        cfg = self.cfg
        for port in (dut.a, dut.sel, dut.valid):
            m.d.comb += port.eq(AnySeq(len(port.as_value())))
        for l in range(cfg.lanes):
            want = Mux(dut.valid[l], _pick(dut.a[l], dut.sel[l], cfg.group), 0)
            m.d.comb += Assert(dut.x[l] == want)
        return m


class SteerSpec(Elaboratable):
    def __init__(self, cfg, dut):
        self.cfg, self.dut = cfg, dut

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        for port in (dut.p, dut.disp):
            m.d.comb += port.eq(AnySeq(len(port.as_value())))
        for l in range(self.cfg.lanes):
            m.d.comb += [Assert(dut.own[l] + dut.mov[l] == dut.p[l]),
                         Assert(dut.mov[l] == Mux(dut.disp[l], dut.p[l], 0)),
                         Assert(dut.own[l] == Mux(dut.disp[l], 0, dut.p[l]))]
        return m


class MovedSpec(Elaboratable):
    """RowMoved: each segment's output is the sum of its displaced products, given the budget
    (at most one displaced slot per segment, the schedule's promise)."""

    def __init__(self, cfg, dut):
        self.cfg, self.dut = cfg, dut

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        cfg = self.cfg
        for port in (dut.p, dut.disp):
            m.d.comb += port.eq(AnySeq(len(port.as_value())))
        k = cfg.segment
        for s in range(cfg.lanes // k):
            lanes = range(s * k, (s + 1) * k)
            m.d.comb += Assume(sum(dut.disp[l] for l in lanes) <= 1)
            want = sum(Mux(dut.disp[l], dut.p[l], 0) for l in lanes)
            m.d.comb += Assert(dut.seg[s] == want[:2 * cfg.value_width].as_signed())
        return m


class _CoreCheck(Elaboratable):
    """A core under check: ``m`` with the core as ``dut`` and reset held low (:meth:`start`),
    and the ``busy`` counter checked against the weight beats transferred (:meth:`count_beats`)."""

    def __init__(self, dut):
        self.dut = dut

    def start(self):
        m = Module()
        m.submodules.dut = self.dut
        m.d.comb += Assume(~ResetSignal())
        return m, self.dut, self.dut.config

    @staticmethod
    def count_beats(m, dut, w_fire):
        beats = Signal(32)
        with m.If(w_fire):
            m.d.sync += beats.eq(beats + 1)
        m.d.comb += Assert(dut.busy == beats)


class CoreSpec(_CoreCheck):
    """The 2 x 2 core plus the transaction-level reference of the module docstring."""

    QUEUE = 4

    def elaborate(self, platform):
        m, dut, cfg = self.start()
        R, L, G = cfg.rows, cfg.lanes, cfg.group
        acc_shape = signed(cfg.acc_width)
        w, a, o = dut.w, dut.a, dut.o
        wl, al = weight_layout(cfg), act_layout(cfg)
        m.d.comb += [w.payload.eq(AnySeq(wl.size)), a.payload.eq(AnySeq(al.size)),
                     w.valid.eq(AnySeq(1)), a.valid.eq(AnySeq(1)), o.ready.eq(AnySeq(1))]
        # Producers keep the stream rules: valid and payload hold until the transfer. Nothing is
        # displaced out of the top row (the schedule format: row 0 never has disp).
        for s in (w, a):
            was, held = Signal(), Signal.like(s.payload.as_value())
            m.d.sync += [was.eq(s.valid & ~s.ready), held.eq(s.payload.as_value())]
            with m.If(was):
                m.d.comb += [Assume(s.valid), Assume(s.payload.as_value() == held)]
        for l in range(L):
            m.d.comb += Assume(~w.payload.slot[0][l].disp)
        # ... and with a displacement budget, at most one displaced slot per segment and row.
        if cfg.disp_budget:
            k = cfg.segment
            for r in range(1, R):
                for s0 in range(0, L, k):
                    n = sum(w.payload.slot[r][l].disp for l in range(s0, s0 + k))
                    m.d.comb += Assume(n <= 1)

        w_fire = w.valid & w.ready
        a_fire = a.valid & a.ready
        m.d.comb += Assert(a_fire == (w_fire & w.payload.last_window))
        self.count_beats(m, dut, w_fire)

        # Contribution of this beat to each row: own slots, plus the row below's displaced ones.
        contrib = [0] * R
        for r in range(R):
            for l in range(L):
                slot = w.payload.slot[r][l]
                x = Mux(slot.valid, _pick(a.payload.a[l], slot.sel, G), 0)
                prod = Signal(signed(2 * cfg.value_width), name=f"ref_p{r}_{l}")
                m.d.comb += prod.eq(slot.w * x)
                owner = r - 1 if r > 0 else r
                contrib[r] = contrib[r] + Mux(slot.disp & (r > 0), 0, prod)
                if r > 0:
                    contrib[owner] = contrib[owner] + Mux(slot.disp, prod, 0)
        acc = [Signal(acc_shape, name=f"ref_acc{r}") for r in range(R)]
        total = [Signal(acc_shape, name=f"ref_total{r}") for r in range(R)]
        m.d.comb += [total[r].eq(acc[r] + contrib[r]) for r in range(R)]

        q = [[Signal(acc_shape, name=f"q{k}_{r}") for r in range(R)] for k in range(self.QUEUE)]
        head = Signal(range(self.QUEUE))
        tail = Signal(range(self.QUEUE))
        count = Signal(range(self.QUEUE + 1))
        o_fire = o.valid & o.ready
        push = w_fire & w.payload.last
        with m.If(w_fire):
            with m.If(w.payload.last):
                m.d.sync += [acc[r].eq(0) for r in range(R)]
                for k in range(self.QUEUE):
                    with m.If(tail == k):
                        m.d.sync += [q[k][r].eq(total[r]) for r in range(R)]
                m.d.sync += tail.eq(tail + 1)
            with m.Else():
                m.d.sync += [acc[r].eq(total[r]) for r in range(R)]
        with m.If(o_fire):
            m.d.sync += head.eq(head + 1)
        m.d.sync += count.eq(count + push - o_fire)
        m.d.comb += Assert(count <= dut.latency)
        with m.If(o.valid):
            m.d.comb += Assert(count >= 1)
            for k in range(self.QUEUE):
                with m.If(head == k):
                    m.d.comb += [Assert(o.payload.acc[r] == q[k][r]) for r in range(R)]

        stalled, held = Signal(), Signal.like(o.payload.as_value())
        m.d.sync += [stalled.eq(o.valid & ~o.ready), held.eq(o.payload.as_value())]
        with m.If(stalled):
            m.d.comb += [Assert(o.valid), Assert(o.payload.as_value() == held)]
        return m


class _WrongLastLane(RowSelect):
    """Planted N:M-select bug: the last lane takes activation 2 when the metadata says 3."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        l = self._config.lanes - 1
        with m.If(self.valid[l] & (self.sel[l] == 3)):
            m.d.comb += self.x[l].eq(self.a[l][2])
        return m


class _LostDisplaced(RowSteer):
    """Planted SUDS bug: a displaced product of lane 0 stays in its own (wrong) row's tree."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.disp[0]):
            m.d.comb += [self.own[0].eq(self.p[0]), self.mov[0].eq(0)]
        return m


def test_select_block():
    assert_formal(SelectSpec(SMALL, RowSelect(SMALL)), "eureka_sel", depth=1)


def test_steer_block():
    assert_formal(SteerSpec(SMALL, RowSteer(SMALL)), "eureka_suds", depth=1)


#: The SMALL core's row with each displacement budget the moved-product block can have.
MOVED = [dataclasses.replace(SMALL, steer="after", disp_budget=d) for d in (0, 1, 2)]


@pytest.mark.parametrize("cfg", MOVED, ids=lambda c: f"D{c.disp_budget}")
def test_moved_block(cfg):
    assert_formal(MovedSpec(cfg, RowMoved(cfg)), f"eureka_moved_d{cfg.disp_budget}", depth=1)


class _MovedDropsLast(RowMoved):
    """Planted SUDS bug: a displaced product in the last lane of a segment is lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        k = self._config.segment
        for s in range(self._config.lanes // k):
            with m.If(self.disp[(s + 1) * k - 1]):
                m.d.comb += self.seg[s].eq(0)
        return m


def test_core():
    assert_formal(CoreSpec(EurekaCore(CORE)), "eureka_core", depth=DEPTH)


@pytest.mark.parametrize("bug", ["select", "steer", "moved"])
def test_planted_block_bug_fails(bug):
    spec = {"select": lambda: SelectSpec(SMALL, _WrongLastLane(SMALL)),
            "steer": lambda: SteerSpec(SMALL, _LostDisplaced(SMALL)),
            "moved": lambda: MovedSpec(MOVED[1], _MovedDropsLast(MOVED[1]))}[bug]()
    with pytest.raises(FormalFailure) as e:
        assert_formal(spec, f"eureka_bug_block_{bug}", depth=1)
    assert e.value.status == "FAIL"


@pytest.mark.parametrize("bug", ["select", "steer"])
def test_planted_core_bug_fails(bug, monkeypatch):
    if bug == "select":
        monkeypatch.setattr(core_mod, "RowSelect", _WrongLastLane)
    elif bug == "steer" and CORE.steer == "after":
        monkeypatch.setattr(core_mod, "RowMoved", _MovedDropsLast)
    elif bug == "steer":
        monkeypatch.setattr(core_mod, "RowSteer", _LostDisplaced)
    dut = EurekaCore(CORE)
    with pytest.raises(FormalFailure) as e:
        assert_formal(CoreSpec(dut), f"eureka_bug_core_{bug}", depth=DEPTH)
    assert e.value.status == "FAIL"



# -- independent lanes (issue 11 item 2): the per-lane handshake, bounded -------------------------

#: The 2 x 2 core with independent lanes (full moved path), narrowest widths.
LANES = dataclasses.replace(CORE, lane_sync="independent", disp_budget=0)


class LaneHandshakeSpec(_CoreCheck):
    """Independent lanes, any beats, windows and backpressure: a beat transfers exactly when it
    is offered, the output can move, and every lane that needs its window (a valid slot in its
    column, or its ``last_window`` bit; computed here from the payload) offers one; lane ``l``'s
    window transfers exactly with a beat that has ``last_window[l]``; ``busy`` counts beats.
    BMC to :data:`DEPTH` cycles, so that results (and hence ``o`` backpressure) are in flight."""

    def elaborate(self, platform):
        m, dut, cfg = self.start()
        w, o = dut.w, dut.o
        m.d.comb += [w.payload.eq(AnySeq(weight_layout(cfg).size)), w.valid.eq(AnySeq(1)),
                     o.ready.eq(AnySeq(1))]
        for a in dut.a:
            m.d.comb += [a.payload.eq(AnySeq(len(a.payload.as_value()))), a.valid.eq(AnySeq(1))]
        can_move = ~o.valid | o.ready
        offered = 1
        for l, a in enumerate(dut.a):
            need = w.payload.last_window[l]
            for r in range(cfg.rows):
                need = need | w.payload.slot[r][l].valid
            offered = offered & (~need | a.valid)
        w_fire = w.valid & w.ready
        m.d.comb += Assert(w_fire == (w.valid & can_move & offered))
        for l, a in enumerate(dut.a):
            m.d.comb += Assert((a.valid & a.ready) == (w_fire & w.payload.last_window[l]))
        self.count_beats(m, dut, w_fire)
        return m


class _PopsNeighbour(EurekaCore):
    """Planted handshake bug: lane 0's window is popped by lane 1's ``last_window`` bit."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        w = self.w
        m.d.comb += self.a[0].ready.eq(w.valid & w.ready & w.payload.last_window[1])
        return m


@pytest.mark.parametrize("bug", [False, True], ids=["core", "planted-bug"])
def test_independent_lane_handshake(bug):
    spec = LaneHandshakeSpec((_PopsNeighbour if bug else EurekaCore)(LANES))
    if not bug:
        assert_formal(spec, "eureka_lanes", depth=DEPTH)
        return
    with pytest.raises(FormalFailure) as e:
        assert_formal(spec, "eureka_bug_lanes", depth=DEPTH)
    assert e.value.status == "FAIL"
