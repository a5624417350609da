"""``area.json`` and ``area.md``: the designs, the like-for-like ratios and iso-area rows, issue
11's target verdicts, the per-block breakdowns and the drift from the baselines."""

import json
from pathlib import Path

from report.schema import write_json
from report.targets import markdown as targets_markdown, read_targets
from hw.emit import build_dir

from .blocks import unmatched_blocks, unnamed_modules
from .compare import area_ratios, iso_rows, target_verdicts
from .yosys import ABC_SCRIPTS, MACRO_MIN_DEPTH

__all__ = ["write_reports"]


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
    """Write ``area.json`` and ``area.md`` into ``out_dir`` (default ``build/reports``).

    ``area.json`` holds the designs (:class:`report.area.AreaDesign`), the like-for-like
    ``ratios`` (:class:`report.schema.AreaRatio`) and the ``iso_area`` rows
    (:class:`report.schema.IsoArea`, speed-ups from ``bench_path``, default
    ``build/reports/bench.json``), and the ``targets`` verdicts (:class:`report.targets.Verdict`,
    :func:`synth.compare.target_verdicts`), which ``area.md`` prints under "Targets".
    """
    out_dir = Path(out_dir or build_dir() / "reports")
    out_dir.mkdir(parents=True, exist_ok=True)
    ratios, skipped = area_ratios(results)
    iso, iso_source = iso_rows(ratios, bench_path or build_dir() / "reports" / "bench.json")
    designs = [r.to_dict() for r in results]
    triples = [(r.design.name, r.design.engine, r.numbers.get("modules") or []) for r in results]
    doc = {
        "library": lib.to_dict() if lib else None,
        "units": "um^2 of Liberty cell area" if lib else "generic Yosys gates (no Liberty file)",
        "abc_script": ABC_SCRIPTS.get(abc, abc),
        "memory_macro_min_words": MACRO_MIN_DEPTH + 1,
        "timing_model": "synth/sta.py: Liberty NLDM tables on the flattened mapped netlist, no "
                        "wire load, rise and fall tracked per arc by its timing sense"
                        if lib else "logic depth only",
        "fpga": "Yosys synth_xilinx -family xc7 -flatten (out of context; designs that instance "
                "one module many times are mapped hierarchically, the module once)",
        "reused": sorted(reused),
        "elapsed_s": round(elapsed, 1) if elapsed is not None else None,
        "designs": designs,
        "ratios": ratios,
        "ratios_skipped": [{"design": d, "baseline": b, "why": w} for d, b, w in skipped],
        "iso_area": iso,
        "iso_area_speedups_from": iso_source,
        "targets": target_verdicts(designs, ratios, iso),
        "unmatched_blocks": unmatched_blocks(triples),
        "unnamed_modules": unnamed_modules(triples),
        "baseline_drift": list(drift),
    }
    write_json(out_dir / "area.json", doc)
    # the markdown is made from the file as written, its verdicts through the strict reader
    (out_dir / "area.md").write_text(_markdown(json.loads((out_dir / "area.json").read_text()),
                                               read_targets(out_dir / "area.json")))
    return out_dir / "area.json", out_dir / "area.md"


def _markdown(doc, verdicts):
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
    L += [""] + targets_markdown(verdicts)
    L += _like_for_like(doc)
    L += _block_notes(doc)
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




def _like_for_like(doc):
    """The markdown of ``ratios`` and ``iso_area``."""
    if not doc["ratios"]:
        return []
    designs = {d["design"]: d for d in doc["designs"]}
    iso = {(i["design"], i["baseline"]): i for i in doc["iso_area"]}
    L = ["", "## Like for like", "",
         "Overhead = area(engine)/area(baseline) - 1. Iso-area speed-up = cycle speed-up / area "
         "ratio (equal clock assumed; see the critical-path ratio), computed by "
         "`report.schema.iso_area` from the bench's speed-ups: "
         f"{doc['iso_area_speedups_from']}.", "",
         "| engine | baseline | area ratio | overhead | LUT ratio | crit. path ratio | "
         "cycle speed-up | iso-area speed-up | speed-up workload |",
         "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for c in doc["ratios"]:
        e = designs.get(c["design"].split("/")[0], {})
        b = designs.get(c["baseline"], {})
        luts = e["luts"] / b["luts"] if e.get("luts") and b.get("luts") and "/" not in c["design"] \
            else None
        i = iso[(c["design"], c["baseline"])]
        L.append(f"| {c['design']} | {c['baseline']} | {_fmt(c['area_ratio'], 3)} | "
                 f"{_fmt((c['area_ratio'] - 1) * 100)}% | {_fmt(luts, 3)} | "
                 f"{_fmt(c['critical_path_ratio'], 3)} | {_fmt(i['speedup'], 2)} | "
                 f"{_fmt(i['iso_area_speedup'], 2)} | "
                 f"{i['speedup_workload'] or i['missing']} |")
    for s in doc["ratios_skipped"]:
        L.append(f"| {s['design']} | {s['baseline']} | n/a | | | | | | {s['why']} |")
    deltas = [c for c in doc["ratios"] if c.get("delta_by_category")]
    if deltas:
        L += ["", "Where the difference is (engine minus baseline, by block category, "
                  f"{'µm²' if doc['library'] else 'cells'}; categories from the breakdowns below):",
              ""]
        for c in deltas:
            parts = [f"{cat} {v:+,.0f}" for cat, v in c["delta_by_category"].items()
                     if abs(v) >= 0.01 * abs(sum(map(abs, c["delta_by_category"].values())))]
            L.append(f"- {c['design']} vs {c['baseline']}: " + "; ".join(parts))
    return L


def _block_notes(doc):
    """Block-table entries that name no module of this run, and modules no entry names."""
    L = []
    if doc["unmatched_blocks"]:
        L += ["", "Block-table entries (`hw/<engine>/blocks.py`) that name no module of this run's "
                  "designs: " + "; ".join(f"{e}: " + ", ".join(f"`{n}`" for n in names)
                                          for e, names in doc["unmatched_blocks"].items()) + "."]
    if doc["unnamed_modules"]:
        L += ["", "Modules that no block-table entry names (counted as control/other): " +
              ", ".join(f"`{m}`" for m in doc["unnamed_modules"][:20]) +
              (" ..." if len(doc["unnamed_modules"]) > 20 else "") + "."]
    return L
