"""hw/common/shared.py: one Verilog module for many identical instances (:class:`SharedModule`):
written once under its name, its bad names refused, and its instances simulated on Verilator."""

import re

import pytest
from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.echo import StreamRegister, echo_layout
from hw.common.shared import SharedModule
from sim.verilator import build_model, convert


class _SharedChain(wiring.Component):
    """``n`` stream registers in series, all instances of one shared module."""

    def __init__(self, n, width=16):
        self._n = n
        self._stage = SharedModule(".stage", lambda: StreamRegister(echo_layout(width)))
        lay = echo_layout(width)
        super().__init__({"i": In(stream.Signature(lay)), "o": Out(stream.Signature(lay))})

    def elaborate(self, platform):
        m = Module()
        stages = [self._stage.instance() for _ in range(self._n)]
        for k, s in enumerate(stages):
            m.submodules[f"r{k}"] = s
        wiring.connect(m, wiring.flipped(self.i), stages[0].i)
        for a, b in zip(stages, stages[1:]):
            wiring.connect(m, a.o, b.i)
        wiring.connect(m, stages[-1].o, wiring.flipped(self.o))
        return m


def test_shared_module_written_once():
    text = convert(_SharedChain(3), "harness_chain")
    modules = re.findall(r"^module (\S+?)\s*\(", text, re.MULTILINE)
    assert modules == ["harness_chain", "\\harness_chain.stage"]
    assert len(re.findall(r"^  \\harness_chain\.stage\s+r\d", text, re.MULTILINE)) == 3


def test_shared_module_refuses_bad_names():
    with pytest.raises(ValueError, match="name"):
        SharedModule("two words", lambda: StreamRegister(echo_layout(4)))


@pytest.mark.rtl
def test_shared_module_instances_simulate(seed):
    # Three instances of one module in series: the stand-ins' port wiring (directions, clock,
    # reset, payload vectors) must carry the stream through with a latency of three.
    model = build_model(_SharedChain(3), "harness_chain", extra={"width": 16, "latency": 3})
    results = model.run("cocotb_harness", seed=seed)
    assert results["echo_no_stall"] == "pass"
    assert results["echo_idle_and_backpressure"] == "pass"
