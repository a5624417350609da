"""The tasks of a sweep point besides the cycle model: synthesis, RTL check, energy.

Everything here is a plain function of plain data (dicts, lists, numbers), so that a task can be
shipped to a worker on another machine and its result hashed and cached by the client
(:mod:`sim.sweep`). Each function catches nothing: an exception is the point's error, which the
client records (:func:`sim.sweep.run_tasks`). The workloads and the model task are in
:mod:`sim.sweep_model` (re-exported here, so that every task is ``sim.sweep_work.<name>``).
"""

import time

import numpy as np

from .sweep_model import (NETWORKS, POINT_FIELDS, config_of, layer_arrays, layers_of,  # noqa: F401
                          model_task)

__all__ = ["model_task", "area_task", "rtl_task", "energy_task", "energy_hook", "ENERGY_HOOK",
           "NETWORKS", "POINT_FIELDS"]

#: Where the energy figure of a point comes from: ``module:function`` called as
#: ``function(engine, config_dict, point, workload, model_result, liberty)`` ->
#: ``{"energy_nj": ..., ...}``: the ``make power`` flow on a sample of the workload, scaled by the
#: model's cycles (:mod:`synth.power_sweep`). :mod:`sim.sweep` refuses ``energy = true`` if the
#: module is missing, and never invents a figure.
ENERGY_HOOK = "synth.power_sweep:sweep_energy"


def _component(engine, cfg):
    """The design whose area a config gets: the SparTen cluster (its compute units as one shared
    module, as ``make area`` does) or the EUREKA core."""
    if engine == "sparten":
        from hw.sparten.cluster import Cluster
        return Cluster(cfg, unit_module=".cu")
    from hw.eureka.core import EurekaCore
    return EurekaCore(cfg)


def area_task(engine, config, liberty, work):
    """Synthesise one config with the ``make area`` flow (asic only) and return its numbers.

    ``liberty`` is a Liberty path or None (generic gates); ``work`` is the folder for the
    Verilog and Yosys' files on the worker. Returns ``{"area_um2", "fmax_mhz",
    "critical_path_ns", "cells", "library", "design", "seconds"}``.
    """
    from pathlib import Path

    from synth import area
    from .verilator import emit_verilog
    t0 = time.monotonic()
    cfg = config_of(engine, config)
    name = f"sweep_{engine}_{cfg.digest()}"
    work = Path(work) / name
    v, _ = emit_verilog(_component(engine, cfg), name, cfg, work / "verilog")
    lib = area.prepare_liberty(liberty) if liberty else None
    design = area.Design(name, v, engine, "engine", "sweep point", cfg.to_dict())
    res = area.synthesize([design], lib, flows=("asic",), jobs=1, work=work / "synth",
                          log=lambda *_: None)[0]
    if res.errors:
        raise RuntimeError("; ".join(res.errors))
    d = res.to_dict()
    keys = ("area_um2", "fmax_mhz", "critical_path_ns", "cells", "library", "memory_macro_bits")
    return {**{k: d[k] for k in keys}, "design": "cluster" if engine == "sparten" else "core",
            "seconds": round(time.monotonic() - t0, 1)}


#: Spatial size of the reduced workload of an RTL check, and the most filters / channels kept.
RTL_SIZE, RTL_MAX_K, RTL_MAX_C = 4, 16, 32


def rtl_task(engine, config, point, workload):
    """Run a reduced copy of the workload's first layer on the RTL of the config; return
    ``{"rtl_cycles", "model_cycles", "cycle_exact", "bit_exact", "shape"}`` (the model here is the
    same cycle model, on the reduced layer). Builds a Verilator model per config (minutes for big
    configs; cached in ``build/sim/``)."""
    t0 = time.monotonic()
    cfg = config_of(engine, config)
    layer = dict(layers_of(workload)[0])
    if "vgg16" in layer:
        layer["size"] = RTL_SIZE
    w, a, stride, padding = layer_arrays(layer)
    if engine == "sparten":
        from . import run_sparten
        w = np.ascontiguousarray(w[:RTL_MAX_K, :RTL_MAX_C])
        a = np.ascontiguousarray(a[:RTL_MAX_C, :RTL_SIZE, :RTL_SIZE])
        _, st = run_sparten.run_layer(w, a, stride, padding, balance=point["method"], config=cfg,
                                      check=False)
        model, rtl, exact = int(st["model_cycles"]), int(st["cycles"]), bool(st["bit_exact"])
    else:
        from golden import eureka as ge
        from . import run_eureka
        w2, a2, _ = ge.conv2d_gemm(a, w, stride, padding)
        w2, a2 = w2[:RTL_MAX_K, :RTL_MAX_C * 9], a2[:RTL_MAX_C * 9, :2]
        _, st = run_eureka.run_gemm(w2, a2, point["mode"], cfg,
                                    permute=point.get("order") == "balanced")
        w, model = w2, int(st["model_cycles"])
        rtl, exact = int(st["cycles"]), bool(st["bit_exact"])
    return {"rtl_cycles": rtl, "model_cycles": model, "cycle_exact": rtl == model,
            "bit_exact": exact, "shape": list(w.shape), "seconds": round(time.monotonic() - t0, 1)}


def energy_hook():
    """The energy function named by :data:`ENERGY_HOOK`, or None while it does not exist."""
    import importlib
    modname, fn = ENERGY_HOOK.split(":")
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as e:
        if e.name == modname:
            return None
        raise
    return getattr(mod, fn, None)


def energy_task(engine, config, point, workload, liberty, model):
    """Energy of one point from :data:`ENERGY_HOOK` (only called when it exists); ``model`` is
    the point's model result, ``liberty`` a Liberty path or None (the default library)."""
    fn = energy_hook()
    if fn is None:
        raise RuntimeError(f"{ENERGY_HOOK} does not exist")
    return fn(engine, config, point, workload, model, liberty)
