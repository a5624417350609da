"""report.power: power.json's comparisons read strictly; the reproduction table shows them."""

import json

import pytest

from report.power import COMPARISONS, read_power_comparisons
from report.schema import ReportError
from sim.bench_repro import reproduction_rows


def _doc():
    details = {n: {"target": 1.7, "paper": 1.7, "kind": "power" if n.endswith("power") else "energy",
                   "better": "higher", "what": n, "value": 1.0 + i, "met": True,
                   "engine": f"e{i} / w", "baseline": f"b{i} / w", "limiting_block": "multipliers",
                   "block_difference": {}, "difference_unit": "mW"}
               for i, n in enumerate(COMPARISONS)}
    return {"library": "sky130", "clock_mhz": 200.0, "designs": [],
            "comparisons": {n: 1.0 + i for i, n in enumerate(COMPARISONS)},
            "comparison_details": details}


def test_reads_every_comparison(tmp_path):
    p = tmp_path / "power.json"
    p.write_text(json.dumps(_doc()))
    got = read_power_comparisons(p)
    assert [got[n].value for n in COMPARISONS] == [1.0 + i for i in range(len(COMPARISONS))]
    assert got["eureka_vs_ampere24_power"].where == "e2 / w vs b2 / w, sky130, 200 MHz (make power)"
    rows = {r["id"]: r for r in reproduction_rows({}, [], p)}
    assert rows["eureka_energy_vs_dense"]["ours"] == 1.0
    assert rows["eureka_power_vs_ampere"]["ours"] == pytest.approx(3.0 - 1.0)  # shown as +%


def test_rejects_other_shapes(tmp_path):
    p = tmp_path / "power.json"
    doc = _doc()
    del doc["comparison_details"]["sparten_vs_dense_energy"]
    p.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match="missing field 'sparten_vs_dense_energy'"):
        read_power_comparisons(p)
    doc = _doc()
    doc["comparisons"]["eureka_vs_dense_energy"] = 9.0
    p.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match="details say"):
        read_power_comparisons(p)
    doc = _doc()
    doc["comparison_details"]["eureka_vs_dense_energy"]["watts"] = 1
    p.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match="unknown field 'watts'"):
        read_power_comparisons(p)


def test_unmeasured_comparison_is_absent(tmp_path):
    p = tmp_path / "power.json"
    doc = _doc()
    doc["comparisons"]["sparten_vs_dense_energy"] = None
    p.write_text(json.dumps(doc))
    assert read_power_comparisons(p)["sparten_vs_dense_energy"] is None
    assert read_power_comparisons(p)["eureka_vs_dense_energy"].value == 1.0


def test_absent_report_says_run_make_power(tmp_path):
    rows = {r["id"]: r for r in reproduction_rows({}, [], tmp_path / "power.json")}
    assert rows["eureka_energy_vs_dense"]["ours"] is None
    assert rows["eureka_energy_vs_dense"]["our_workload"] == "run make power first"
