"""``sparse-hw area``: Yosys area, FPGA resource and timing reports of every registered top.

What it does
------------
1. (Re)writes ``build/verilog/<top>.v`` with :func:`hw.emit.write_tops`, so the reports are of
   exactly the Verilog that ``make verilog`` writes; Yosys reads it without the blocks that set a
   whole memory to zero (:func:`synth.yosys.synth_source`: they cost minutes to parse and no area).
2. Runs one Yosys process per (top, flow) job, ``--jobs`` at a time, each in its own folder
   ``build/synth/<library>/<top>/<flow>/`` (:mod:`synth.flow`; the flows ``asic``, ``blocks`` and
   ``fpga`` are described in :mod:`synth.yosys`).
3. Estimates the critical path of the flattened mapped netlist with the Liberty tables
   (:mod:`synth.sta`; Yosys' ``sta`` has no Liberty timing arcs and ABC's ``stime`` output is lost
   inside the WebAssembly Yosys), and the logic depth in cells.
4. Writes ``build/reports/area.json`` and ``build/reports/area.md`` (:mod:`synth.area_report`):
   per design an :class:`report.area.AreaDesign`, the like-for-like ``ratios``
   (:class:`report.schema.AreaRatio`, :mod:`synth.compare`) and the ``iso_area`` rows that
   :func:`report.schema.iso_area` computes from them and ``make bench``'s speed-ups, and the
   verdicts of issue 11's targets (:mod:`report.targets`, section "Targets" of ``area.md``),
   which this command also prints, one line per target.

The modules of synth/, one job each
-----------------------------------
- :mod:`synth.liberty`: which Liberty file, its copy for Yosys, its cells and NLDM tables;
- :mod:`synth.yosys`: the Yosys command, the flow scripts, the jobs that run them;
- :mod:`synth.results`: reading a job's results (cells, area, FPGA resources, memory macros, timing);
- :mod:`synth.sta`: the critical-path estimate (graph, arrivals, trace);
- :mod:`synth.blocks`: the per-block breakdown, from each engine's table (``hw/<engine>/blocks.py``);
- :mod:`synth.flow`: synthesising a list of designs, one :class:`synth.flow.SynthResult` each;
- :mod:`synth.compare`: like-for-like pairs, area ratios, iso-area rows;
- :mod:`synth.area_report`: ``area.json`` and ``area.md``;
- :mod:`synth.area_baselines`: ``synth/baselines/*.json`` and the drift from them;
- this module: the command line (and the names other modules import from ``synth.area``).

Per-block breakdown
-------------------
Amaranth names every submodule's Verilog module ``<top>.<sub>.<subsub>`` after
``m.submodules.<name>``; Yosys keeps that hierarchy (``synth`` without ``-flatten``), so each module's
own cells are one block. Each engine's table (:func:`hw.top.block_table`) names its submodules'
categories (SparTen: prefix sums, priority encoder, MAC, permutation, output path; EUREKA: select
muxes, SUDS steering, reduction trees); what a module keeps inline beside its submodules is split
by the ``blocks`` flow (``--no-blocks`` skips it), whose total differs from the headline run by a
few % (the report gives the difference) because the cuts stop optimisation across them.
"""

import sys
import time
from pathlib import Path

from hw.emit import build_dir
from report.targets import read_targets, summary

# The names other modules and the tests use from synth.area (it was one module before the split).
from .area_baselines import (BASELINE_DIR, BASELINE_TOLERANCES, baseline_of,  # noqa: F401
                             check_baseline, compare_baselines)
from .area_report import write_reports
from .blocks import OTHER, block_breakdown, classify, unmatched_blocks, unnamed_modules  # noqa: F401
from .compare import area_ratios, iso_rows, pairs, size_key  # noqa: F401
from .flow import FLOWS, Design, SynthResult, design_of, synthesize  # noqa: F401
from .liberty import SHARED_LIB, SKY130_PDK_LIB, Library, find_liberty, prepare_liberty  # noqa: F401
from .results import _where  # noqa: F401
from .yosys import (ABC_SCRIPTS, MACRO_MIN_DEPTH, _rel, synth_source,  # noqa: F401
                    yosys_command)

__all__ = ["register", "run", "find_liberty", "prepare_liberty", "Library", "synthesize",
           "SynthResult", "Design", "area_ratios", "write_reports", "yosys_command",
           "ABC_SCRIPTS"]


def register(sub):
    p = sub.add_parser(
        "area", help="Yosys area (µm² with a Liberty file), FPGA resources and timing of every top",
        description="Synthesise the Verilog of `sparse-hw verilog` with Yosys and write "
                    "build/reports/area.md and area.json (per design: area, cells, transistor "
                    "estimate, LUT/FF/DSP/BRAM, critical path, per-block shares; engine vs "
                    "baseline area ratios and iso-area speed-ups from make bench's).")
    p.add_argument("--engine", action="append", default=None, metavar="E",
                   help="only tops of this engine (common, sparten, eureka, barista; repeatable)")
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
    for line in summary(read_targets(js)):
        print(f"  {line}")
    print(f"wrote {md} and {js} ({time.monotonic() - t0:.0f} s)")
    return 1 if any(r.errors for r in results) else 0


def main(argv=None):
    """``python -m synth.area [options]``: the same as ``sparse-hw area [options]``."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m synth.area")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["area", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
