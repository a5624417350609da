"""EUREKA at real size on the RTL (issue 10): the bench's whole headline GEMM on the paper-sized
preload top through the native Verilator harness, beside two cuts of it run with cocotb.

Part of the EUREKA section of a full ``make bench`` (:func:`sim.bench_eureka.section`) and of
``python -m sim.bench_eureka --real-size``.
"""

import os
import time

import numpy as np

from sim.bench_eureka import HEADLINE_DENSITY, K, M, SEED, _sparse

__all__ = ["real_size", "real_size_markdown", "TARGET_NATIVE_CYCLES_PER_S",
           "TARGET_NATIVE_OVER_COCOTB"]

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


def _cocotb_cuts(core, w, a):
    """The cocotb path on two column cuts of the GEMM (:data:`COCOTB_COLS`); its rate is the
    difference of the two runs, which removes cocotb's start-up."""
    from sim.run_eureka import build as build_core
    from sim.run_eureka import prepare_case, run_cases
    cr = min(COCOTB_ROWS, w.shape[0])
    t1 = time.monotonic()
    build_core(core)
    cocotb_build = time.monotonic() - t1
    runs = []
    for cc in COCOTB_COLS:
        cc = min(cc, a.shape[1])
        case, _, _, cm, _ = prepare_case(core, w[:cr], a[:, :cc], REAL_MODE, f"cut{cc}")
        t1, cpu0 = time.monotonic(), _child_cpu()
        got = run_cases(core, [case], seed=SEED)[f"cut{cc}"]
        runs.append({"cols": cc, "seconds": time.monotonic() - t1, "cpu_seconds": _child_cpu() - cpu0,
                     "cycles": int(got["cycles"]), "model_cycles": int(cm["cycles"]),
                     "macs": int(np.count_nonzero(w[:cr])) * cc,
                     "bit_exact": bool(got["bit_exact"]) and got["cycles"] == cm["cycles"]})
    (r0, r1) = runs
    d_cyc, d_s = r1["cycles"] - r0["cycles"], r1["seconds"] - r0["seconds"]
    d_cpu = r1["cpu_seconds"] - r0["cpu_seconds"]
    return {"rows": cr, "runs": runs, "build_seconds": round(cocotb_build, 1),
            "bit_exact": all(r["bit_exact"] for r in runs),
            "cycles_per_s": d_cyc / d_s if d_s > 0 else None,
            "cycles_per_cpu_s": d_cyc / d_cpu if d_cpu > 0 else None,
            "macs_per_s": (r1["macs"] - r0["macs"]) / d_s if d_s > 0 else None}


def real_size(progress=None, quick=False):
    """Run the full-size GEMM natively (bit- and cycle-exact per tile and whole) and two cuts of it
    with cocotb; returns a dict of measured numbers beside the targets."""
    from golden.eureka_plan import plan_gemm
    from hw.eureka.config import GEMM_PAPER
    from sim.run_eureka import build_gemm, run_gemm_tiled
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
    progress(2, 3, f"real size: cocotb cuts {min(COCOTB_ROWS, m)}x{k} x {k}x{COCOTB_COLS} on "
                   f"the 8x32 core")
    cocotb = _cocotb_cuts(cfg.core, w, a)
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
        "load_average": os.getloadavg()[0],
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
