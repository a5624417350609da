"""sim/native.py: the generic C++ driver, on designs whose behaviour is obvious.

One model per design, built once (cached) and run with many scripts.
"""

import random

import pytest
from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.echo import StreamRegister
from sim import native

pytestmark = pytest.mark.rtl


class Summer(wiring.Component):
    """Sums the 72-bit words loaded on ``load``; ``start`` sends the 80-bit sum on ``o`` after
    ``delay`` cycles, then raises ``done``; ``cycles`` counts cycles from ``start`` to ``done``;
    ``probe`` is byte ``sel`` of the sum."""

    def __init__(self):
        super().__init__({"load": In(stream.Signature(72)), "start": In(1), "delay": In(8),
                          "o": Out(stream.Signature(80)), "done": Out(1), "cycles": Out(32),
                          "sel": In(4), "probe": Out(8)})

    def elaborate(self, platform):
        m = Module()
        acc = Signal(80)
        wait = Signal(8)
        running = Signal()
        m.d.comb += [self.load.ready.eq(~running), self.o.payload.eq(acc),
                     self.probe.eq(acc.word_select(self.sel, 8))]
        with m.If(self.load.valid & self.load.ready):
            m.d.sync += acc.eq(acc + self.load.payload)
        with m.If(self.start & ~running):
            m.d.sync += [running.eq(1), wait.eq(self.delay), self.done.eq(0), self.cycles.eq(0)]
        with m.If(running):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(wait != 0):
                m.d.sync += wait.eq(wait - 1)
            with m.Else():
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.d.sync += [running.eq(0), self.done.eq(1), acc.eq(0)]
        return m


@pytest.fixture(scope="module")
def summer():
    return native.build(Summer(), "native_summer")


@pytest.fixture(scope="module")
def register():
    return native.build(StreamRegister(100), "native_reg100")


def test_parse_ports():
    text = ("module top(a, clk, rst, y);\n  input [99:0] a;\n  wire [99:0] a;\n  input clk;\n"
            "  input rst;\n  output [40:0] y;\nendmodule\nmodule other(b);\n  input b;\nendmodule\n")
    ports = native.parse_ports(text, "top")
    assert [(p.name, p.direction, p.width) for p in ports] == [
        ("a", "input", 100), ("clk", "input", 1), ("rst", "input", 1), ("y", "output", 41)]
    assert [p.ctype for p in ports] == ["VlWide<4>", "CData", "CData", "QData"]
    with pytest.raises(native.NativeError, match="no module 'missing'"):
        native.parse_ports(text, "missing")


def test_sum_and_counters(summer):
    rng = random.Random(1)
    words = [rng.getrandbits(72) for _ in range(50)]
    res = summer.run([("poke", "delay", 7), ("feed", "load", words), ("drain", "o"),
                      ("pulse", "start"), ("until", "done", 1000), ("peek", "cycles"),
                      ("poke", "sel", 9), ("step", 1), ("peek", "probe")])
    total = sum(words) % (1 << 80)
    assert res.streams["o"] == [total]
    # start's cycle, 7 waits, the output cycle: done is seen one cycle after the transfer
    assert res.peeks[0] == 1 + 7
    assert res.peeks[1] == 0   # the sum was cleared after it left
    assert res.sim_cycles == native.RESET_CYCLES + 50 + 1 + 8 + 1
    # a second run on the same model: independent, reset again
    res2 = summer.run([("feed", "load", [5, 6]), ("drain", "o"), ("pulse", "start"),
                       ("until", "done", 100), ("poke", "sel", 0), ("step", 1), ("peek", "probe")])
    assert res2.streams["o"] == [11] and res2.peeks == [0]


def test_backpressure_holds_until_drained(summer):
    # without drain, o is never ready: done never rises and until reports the cap
    with pytest.raises(native.NativeError, match="until done not set after 50 cycles"):
        summer.run([("feed", "load", [1]), ("pulse", "start"), ("until", "done", 50)])


def test_wide_stream_register(register):
    rng = random.Random(2)
    beats = [rng.getrandbits(100) for _ in range(300)] + [0, (1 << 100) - 1]
    res = register.run([("drain", "o"), ("feed", "i", beats), ("step", 3)])
    assert res.streams["o"] == beats


def test_bad_scripts(summer):
    with pytest.raises(native.NativeError, match="no input port 'nope'"):
        summer.run([("poke", "nope", 1)])
    with pytest.raises(native.NativeError, match="no input port 'done'"):
        summer.run([("poke", "done", 1)])
    with pytest.raises(ValueError, match="does not fit port delay"):
        summer.run([("poke", "delay", 256)])
    with pytest.raises(ValueError, match="unknown native command 'jump'"):
        summer.run([("jump", 3)])
    with pytest.raises(native.NativeError, match="without a trace format"):
        summer.run([("trace", 1)])


def test_trace_vcd(tmp_path):
    model = native.build(StreamRegister(8), "native_reg8_vcd", trace="vcd")
    path = tmp_path / "t.vcd"
    res = model.run([("drain", "o"), ("feed", "i", [0x5a, 0xa5]), ("step", 2)], trace_path=path)
    assert res.streams["o"] == [0x5a, 0xa5]
    text = path.read_text()
    assert "$var" in text and "o__payload" in text


def test_saif_windows_and_the_power_commands(tmp_path):
    """A ``trace="saif"`` model: a SAIF window where the script opens it, concurrent feeds,
    waits on drained beats, watches; the toggle counts of a known pattern."""
    model = native.build(StreamRegister(8), "native_reg8_saif", trace="saif")
    beats = [0x55, 0xAA] * 10
    path = tmp_path / "w.saif"
    res = model.run([("drain", "o"), ("watch", "o__valid"), ("feed_bg", "i", beats),
                     ("step", 3), ("saif", path), ("step", 10), ("saif", None),
                     ("until_beats", "o", len(beats), 100), ("peek", "o__valid")])
    assert res.streams["o"] == beats
    first = native.RESET_CYCLES + 3
    assert res.windows == [(first, first + 10)]
    # the register takes a beat every cycle and shows it one cycle later
    cycles = [c for c, v in res.watched["o__valid"]]
    assert cycles == list(range(cycles[0], cycles[0] + len(beats))) and cycles[0] == native.RESET_CYCLES + 1
    assert res.peeked == {"o__valid": [0]}
    nets, duration = native.read_saif(path)
    assert duration == 2 * 10
    # 0x55 <-> 0xaa: every payload bit flips between each two of the window's 10 beats (9), and
    # Verilator's SAIF counts a 1 at the window's first dump as one more toggle
    first_beat = beats[3]                   # the feed's 4th beat is on the input when it opens
    assert [nets[f"i__payload[{b}]"][2] for b in range(8)] == \
        [9 + (first_beat >> b & 1) for b in range(8)]
    assert nets["i__valid"][:3] == (0, 20, 1)     # high all window long
    assert nets["clk"][2] == 19
    seq = model.run([("drain", "o"), ("seq", [("i", 7), ("i", 9)]), ("until_beats", "o", 2, 20)])
    assert seq.streams["o"] == [7, 9]
    with pytest.raises(native.NativeError, match="until_beats o 5: 2 drained after 30 cycles"):
        model.run([("drain", "o"), ("feed_bg", "i", [1, 2]), ("until_beats", "o", 5, 30)])
    with pytest.raises(native.NativeError, match="needs a model built with trace='saif'"):
        native.build(StreamRegister(8), "native_reg8_vcd", trace="vcd").run([("saif", path)])


def test_build_phases_are_measured(tmp_path, monkeypatch):
    """``_measured`` (each phase of a native build): CPU seconds and peak memory of the child,
    progress lines while it runs, its return code."""
    import sys
    lines = []
    monkeypatch.setattr(native, "HEARTBEAT", 0.2)
    with open(tmp_path / "log", "w") as out:
        res = native._measured([sys.executable, "-c", "import time; b = bytearray(150_000_000); "
                                "b[::4096] = b'x' * len(b[::4096]); time.sleep(1)"],
                               tmp_path, None, out, "toy", lines.append)
    assert res["returncode"] == 0 and res["peak_mb"] >= 150 and res["wall_s"] >= 1
    assert lines[0] == "toy started" and lines[-1].startswith("toy done in ")
    assert any("running" in m and "MB resident" in m for m in lines[1:-1])
    with open(tmp_path / "log", "w") as out:
        bad = native._measured([sys.executable, "-c", "raise SystemExit(3)"], tmp_path, None,
                               out, "bad", lines.append)
    assert bad["returncode"] == 3 and lines[-1].startswith("bad FAILED")
