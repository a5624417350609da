"""EUREKA section of ``make bench``: speed-up over dense per mode and weight density.

Workload (ours): a conv-layer-sized GEMM, ``W[128, 2304]`` (128 filters of 3x3x256), with
uniformly random unstructured weight sparsity at densities 0.1..0.7, on the default core
(R=8, L=32) for G in 4, 8, 16; speed-ups are per output column (cycles scale with N). Modes:
dense, 2:4 and 1:4 (the layer pruned to the pattern), unstructured without and with SUDS, with
lanes in lock-step (the RTL) and independent (modelled), and with the balanced column order of
``golden/eureka_perm.py`` (ours: per row tile, empty columns skipped and columns packed first-fit into
capped lane groups; the driver gathers the activations; the core is unchanged). Cycle counts come from
``golden.eureka.cycle_model``; the same modes and densities are run on the RTL of the tested 4x4
core on a reduced GEMM in the same run, and the model must equal the RTL there.
"""

import dataclasses
import time

import numpy as np

from golden import eureka as ge
from golden.nm import UNSTRUCTURED_MODES
from hw.eureka.config import PAPER as PAPER_CORE, SMALL

__all__ = ["section", "figures", "rtl_check", "PAPER", "DENSITIES", "GROUPS"]

M, K = 128, 2304
DENSITIES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
GROUPS = (4, 8, 16)
HEADLINE_DENSITY = 0.2
SEED = 2023
PAPER = {"speedup_vs_dense": 5.0, "speedup_vs_2to4": 2.5,
         "source": "EUREKA (MICRO'23): ~5x over dense and ~2.5x over 2:4 structured sparsity"}
TARGET_SUDS_FRACTION = 0.9
RTL_CONFIG = SMALL   # the tests' core (shared Verilator build)


def _sparse(rng, shape, density):
    w = rng.integers(1, 128, shape) * rng.choice([-1, 1], shape)
    return w * (rng.random(shape) < density)


def _nm(rng, shape, n, m):
    w = rng.integers(1, 128, shape) * rng.choice([-1, 1], shape)
    g = w.reshape(shape[0], -1, m)
    return (g * (np.argsort(rng.random(g.shape), axis=-1) < n)).reshape(shape)


PERMUTE_GROUPS = (8, 16)   # the balanced order is slow to compute; G=4 rows show natural order only


def figures(m=M, k=K, densities=DENSITIES, groups=GROUPS, rows=PAPER_CORE.rows,
            lanes=PAPER_CORE.lanes, seed=SEED, permute=PERMUTE_GROUPS):
    """Model figures: list of dict rows (one per G, density) plus the structured rows."""
    out = []
    for g in groups:
        cfg = dataclasses.replace(PAPER_CORE, rows=rows, lanes=lanes, group=g)
        rng = np.random.default_rng(seed)
        for d in densities:
            w = _sparse(rng, (m, k), d)
            dw = float((w != 0).mean())
            ideal = min(1 / dw, g)
            row = {"group": g, "density": d, "measured_density": dw, "ideal": ideal}
            for key, mode, lock in (("nosuds", "unstructured-nosuds", True),
                                    ("suds", "suds", True),
                                    ("nosuds_indep", "unstructured-nosuds", False),
                                    ("suds_indep", "suds", False)):
                cm = ge.cycle_model(w, 1, mode, cfg, lockstep=lock)
                row[key] = cm["dense_cycles"] / cm["cycles"]
                if key == "suds":
                    row["suds_removed"] = cm["suds_removed"]
                    row["displaced_share"] = cm["displaced"] / max(1, int((w != 0).sum()))
                if key == "suds_indep":
                    row["suds_removed_indep"] = cm["suds_removed"]
            if g in permute:
                for key, mode in (("nosuds_perm", "unstructured-nosuds"), ("suds_perm", "suds")):
                    cm = ge.cycle_model(w, 1, mode, cfg, permute=True)
                    row[key] = cm["dense_cycles"] / cm["cycles"]
                row["suds_perm_fraction"] = row["suds_perm"] / ideal
            row["suds_fraction"] = row["suds"] / ideal
            row["suds_indep_fraction"] = row["suds_indep"] / ideal
            out.append(row)
    structured = []
    rng = np.random.default_rng(seed)
    cfg = dataclasses.replace(PAPER_CORE, rows=rows, lanes=lanes)
    dense_cfg, amp = cfg.dense_baseline(), cfg.ampere24_baseline()
    wd = _sparse(rng, (m, k), 1.0)
    for label, w, mode, c in (("dense core", wd, "dense", dense_cfg),
                              ("EUREKA dense mode", wd, "dense", cfg),
                              ("Ampere-like 2:4 core", _nm(rng, (m, k), 2, 4), "nm:2:4", amp),
                              ("EUREKA 2:4", _nm(rng, (m, k), 2, 4), "nm:2:4", cfg),
                              ("EUREKA 1:4", _nm(rng, (m, k), 1, 4), "nm:1:4", cfg),
                              ("EUREKA 2:8", _nm(rng, (m, k), 2, 8), "nm:2:8", cfg)):
        cm = ge.cycle_model(w, 1, mode, c)
        structured.append({"label": label, "mode": mode, "group": c.group,
                           "density": float((w != 0).mean()),
                           "speedup": cm["dense_cycles"] / cm["cycles"]})
    return out, structured


SKEW_CONCENTRATION = 4.0


def skewed_figures(m=M, k=K, densities=DENSITIES, group=PAPER_CORE.group,
                   rows=PAPER_CORE.rows, lanes=PAPER_CORE.lanes, seed=SEED):
    """Row-skewed weights: each row's density ~ Beta with mean d_w (concentration 4), as pruned
    layers keep some filters much denser than others; in natural order this is where SUDS's
    downward displacement matters."""
    cfg = dataclasses.replace(PAPER_CORE, rows=rows, lanes=lanes, group=group)
    rng = np.random.default_rng(seed + 1)
    out = []
    for d in densities:
        dens = rng.beta(d * SKEW_CONCENTRATION, (1 - d) * SKEW_CONCENTRATION, size=(m, 1))
        w = rng.integers(1, 128, (m, k)) * (rng.random((m, k)) < dens)
        dw = float((w != 0).mean())
        row = {"group": group, "density": d, "measured_density": dw, "ideal": min(1 / dw, group)}
        for key, mode, perm in (("nosuds", "unstructured-nosuds", False), ("suds", "suds", False),
                                ("nosuds_perm", "unstructured-nosuds", True),
                                ("suds_perm", "suds", True)):
            cm = ge.cycle_model(w, 1, mode, cfg, permute=perm)
            row[key] = cm["dense_cycles"] / cm["cycles"]
        out.append(row)
    return out


def rtl_check(progress, quick=False):
    """Run reduced GEMMs of every bench mode on the RTL; model cycles must equal RTL cycles."""
    from sim.run_eureka import prepare_case, run_cases
    rng = np.random.default_rng(SEED)
    m, k, n = (8, 64, 2) if quick else (8, 128, 2)
    dens = (0.2, 0.5) if quick else (0.1, 0.3, 0.5, 0.7)
    rows = []
    plans = {RTL_CONFIG: [], RTL_CONFIG.dense_baseline(): [], RTL_CONFIG.ampere24_baseline(): []}
    a = rng.integers(-128, 128, (k, n))
    for d in dens:
        w = _sparse(rng, (m, k), d)
        for mode in reversed(UNSTRUCTURED_MODES):
            plans[RTL_CONFIG].append((f"{mode} d={d}", w, mode, False))
            plans[RTL_CONFIG].append((f"{mode} d={d} permuted", w, mode, True))
    plans[RTL_CONFIG] += [("nm:2:4", _nm(rng, (m, k), 2, 4), "nm:2:4", False),
                          ("nm:1:4", _nm(rng, (m, k), 1, 4), "nm:1:4", False),
                          ("dense", _sparse(rng, (m, k), 1.0), "dense", False)]
    plans[RTL_CONFIG.dense_baseline()] = [("dense", _sparse(rng, (m, k), 1.0), "dense", False)]
    plans[RTL_CONFIG.ampere24_baseline()] = [("nm:2:4", _nm(rng, (m, k), 2, 4), "nm:2:4", False)]
    for i, (cfg, plan) in enumerate(plans.items()):
        progress(i, len(plans), f"RTL check {cfg.variant} {cfg.rows}x{cfg.lanes} G={cfg.group}")
        prepared = [prepare_case(cfg, w, a, mode, name, idle=0.2, backpressure=0.2, permute=perm)
                    for name, w, mode, perm in plan]
        res = run_cases(cfg, [p[0] for p in prepared], seed=SEED)
        for case, sched, golden, model, w in prepared:
            got = res[case["name"]]
            rows.append({"variant": cfg.variant, "case": case["name"], "shape": [m, k, n],
                         "model_cycles": model["cycles"], "rtl_cycles": got["cycles"],
                         "bit_exact": got["bit_exact"],
                         "equal": got["cycles"] == model["cycles"] and got["bit_exact"]})
    progress(len(plans), len(plans), "RTL check done")
    return rows


# -- real size: the whole headline GEMM on the paper-sized preload top ----------------------------

#: The full-size GEMM of issue 10: W[128, 2304] (d_w 0.2, the bench's generator and seed) by
#: A[2304, 64], SUDS, natural column order, on the 8x32 G=8 preload top (``GEMM_PAPER``).
REAL_N = 64
REAL_MODE = "suds"
#: Targets of issue 10 (printed, never asserted).
TARGET_NATIVE_CYCLES_PER_S = 100_000
TARGET_NATIVE_OVER_COCOTB = 10
#: The cocotb path (Python drives every beat of the paper-sized core) on the same GEMM (all
#: COCOTB_ROWS rows, COCOTB_COLS[1] columns) and on a cut of it (COCOTB_COLS[0] columns), run
#: separately; its speed is the difference of the two (cycles / seconds), which removes cocotb's
#: start-up (about 20 s of a run on a loaded machine).
COCOTB_ROWS, COCOTB_COLS = 128, (4, 64)


def _child_cpu():
    """CPU seconds (user + sys) of finished child processes: the simulators' own time, which the
    other jobs on a shared machine do not inflate as they do wall time."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def real_size(progress=None, quick=False):
    """Run the full-size GEMM natively (bit- and cycle-exact per tile and whole) and two cuts of it
    with cocotb; returns a dict of measured numbers beside the targets."""
    from golden.eureka_plan import plan_gemm
    from hw.eureka.config import GEMM_PAPER
    from sim.run_eureka import build as build_core
    from sim.run_eureka import build_gemm, prepare_case, run_cases, run_gemm_tiled
    progress = progress or (lambda *a, **k: None)
    cfg = GEMM_PAPER
    rng = np.random.default_rng(SEED)
    m, k, n = (16, 512, 8) if quick else (M, K, REAL_N)
    w = _sparse(rng, (m, k), HEADLINE_DENSITY)
    a = rng.integers(-128, 128, (k, n))
    progress(0, 3, "real size: native build of the paper-sized preload top")
    t0 = time.monotonic()
    model = build_gemm(cfg)
    build_wall = time.monotonic() - t0
    progress(1, 3, f"real size: {m}x{k} x {k}x{n} {REAL_MODE} on the native 8x32 G=8 top")
    cpu0 = _child_cpu()
    out, st = run_gemm_tiled(w, a, REAL_MODE, config=cfg, check=False,
                             progress=lambda msg: progress(1, 3, msg))
    cpu = _child_cpu() - cpu0
    macs = int(np.count_nonzero(w)) * n
    native = {"seconds": st["sim_seconds"], "cpu_seconds": cpu, "engine_cycles": st["cycles"],
              "sim_cycles": st["sim_cycles"],
              "cycles_per_s": st["sim_cycles"] / st["sim_seconds"],
              "engine_cycles_per_s": st["cycles"] / st["sim_seconds"],
              "engine_cycles_per_cpu_s": st["cycles"] / cpu if cpu else None,
              "macs_per_s": macs / st["sim_seconds"]}
    progress(1, 3, "real size: the same GEMM in the balanced column order (ours)")
    _, sp = run_gemm_tiled(w, a, REAL_MODE, config=cfg, check=False, permute=True)
    permuted = {k: sp[k] for k in ("n_tiles", "psum", "cycles", "model_cycles",
                                   "whole_gemm_model_cycles", "bit_exact", "torch_exact",
                                   "cycle_exact", "bytes_moved", "bound_cycles", "speedup",
                                   "sim_seconds")}
    cr = min(COCOTB_ROWS, m)
    progress(2, 3, f"real size: cocotb cuts {cr}x{k} x {k}x{COCOTB_COLS} on the 8x32 core")
    t1 = time.monotonic()
    build_core(cfg.core)
    cocotb_build = time.monotonic() - t1
    runs = []
    for cc in COCOTB_COLS:
        cc = min(cc, n)
        case, _, _, cm, _ = prepare_case(cfg.core, w[:cr], a[:, :cc], REAL_MODE, f"cut{cc}")
        t1, cpu0 = time.monotonic(), _child_cpu()
        got = run_cases(cfg.core, [case], seed=SEED)[f"cut{cc}"]
        runs.append({"cols": cc, "seconds": time.monotonic() - t1, "cpu_seconds": _child_cpu() - cpu0,
                     "cycles": int(got["cycles"]), "model_cycles": int(cm["cycles"]),
                     "macs": int(np.count_nonzero(w[:cr])) * cc,
                     "bit_exact": bool(got["bit_exact"]) and got["cycles"] == cm["cycles"]})
    (r0, r1) = runs
    d_cyc, d_s = r1["cycles"] - r0["cycles"], r1["seconds"] - r0["seconds"]
    d_cpu = r1["cpu_seconds"] - r0["cpu_seconds"]
    cocotb = {"rows": cr, "runs": runs, "build_seconds": round(cocotb_build, 1),
              "bit_exact": all(r["bit_exact"] for r in runs),
              "cycles_per_s": d_cyc / d_s if d_s > 0 else None,
              "cycles_per_cpu_s": d_cyc / d_cpu if d_cpu > 0 else None,
              "macs_per_s": (r1["macs"] - r0["macs"]) / d_s if d_s > 0 else None}
    progress(3, 3, "real size done")
    plan = plan_gemm(w, n, REAL_MODE, cfg)
    ratio = (native["engine_cycles_per_s"] / cocotb["cycles_per_s"]
             if cocotb["cycles_per_s"] else None)
    ratio_cpu = (native["engine_cycles_per_cpu_s"] / cocotb["cycles_per_cpu_s"]
                 if cocotb["cycles_per_cpu_s"] and native["engine_cycles_per_cpu_s"] else None)
    return {
        "workload": f"W[{m}x{k}] d_w={HEADLINE_DENSITY} (seed {SEED}) x A[{k}x{n}], {REAL_MODE}, "
                    f"natural column order, 8x32 G=8 preload top (buffers {cfg.weight_depth} "
                    f"weight beats, {cfg.act_depth} activation windows)",
        "shape": [m, k, n], "n_tiles": st["n_tiles"], "psum": st["psum"],
        "cycles": st["cycles"], "model_cycles": st["model_cycles"],
        "whole_gemm_model_cycles": st["whole_gemm_model_cycles"],
        "bit_exact": st["bit_exact"], "torch_exact": st["torch_exact"],
        "cycle_exact": st["cycle_exact"], "bytes_moved": st["bytes_moved"],
        "bound_cycles": st["bound_cycles"], "dram_bytes_per_cycle": st["dram_bytes_per_cycle"],
        "speedup_vs_dense": st["speedup"],
        "build_seconds": model.build_seconds, "build_wall_seconds": round(build_wall, 1),
        "native": native, "cocotb": cocotb, "permuted": permuted,
        "native_over_cocotb": ratio, "native_over_cocotb_cpu": ratio_cpu,
        "targets": {"native_cycles_per_s": TARGET_NATIVE_CYCLES_PER_S,
                    "native_over_cocotb": TARGET_NATIVE_OVER_COCOTB},
        "plan_traffic": plan.traffic,
        "load_average": __import__("os").getloadavg()[0],
        "quick": quick,
    }


def real_size_markdown(r):
    n, c = r["native"], r["cocotb"]
    ok = "yes" if r["bit_exact"] and r["cycle_exact"] and r["torch_exact"] else "NO"
    tgt, tgt10 = r["targets"]["native_cycles_per_s"], r["targets"]["native_over_cocotb"]

    def met(v, t):
        return "n/a" if v is None else ("MET" if v >= t else "NOT MET")

    def num(v, fmt=",.0f"):
        return "n/a " if v is None else format(v, fmt)
    runs = ", ".join(f"{x['cols']} columns: {x['cycles']} cycles in {x['seconds']:.1f} s"
                     for x in c["runs"])
    return "\n".join([
        "### EUREKA at real size on the RTL (native Verilator)", "",
        f"Workload: {r['workload']}. {r['n_tiles']} tiles (partial sums: {r['psum']}); "
        f"bit-exact vs golden and torch, every tile cycle-exact: {ok}. Times are wall and CPU "
        f"seconds of the simulator processes (load average {r['load_average']:.1f} during the run "
        f"on a shared machine: wall-time rates are lower bounds).", "",
        "| quantity | measured | target / model |", "|---|---:|---:|",
        f"| engine cycles (sum of tiles' beat counters) | {r['cycles']} | model {r['model_cycles']} "
        f"(whole GEMM untiled {r['whole_gemm_model_cycles']}) |",
        f"| bandwidth-bound cycles at {r['dram_bytes_per_cycle']:g} B/cycle | {r['bound_cycles']} | "
        f"{r['bytes_moved']} bytes moved |",
        f"| speed-up over the dense core (natural column order) | {r['speedup_vs_dense']:.2f}x | |",
        *([f"| balanced column order (ours; activations loaded per row tile): cycles, speed-up | "
           f"{p['cycles']}, {p['speedup']:.2f}x | model {p['model_cycles']}; bit- and cycle-exact: "
           f"{'yes' if p['bit_exact'] and p['cycle_exact'] and p['torch_exact'] else 'NO'} |",
           f"| balanced order: bytes moved, bound cycles at {r['dram_bytes_per_cycle']:g} B/cycle | "
           f"{p['bytes_moved']}, {p['bound_cycles']} | {p['n_tiles']} tiles |"]
          if (p := r.get("permuted")) else []),
        f"| Verilator build of the paper-sized top (native) | {r['build_seconds']} s | |",
        f"| native: engine cycles/s (wall) | {num(n['engine_cycles_per_s'])} | >= {tgt:,} "
        f"({met(n['engine_cycles_per_s'], tgt)}) |",
        f"| native: engine cycles per CPU second | {num(n['engine_cycles_per_cpu_s'])} | >= {tgt:,} "
        f"({met(n['engine_cycles_per_cpu_s'], tgt)}) |",
        f"| native: simulated cycles/s, loads included (wall) | {num(n['cycles_per_s'])} | |",
        f"| native: MACs/s (wall) | {num(n['macs_per_s'])} | |",
        f"| cocotb on the 8x32 core, {c['rows']} rows ({runs}): cycles/s from the difference "
        f"(wall) | {num(c['cycles_per_s'])} | |",
        f"| cocotb: cycles per CPU second | {num(c['cycles_per_cpu_s'])} | |",
        f"| cocotb: MACs/s (wall) | {num(c['macs_per_s'])} | |",
        f"| native / cocotb, wall | {num(r['native_over_cocotb'], '.0f')}x | >= {tgt10}x "
        f"({met(r['native_over_cocotb'], tgt10)}) |",
        f"| native / cocotb, CPU | {num(r['native_over_cocotb_cpu'], '.0f')}x | >= {tgt10}x "
        f"({met(r['native_over_cocotb_cpu'], tgt10)}) |", ""])


def section(progress=None, quick=False):
    """The EUREKA section of ``make bench``: ``(markdown, data)``."""
    progress = progress or (lambda *a, **k: None)
    t0 = time.monotonic()
    progress(0, 3, "cycle model")
    if quick:
        unstructured, structured = figures(m=32, k=1024, densities=(0.1, 0.2, 0.5))
    else:
        unstructured, structured = figures()
    skewed = (skewed_figures(m=32, k=1024, densities=(0.2,)) if quick
              else skewed_figures(densities=(0.1, 0.2, 0.4)))
    progress(1, 3, "RTL check")
    try:
        rtl_rows, missing = rtl_check(progress, quick=quick), None
    except Exception as e:   # a failing check is reported, never hidden
        rtl_rows, missing = [], f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    try:
        if quick:
            real, real_missing = None, "skipped with --quick (paper-sized Verilator builds)"
        else:
            real, real_missing = real_size(progress), None
    except Exception as e:   # reported, never hidden
        real, real_missing = None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    progress(2, 3, "report")

    by = {(r["group"], r["density"]): r for r in unstructured}
    groups = sorted({r["group"] for r in unstructured})
    best_g = max(groups, key=lambda g: by.get((g, HEADLINE_DENSITY), {}).get("suds_perm", 0))
    head_row = by[(best_g, HEADLINE_DENSITY)]
    s = {r["label"]: r["speedup"] for r in structured}
    two4 = s["Ampere-like 2:4 core"]
    headline = {
        "workload": f"GEMM W[{M}x{K}] (conv 128x256x3x3), uniform random d_w={HEADLINE_DENSITY}, "
                    f"8x32 core, G={best_g}, SUDS, lanes lock-step, balanced column order (ours), "
                    f"cycle model (RTL-checked on reduced GEMMs)",
        "group": best_g,
        "density": HEADLINE_DENSITY,
        "speedup_vs_dense": head_row["suds_perm"],
        "speedup_vs_2to4": head_row["suds_perm"] / two4,
        "speedup_vs_dense_natural_order": head_row["suds"],
        "speedup_vs_dense_independent_lanes": head_row["suds_indep"],
        "speedup_2to4": two4,
        "suds_fraction_of_ideal": head_row["suds_perm_fraction"],
        "suds_fraction_of_ideal_natural_order": head_row["suds_fraction"],
        # which column of the `unstructured` rows the headline speed-ups come from
        "row_key": "suds_perm",
    }
    t24 = abs(s["EUREKA 2:4"] - 2.0) < 1e-12 and abs(two4 - 2.0) < 1e-12
    permuted = [r for r in unstructured if "suds_perm" in r]
    worst = min(permuted, key=lambda r: r["suds_perm_fraction"])
    worst_nat = min(unstructured, key=lambda r: r["suds_fraction"])
    best_nat = max(unstructured, key=lambda r: r["suds_fraction"])
    t_suds = all(r["suds_perm_fraction"] >= TARGET_SUDS_FRACTION for r in permuted)
    t_nat = all(r["suds_fraction"] >= TARGET_SUDS_FRACTION for r in unstructured)
    lim = ("a window costs its most loaded (row, lane) after one downward step; in natural column "
           "order a row's count in a lane is Binomial(G, d_w) and lock-step lanes pay the maximum "
           "over all L lanes; one-step SUDS only evens out adjacent rows, so the binomial tail (not "
           "the mean G*d_w) sets T")
    targets = [
        {"target": "2:4 exactly 2.0x over dense", "met": t24,
         "ours": f"EUREKA 2:4 {s['EUREKA 2:4']:.3f}x, Ampere-like core {two4:.3f}x",
         "reason": "" if t24 else "K not a multiple of the window"},
        {"target": f"unstructured with SUDS >= {TARGET_SUDS_FRACTION:.0%} of ideal min(1/d_w, G), "
                   f"balanced column order (ours)",
         "met": t_suds,
         "ours": f"worst {worst['suds_perm_fraction']:.1%} (G={worst['group']}, "
                 f"d={worst['density']})",
         "reason": "" if t_suds else (
             "first-fit packing with one cap per tile leaves some lane groups above the mean; "
             "the lock-step window still pays the fullest lane group")},
        {"target": f"unstructured with SUDS >= {TARGET_SUDS_FRACTION:.0%} of ideal, natural "
                   f"column order (the plain reconstruction)",
         "met": t_nat,
         "ours": f"{worst_nat['suds_fraction']:.0%} (G={worst_nat['group']}, "
                 f"d={worst_nat['density']}) .. {best_nat['suds_fraction']:.0%}; independent "
                 f"lanes up to {max(r['suds_indep_fraction'] for r in unstructured):.0%}",
         "reason": "" if t_nat else lim},
    ]
    data = {
        "headline": headline,
        "unstructured": unstructured,
        "structured": structured,
        "skewed": skewed,
        "targets": targets,
        "paper": PAPER,
        "rtl_checked": {"all_equal": bool(rtl_rows) and all(r["equal"] for r in rtl_rows),
                        "rows": rtl_rows, "missing": missing},
        "quick": quick,
        "seconds": round(time.monotonic() - t0, 1),
        "plots": _plots(unstructured),
        "real_size": real, "real_size_missing": real_missing,
    }
    progress(3, 3, "done")
    return _markdown(data), data


def _plots(unstructured):
    """Plot spec for ``sim/bench.py``: natural vs balanced order per G, against the ideal."""
    dens = sorted({r["density"] for r in unstructured})
    by = {(r["group"], r["density"]): r for r in unstructured}
    series = {}
    for g in sorted({r["group"] for r in unstructured}):
        if any("suds_perm" in by.get((g, d), {}) for d in dens):
            series[f"SUDS balanced order G={g}"] = [by.get((g, d), {}).get("suds_perm") for d in dens]
        series[f"SUDS natural order G={g}"] = [by.get((g, d), {}).get("suds") for d in dens]
    series["ideal min(1/d_w, 8)"] = [min(1 / d, 8) for d in dens]
    return [{"name": "balanced_order", "kind": "line", "x": dens,
             "title": "EUREKA SUDS speed-up over dense: natural vs balanced order (cycle model)",
             "xlabel": "weight density d_w", "ylabel": "speed-up (x)", "series": series}]


def _markdown(data):
    h = data["headline"]
    out = ["## EUREKA: dense, N:M and unstructured (SUDS) on one tensor core", ""]
    out.append(f"Workload (ours): {h['workload'] if not data['quick'] else 'reduced (--quick)'}. "
               f"Speed-up = dense-core cycles / cycles (same R x L). Ideal = min(1/d_w, G). "
               f"Seed {SEED}.")
    out += ["", "| headline | ours | EUREKA paper |", "|---|---:|---:|",
            f"| speed-up over dense (SUDS, G={h['group']}, d_w={h['density']}) | "
            f"{h['speedup_vs_dense']:.2f}x | ~{PAPER['speedup_vs_dense']:.1f}x |",
            f"| speed-up over 2:4 | {h['speedup_vs_2to4']:.2f}x | ~{PAPER['speedup_vs_2to4']:.1f}x |",
            f"| over dense, natural column order | {h['speedup_vs_dense_natural_order']:.2f}x | |",
            f"| over dense, natural order, independent lanes (modelled) | "
            f"{h['speedup_vs_dense_independent_lanes']:.2f}x | |", ""]
    out += ["Structured and dense modes:", "", "| core / mode | G | d_w | speed-up |",
            "|---|---:|---:|---:|"]
    for r in data["structured"]:
        out.append(f"| {r['label']} | {r['group']} | {r['density']:.2f} | {r['speedup']:.3f}x |")
    out += ["", "Unstructured weights (speed-up over dense; fraction of ideal in brackets; "
            "removed = share of imbalanced windows SUDS brought to the balanced bound):", "",
            "| G | d_w | ideal | no SUDS | SUDS | SUDS, indep. lanes | removed | displaced "
            "| balanced order: no SUDS | SUDS |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["unstructured"]:
        perm = (f"{r['nosuds_perm']:.2f}x | {r['suds_perm']:.2f}x ({r['suds_perm_fraction']:.0%})"
                if "suds_perm" in r else "— | —")
        out.append(f"| {r['group']} | {r['density']:.1f} | {r['ideal']:.2f}x | {r['nosuds']:.2f}x | "
                   f"{r['suds']:.2f}x ({r['suds_fraction']:.0%}) | {r['suds_indep']:.2f}x "
                   f"({r['suds_indep_fraction']:.0%}) | {r['suds_removed']:.0%} | "
                   f"{r['displaced_share']:.1%} | {perm} |")
    out += ["", "Ideal min(1/d_w, G) ignores that a balanced order also skips columns that are zero "
            "in all R rows of a tile, so the balanced order can exceed it at low density."]
    if data.get("skewed"):
        out += ["", f"Row-skewed weights (per-row density ~ Beta, mean d_w, concentration "
                f"{SKEW_CONCENTRATION:g}; G={data['skewed'][0]['group']}). In natural order SUDS "
                f"moves work from dense rows to sparser rows below; the balanced order also sorts "
                f"rows by density, which removes the row imbalance SUDS absorbs, so the SUDS gain "
                f"column compares SUDS with no SUDS on the balanced order.", "",
                "| d_w | ideal | no SUDS | SUDS | balanced order: no SUDS | SUDS | SUDS gain |",
                "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in data["skewed"]:
            out.append(f"| {r['measured_density']:.2f} | {r['ideal']:.2f}x | {r['nosuds']:.2f}x | "
                       f"{r['suds']:.2f}x | {r['nosuds_perm']:.2f}x | {r['suds_perm']:.2f}x | "
                       f"{r['suds_perm'] / r['nosuds_perm']:.2f}x |")
    out += ["", "Targets:", ""]
    for t in data["targets"]:
        out.append(f"- {'MET' if t['met'] else 'NOT MET'}: {t['target']} — ours {t['ours']}"
                   + (f". Why: {t['reason']}." if t["reason"] else "."))
    rc = data["rtl_checked"]
    out += [""]
    if rc["missing"]:
        out.append(f"RTL check not completed: {rc['missing']}")
    else:
        n_ok = sum(r["equal"] for r in rc["rows"])
        out.append(f"RTL check (4x8 G=8 core and its baselines, reduced GEMM "
                   f"{rc['rows'][0]['shape'] if rc['rows'] else ''}, idle/backpressure 0.2): "
                   f"{n_ok}/{len(rc['rows'])} cases bit-exact with model cycles == RTL cycles.")
    out.append("")
    if data.get("real_size"):
        out.append(real_size_markdown(data["real_size"]))
    elif data.get("real_size_missing"):
        out += [f"Real-size EUREKA run not completed: {data['real_size_missing']}", ""]
    return "\n".join(out)


if __name__ == "__main__":
    import json
    import sys
    if "--real-size" in sys.argv:          # only the real-size run (python -m sim.bench_eureka)
        r = real_size(progress=lambda *a, **k: print(*a, flush=True), quick="--quick" in sys.argv)
        print(real_size_markdown(r))
        print(json.dumps(r, indent=2))
    else:
        md, _ = section(progress=lambda *a, **k: print(*a))
        print(md)
