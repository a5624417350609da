"""Native Verilator runs: a whole layer or GEMM with no Python work per cycle.

cocotb drives every cycle from Python and its runner builds with ``--public-flat-rw``, which keeps
Verilator from optimising the design; both are right for protocol tests (idle cycles,
backpressure) and far too slow for a whole real-size layer. This module builds the same Verilog
with one generic C++ driver instead, and runs a short command *script* in it:

========================== ===========================================================
``("poke", port, value)``  set an input port (any width) from the next cycle on
``("feed", stream, beats)`` drive ``<stream>__payload`` with each beat in turn,
                           ``__valid`` high, advancing on ``__ready``; returns when all
                           are taken (``__valid`` low again)
``("drain", stream)``      from now on ``<stream>__ready`` is high and every transfer is
                           recorded
``("pulse", port)``        the input is 1 for one cycle, then 0
``("until", port, cap)``   step until the output ``port`` is non-zero; a
                           :class:`NativeError` after ``cap`` cycles
``("step", n)``            ``n`` cycles
``("peek", port)``         record the value of a port now
``("trace", on)``          start/stop writing the trace of a model built with ``trace``
========================== ===========================================================

A model built with ``trace="saif"`` (the power flow's, :mod:`synth.power`) writes SAIF only in
windows the script opens, and has the commands of the power workloads:

=================================== ==================================================
``("saif", path)`` / ``("saif", None)`` open a SAIF window writing ``path`` (toggle counting
                                    starts there, time 0) / close it; each window is
                                    recorded as ``(first cycle, end cycle)``
``("feed_bg", stream, beats)``      like ``feed`` but concurrent with what follows
                                    (returns at once)
``("seq", [(stream, beat), ...])``  a concurrent feed over several streams in one order,
                                    each beat waiting for the one before
``("wave", port, values)``          one value per cycle on an input, stepping once each
``("watch", port)``                 from now on record ``(cycle, value)`` whenever the
                                    output is non-zero (strobes)
``("until_fed", cap)``              step until every concurrent feed is taken
``("until_beats", stream, n, cap)`` step until ``n`` beats were drained from ``stream``
                                    and every concurrent feed is taken
=================================== ==================================================

One cycle is two SAIF time units. :func:`read_saif` reads the file back.

A cycle is: clock low, inputs applied, evaluate; transfers sampled (valid & ready); clock high,
evaluate. ``rst`` is held high for the first :data:`RESET_CYCLES` cycles (counted in
``sim_cycles``). Port names are the top's Verilog names; a stream is named by its prefix
(``load`` for ``load__payload``/``load__valid``/``load__ready``).

Example::

    model = build(SparTenLayer(cfg), "sparten_layer_paper", cfg)
    res = model.run([("poke", "desc", d), ("feed", "load", beats), ("drain", "o_acc"),
                     ("pulse", "start"), ("until", "done", 10**8), ("peek", "cycles")])
    res.streams["o_acc"], res.peeks, res.sim_cycles, res.seconds

Models are cached in ``build/native/<name>-<hash>/`` (hash of the Verilog, the driver and the build
options) under a file lock, so pytest-xdist workers asking for one model build it once.
"""

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .verilator import _locked, build_dir, convert, verilator_env

__all__ = ["build", "build_verilog", "NativeModel", "NativeResult", "NativeError", "Port",
           "parse_ports", "read_saif", "RESET_CYCLES", "PROFILES"]

RESET_CYCLES = 4

#: Verilator options of native builds. Unlike cocotb's runner: no ``--public-flat-rw`` (it stops
#: Verilator from inlining and optimising signals away), no VPI.
BUILD_ARGS = ("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT",
              "--x-assign", "fast", "--x-initial", "fast", "-O3")

#: C++ optimisation of the model (Verilator's default is -Os); -O2 runs about 1.3-2x faster on
#: large designs for a somewhat longer compile *(ours; measured in make bench)*.
CXX_OPT = "-O2"

TRACE_FORMATS = {None: (), "vcd": ("--trace",), "fst": ("--trace-fst",),
                 "saif": ("--trace-saif", "--trace-underscore")}

#: Build profiles: (Verilator options, C++ optimisation). ``run``: whole layers, fast models.
#: ``power``: the power flow's gate-level netlists and RTL; netlists are not lint-clean (unused
#: cell outputs, Yosys' enumerated nets), and ``-O0`` compiles a gate-level netlist in half the
#: time of ``-O1`` while a few thousand cycles still run in seconds (docs/power.md measures it).
PROFILES = {
    "run": (BUILD_ARGS, CXX_OPT),
    "power": (("-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-UNOPTFLAT", "-Wno-MULTIDRIVEN",
               "--x-assign", "fast", "--x-initial", "fast"), "-O0"),
}


class NativeError(RuntimeError):
    """A native build or run failed; the message names the model, the command and the cause."""


@dataclasses.dataclass(frozen=True)
class Port:
    """One port of the top: Verilog name, direction (``"input"``/``"output"``) and width."""

    name: str
    direction: str
    width: int

    @property
    def cname(self):
        """The C++ member Verilator gives the port (it escapes a second underscore as ``__05F``)."""
        return self.name.replace("__", "___05F")

    @property
    def words(self):
        return max(1, -(-self.width // 32))

    @property
    def ctype(self):
        """The C type Verilator gives the port (``CData``.. ``QData``, or ``VlWide`` above 64)."""
        if self.width <= 8:
            return "CData"
        if self.width <= 16:
            return "SData"
        if self.width <= 32:
            return "IData"
        if self.width <= 64:
            return "QData"
        return f"VlWide<{self.words}>"


_DECL = re.compile(r"^\s*(input|output)\s+(?:(?:wire|reg)\s+)?(?:signed\s+)?"
                   r"(?:\[(\d+):(\d+)\]\s*)?(\\?[^\s;]+)\s*;", re.MULTILINE)


def parse_ports(verilog_text, top):
    """The ports of module ``top`` in ``verilog_text`` (as Amaranth/Yosys writes them)."""
    m = re.search(rf"^module {re.escape(top)}\s*\(", verilog_text, re.MULTILINE)
    if m is None:
        raise NativeError(f"no module {top!r} in the Verilog")
    end = verilog_text.find("\nendmodule", m.end())
    body = verilog_text[m.end():end if end >= 0 else None]
    ports = []
    for d in _DECL.finditer(body):
        direction, hi, lo, name = d.groups()
        if name.startswith("\\"):
            raise NativeError(f"port {name!r} of {top} needs an escaped name; the native driver "
                              "supports plain identifiers only")
        width = abs(int(hi) - int(lo)) + 1 if hi is not None else 1
        ports.append(Port(name, direction, width))
    if not ports:
        raise NativeError(f"module {top!r} has no ports")
    return ports


# -- the C++ driver ---------------------------------------------------------------------------

_DRIVER = r"""// Generated by sim/native.py: runs a command script on V@TOP@ with no per-cycle host work.
#include "V@TOP@.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
@TRACE_INCLUDE@

typedef std::vector<uint32_t> Word;

static V@TOP@* top;
static VerilatedContext* ctx;
@TRACE_DECL@
static bool tracing = false;
static uint64_t ncycles = 0;
static FILE* out;

struct Stream { int payload, valid, ready; bool draining; };

static const char* PORT_NAMES[] = {@PORT_NAMES@};
static const int PORT_WORDS[] = {@PORT_WORDS@};
static const int PORT_WIDTH[] = {@PORT_WIDTH@};
static const int NPORTS = @NPORTS@;

static void set_port(int id, const Word& w) {
    switch (id) {
@SET_CASES@
    default: fprintf(stderr, "native: port %d is not an input\n", id); exit(2);
    }
}

static Word get_port(int id) {
    Word w(PORT_WORDS[id], 0);
    switch (id) {
@GET_CASES@
    }
    return w;
}

static int find_port(const std::string& name) {
    for (int i = 0; i < NPORTS; i++)
        if (name == PORT_NAMES[i]) return i;
    return -1;
}

static int need_port(const std::string& name) {
    int id = find_port(name);
    if (id < 0) { fprintf(stderr, "native: no port %s\n", name.c_str()); exit(2); }
    return id;
}

static Word parse_hex(const char* s, int words) {
    Word w(words, 0);
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        char c = s[n - 1 - i];
        uint32_t v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                   : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
        if (v == 99) { fprintf(stderr, "native: bad hex digit in %s\n", s); exit(2); }
        size_t word = i / 8;
        if (word < (size_t)words) w[word] |= v << (4 * (i % 8));
        else if (v) { fprintf(stderr, "native: value %s too wide\n", s); exit(2); }
    }
    return w;
}

static void write_hex(const Word& w, int width) {
    bool started = false;
    for (int i = (int)w.size() - 1; i >= 0; i--) {
        uint32_t v = w[i];
        if (i == (int)w.size() - 1 && width % 32) v &= (1u << (width % 32)) - 1;
        if (!started) { if (v || i == 0) { fprintf(out, "%x", v); started = true; } }
        else fprintf(out, "%08x", v);
    }
}

static bool nonzero(const Word& w) {
    for (uint32_t v : w) if (v) return true;
    return false;
}

static std::vector<Stream> drains;
static Word ONE(1, 1), ZERO(1, 0);
@EXTRA_DECL@
// One clock cycle. `feed` (payload id or -1) drives `beat` with valid; returns true when taken.
static bool cycle(int feed_valid, int feed_ready, int feed_payload, const Word* beat) {
@CYCLE_PRE@    if (feed_valid >= 0) { set_port(feed_payload, *beat); set_port(feed_valid, ONE); }
    top->clk = 0;
    top->eval();
    bool taken = feed_valid >= 0 && nonzero(get_port(feed_ready));
    for (auto& s : drains)
        if (nonzero(get_port(s.valid))) {
            fprintf(out, "S %s ", PORT_NAMES[s.payload]);
            write_hex(get_port(s.payload), PORT_WIDTH[s.payload]);
            fputc('\n', out);
        }
@CYCLE_SAMPLE@    ctx->timeInc(1);
@TRACE_DUMP@
    top->clk = 1;
    top->eval();
    ctx->timeInc(1);
@TRACE_DUMP@
@CYCLE_POST@    ncycles++;
    return taken;
}

static void plain_cycle() { cycle(-1, -1, -1, nullptr); }

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s SCRIPT RESULTS\n", argv[0]); return 2; }
    ctx = new VerilatedContext;
    ctx->commandArgs(1, argv);
@TRACE_PRE@    top = new V@TOP@{ctx};
@TRACE_OPEN@
    FILE* in = fopen(argv[1], "r");
    out = fopen(argv[2], "w");
    if (!in || !out) { fprintf(stderr, "native: cannot open the script or the results\n"); return 2; }
    top->rst = 1;
    for (int i = 0; i < @RESET@; i++) plain_cycle();
    top->rst = 0;
    static char line[1 << 16];
    std::string big;
    char cmd[32], arg[256];
    while (fscanf(in, "%31s", cmd) == 1) {
        std::string c = cmd;
        if (c == "poke") {
            if (fscanf(in, "%255s", arg) != 1) return 2;
            int id = need_port(arg);
            if (fscanf(in, "%65535s", line) != 1) return 2;
            set_port(id, parse_hex(line, PORT_WORDS[id]));
        } else if (c == "feed") {
            long n;
            if (fscanf(in, "%255s %ld", arg, &n) != 2) return 2;
            std::string s = arg;
            int p = need_port(s + "__payload"), v = need_port(s + "__valid"),
                r = need_port(s + "__ready");
            for (long i = 0; i < n; i++) {
                if (fscanf(in, "%65535s", line) != 1) { fprintf(stderr, "native: short feed\n"); return 2; }
                Word beat = parse_hex(line, PORT_WORDS[p]);
                long waited = 0;
                while (!cycle(v, r, p, &beat)) {
                    if (++waited > 100000000L) {
                        fprintf(out, "E feed %s stalled at beat %ld\n", arg, i);
                        fclose(out); return 3;
                    }
                }
            }
            set_port(v, ZERO);
        } else if (c == "drain") {
            if (fscanf(in, "%255s", arg) != 1) return 2;
            std::string s = arg;
            Stream st{need_port(s + "__payload"), need_port(s + "__valid"), need_port(s + "__ready"), true};
            set_port(st.ready, ONE);
            drains.push_back(st);@DRAIN_ADD@
        } else if (c == "pulse") {
            if (fscanf(in, "%255s", arg) != 1) return 2;
            int id = need_port(arg);
            set_port(id, ONE);
            plain_cycle();
            set_port(id, ZERO);
        } else if (c == "until") {
            long cap;
            if (fscanf(in, "%255s %ld", arg, &cap) != 2) return 2;
            int id = need_port(arg);
            long k = 0;
            top->clk = 0;
            top->eval();
            while (!nonzero(get_port(id))) {
                if (k++ >= cap) {
                    fprintf(out, "E until %s not set after %ld cycles\n", arg, cap);
                    fclose(out); return 3;
                }
                plain_cycle();
            }
        } else if (c == "step") {
            long n;
            if (fscanf(in, "%ld", &n) != 1) return 2;
            for (long i = 0; i < n; i++) plain_cycle();
        } else if (c == "peek") {
            if (fscanf(in, "%255s", arg) != 1) return 2;
            int id = need_port(arg);
            top->clk = 0;
            top->eval();
            fprintf(out, "P ");
            write_hex(get_port(id), PORT_WIDTH[id]);
            fputc('\n', out);
        } else if (c == "trace") {
            int on;
            if (fscanf(in, "%d", &on) != 1) return 2;
            tracing = on != 0;
@EXTRA_CMDS@        } else {
            fprintf(stderr, "native: unknown command %s\n", cmd);
            return 2;
        }
    }
@END@    fprintf(out, "C %llu\n", (unsigned long long)ncycles);
    fclose(out);
@TRACE_CLOSE@
    top->final();
    delete top;
    delete ctx;
    return 0;
}
"""

_TRACE_PARTS = {
    None: {"INCLUDE": "", "DECL": "", "DUMP": "", "OPEN": "", "CLOSE": ""},
}
for _fmt, _cls, _hdr in (("vcd", "VerilatedVcdC", "verilated_vcd_c.h"),
                         ("fst", "VerilatedFstC", "verilated_fst_c.h")):
    _TRACE_PARTS[_fmt] = {
        "INCLUDE": f'#include "{_hdr}"',
        "DECL": f"static {_cls}* tfp;",
        "DUMP": "    if (tracing) tfp->dump(ctx->time());",
        "OPEN": (f"    Verilated::traceEverOn(true);\n    tfp = new {_cls};\n"
                 "    top->trace(tfp, 99);\n"
                 '    tfp->open(getenv("SPARSE_HW_TRACE") ? getenv("SPARSE_HW_TRACE") : '
                 '"trace.dat");\n    tracing = true;'),
        "CLOSE": "    tfp->close();",
    }

# SAIF (power): no trace from the start, but windows opened and closed by the script
# (``saif_on PATH`` .. ``saif_off``); the window's time counts from 0 at its opening, two units
# per cycle. The same build has the power workloads' commands: concurrent feeds, ordered feeds
# over several streams, per-cycle waves, strobe watches, and waits on drained beats.
_TRACE_PARTS["saif"] = {
    "INCLUDE": '#include "verilated_saif_c.h"',
    "DECL": "static VerilatedSaifC* tfp = nullptr;\nstatic uint64_t saif_t = 0, win0 = 0;",
    "DUMP": "    if (tfp) tfp->dump(saif_t++);",
    "OPEN": "", "CLOSE": "",
    "PRE": "    ctx->traceEverOn(true);\n",
    "END": ("    if (tfp) { tfp->dump(saif_t); tfp->close(); delete tfp; tfp = nullptr;\n"
            "        fprintf(out, \"W %llu %llu\\n\", (unsigned long long)win0, "
            "(unsigned long long)ncycles); }\n"),
}

_SAIF_DECL = r"""struct StreamIds { int payload, valid, ready; };
struct BgFeed { std::vector<std::string> names; std::vector<StreamIds> streams;
                std::vector<int> which; std::vector<Word> beats; size_t pos = 0; };
static std::vector<BgFeed> bg;
static std::vector<int> watches;
static std::vector<long> ndrained;
static std::vector<char> took;
static StreamIds stream_ids(const std::string& s) {
    return StreamIds{need_port(s + "__payload"), need_port(s + "__valid"), need_port(s + "__ready")};
}
static bool bg_fed() {
    for (auto& f : bg) if (f.pos < f.beats.size()) return false;
    return true;
}
"""

_SAIF_PRE = r"""    for (auto& f : bg) {
        bool v = f.pos < f.beats.size();
        for (size_t s = 0; s < f.streams.size(); s++)
            set_port(f.streams[s].valid, (v && f.which[f.pos] == (int)s) ? ONE : ZERO);
        if (v) set_port(f.streams[f.which[f.pos]].payload, f.beats[f.pos]);
    }
"""

_SAIF_SAMPLE = r"""    took.assign(bg.size(), 0);
    for (size_t i = 0; i < bg.size(); i++) {
        BgFeed& f = bg[i];
        took[i] = f.pos < f.beats.size() && nonzero(get_port(f.streams[f.which[f.pos]].ready));
    }
    for (size_t i = 0; i < drains.size(); i++)
        if (nonzero(get_port(drains[i].valid))) ndrained[i]++;
    for (int id : watches) {
        Word v = get_port(id);
        if (nonzero(v)) {
            fprintf(out, "T %s %llu ", PORT_NAMES[id], (unsigned long long)ncycles);
            write_hex(v, PORT_WIDTH[id]);
            fputc('\n', out);
        }
    }
"""

_SAIF_POST = r"""    for (size_t i = 0; i < bg.size(); i++) if (took[i]) bg[i].pos++;
"""

_SAIF_CMDS = r"""        } else if (c == "saif_on") {
            if (fscanf(in, "%65535s", line) != 1) return 2;
            if (tfp) { fprintf(stderr, "native: a SAIF window is already open\n"); return 2; }
            tfp = new VerilatedSaifC;
            top->trace(tfp, 99);
            tfp->open(line);
            saif_t = 0;
            win0 = ncycles;
        } else if (c == "saif_off") {
            if (tfp) { tfp->dump(saif_t); tfp->close(); delete tfp; tfp = nullptr; }
            fprintf(out, "W %llu %llu\n", (unsigned long long)win0, (unsigned long long)ncycles);
        } else if (c == "feedbg" || c == "seq") {
            long n;
            BgFeed f;
            if (c == "feedbg") {
                if (fscanf(in, "%255s %ld", arg, &n) != 2) return 2;
                f.names.push_back(arg);
                f.streams.push_back(stream_ids(arg));
            } else if (fscanf(in, "%ld", &n) != 1) return 2;
            for (long i = 0; i < n; i++) {
                int which = 0;
                if (c == "seq") {
                    if (fscanf(in, "%255s", arg) != 1) return 2;
                    std::string s = arg;
                    which = -1;
                    for (size_t k = 0; k < f.names.size(); k++) if (f.names[k] == s) which = (int)k;
                    if (which < 0) {
                        f.names.push_back(s);
                        f.streams.push_back(stream_ids(s));
                        which = (int)f.names.size() - 1;
                    }
                }
                if (fscanf(in, "%65535s", line) != 1) { fprintf(stderr, "native: short feed\n"); return 2; }
                f.which.push_back(which);
                f.beats.push_back(parse_hex(line, PORT_WORDS[f.streams[which].payload]));
            }
            bg.push_back(f);
        } else if (c == "watch") {
            if (fscanf(in, "%255s", arg) != 1) return 2;
            watches.push_back(need_port(arg));
        } else if (c == "until_fed") {
            long cap, k = 0;
            if (fscanf(in, "%ld", &cap) != 1) return 2;
            while (!bg_fed()) {
                if (k++ >= cap) {
                    fprintf(out, "E until_fed: feeds not taken after %ld cycles\n", cap);
                    fclose(out); return 3;
                }
                plain_cycle();
            }
        } else if (c == "until_beats") {
            long n, cap, k = 0;
            if (fscanf(in, "%255s %ld %ld", arg, &n, &cap) != 3) return 2;
            std::string s = arg;
            int p = need_port(s + "__payload");
            int d = -1;
            for (size_t i = 0; i < drains.size(); i++) if (drains[i].payload == p) d = (int)i;
            if (d < 0) { fprintf(stderr, "native: %s is not drained\n", arg); return 2; }
            while (ndrained[d] < n || !bg_fed()) {
                if (k++ >= cap) {
                    fprintf(out, "E until_beats %s %ld: %ld drained after %ld cycles\n", arg, n,
                            ndrained[d], cap);
                    fclose(out); return 3;
                }
                plain_cycle();
            }
        } else if (c == "wave") {
            long n;
            if (fscanf(in, "%255s %ld", arg, &n) != 2) return 2;
            int id = need_port(arg);
            for (long i = 0; i < n; i++) {
                if (fscanf(in, "%65535s", line) != 1) { fprintf(stderr, "native: short wave\n"); return 2; }
                set_port(id, parse_hex(line, PORT_WORDS[id]));
                plain_cycle();
            }
"""


def _driver_source(top, ports, trace):
    sets, gets = [], []
    for i, p in enumerate(ports):
        acc = f"top->{p.cname}"
        if p.width > 64:
            setter = f"for (int k = 0; k < {p.words}; k++) {acc}[k] = w[k];"
            getter = f"for (int k = 0; k < {p.words}; k++) w[k] = {acc}[k];"
        elif p.width > 32:
            setter = f"{acc} = (QData)w[0] | ((QData)w[1] << 32);"
            getter = f"w[0] = (uint32_t){acc}; w[1] = (uint32_t)({acc} >> 32);"
        else:
            setter = f"{acc} = w[0];"
            getter = f"w[0] = {acc};"
        if p.direction == "input" and p.name not in ("clk",):
            sets.append(f"    case {i}: {setter} break;")
        gets.append(f"    case {i}: {getter} break;")
    t = _TRACE_PARTS[trace]
    saif = trace == "saif"
    text = _DRIVER
    for key, val in {
        "TOP": top,
        "PORT_NAMES": ", ".join(f'"{p.name}"' for p in ports),
        "PORT_WORDS": ", ".join(str(p.words) for p in ports),
        "PORT_WIDTH": ", ".join(str(p.width) for p in ports),
        "NPORTS": str(len(ports)),
        "SET_CASES": "\n".join(sets),
        "GET_CASES": "\n".join(gets),
        "RESET": str(RESET_CYCLES),
        "TRACE_INCLUDE": t["INCLUDE"], "TRACE_DECL": t["DECL"], "TRACE_DUMP": t["DUMP"],
        "TRACE_OPEN": t["OPEN"], "TRACE_CLOSE": t["CLOSE"], "TRACE_PRE": t.get("PRE", ""),
        "END": t.get("END", ""),
        "EXTRA_DECL": _SAIF_DECL if saif else "", "CYCLE_PRE": _SAIF_PRE if saif else "",
        "CYCLE_SAMPLE": _SAIF_SAMPLE if saif else "", "CYCLE_POST": _SAIF_POST if saif else "",
        "EXTRA_CMDS": _SAIF_CMDS if saif else "",
        "DRAIN_ADD": "\n            ndrained.push_back(0);" if saif else "",
    }.items():
        text = text.replace(f"@{key}@", val)
    return text


# -- build and run ----------------------------------------------------------------------------

@dataclasses.dataclass
class NativeResult:
    """What a script recorded: ``streams`` (name -> payload ints), ``peeks`` (ints in script
    order), ``sim_cycles`` (clock cycles of the whole script, reset included), ``seconds``;
    ``peeked`` (port -> its peeks in order), and for SAIF builds ``windows`` (``(first, end)``
    cycle of each SAIF window) and ``watched`` (port -> ``[(cycle, value)]``)."""

    streams: dict
    peeks: list
    sim_cycles: int
    seconds: float
    peeked: dict = dataclasses.field(default_factory=dict)
    windows: list = dataclasses.field(default_factory=list)
    watched: dict = dataclasses.field(default_factory=dict)


class NativeModel:
    """A built native model (see the module docstring)."""

    def __init__(self, name, model_dir, ports, trace=None):
        self.name = name
        self.dir = Path(model_dir)
        self.ports = {p.name: p for p in ports}
        self.trace = trace
        self.exe = self.dir / "obj" / f"V{name}"

    @property
    def build_seconds(self):
        f = self.dir / "build_seconds"
        return float(f.read_text()) if f.exists() else None

    def _port(self, name, direction=None):
        p = self.ports.get(name)
        if p is None or direction and p.direction != direction:
            kind = f"{direction} port" if direction else "port"
            raise NativeError(f"{self.name} has no {kind} {name!r}; ports: "
                              f"{sorted(self.ports)!r}")
        return p

    def _script(self, script):
        lines = []
        for step in script:
            op, *args = step
            if op == "poke":
                p = self._port(args[0], "input")
                lines.append(f"poke {p.name} {self._hex(p, args[1])}")
            elif op == "feed":
                name, beats = args
                p = self._port(f"{name}__payload", "input")
                self._port(f"{name}__valid", "input")
                self._port(f"{name}__ready", "output")
                beats = list(beats)
                lines.append(f"feed {name} {len(beats)}")
                lines.extend(self._hex(p, b) for b in beats)
            elif op == "drain":
                self._port(f"{args[0]}__payload", "output")
                self._port(f"{args[0]}__valid", "output")
                self._port(f"{args[0]}__ready", "input")
                lines.append(f"drain {args[0]}")
            elif op == "pulse":
                lines.append(f"pulse {self._port(args[0], 'input').name}")
            elif op == "until":
                cap = int(args[1])
                if cap < 0:
                    raise ValueError(f"until: cap must be >= 0, not {cap!r}")
                lines.append(f"until {self._port(args[0]).name} {cap}")
            elif op == "step":
                n = int(args[0])
                if n < 0:
                    raise ValueError(f"step: n must be >= 0, not {n!r}")
                lines.append(f"step {n}")
            elif op == "peek":
                lines.append(f"peek {self._port(args[0]).name}")
            elif op == "trace":
                if self.trace is None:
                    raise NativeError(f"{self.name} was built without a trace format")
                if self.trace == "saif":
                    raise NativeError(f"{self.name} writes SAIF in windows: use ('saif', path)")
                lines.append(f"trace {int(bool(args[0]))}")
            elif op in SAIF_COMMANDS:
                if self.trace != "saif":
                    raise NativeError(f"{op!r} needs a model built with trace='saif'; {self.name} "
                                      f"was built with trace={self.trace!r}")
                lines.extend(self._saif_command(op, args))
            else:
                raise ValueError(f"unknown native command {op!r}; known: poke, feed, drain, "
                                 "pulse, until, step, peek, trace, " + ", ".join(SAIF_COMMANDS))
        return "\n".join(lines) + "\n"

    def _saif_command(self, op, args):
        if op == "saif":
            if args[0] is None:
                return ["saif_off"]
            path = str(Path(args[0]).resolve())
            if any(ch.isspace() for ch in path):
                raise ValueError(f"saif: the path may not contain spaces: {path!r}")
            return [f"saif_on {path}"]
        if op == "feed_bg":
            name, beats = args
            p = self._stream_in(name)
            beats = list(beats)
            return [f"feedbg {name} {len(beats)}", *(self._hex(p, b) for b in beats)]
        if op == "seq":
            items = list(args[0])
            out = [f"seq {len(items)}"]
            for name, beat in items:
                out.append(f"{name} {self._hex(self._stream_in(name), beat)}")
            return out
        if op == "wave":
            p = self._port(args[0], "input")
            values = list(args[1])
            return [f"wave {p.name} {len(values)}", *(self._hex(p, v) for v in values)]
        if op == "watch":
            return [f"watch {self._port(args[0], 'output').name}"]
        if op == "until_fed":
            return [f"until_fed {self._count('until_fed: cap', args[0])}"]
        name, n, cap = args          # until_beats
        self._port(f"{name}__payload", "output")
        return [f"until_beats {name} {self._count('until_beats: n', n)} "
                f"{self._count('until_beats: cap', cap)}"]

    def _stream_in(self, name):
        self._port(f"{name}__valid", "input")
        self._port(f"{name}__ready", "output")
        return self._port(f"{name}__payload", "input")

    @staticmethod
    def _count(what, value):
        value = int(value)
        if value < 0:
            raise ValueError(f"{what} must be >= 0, not {value!r}")
        return value

    @staticmethod
    def _hex(port, value):
        value = int(value)
        if value < 0:
            value &= (1 << port.width) - 1
        if value >> port.width:
            raise ValueError(f"value {value:#x} does not fit port {port.name} ({port.width} bits)")
        return f"{value:x}"

    def run(self, script, trace_path=None, timeout=None):
        """Run ``script`` (a list of command tuples, see the module docstring); return a
        :class:`NativeResult`. ``trace_path`` names the trace file of a traced model."""
        script = list(script)
        text = self._script(script)
        with tempfile.TemporaryDirectory(prefix=f"native-{self.name}-") as tmp:
            spath, rpath = Path(tmp) / "script.txt", Path(tmp) / "results.txt"
            spath.write_text(text)
            env = dict(os.environ)
            if trace_path is not None:
                env["SPARSE_HW_TRACE"] = str(trace_path)
            t0 = time.monotonic()
            proc = subprocess.run([str(self.exe), str(spath), str(rpath)], env=env,
                                  capture_output=True, text=True, timeout=timeout, cwd=tmp)
            seconds = time.monotonic() - t0
            lines = rpath.read_text().splitlines() if rpath.exists() else []
        streams, peeks, sim_cycles, windows, watched = {}, [], None, [], {}
        for line in lines:
            kind, _, rest = line.partition(" ")
            if kind == "S":
                name, value = rest.split(" ")
                streams.setdefault(name[:-len("__payload")], []).append(int(value, 16))
            elif kind == "P":
                peeks.append(int(rest, 16))
            elif kind == "T":
                name, cyc, value = rest.split(" ")
                watched.setdefault(name, []).append((int(cyc), int(value, 16)))
            elif kind == "W":
                first, end = rest.split(" ")
                windows.append((int(first), int(end)))
            elif kind == "C":
                sim_cycles = int(rest)
            elif kind == "E":
                raise NativeError(f"{self.name}: {rest}")
        if proc.returncode != 0 or sim_cycles is None:
            raise NativeError(f"{self.name}: driver exited with {proc.returncode}: "
                              f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
        names = [step[1] for step in script if step[0] == "peek"]
        peeked = {}
        for name, value in zip(names, peeks):
            peeked.setdefault(name, []).append(value)
        return NativeResult(streams, peeks, sim_cycles, seconds, peeked, windows, watched)


def build(component, name, config=None, trace=None, threads=1):
    """Convert ``component`` (module ``name``) and build or reuse its native model."""
    return build_verilog(convert(component, name), name, config, trace=trace, threads=threads)


def build_verilog(text, name, config=None, trace=None, threads=1, profile="run", trace_depth=None,
                  folder=None, extra_args=(), cxx_opt=None):
    """Build or reuse the native model of Verilog ``text`` whose top module is ``name``.

    Parameters
    ----------
    trace : None, ``"vcd"``, ``"fst"`` or ``"saif"``
        Build with tracing; the run writes the file named by ``run(trace_path=...)``; ``"saif"``
        writes SAIF windows opened by the script instead (see the module docstring).
    threads : int
        Verilator ``--threads`` (1: single-threaded model).
    profile : ``"run"`` or ``"power"``
        Verilator and C++ options (:data:`PROFILES`).
    trace_depth : int or None
        Verilator ``--trace-depth`` (1: the top module's nets, all a flattened netlist has;
        None: every level).
    folder : Path or None
        Where the model folders go (default ``build/native``).
    extra_args, cxx_opt : further Verilator options; the C++ optimisation instead of the
        profile's (build-time measurements).
    """
    if trace not in TRACE_FORMATS:
        raise ValueError(f"trace must be one of {list(TRACE_FORMATS)!r}, not {trace!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)!r}, not {profile!r}")
    if trace_depth is not None and (isinstance(trace_depth, bool) or not isinstance(trace_depth, int)
                                    or trace_depth < 1):
        raise ValueError(f"trace_depth must be None or an int >= 1, not {trace_depth!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 64:
        raise ValueError(f"threads must be an int in 1..64, not {threads!r}")
    exe = verilator_env()
    ports = parse_ports(text, name)
    for need in ("clk", "rst"):
        if need not in {p.name for p in ports}:
            raise NativeError(f"{name} has no {need!r} port; the native driver needs clk and rst")
    driver = _driver_source(name, ports, trace)
    base_args, opt = PROFILES[profile]
    opt = cxx_opt or opt
    args = [*base_args, *TRACE_FORMATS[trace]]
    if trace_depth is not None:
        args += ["--trace-depth", str(trace_depth)]
    args += list(extra_args)
    if threads > 1:
        args += ["--threads", str(threads)]
    h = hashlib.sha256()
    for part in (text, driver, repr(args), opt):
        h.update(part.encode())
    root = Path(folder) if folder is not None else build_dir() / "native"
    model_dir = root / f"{name}-{h.hexdigest()[:12]}"
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{model_dir.name}.lock"):
        if not (model_dir / ".built").exists():
            if model_dir.exists():
                shutil.rmtree(model_dir)
            model_dir.mkdir(parents=True)
            (model_dir / f"{name}.v").write_text(text)
            (model_dir / "driver.cpp").write_text(driver)
            if config is not None:
                import json
                (model_dir / f"{name}.json").write_text(
                    json.dumps({"top": name, "config": config.to_dict()}, indent=2) + "\n")
            t0 = time.monotonic()
            jobs = str(max(1, min(2, os.cpu_count() or 1)))
            cmd = [str(exe), "--cc", "--exe", "--build", "-j", jobs, "--top-module", name,
                   "-Mdir", "obj", *args, "-CFLAGS", "-std=c++17",
                   f"{name}.v", "driver.cpp"]
            # make variables in MAKEFLAGS act as command-line ones and override verilated.mk's
            env = dict(os.environ)
            env["MAKEFLAGS"] = (f"{env.get('MAKEFLAGS', '')} OPT_FAST={opt} OPT_GLOBAL={opt}"
                                + (f" OPT_SLOW={opt}" if profile != "run" or cxx_opt else ""))
            proc = subprocess.run(cmd, cwd=model_dir, capture_output=True, text=True, env=env)
            (model_dir / "build.log").write_text(proc.stdout + proc.stderr)
            if proc.returncode != 0:
                raise NativeError(f"native Verilator build of {name} failed (log "
                                  f"{model_dir / 'build.log'}): "
                                  f"{(proc.stderr or proc.stdout).strip()[-3000:]}")
            (model_dir / "build_seconds").write_text(f"{time.monotonic() - t0:.1f}\n")
            (model_dir / ".built").write_text("ok\n")
    return NativeModel(name, model_dir, ports, trace)



# -- SAIF ---------------------------------------------------------------------------------------

SAIF_COMMANDS = ("saif", "feed_bg", "seq", "wave", "watch", "until_fed", "until_beats")

_NET = re.compile(r"\(\s*(\S+)\s+\(T0\s+(\d+)\)\s*\(T1\s+(\d+)\)\s*(?:\(T[ZXB]\s+\d+\)\s*)*"
                  r"\(TC\s+(\d+)\)")
_DUR = re.compile(r"\(DURATION\s+(\d+)\)")


def read_saif(path, scopes=False):
    """``({net: (T0, T1, TC)}, duration)`` of a SAIF file written by Verilator.

    Net names are unescaped (``a\\[3\\]`` -> ``a[3]``). Nets of the top module (and of
    Verilator's ``TOP`` wrapper, which repeats its ports) keep their names; with ``scopes`` the
    nets of nested instances are included as ``inst/sub/name`` (RTL runs), otherwise they are
    skipped."""
    nets, stack, duration = {}, [], None
    with open(path, errors="replace") as f:
        for line in f:
            s = line.strip()
            if s.startswith("(INSTANCE"):
                stack.append(("inst", s.split()[1].replace("\\", "")))
            elif s.startswith("(NET"):
                stack.append(("net", None))
            elif s == ")":
                if stack:
                    stack.pop()
            elif s.startswith("(DURATION"):
                duration = int(_DUR.search(s).group(1))
            else:
                m = _NET.match(s)
                if m:
                    # TOP (Verilator's wrapper) and the design's own instance are both the root
                    path_ = [n for k, n in stack if k == "inst"][2:]
                    if path_ and not scopes:
                        continue
                    name = m.group(1).replace("\\", "")
                    key = "/".join([*path_, name])
                    nets[key] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return nets, duration
