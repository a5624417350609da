"""report/bench.py: the speed-up definition, tops by name, and e2e's typed summary."""

import pytest

from report.bench import E2eVariant, pair, read_e2e_summary, speedup, top
from report.schema import ReportError, write_json
from sim import e2e
from sim.bench import write_report


def test_speedup_is_baseline_over_engine_cycles():
    assert speedup(1000, 250) == 4.0
    with pytest.raises(ValueError, match="conv1: cycles must be > 0"):
        speedup(1000, 0, "conv1")


def test_pair_names_registered_tops():
    p = pair("eureka_core", "eureka_dense", 3.0, "w")
    assert (p.design, p.baseline, p.speedup) == ("eureka_core", "eureka_dense", 3.0)
    assert top("eureka_core").engine == "eureka"
    with pytest.raises(ValueError, match="no registered top 'eureka_cores'"):
        pair("eureka_cores", "eureka_dense", 3.0, "w")
    with pytest.raises(ValueError, match="over eureka_dense: G differs"):
        pair("eureka_core", "eureka_dense", 3.0, "w", check=lambda d, b: "G differs")


def test_e2e_summary_is_what_the_bench_prints(tmp_path):
    """e2e.json's typed summary: one E2eVariant per variant, read back strictly, and the bench's
    end-to-end table prints exactly those figures."""
    data = {"results": [{"variant": "2:4", "classifier_mode": "nm:2:4", "n_images": 450,
                         "float_accuracy": 0.97, "int8_golden_accuracy": 0.9689,
                         "rtl_accuracy": 0.9689, "bit_exact": True,
                         "totals": {"speedup_vs_dense": 3.6412}}]}
    rows = e2e.summary(data)
    assert rows == [E2eVariant("2:4", "nm:2:4", 450, 0.97, 0.9689, 0.9689, True, 3.6412)]
    write_json(tmp_path / "e2e.json", {**data, "summary": rows})
    assert read_e2e_summary(tmp_path / "e2e.json") == rows
    md, _ = write_report(tmp_path, {}, [], "no area", [], None, [], 0.1, quick=True)
    assert "| 2:4 (fc nm:2:4) | 450 | 97.00% | 96.89% | 96.89% | yes | 3.64x |" in md.read_text()
    with pytest.raises(ReportError, match="bit_exact must be a bool"):
        E2eVariant("x", "suds", 1, 0.5, 0.5, None, "yes")
