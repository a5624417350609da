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

from golden.conv import conv2d_dense, relu as golden_relu
from golden.quant import requantize
from golden.sparsemap import SparseMap, check_int_array, encode_activations
from golden.plan import DEFAULT_DRAM_BYTES_PER_CYCLE
from golden.sparten_model import layer_cycles
from golden.sparten_plan import BALANCE, plan_layer as plan_tiles, tile_perm, tile_tensors
from hw.sparten.config import SMALL
from hw.sparten.layer import TARGET_ACT, SparTenLayer, load_layout
from hw.sparten.memmap import chunks_of_activations, pack_desc, pack_loads, plan_layer

from .npyio import load_int_array

__all__ = ["DEFAULT_CONFIG", "CLI_CONFIG", "BALANCE", "SIMS", "model_name", "build",
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


def _check_prob(name, p):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 0.95:
        raise ValueError(f"{name} must be a probability in 0..0.95, not {p!r}")


def _perm(w, config, balance):
    # the planner's function: a tile runs with the slot table its cycles were modelled with
    return tile_perm(w, config, balance)


def _check_requant(requant):
    if requant is None:
        return None
    try:
        mult, shift = (int(x) for x in requant)
    except (TypeError, ValueError):
        raise ValueError(f"requant must be (multiplier, shift), not {requant!r}") from None
    from hw.sparten.output import MULTIPLIER_WIDTH, SHIFT_WIDTH
    if not 1 <= mult < (1 << MULTIPLIER_WIDTH) or not 0 <= shift < (1 << SHIFT_WIDTH):
        raise ValueError(f"requant multiplier must be in 1..{(1 << MULTIPLIER_WIDTH) - 1} and shift "
                         f"in 0..{(1 << SHIFT_WIDTH) - 1}, not {requant!r}")
    return mult, shift


def _layer_arrays(config, w, a):
    """``(w, a)`` as checked integer arrays of ``config.value_width`` bits (a SparseMap ``a`` of the
    engine's chunk decoded); ValueError/TypeError naming what is wrong."""
    if isinstance(a, SparseMap):
        if a.chunk != config.chunk:
            raise ValueError(f"activation SparseMap has chunk={a.chunk}, the engine {config.chunk}")
        a = a.decode()
    return (check_int_array(w, bits=config.value_width, name="weights"),
            check_int_array(a, bits=config.value_width, name="activations"))


def prepare_case(config, w, a, stride=1, padding=0, relu=False, balance="none", requant=None,
                 name="layer", idle=0.0, backpressure=0.0, chain=False, model=None):
    """Check and pack one layer for the cocotb bench.

    Returns ``(case, info)``: ``case`` is the JSON-able dict the bench runs; ``info`` holds the
    golden result (``golden``: int64 ``[K,Ho,Wo]``; with requant the int8 values), the golden
    output chunk words (``chunks``, sparse mode), the model dict and the slot table. Bad data
    raises ``ValueError``/``TypeError`` before any hardware runs. ``model``: the cycle model's
    dict of this very layer when the caller has it already (the planner computes it per tile).
    """
    _check_prob("idle", idle)
    _check_prob("backpressure", backpressure)
    requant = _check_requant(requant)
    w, a = _layer_arrays(config, w, a)
    if w.ndim != 4 or a.ndim != 3:
        raise ValueError(f"need weights [K,C,R,S] and activations [C,H,W], got shapes {w.shape} "
                         f"and {a.shape}")
    perm = _perm(w, config, balance)
    mult, shift = requant if requant else (1, 0)
    plan = plan_layer(w, a, config, stride, padding, perm, relu=relu,
                      sparse_out=requant is not None, multiplier=mult, shift=shift)
    acc = conv2d_dense(a, w, stride, padding, acc_bits=config.acc_width)
    if model is None:
        model = layer_cycles(w, a, config, stride, padding, perm=plan.table,
                             pipeline=SparTenLayer.latency_of(config))
    K, Ho, Wo = plan.out_shape
    lay = load_layout(config)
    info = {"model": model, "table": plan.table, "out_shape": plan.out_shape}
    if requant is None:
        gold = golden_relu(acc) if relu else acc
        aw = config.acc_width
        flat = gold.transpose(1, 2, 0).reshape(-1)
        expect = [(int(v) & ((1 << aw) - 1)) | (int((i % K) == K - 1) << aw)
                  for i, v in enumerate(flat)]
        mode = "acc"
    else:
        x = golden_relu(acc) if relu else acc
        gold = requantize(x, mult, shift, out_bits=config.value_width, acc_bits=config.acc_width)
        words = chunks_of_activations(gold, config)
        nc = -(-K // config.chunk)
        cb = config.chunk_bits
        expect = [wd | (int(i % nc == nc - 1) << cb) for i, wd in enumerate(words)]
        info["chunks"] = words
        mode = "chunk"
    info["golden"] = gold
    loads = plan.loads
    if chain:
        loads = [ld for ld in loads if ld[0] != TARGET_ACT]
    case = {
        "name": name,
        "desc": pack_desc(config, plan.desc),
        "loads": pack_loads(config, loads),
        "mode": mode,
        "n_out": len(expect),
        "n_values": K * Ho * Wo,
        "expect": expect,
        "cycles": model["cycles"],
        "counters": [list(t) for t in zip(model["unit_busy"], model["unit_matched"],
                                          model["unit_stall"])],
        "cap": 2 * model["cycles"] + 1000,
        "idle": idle,
        "backpressure": backpressure,
        "chain": chain,
        "data_offset": lay["data"].offset,
        "addr_offset": lay["addr"].offset,
    }
    return case, info


def run_cases(config, cases, seed=0, check=True):
    """Run prepared cases on the RTL of ``config`` in one simulator process; returns the bench's
    per-case results (``out`` payload ints, ``cycles``, ``counters``). With ``check`` a mismatch
    raises ``sim.verilator.SimFailure`` naming the case and the seed."""
    model = build(config)
    with tempfile.TemporaryDirectory(prefix="sparten-") as tmp:
        path = Path(tmp) / "cases.json"
        path.write_text(json.dumps({"check": check, "cases": cases}))
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


def decode_case(case, info, res, config):
    """RTL output beats -> array (raw) or value array (sparse), and the stats dict."""
    K, Ho, Wo = info["out_shape"]
    model = info["model"]
    if case["mode"] == "acc":
        aw = config.acc_width
        vals = [(b & ((1 << aw) - 1)) for b in res["out"]]
        vals = [v - (1 << aw) if v >> (aw - 1) else v for v in vals]
        out = np.array(vals, dtype=np.int64).reshape(Ho, Wo, K).transpose(2, 0, 1)
    else:
        from hw.sparten.memmap import unpack_chunk
        cb = config.chunk_bits
        nc = -(-K // config.chunk)
        dense = np.zeros((Ho * Wo, nc * config.chunk), dtype=np.int64)
        for i, b in enumerate(res["out"]):
            mask, vals = unpack_chunk(b & ((1 << cb) - 1), config)
            pos = [k for k in range(config.chunk) if mask >> k & 1]
            dense[i // nc, (i % nc) * config.chunk + np.array(pos, dtype=np.int64)] = vals
        out = dense[:, :K].reshape(Ho, Wo, K).transpose(2, 0, 1)
    matched = sum(c[1] for c in res["counters"])
    n, mpc = config.n_units, config.matches_per_cycle
    stats = {
        "config": config.to_dict(),
        "shape": {"K": K, "Ho": Ho, "Wo": Wo},
        "cycles": int(res["cycles"]),
        "model_cycles": int(model["cycles"]),
        "dense_cycles": int(model["dense_cycles"]),
        "onesided_cycles": int(model["onesided_cycles"]),
        "matched_macs": int(matched),
        "utilization": matched / (res["cycles"] * n * mpc) if res["cycles"] else 0.0,
        "speedup_vs_dense": model["dense_cycles"] / res["cycles"] if res["cycles"] else 0.0,
        "speedup_vs_onesided": model["onesided_cycles"] / res["cycles"] if res["cycles"] else 0.0,
        "unit_counters": res["counters"],
        "bit_exact": bool(res["out"] == case["expect"]) and np.array_equal(out, info["golden"]),
        "cycle_exact": int(res["cycles"]) == int(model["cycles"]),
    }
    return out, stats


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
        outs.append((out.astype(np.int8 if c["mode"] == "chunk" else np.int32), stats))
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
    cap = int(case["cap"]) + 2 * int(case["n_values"]) + 1000
    script = [("drain", "o_chunk" if case["mode"] == "chunk" else "o_acc"),
              ("poke", "desc", int(case["desc"])),
              ("feed", "load", [int(b) for b in case["loads"]]),
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
    stream = "o_chunk" if case["mode"] == "chunk" else "o_acc"
    out = [int(x) for x in res.streams[stream]]
    cycles, *ctrs = (int(v) for v in res.peeks)
    m32 = (1 << 32) - 1
    counters = [[v & m32, (v >> 32) & m32, (v >> 64) & m32] for v in ctrs]
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

    from .verilator import SimFailure
    config = config or DEFAULT_CONFIG
    if sim not in SIMS:
        raise ValueError(f"sim must be one of {list(SIMS)}, not {sim!r}")
    _check_prob("idle", idle)
    _check_prob("backpressure", backpressure)
    if sim == "native" and (idle or backpressure):
        raise ValueError("idle and backpressure need sim='cocotb' (the native harness drives "
                         "the streams at full rate)")
    requant = _check_requant(requant)
    w, a = _layer_arrays(config, w, a)
    fc = w.ndim == 2 and a.ndim == 1
    if fc:
        w, a = w[:, :, None, None], a[:, None, None]
    if w.ndim != 4 or a.ndim != 3:
        raise ValueError(f"need weights [K,C,R,S] and activations [C,H,W] (or FC [K,C] and [C]), "
                         f"got shapes {w.shape} and {a.shape}")
    if not (isinstance(dram_bytes_per_cycle, (int, float)) and dram_bytes_per_cycle > 0):
        raise ValueError(f"dram_bytes_per_cycle must be a positive number, not "
                         f"{dram_bytes_per_cycle!r}")
    say = progress or (lambda msg: None)
    t0 = time.monotonic()
    models = []
    plan = plan_tiles(config, w, a, stride, padding, balance, models=models,
                      pipeline=SparTenLayer.latency_of(config))
    host_post = plan.psum == "host"
    hw_requant = requant if len(plan.tiles) == 1 else None
    say(f"plan: {len(plan.tiles)} tiles {plan.layer['blocks']}, psum {plan.psum}, "
        f"{plan.cycles} model cycles, {plan.bytes_moved} bytes")
    K, C, R, S = w.shape
    Ho, Wo = plan.layer["Ho"], plan.layer["Wo"]
    acc = np.zeros((K, Ho, Wo), dtype=np.int64)
    def prepare(i):
        w_t, a_t, pad = tile_tensors(w, a, plan.tiles[i].coords)
        return prepare_case(config, w_t, a_t, stride, pad, relu and not host_post, balance,
                            hw_requant, f"tile{i}", idle, backpressure, model=models[i])

    def where(i):
        c = plan.tiles[i].coords
        return f"tile {i + 1}/{len(plan.tiles)} k {c['k']} c {c['c']} oy {c['oy']} ox {c['ox']}"

    rows, sums = [], dict.fromkeys(("cycles", "model_cycles", "dense_cycles", "onesided_cycles",
                                    "matched_macs"), 0)
    sim_seconds = sim_clock = sim_cpu = 0
    bad = []

    def take(i, case, info, res):
        """Check one tile against golden and its modelled cycles; add it into the layer."""
        nonlocal acc
        tile = plan.tiles[i]
        out_t, st = decode_case(case, info, res, config)
        c = tile.coords
        ok_cycles = st["cycles"] == tile.cycles == st["model_cycles"]
        rows.append({**tile.to_dict(), "cycles": st["cycles"], "model_cycles": tile.cycles,
                     "bit_exact": st["bit_exact"], "cycle_exact": ok_cycles})
        if not (st["bit_exact"] and ok_cycles):
            bad.append(f"tile {i} {c}: bit_exact={st['bit_exact']}, RTL {st['cycles']} cycles, "
                       f"model {tile.cycles}")
        for k in sums:
            sums[k] += st[k]
        if hw_requant is not None:
            acc = out_t.astype(np.int64)
        else:
            acc[c["k"][0]:c["k"][1], c["oy"][0]:c["oy"][1], c["ox"][0]:c["ox"][1]] += out_t
        say(f"{where(i)}: {st['cycles']} cycles (model {tile.cycles}), "
            f"{'bit-exact' if st['bit_exact'] else 'MISMATCH'}"
            + (f", {res['seconds']:.1f} s" if "seconds" in res else ""))

    if sim == "cocotb":
        prepared = [prepare(i) for i in range(len(plan.tiles))]
        results = run_cases(config, [c for c, _ in prepared], seed=seed, check=check)
        for i, ((case, info), res) in enumerate(zip(prepared, results)):
            take(i, case, info, res)
    else:
        say(f"native model of {model_name(config)}: reusing or building it (the first build of "
            f"a paper-sized top takes minutes)")
        nm = native_model(config)
        # one tile at a time: prepare, run, check, drop (a big layer's images never pile up)
        for i in range(len(plan.tiles)):
            case, info = prepare(i)
            res = run_native(config, case, nm)
            sim_seconds += res["seconds"]
            sim_clock += res["sim_cycles"]
            sim_cpu += res["cpu_seconds"]
            take(i, case, info, res)

    def post(x):
        """What follows the last input-channel block, as the hardware or the host does it."""
        if relu:
            x = golden_relu(x)
        if requant is not None:
            # host sums of several blocks may exceed acc_width; they are exact in int64
            x = requantize(x, *requant, out_bits=config.value_width, acc_bits=64)
        return x

    # Single input-channel block: ReLU was done per tile in hardware (applying it again is a
    # no-op); one tile with requant: the hardware output path did all of it.
    out = acc if hw_requant is not None else post(acc)
    gold = post(conv2d_dense(a, w, stride, padding, acc_bits=64))
    ref = post(_torch_conv(a, w, stride, padding))
    bit_exact = bool(np.array_equal(out, gold)) and not bad
    torch_exact = bool(np.array_equal(out, ref))
    n, mpc = config.n_units, config.matches_per_cycle
    cyc = sums["cycles"]
    stats = {
        "config": config.to_dict(),
        "shape": {"K": K, "C": C, "H": a.shape[1], "W": a.shape[2], "R": R, "S": S,
                  "Ho": Ho, "Wo": Wo},
        "kind": "fc" if fc else "conv",
        "stride": stride, "padding": padding, "relu": bool(relu), "balance": balance,
        "requant": list(requant) if requant else None,
        "requant_on": None if requant is None else ("hardware" if hw_requant else "host"),
        **{k: int(v) for k, v in sums.items()},
        "utilization": sums["matched_macs"] / (cyc * n * mpc) if cyc else 0.0,
        "speedup_vs_dense": sums["dense_cycles"] / cyc if cyc else 0.0,
        "speedup_vs_onesided": sums["onesided_cycles"] / cyc if cyc else 0.0,
        "bit_exact": bit_exact,
        "cycle_exact": all(r["cycle_exact"] for r in rows),
        "torch_exact": torch_exact,
        "n_tiles": len(rows),
        "blocks": plan.layer["blocks"],
        "psum": plan.psum,
        "traffic": {k: int(v) for k, v in plan.traffic.items()},
        "bytes_moved": int(plan.bytes_moved),
        "dram_bytes_per_cycle": dram_bytes_per_cycle,
        "bound_cycles": int(plan.bound_cycles(dram_bytes_per_cycle)),
        "sim": sim,
        "sim_seconds": round(sim_seconds, 3),          # native: wall time of the driver runs
        "sim_cpu_seconds": round(sim_cpu, 3),          # native: CPU time of the driver runs
        "sim_clock_cycles": int(sim_clock),            # native: every clock simulated (loads too)
        "seconds": round(time.monotonic() - t0, 3),
        "tiles": rows,
    }
    if check and (bad or not bit_exact or not torch_exact):
        why = bad[0] if bad else ("layer differs from golden" if not np.array_equal(out, gold)
                                  else "layer differs from torch.nn.functional.conv2d")
        raise SimFailure(f"sparten tiled run ({sim}, seed={seed}): {why}")
    return out.astype(np.int8 if requant else np.int32), stats


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
    p.add_argument("--balance", default="none", choices=BALANCE,
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
