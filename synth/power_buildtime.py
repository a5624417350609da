"""What a gate-level Verilator build of the power flow costs, and where: ``python -m
synth.power_buildtime ASIC_DIR [--compile] [--variants]``.

``ASIC_DIR`` is an area-flow folder with ``flat.json`` (e.g.
``build/synth/<library>/eureka_core/asic`` after ``make area``: the paper-size 8x32 core). The
netlist is exported as :mod:`synth.power` does, then Verilated with the power profile of
:mod:`sim.native` (``--cc`` only: the front end) and, with ``--compile``, compiled (``make -j 2``)
at the profile's ``-O0``; ``--variants`` also tries ``-O1``, no trace, and ``--output-split``.
Times are CPU seconds of the child processes (user + system), which do not depend on how loaded
the machine is; wall seconds are printed beside them. docs/power.md keeps the measured figures.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["measure"]


def _cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd, cwd, env=None):
    t0, c0 = time.monotonic(), _cpu()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed in {cwd}: {(p.stderr or p.stdout)[-1500:]}")
    return time.monotonic() - t0, _cpu() - c0


def measure(asic_dir, compile_=False, variants=False, out=None, log=print):
    """Front-end (and compile) CPU seconds of the gate-level model of ``asic_dir``; a dict."""
    from sim import native
    from sim.verilator import verilator_env
    from . import area, power
    from .liberty_power import read_power
    asic_dir = Path(asic_dir)
    lib = area.prepare_liberty(area.find_liberty(None))
    t0, c0 = time.monotonic(), _cpu()
    nv, nj = power.export_netlist(asic_dir, lib)
    net = json.loads(nj.read_text())
    top = next(m for m, v in net["modules"].items() if v.get("attributes", {}).get("top")) \
        if any(v.get("attributes", {}).get("top") for v in net["modules"].values()) \
        else next(iter(net["modules"]))
    cells = net["modules"][top]["cells"]
    used = {c["type"] for c in cells.values()}
    lp = read_power(lib.path)
    cells_v, _ = power.cell_models(lib, used & set(lp["cells"]), asic_dir)
    res = {"design": top, "cells": len(cells), "netlist_mb": nv.stat().st_size / 1e6,
           "export_wall_s": time.monotonic() - t0, "export_cpu_s": _cpu() - c0, "builds": []}
    log(f"{top}: {len(cells)} cells, netlist {res['netlist_mb']:.1f} MB "
        f"(export {res['export_cpu_s']:.0f} s CPU)")
    exe = verilator_env()
    args, opt = native.PROFILES["power"]
    base = ["--cc", "--exe", "--top-module", top, "-Mdir", "obj", *args]
    plans = [("saif, -O0", [*native.TRACE_FORMATS["saif"], "--trace-depth", "1"], "-O0")]
    if variants:
        plans += [("saif, -O1", [*native.TRACE_FORMATS["saif"], "--trace-depth", "1"], "-O1"),
                  ("no trace, -O0", [], "-O0"),
                  ("saif, -O0, --output-split 20000",
                   [*native.TRACE_FORMATS["saif"], "--trace-depth", "1", "--output-split",
                    "20000"], "-O0")]
    work = Path(out or asic_dir / "buildtime")
    ports = native.parse_ports(nv.read_text(), top)
    for label, extra, o in plans:
        d = work / label.replace(" ", "").replace(",", "_")
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        (d / "driver.cpp").write_text(native.driver_source(top, ports, "saif" if extra else None))
        (d / "design.v").write_text(nv.read_text() + cells_v.read_text())
        wall, cpu = _run([str(exe), *base, *extra, "design.v", "driver.cpp"], d)
        srcs = list((d / "obj").glob("*.cpp"))
        row = {"variant": label, "verilate_wall_s": wall, "verilate_cpu_s": cpu,
               "cpp_files": len(srcs), "cpp_mb": sum(p.stat().st_size for p in srcs) / 1e6}
        log(f"  {label}: verilate {cpu:.0f} s CPU ({wall:.0f} s wall), {row['cpp_files']} C++ "
            f"files, {row['cpp_mb']:.1f} MB")
        if compile_:
            env = dict(os.environ, MAKEFLAGS=f"OPT_FAST={o} OPT_SLOW={o} OPT_GLOBAL={o}")
            # the executable's target, as Verilator's --build makes it (the default target
            # races the precompiled header under -j)
            wall, cpu = _run(["make", "-j", "2", "-C", "obj", "-f", f"V{top}.mk", f"V{top}"], d,
                             env)
            row.update(compile_wall_s=wall, compile_cpu_s=cpu,
                       compile_cpu_s_per_cpp_mb=cpu / max(row["cpp_mb"], 1e-9))
            log(f"    compile {o}: {cpu:.0f} s CPU ({wall:.0f} s wall), "
                f"{row['compile_cpu_s_per_cpp_mb']:.1f} s CPU per MB of C++")
        res["builds"].append(row)
        if not variants:
            break
    (work / "buildtime.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("asic_dir", type=Path)
    ap.add_argument("--compile", action="store_true", help="also compile the C++ (make -j 2)")
    ap.add_argument("--variants", action="store_true", help="also -O1, no trace, output-split")
    a = ap.parse_args(argv)
    measure(a.asic_dir, a.compile, a.variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
