"""Simulation speed of ``make bench``: simulated cycles/s and MACs/s of timed RTL runs of each
engine (:func:`sim_speed`)."""

import time

import numpy as np

__all__ = ["sim_speed"]


def sim_speed(progress=None, quick=False):
    """Time RTL runs of each engine: simulated cycles/s and MACs/s (wall clock).

    Each engine runs a batch of random layers/GEMMs in one simulator process (its ``run_cases``),
    on the engine's default (test) configuration whose Verilator model is built once before the
    clock starts; the time includes starting the simulator, loading memories through the load
    stream and reading results back. Every result is compared with golden bit for bit. Returns a
    list of rows ``{engine, workload, cycles, macs, seconds, cycles_per_s, macs_per_s,
    bit_exact}``.
    """
    progress = progress or (lambda *a, **k: None)
    rng = np.random.default_rng(7)
    n_cases = 2 if quick else 8

    def rand(shape, density):
        v = rng.integers(-127, 128, size=shape)
        return np.where(rng.random(shape) < density, v, 0).astype(np.int64)

    return [_sparten(rand, n_cases, quick, progress), _eureka(rand, n_cases, quick, progress)]


def _sparten(rand, n_cases, quick, progress):
    from sim import run_sparten as rs
    cfg = rs.DEFAULT_CONFIG
    progress(f"SparTen: building/reusing the Verilator model of {rs.model_name(cfg)}")
    rs.build(cfg)
    # Sized to the test configuration's memories (16 filters x 32 channels, 8x8 map).
    k, c, hw = (8, 16, 6) if quick else (16, 32, 8)
    cases = [rs.prepare_case(cfg, rand((k, c, 3, 3), 0.35), rand((c, hw, hw), 0.45), 1, 1,
                             name=f"speed{i}")[0] for i in range(n_cases)]
    progress(f"SparTen: timed batch of {n_cases} layers {k}x{c}x3x3 on {c}x{hw}x{hw}")
    t0 = time.monotonic()
    res = rs.run_cases(cfg, cases)
    dt = time.monotonic() - t0
    cycles = sum(int(r["cycles"]) for r in res)
    macs = sum(sum(int(u[1]) for u in r["counters"]) for r in res)
    exact = all(list(r["out"]) == list(c.expect) for r, c in zip(res, cases))
    return _speed_row("SparTen", f"{n_cases} conv layers {k}x{c}x3x3 on {c}x{hw}x{hw}, pad 1, "
                      f"d_w 0.35, d_a 0.45; {rs.model_name(cfg)}", cycles, macs, dt, exact)


def _eureka(rand, n_cases, quick, progress):
    from sim import run_eureka as re_
    cfg = re_.DEFAULT_CONFIG
    progress(f"EUREKA: building/reusing the Verilator model of {re_.model_name(cfg)}")
    re_.build(cfg)
    m, kk, n = (16, 128, 4) if quick else (32, 512, 16)
    cases, macs = [], 0
    for i in range(n_cases):
        w, a = rand((m, kk), 0.2), rand((kk, n), 1.0)
        cases.append(re_.prepare_case(cfg, w, a, "suds", f"speed{i}")[0])
        macs += int(np.count_nonzero(w)) * n
    progress(f"EUREKA: timed batch of {n_cases} SUDS GEMMs {m}x{kk} x {kk}x{n}")
    t0 = time.monotonic()
    res = re_.run_cases(cfg, cases)
    dt = time.monotonic() - t0
    cycles = sum(int(r["cycles"]) for r in res.values())
    exact = all(bool(r["bit_exact"]) for r in res.values())
    return _speed_row("EUREKA", f"{n_cases} SUDS GEMMs {m}x{kk} (d_w 0.2) x {kk}x{n}; "
                      f"{re_.model_name(cfg)}", cycles, macs, dt, exact)


def _speed_row(engine, workload, cycles, macs, seconds, bit_exact):
    return {"engine": engine, "workload": workload, "cycles": cycles, "macs": macs,
            "seconds": round(seconds, 3), "cycles_per_s": cycles / seconds,
            "macs_per_s": macs / seconds, "bit_exact": bit_exact}
