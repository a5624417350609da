"""``sparse-hw run sparten``: run a conv / FC layer on the SparTen layer top's RTL.

Python API (used by the tests, the benchmark and the end-to-end demo)::

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
from golden.sparten_model import layer_cycles
from hw.sparten.config import SMALL, SparTenConfig
from hw.sparten.layer import TARGET_ACT, load_layout
from hw.sparten.memmap import chunks_of_activations, pack_desc, pack_load, plan_layer

from .npyio import load_int_array

__all__ = ["DEFAULT_CONFIG", "BALANCE", "model_name", "build", "prepare_case", "run_cases",
           "decode_case", "run_layer", "run_layer_sparse", "run_chain", "register"]

#: Config of runs that give none: the small RTL configuration the tests build (chunk 8, 4 units),
#: so that a run reuses the tests' Verilator model.
DEFAULT_CONFIG = SMALL
BALANCE = ("none", "gbs", "gbh")


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
    model = build_model(SparTenLayer(config), name, config)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(f"{model.dir}\n")
    return model


def _check_prob(name, p):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 0.95:
        raise ValueError(f"{name} must be a probability in 0..0.95, not {p!r}")


def _perm(w, config, balance):
    if balance not in BALANCE:
        raise ValueError(f"balance must be one of {list(BALANCE)}, not {balance!r}")
    if balance == "none":
        return None
    if not config.permute:
        raise ValueError(f"balance={balance!r} needs a config with permute=True")
    from golden.balance import assign
    return assign(w, config.n_units, method=balance, chunk=config.chunk)


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


def prepare_case(config, w, a, stride=1, padding=0, relu=False, balance="none", requant=None,
                 name="layer", idle=0.0, backpressure=0.0, chain=False):
    """Check and pack one layer for the cocotb bench.

    Returns ``(case, info)``: ``case`` is the JSON-able dict the bench runs; ``info`` holds the
    golden result (``golden``: int64 ``[K,Ho,Wo]``; with requant the int8 values), the golden
    output chunk words (``chunks``, sparse mode), the model dict and the slot table. Bad data
    raises ``ValueError``/``TypeError`` before any hardware runs.
    """
    _check_prob("idle", idle)
    _check_prob("backpressure", backpressure)
    requant = _check_requant(requant)
    if isinstance(a, SparseMap):
        if a.chunk != config.chunk:
            raise ValueError(f"activation SparseMap has chunk={a.chunk}, the engine {config.chunk}")
        a = a.decode()
    a = check_int_array(a, bits=config.value_width, name="activations")
    w = check_int_array(w, bits=config.value_width, name="weights")
    if w.ndim != 4 or a.ndim != 3:
        raise ValueError(f"need weights [K,C,R,S] and activations [C,H,W], got shapes {w.shape} "
                         f"and {a.shape}")
    perm = _perm(w, config, balance)
    mult, shift = requant if requant else (1, 0)
    plan = plan_layer(w, a, config, stride, padding, perm, relu=relu,
                      sparse_out=requant is not None, multiplier=mult, shift=shift)
    acc = conv2d_dense(a, w, stride, padding, acc_bits=config.acc_width)
    model = layer_cycles(w, a, config, stride, padding, perm=plan.table)
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
        "loads": [pack_load(config, *ld) for ld in loads],
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


# -- command line ------------------------------------------------------------------------------


def register(engines):
    p = engines.add_parser(
        "sparten", help="run a conv/FC layer on the SparTen layer top's RTL",
        description="Load W and A as SparseMap into the SparTen layer top's memories, run the layer "
                    "on Verilator, compare with golden/ bit-exactly and the cycle counter with the "
                    "cycle model, and write the output and a stats JSON.")
    p.add_argument("--weights", required=True, type=Path, help="int8 W[K,C,R,S] (.npy)")
    p.add_argument("--activations", required=True, type=Path, help="int8 A[C,H,W] (.npy)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=int, default=0)
    p.add_argument("--relu", action="store_true", help="apply ReLU to the outputs")
    p.add_argument("--balance", default="none", choices=BALANCE,
                   help="filter-to-unit assignment (default none)")
    p.add_argument("--requant", type=int, nargs=2, metavar=("MULT", "SHIFT"), default=None,
                   help="run the hardware output path (requantise to int8, ReLU if --relu, "
                        "SparseMap encoder); OUT then holds the int8 values")
    p.add_argument("--config", type=Path, default=None,
                   help="SparTenConfig JSON (a sidecar or a config dict); default the small test "
                        "configuration (chunk 8, 4 units)")
    p.add_argument("--out", required=True, type=Path, help="output [K,Ho,Wo] (.npy, int32)")
    p.add_argument("--stats", required=True, type=Path, help="stats JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--idle", type=float, default=0.0, help="input idle probability")
    p.add_argument("--backpressure", type=float, default=0.0, help="output backpressure probability")
    p.set_defaults(func=_cli)




def load_config(path):
    if path is None:
        return DEFAULT_CONFIG
    if not path.is_file():
        raise ValueError(f"config file {str(path)!r} does not exist")
    try:
        return SparTenConfig.from_json(path)
    except json.JSONDecodeError as e:
        raise ValueError(f"config file {str(path)!r} is not JSON ({e})") from None
    except TypeError as e:
        raise ValueError(f"config file {str(path)!r}: {e}") from None


def _cli(args):
    config = load_config(args.config)
    w = load_int_array(args.weights, "weights", "[K,C,R,S]")
    a = load_int_array(args.activations, "activations", "[C,H,W]")
    if w.shape[1] != a.shape[0]:
        raise ValueError(f"weights {w.shape} and activations {a.shape} disagree on C")
    from .verilator import SimFailure
    try:
        out, stats = run_layer(w, a, args.stride, args.padding, args.relu, args.balance, config,
                               args.requant, args.seed, args.idle, args.backpressure, check=False)
    except SimFailure as e:
        # The RTL run itself failed (timeout, crash): not the user's input, but still one line.
        print(f"sparse-hw run sparten: RTL run failed: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, out.astype(np.int8 if args.requant else np.int32))
    args.stats.parent.mkdir(parents=True, exist_ok=True)
    args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    print(f"sparten: {stats['cycles']} cycles (model {stats['model_cycles']}, dense "
          f"{stats['dense_cycles']}, {stats['speedup_vs_dense']:.2f}x), "
          f"bit_exact={stats['bit_exact']}")
    return 0 if stats["bit_exact"] and stats["cycle_exact"] else 1
