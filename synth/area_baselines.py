"""Area baselines: ``synth/baselines/<design>.json`` holds each design's metrics with a relative
tolerance (as hls4ml keeps synthesis-report baselines); ``sparse-hw area`` reports the drift and
``--update-baselines`` rewrites them. Format: ``{"design", "config", "library", "metrics":
{metric: {"value", "rel_tol"}}}``.
"""

import json
from pathlib import Path

from sim.verilator import ROOT

from .flow import FLOWS

__all__ = ["BASELINE_DIR", "BASELINE_TOLERANCES", "check_baseline", "baseline_of",
           "compare_baselines"]

BASELINE_DIR = ROOT / "synth" / "baselines"
#: metric -> relative tolerance written into new baselines (0 = exact).
BASELINE_TOLERANCES = {"area_um2": 0.10, "cells": 0.15, "transistors": 0.15, "luts": 0.20,
                       "ffs": 0.0, "dsps": 0.0, "critical_path_ns": 0.20, "memory_macro_bits": 0.0}


#: The flow that measures a baseline metric (every other metric comes from ``asic``).
METRIC_FLOW = {"luts": "fpga", "ffs": "fpga", "dsps": "fpga"}


def check_baseline(result, baseline, flows=None):
    """Messages for every metric of ``baseline`` (``{"metrics": {m: {"value", "rel_tol"}}}``) that
    ``result`` (an ``area.json`` design entry) misses by more than its relative tolerance.
    ``flows``: the flows that ran (None: all); metrics of other flows are not compared."""
    out = []
    for metric, spec in baseline.get("metrics", {}).items():
        if flows is not None and METRIC_FLOW.get(metric, "asic") not in flows:
            continue
        want, tol = spec["value"], spec.get("rel_tol", 0.0)
        got = result.get(metric)
        if got is None:
            out.append(f"{result['design']}: {metric} missing (baseline {want})")
        elif abs(got - want) > tol * abs(want) + 1e-9:
            out.append(f"{result['design']}: {metric} {got:g} vs baseline {want:g} "
                       f"(tolerance {tol:.0%})")
    return out


def baseline_of(result):
    """A baseline document of an ``area.json`` design entry."""
    return {"design": result["design"], "config": result["config"], "library": result["library"],
            "metrics": {k: {"value": result[k], "rel_tol": t} for k, t in
                        BASELINE_TOLERANCES.items() if result.get(k) is not None}}


def compare_baselines(results, update=False, folder=None):
    """Check (or with ``update`` rewrite) ``synth/baselines/<design>.json`` of every result; returns
    the drift messages. A baseline of another config or library is not compared. Only the metrics
    of the flows that ran are compared; an update keeps the baseline's metrics of the others."""
    folder = Path(folder or BASELINE_DIR)
    drift = []
    for r in results:
        d = r.to_dict()
        if r.errors:
            continue
        ran = {f for f in FLOWS if f in r.seconds}
        path = folder / f"{d['design']}.json"
        base = json.loads(path.read_text()) if path.exists() else None
        same = base is not None and base.get("config") == d["config"] \
            and base.get("library") == d["library"]
        if update:
            new = baseline_of(d)
            if same:
                for m, spec in base.get("metrics", {}).items():
                    if METRIC_FLOW.get(m, "asic") not in ran:
                        new["metrics"].setdefault(m, spec)
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(new, indent=2) + "\n")
            continue
        if base is None:
            continue
        if not same:
            drift.append(f"{d['design']}: baseline is of another config or library, not compared")
            continue
        drift += check_baseline(d, base, ran)
    return drift
