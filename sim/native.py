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
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .native_driver import RESET_CYCLES, driver_source
from .saif import SAIF_COMMANDS, read_saif
from .verilator import _locked, build_dir, convert, verilator_env

__all__ = ["build", "build_verilog", "build_stats", "NativeModel", "NativeResult", "NativeError", "Port",
           "driver_source", "parse_ports", "read_saif", "RESET_CYCLES", "PROFILES"]


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


#: Seconds between the progress lines of a running build phase (``build_verilog(log=...)``).
HEARTBEAT = 300


def _rss_mb(pid):
    """Resident memory of ``pid`` and its descendants now, in MB (0 when they are gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) if "VmRSS" in status else 0
            for t in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (t / "children").read_text().split()]
        except (OSError, AttributeError, ValueError):
            continue
    return total / 1024


def _measured(cmd, cwd, env, out, label, log):
    """Run ``cmd`` (output to the file ``out``); its wall and CPU seconds and peak resident
    memory (of the process and its descendants, from ``wait4``), and its return code."""
    t0 = time.monotonic()
    if log:
        log(f"{label} started")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    beat = t0
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.5)
        if log and time.monotonic() - beat >= HEARTBEAT:
            beat = time.monotonic()
            log(f"{label} running, {beat - t0:.0f} s, {_rss_mb(proc.pid):.0f} MB resident")
    proc.returncode = os.waitstatus_to_exitcode(status)
    res = {"wall_s": round(time.monotonic() - t0, 1), "cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
           "peak_mb": round(ru.ru_maxrss / 1024), "returncode": proc.returncode}
    if log:
        log(f"{label} {'done' if proc.returncode == 0 else 'FAILED'} in {res['wall_s']:.0f} s "
            f"({res['cpu_s']:.0f} s CPU, peak {res['peak_mb']} MB)")
    return res


def build_stats(model):
    """The ``build_stats.json`` of a built :class:`NativeModel` (None for a model built before
    builds were measured)."""
    f = model.dir / "build_stats.json"
    return json.loads(f.read_text()) if f.exists() else None


def build(component, name, config=None, trace=None, threads=1):
    """Convert ``component`` (module ``name``) and build or reuse its native model."""
    return build_verilog(convert(component, name), name, config, trace=trace, threads=threads)


def _check_build_options(trace, profile, trace_depth, threads):
    """Raise ValueError naming the first of :func:`build_verilog`'s options out of range."""
    if trace not in TRACE_FORMATS:
        raise ValueError(f"trace must be one of {list(TRACE_FORMATS)!r}, not {trace!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)!r}, not {profile!r}")
    if trace_depth is not None and (isinstance(trace_depth, bool) or not isinstance(trace_depth, int)
                                    or trace_depth < 1):
        raise ValueError(f"trace_depth must be None or an int >= 1, not {trace_depth!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 64:
        raise ValueError(f"threads must be an int in 1..64, not {threads!r}")


def _verilator_args(profile, trace, trace_depth, extra_args, threads, cxx_opt):
    """``(Verilator options, C++ optimisation)`` of a build."""
    base_args, opt = PROFILES[profile]
    opt = cxx_opt or opt
    args = [*base_args, *TRACE_FORMATS[trace]]
    if trace_depth is not None:
        args += ["--trace-depth", str(trace_depth)]
    args += list(extra_args)
    if threads > 1:
        args += ["--threads", str(threads)]
    return args, opt


def _write_model_dir(model_dir, name, text, driver, config):
    """A fresh ``model_dir`` holding the Verilog, the driver and the config's sidecar."""
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    (model_dir / f"{name}.v").write_text(text)
    (model_dir / "driver.cpp").write_text(driver)
    if config is not None:
        (model_dir / f"{name}.json").write_text(
            json.dumps({"top": name, "config": config.to_dict()}, indent=2) + "\n")


def _build_model(model_dir, exe, name, args, opt, slow, log):
    """Verilate and compile the model in ``model_dir``, measuring each phase; write
    ``build_stats.json``, ``build_seconds`` and the ``.built`` stamp."""
    jobs = str(max(1, min(2, os.cpu_count() or 1)))
    # make variables in MAKEFLAGS act as command-line ones and override verilated.mk's
    env = dict(os.environ)
    env["MAKEFLAGS"] = (f"{env.get('MAKEFLAGS', '')} OPT_FAST={opt} OPT_GLOBAL={opt}"
                        + (f" OPT_SLOW={opt}" if slow else ""))
    # two phases, each measured: Verilator's conversion, then the C++ build (the
    # executable's target: the default one races the precompiled header under -j)
    phases = (("Verilator convert", [str(exe), "--cc", "--exe", "--top-module", name,
                                     "-Mdir", "obj", *args, "-CFLAGS", "-std=c++17",
                                     f"{name}.v", "driver.cpp"]),
              ("C++ build", ["make", "-j", jobs, "-C", "obj", "-f", f"V{name}.mk",
                             f"V{name}"]))
    stats = {}
    with open(model_dir / "build.log", "w") as out:
        for what, cmd in phases:
            stats[what] = _measured(cmd, model_dir, env, out, f"{name}: {what}", log)
            if stats[what]["returncode"] != 0:
                out.flush()
                tail = (model_dir / "build.log").read_text(errors="replace")[-3000:]
                raise NativeError(f"native Verilator build of {name} failed in "
                                  f"{what} (log {model_dir / 'build.log'}): "
                                  f"{tail.strip()}")
            if what == "Verilator convert":
                cpp = list((model_dir / "obj").glob("*.cpp"))
                stats["cpp_files"] = len(cpp)
                stats["cpp_mb"] = round(sum(f.stat().st_size for f in cpp) / 1e6, 2)
    (model_dir / "build_stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    wall = sum(v["wall_s"] for v in stats.values() if isinstance(v, dict))
    (model_dir / "build_seconds").write_text(f"{wall:.1f}\n")
    (model_dir / ".built").write_text("ok\n")


def build_verilog(text, name, config=None, trace=None, threads=1, profile="run", trace_depth=None,
                  folder=None, extra_args=(), cxx_opt=None, log=None):
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
    log : callable or None
        Called with a line when each build phase (Verilator convert, C++ build) starts and ends,
        and every :data:`HEARTBEAT` seconds while it runs (elapsed time, resident memory).

    A new build writes ``build_stats.json`` beside the model: per phase, wall and CPU seconds
    (user + system of the phase's processes) and peak resident memory; the C++ files and MB.
    """
    _check_build_options(trace, profile, trace_depth, threads)
    exe = verilator_env()
    ports = parse_ports(text, name)
    for need in ("clk", "rst"):
        if need not in {p.name for p in ports}:
            raise NativeError(f"{name} has no {need!r} port; the native driver needs clk and rst")
    driver = driver_source(name, ports, trace)
    args, opt = _verilator_args(profile, trace, trace_depth, extra_args, threads, cxx_opt)
    h = hashlib.sha256()
    for part in (text, driver, repr(args), opt):
        h.update(part.encode())
    root = Path(folder) if folder is not None else build_dir() / "native"
    model_dir = root / f"{name}-{h.hexdigest()[:12]}"
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{model_dir.name}.lock"):
        if not (model_dir / ".built").exists():
            _write_model_dir(model_dir, name, text, driver, config)
            # OPT_SLOW too when the profile or the caller sets the optimisation
            slow = profile != "run" or bool(cxx_opt)
            _build_model(model_dir, exe, name, args, opt, slow, log)
    return NativeModel(name, model_dir, ports, trace)
