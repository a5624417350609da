"""``sparse-hw bench``: the benchmark report of the engines, beside the published numbers.

Writes ``build/reports/bench.md`` (what a person reads), ``bench.json`` (every number) and PNG plots
into the same folder. This module runs the sections and the CLI; the jobs around them live beside
it:

* the engine sections, :data:`SECTIONS` (``sim/bench_<engine>.py``): each ``section(progress,
  quick, area_path)`` returns a :class:`report.schema.Section` whose headline holds the figures
  :data:`report.schema.HEADLINE_FIGURES` names and the speed-ups of the synthesised tops, and whose
  RTL check ran the cycle model against the RTL in the same run;
* iso-area speed-ups: :func:`report.schema.iso_area` over the headlines and ``area.json``'s
  ratios (``make area``); without a current area report the report says to run it;
* the reproduction table (:mod:`sim.bench_repro`), the plots (:mod:`sim.bench_plots`), the
  simulation speed (:mod:`sim.bench_speed`) and the report writer (:mod:`sim.bench_report`).

A text progress bar runs on stderr throughout (:class:`sim.progress.Progress`). ``--quick`` asks
the sections for their reduced mode (the test suite uses it).
"""

import importlib
import time
from pathlib import Path

from report.schema import ReportError, Section, iso_area, read_area_ratios

from .bench_plots import README_PLOTS, plots
from .bench_repro import POWER_KEYS, PUBLISHED, fmt, reproduction_rows
from .bench_report import write_report
from .bench_speed import sim_speed
from .progress import Progress

__all__ = ["Progress", "PUBLISHED", "POWER_KEYS", "SECTIONS", "register", "run_bench",
           "run_section", "area_rows", "reproduction_rows", "write_report", "sim_speed"]

#: The engine sections: (name, module with ``section(progress, quick, area_path)``).
SECTIONS = (("sparten", "sim.bench_sparten"), ("eureka", "sim.bench_eureka"),
            ("barista", "sim.bench_barista"))


def run_section(modname, progress, quick, area_path):
    """``section(progress, quick, area_path)`` of module ``modname``; must be a Section."""
    sec = importlib.import_module(modname).section(progress=progress, quick=quick,
                                                   area_path=area_path)
    if not isinstance(sec, Section):
        raise TypeError(f"{modname}.section() must return a report.schema.Section, got "
                        f"{type(sec).__name__}")
    return sec


def area_rows(area_path, sections):
    """``(ratios, iso-area rows, note)`` from ``area.json``; without a current one (absent, or
    written before it had ``ratios``) no rows and a one-line note saying to run ``make area``."""
    try:
        ratios = read_area_ratios(area_path)
    except ReportError as e:
        return [], [], f"No current area report ({e}): run `make area`, then `make bench` again."
    return ratios, iso_area({n: s.headline for n, s in sections.items()}, ratios), None


def run_bench(out, quick=False, only=None, area_path=None, progress=None, speed=True):
    """Run the sections (all, or those in ``only``) and write the report into ``out``.

    Returns what ``bench.json`` holds, as records: ``sections`` (``{name: Section}``),
    ``iso_area`` (IsoArea rows), ``area_note``, ``reproduction`` and ``sim_speed``.
    """
    t0 = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress("bench")
    area_path = out / "area.json" if area_path is None else Path(area_path)
    todo = [(n, m) for n, m in SECTIONS if only is None or n in only]
    sections = {}
    for i, (name, modname) in enumerate(todo):
        progress.log(f"section {i + 1}/{len(todo)}: {name}")
        sections[name] = run_section(modname, progress.sub(name), quick, area_path)
        progress.stage = ""
        progress.log(f"{name}: done in {sections[name].seconds:.1f} s")
    ratios, iso_rows, area_note = area_rows(area_path, sections)
    if area_note:
        progress.log(area_note)
    repro = reproduction_rows(sections, ratios, out / "power.json")
    speed_rows = None
    if speed:
        progress.log("simulation speed")
        speed_rows = sim_speed(progress.sub("sim speed"), quick=quick)
        progress.stage = ""
    progress.log("plots")
    written = plots(out, sections, iso_rows, repro)
    md, js = write_report(out, sections, iso_rows, area_note, repro, speed_rows, written,
                          time.monotonic() - t0, quick, area_path if not area_note else None)
    progress.log(f"wrote {md}, {js} and {len(written)} plot(s) in {time.monotonic() - t0:.1f} s")
    return {"sections": sections, "iso_area": iso_rows, "area_note": area_note,
            "reproduction": repro, "sim_speed": speed_rows}


# ---------------------------------------------------------------------------------------------
# CLI

def register(sub):
    p = sub.add_parser("bench", help="benchmark the engines; write build/reports/bench.md/.json/.png",
                       description="Run the SparTen, EUREKA and BARISTA benchmark sections (cycle "
                                   "models checked against the RTL in the same run), add iso-area "
                                   "speed-ups from build/reports/area.json, the published numbers "
                                   "beside ours, and simulation speed.")
    p.add_argument("--out", type=Path, default=None, help="report folder (default build/reports)")
    p.add_argument("--quick", action="store_true",
                   help="reduced workloads (what the test suite runs)")
    p.add_argument("--only", action="append", choices=[n for n, _ in SECTIONS], default=None,
                   help="only this section (repeatable)")
    p.add_argument("--area", type=Path, default=None,
                   help="area report to use (default <out>/area.json)")
    p.add_argument("--no-sim-speed", action="store_true", help="skip the timed RTL runs")
    p.set_defaults(func=run)


def run(args):
    from .verilator import build_dir

    out = args.out or build_dir() / "reports"
    if args.area is not None and not args.area.exists():
        raise FileNotFoundError(f"area report {args.area} does not exist (run make area first)")
    doc = run_bench(out, quick=args.quick, only=args.only, area_path=args.area,
                    speed=not args.no_sim_speed)
    for r in doc["reproduction"]:
        print(f"{r['engine']:8s} {r['metric']:34s} published "
              f"{fmt(r['paper'], r.get('percent'), r.get('approx')):>8s}  ours "
              f"{fmt(r['ours'], r.get('percent')):>8s}")
    print(f"wrote {out / 'bench.md'}")
    if args.out is None and not args.quick and not args.only:
        # The README shows these plots: a full default run refreshes the copies kept in docs/.
        import shutil

        from .verilator import ROOT
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        for name in README_PLOTS:
            if (out / name).exists():
                shutil.copyfile(out / name, docs / name)
                print(f"updated {docs / name}")
    return 0


if __name__ == "__main__":   # python -m sim.bench [--quick ...]: the same as `sparse-hw bench`
    import sys

    from .cli import main
    sys.exit(main(["bench", *sys.argv[1:]]))
