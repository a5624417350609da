"""sim/bench_barista.py: the iso-area ratio from an area report, and the section's shape."""

import json

import pytest

from report.schema import read_sections, write_json
from sim import bench_barista as bb


def _design(name, config, area):
    return {"design": name, "engine": name.split("_")[0], "role": "block", "description": "",
            "config": config, "library": "lib", "corner": "tt", "area_um2": area, "cells": 1,
            "critical_path_ns": 1.0, "fmax_mhz": 1000.0, "logic_depth": 1,
            "memory_macro_bits": 0, "blocks": {}, "errors": []}


def _area(fetch_area):
    return {"designs": [_design("sparten_cluster", {"n_units": 32}, 32 * 1500.0),
                        _design("sparten_cu", {}, 1000.0),
                        _design("barista_fetch_paper", {"units_per_cluster": 8}, fetch_area)]}


def test_cluster_area_ratio_from_area_report(tmp_path):
    doc = {"designs": [_design("barista_cluster", {}, 5000.0),
                       _design("barista_sparten_layer", {}, 4000.0)]}
    (tmp_path / "area.json").write_text(json.dumps(doc))
    ratio, note = bb.cluster_area_ratio(tmp_path / "area.json")
    assert ratio == pytest.approx(1.25) and "barista_sparten_layer" in note
    doc["designs"].pop()
    (tmp_path / "area.json").write_text(json.dumps(doc))
    assert bb.cluster_area_ratio(tmp_path / "area.json")[0] is None


def test_iso_area_ratio_from_area_report(tmp_path):
    assert bb.iso_area_ratio(tmp_path / "none.json")[0] is None
    doc = _area(8 * 200.0)
    (tmp_path / "area.json").write_text(json.dumps(doc))
    ratio, note = bb.iso_area_ratio(tmp_path / "area.json")
    assert ratio == pytest.approx(1200.0 / 1500.0) and "sparten_cu" in note
    doc["designs"].pop()
    (tmp_path / "area.json").write_text(json.dumps(doc))
    ratio, note = bb.iso_area_ratio(tmp_path / "area.json")
    assert ratio is None and "barista_fetch_paper" in note
    # a design record of another shape: no guessing, one line naming the field
    doc["designs"][0].pop("cells")
    (tmp_path / "area.json").write_text(json.dumps(doc))
    ratio, note = bb.iso_area_ratio(tmp_path / "area.json")
    assert ratio is None and "missing field 'cells'" in note and "\n" not in note


def test_quick_section_headline(tmp_path):
    (tmp_path / "area.json").write_text(json.dumps(_area(800.0)))
    sec = bb.section(quick=True, area_path=tmp_path / "area.json")
    h = sec.headline
    for key in ("speedup_vs_dense", "speedup_vs_onesided", "speedup_vs_naive_sparten",
                "speedup_vs_isoarea_sparten", "fraction_of_ideal"):
        assert isinstance(h[key], float), key
        for net in ("vgg16", "resnet50"):
            assert isinstance(sec.data["networks"][net]["headline"][key], float), (net, key)
    # BARISTA's 1100 per MAC buys iso-area SparTen 1100/1500 of naive SparTen's MACs: slower.
    assert h["speedup_vs_isoarea_sparten"] == pytest.approx(
        h["speedup_vs_naive_sparten"] * 1500.0 / 1100.0)
    assert {p["name"] for p in sec.data["plots"]} == {"vgg16", "resnet50"}
    assert "BARISTA paper" in sec.markdown and "5.4x" in sec.markdown
    write_json(tmp_path / "bench.json", {"sections": {"barista": sec}})
    assert read_sections(tmp_path / "bench.json")["barista"].headline == h
    # without an area report the figure is absent (never a stand-in), and the note says why
    # (from the section's own rows: network_figures builds its headline with this function)
    head = bb.network_headline("vgg16", sec.data["networks"]["vgg16"]["layers"], bb.QUICK_CONFIG,
                               area_ratio=None)
    assert "speedup_vs_isoarea_sparten" not in head.figures
    assert head["speedup_vs_naive_sparten"] == h["speedup_vs_naive_sparten"]
    assert "run `make area` first" in bb.iso_area_ratio(tmp_path / "none.json")[1]
    # The RTL check ran reduced conv layers through the whole cluster, equal to the trace.
    rc = sec.rtl
    assert rc.all_equal and len(rc.rows) == 2, rc
    for r in rc.rows:
        assert r["R"] == 3 and r["rtl_cycles"] == r["trace_cycles"] > 0 and r["bit_exact"], r
    assert "whole cluster" in rc.scope and "barista_cluster" in sec.markdown
    assert sec.data["cluster_area_ratio"] is None
    assert "barista_cluster" in sec.data["cluster_area_note"]
