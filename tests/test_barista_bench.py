"""sim/bench_barista.py: the iso-area ratio from an area report, and the section's JSON shape."""

import json

import pytest

from sim import bench_barista as bb


def test_cluster_area_ratio_from_area_report(tmp_path):
    doc = {"designs": [{"design": "barista_cluster", "area_um2": 5000.0},
                       {"design": "barista_sparten_layer", "area_um2": 4000.0}]}
    (tmp_path / "area.json").write_text(json.dumps(doc))
    ratio, note = bb.cluster_area_ratio(tmp_path / "area.json")
    assert ratio == pytest.approx(1.25) and "barista_sparten_layer" in note
    doc["designs"].pop()
    (tmp_path / "area.json").write_text(json.dumps(doc))
    assert bb.cluster_area_ratio(tmp_path / "area.json")[0] is None


def test_iso_area_ratio_from_area_report(tmp_path):
    assert bb.iso_area_ratio(tmp_path / "none.json")[0] is None
    doc = {"designs": [
        {"design": "sparten_cluster", "config": {"n_units": 32}, "area_um2": 32 * 1500.0},
        {"design": "sparten_cu", "config": {}, "area_um2": 1000.0},
        {"design": "barista_fetch_paper", "config": {"units_per_cluster": 8}, "area_um2": 8 * 200.0}]}
    (tmp_path / "area.json").write_text(json.dumps(doc))
    ratio, note = bb.iso_area_ratio(tmp_path / "area.json")
    assert ratio == pytest.approx(1200.0 / 1500.0) and "sparten_cu" in note
    doc["designs"].pop()
    (tmp_path / "area.json").write_text(json.dumps(doc))
    ratio, note = bb.iso_area_ratio(tmp_path / "area.json")
    assert ratio is None and "barista_fetch_paper" in note


def test_quick_section_headline(tmp_path):
    doc = {"designs": [
        {"design": "sparten_cluster", "config": {"n_units": 32}, "area_um2": 32 * 1500.0},
        {"design": "sparten_cu", "config": {}, "area_um2": 1000.0},
        {"design": "barista_fetch_paper", "config": {"units_per_cluster": 8}, "area_um2": 800.0}]}
    (tmp_path / "area.json").write_text(json.dumps(doc))
    md, data = bb.section(quick=True, area_path=tmp_path / "area.json")
    h = data["headline"]
    for key in ("speedup_vs_dense", "speedup_vs_onesided", "speedup_vs_naive_sparten",
                "speedup_vs_isoarea_sparten", "fraction_of_ideal"):
        assert isinstance(h[key], float), key
        for net in ("vgg16", "resnet50"):
            assert isinstance(h["networks"][net][key], float), (net, key)
    # BARISTA's 1100 per MAC buys iso-area SparTen 1100/1500 of naive SparTen's MACs: slower.
    assert h["speedup_vs_isoarea_sparten"] == pytest.approx(
        h["speedup_vs_naive_sparten"] * 1500.0 / 1100.0)
    assert {p["name"] for p in data["plots"]} == {"vgg16", "resnet50"}
    # The RTL check ran reduced conv layers through the whole cluster, equal to the trace.
    rc = data["rtl_checked"]
    assert rc["all_equal"] and len(rc["rows"]) == 2, rc
    for r in rc["rows"]:
        assert r["R"] == 3 and r["rtl_cycles"] == r["trace_cycles"] > 0 and r["bit_exact"], r
    assert "whole cluster" in rc["scope"] and "barista_cluster" in md
    assert h["cluster_area_ratio"] is None and "barista_cluster" in h["cluster_area_note"]
    assert "BARISTA paper" in md and "5.4x" in md
    json.dumps(data, default=float)
