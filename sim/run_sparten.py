"""``sparse-hw run sparten``: run a conv / FC layer on the SparTen layer top's RTL.

A layer of any size runs tile by tile (``run_tiled``, what the CLI calls): golden/sparten_plan.py
cuts it into output-channel groups, input-channel blocks (partial sums added on the host, ReLU /
requantisation after the last block) and spatial blocks with halos, each of which fits the
config's memories; every tile runs on the RTL, bit-exact against golden and cycle-exact against
its modelled cycles, and the assembled layer is compared with golden and with
``torch.nn.functional.conv2d``. Whole runs use the native Verilator harness (sim/native.py: no
Python per cycle, no ``--public-flat-rw``); cocotb (``sim="cocotb"``) adds idle cycles and
backpressure on the streams. The CLI's default config is the paper's (:data:`CLI_CONFIG`).

    out, stats = run_tiled(w, a, stride=1, padding=0, relu=False, balance="none", config=None,
                           requant=None, dram_bytes_per_cycle=64, sim="native", ...)
        Any layer; ``stats`` adds ``tiles`` (coords, cycles, model cycles, bytes per kind),
        ``bytes_moved``, ``bound_cycles`` and ``torch_exact`` to the keys below.

Single-run API (one case, cocotb; used by the tests and the end-to-end demo)::

    out, stats = run_layer(w, a, stride=1, padding=0, relu=False, balance="none", config=None,
                           requant=None, seed=0, idle=0.0, backpressure=0.0)
        w int8 [K,C,R,S], a int8 [C,H,W] (or a SparseMap of it). Returns int32 [K,Ho,Wo]: the
        accumulators (after ReLU when asked) or, with ``requant=(multiplier, shift)``, int8: the
        requantised outputs of the hardware output path.
    sm, stats = run_layer_sparse(w, a, stride=1, padding=0, relu=True, requant=(1, 0), ...)
        Chaining form: SparseMap (or dense) in, SparseMap out (requantise -> ReLU -> SparseMap
        encoder in hardware); ``sm`` is what the next layer takes.
    results = run_chain(layers, a, config=None, seed=0, idle=0.0, backpressure=0.0)
        Several layers in one simulation, each layer's activation memory loaded from the previous
        layer's RTL output chunks (never a dense round trip). ``layers`` is a list of dicts with
        keys w, stride, padding, relu, balance, requant (requant required on every layer but the
        last). Returns a list of ``(out, stats)``.

Every run compares the RTL with golden/ bit for bit and the hardware cycle counter with
golden/sparten_model.py; ``stats`` holds ``cycles`` (RTL), ``model_cycles``, ``dense_cycles``,
``onesided_cycles``, ``matched_macs`` (RTL counters), ``utilization``, ``bit_exact``,
``cycle_exact``; a mismatch raises ``sim.verilator.SimFailure`` unless ``check=False``.
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from golden.balance import METHODS
from golden.conv import conv2d_dense, relu as golden_relu
from golden.quant import requantize
from golden.sparsemap import encode_activations
from golden.plan import DEFAULT_DRAM_BYTES_PER_CYCLE
from golden.sparten_plan import plan_layer as plan_tiles, tile_tensors
from hw.sparten.config import SMALL
from hw.sparten.layer import SparTenLayer
from hw.sparten.memmap import unit_counters

from .npyio import load_int_array
from .flow import check_stall
from .sparten_case import check_requant, decode_case, layer_arrays, prepare_case

__all__ = ["DEFAULT_CONFIG", "CLI_CONFIG", "SIMS", "model_name", "build",
           "prepare_case", "run_cases", "decode_case", "run_layer", "run_layer_sparse",
           "run_chain", "native_model", "native_script", "run_native", "run_tiled", "register"]

#: Config of runs that give none: the small RTL configuration the tests build (chunk 8, 4 units),
#: so that a run reuses the tests' Verilator model.
DEFAULT_CONFIG = SMALL
#: Simulation paths of a whole run: the native Verilator harness (sim/native.py, no Python per
#: cycle) or cocotb (random idle cycles and backpressure on the streams).
SIMS = ("native", "cocotb")


def model_name(config):
    return (f"sparten_layer_c{config.chunk}_u{config.n_units}_m{config.matches_per_cycle}"
            f"_f{config.fifo_depth}{'_p' if config.permute else ''}")


def _source_key(config):
    """Hash of what the layer's Verilog depends on: the config and the generator sources."""
    import hashlib

    from .verilator import BUILD_ARGS, ROOT
    h = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    h.update(json.dumps(BUILD_ARGS).encode())
    for sub in ("hw/common", "hw/sparten"):
        for f in sorted((ROOT / sub).glob("*.py")):
            if f.name == "memmap.py":   # host-side packing only; no part of the Verilog
                continue
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def build(config):
    """Build (or reuse) the Verilator model of the layer top of ``config``.

    Converting the layer top to Verilog takes many seconds (Amaranth writes every memory's
    contents), so a model already built from the same config and generator sources is found
    through an index keyed by their hash and reused without converting again.
    """
    from hw.sparten.layer import SparTenLayer
    from .verilator import Model, build_dir, build_model
    name = model_name(config)
    index = build_dir() / "sim" / ".index" / f"{name}-{_source_key(config)}"
    if index.exists():
        model_dir = Path(index.read_text().strip())
        if (model_dir / ".built").exists():
            return Model(name, model_dir)
    layer = SparTenLayer(config)
    model = build_model(layer, name, config, extra={"latency": layer.latency})
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(f"{model.dir}\n")
    return model


def run_cases(config, cases, seed=0, check=True):
    """Run prepared cases on the RTL of ``config`` in one simulator process; returns the bench's
    per-case results (``out`` payload ints, ``cycles``, ``counters``). With ``check`` a mismatch
    raises ``sim.verilator.SimFailure`` naming the case and the seed."""
    model = build(config)
    with tempfile.TemporaryDirectory(prefix="sparten-") as tmp:
        path = Path(tmp) / "cases.json"
        path.write_text(json.dumps({"check": check, "cases": [c.to_dict() for c in cases]}))
        res = model.run("cocotb_sparten_layer", seed=seed, env={"SPARTEN_CASES": path},
                        check=check)
    out = Path(res[None]) / "sparten_results.json"
    if not out.exists():
        from .verilator import SimFailure
        raise SimFailure(f"the cocotb run wrote no {out} (seed={seed})")
    results = json.loads(out.read_text())
    for r in results:
        r["out"] = [int(x) for x in r["out"]]
    return results


def run_layer(w, a, stride=1, padding=0, relu=False, balance="none", config=None, requant=None,
              seed=0, idle=0.0, backpressure=0.0, check=True):
    """Run one layer on the RTL; return ``(out, stats)``: ``out`` is int32 ``[K,Ho,Wo]`` (int8 with
    ``requant``); see the module docstring for ``stats``."""
    config = config or DEFAULT_CONFIG
    case, info = prepare_case(config, w, a, stride, padding, relu, balance, requant, "layer",
                              idle, backpressure)
    res = run_cases(config, [case], seed=seed, check=check)[0]
    out, stats = decode_case(case, info, res, config)
    stats.update({"stride": stride, "padding": padding, "relu": bool(relu), "balance": balance,
                  "requant": list(requant) if requant else None})
    return out.astype(np.int8 if requant else np.int32), stats


def run_layer_sparse(w, a, stride=1, padding=0, relu=True, requant=(1, 0), balance="none",
                     config=None, seed=0, idle=0.0, backpressure=0.0, check=True):
    """Chaining form of :func:`run_layer`: returns ``(SparseMap of the int8 output, stats)``."""
    config = config or DEFAULT_CONFIG
    if requant is None:
        raise ValueError("run_layer_sparse needs requant=(multiplier, shift): the output path "
                         "re-encodes value_width-bit values")
    out, stats = run_layer(w, a, stride, padding, relu, balance, config, requant, seed, idle,
                           backpressure, check)
    return encode_activations(out, config.chunk, bits=config.value_width), stats


def run_chain(layers, a, config=None, seed=0, idle=0.0, backpressure=0.0, check=True):
    """Run ``layers`` back to back in one simulation, the output chunks of each layer loaded into
    the activation memory of the next by the bench exactly as the RTL produced them."""
    config = config or DEFAULT_CONFIG
    if not layers:
        raise ValueError("run_chain needs at least one layer")
    cases, infos = [], []
    x = a
    for i, L in enumerate(layers):
        req = L.get("requant")
        if i < len(layers) - 1 and req is None:
            raise ValueError(f"layer {i} feeds another layer: it needs requant=(multiplier, shift)")
        case, info = prepare_case(config, L["w"], x, L.get("stride", 1), L.get("padding", 0),
                                  L.get("relu", i < len(layers) - 1), L.get("balance", "none"),
                                  req, f"layer{i}", idle, backpressure, chain=i > 0)
        cases.append(case)
        infos.append(info)
        x = info["golden"]
    results = run_cases(config, cases, seed=seed, check=check)
    outs = []
    for c, i, r in zip(cases, infos, results):
        out, stats = decode_case(c, i, r, config)
        outs.append((out.astype(np.int8 if c.mode == "chunk" else np.int32), stats))
    return outs


# -- tiled runs ----------------------------------------------------------------------------------


def native_model(config):
    """Build (or reuse) the native Verilator model (sim/native.py) of the layer top of ``config``.

    The units are instances of one shared module (``SparTenLayer(config, unit_module=".cu")``), so
    that the paper-sized top converts in about a minute. The Verilog is kept under
    ``build/native/src/`` by the hash of the config and the generator sources, so a second run
    neither converts nor builds.
    """
    import os

    from hw.sparten.layer import SparTenLayer
    from sim import native
    from .verilator import build_dir, convert
    name = model_name(config) + "_native"
    src = build_dir() / "native" / "src" / f"{name}-{_source_key(config)}.v"
    if src.exists():
        text = src.read_text()
    else:
        text = convert(SparTenLayer(config, unit_module=".cu"), name)
        src.parent.mkdir(parents=True, exist_ok=True)
        tmp = src.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(src)
    return native.build_verilog(text, name, config)


def native_script(config, case):
    """The sim/native.py command script of one prepared case: descriptor, memory loads, start,
    run to ``done`` and the output path's latency, then the cycle counter and every unit's
    counters."""
    from hw.sparten.output import OutputPath
    if case.chain or case.abort_after is not None:
        raise ValueError(f"case {case.name!r}: the native harness runs neither chained nor "
                         f"aborted cases (use the cocotb bench)")
    cap = case.cap + 2 * case.n_values + 1000
    script = [("drain", case.stream),
              ("poke", "desc", case.desc),
              ("feed", "load", list(case.loads)),
              ("pulse", "start"),
              ("until", "done", cap),
              # `done` follows the readout; the output path may still hold its last chunk for
              # its latency (hw.sparten.output.OutputPath.latency)
              ("step", OutputPath.latency),
              ("peek", "cycles")]
    for u in range(config.n_units):
        script += [("poke", "ctr_sel", u), ("step", 1), ("peek", "ctr")]
    return script


def run_native(config, case, model=None):
    """Run one prepared case on the native model; returns the result dict of :func:`run_cases`
    (``out``, ``cycles``, ``counters``) plus ``seconds`` (wall), ``cpu_seconds`` (of the driver
    process) and ``sim_cycles`` (clock cycles simulated, loads and readout included)."""
    import resource
    model = model or native_model(config)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = model.run(native_script(config, case))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of the driver process: the rate a shared, loaded machine cannot distort
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = [int(x) for x in res.streams[case.stream]]
    cycles, *ctrs = (int(v) for v in res.peeks)
    counters = [unit_counters(config, v) for v in ctrs]
    return {"out": out, "cycles": cycles, "counters": counters, "seconds": res.seconds,
            "cpu_seconds": cpu, "sim_cycles": res.sim_cycles}


def _torch_conv(a, w, stride, padding):
    """``torch.nn.functional.conv2d`` in float64 (exact for these integers), as int64."""
    import torch
    import torch.nn.functional as F
    out = F.conv2d(torch.from_numpy(np.asarray(a, dtype=np.float64))[None],
                   torch.from_numpy(np.asarray(w, dtype=np.float64)), stride=stride,
                   padding=padding)[0]
    return out.round().to(torch.int64).numpy()


def run_tiled(w, a, stride=1, padding=0, relu=False, balance="none", config=None, requant=None,
              dram_bytes_per_cycle=DEFAULT_DRAM_BYTES_PER_CYCLE, sim="native", seed=0, idle=0.0,
              backpressure=0.0, check=True, progress=None):
    """Run a layer of any size on the RTL, tile by tile (golden/sparten_plan.py's plan).

    Parameters
    ----------
    w, a : int arrays
        ``w[K,C,R,S]``, ``a[C,H,W]`` (or FC ``w[K,C]``, ``x[C]``).
    sim : ``"native"`` | ``"cocotb"``
        ``native``: each tile runs on the sim/native.py model (no Python per cycle); ``cocotb``:
        all tiles in one cocotb simulation, with ``idle`` / ``backpressure`` on the streams.
    requant : (multiplier, shift) or None
        A plan of one tile runs the hardware output path; otherwise the host requantises the
        assembled accumulators (after the last input-channel block, as ReLU).
    progress : callable or None
        Called with one line per tile.

    Returns
    -------
    (out, stats)
        ``out`` int32 ``[K,Ho,Wo]`` (int8 with ``requant``). ``stats`` has the keys of
        :func:`run_layer` summed over the tiles, plus ``tiles`` (per tile: ``coords``, ``cycles``
        from the RTL, ``model_cycles``, ``traffic`` bytes by kind, ``bytes_moved``,
        ``bit_exact``, ``cycle_exact``), ``n_tiles``, ``blocks``, ``psum``, ``traffic``,
        ``bytes_moved``, ``dram_bytes_per_cycle``, ``bound_cycles`` (sum over tiles of
        ``max(cycles, bytes / B)``), ``torch_exact`` and ``sim``. Every tile is compared with
        golden bit for bit and with its modelled cycles; the whole layer with golden and with
        ``torch.nn.functional.conv2d``. A mismatch raises :class:`sim.verilator.SimFailure`
        unless ``check=False``.
    """
    import time

    config = config or DEFAULT_CONFIG
    w, a, fc, requant = _tiled_operands(config, w, a, sim, idle, backpressure, requant,
                                        dram_bytes_per_cycle)
    say = progress or (lambda msg: None)
    t0 = time.monotonic()
    models = []
    plan = plan_tiles(config, w, a, stride, padding, balance, models=models,
                      pipeline=SparTenLayer.latency_of(config))
    say(f"plan: {len(plan.tiles)} tiles {plan.layer['blocks']}, psum {plan.psum}, "
        f"{plan.cycles} model cycles, {plan.bytes_moved} bytes")
    run = _TiledRun(config, plan, say, requant if len(plan.tiles) == 1 else None)

    def prepare(i):
        w_t, a_t, pad = tile_tensors(w, a, plan.tiles[i].coords)
        return prepare_case(config, w_t, a_t, stride, pad, relu and plan.psum != "host", balance,
                            run.hw_requant, f"tile{i}", idle, backpressure, model=models[i])

    run.run_all(prepare, sim, seed, check)

    def post(x):
        return _after_last_block(config, x, relu, requant)

    # Single input-channel block: ReLU was done per tile in hardware (applying it again is a
    # no-op); one tile with requant: the hardware output path did all of it.
    out = run.acc if run.hw_requant is not None else post(run.acc)
    gold = post(conv2d_dense(a, w, stride, padding, acc_bits=64))
    ref = post(_torch_conv(a, w, stride, padding))
    bit_exact = bool(np.array_equal(out, gold)) and not run.bad
    torch_exact = bool(np.array_equal(out, ref))
    stats = {
        **_tiled_layer_facts(w, a, plan, fc, stride, padding, relu, balance, requant, run),
        "bit_exact": bit_exact, "torch_exact": torch_exact,
        "dram_bytes_per_cycle": dram_bytes_per_cycle,
        "bound_cycles": int(plan.bound_cycles(dram_bytes_per_cycle)),
        "sim": sim, **run.stats(),
        "seconds": round(time.monotonic() - t0, 3),
        "tiles": run.rows,
    }
    if check and (run.bad or not bit_exact or not torch_exact):
        from .verilator import SimFailure
        why = run.bad[0] if run.bad else (
            "layer differs from golden" if not np.array_equal(out, gold)
            else "layer differs from torch.nn.functional.conv2d")
        raise SimFailure(f"sparten tiled run ({sim}, seed={seed}): {why}")
    return out.astype(np.int8 if requant else np.int32), stats


def _after_last_block(config, x, relu, requant):
    """What follows the last input-channel block of :func:`run_tiled`, as the hardware or the
    host does it: ReLU, then requantisation."""
    if relu:
        x = golden_relu(x)
    if requant is not None:
        # host sums of several blocks may exceed acc_width; they are exact in int64
        x = requantize(x, *requant, out_bits=config.value_width, acc_bits=64)
    return x


def _tiled_layer_facts(w, a, plan, fc, stride, padding, relu, balance, requant, run):
    """The layer's shape and options, the first keys of :func:`run_tiled`'s stats."""
    return {
        "shape": {"K": w.shape[0], "C": w.shape[1], "H": a.shape[1], "W": a.shape[2],
                  "R": w.shape[2], "S": w.shape[3], "Ho": plan.layer["Ho"],
                  "Wo": plan.layer["Wo"]},
        "kind": "fc" if fc else "conv",
        "stride": stride, "padding": padding, "relu": bool(relu), "balance": balance,
        "requant": list(requant) if requant else None,
        "requant_on": None if requant is None else ("hardware" if run.hw_requant else "host"),
    }


def _tiled_operands(config, w, a, sim, idle, backpressure, requant, dram_bytes_per_cycle):
    """:func:`run_tiled`'s arguments checked, one line each: ``(w[K,C,R,S], a[C,H,W], fc,
    requant)``, an FC layer made a 1x1 convolution on a 1x1 map."""
    if sim not in SIMS:
        raise ValueError(f"sim must be one of {list(SIMS)}, not {sim!r}")
    check_stall("idle", idle)
    check_stall("backpressure", backpressure)
    if sim == "native" and (idle or backpressure):
        raise ValueError("idle and backpressure need sim='cocotb' (the native harness drives "
                         "the streams at full rate)")
    requant = check_requant(requant)
    w, a = layer_arrays(config, w, a)
    fc = w.ndim == 2 and a.ndim == 1
    if fc:
        w, a = w[:, :, None, None], a[:, None, None]
    if w.ndim != 4 or a.ndim != 3:
        raise ValueError(f"need weights [K,C,R,S] and activations [C,H,W] (or FC [K,C] and [C]), "
                         f"got shapes {w.shape} and {a.shape}")
    if not (isinstance(dram_bytes_per_cycle, (int, float)) and dram_bytes_per_cycle > 0):
        raise ValueError(f"dram_bytes_per_cycle must be a positive number, not "
                         f"{dram_bytes_per_cycle!r}")
    return w, a, fc, requant


class _TiledRun:
    """The tiles of one :func:`run_tiled` as they come back from the RTL: each checked against
    golden and its modelled cycles (:meth:`take`) and added into the layer's accumulators
    ``acc``; ``rows`` per tile, ``bad`` the mismatches, :meth:`stats` the sums."""

    SUMS = ("cycles", "model_cycles", "dense_cycles", "onesided_cycles", "matched_macs")

    def __init__(self, config, plan, say, hw_requant):
        self.config, self.plan, self.say, self.hw_requant = config, plan, say, hw_requant
        K, Ho, Wo = plan.layer["K"], plan.layer["Ho"], plan.layer["Wo"]
        self.acc = np.zeros((K, Ho, Wo), dtype=np.int64)
        self.rows, self.bad = [], []
        self.sums = dict.fromkeys(self.SUMS, 0)
        self.sim = dict.fromkeys(("seconds", "sim_cycles", "cpu_seconds"), 0)   # native runs

    def run_all(self, prepare, sim, seed, check):
        """Every tile on the RTL: ``prepare(i)`` gives tile ``i``'s ``(case, info)``; cocotb runs
        all of them in one simulation, native one at a time (prepare, run, check, drop: a big
        layer's images never pile up)."""
        config, n = self.config, len(self.plan.tiles)
        if sim == "cocotb":
            prepared = [prepare(i) for i in range(n)]
            results = run_cases(config, [c for c, _ in prepared], seed=seed, check=check)
            for i, ((case, info), res) in enumerate(zip(prepared, results)):
                self.take(i, case, info, res)
            return
        self.say(f"native model of {model_name(config)}: reusing or building it (the first "
                 f"build of a paper-sized top takes minutes)")
        nm = native_model(config)
        for i in range(n):
            case, info = prepare(i)
            res = run_native(config, case, nm)
            for k in self.sim:      # wall, clock cycles and CPU of the driver
                self.sim[k] += res[k]
            self.take(i, case, info, res)

    def take(self, i, case, info, res):
        """Check tile ``i`` against golden and its modelled cycles; add it into the layer."""
        tile = self.plan.tiles[i]
        out_t, st = decode_case(case, info, res, self.config)
        c = tile.coords
        ok_cycles = st["cycles"] == tile.cycles == st["model_cycles"]
        self.rows.append({**tile.to_dict(), "cycles": st["cycles"], "model_cycles": tile.cycles,
                          "bit_exact": st["bit_exact"], "cycle_exact": ok_cycles})
        if not (st["bit_exact"] and ok_cycles):
            self.bad.append(f"tile {i} {c}: bit_exact={st['bit_exact']}, RTL {st['cycles']} "
                            f"cycles, model {tile.cycles}")
        for k in self.sums:
            self.sums[k] += st[k]
        if self.hw_requant is not None:
            self.acc = out_t.astype(np.int64)
        else:
            self.acc[c["k"][0]:c["k"][1], c["oy"][0]:c["oy"][1], c["ox"][0]:c["ox"][1]] += out_t
        self.say(f"tile {i + 1}/{len(self.plan.tiles)} k {c['k']} c {c['c']} oy {c['oy']} "
                 f"ox {c['ox']}: {st['cycles']} cycles (model {tile.cycles}), "
                 f"{'bit-exact' if st['bit_exact'] else 'MISMATCH'}"
                 + (f", {res['seconds']:.1f} s" if "seconds" in res else ""))

    def stats(self):
        """The layer's sums, rates, plan figures and simulation times (``run_tiled``'s stats)."""
        sums, plan, cfg = self.sums, self.plan, self.config
        cyc = sums["cycles"]
        return {
            "config": cfg.to_dict(),
            **{k: int(v) for k, v in sums.items()},
            "utilization": (sums["matched_macs"] / (cyc * cfg.n_units * cfg.matches_per_cycle)
                            if cyc else 0.0),
            "speedup_vs_dense": sums["dense_cycles"] / cyc if cyc else 0.0,
            "speedup_vs_onesided": sums["onesided_cycles"] / cyc if cyc else 0.0,
            "cycle_exact": all(r["cycle_exact"] for r in self.rows),
            "n_tiles": len(self.rows),
            "blocks": plan.layer["blocks"],
            "psum": plan.psum,
            "traffic": {k: int(v) for k, v in plan.traffic.items()},
            "bytes_moved": int(plan.bytes_moved),
            "sim_seconds": round(self.sim["seconds"], 3),       # native: wall of the driver runs
            "sim_cpu_seconds": round(self.sim["cpu_seconds"], 3),   # native: CPU of the driver
            "sim_clock_cycles": int(self.sim["sim_cycles"]),    # native: every clock (loads too)
        }


# -- command line ------------------------------------------------------------------------------


#: Config of ``sparse-hw run sparten`` without ``--config``: the paper's cluster (32 units,
#: chunk 128). The Python API's default stays :data:`DEFAULT_CONFIG` (the tests' small one).
CLI_CONFIG = "paper"


def register(engines):
    p = engines.add_parser(
        "sparten", help="run a conv/FC layer of any size on the SparTen layer top's RTL",
        description="Plan the layer into tiles that fit the config's memories "
                    "(golden/sparten_plan.py: output-channel groups, input-channel blocks with "
                    "partial sums added on the host, spatial blocks with halos), run every tile "
                    "on Verilator, compare each tile with golden/ bit-exactly and its cycle "
                    "counter with the cycle model, the whole layer with golden/ and "
                    "torch.nn.functional.conv2d, and write the output and a stats JSON.")
    p.add_argument("--weights", required=True, type=Path, help="int8 W[K,C,R,S] (.npy)")
    p.add_argument("--activations", required=True, type=Path, help="int8 A[C,H,W] (.npy)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=int, default=0)
    p.add_argument("--relu", action="store_true", help="apply ReLU to the outputs")
    p.add_argument("--balance", default="none", choices=METHODS,
                   help="filter-to-unit assignment of every output-channel group (default none)")
    p.add_argument("--requant", type=int, nargs=2, metavar=("MULT", "SHIFT"), default=None,
                   help="requantise the outputs to int8 (ReLU first if --relu): a one-tile plan "
                        "runs the hardware output path, a tiled one requantises on the host "
                        "after the last input-channel block; OUT then holds the int8 values")
    p.add_argument("--config", default=CLI_CONFIG,
                   help="'small' (chunk 8, 4 units: the tests'), 'paper' (32 units, chunk 128) "
                        f"or a SparTenConfig JSON file (a sidecar or a field dict); default "
                        f"{CLI_CONFIG}")
    p.add_argument("--dram-bytes-per-cycle", type=float, default=DEFAULT_DRAM_BYTES_PER_CYCLE,
                   metavar="B",
                   help="off-chip bandwidth for the stats' bound_cycles = sum over tiles of "
                        "max(cycles, bytes / B) (default "
                        f"{DEFAULT_DRAM_BYTES_PER_CYCLE} bytes per cycle)")
    p.add_argument("--sim", choices=SIMS, default=None,
                   help="native Verilator harness (no Python per cycle; the default) or cocotb "
                        "(the default when --idle or --backpressure is given)")
    p.add_argument("--out", required=True, type=Path, help="output [K,Ho,Wo] (.npy, int32)")
    p.add_argument("--stats", required=True, type=Path, help="stats JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--idle", type=float, default=0.0, help="input idle probability (cocotb)")
    p.add_argument("--backpressure", type=float, default=0.0,
                   help="output backpressure probability (cocotb)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cli)


def load_config(spec):
    """``--config``: a preset name, a JSON file, or None (the CLI default, :data:`CLI_CONFIG`)."""
    from hw.sparten.config import resolve
    return resolve(CLI_CONFIG if spec is None else str(spec))


def _cli(args):
    config = load_config(args.config)
    w = load_int_array(args.weights, "weights", "[K,C,R,S]")
    a = load_int_array(args.activations, "activations", "[C,H,W]")
    if w.shape[1] != a.shape[0]:
        raise ValueError(f"weights {w.shape} and activations {a.shape} disagree on C")
    sim = args.sim or ("cocotb" if args.idle or args.backpressure else "native")
    from .verilator import SimFailure

    def progress(msg):
        if not args.quiet:
            print(f"sparten: {msg}", file=sys.stderr, flush=True)
    try:
        out, stats = run_tiled(w, a, args.stride, args.padding, args.relu, args.balance, config,
                               args.requant, args.dram_bytes_per_cycle, sim, args.seed, args.idle,
                               args.backpressure, check=False, progress=progress)
    except SimFailure as e:
        # The RTL run itself failed (timeout, crash): not the user's input, but still one line.
        print(f"sparse-hw run sparten: RTL run failed: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, out)
    args.stats.parent.mkdir(parents=True, exist_ok=True)
    args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    print(f"sparten: {stats['n_tiles']} tiles, {stats['cycles']} cycles (model "
          f"{stats['model_cycles']}, dense {stats['dense_cycles']}, "
          f"{stats['speedup_vs_dense']:.2f}x; bandwidth-bound {stats['bound_cycles']} at "
          f"{stats['dram_bytes_per_cycle']:g} B/cycle), bit_exact={stats['bit_exact']}, "
          f"torch_exact={stats['torch_exact']}, {stats['seconds']:.1f} s")
    ok = stats["bit_exact"] and stats["cycle_exact"] and stats["torch_exact"]
    return 0 if ok else 1
