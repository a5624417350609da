"""EUREKA SUDS datapath variants: area, critical path, speed-up and iso-area speed-up in one table.

``python -m synth.suds_variants [--size small|paper] [--only NAME ...]`` synthesises every variant
of :data:`VARIANTS` at one R x L (sky130 hd TT by default, the ``asic`` flow of
:mod:`synth.area`), together with the dense baseline and the Ampere-like 2:4 core of that size,
and writes ``build/reports/suds_variants.md`` and ``.json``. ``make area`` runs it at the paper
size after the main report.

Columns:

* area (µm²) and area / Ampere-like 2:4 core of the same R x L (issue 11's target: at most 1.06),
  the 2:4 core whose select is written the same way (``select``: ``ampere24`` one-hot, the
  default; ``ampere24-mux`` for the rows measured with the indexed mux);
* critical path (:mod:`synth.sta`; target at most 5.0 ns);
* speed-up over the dense core, SUDS mode, d_w 0.1..0.5, from :func:`golden.eureka.cycle_model`
  on the bench's workload (:mod:`sim.bench_eureka`: ``W[M,K]`` uniform random, same seed), in
  natural column order and in the balanced order (``permute=True``, the bench's headline);
* iso-area speed-up = speed-up / (area / dense area), at the headline density.

Independent lanes (``lane_sync="independent"``) have no balanced order (it is a lock-step
packing): their row gives the natural order only, and their iso-area speed-up is the natural one.

A variant is a set of :class:`hw.eureka.config.EurekaConfig` fields (``group``, ``steer``,
``disp_budget``, ``select``, ``lane_sync``, ``tree_share``) over the paper's fields. Trees shared
between rows (``tree_share=2``, :mod:`hw.eureka.shared`) are built and measured like the others:
a row makes L products per cycle in every mode, so the rows of a pair take turns on their shared
tree and a beat takes two cycles (the cycle model's ``issue_interval``): half the speed-up, for
the area of the removed trees and product registers minus the row-selects.

Yosys results are cached per variant in ``build/synth/suds_variants/<library>/<name>-<hash>/``
(the hash is of the generated Verilog), with the numbers read from them in ``numbers.json``: an
unchanged variant is read back, not resynthesised nor timed again.
"""

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

from report.schema import iso_area_speedup
from report.targets import target

__all__ = ["VARIANTS", "SIZES", "variant_configs", "speedups", "measure", "table",
           "default_variant", "main"]

#: name -> (EurekaConfig fields over the size's base config, one-line description).
VARIANTS = {
    "g8-before": ({"group": 8, "steer": "before", "disp_budget": 0, "select": "mux"},
                  "G=8, own/moved products registered separately, two full trees"),
    "g8-after": ({"group": 8, "steer": "after", "disp_budget": 0, "select": "mux"},
                 "G=8, one product register, steer after it, full moved tree"),
    "g8-after-d4": ({"group": 8, "steer": "after", "disp_budget": 4, "select": "mux"},
                    "G=8, steer after, budget D=4 (OR per 1/4 of the lanes + 4-input adder)"),
    "g8-after-d2": ({"group": 8, "steer": "after", "disp_budget": 2, "select": "mux"},
                    "G=8, steer after, budget D=2"),
    "g8-after-d1": ({"group": 8, "steer": "after", "disp_budget": 1, "select": "mux",
                    "moved_sum": "accumulate"},
                    "G=8, steer after, budget D=1 (one moved slot per row and cycle)"),
    "g8-d1-onehot": ({"group": 8, "steer": "after", "disp_budget": 1, "select": "onehot",
                      "moved_sum": "accumulate"},
                     "G=8, steer after, D=1, one-hot AND-OR select (valid in the decode), "
                     "moved sums added in the accumulate"),
    "g8-d1-shared2": ({"group": 8, "steer": "after", "disp_budget": 1, "select": "onehot",
                       "tree_share": 2},
                      "G=8, steer after, D=1, one-hot select, trees shared by pairs of rows "
                      "(a beat every 2 cycles)"),
    "g8-d1-tree": ({"group": 8, "steer": "after", "disp_budget": 1, "select": "onehot",
                    "moved_sum": "tree"},
                   "G=8, steer after, D=1, one-hot select, M[r+1] - M[r] added to row r's tree "
                   "sum before its register (acc += it; moved_sum 'auto' resolves to it)"),
    "g4-before": ({"group": 4, "steer": "before", "disp_budget": 0, "select": "mux"},
                  "G=4, two full trees"),
    "g4-after-d2": ({"group": 4, "steer": "after", "disp_budget": 2, "select": "mux"},
                    "G=4, steer after, budget D=2"),
    "g4-after-d1": ({"group": 4, "steer": "after", "disp_budget": 1, "select": "mux",
                    "moved_sum": "accumulate"},
                    "G=4, steer after, budget D=1"),
    "independent": ({"group": 8, "steer": "after", "disp_budget": 0, "lane_sync": "independent",
                     "select": "mux"},
                    "G=8, independent lanes (own window counter and activation stream per lane), "
                    "steer after, full moved tree"),
}

#: R x L of the table: the tests' small core and the paper-sized one (hw.eureka.config).
SIZES = ("small", "paper")
DENSITIES = (0.1, 0.2, 0.3, 0.4, 0.5)


def _base(size):
    from hw.eureka.config import PRESETS
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, not {size!r}")
    return PRESETS[size]


def variant_configs(size="paper", only=None):
    """``[(name, EurekaConfig, description, role)]``: the variants, then the two baselines."""
    base = dataclasses.replace(_base(size), modes=())
    names = list(only or VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    out = [(n, dataclasses.replace(base, **VARIANTS[n][0]), VARIANTS[n][1], "engine")
           for n in names]
    out.append(("dense", base.dense_baseline(), "dense core (no muxes)", "dense-baseline"))
    out.append(("ampere24", base.ampere24_baseline(), "Ampere-like 2:4 core (G=4, one-hot select)",
                "sparse-baseline"))
    if any(cfg.select == "mux" for _, cfg, _, _ in out):     # only the mux rows are divided by it
        out.append(("ampere24-mux", dataclasses.replace(base, select="mux").ampere24_baseline(),
                    "Ampere-like 2:4 core, indexed-mux select (the rows marked mux)",
                    "sparse-baseline-mux"))
    return out


def speedups(cfg, densities=DENSITIES, permute=True, progress=None):
    """Speed-up over the dense core of the same R x L, SUDS mode, per density.

    The bench's workload (:mod:`sim.bench_eureka`: ``W[M,K]``, seed, value law), one column.
    Returns ``{density: {"natural": x, "permuted": x or None, "displaced": n}}``.
    """
    import numpy as np

    from golden import eureka as ge
    from sim.bench_eureka import K, M, SEED, _sparse
    rng = np.random.default_rng(SEED)
    out = {}
    for d in densities:
        w = _sparse(rng, (M, K), d)
        cm = ge.cycle_model(w, 1, "suds", cfg)
        row = {"natural": cm["dense_cycles"] / cm["cycles"], "permuted": None,
               "displaced": cm["displaced"]}
        if permute and not cfg.independent:
            cp = ge.cycle_model(w, 1, "suds", cfg, permute=True)
            row["permuted"] = cp["dense_cycles"] / cp["cycles"]
        out[d] = row
        if progress:
            progress(f"  model {cfg.group=} {cfg.steer=} {cfg.disp_budget=} d_w={d}: "
                     f"{row['natural']:.2f}x natural" + (f", {row['permuted']:.2f}x balanced"
                                                         if row["permuted"] else ""))
    return out


def _verilog(name, cfg, folder):
    """Write the variant's Verilog into ``folder/<name>-<hash>/``; return (design, path)."""
    from amaranth.back import verilog

    from hw.eureka.core import EurekaCore

    from .area import Design
    top = f"suds_{name.replace('-', '_')}"
    text = verilog.convert(EurekaCore(cfg), name=top, emit_src=False)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    d = Path(folder) / "verilog" / f"{top}-{digest}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{top}.v"
    if not path.exists():
        path.write_text(text)
    return Design(top, path, "eureka", "engine", name, cfg.to_dict()), f"{top}-{digest}"


#: Fields an ``area.json`` config written before the SUDS options existed lacks; their values are
#: the hardware it described.
LEGACY_FIELDS = {"steer": "before", "disp_budget": 0, "lane_sync": "lockstep", "select": "mux",
                 "moved_sum": "accumulate"}


def from_area_json(path, cfg, lib):
    """The entry of ``path`` (an ``area.json`` of ``sparse-hw area``, same library) whose config is
    ``cfg``, as :func:`measure` returns it, or None."""
    from hw.eureka.config import EurekaConfig
    path = Path(path)
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    for d in doc.get("designs", ()):
        c = d.get("config") or {}
        if c.get("kind") != "EurekaConfig" or d.get("errors") or \
                d.get("library") != (lib.name if lib else None):
            continue
        if EurekaConfig.from_dict({**LEGACY_FIELDS, **c}) == cfg:
            return {"area_um2": d["area_um2"], "critical_path_ns": d["critical_path_ns"],
                    "cells": d["cells"], "seq_area_um2": d.get("seq_area_um2"),
                    "endpoint": d["critical_path"].get("endpoint"),
                    "startpoint": d["critical_path"].get("startpoint"),
                    "source": f"{path} ({d['design']})"}
    return None


def measure(configs, lib, work, jobs=1, log=print, area_json=None):
    """Synthesise (or read back) every config; ``{name: {area_um2, critical_path_ns, ...}}``.

    A config that ``area_json`` (``sparse-hw area``'s report) already measured is read from it.
    """
    from .area import synthesize
    out = {}
    for name, cfg, _, _ in configs:
        got = from_area_json(area_json, cfg, lib) if area_json else None
        if got:
            log(f"{name}: from {got['source']}")
            out[name] = got
            continue
        design, key = _verilog(name, cfg, work)
        folder = Path(work) / (lib.name if lib else "generic") / key
        numbers = folder / "numbers.json"        # what this function returned for this Verilog
        if numbers.is_file():
            out[name] = json.loads(numbers.read_text())
            log(f"{name}: cached ({numbers})")
            continue
        reuse = (folder / design.name / "asic" / "job.json").exists() and \
            json.loads((folder / design.name / "asic" / "job.json").read_text()).get("ok")
        log(f"{name}: {'cached' if reuse else 'synthesising'} ({folder})")
        [res] = synthesize([design], lib, flows=("asic",), jobs=jobs, work=folder, reuse=bool(reuse),
                           log=log)
        if res.errors:
            raise RuntimeError(f"synthesis of {name} failed: {res.errors}")
        n = res.numbers
        out[name] = {"area_um2": n.get("area_um2"), "critical_path_ns": n.get("critical_path_ns"),
                     "cells": n.get("cells"), "seq_area_um2": n.get("seq_area_um2"),
                     "endpoint": n.get("endpoint"), "startpoint": n.get("startpoint"),
                     "source": str(folder)}
        numbers.write_text(json.dumps(out[name], indent=1) + "\n")
    return out


def iso_area(speedup, area, dense_area):
    """Iso-area speed-up over the dense core (:func:`report.schema.iso_area_speedup` of the area
    ratio to it)."""
    return iso_area_speedup(speedup, area / dense_area) if speedup and area and dense_area else None


def table(configs, areas, speeds, headline=0.2):
    """The rows of the report (one per config; baselines have no SUDS speed-ups)."""
    dense = areas["dense"]["area_um2"]
    rows = []
    for name, cfg, desc, role in configs:
        a = areas[name]
        # a row is compared with the 2:4 core whose select is written the same way
        amp = areas["ampere24-mux" if cfg.select == "mux" and "ampere24-mux" in areas
                    else "ampere24"]["area_um2"]
        sp = speeds.get(name)
        head = (sp or {}).get(headline, {})
        best = head.get("permuted") or head.get("natural")
        rows.append({
            "variant": name, "description": desc, "role": role, "config": cfg.to_dict(),
            "area_um2": a["area_um2"], "area_vs_ampere24": a["area_um2"] / amp,
            "area_vs_dense": a["area_um2"] / dense, "critical_path_ns": a["critical_path_ns"],
            "speedup_natural": {str(d): v["natural"] for d, v in (sp or {}).items()},
            "speedup_permuted": {str(d): v["permuted"] for d, v in (sp or {}).items()},
            "headline_density": headline, "headline_speedup": best,
            "iso_area_speedup": iso_area(best, a["area_um2"], dense),
            "iso_area_speedup_natural": iso_area(head.get("natural"), a["area_um2"], dense),
        })
    return rows


def markdown(doc):
    rows = doc["rows"]
    dens = [str(d) for d in doc["densities"]]
    L = [f"# EUREKA SUDS datapath variants ({doc['size']}: {doc['rows_lanes']})", "",
         f"Library {doc['library']}; speed-ups from golden.eureka.cycle_model on {doc['workload']}. "
         f"Iso-area speed-up = speed-up at d_w {doc['headline_density']} (balanced order) / "
         f"(area / dense area). Target (report/targets.py): area / Ampere-like 2:4 <= "
         f"{target('eureka_area').bound:g}, SUDS >= {MIN_SPEEDUP}x at d_w 0.2, critical path <= "
         f"{target('critical_path').bound:g} ns. Best iso-area speed-up of the variants meeting "
         f"{MIN_SPEEDUP}x: `{doc['best_iso_area']}`; the default config (hw/eureka/config.py) is "
         f"`{doc['default']}`.", "",
         "| variant | area (µm²) | / 2:4 core | crit. path (ns) | " +
         " | ".join(f"d_w {d} nat / bal" for d in dens) + " | iso-area bal / nat | description |",
         "|---|---:|---:|---:|" + "---:|" * len(dens) + "---:|---|"]
    for r in rows:
        sp = " | ".join(
            (f"{r['speedup_natural'][d]:.2f} / {r['speedup_permuted'][d]:.2f}"
             if r["speedup_permuted"].get(d) else f"{r['speedup_natural'][d]:.2f}")
            if d in r["speedup_natural"] else "-" for d in dens)
        bal = r["speedup_permuted"].get(str(doc["headline_density"]))
        iso = (f"{r['iso_area_speedup']:.2f}x / {r['iso_area_speedup_natural']:.2f}x" if bal else
               f"- / {r['iso_area_speedup_natural']:.2f}x") if r["iso_area_speedup"] else "-"
        cp = f"{r['critical_path_ns']:.2f}" if r["critical_path_ns"] else "-"
        L.append(f"| {r['variant']} | {r['area_um2']:,.0f} | {r['area_vs_ampere24']:.3f} | {cp} | "
                 f"{sp} | {iso} | {r['description']} |")
    return "\n".join(L) + "\n"

#: Issue 11's floor: SUDS over dense at d_w 0.2 (balanced order, the bench's headline), from report.targets.
#: Issue 11's floor: SUDS at least 4.5x over dense at d_w 0.2 (balanced order, the bench's headline).
MIN_SPEEDUP = target("eureka_suds_speedup").bound


def pick_default(rows, min_speedup=MIN_SPEEDUP):
    """The engine variant of the highest iso-area speed-up (balanced order) among those at least
    ``min_speedup`` over dense at the headline density."""
    eng = [r for r in rows if r["role"] == "engine" and r["iso_area_speedup"]
           and r["headline_speedup"] >= min_speedup]
    return max(eng, key=lambda r: r["iso_area_speedup"])["variant"] if eng else None


def default_variant(configs):
    """The engine variant that is the default config (:data:`hw.eureka.config.PAPER`'s fields but
    R x L; configs compare by the hardware they describe, e.g. resolved ``moved_sum``), or None."""
    from hw.eureka.config import PAPER
    return next((n for n, cfg, _, role in configs if role == "engine" and
                 dataclasses.replace(cfg, rows=PAPER.rows, lanes=PAPER.lanes) == PAPER), None)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m synth.suds_variants", description=__doc__.split(
        "\n")[0])
    p.add_argument("--size", default="paper", choices=SIZES, help="R x L (default paper, 8x32)")
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help=f"only this variant (repeatable): {', '.join(VARIANTS)}")
    p.add_argument("--liberty", default=None, help="Liberty file (see sparse-hw area --help)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="Yosys processes at a time")
    p.add_argument("--no-permute", action="store_true",
                   help="skip the balanced-order model (slow at the paper size)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default build/reports)")
    p.add_argument("--area-json", type=Path, default=None, metavar="PATH",
                   help="read designs this area.json measured (e.g. the tops of make area) from "
                        "it instead of synthesising them (default: <out>/area.json)")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be at least 1, not {args.jobs}")
    from hw.emit import build_dir

    from .area import find_liberty, prepare_liberty
    t0 = time.monotonic()
    src = find_liberty(args.liberty)
    lib = prepare_liberty(src) if src else None
    configs = variant_configs(args.size, args.only)
    out = Path(args.out or build_dir() / "reports")
    areas = measure(configs, lib, build_dir() / "synth" / "suds_variants", jobs=args.jobs,
                    area_json=args.area_json or out / "area.json")
    speeds = {n: speedups(c, permute=not args.no_permute, progress=print)
              for n, c, _, role in configs if role == "engine"}
    rows = table(configs, areas, speeds)
    default = default_variant(configs)
    from sim.bench_eureka import K, M, SEED
    base = _base(args.size)
    doc = {"size": args.size, "rows_lanes": f"{base.rows}x{base.lanes}",
           "library": lib.name if lib else "generic", "densities": list(DENSITIES),
           "headline_density": 0.2, "workload": f"W[{M}x{K}] uniform random (seed {SEED}), SUDS",
           "default": default, "best_iso_area": pick_default(rows), "rows": rows,
           "seconds": round(time.monotonic() - t0, 1)}
    out.mkdir(parents=True, exist_ok=True)
    stem = "suds_variants" if args.size == "paper" else f"suds_variants_{args.size}"
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(doc))
    print(markdown(doc))
    print(f"wrote {out / stem}.md and .json ({doc['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
