"""Formal: the SparTen cluster's broadcast stream (hw/sparten/cluster.py), bounded model check.

A 2-unit cluster at chunk 8 (2-bit values, tiny memories) with free input chunks (obeying the
stream rules: valid and payload hold until ``i.ready``), free filter-bank writes at any time (so
any masks and any match counts reach the units) and with and without the input FIFO. A reference
queues the ``out_addr`` of every accepted chunk that ends an output position (``last``) and
asserts, for each unit separately:

* every result strobe of the unit carries the address at the head of the unit's queue (each
  accepted position is answered once, in order: nothing duplicated, nothing reordered);
* at most :data:`IN_FLIGHT` positions are pending per unit, and when the cluster reports ``idle``
  every accepted position has been answered (nothing lost).

A second check (:class:`ReadyIndependence`, two copies of the cluster) shows that ``i.ready`` does
not depend on ``i.valid``. The values of the results are not part of these checks (the inner join is proved in
test_formal_innerjoin.py; the dot products are compared bit for bit with the golden model by the
RTL tests). BMC from reset to :data:`DEPTH` cycles.
"""

import dataclasses

import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, ResetSignal
from amaranth.lib import wiring

import hw.sparten.cluster as cluster_mod
from formal_util import FormalFailure, assert_formal
from hw.sparten.cluster import Cluster, cluster_input_layout, weight_write_layout
from hw.sparten.config import SparTenConfig
from hw.sparten.cu import ComputeUnit

pytestmark = pytest.mark.formal

CONFIG = SparTenConfig(chunk=8, value_width=2, acc_width=8, n_units=2, max_reduction=8,
                       act_depth=2, weight_depth=2, out_depth=4, max_channels=2, max_size=2,
                       max_kernel=1, max_stride=1)
DEPTH = 12
#: Positions one unit can have accepted but not yet answered: FIFO, input stage, join, operand
#: register, result register.
IN_FLIGHT = 6
QUEUE = 8


class ClusterSpec(Elaboratable):
    def __init__(self, dut):
        self.dut = dut

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        cfg = dut._cfg
        n = cfg.n_units
        m.d.comb += Assume(~ResetSignal())
        i = dut.i
        m.d.comb += [i.payload.eq(AnySeq(cluster_input_layout(cfg).size)), i.valid.eq(AnySeq(1)),
                     dut.w_wr.eq(AnySeq(weight_write_layout(cfg).size)), dut.clear.eq(0)]
        was, held = Signal(), Signal.like(i.payload.as_value())
        m.d.sync += [was.eq(i.valid & ~i.ready), held.eq(i.payload.as_value())]
        with m.If(was):
            m.d.comb += [Assume(i.valid), Assume(i.payload.as_value() == held)]

        aw = len(i.payload.out_addr)
        q = [Signal(aw, name=f"q{k}") for k in range(QUEUE)]
        tail = Signal(range(QUEUE))
        with m.If(i.valid & i.ready & i.payload.last):
            for k in range(QUEUE):
                with m.If(tail == k):
                    m.d.sync += q[k].eq(i.payload.out_addr)
            m.d.sync += tail.eq(tail + 1)
        for u in range(n):
            head = Signal(range(QUEUE), name=f"head{u}")
            pending = Signal(range(QUEUE), name=f"pending{u}")
            m.d.comb += pending.eq(tail - head)
            m.d.comb += Assert(pending <= IN_FLIGHT)
            res = dut.res[u]
            with m.If(res.valid):
                m.d.comb += Assert(pending != 0)
                for k in range(QUEUE):
                    with m.If(head == k):
                        m.d.comb += Assert(res.addr == q[k])
                m.d.sync += head.eq(head + 1)
            with m.If(dut.idle):
                m.d.comb += Assert(pending == 0)
        return m


class _DropsResult(ComputeUnit):
    """Planted bug: a real compute unit behind a wrapper that swallows its result strobe for
    output address 3."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = ComputeUnit(self._cfg, shared_act=self.shared_act)
        wiring.connect(m, wiring.flipped(self.i), inner.i)
        if self.shared_act:
            m.d.comb += [inner.act_held.eq(self.act_held),
                         inner.prefix_a_held.eq(self.prefix_a_held)]
        m.d.comb += [inner.others_busy.eq(self.others_busy), inner.clear.eq(self.clear),
                     self.count.eq(inner.count), self.busy.eq(inner.busy),
                     self.idle.eq(inner.idle), self.res.eq(inner.res)]
        with m.If(inner.res.addr == 3):
            m.d.comb += self.res.valid.eq(0)
        return m


@pytest.mark.parametrize("fifo_depth", [0, 2])
def test_cluster_streams(fifo_depth):
    cfg = dataclasses.replace(CONFIG, fifo_depth=fifo_depth)
    assert_formal(ClusterSpec(Cluster(cfg)), f"cluster_fifo{fifo_depth}", depth=DEPTH)


def test_planted_bug_fails(monkeypatch):
    monkeypatch.setattr(cluster_mod, "ComputeUnit", _DropsResult)
    with pytest.raises(FormalFailure) as e:
        assert_formal(ClusterSpec(Cluster(CONFIG)), "cluster_bug_lost_result", depth=DEPTH)
    assert e.value.status == "FAIL"


class ReadyIndependence(Elaboratable):
    """Two copies of the cluster get the same payloads and filter-bank writes, but their own free
    ``i.valid``. While every past cycle had the same transfers in both (so, the design being
    deterministic, both are in the same state), ``i.ready`` must agree: it does not depend on
    ``i.valid`` (the contract in the cluster's docstring that lets a producer wait for ``ready``)."""

    def __init__(self, make):
        self.make = make

    def elaborate(self, platform):
        m = Module()
        m.submodules.a = a = self.make()
        m.submodules.b = b = self.make()
        cfg = a._cfg
        m.d.comb += Assume(~ResetSignal())
        payload = Signal(cluster_input_layout(cfg).size)
        wr = Signal(weight_write_layout(cfg).size)
        m.d.comb += [payload.eq(AnySeq(len(payload))), wr.eq(AnySeq(len(wr)))]
        for c in (a, b):
            m.d.comb += [c.i.payload.eq(payload), c.w_wr.eq(wr), c.clear.eq(0),
                         c.i.valid.eq(AnySeq(1))]
        same = Signal(init=1)
        with m.If((a.i.valid & a.i.ready) != (b.i.valid & b.i.ready)):
            m.d.sync += same.eq(0)
        with m.If(same):
            m.d.comb += Assert(a.i.ready == b.i.ready)
        return m


class _ReadyWaitsForValid(Cluster):
    """Planted bug: a real cluster behind a wrapper whose ``i.ready`` waits for ``i.valid``."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = Cluster(self._cfg)
        m.d.comb += [inner.i.valid.eq(self.i.valid), inner.i.payload.eq(self.i.payload),
                     self.i.ready.eq(inner.i.ready & self.i.valid), inner.w_wr.eq(self.w_wr),
                     inner.clear.eq(self.clear), self.res.eq(inner.res),
                     self.count.eq(inner.count), self.idle.eq(inner.idle)]
        return m


#: Cycles for the ready check (two clusters in one model).
READY_DEPTH = 8


@pytest.mark.parametrize("fifo_depth", [0, 2])
def test_ready_independent_of_valid(fifo_depth):
    cfg = dataclasses.replace(CONFIG, fifo_depth=fifo_depth)
    assert_formal(ReadyIndependence(lambda: Cluster(cfg)), f"cluster_ready_fifo{fifo_depth}",
                  depth=READY_DEPTH)


def test_ready_check_fails_on_planted_bug():
    with pytest.raises(FormalFailure) as e:
        assert_formal(ReadyIndependence(lambda: _ReadyWaitsForValid(CONFIG)),
                      "cluster_bug_ready", depth=READY_DEPTH)
    assert e.value.status == "FAIL"
