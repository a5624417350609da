"""SparTen at real size on the RTL (issue 10): full-size VGG-16 layers on the paper-sized layer
top through the native Verilator harness, and the native harness against cocotb.

Part of the SparTen section of ``make bench`` (:func:`sim.bench_sparten.section`, full run) and of
``python -m sim.bench_sparten --real``. Each layer is tiled by golden/sparten_plan.py; every tile is
bit- and cycle-exact and the layer equals golden and torch; the run reports the Verilator build
time of the top, simulated cycles/s and MACs/s (wall, and per CPU-second of the driver process,
which the load of a shared machine does not distort).
"""

import os
import time

import numpy as np

from sim.bench_sparten import layer_tensors

__all__ = ["REAL_LAYERS", "REAL_TARGETS", "SPEED_WORKLOAD", "native_vs_cocotb", "real_size",
           "real_markdown"]

#: Full-size VGG-16 layers the full bench runs on the paper-sized RTL through the native harness
#: (conv5_1: C = 512 in one tile; conv4_1: 28x28, cut into output-channel groups).
REAL_LAYERS = ("conv5_1", "conv4_1")
#: Issue 10's targets (printed beside the measurements, never asserted in tests).
REAL_TARGETS = {"build_seconds": 300, "conv5_1_seconds": 300, "cycles_per_s": 50_000,
                "native_over_cocotb": 10}
#: The small workload simulated by both paths for the speed ratio (SMALL config, which the
#: cocotb tests build): layers K x C x 3 x 3 on C x HW x HW, padding 1.
SPEED_WORKLOAD = {"n": 8, "K": 16, "C": 32, "HW": 8, "d_w": 0.35, "d_a": 0.45}


def _rand_layer(rng, K, C, HW, d_w, d_a):
    w = np.where(rng.random((K, C, 3, 3)) < d_w, rng.integers(-127, 128, (K, C, 3, 3)), 0)
    a = np.where(rng.random((C, HW, HW)) < d_a, rng.integers(-127, 128, (C, HW, HW)), 0)
    return w.astype(np.int8), a.astype(np.int8)


def native_vs_cocotb(progress=None, workload=SPEED_WORKLOAD):
    """The same small layers simulated on cocotb and on the native harness (SMALL config).

    Rate = compute cycles of the workload (the RTL's cycle counters) / wall time of the
    simulation (cocotb: the one ``run_cases`` process, simulator start included; native: the
    driver runs, one per layer, process start included). Both outputs are checked bit-exact.
    """
    from hw.sparten.config import SMALL
    from sim import run_sparten as rs
    say = progress or (lambda *a, **k: None)
    rng = np.random.default_rng(7)
    cases = []
    for i in range(workload["n"]):
        w, a = _rand_layer(rng, workload["K"], workload["C"], workload["HW"], workload["d_w"],
                           workload["d_a"])
        cases.append(rs.prepare_case(SMALL, w, a, 1, 1, name=f"speed{i}")[0])
    rs.build(SMALL)
    nm = rs.native_model(SMALL)
    say(f"speed: {len(cases)} layers on cocotb ({rs.model_name(SMALL)})")
    t0 = time.monotonic()
    res_c = rs.run_cases(SMALL, cases, check=False)
    t_c = time.monotonic() - t0
    say("speed: the same on the native harness")
    res_n = [rs.run_native(SMALL, c, nm) for c in cases]
    t_n = sum(r["seconds"] for r in res_n)
    cpu_n = sum(r["cpu_seconds"] for r in res_n)
    rows = []
    for path, res, t in (("cocotb", res_c, t_c), ("native", res_n, t_n)):
        cyc = sum(int(r["cycles"]) for r in res)
        macs = sum(sum(int(u[1]) for u in r["counters"]) for r in res)
        exact = all(list(r["out"]) == list(c.expect) and int(r["cycles"]) == c.cycles
                    for r, c in zip(res, cases))
        rows.append({"path": path, "cycles": cyc, "macs": macs, "seconds": round(t, 3),
                     "cycles_per_s": cyc / t, "macs_per_s": macs / t, "exact": exact})
    rows[1]["cpu_seconds"] = round(cpu_n, 3)
    w = workload
    return {"load_average": os.getloadavg()[0], "workload": f"{w['n']} conv layers {w['K']}x{w['C']}x3x3 on {w['C']}x{w['HW']}x"
                        f"{w['HW']}, pad 1, d_w {w['d_w']}, d_a {w['d_a']}; "
                        f"{rs.model_name(SMALL)}",
            "rows": rows, "ratio": rows[1]["cycles_per_s"] / rows[0]["cycles_per_s"]}


def real_size(progress=None, layers=REAL_LAYERS, method="gbh"):
    """Full-size VGG-16 layers on the paper-sized layer top (32 units, chunk 128), native
    harness, tiled by golden/sparten_plan.py; each tile bit- and cycle-exact, the layer vs golden
    and torch. Returns a dict: ``build`` (conversion and Verilator build seconds), ``layers``
    (rows), ``speed`` (:func:`native_vs_cocotb`), ``targets``."""
    from hw.sparten.config import PAPER as PAPER_CFG
    from sim import run_sparten as rs
    say = progress or (lambda *a, **k: None)
    say(f"real size: building/reusing the native model of {rs.model_name(PAPER_CFG)}")
    t0 = time.monotonic()
    model = rs.native_model(PAPER_CFG)
    build = {"model": model.name, "wall_seconds_now": round(time.monotonic() - t0, 1),
             "verilator_seconds": model.build_seconds}
    rows = []
    for name in layers:
        w, a = layer_tensors(name)
        C, H = a.shape[0], a.shape[1]
        say(f"real size: {name} {C}x{H}x{H} -> {w.shape[0]}, {method}")
        t1 = time.monotonic()
        _, st = rs.run_tiled(w, a, 1, 1, balance=method, config=PAPER_CFG, sim="native",
                             check=False, progress=lambda m: say(f"  {name}: {m}"))
        wall = time.monotonic() - t1
        rows.append({"name": name, "C": C, "K": int(w.shape[0]), "H": H, "method": method,
                     "n_tiles": st["n_tiles"], "blocks": st["blocks"], "rtl_cycles": st["cycles"],
                     "model_cycles": st["model_cycles"], "cycle_exact": st["cycle_exact"],
                     "bit_exact": st["bit_exact"], "torch_exact": st["torch_exact"],
                     "matched_macs": st["matched_macs"], "dense_cycles": st["dense_cycles"],
                     "bytes_moved": st["bytes_moved"], "bound_cycles": st["bound_cycles"],
                     "wall_seconds": round(wall, 1), "sim_seconds": st["sim_seconds"],
                     "sim_clock_cycles": st["sim_clock_cycles"],
                     "sim_cpu_seconds": st["sim_cpu_seconds"],
                     "cycles_per_s": st["sim_clock_cycles"] / st["sim_seconds"],
                     "cycles_per_cpu_s": st["sim_clock_cycles"] / max(st["sim_cpu_seconds"], 1e-9),
                     "macs_per_s": st["matched_macs"] / st["sim_seconds"],
                     "load_average": os.getloadavg()[0]})
        r = rows[-1]
        say(f"real size: {name}: {r['rtl_cycles']} RTL / {r['model_cycles']} model cycles, "
            f"bit_exact={r['bit_exact']} torch_exact={r['torch_exact']}, {r['wall_seconds']} s "
            f"wall, {r['cycles_per_s']:.0f} cycles/s")
    speed = native_vs_cocotb(progress)
    return {"config": PAPER_CFG.to_dict(), "build": build, "layers": rows, "speed": speed,
            "targets": REAL_TARGETS}


def real_markdown(d):
    t = d["targets"]
    b = d["build"]
    out = ["## SparTen: full-size layers on the paper-sized RTL (native harness)", ""]
    vs = b["verilator_seconds"]
    out.append(f"Layer top `{b['model']}` (32 units as one shared module, chunk 128, memories of "
               f"the paper preset). Verilator build (`sim/native.py`, measured when it was "
               f"built): **{vs:.0f} s** (target at most {t['build_seconds']} s: "
               f"{'met' if vs is not None and vs <= t['build_seconds'] else 'not met'}); "
               f"this run: {b['wall_seconds_now']:.0f} s to convert or reuse the Verilog and "
               f"build or reuse the model." if vs is not None else "Verilator build time unknown.")
    out.append("")
    out.append("| layer | C->K, HxW | tiles (K, C, y, x blocks) | RTL cycles | model cycles | "
               "bit-exact (golden, torch) | wall s (incl. planning, model, checks) | "
               "simulated clock cycles/s (wall) | per CPU-second of the driver | MACs/s (wall) "
               "| load average |")
    out.append("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in d["layers"]:
        bl = r["blocks"]
        out.append(f"| {r['name']} | {r['C']}->{r['K']}, {r['H']}x{r['H']} | {r['n_tiles']} "
                   f"({bl['k']}, {bl['c']}, {bl['y']}, {bl['x']}) | {r['rtl_cycles']} | "
                   f"{r['model_cycles']} {'(equal)' if r['cycle_exact'] else '(MISMATCH)'} | "
                   f"{r['bit_exact']}, {r['torch_exact']} | {r['wall_seconds']:.0f} | "
                   f"{r['cycles_per_s']:,.0f} | {r['cycles_per_cpu_s']:,.0f} | "
                   f"{r['macs_per_s']:,.0f} | {r['load_average']:.1f} |")
    out.append("")
    c51 = next((r for r in d["layers"] if r["name"] == "conv5_1"), None)
    if c51:
        ok = c51["wall_seconds"] <= t["conv5_1_seconds"] and c51["bit_exact"] and \
            c51["cycle_exact"]
        out.append(f"**Targets** (issue 10): conv5_1 at full size in at most "
                   f"{t['conv5_1_seconds']} s, bit- and cycle-exact: {c51['wall_seconds']:.0f} s, "
                   f"{'met' if ok else 'not met'}; at least {t['cycles_per_s']:,} cycles/s: "
                   f"{c51['cycles_per_s']:,.0f} "
                   f"({'met' if c51['cycles_per_s'] >= t['cycles_per_s'] else 'not met'}; "
                   f"{c51['cycles_per_cpu_s']:,.0f} per CPU-second of the driver, the rate "
                   f"on an idle core; the machine's load average was "
                   f"{c51['load_average']:.1f} on {os.cpu_count()} cores).")
    sp = d["speed"]
    out.append("")
    out.append(f"Native vs cocotb on the same workload ({sp['workload']}): compute cycles of the "
               f"layers / wall time of the simulation runs (process start included).")
    out.append("")
    out.append("| path | cycles | s | cycles/s | MACs/s | exact |")
    out.append("|---|---:|---:|---:|---:|---|")
    for r in sp["rows"]:
        out.append(f"| {r['path']} | {r['cycles']} | {r['seconds']:.2f} | "
                   f"{r['cycles_per_s']:,.0f} | {r['macs_per_s']:,.0f} | {r['exact']} |")
    out.append("")
    out.append(f"Native / cocotb: **{sp['ratio']:.1f}x** (target at least "
               f"{t['native_over_cocotb']}x: "
               f"{'met' if sp['ratio'] >= t['native_over_cocotb'] else 'not met'}).")
    return "\n".join(out) + "\n"
