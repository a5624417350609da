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
           "parse_ports", "RESET_CYCLES"]

RESET_CYCLES = 4

#: Verilator options of native builds. Unlike cocotb's runner: no ``--public-flat-rw`` (it stops
#: Verilator from inlining and optimising signals away), no VPI.
BUILD_ARGS = ("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT",
              "--x-assign", "fast", "--x-initial", "fast", "-O3")

#: C++ optimisation of the model (Verilator's default is -Os); -O2 runs about 1.3-2x faster on
#: large designs for a somewhat longer compile *(ours; measured in make bench)*.
CXX_OPT = "-O2"

TRACE_FORMATS = {None: (), "vcd": ("--trace",), "fst": ("--trace-fst",), "saif": ("--trace-saif",)}


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

// One clock cycle. `feed` (payload id or -1) drives `beat` with valid; returns true when taken.
static bool cycle(int feed_valid, int feed_ready, int feed_payload, const Word* beat) {
    if (feed_valid >= 0) { set_port(feed_payload, *beat); set_port(feed_valid, ONE); }
    top->clk = 0;
    top->eval();
    bool taken = feed_valid >= 0 && nonzero(get_port(feed_ready));
    for (auto& s : drains)
        if (nonzero(get_port(s.valid))) {
            fprintf(out, "S %s ", PORT_NAMES[s.payload]);
            write_hex(get_port(s.payload), PORT_WIDTH[s.payload]);
            fputc('\n', out);
        }
    ctx->timeInc(1);
@TRACE_DUMP@
    top->clk = 1;
    top->eval();
    ctx->timeInc(1);
@TRACE_DUMP@
    ncycles++;
    return taken;
}

static void plain_cycle() { cycle(-1, -1, -1, nullptr); }

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s SCRIPT RESULTS\n", argv[0]); return 2; }
    ctx = new VerilatedContext;
    ctx->commandArgs(1, argv);
    top = new V@TOP@{ctx};
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
            drains.push_back(st);
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
        } else {
            fprintf(stderr, "native: unknown command %s\n", cmd);
            return 2;
        }
    }
    fprintf(out, "C %llu\n", (unsigned long long)ncycles);
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
                         ("fst", "VerilatedFstC", "verilated_fst_c.h"),
                         ("saif", "VerilatedSaifC", "verilated_saif_c.h")):
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
        "TRACE_OPEN": t["OPEN"], "TRACE_CLOSE": t["CLOSE"],
    }.items():
        text = text.replace(f"@{key}@", val)
    return text


# -- build and run ----------------------------------------------------------------------------

@dataclasses.dataclass
class NativeResult:
    """What a script recorded: ``streams`` (name -> payload ints), ``peeks`` (ints in script
    order), ``sim_cycles`` (clock cycles of the whole script, reset included), ``seconds``."""

    streams: dict
    peeks: list
    sim_cycles: int
    seconds: float


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
                lines.append(f"trace {int(bool(args[0]))}")
            else:
                raise ValueError(f"unknown native command {op!r}; known: poke, feed, drain, "
                                 "pulse, until, step, peek, trace")
        return "\n".join(lines) + "\n"

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
        streams, peeks, sim_cycles = {}, [], None
        for line in lines:
            kind, _, rest = line.partition(" ")
            if kind == "S":
                name, value = rest.split(" ")
                streams.setdefault(name[:-len("__payload")], []).append(int(value, 16))
            elif kind == "P":
                peeks.append(int(rest, 16))
            elif kind == "C":
                sim_cycles = int(rest)
            elif kind == "E":
                raise NativeError(f"{self.name}: {rest}")
        if proc.returncode != 0 or sim_cycles is None:
            raise NativeError(f"{self.name}: driver exited with {proc.returncode}: "
                              f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
        return NativeResult(streams, peeks, sim_cycles, seconds)


def build(component, name, config=None, trace=None, threads=1):
    """Convert ``component`` (module ``name``) and build or reuse its native model."""
    return build_verilog(convert(component, name), name, config, trace=trace, threads=threads)


def build_verilog(text, name, config=None, trace=None, threads=1):
    """Build or reuse the native model of Verilog ``text`` whose top module is ``name``.

    Parameters
    ----------
    trace : None, ``"vcd"``, ``"fst"`` or ``"saif"``
        Build with tracing; the run writes the file named by ``run(trace_path=...)``.
    threads : int
        Verilator ``--threads`` (1: single-threaded model).
    """
    if trace not in TRACE_FORMATS:
        raise ValueError(f"trace must be one of {list(TRACE_FORMATS)!r}, not {trace!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 64:
        raise ValueError(f"threads must be an int in 1..64, not {threads!r}")
    exe = verilator_env()
    ports = parse_ports(text, name)
    for need in ("clk", "rst"):
        if need not in {p.name for p in ports}:
            raise NativeError(f"{name} has no {need!r} port; the native driver needs clk and rst")
    driver = _driver_source(name, ports, trace)
    args = [*BUILD_ARGS, *TRACE_FORMATS[trace]]
    if threads > 1:
        args += ["--threads", str(threads)]
    h = hashlib.sha256()
    for part in (text, driver, repr(args), CXX_OPT):
        h.update(part.encode())
    model_dir = build_dir() / "native" / f"{name}-{h.hexdigest()[:12]}"
    with _locked(build_dir() / "native" / f".{model_dir.name}.lock"):
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
            env["MAKEFLAGS"] = f"{env.get('MAKEFLAGS', '')} OPT_FAST={CXX_OPT} OPT_GLOBAL={CXX_OPT}"
            proc = subprocess.run(cmd, cwd=model_dir, capture_output=True, text=True, env=env)
            (model_dir / "build.log").write_text(proc.stdout + proc.stderr)
            if proc.returncode != 0:
                raise NativeError(f"native Verilator build of {name} failed (log "
                                  f"{model_dir / 'build.log'}): "
                                  f"{(proc.stderr or proc.stdout).strip()[-3000:]}")
            (model_dir / "build_seconds").write_text(f"{time.monotonic() - t0:.1f}\n")
            (model_dir / ".built").write_text("ok\n")
    return NativeModel(name, model_dir, ports, trace)

