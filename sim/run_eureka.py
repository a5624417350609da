"""``sparse-hw run eureka``: run ``D = W x A`` (or a convolution) on the EUREKA core's RTL.

Python API (used by the benchmark and the end-to-end demo)::

    out, stats = run_gemm(w, a, mode="suds", config=None, seed=0, idle=0.0, backpressure=0.0, c=None)
    out, stats = run_conv2d(act, filt, stride=1, padding=0, mode="suds", config=None, ...)

The driver packs ``W`` offline with ``golden/eureka.py`` (schedule + metadata), turns the schedule
into stream beats with the core's layouts (``hw/eureka/beats.py``), builds (or reuses) the Verilator
model of the config and runs ``sim/benches/cocotb_eureka_core.py``, which compares the result with
the golden GEMM bit for bit and the busy-cycle counter with the golden cycle model. A convolution
is lowered by implicit im2col (``golden.conv.im2col``) in the driver; the core only sees GEMM.

Stats: ``cycles`` (RTL busy cycles), ``model_cycles`` (golden cycle model), ``dense_cycles`` (the
dense core of the same R x L), ``speedup`` (dense / cycles), ``displaced`` (SUDS-displaced weights
per pass over the columns), ``utilization`` (non-zero MACs / (cycles * R * L)), ``bit_exact``.

**Whole GEMMs at any size** (the preload top, ``hw/eureka/preload.py``)::

    out, stats = run_gemm_tiled(w, a, mode="suds", config="paper", sim="native",
                                dram_bytes_per_cycle=64, progress=print)

plans the GEMM onto the top's buffers (``golden/eureka_plan.py``), runs every tile on the RTL in one
simulator process (buffers keep their contents between tiles, so a tile loads only what the plan
says it moves), checks each tile bit for bit against golden and its beat count against the tile's
model cycles, adds split-K partial sums on the host and checks the whole GEMM against golden and
``torch.matmul`` (int64). ``sparse-hw run eureka`` uses it (default config ``paper``). The stats add
``n_tiles``, ``tiles`` (per tile: position, model and RTL cycles, stalls, bytes), ``traffic``,
``bytes_moved``, ``bound_cycles`` for ``dram_bytes_per_cycle`` and the simulation speed.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from golden import eureka as ge
from hw.eureka.config import SMALL

from .flow import check_stall
from .npyio import load_int_array

__all__ = ["DEFAULT_CONFIG", "model_name", "build", "prepare_case", "run_cases", "run_gemm",
           "run_conv2d", "register", "gemm_model_name", "build_gemm", "tile_script",
           "run_gemm_tiled", "SIMS"]

#: Config of the cocotb stream path (``run_gemm``, ``run_conv2d``, the e2e demo) when none is
#: given: a 4x8 core with G=8, which the RTL tests also build (one shared cocotb model). Whole
#: GEMMs (``run_gemm_tiled``, ``sparse-hw run eureka``) default to the paper-sized ``GEMM_PAPER``.
DEFAULT_CONFIG = SMALL


def model_name(config):
    return f"eureka_{config.variant}_{config.rows}x{config.lanes}g{config.group}"


def build(config):
    """Build (or reuse) the Verilator model of ``config``; returns a ``sim.verilator.Model``."""
    from hw.eureka.core import EurekaCore
    from .verilator import build_model
    return build_model(EurekaCore(config), model_name(config), config,
                       extra={"latency": EurekaCore.latency})


def prepare_case(config, w, a, mode, name, c=None, idle=0.0, backpressure=0.0, stall_free=False,
                 permute=False):
    """Pack one GEMM for the cocotb test: a JSON-able dict plus ``(schedule, golden, model)``.

    Raises ``ValueError``/``TypeError`` for bad data (shape, width, N:M violation) before any
    hardware runs.
    """
    check_stall("idle", idle)
    check_stall("backpressure", backpressure)
    if config.independent:
        raise ValueError("lane_sync 'independent' has an activation stream per lane, which this "
                         "cocotb bench does not drive; it runs on Amaranth's simulator "
                         "(tests/test_eureka_core.py)")
    sched = ge.pack(w, mode, config, permute=permute)
    w = ge.check_weights(w if not isinstance(w, tuple) else _expand(w), config)
    a = ge.check_activations(a, w.shape[1], config)
    golden = ge.gemm(w, a, acc_width=config.acc_width)
    model = ge.cycle_model(w, a.shape[1], mode, config, permute=permute)
    from hw.eureka.beats import gemm_streams
    wb, ab, n_out = gemm_streams(sched, a)
    case = {"name": name, "w": [f"{x:x}" for x in wb], "a": [f"{x:x}" for x in ab],
            "n_out": n_out, "M": int(w.shape[0]), "N": int(a.shape[1]),
            "expected": golden.tolist(), "model_cycles": model["cycles"],
            "idle": float(idle), "backpressure": float(backpressure), "stall_free": stall_free,
            "row_order": None if sched.row_order is None else sched.row_order.tolist()}
    return case, sched, golden, model, w


def _expand(pair):
    from golden.nm import from_torch_2to4
    return from_torch_2to4(*pair)


def run_cases(config, cases, seed=0, check=True):
    """Run prepared cases on the RTL of ``config`` in one simulator process.

    Returns ``{case name: {"out", "cycles", "bit_exact"[, "end_to_end"]}}``. With ``check`` a
    mismatch raises ``sim.verilator.SimFailure`` naming the case and the seed.
    """
    model = build(config)
    with tempfile.TemporaryDirectory(prefix="eureka-") as tmp:
        manifest = Path(tmp) / "cases.json"
        manifest.write_text(json.dumps(cases))
        res = model.run("cocotb_eureka_core", seed=seed, env={"EUREKA_CASES": manifest},
                        check=check)
    path = Path(res[None]) / "results.json"
    if not path.exists():
        from .verilator import SimFailure
        raise SimFailure(f"the cocotb run wrote no {path}")
    return json.loads(path.read_text())


def run_gemm(w, a, mode="suds", config=None, seed=0, idle=0.0, backpressure=0.0, c=None,
             permute=False):
    """Run ``D = W x A (+ C)`` on the RTL; return ``(out int64[M,N], stats dict)``.

    Parameters
    ----------
    w : int8 array ``[M,K]`` (or PyTorch's 2:4 ``(values, meta)`` pair with ``mode="nm:2:4"``)
    a : int8 array ``[K,N]``
    mode : ``"dense"``, ``"nm:N:M"``, ``"suds"`` or ``"unstructured-nosuds"``
    config : EurekaConfig or None (:data:`DEFAULT_CONFIG`)
    seed, idle, backpressure : stress of the run (random idle input cycles, output backpressure)
    c : int array ``[M,N]`` or None, added to the result by the driver (exact, range-checked)
    permute : bool
        Unstructured modes: visit each row tile's columns in the balanced order of
        ``golden/eureka_perm.py`` (ours; empty columns skipped, the driver gathers activations).

    The RTL result is compared with golden; ``stats["bit_exact"]`` says whether it matched and a
    mismatch also raises (the run is a check, not only a measurement).
    """
    config = config or DEFAULT_CONFIG
    case, sched, golden, model, w2 = prepare_case(config, w, a, mode, "gemm", idle=idle,
                                                  backpressure=backpressure, permute=permute)
    res = run_cases(config, [case], seed=seed)["gemm"]
    out = np.array(res["out"], dtype=np.int64)
    stats = {
        "mode": mode, "permute": bool(permute), "config": config.to_dict(),
        "M": int(w2.shape[0]), "K": int(w2.shape[1]), "N": int(np.asarray(a).shape[1]),
        "cycles": int(res["cycles"]), "model_cycles": int(model["cycles"]),
        "dense_cycles": int(model["dense_cycles"]),
        "speedup": model["dense_cycles"] / res["cycles"],
        "displaced": int(sched.displaced),
        "utilization": float(model["macs"] / (res["cycles"] * config.macs)),
        "weight_density": float((w2 != 0).mean()),
        "bit_exact": bool(res["bit_exact"]) and np.array_equal(out, golden),
        "cycle_exact": int(res["cycles"]) == int(model["cycles"]),
    }
    if c is not None:
        ge.gemm(w2, np.asarray(a), c=c, acc_width=config.acc_width)   # checks C and the range
        out = out + np.asarray(c, dtype=np.int64)
    return out, stats


def run_conv2d(act, filt, stride=1, padding=0, mode="suds", config=None, seed=0, idle=0.0,
               backpressure=0.0, permute=False):
    """Convolution ``act[C,H,W] * filt[K,C,R,S]`` on the RTL by implicit im2col.

    Returns ``(out int64[K,Ho,Wo], stats)``.
    """
    w2, a2, (ho, wo) = ge.conv2d_gemm(act, filt, stride, padding)
    out, stats = run_gemm(w2, a2, mode=mode, config=config, seed=seed, idle=idle,
                          backpressure=backpressure, permute=permute)
    stats["conv"] = {"stride": stride, "padding": padding, "out_hw": [ho, wo]}
    return out.reshape(w2.shape[0], ho, wo), stats


# -- whole GEMMs on the preload top ------------------------------------------------------------

#: Simulators of :func:`run_gemm_tiled`: ``native`` (``sim/native.py``: Verilator, no Python per
#: cycle) and ``amaranth`` (Amaranth's simulator, slow, with idle/backpressure stress).
SIMS = ("native", "amaranth")


def gemm_model_name(config):
    c = config.core
    return (f"eureka_gemm_{c.variant}_{c.rows}x{c.lanes}g{c.group}_w{config.weight_depth}"
            f"_a{config.act_depth}")


def _gemm_verilog(config, name):
    """Verilog of the preload top, cached on disk by the config and the generator's sources.

    Converting the paper-sized top takes ~13 s, far longer than simulating a whole GEMM on it;
    the text depends only on the config and the code under ``hw/`` (and the Amaranth version), so
    it is kept in ``build/native/verilog/<name>-<key>.v``.
    """
    import hashlib

    import amaranth

    from hw.eureka.preload import EurekaGemm
    from .verilator import ROOT, build_dir, convert
    h = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    h.update(amaranth.__version__.encode())
    for src in sorted((ROOT / "hw").rglob("*.py")) + [ROOT / "sim" / "verilator.py"]:
        h.update(src.read_bytes())
    path = build_dir() / "native" / "verilog" / f"{name}-{h.hexdigest()[:16]}.v"
    if path.exists():
        return path.read_text()
    text = convert(EurekaGemm(config), name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{__import__('os').getpid()}")
    tmp.write_text(text)
    tmp.replace(path)
    return text


def build_gemm(config):
    """Build (or reuse) the native Verilator model of the preload top of ``config``."""
    from . import native
    name = gemm_model_name(config)
    return native.build_verilog(_gemm_verilog(config, name), name, config)


def _block_schedule(ts, w0, nwin, R, L):
    """Windows ``w0 .. w0+nwin-1`` of a permuted :class:`golden.eureka.TileSchedule` as a schedule
    of their own (window indices from 0; one all-invalid beat if they are all empty)."""
    off = np.concatenate([[0], np.cumsum(ts.T)])
    s0, s1 = int(off[w0]), int(off[w0 + nwin])
    T = ts.T[w0:w0 + nwin]
    if s1 == s0:
        z = np.zeros((1, R, L), np.int64)
        return ge.TileSchedule(w=z, sel=z.copy(), valid=z.astype(bool), disp=z.astype(bool),
                               last_window=np.ones(1, bool), windows=np.zeros(1, np.int64),
                               T=np.ones(1, np.int64))
    used = ts.windows[(ts.windows >= w0) & (ts.windows < w0 + nwin)] - w0
    return ge.TileSchedule(w=ts.w[s0:s1], sel=ts.sel[s0:s1], valid=ts.valid[s0:s1],
                           disp=ts.disp[s0:s1], last_window=ts.last_window[s0:s1], windows=used,
                           T=T)


def tile_operands(config, plan, tile, w, a, mode, cache):
    """What one plan tile computes: ``(schedules, w_blk, a_blk, rows)``: the row-tile schedules
    its weight buffer holds (packed only when it loads them, else None), the weights and
    activations of its sub-GEMM (``w_blk @ a_blk`` is its exact result) and the rows of ``W`` its
    results belong to. Natural order: contiguous slices; permuted: gathered by the tile's column
    order (``cache`` keeps the whole permuted schedule)."""
    c = tile.coords
    (r0, r1), (n0, n1) = c["rows"], c["cols"]
    if not plan.layer.get("permute"):
        k0, k1 = c["k"]
        sched = ge.pack(w[r0:r1, k0:k1], mode, config.core).tiles if c["load_weights"] else None
        return sched, w[r0:r1, k0:k1], a[k0:k1, n0:n1], np.arange(r0, r1)
    if "full" not in cache:
        cache["full"] = ge.pack(w, mode, config.core, permute=True)
    full = cache["full"]
    core = config.core
    ts = full.tiles[c["round"]]
    wi0, wi1 = c["windows"]
    rows = full.row_order[r0:r1]
    slots = ts.k_index[wi0 * core.window:wi1 * core.window]
    ok = slots >= 0
    src = np.maximum(slots, 0)
    w_blk = np.where(ok[None, :], w[rows][:, src], 0)
    a_blk = np.where(ok[:, None], a[src][:, n0:n1], 0)
    sched = ([_block_schedule(ts, wi0, wi1 - wi0, core.rows, core.lanes)]
             if c["load_weights"] else None)
    return sched, w_blk, a_blk, rows


def tile_script(config, plan, w, a, mode):
    """The command script running every tile of ``plan`` (see :mod:`sim.native`), and per tile its
    operands (:func:`tile_operands`).

    A tile loads its weights / activations only when the plan says so; the others are already in
    the buffers. Per tile the script peeks ``beats``, ``stalls`` and ``cycles``.
    """
    from hw.eureka import preload_image as pi
    from hw.eureka.preload import TARGET_ACT, TARGET_WEIGHT
    script = [("drain", "o")]
    operands, cache = [], {}
    for tile in plan.tiles:
        c = tile.coords
        n0, n1 = c["cols"]
        sched, w_blk, a_blk, rows = tile_operands(config, plan, tile, w, a, mode, cache)
        beats = []
        if c["load_weights"]:
            words = pi.weight_words(config, sched)
            assert len(words) == c["weight_words"], "plan and packer disagree on weight words"
            beats += pi.load_beats(config, TARGET_WEIGHT, words)
        if c["load_acts"]:
            words, nwin = pi.act_words(config, a_blk)
            assert nwin == c["k_windows"] and len(words) == c["act_words"]
            beats += pi.load_beats(config, TARGET_ACT, words)
        operands.append((sched, w_blk, a_blk, rows))
        if beats:
            script.append(("feed", "load", beats))
        # cap: every beat and result may wait; generous but finite (a hang is an error)
        cap = 64 * (tile.cycles + c["row_tiles"] * (n1 - n0)) + 1000
        script += [("poke", "desc", pi.desc_value(config, c["row_tiles"], n1 - n0, c["k_windows"])),
                   ("pulse", "start"), ("until", "done", cap),
                   ("peek", "beats"), ("peek", "stalls"), ("peek", "cycles")]
    return script, operands


def _gemm_options(config, sim, idle, backpressure, dram_bytes_per_cycle):
    """``(config, DRAM bytes per cycle)`` of :func:`run_gemm_tiled`, its options validated."""
    from golden.plan import DEFAULT_DRAM_BYTES_PER_CYCLE
    from hw.eureka.config import resolve_gemm

    config = resolve_gemm("paper" if config is None else config)
    if sim not in SIMS:
        raise ValueError(f"sim must be one of {list(SIMS)!r}, not {sim!r}")
    if sim == "native" and (idle or backpressure):
        raise ValueError("idle/backpressure need sim='amaranth' (the native driver feeds and "
                         "drains every cycle)")
    bpc = DEFAULT_DRAM_BYTES_PER_CYCLE if dram_bytes_per_cycle is None else dram_bytes_per_cycle
    if isinstance(bpc, bool) or not isinstance(bpc, (int, float)) or not bpc > 0:
        raise ValueError(f"dram_bytes_per_cycle must be a positive number, not {bpc!r}")
    return config, bpc


def _run_gemm_script(config, script, sim, say, seed, idle, backpressure):
    """``(result, native build seconds or None)`` of ``script`` on the preload top."""
    from hw.eureka.preload import EurekaGemm
    if sim == "native":
        model = build_gemm(config)
        say(f"native model ready (built in {model.build_seconds} s); running every tile in one "
            f"process")
        return model.run(script), model.build_seconds
    from .pysim_script import run_script
    res = run_script(EurekaGemm(config), script, seed=seed, idle=idle, backpressure=backpressure)
    return res, None


def _check_tiles(config, plan, operands, res, out, say, progress):
    """Decode every tile's results into ``out`` (partial sums added) and compare each with
    golden and its cycle counters with the model; ``(per-tile dicts, failure messages)``."""
    from hw.eureka import preload_image as pi
    from hw.eureka.preload import EurekaGemm
    core, latency = config.core, EurekaGemm.latency
    outs = res.streams.get("o", [])
    tiles, failures, pos = [], [], 0
    for i, (tile, (_, w_blk, a_blk, rows)) in enumerate(zip(plan.tiles, operands)):
        c = tile.coords
        (r0, r1), (n0, n1) = c["rows"], c["cols"]
        n_res = c["row_tiles"] * (n1 - n0)
        part = pi.decode_outputs(config, outs[pos:pos + n_res], c["row_tiles"], n1 - n0)[:r1 - r0]
        pos += n_res
        beats, stalls, cycles = res.peeks[3 * i:3 * i + 3]
        want = ge.gemm(w_blk, a_blk, acc_width=core.acc_width)
        exact = bool(np.array_equal(part, want))
        cyc_ok = beats == tile.cycles and cycles == beats + stalls + latency
        out[rows, n0:n1] += part                        # split K: partial sums added on the host
        tiles.append({**tile.to_dict(), "model_cycles": int(tile.cycles), "cycles": int(beats),
                      "run_cycles": int(cycles), "stalls": int(stalls), "bit_exact": exact,
                      "cycle_exact": bool(cyc_ok)})
        if not exact:
            bad = np.argwhere(part != want)[0]
            failures.append(f"tile {i} rows {c['rows']} cols {c['cols']}: result{bad.tolist()} = "
                            f"{part[tuple(bad)]}, golden {want[tuple(bad)]}")
        if not cyc_ok:
            failures.append(f"tile {i}: beats {beats} (model {tile.cycles}), cycles {cycles} != "
                            f"beats + stalls {stalls} + latency {latency}")
        if progress:
            kpos = (f"k {c['k'][0]}:{c['k'][1]}" if c["k"] is not None else
                    f"windows {c['windows'][0]}:{c['windows'][1]} (balanced order)")
            say(f"tile {i + 1}/{len(plan.tiles)} rows {r0}:{r1} {kpos} cols {n0}:{n1}: "
                     f"{beats} cycles (model {tile.cycles}), "
                     f"{'bit-exact' if exact else 'MISMATCH'}")
    if pos != len(outs):
        failures.append(f"{len(outs)} results left the top, the plan expects {pos}")
    return tiles, failures


def _gemm_stats(config, plan, operands, tiles, res, w, N, mode, permute, sim, bpc):
    """The stats dict of :func:`run_gemm_tiled` (without the exactness flags)."""
    from hw.eureka.preload import EurekaGemm
    core = config.core
    M, K = w.shape
    whole = ge.cycle_model(w, N, mode, core, permute=permute)
    cycles = sum(t["cycles"] for t in tiles)
    return {
        "mode": mode, "permute": permute, "config": config.to_dict(), "M": M, "K": K, "N": N,
        "sim": sim,
        "cycles": cycles, "model_cycles": int(plan.cycles),
        "whole_gemm_model_cycles": int(whole["cycles"]),
        "dense_cycles": int(whole["dense_cycles"]),
        "speedup": whole["dense_cycles"] / cycles,
        "displaced": int(sum(t.displaced for o in operands if o[0] is not None for t in o[0])),
        "utilization": float(whole["macs"] / (cycles * core.macs)),
        "weight_density": float((w != 0).mean()),
        "bit_exact": None, "torch_exact": None,
        "cycle_exact": all(t["cycle_exact"] for t in tiles),
        "n_tiles": len(tiles), "psum": plan.psum, "plan": plan.layer,
        "traffic": plan.traffic, "bytes_moved": int(plan.bytes_moved),
        "dram_bytes_per_cycle": bpc, "bound_cycles": int(plan.bound_cycles(bpc)),
        "latency": EurekaGemm.latency, "tiles": tiles,
        "sim_cycles": int(res.sim_cycles), "sim_seconds": float(res.seconds),
        "sim_cycles_per_second": res.sim_cycles / res.seconds if res.seconds else None,
    }


def run_gemm_tiled(w, a, mode="suds", config=None, sim="native", dram_bytes_per_cycle=None,
                   k_windows=None, n_block=None, progress=None, seed=0, idle=0.0,
                   backpressure=0.0, check=True, permute=False):
    """Run ``D = W x A`` of any size on the preload top, tile by tile; ``(out int64[M,N], stats)``.

    Parameters
    ----------
    w, a : int arrays ``[M,K]``, ``[K,N]`` (values within the core's ``value_width``)
    mode : a mode the core runs
    config : EurekaGemmConfig, EurekaConfig, preset name (``"small"``, ``"paper"``) or JSON file;
        None: ``"paper"``
    sim : ``"native"`` or ``"amaranth"`` (:data:`SIMS`)
    dram_bytes_per_cycle : off-chip bytes per cycle for ``bound_cycles`` (default
        :data:`golden.plan.DEFAULT_DRAM_BYTES_PER_CYCLE`)
    k_windows, n_block : force the planner's blocks (see :func:`golden.eureka_plan.plan_gemm`)
    permute : unstructured modes: the balanced column order (one row tile per round, activations
        gathered per row tile; see :func:`golden.eureka_plan.plan_gemm`)
    progress : callable(str) or None, called once per tile with its check
    seed, idle, backpressure : flow-control stress (``sim="amaranth"`` only)
    check : raise ``AssertionError`` naming the tile on a result or cycle mismatch

    Every tile is compared with golden bit for bit and its ``beats`` counter with the tile's model
    cycles (and ``cycles = beats + stalls + latency``); the whole result with golden and
    ``torch.matmul`` in int64.
    """
    from golden.eureka_plan import plan_gemm

    config, bpc = _gemm_options(config, sim, idle, backpressure, dram_bytes_per_cycle)
    core = config.core
    w = ge.check_weights(w, core)
    a = ge.check_activations(a, w.shape[1], core)
    M, K = w.shape
    N = a.shape[1]
    golden = ge.gemm(w, a, acc_width=core.acc_width)
    plan = plan_gemm(w, N, mode, config, k_windows=k_windows, n_block=n_block, permute=permute)
    script, operands = tile_script(config, plan, w, a, mode)
    say = progress or (lambda msg: None)
    say(f"plan: {len(plan.tiles)} tile(s) of {M}x{K} x {K}x{N} ({mode}), {plan.cycles} model "
        f"cycles; {sim} model of {gemm_model_name(config)}")
    res, build_seconds = _run_gemm_script(config, script, sim, say, seed, idle, backpressure)
    out = np.zeros((M, N), np.int64)
    tiles, failures = _check_tiles(config, plan, operands, res, out, say, progress)
    import torch
    ref = torch.matmul(torch.from_numpy(w), torch.from_numpy(a)).numpy()
    stats = _gemm_stats(config, plan, operands, tiles, res, w, N, mode, permute, sim, bpc)
    stats["bit_exact"] = not failures and bool(np.array_equal(out, golden))
    stats["torch_exact"] = torch_exact = bool(np.array_equal(out, ref))
    stats["build_seconds"] = build_seconds
    if check and (failures or not torch_exact):
        raise AssertionError("; ".join(failures) or "result differs from torch.matmul")
    return out, stats


# -- command line ------------------------------------------------------------------------------


def register(engines):
    from golden.plan import DEFAULT_DRAM_BYTES_PER_CYCLE
    from hw.eureka.config import GEMM_PRESETS
    p = engines.add_parser(
        "eureka", help="run D = W x A of any size on the EUREKA preload top's RTL",
        description="Plan D = W x A onto the EUREKA preload top's buffers (K blocks summed on the "
                    "host, row rounds, column blocks), run every tile on the Verilated RTL, check "
                    "each tile bit-exactly against golden and cycle-exactly against its model, "
                    "and write D and a stats JSON (tiles, bytes moved, bandwidth-bound cycles).")
    p.add_argument("--mode", default="suds",
                   help="dense | nm:N:M | suds | unstructured-nosuds (default suds)")
    p.add_argument("--weights", required=True, type=Path, help="int8 W[M,K] (.npy)")
    p.add_argument("--activations", required=True, type=Path, help="int8 A[K,N] (.npy)")
    p.add_argument("--config", default="paper",
                   help=f"preset ({' | '.join(GEMM_PRESETS)}) or a JSON file (an EurekaGemmConfig, "
                        f"or an EurekaConfig, which gets the default buffers); default paper "
                        f"(8x32 core, G=8)")
    p.add_argument("--out", required=True, type=Path, help="int32 D[M,N] (.npy)")
    p.add_argument("--stats", required=True, type=Path, help="stats JSON")
    p.add_argument("--dram-bytes-per-cycle", type=float, default=DEFAULT_DRAM_BYTES_PER_CYCLE,
                   help=f"off-chip bytes per cycle B for bound_cycles = sum over tiles of "
                        f"max(cycles, bytes / B) (default {DEFAULT_DRAM_BYTES_PER_CYCLE})")
    p.add_argument("--k-windows", type=int, default=None,
                   help="force K blocks of this many windows (default: the largest that fit)")
    p.add_argument("--n-block", type=int, default=None,
                   help="force column blocks of this many columns (default: the largest that fit)")
    p.add_argument("--permute", action="store_true",
                   help="unstructured modes: balanced column order per row tile (ours; "
                        "activations gathered and loaded per row tile)")
    p.add_argument("--sim", default="native", choices=SIMS,
                   help="native Verilator (default) or the Amaranth simulator (slow; with "
                        "--idle/--backpressure)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--idle", type=float, default=0.0, help="load idle probability (--sim amaranth)")
    p.add_argument("--backpressure", type=float, default=0.0,
                   help="output backpressure probability (--sim amaranth)")
    p.set_defaults(func=_cli)


def _cli(args):
    from hw.eureka.config import resolve_gemm
    config = resolve_gemm(args.config)
    config.core.check_mode(args.mode)
    w = load_int_array(args.weights, "weights", "[M,K]")
    a = load_int_array(args.activations, "activations", "[K,N]")
    if w.shape[1] != a.shape[0]:
        raise ValueError(f"weights {w.shape} and activations {a.shape} do not chain (K differs)")
    out, stats = run_gemm_tiled(w, a, mode=args.mode, config=config, sim=args.sim,
                                dram_bytes_per_cycle=args.dram_bytes_per_cycle,
                                k_windows=args.k_windows, n_block=args.n_block,
                                progress=lambda msg: print(msg, flush=True), seed=args.seed,
                                idle=args.idle, backpressure=args.backpressure, check=False,
                                permute=args.permute)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, out.astype(np.int32))
    args.stats.parent.mkdir(parents=True, exist_ok=True)
    args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    print(f"eureka {args.mode}: {stats['n_tiles']} tile(s), {stats['cycles']} cycles (model "
          f"{stats['model_cycles']}, dense {stats['dense_cycles']}, {stats['speedup']:.2f}x), "
          f"{stats['bytes_moved']} bytes moved, bound {stats['bound_cycles']} cycles at "
          f"{stats['dram_bytes_per_cycle']:g} B/cycle, bit_exact={stats['bit_exact']}, "
          f"torch_exact={stats['torch_exact']}, {stats['sim_seconds']:.2f} s simulated")
    ok = stats["bit_exact"] and stats["cycle_exact"] and stats["torch_exact"]
    return 0 if ok else 1
