"""bench_eureka figures (cycle model only; the RTL check of the bench runs in `make bench`)."""

import numpy as np

from sim import bench_eureka as be


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
    data = {"headline": {"workload": "w", "group": 8, "density": 0.2, "speedup_vs_dense": row["suds"],
                         "speedup_vs_2to4": row["suds"] / 2,
                         "speedup_vs_dense_natural_order": row["suds"],
                         "speedup_vs_dense_independent_lanes": row["suds_indep"]},
            "structured": structured, "unstructured": unstructured,
            "targets": [{"target": "t", "met": False, "ours": "x", "reason": "because"}],
            "rtl_checked": {"rows": [{"shape": [1, 2, 3], "equal": True}], "missing": None},
            "quick": True}
    md = be._markdown(data)
    assert "NOT MET: t" in md and "because" in md and "~5.0x" in md and "1/1 cases" in md
    assert np.isfinite(row["suds_fraction"])
