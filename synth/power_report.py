"""``power.json`` and ``power.md`` of ``make power``: the comparisons against the papers'
figures, the report text and the plot (:mod:`synth.power` measures the rows).
"""

from pathlib import Path

from hw.emit import build_dir
from report.schema import write_json

__all__ = ["PAPER", "PAIRS", "comparisons", "write_reports"]

#: Paper figures (EUREKA, MICRO'23): energy ratios are baseline / engine, power engine / baseline.
PAPER = {
    "eureka_vs_dense_energy": {"target": 3.2, "paper": 3.2, "kind": "energy", "better": "higher",
                               "what": "energy, dense core / EUREKA (d_w 0.2)"},
    "eureka_vs_ampere24_energy": {"target": 1.7, "paper": 1.7, "kind": "energy",
                                  "better": "higher",
                                  "what": "energy, Ampere-like 2:4 core on 2:4 / EUREKA (d_w 0.2)"},
    "eureka_vs_ampere24_power": {"target": 1.115, "paper": 1.115, "kind": "power",
                                 "better": "lower",
                                 "what": "power, EUREKA (d_w 0.2) / Ampere-like 2:4 core on 2:4"},
    "sparten_vs_dense_energy": {"target": None, "paper": None, "kind": "energy",
                                "better": "higher",
                                "what": "energy, dense MAC array / SparTen cluster (VGG-like layer)"},
    "barista_vs_dense_energy": {"target": None, "paper": None, "kind": "energy",
                                "better": "higher",
                                "what": "energy, dense MAC array / BARISTA cluster (VGG-like layer)"},
}
#: (comparison, engine (design role, workload), baseline (role, workload)) per engine.
PAIRS = {
    "eureka_vs_dense_energy": ("eureka", ("engine", "gemm_dw0.2"), ("dense-baseline", "gemm_dw0.2")),
    "eureka_vs_ampere24_energy": ("eureka", ("engine", "gemm_dw0.2"),
                                  ("sparse-baseline", "gemm_2to4")),
    "eureka_vs_ampere24_power": ("eureka", ("engine", "gemm_dw0.2"),
                                 ("sparse-baseline", "gemm_2to4")),
    "sparten_vs_dense_energy": ("sparten", ("engine", "vgg_layer"), ("dense-baseline", "vgg_layer")),
    "barista_vs_dense_energy": ("barista", ("engine", "vgg_layer"), ("dense-baseline", "vgg_layer")),
}


def comparisons(rows):
    """The JSON contract's ``comparisons``: ``{name: value or None}`` plus details per name."""
    def find(engine, role, workload):
        return next((r for r in rows if r["engine"] == engine and r["role"] == role
                     and r["workload"] == workload), None)
    values, detail = {}, {}
    for name, (engine, (er, ew), (br, bw)) in PAIRS.items():
        e, b = find(engine, er, ew), find(engine, br, bw)
        spec = PAPER[name]
        if e is None or b is None:
            values[name] = None
            detail[name] = {**spec, "value": None, "reason": "not measured in this run"}
            continue
        if spec["kind"] == "energy":
            v = b["energy_nj"] / e["energy_nj"]
        else:
            v = e["total_mw"] / b["total_mw"]
        met = None
        if spec["target"] is not None:
            met = v >= spec["target"] if spec["better"] == "higher" else v <= spec["target"]
        # Which block limits it: with target T, the engine's budget per block is the baseline's
        # energy / T (power x T); the block furthest over its budget limits the ratio (without a
        # target: the plain engine - baseline difference).
        t = spec["target"] or 1.0
        ce = e["cycles"] if spec["kind"] == "energy" else 1
        cb = b["cycles"] if spec["kind"] == "energy" else 1
        budget = (lambda x: x / t) if spec["kind"] == "energy" else (lambda x: x * t)
        diff = {k: e["blocks"].get(k, 0.0) * ce - budget(b["blocks"].get(k, 0.0) * cb)
                for k in set(e["blocks"]) | set(b["blocks"])}
        limit = max(diff, key=diff.get) if diff else None
        values[name] = v
        detail[name] = {**spec, "value": v, "met": met, "engine": f"{e['design']} / {ew}",
                        "baseline": f"{b['design']} / {bw}", "limiting_block": limit,
                        "block_difference": dict(sorted(diff.items(), key=lambda kv: -kv[1])),
                        "difference_unit": ("mW x cycles over the budget (baseline / target)"
                                            if spec["kind"] == "energy"
                                            else "mW over the budget (baseline x target)")}
    return values, detail


def write_reports(rows, lib, clock_mhz, elapsed=None, out_dir=None, extra=None):
    """``power.json`` (the contract: ``library``, ``clock_mhz``, ``designs`` [...],
    ``comparisons``), ``power.md`` and ``power.png`` in ``out_dir`` (default build/reports)."""
    out_dir = Path(out_dir or build_dir() / "reports")
    out_dir.mkdir(parents=True, exist_ok=True)
    values, detail = comparisons(rows)
    keep = ("design", "workload", "cycles", "dynamic_mw", "leakage_mw", "total_mw", "energy_nj",
            "pj_per_mac", "blocks")
    designs = [{**{k: r[k] for k in keep}, **{k: v for k, v in r.items() if k not in keep}}
               for r in rows]
    doc = {"library": lib.name, "corner": lib.corner, "clock_mhz": clock_mhz,
           "designs": designs, "comparisons": values, "comparison_details": detail,
           "model": __doc__.split("Reports:")[0].strip(), "elapsed_s": elapsed, **(extra or {})}
    write_json(out_dir / "power.json", doc)
    (out_dir / "power.md").write_text(_markdown(doc))
    _plot(doc, out_dir / "power.png")
    return out_dir / "power.json", out_dir / "power.md"


def _f(v, d=3):
    return "n/a" if v is None else f"{v:,.{d}f}"


def _markdown(doc):
    L = ["# Power and energy from switching activity", "",
         f"Cell library **{doc['library']}** ({doc['corner']}), clock **{doc['clock_mhz']:g} MHz**. "
         "Netlists from the area flow (same Liberty file and ABC script as `make area`), simulated "
         "gate by gate in Verilator with cell models made from the Liberty file; SAIF toggle counts "
         "x Liberty internal energy at the timing flow's transitions and loads + ½CV² (pin loads, "
         "no wires: before placement) + state-weighted leakage. No clock tree, no SRAM macros. "
         "Energy per run = window power x run cycles / clock; pJ/MAC per useful MAC (non-zero "
         "weight x activation).", ""]
    if doc.get("elapsed_s") is not None:
        L += [f"Run time: {doc['elapsed_s']:.0f} s.", ""]
    L += ["| design | workload | cycles | window | dynamic mW | leakage mW | total mW | energy nJ "
          "| pJ/MAC | pJ/dense MAC | bit-exact |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for d in doc["designs"]:
        L.append(f"| {d['design']} | {d['workload']} | {d['cycles']:,} | {d['window_cycles']:,} | "
                 f"{_f(d['dynamic_mw'])} | {_f(d['leakage_mw'], 6)} | {_f(d['total_mw'])} | "
                 f"{_f(d['energy_nj'])} | {_f(d['pj_per_mac'])} | {_f(d.get('pj_per_dense_mac'))} | "
                 f"{d['checks'].get('bit_exact')} |")
    L += ["", "## Comparisons (same workload generator, flow and clock)", "",
          "Energy ratios are baseline / engine (more than 1: the engine uses less); power ratios "
          "engine / baseline.", "",
          "| comparison | target | paper | ours | met | limiting block (engine - baseline) |",
          "|---|---:|---:|---:|---|---|"]
    for name, c in doc["comparison_details"].items():
        lim = c.get("limiting_block") or c.get("reason", "")
        met = {True: "yes", False: "**no**", None: "-"}[c.get("met")]
        L.append(f"| {c['what']} | {_f(c['target'], 3)} | {_f(c['paper'], 3)} | "
                 f"{_f(c['value'], 3)} | {met} | {lim} |")
    L += ["", "## Representativeness of the window (RTL toggle rates, same workload)", "",
          "| design | workload | window / whole cycles | mean toggle rate whole | window | ratio | "
          "per-net deviation |", "|---|---|---:|---:|---:|---:|---:|"]
    for d in doc["designs"]:
        r = d.get("representativeness")
        if r:
            L.append(f"| {d['design']} | {d['workload']} | {r['window_cycles']:,} / "
                     f"{r['whole_cycles']:,} | {_f(r['mean_toggle_rate_whole'], 4)} | "
                     f"{_f(r['mean_toggle_rate_window'], 4)} | {_f(r['window_over_whole'], 3)} | "
                     f"{_f(r['per_net_deviation'] * 100, 1)}% |")
    L += ["", "## Blocks (mW, dynamic + leakage; the area report's categories)", ""]
    for d in doc["designs"]:
        L += [f"### {d['design']} / {d['workload']}", "", "| block | mW | share | toggles |",
              "|---|---:|---:|---:|"]
        tot = d["total_mw"] or 1.0
        for k, v in d["blocks"].items():
            L.append(f"| {k} | {_f(v, 4)} | {v / tot * 100:.1f}% | "
                     f"{d['block_toggles'].get(k, 0):,} |")
        L.append("")
    if doc.get("opensta"):
        o = doc["opensta"]
        L += ["## OpenSTA vectorless `report_power` beside ours", "", o.get("text", ""), ""]
    return "\n".join(L) + "\n"


def _plot(doc, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = doc["designs"]
    cats = []
    for r in rows:
        for k in r["blocks"]:
            if k not in cats:
                cats.append(k)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    labels = [f"{r['design']}\n{r['workload']}" for r in rows]
    bottom = [0.0] * len(rows)
    colours = plt.get_cmap("tab20")
    for i, c in enumerate(cats):
        vals = [r["blocks"].get(c, 0.0) for r in rows]
        ax1.bar(labels, vals, bottom=bottom, label=c, color=colours(i % 20))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax1.set_ylabel(f"mW at {doc['clock_mhz']:g} MHz")
    ax1.set_title("Power per block")
    ax1.legend(fontsize=6)
    ax1.tick_params(axis="x", labelsize=6)
    ax2.bar(labels, [r["energy_nj"] for r in rows], color="tab:gray")
    ax2.set_ylabel("nJ per run")
    ax2.set_title("Energy of the workload")
    ax2.tick_params(axis="x", labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- OpenSTA --------------------------------------------------------------------------------------
