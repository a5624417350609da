"""Results of a sweep: one row per point, Pareto fronts, and ``sweep.{json,csv,md}`` + plots.

Figures of a row (all from the task results, none re-derived elsewhere):

* ``cycles``: the cycle model's total over the workload's layers;
* ``speedup_vs_dense``: the dense baseline of the same multipliers over ``cycles`` (the papers'
  metric: SparTen's units without skipping, EUREKA's dense core of the same R x L);
* ``macs_per_cycle``: dense MACs of the workload per cycle, i.e. the speed-up over one dense MAC;
  it does not depend on the config's size, so the Pareto fronts plot it against area;
* ``area_um2``, ``fmax_mhz`` when the sweep synthesises; ``energy_nj`` when an energy model exists.

A Pareto front is the set of points of one workload that no other point beats on both axes
(smaller cost, higher ``macs_per_cycle``; smaller cost, less energy). The cost is ``area_um2`` when
every point of the workload has one, otherwise the multiplier count (the plot says which).
"""

import csv
from pathlib import Path

from report.schema import write_json
from report.sweep import SweepReport

__all__ = ["assemble", "pareto", "write_reports", "multipliers", "row_of"]

#: Columns of sweep.csv and of the Markdown tables, in order.
COLUMNS = ("workload", "engine", "digest", "variant", "rows", "lanes", "group", "n_units", "chunk",
           "matches_per_cycle", "unit_fifo_depth", "mode", "method", "order", "multipliers",
           "cycles", "dense_cycles", "speedup_vs_dense", "macs_per_cycle", "area_um2", "fmax_mhz",
           "energy_nj", "rtl_cycle_exact", "status", "error")


def multipliers(engine, config):
    """MAC units of a config (SparTen: units x matches per cycle; EUREKA: R x L)."""
    if engine == "sparten":
        return config["n_units"] * config["matches_per_cycle"]
    return config["rows"] * config["lanes"]


def row_of(p, results):
    """The result row of one point from its tasks' results."""
    cfg = p["config"]
    row = {"workload": p["workload_name"], "engine": p["engine"], "digest": p["digest"],
           "config": cfg, **{k: cfg.get(k) for k in COLUMNS if k in cfg}, **p["point"],
           "multipliers": multipliers(p["engine"], cfg), "errors": {}}
    if p["engine"] == "eureka" and p["point"].get("mode", "").startswith("nm:") \
            and p["workload"].get("prune_nm") and p["workload"].get("structure") != p["point"]["mode"]:
        row["pruned_to"] = p["point"]["mode"]
    for kind, key in p["tasks"].items():
        res = results.get(key)
        if res is None:
            row.setdefault("missing", []).append(kind)
        elif "error" in res:
            row["errors"][kind] = res["error"]
        elif kind == "model":
            row.update(cycles=res["cycles"], dense_cycles=res["dense_cycles"],
                       dense_macs=res["dense_macs"], layers=res["layers"],
                       speedup_vs_dense=res["dense_cycles"] / res["cycles"],
                       macs_per_cycle=res["dense_macs"] / res["cycles"])
            if "onesided_cycles" in res:
                row["onesided_cycles"] = res["onesided_cycles"]
                row["speedup_vs_onesided"] = res["onesided_cycles"] / res["cycles"]
        elif kind == "area":
            row.update(area_um2=res["area_um2"], fmax_mhz=res["fmax_mhz"],
                       critical_path_ns=res["critical_path_ns"], area_library=res["library"])
        elif kind == "rtl":
            row["rtl"] = res
            row["rtl_cycle_exact"] = bool(res["cycle_exact"] and res["bit_exact"])
        elif kind == "energy":
            row.update(energy=res, energy_nj=res.get("energy_nj"))
    row["status"] = "failed" if row["errors"] else "incomplete" if row.get("missing") else "ok"
    row["error"] = "; ".join(f"{k}: {v}" for k, v in row["errors"].items())
    return row


def pareto(rows, cost, value, maximise=True):
    """Rows no other row beats: lower ``cost`` and better ``value`` (higher if ``maximise``),
    sorted by cost. Rows lacking either figure are left out."""
    ok = [r for r in rows if r.get(cost) is not None and r.get(value) is not None]
    sign = 1 if maximise else -1
    ok.sort(key=lambda r: (r[cost], -sign * r[value]))
    front, best = [], None
    for r in ok:
        if best is None or sign * r[value] > sign * best:
            front.append(r)
            best = r[value]
    return front


def _fronts(rows):
    out = {}
    for wl in sorted({r["workload"] for r in rows}):
        mine = [r for r in rows if r["workload"] == wl and r["status"] == "ok"]
        cost = "area_um2" if mine and all(r.get("area_um2") for r in mine) else "multipliers"
        f = {"cost": cost,
             "speed": [_brief(r) for r in pareto(mine, cost, "macs_per_cycle")]}
        if any(r.get("energy_nj") is not None for r in mine):
            f["energy"] = [_brief(r) for r in pareto(mine, cost, "energy_nj", maximise=False)]
        out[wl] = f
    return out


def _label(r):
    cfg = r["config"]
    if r["engine"] == "sparten":
        return (f"sparten {cfg['n_units']}u c{cfg['chunk']} m{cfg['matches_per_cycle']}"
                f"{' q' + str(cfg['unit_fifo_depth']) if cfg['unit_fifo_depth'] else ''} "
                f"{r['method']}")
    order = " bal" if r.get("order") == "balanced" else ""
    pruned = " (pruned)" if r.get("pruned_to") else ""
    return f"{cfg['variant']} {cfg['rows']}x{cfg['lanes']} G{cfg['group']} {r['mode']}{order}{pruned}"


def _brief(r):
    keys = ("engine", "digest", "multipliers", "cycles", "macs_per_cycle", "speedup_vs_dense",
            "area_um2", "fmax_mhz", "energy_nj")
    return {"label": _label(r), **{k: r.get(k) for k in keys}}


def assemble(spec, points, skipped, tasks, results, counts, seconds, workers=None):
    rows = [row_of(p, results) for p in points]
    return {
        "name": spec["sweep"]["name"],
        "spec": spec,
        "summary": {"points": len(points), "tasks": counts.total, "computed": counts.done,
                    "cached": counts.cached, "failed": counts.failed,
                    "failed_points": sum(r["status"] == "failed" for r in rows),
                    "skipped": skipped, "seconds": round(seconds, 1), "workers": workers},
        "rows": rows,
        "pareto": _fronts(rows),
    }


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
    return str(v)


def _markdown(doc, plots):
    s = doc["summary"]
    where = (f"on {s['workers']} Dask workers" if s["workers"] else
             "(all cached)" if not s["computed"] + s["failed"] else "serially, without Dask")
    out = [f"# Sweep `{doc['name']}`", "",
           f"{s['points']} points, {s['tasks']} tasks ({s['computed']} computed, {s['cached']} "
           f"cached, {s['failed']} failed) in {s['seconds']} s {where}."]
    if s["skipped"]:
        out += ["", "Combinations not run (not applicable):", ""]
        out += [f"- {n} x {why}" for why, n in s["skipped"].items()]
    out += ["", "`macs_per_cycle` = dense MACs of the workload / cycles (speed-up over one dense "
            "MAC); `speedup_vs_dense` = the same multipliers without skipping / cycles. Cycles "
            "from the cycle models (exact against the RTL); area from make area's flow.", ""]
    for wl, f in doc["pareto"].items():
        out += [f"## {wl}", "", f"Pareto front, {f['cost']} vs macs_per_cycle:", "",
                f"| point | {f['cost']} | cycles | macs/cycle | vs dense | fmax MHz |",
                "|---|---:|---:|---:|---:|---:|"]
        for b in f["speed"]:
            out.append(f"| {b['label']} | {_fmt(b[f['cost']])} | {b['cycles']:,} | "
                       f"{b['macs_per_cycle']:.1f} | {b['speedup_vs_dense']:.2f}x | "
                       f"{_fmt(b['fmax_mhz'])} |")
        if "energy" in f:
            out += ["", f"Pareto front, {f['cost']} vs energy:", ""]
            out += [f"- {b['label']}: {_fmt(b[f['cost']])}, {b['energy_nj']} nJ" for b in f["energy"]]
        if wl in plots:
            out += ["", f"![{wl}]({plots[wl].name})"]
        out += [""]
    out += ["## All points", "", "| " + " | ".join(COLUMNS[:-1]) + " |",
            "|" + "---|" * (len(COLUMNS) - 1)]
    for r in doc["rows"]:
        out.append("| " + " | ".join(_fmt(r.get(c)) for c in COLUMNS[:-1]) + " |")
    failed = [r for r in doc["rows"] if r["status"] == "failed"]
    if failed:
        out += ["", "## Failed points", ""]
        out += [f"- {r['workload']} {_label(r)}: {r['error']}" for r in failed]
    return "\n".join(out) + "\n"


def _plot(doc, out):
    import matplotlib        # a dependency (pyproject.toml): a missing one is an error, not a gap
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plots = {}
    for wl, f in doc["pareto"].items():
        rows = [r for r in doc["rows"] if r["workload"] == wl and r["status"] == "ok"]
        if not rows:
            continue
        cost = f["cost"]
        panels = [("macs_per_cycle", "speed", "dense MACs per cycle (speed-up over one MAC)")]
        if "energy" in f:
            panels.append(("energy_nj", "energy", "energy per run (nJ)"))
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
        for ax, (val, key, ylabel) in zip(axes[0], panels):
            groups = {}
            for r in rows:
                groups.setdefault(f"{r['engine']} {r.get('mode') or r.get('method')}", []).append(r)
            for g, rs in sorted(groups.items()):
                ax.scatter([r[cost] for r in rs if r.get(val) is not None],
                           [r[val] for r in rs if r.get(val) is not None], label=g, s=22)
            front = f[key]
            ax.plot([b[cost] for b in front], [b[val] for b in front], "k--", lw=1,
                    label="Pareto front")
            ax.set_xlabel("area (um^2)" if cost == "area_um2" else
                          "multipliers (no area in this sweep)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{doc['name']}: {wl}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"sweep_{wl}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        plots[wl] = path
    return plots


def write_reports(doc, out):
    """Write ``sweep.json`` (through :class:`report.sweep.SweepReport`, which ``pick --from``
    reads back strictly), ``sweep.csv``, ``sweep.md`` and one PNG per workload to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    js, cs, md = out / "sweep.json", out / "sweep.csv", out / "sweep.md"
    write_json(js, SweepReport.from_json(doc))
    plots = _plot(doc, out)
    with open(cs, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(COLUMNS)
        for r in doc["rows"]:
            wr.writerow(["" if r.get(c) is None else r.get(c) for c in COLUMNS])
    md.write_text(_markdown(doc, plots))
    return [js, cs, md, *plots.values()]
