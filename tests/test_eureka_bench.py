"""bench_eureka figures (cycle model only; the RTL check of the bench runs in `make bench`)."""

import numpy as np
import pytest

from report.schema import Headline, PairSpeedup, RtlCheck
from sim import bench_eureka as be
from sim import bench_eureka_real as ber


def test_figures_structured_exact_and_suds_ordering():
    unstructured, structured = be.figures(m=32, k=512, densities=(0.1, 0.5), groups=(4, 8),
                                         permute=(4, 8))
    s = {r["label"]: r["speedup"] for r in structured}
    assert s["dense core"] == s["EUREKA dense mode"] == 1.0
    assert s["Ampere-like 2:4 core"] == s["EUREKA 2:4"] == 2.0
    assert s["EUREKA 1:4"] == s["EUREKA 2:8"] == 4.0
    for r in unstructured:
        assert r["nosuds"] <= r["suds"] <= r["suds_indep"] + 1e-12
        assert r["suds"] <= r["ideal"] + 1e-12
        assert r["nosuds_perm"] <= r["suds_perm"] + 1e-12 and r["suds_perm"] > r["suds"]
        assert 0 <= r["suds_removed"] <= 1


def test_markdown_reports_targets():
    unstructured, structured = be.figures(m=16, k=256, densities=(0.2,), groups=(8,))
    row = unstructured[0]
    head = Headline("eureka", "w", {"group": 8, "density": 0.2, "speedup_vs_dense": row["suds"],
                                    "speedup_vs_2to4": row["suds"] / 2,
                                    "speedup_vs_dense_natural_order": row["suds"],
                                    "speedup_vs_dense_independent_lanes": row["suds_indep"]},
                    [PairSpeedup("eureka_core", "eureka_dense", row["suds"], "w")])
    data = {"structured": structured, "unstructured": unstructured,
            "targets": [{"target": "t", "met": False, "ours": "x", "reason": "because"}]}
    md = be._markdown(data, head, RtlCheck([{"shape": [1, 2, 3], "equal": True}], "s"), True)
    assert "NOT MET: t" in md and "because" in md and "~5.0x" in md and "1/1 cases" in md
    assert "| `eureka_core` | `eureka_dense` |" in md
    assert np.isfinite(row["suds_fraction"])


def test_pairs_are_the_core_tops_at_their_own_group():
    """The pair speed-ups name the registered core and its two baselines and come from the
    table's row at the core's G (not the headline's best G); the 2:4 one is over 2.0x."""
    core = be.core_top().config
    unstructured, structured = be.figures(m=16, k=256, densities=(0.2,), groups=(core.group,),
                                          core=core, permute=(core.group,))
    got = {(p.design, p.baseline): p.speedup
           for p in be.pairs(unstructured, structured, core, m=16, k=256, densities=(0.2,))}
    assert set(got) == {("eureka_core", "eureka_dense"), ("eureka_core", "eureka_ampere24")}
    assert got[("eureka_core", "eureka_dense")] == unstructured[0][be.ROW_KEY]
    assert got[("eureka_core", "eureka_ampere24")] == pytest.approx(unstructured[0][be.ROW_KEY] / 2)
    # a table at another G does not stand in: the pair is modelled at the core's own G
    other, _ = be.figures(m=16, k=256, densities=(0.2,), groups=(4,), core=core, permute=(4,))
    again = {(p.design, p.baseline): p.speedup
             for p in be.pairs(other, structured, core, m=16, k=256, densities=(0.2,))}
    assert again == got


def test_real_size_markdown_prints_targets_met_or_not():
    run = {"cols": 4, "cycles": 100, "seconds": 1.0}
    r = {"workload": "w", "n_tiles": 4, "psum": "none", "bit_exact": True, "cycle_exact": True,
         "torch_exact": True, "load_average": 3.0, "cycles": 10, "model_cycles": 10,
         "whole_gemm_model_cycles": 10, "dram_bytes_per_cycle": 64, "bound_cycles": 10,
         "bytes_moved": 5, "build_seconds": 60.0, "speedup_vs_dense": 1.9,
         "native": {"engine_cycles_per_s": 250_000.0, "engine_cycles_per_cpu_s": 90_000.0,
                    "cycles_per_s": 1.0, "macs_per_s": 1.0},
         "cocotb": {"rows": 32, "runs": [run, run], "cycles_per_s": 5000.0,
                    "cycles_per_cpu_s": None, "macs_per_s": 1.0},
         "native_over_cocotb": 50.0, "native_over_cocotb_cpu": None,
         "targets": {"native_cycles_per_s": ber.TARGET_NATIVE_CYCLES_PER_S,
                     "native_over_cocotb": ber.TARGET_NATIVE_OVER_COCOTB}}
    rows = {line.split(" | ")[0]: line for line in ber.real_size_markdown(r).splitlines()}
    assert "(MET)" in rows["| native: engine cycles/s (wall)"]
    assert "(NOT MET)" in rows["| native: engine cycles per CPU second"]
    assert "(MET)" in rows["| native / cocotb, wall"] and "(n/a)" in rows["| native / cocotb, CPU"]
