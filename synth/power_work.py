"""Workloads of ``sparse-hw power``: what each design runs, and how its results are checked.

A :class:`Job` names a design (an Amaranth component and its config), the stimulus as
:mod:`synth.saif_sim` command-script parts (streams fed, streams drained, expected beats), the
golden check of what the netlist computed, and the MAC counts energy is divided by.

EUREKA (``eureka_jobs``): one GEMM ``W[M,K] x A[K,N]`` with uniform random d_w = 0.2 weights
(the bench's generator, :func:`sim.bench_eureka._sparse`), run by the EUREKA core with SUDS
(balanced column order, as the bench's headline) and by the dense core in dense mode; one 2:4
GEMM of the same shape (:func:`sim.bench_eureka._nm`) run by the Ampere-like core and by the
EUREKA core in 2:4 mode. Activations are dense random int8 (EUREKA is one-sided).
"""

import dataclasses

import numpy as np

__all__ = ["Job", "eureka_jobs", "EUREKA_SHAPE", "DENSITY"]

#: GEMM of the power workload at the measured core size (M rows of W, K, N columns of A).
EUREKA_SHAPE = (16, 512, 8)
DENSITY = 0.2
SEED = 2023


@dataclasses.dataclass
class Job:
    design: str
    engine: str
    role: str
    config: object
    make: object               # () -> wiring.Component
    workload: str
    description: str
    files: dict                # file name -> text (stimulus files the script names)
    setup: list                # commands before the window (feeds, drains; may step)
    finish: list               # commands after the window (run to the end)
    expected_cycles: int       # cycles after ``setup`` (golden cycle model)
    check: object              # (RunResult) -> dict of checked facts; raises AssertionError
    macs: int                  # useful MACs (non-zero weight x activation)
    dense_macs: int            # M*K*N
    peek: tuple = ("busy",)


def _hex(values):
    """File text of payloads, one hex per line (ints or hex strings)."""
    return "".join(f"{v:x}\n" if isinstance(v, int) else f"{v}\n" for v in values)


def _eureka_name(base, cfg):
    from hw.eureka.config import PAPER
    same = (cfg.rows, cfg.lanes) == (PAPER.rows, PAPER.lanes)
    return base if same else f"{base}_{cfg.rows}x{cfg.lanes}"


def _eureka_job(design, role, cfg, w, a, mode, workload, desc, permute=False):
    from hw.eureka.beats import decode_results
    from hw.eureka.core import EurekaCore
    from sim.run_eureka import prepare_case
    case, sched, golden, model, w2 = prepare_case(cfg, w, a, mode, workload, permute=permute)

    def check(res):
        beats = res.streams.get("o", [])
        if len(beats) != case["n_out"]:
            raise AssertionError(f"{design} {workload}: {len(beats)} results, expected "
                                 f"{case['n_out']}")
        out = decode_results(cfg, beats, case["M"], case["N"])
        if case.get("row_order") is not None:
            nat = np.empty_like(out)
            nat[np.array(case["row_order"])] = out
            out = nat
        exact = bool(np.array_equal(out, np.asarray(golden)))
        busy = res.peeks.get("busy", [None])[-1]
        if not exact:
            raise AssertionError(f"{design} {workload}: netlist result differs from golden")
        if busy != case["model_cycles"]:
            raise AssertionError(f"{design} {workload}: busy {busy} != cycle model "
                                 f"{case['model_cycles']}")
        return {"bit_exact": exact, "busy_cycles": busy, "model_cycles": case["model_cycles"]}

    m, k = w2.shape
    n = np.asarray(a).shape[1]
    return Job(design=design, engine="eureka", role=role, config=cfg,
               make=lambda: EurekaCore(cfg), workload=workload, description=desc,
               files={"w.hex": _hex(case["w"]), "a.hex": _hex(case["a"])},
               setup=["feed w w.hex", "feed a a.hex", "drain o"],
               finish=[f"until o {case['n_out']} {20 * case['model_cycles'] + 1000}"],
               expected_cycles=case["model_cycles"], check=check,
               macs=int((w2 != 0).sum()) * n, dense_macs=m * k * n)


def eureka_jobs(config=None, shape=EUREKA_SHAPE, density=DENSITY, seed=SEED):
    """The four EUREKA jobs (see the module docstring) at ``config``'s size (default: the
    tests' 4x8 core, G=8)."""
    from hw.eureka.config import SMALL
    from sim.bench_eureka import _nm, _sparse
    cfg = config or SMALL
    m, k, n = shape
    rng = np.random.default_rng(seed)
    w_sp = _sparse(rng, (m, k), density)
    w24 = _nm(rng, (m, k), 2, 4)
    a = rng.integers(-128, 128, (k, n))
    sp = f"gemm_dw{density:g}"
    sp_desc = f"GEMM {m}x{k} x {k}x{n}, uniform random d_w={density:g} weights, dense int8 activations"
    nm_desc = f"GEMM {m}x{k} x {k}x{n}, 2:4 weights, dense int8 activations"
    amp, dense = cfg.ampere24_baseline(), cfg.dense_baseline()
    return [
        _eureka_job(_eureka_name("eureka_core", cfg), "engine", cfg, w_sp, a, "suds", sp,
                    sp_desc + ", SUDS, balanced column order", permute=True),
        _eureka_job(_eureka_name("eureka_dense", cfg), "dense-baseline", dense, w_sp, a, "dense",
                    sp, sp_desc + ", dense mode (zeros multiplied)"),
        _eureka_job(_eureka_name("eureka_ampere24", cfg), "sparse-baseline", amp, w24, a,
                    "nm:2:4", "gemm_2to4", nm_desc + ", 2:4 mode"),
        _eureka_job(_eureka_name("eureka_core", cfg), "engine", cfg, w24, a, "nm:2:4",
                    "gemm_2to4", nm_desc + ", 2:4 mode"),
    ]
