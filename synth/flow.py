"""Synthesis of a list of designs: the jobs of every flow, run in parallel, and their results
collected per design (:class:`SynthResult`, whose ``to_dict`` is the design's
:class:`report.area.AreaDesign` in ``area.json``).

A design that instances one module many times (:mod:`hw.common.shared`, e.g. the 32 compute units
of ``sparten_cluster``) is synthesised with that module once; ``stat`` counts it per instance, and
the FPGA flow maps it hierarchically instead of flattening.
"""

import concurrent.futures
import dataclasses
import os
import time
from pathlib import Path

from report.area import AreaDesign
from hw.emit import build_dir

from .blocks import block_breakdown
from .liberty import Library, read_liberty
from .results import parse_asic, parse_fpga, timing
from .yosys import (ABC_SCRIPTS, Job, asic_script, fpga_script, reuse_job, run_job,
                    shared_modules, synth_source, warm_up)

__all__ = ["Design", "design_of", "SynthResult", "FLOWS", "synthesize"]

FLOWS = ("asic", "fpga", "blocks")


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


@dataclasses.dataclass
class SynthResult:
    """Everything measured of one design (``to_dict`` is its ``area.json`` entry)."""

    design: Design
    library: Library = None
    numbers: dict = dataclasses.field(default_factory=dict)
    errors: list = dataclasses.field(default_factory=list)
    seconds: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        """The :class:`report.area.AreaDesign` of this result, as JSON."""
        d = self.design
        n = self.numbers
        return AreaDesign(**{
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
        }).to_json()


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
            timing = asic.timing if asic.timing is not None else timing(asic.cwd, lib_cells)
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
        lib_cells = read_liberty(lib.path)
        cell_area = {n: c["area"] for n, c in lib_cells.items()}
        cell_area["__seq__"] = {n for n, c in lib_cells.items() if c["seq"]}
    if not reuse:
        warm_up(log)
    todo = _jobs(designs, lib, script, flows, work, blocks_for, reuse, strip_zero_init)

    def work_on(job):
        job = reuse_job(job) if reuse else run_job(job, script, timeout)
        if job.ok and job.flow == "asic":
            # the timing walk is Python: done here, it overlaps the other jobs' Yosys runs
            try:
                job.timing = timing(job.cwd, lib_cells)
            except (OSError, ValueError, KeyError) as e:
                job.ok, job.error = False, f"timing: {e}"
        return job

    done = _run_all(todo, work_on, jobs, log)
    return [_collect(d, lib, cell_area, lib_cells, done.get((d.name, "asic")),
                     done.get((d.name, "fpga")), done.get((d.name, "blocks"))) for d in designs]


def _jobs(designs, lib, script, flows, work, blocks_for, reuse, strip_zero_init):
    """One :class:`Job` per design and flow (its folder and Yosys script written), biggest
    design first so that the longest job does not start last."""
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
    size = {d.name: Path(d.verilog).stat().st_size for d in designs}
    todo.sort(key=lambda j: -size[j.design])
    return todo


def _run_all(todo, work_on, jobs, log):
    """``work_on`` every job, ``jobs`` at a time, logging each as it ends; ``{(design, flow):
    job}``."""
    done = {}
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(work_on, j): j for j in todo}
        for k, fut in enumerate(concurrent.futures.as_completed(futs), 1):
            j = fut.result()
            done[(j.design, j.flow)] = j
            state = "ok" if j.ok else f"FAILED: {j.error}"
            cpu = f" (CPU {j.cpu:.0f} s)" if j.cpu is not None else ""
            log(f"[{k}/{len(todo)}] {j.design} {j.flow}: {j.seconds:.1f} s{cpu} {state} "
                f"(elapsed {time.monotonic() - t0:.0f} s)")
    return done
