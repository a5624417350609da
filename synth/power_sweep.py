"""Energy of one sweep point (issue 16's ``energy = true``): the ``make power`` flow on a sample.

:func:`sweep_energy` is the sweep's energy task (:data:`sim.sweep_work.ENERGY_HOOK`). A whole
network cannot be simulated gate by gate, so a point's energy is estimated as

    energy = P_sample x cycles / f

where ``cycles`` is the point's cycle-model count of the whole workload (the model task's result)
and ``P_sample`` is the gate-level power of the same config and sparsity mode, measured exactly as
``make power`` measures it (:func:`synth.power.build_designs` and :func:`synth.power.measure`:
the area flow's netlist, Liberty-made cell models, Verilator SAIF over a window, bit-exact against
golden), on a *sample* of the workload: its layer with the most model cycles, cut to a small size
(:func:`sample_job`), over a window of :data:`SWEEP_WINDOW` cycles in the middle of the sample's
run. The sample keeps the layer's weights and activations (their densities, hence the toggle
rates), not its size; the sample's own energy and cycles are returned beside the estimate.

Every config is synthesised and built once (``build/sweep-cache/power/``, under a lock per config,
so two Dask workers running two modes of one config wait for one build); the sweep caches the
result by its inputs' hash like any task. A gate-level build costs seconds for the tests' cores
and tens of minutes for the paper-size ones (``docs/power.md``): enable energy on small grids.
"""

import time
from pathlib import Path

import numpy as np

__all__ = ["SWEEP_WINDOW", "SAMPLE", "sample_job", "sweep_energy"]

#: Cycles of the gate-level SAIF window of a sweep point (the middle of the sample's run).
SWEEP_WINDOW = 400
#: Size of a sample: output map side, most filters (EUREKA; SparTen takes n_units), most channels
#: per chunk (SparTen: at most ``channels_chunks`` chunks), most GEMM columns and K (EUREKA).
SAMPLE = {"size": 3, "rows_per_row": 2, "channels_chunks": 2, "columns": 4, "k_windows": 16}


def _dominant_layer(workload, model):
    """The workload's layer with the most model cycles (the one its energy mostly comes from)."""
    from sim.sweep_model import layers_of
    layers = layers_of(workload)
    per = {r["name"]: r["cycles"] for r in (model or {}).get("layers", [])}
    return max(layers, key=lambda ly: per.get(ly["name"], -1))


def _layer_sample(layer, out_size):
    """``(w, a)`` of a layer with the activation map cut so the (stride-1, padded) output is at
    most ``out_size`` square; padding is applied to the activations here."""
    from sim.sweep_model import layer_arrays
    ly = dict(layer)
    if "vgg16" in ly:
        ly["size"] = out_size + 2          # VGG's maps: small ones are made, not cut
    w, a, stride, padding = layer_arrays(ly)
    a = np.pad(a, ((0, 0), (padding, padding), (padding, padding)))
    R, S = w.shape[2], w.shape[3]
    # stride only changes which windows are taken, not their statistics: sample stride 1
    a = a[:, :out_size + R - 1, :out_size + S - 1]
    return w, a


def sample_job(engine, cfg, point, workload, model, name):
    """The :class:`synth.power_work.Job` of a point's sample (see the module docstring)."""
    from . import power_work
    layer = _dominant_layer(workload, model)
    w, a = _layer_sample(layer, SAMPLE["size"])
    tag = "_".join(f"{v}" for _, v in sorted(point.items())) or "point"
    wl = f"{layer['name']}_{tag}"
    if engine == "sparten":
        from golden import balance
        n = cfg.n_units
        perm = balance.assign(w, n, point.get("method", "none"), chunk=cfg.chunk)
        first = [int(k) for k in perm[:n] if k >= 0] or [0]
        w = w[np.resize(np.array(first), n)]            # the first round's filters, one per unit
        w = w[:, :cfg.chunk * SAMPLE["channels_chunks"]]
        a = a[:cfg.chunk * SAMPLE["channels_chunks"]]
        desc = (f"sample of {layer['name']}: {w.shape[0]}x{w.shape[1]}x{w.shape[2]}x{w.shape[3]} "
                f"on {a.shape[0]}x{a.shape[1]}x{a.shape[2]}")
        job, _ = power_work.sparten_jobs(cfg, arrays=(w, a), workload=wl, desc=desc,
                                         names=(name, name + "_dense"))
        return job
    from golden import eureka as ge
    w2, a2, _ = ge.conv2d_gemm(a, w, 1, 0)
    mode = point.get("mode", "dense")
    if mode.startswith("nm:") and workload.get("prune_nm"):
        from hw.eureka.config import parse_mode
        from sim.sweep_model import _prune_nm
        _, n_, m_ = parse_mode(mode)
        w2 = _prune_nm(w2, n_, m_)
    m = min(w2.shape[0], SAMPLE["rows_per_row"] * cfg.rows)
    k = min(w2.shape[1], SAMPLE["k_windows"] * cfg.group * cfg.lanes)
    w2 = np.ascontiguousarray(w2[:m, :k])
    a2 = np.ascontiguousarray(a2[:k, :SAMPLE["columns"]])
    desc = f"sample of {layer['name']}: GEMM {m}x{k} x {k}x{a2.shape[1]}, {mode}"
    return power_work._eureka_job(name, "engine", cfg, w2, a2, mode, wl, desc,
                                  permute=point.get("order") == "balanced")


def sweep_energy(engine, config, point, workload, model, liberty=None, work=None,
                 window=SWEEP_WINDOW, clock_mhz=None):
    """Energy of one sweep point: ``{"energy_nj", "total_mw", "dynamic_mw", "leakage_mw",
    "clock_mhz", "cycles", "sample": {...}, "library", "blocks", "seconds"}``.

    ``model`` is the point's model-task result (its ``cycles`` scale the sample's power to the
    whole workload); ``liberty`` a Liberty path (default: ``make area``'s); ``work`` the folder
    of the builds (default ``build/sweep-cache/power``).
    """
    from sim.sweep_model import config_of
    from hw.emit import build_dir
    from sim.verilator import _locked
    from . import area, power
    from .liberty_power import read_power
    t0 = time.monotonic()
    if not model or "cycles" not in model:
        raise ValueError("sweep_energy needs the point's model result (its cycles)")
    clock_mhz = clock_mhz or power.DEFAULT_CLOCK_MHZ
    cfg = config_of(engine, config)
    src = area.find_liberty(liberty)
    if src is None:
        raise ValueError("energy needs a Liberty file (sweep.liberty or SPARSE_HW_LIBERTY)")
    lib = area.prepare_liberty(src)
    lib_power = read_power(lib.path)
    work = Path(work or build_dir() / "sweep-cache" / "power")
    name = f"sweep_{engine}_{cfg.digest()}"
    job = sample_job(engine, cfg, point, workload, model, name)
    work.mkdir(parents=True, exist_ok=True)
    with _locked(work / f".{name}.lock"):
        built = power.build_designs([job], lib, lib_power, log=lambda *_: None, rtl=False,
                                    work=work, reuse_synth=True)[name]
        r = power.measure(job, built, lib_power, clock_mhz, window, work=work, rtl=False)
    cycles = int(model["cycles"])
    energy_nj = r["total_mw"] * 1e-3 * cycles / (clock_mhz * 1e6) * 1e9
    dense_macs = model.get("dense_macs")
    return {"energy_nj": energy_nj, "total_mw": r["total_mw"], "dynamic_mw": r["dynamic_mw"],
            "leakage_mw": r["leakage_mw"], "clock_mhz": clock_mhz, "cycles": cycles,
            "pj_per_dense_mac": energy_nj * 1e3 / dense_macs if dense_macs else None,
            "library": lib.name, "design": name, "blocks": r["blocks"],
            "sample": {"workload": job.workload, "description": job.description,
                       "cycles": r["cycles"], "window_cycles": r["window_cycles"],
                       "energy_nj": r["energy_nj"], "bit_exact": r["checks"]["bit_exact"],
                       "cells": r["cells"], "nets_missing": r["nets_missing"]},
            "seconds": round(time.monotonic() - t0, 1)}
