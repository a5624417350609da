"""``sparse-hw pick``: the best config and sparsity mode for a network under an area (and clock)
budget, from sweep results, sweeping what is missing.

The candidates are the engine tables of a sweep spec (``--space``; default :data:`SPACE`) and the
configs of earlier sweeps' ``sweep.json`` (``--from``), each run on the given network. Every
result comes from the sweep cache (``build/sweep-cache/``), so what an earlier sweep or pick
computed is not computed again; what is missing (cycle model, and synthesis unless ``--no-synth``)
is run on Dask like any sweep. Candidates are ranked by the objective at an equal clock (speed:
fewest cycles; energy: least energy per run); the best one that meets ``--max-area`` (and
``--min-mhz``, against the critical-path estimate) wins, and the output names the runner-up and the
constraint that bound: the better candidates it excluded, and the best of them.
"""

import json
import sys
from pathlib import Path

from report.schema import write_json
from report.sweep import read_sweep

from . import sweep, sweep_spec
from .sweep_work import NETWORKS

__all__ = ["SPACE", "choose", "violations", "register", "run"]

#: Default candidate space (engine tables of a sweep spec): both engines around the papers' sizes.
SPACE = """\
[[engine]]
engine = "eureka"
baselines = true
[engine.grid]
rows = [4, 8]
lanes = [8, 16, 32]
group = [8]
mode = ["suds", "unstructured-nosuds", "dense", "nm:2:4"]

[[engine]]
engine = "sparten"
[engine.grid]
n_units = [4, 8, 16, 32]
chunk = [64, 128]
method = ["gbh"]
"""

OBJECTIVES = {"speed": ("cycles", "fewest cycles at an equal clock"),
              "energy": ("energy_nj", "least energy per run")}


def _workload(network, allow_pruning):
    if network in NETWORKS:
        wl = {"name": network, "network": network}
    else:
        path = Path(network)
        if not path.suffix == ".json":
            raise sweep.SpecError(f"--network must be one of {sorted(NETWORKS)!r} or a LAYERS.json "
                                  f"file, not {network!r}")
        try:
            layers = json.loads(path.read_text())
        except FileNotFoundError:
            raise sweep.SpecError(f"--network file {network!r} does not exist") from None
        except json.JSONDecodeError as e:
            raise sweep.SpecError(f"--network file {network!r} is not JSON: {e}") from None
        layers = layers.get("layers") if isinstance(layers, dict) else layers
        wl = {"name": path.stem, "layers": layers}
    if allow_pruning:
        wl["prune_nm"] = True
    return wl


def _from_results(paths):
    """Engine tables naming exactly the configs and point fields of earlier sweeps' rows (each
    ``sweep.json`` read strictly: :func:`report.sweep.read_sweep`)."""
    blocks, seen = [], set()
    for path in paths:
        if not Path(path).exists():
            raise sweep.SpecError(f"--from {str(path)!r} does not exist")
        for r in read_sweep(path).rows:
            settable = sweep_spec.settable_fields(sweep_spec._engine_module(r.engine)[1])
            cfg = {k: v for k, v in r.config.items() if k in settable}
            point = r.point(sweep.work.POINT_FIELDS[r.engine])
            ident = sweep._canon([r.engine, cfg, point])
            if ident in seen:
                continue
            seen.add(ident)
            grid = {k: [list(v) if isinstance(v, tuple) else v] for k, v in {**cfg, **point}.items()}
            blocks.append({"engine": r.engine, "grid": grid})
    return blocks


def violations(r, max_area, min_mhz=None):
    """The constraints a row fails (an unknown figure fails its constraint)."""
    v = []
    if r.get("area_um2") is None:
        v.append("area unknown")
    elif r["area_um2"] > max_area:
        v.append("max-area")
    if min_mhz is not None:
        if r.get("fmax_mhz") is None:
            v.append("fmax unknown")
        elif r["fmax_mhz"] < min_mhz:
            v.append("min-mhz")
    return v


def choose(rows, max_area, min_mhz=None, objective="speed"):
    """``(best, runner_up, bound, ranked)`` from sweep rows of one workload.

    ``bound`` is None when no better candidate was excluded, else ``{"constraint", "excluded",
    "best_excluded"}``: the constraint that excluded the most of the candidates ranked above
    ``best``, how many, and the best of those. ``best`` is None when nothing is feasible.
    """
    key = OBJECTIVES[objective][0]
    ranked = sorted((r for r in rows if r.get(key) is not None),
                    key=lambda r: (r[key], r.get("area_um2") or float("inf")))

    feasible = [r for r in ranked if not violations(r, max_area, min_mhz)]
    best = feasible[0] if feasible else None
    runner = feasible[1] if len(feasible) > 1 else None
    above = ranked[:ranked.index(best)] if best else ranked
    bound = None
    if above:
        tally = {}
        for r in above:
            for v in violations(r, max_area, min_mhz):
                tally[v] = tally.get(v, 0) + 1
        constraint = max(tally, key=tally.get)
        bound = {"constraint": constraint, "excluded": len(above),
                 "best_excluded": above[0], "tally": tally}
    return best, runner, bound, ranked


def register(sub):
    p = sub.add_parser("pick", help="best config and sparsity mode for a network under a budget",
                       description="Rank candidate configs (a sweep space) on a network by cycles "
                                   "(or energy) and pick the best one within --max-area (and "
                                   "--min-mhz); results come from the sweep cache, missing ones "
                                   "are swept on Dask.")
    p.add_argument("--network", required=True, metavar="NET|LAYERS.json",
                   help=f"a bench network ({', '.join(sorted(NETWORKS))}) or a JSON list of "
                        "layers ({c,k,h,r,stride,padding,d_w,d_a} or {m,k,n,d_w,d_a})")
    p.add_argument("--max-area", required=True, type=float, metavar="UM2",
                   help="area budget in um^2 (standard cells of the Liberty file; SRAM macros "
                        "not included, as in make area)")
    p.add_argument("--min-mhz", type=float, default=None, metavar="F",
                   help="clock the design must reach (against the critical-path estimate)")
    p.add_argument("--objective", choices=sorted(OBJECTIVES), default="speed")
    p.add_argument("--space", type=Path, default=None, metavar="SPEC.toml",
                   help="candidates: the [[engine]] tables of this sweep spec (default: a built-in "
                        "space of both engines)")
    p.add_argument("--from", dest="from_", type=Path, action="append", default=[],
                   metavar="sweep.json", help="also the configs of an earlier sweep (repeatable)")
    p.add_argument("--no-synth", action="store_true",
                   help="do not synthesise: use only areas already in the cache")
    p.add_argument("--allow-pruning", action="store_true",
                   help="let nm:N:M modes run the network pruned to N:M (changes the network)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None, help="join a Dask cluster")
    p.add_argument("--workers", type=int, default=None, metavar="N")
    p.add_argument("--serial", action="store_true", help="run missing points without Dask")
    p.add_argument("--cache", type=Path, default=None, help="result cache (default build/sweep-cache)")
    p.add_argument("--out", type=Path, default=None, help="write the choice as JSON here")
    p.set_defaults(func=run)


def build_spec(args):
    """The sweep spec pick runs: the candidates crossed with the one network."""
    if args.max_area <= 0:
        raise sweep.SpecError(f"--max-area must be a positive number of um^2, not {args.max_area}")
    if args.min_mhz is not None and args.min_mhz <= 0:
        raise sweep.SpecError(f"--min-mhz must be positive, not {args.min_mhz}")
    import tomllib
    if args.space is not None:
        try:
            engines = tomllib.loads(args.space.read_text()).get("engine", [])
        except FileNotFoundError:
            raise sweep.SpecError(f"--space {str(args.space)!r} does not exist") from None
    else:
        engines = [] if args.from_ else tomllib.loads(SPACE)["engine"]
    # the candidates run on pick's network, whatever workloads the space's tables named
    engines = [{k: v for k, v in e.items() if k != "workloads"} if isinstance(e, dict) else e
               for e in engines] + _from_results(args.from_)
    return sweep.parse_spec({
        "sweep": {"name": "pick", "area": True, "energy": args.objective == "energy"},
        "engine": engines, "workload": [_workload(args.network, args.allow_pruning)]})


def _line(r):
    from .sweep_report import _label
    area = f"{r['area_um2']:,.0f} um2" if r.get("area_um2") is not None else "area unknown"
    mhz = f", fmax {r['fmax_mhz']:.0f} MHz" if r.get("fmax_mhz") else ""
    en = f", {r['energy_nj']:.3g} nJ" if r.get("energy_nj") is not None else ""
    return (f"{_label(r)} [{r['digest']}]: {r['cycles']:,} cycles ({r['speedup_vs_dense']:.2f}x "
            f"over its dense baseline), {area}{mhz}{en}")


def run(args):
    from .bench import Progress
    spec = build_spec(args)
    cache = sweep.Cache(args.cache) if args.cache else sweep.default_cache()
    points, skipped = sweep.expand(spec)
    tasks = sweep.tasks_of(points, spec)
    compute = {"model", "energy"} | (set() if args.no_synth else {"area"})
    client = None if args.serial else (lambda: sweep.make_client(args.scheduler, args.workers))
    results, counts = sweep.run_tasks(tasks, cache, client, Progress("pick", stream=sys.stderr), compute=compute)
    from .sweep_report import row_of
    rows = [row_of(p, results) for p in points]
    best, runner, bound, ranked = choose(rows, args.max_area, args.min_mhz, args.objective)
    what = OBJECTIVES[args.objective][1]
    print(f"{len(rows)} candidates on {spec['workloads'][0]['name']} ({counts.cached} results "
          f"cached, {counts.done} computed, {counts.failed} failed); objective: {what}")
    if best is None:
        known = [r for r in rows if r.get("area_um2") is not None]
        small = min(known, key=lambda r: r["area_um2"]) if known else None
        hint = (f"; the smallest known is {_line(small)}" if small else
                "; no candidate has an area (run without --no-synth)")
        raise sweep.SpecError(f"no candidate meets --max-area {args.max_area:,.0f}"
                              + (f" and --min-mhz {args.min_mhz:g}" if args.min_mhz else "") + hint)
    mode = best.get("mode") or f"two-sided, {best.get('method')} balancing"
    print(f"best: {_line(best)}; sparsity mode: {mode}")
    if runner:
        k = OBJECTIVES[args.objective][0]
        print(f"runner-up: {_line(runner)} ({runner[k] / best[k]:.3f}x the best's {k})")
    else:
        print("runner-up: none (one feasible candidate)")
    if bound:
        b = bound["best_excluded"]
        detail = {"max-area": f"needs {b.get('area_um2') or 0:,.0f} um2 > {args.max_area:,.0f}",
                  "min-mhz": f"reaches {b.get('fmax_mhz') or 0:.0f} MHz < {args.min_mhz}",
                  "area unknown": "was not synthesised (--no-synth)",
                  "fmax unknown": "has no timing estimate"}
        reasons = ", ".join(f"{n} by {c}" for c, n in bound["tally"].items())
        first = violations(b, args.max_area, args.min_mhz)[0]
        print(f"bound: {bound['constraint']} ({bound['excluded']} better candidates excluded: "
              f"{reasons}); the best of them, {_line(b)}, {detail[first]}")
    else:
        print("bound: no constraint excluded a better candidate (best of the whole space)")
    if args.out:
        from .sweep_report import _brief
        doc = {"network": args.network, "max_area_um2": args.max_area, "min_mhz": args.min_mhz,
               "objective": args.objective, "best": _brief(best) | {"config": best["config"],
                                                                     "point": _point(best)},
               "runner_up": _brief(runner) if runner else None,
               "bound": None if not bound else {"constraint": bound["constraint"],
                                                "excluded": bound["excluded"],
                                                "tally": bound["tally"],
                                                "best_excluded": _brief(bound["best_excluded"])},
               "candidates": len(rows)}
        write_json(args.out, doc)
    return 0


def _point(r):
    return {k: r[k] for k in sweep.work.POINT_FIELDS[r["engine"]] if k in r}
