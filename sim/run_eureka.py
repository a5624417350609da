"""``sparse-hw run eureka``: run ``D = W x A`` (or a convolution) on the EUREKA core's RTL.

Python API (used by the benchmark and the end-to-end demo)::

    out, stats = run_gemm(w, a, mode="suds", config=None, seed=0, idle=0.0, backpressure=0.0, c=None)
    out, stats = run_conv2d(act, filt, stride=1, padding=0, mode="suds", config=None, ...)

The driver packs ``W`` offline with ``golden/eureka.py`` (schedule + metadata), turns the schedule
into stream beats with the core's layouts (``hw/eureka/beats.py``), builds (or reuses) the Verilator
model of the config and runs ``tests/cocotb/cocotb_eureka_core.py``, which compares the result with
the golden GEMM bit for bit and the busy-cycle counter with the golden cycle model. A convolution
is lowered by implicit im2col (``golden.conv.im2col``) in the driver; the core only sees GEMM.

Stats: ``cycles`` (RTL busy cycles), ``model_cycles`` (golden cycle model), ``dense_cycles`` (the
dense core of the same R x L), ``speedup`` (dense / cycles), ``displaced`` (SUDS-displaced weights
per pass over the columns), ``utilization`` (non-zero MACs / (cycles * R * L)), ``bit_exact``.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from golden import eureka as ge
from hw.eureka.config import SMALL, EurekaConfig

from .npyio import load_int_array

__all__ = ["DEFAULT_CONFIG", "model_name", "build", "prepare_case", "run_cases", "run_gemm",
           "run_conv2d", "register"]

#: Config of ``run_gemm``/the CLI when none is given: the registered ``eureka_core`` top is 8x32
#: (a long Verilator build); runs default to a 4x8 core with the same G so that they start fast.
#: The RTL tests use this same config, so every user shares one Verilator build.
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
    for pname, p in (("idle", idle), ("backpressure", backpressure)):
        if not isinstance(p, (int, float)) or not 0 <= p < 0.95:
            raise ValueError(f"{pname} must be a probability in 0..0.95, not {p!r}")
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


# -- command line ------------------------------------------------------------------------------


def register(engines):
    p = engines.add_parser(
        "eureka", help="run D = W x A on the EUREKA core's RTL",
        description="Pack W offline for the mode, run D = W x A on the Verilated EUREKA core, "
                    "compare it bit-exactly with golden, and write D and a stats JSON.")
    p.add_argument("--mode", default="suds",
                   help="dense | nm:N:M | suds | unstructured-nosuds (default suds)")
    p.add_argument("--weights", required=True, type=Path, help="int8 W[M,K] (.npy)")
    p.add_argument("--activations", required=True, type=Path, help="int8 A[K,N] (.npy)")
    p.add_argument("--config", type=Path, default=None,
                   help="EurekaConfig JSON (a sidecar or a config dict); default a "
                        f"{DEFAULT_CONFIG.rows}x{DEFAULT_CONFIG.lanes} G={DEFAULT_CONFIG.group} core")
    p.add_argument("--out", required=True, type=Path, help="int32 D[M,N] (.npy)")
    p.add_argument("--stats", required=True, type=Path, help="stats JSON")
    p.add_argument("--permute", action="store_true",
                   help="unstructured modes: balanced column order per row tile (ours)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--idle", type=float, default=0.0, help="input idle probability")
    p.add_argument("--backpressure", type=float, default=0.0, help="output backpressure probability")
    p.set_defaults(func=_cli)




def _cli(args):
    config = DEFAULT_CONFIG
    if args.config is not None:
        if not args.config.is_file():
            raise ValueError(f"config file {str(args.config)!r} does not exist")
        try:
            config = EurekaConfig.from_json(args.config)
        except json.JSONDecodeError as e:
            raise ValueError(f"config file {str(args.config)!r} is not JSON ({e})") from None
        except TypeError as e:
            raise ValueError(f"config file {str(args.config)!r}: {e}") from None
    config.check_mode(args.mode)
    w = load_int_array(args.weights, "weights", "[M,K]")
    a = load_int_array(args.activations, "activations", "[K,N]")
    if w.shape[1] != a.shape[0]:
        raise ValueError(f"weights {w.shape} and activations {a.shape} do not chain (K differs)")
    out, stats = run_gemm(w, a, mode=args.mode, config=config, seed=args.seed, idle=args.idle,
                          backpressure=args.backpressure, permute=args.permute)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, out.astype(np.int32))
    args.stats.parent.mkdir(parents=True, exist_ok=True)
    args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    print(f"eureka {args.mode}: {stats['cycles']} cycles (model {stats['model_cycles']}, dense "
          f"{stats['dense_cycles']}, {stats['speedup']:.2f}x), bit_exact={stats['bit_exact']}")
    return 0 if stats["bit_exact"] and stats["cycle_exact"] else 1
