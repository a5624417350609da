"""synth/suds_variants.py: the variant table's arithmetic, its choice of default, its area reuse."""

import dataclasses
import json

import pytest

from hw.eureka.config import EurekaConfig
from synth import suds_variants as sv


def test_variant_configs_are_valid_and_named():
    cfgs = sv.variant_configs("small")
    names = [n for n, *_ in cfgs]
    assert names == [*sv.VARIANTS, "dense", "ampere24", "ampere24-mux"]
    by = {n: c for n, c, *_ in cfgs}
    assert (by["ampere24"].select, by["ampere24-mux"].select) == ("onehot", "mux")
    for name, cfg, _, role in cfgs:
        assert (cfg.rows, cfg.lanes) == (4, 8)
        if role == "engine":
            assert cfg.has_suds and cfg.group == sv.VARIANTS[name][0]["group"]
    with pytest.raises(ValueError, match=r"unknown variant\(s\) \['g9'\]"):
        sv.variant_configs("small", ["g9"])
    with pytest.raises(ValueError, match="size must be one of"):
        sv.variant_configs("huge")


def test_default_row_is_the_tree_form_once():
    # the default config (moved_sum 'auto') is the g8-d1-tree row, and no two rows are one design
    for size in sv.SIZES:
        cfgs = sv.variant_configs(size)
        assert sv.default_variant(cfgs) == "g8-d1-tree"
        engines = [c for _, c, _, role in cfgs if role == "engine"]
        assert len(set(engines)) == len(engines)
    by = {n: c for n, c, *_ in sv.variant_configs("small")}
    assert by["g8-d1-onehot"].moved_sum_resolved == "accumulate"
    assert (by["g8-after-d1"].moved_sum_resolved, by["g4-after-d1"].moved_sum_resolved) == \
        ("accumulate", "accumulate")


def test_table_iso_area_and_default_pick():
    cfgs = sv.variant_configs("small", ["g8-before", "g8-after-d1"])
    areas = {"g8-before": {"area_um2": 300.0, "critical_path_ns": 4.0},
             "g8-after-d1": {"area_um2": 250.0, "critical_path_ns": 4.1},
             "dense": {"area_um2": 200.0, "critical_path_ns": 3.0},
             "ampere24": {"area_um2": 210.0, "critical_path_ns": 3.5},
             "ampere24-mux": {"area_um2": 220.0, "critical_path_ns": 3.5}}
    speeds = {"g8-before": {0.2: {"natural": 2.0, "permuted": 5.0}},
              "g8-after-d1": {0.2: {"natural": 1.9, "permuted": 4.4}}}
    rows = sv.table(cfgs, areas, speeds)
    by = {r["variant"]: r for r in rows}
    assert by["g8-before"]["iso_area_speedup"] == pytest.approx(5.0 / 1.5)
    assert by["g8-after-d1"]["iso_area_speedup"] == pytest.approx(4.4 / 1.25)
    assert by["g8-after-d1"]["iso_area_speedup_natural"] == pytest.approx(1.9 / 1.25)
    assert by["g8-after-d1"]["area_vs_ampere24"] == pytest.approx(250 / 220)
    assert by["dense"]["iso_area_speedup"] is None
    assert sv.pick_default(rows, min_speedup=4.0) == "g8-after-d1"     # 3.52x beats 3.33x
    assert sv.pick_default(rows) == "g8-before"        # 4.4x is below the 4.5x floor
    speeds["g8-before"][0.2]["permuted"] = 6.0               # 4.0x now
    assert sv.pick_default(sv.table(cfgs, areas, speeds), min_speedup=4.0) == "g8-before"
    md = sv.markdown({"size": "small", "rows_lanes": "4x8", "library": "lib", "workload": "w",
                      "headline_density": 0.2, "densities": [0.2], "default": "g8-before",
                      "best_iso_area": "g8-before",
                      "rows": rows})
    assert "| g8-after-d1 | 250 | 1.136 | 4.10 | 1.90 / 4.40 | 3.52x / 1.52x |" in md
    assert "not built" not in md


def test_shared_trees_row_halves_the_speedup():
    # the shared-tree row is a real config whose model speed-up is half its unshared twin's, and a
    # run of one-hot rows only needs no mux baseline
    cfgs = sv.variant_configs("small", ["g8-d1-onehot", "g8-d1-shared2"])
    assert [n for n, *_ in cfgs] == ["g8-d1-onehot", "g8-d1-shared2", "dense", "ampere24"]
    by = {n: c for n, c, *_ in cfgs}
    assert by["g8-d1-shared2"] == dataclasses.replace(by["g8-d1-onehot"], tree_share=2)
    one = sv.speedups(by["g8-d1-onehot"], densities=(0.2,), permute=False)[0.2]
    two = sv.speedups(by["g8-d1-shared2"], densities=(0.2,), permute=False)[0.2]
    assert two["natural"] == pytest.approx(one["natural"] / 2)
    assert two["displaced"] == one["displaced"]


def test_area_json_reuse_reads_legacy_configs(tmp_path):
    old = EurekaConfig(rows=4, lanes=8).to_dict()
    for k in (*sv.LEGACY_FIELDS, "moved_sum_resolved"):
        old.pop(k)                                        # written before the SUDS options
    entry = {"design": "eureka_core", "config": old, "library": "lib", "errors": [],
             "area_um2": 123.0, "critical_path_ns": 4.0, "cells": 9, "critical_path": {}}
    path = tmp_path / "area.json"
    path.write_text(json.dumps({"designs": [entry]}))

    class Lib:
        name = "lib"
    before = EurekaConfig(rows=4, lanes=8, steer="before", disp_budget=0, select="mux")
    after = EurekaConfig(rows=4, lanes=8, steer="after", disp_budget=1, select="mux")
    assert sv.from_area_json(path, dataclasses.replace(before, select="onehot"), Lib()) is None
    assert sv.from_area_json(path, before, Lib())["area_um2"] == 123.0
    assert sv.from_area_json(path, after, Lib()) is None
    # written before moved_sum existed: the accumulate form, not the default it resolves to now
    entry["config"] = {**old, "steer": "after", "disp_budget": 1, "select": "onehot"}
    path.write_text(json.dumps({"designs": [entry]}))
    onehot = EurekaConfig(rows=4, lanes=8)
    assert sv.from_area_json(path, onehot, Lib()) is None
    assert sv.from_area_json(path, dataclasses.replace(onehot, moved_sum="accumulate"), Lib())
    Lib.name = "other"
    assert sv.from_area_json(path, dataclasses.replace(onehot, moved_sum="accumulate"),
                             Lib()) is None
