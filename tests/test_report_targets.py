"""report/targets.py: issue 11's targets, met or missed, with the blocks that limit a missed one,
in area.json/area.md and bench.json/bench.md; the strict reader refuses malformed verdicts.

Everything here is built from small records (no synthesis, no simulation)."""

import dataclasses
import json

import pytest

from report.schema import (AreaRatio, Headline, IsoArea, PairSpeedup, ReportError, RtlCheck,
                           Section, write_json)
from report.targets import TARGETS, Limit, Verdict, evaluate, read_targets
from synth import area
from synth.compare import path_block

T = {t.name: t for t in TARGETS}
CORE_VS_AMP = ("eureka_core", "eureka_ampere24")


def _ratio(design, baseline, ratio, cats=None, groups=None, engine="eureka", metric="area_um2"):
    return AreaRatio(engine, design, baseline, metric, ratio, delta_by_category=cats or {},
                     delta_by_group=groups or {})


def _one(verdicts, name):
    (v,) = [v for v in verdicts if v.target == name]
    return v


def test_area_ratio_met_and_missed_names_the_largest_excess():
    """At most 1.06: 1.05 is met (no limits); 1.107 is missed and names the categories and block
    groups with the largest positive engine-minus-baseline area, largest first, none that the
    engine has less of."""
    met = evaluate("area", ratios=[_ratio(*CORE_VS_AMP, 1.05, {"select muxes": 9.0})])
    v = _one(met, "eureka_area")
    assert (v.value, v.met, v.limits) == (1.05, True, ())
    assert v.subject == "eureka_core / eureka_ampere24"
    cats = {"reduction trees": -5000.0, "select muxes": 63000.0, "multipliers": 0.0,
            "SUDS steering": 20000.0, "registers": 1000.0, "control/other": 500.0}
    groups = {"own_tree*": -4000.0, "suds*": 21000.0, "sel*": 62000.0}
    v = _one(evaluate("area", ratios=[_ratio(*CORE_VS_AMP, 1.107, cats, groups)]), "eureka_area")
    assert v.met is False and v.value == 1.107
    assert [x.block for x in v.limits] == ["select muxes", "SUDS steering", "registers",
                                           "sel*", "suds*"]
    assert v.limits[0].value == 63000.0 and v.limits[0].unit == "µm²"
    assert "+63,000 µm² over eureka_ampere24" in v.limits[0].what


def test_area_ratio_inputs_missing_say_how_to_make_them():
    """No area report, the pair not synthesised, or areas in cells (no Liberty file): no verdict,
    a reason naming the command."""
    v = _one(evaluate("area", ratios=None), "eureka_area")
    assert v.value is None and v.met is None and "run make area" in v.missing
    v = _one(evaluate("area", ratios=[_ratio("eureka_core", "eureka_dense", 1.2)]), "eureka_area")
    assert "sparse-hw area --top eureka_core --top eureka_ampere24" in v.missing
    v = _one(evaluate("area", ratios=[_ratio(*CORE_VS_AMP, 1.01, metric="cells")]), "eureka_area")
    assert v.value is None and "cells" in v.missing


def _designs():
    base = {"errors": [], "critical_path": {"startpoint": None, "endpoint": None,
                                             "path_depth": None}}
    return {
        "eureka_core": {**base, "design": "eureka_core", "critical_path_ns": 4.24,
                        "critical_path": {"startpoint": "row1.mul3 (Q)",
                                          "endpoint": "row1.own_tree1 (D)", "path_depth": 20}},
        "sparten_cluster": {**base, "design": "sparten_cluster", "critical_path_ns": 6.04,
                            "critical_path": {"startpoint": "cu12.join (Q)",
                                              "endpoint": "cu12.mul0 (D)", "path_depth": 31}},
        "barista_group": {**base, "design": "barista_group", "critical_path_ns": 18.4,
                          "critical_path": {"startpoint": "input i__valid",
                                            "endpoint": "(top) (D)", "path_depth": 80}},
        "barista_fetch": {**base, "design": "barista_fetch", "critical_path_ns": None,
                          "errors": ["asic: yosys ran out of time"]},
    }


TOPS = {"eureka_core": "eureka", "sparten_cluster": "sparten", "barista_group": "barista",
        "barista_fetch": "barista", "sparten_cu": "sparten"}


def test_critical_path_per_top_names_the_blocks_of_its_ends():
    """Every registered top is a subject: met at <= 5.0 ns; over it, the blocks its startpoint
    and endpoint lie in (from the engine's block table, indices folded); a failed or absent
    synthesis says so."""
    vs = {v.subject: v for v in evaluate("area", designs=_designs(), tops=TOPS,
                                         path_block=path_block) if v.target == "critical_path"}
    assert list(vs) == list(TOPS)
    assert vs["eureka_core"].met is True and vs["eureka_core"].limits == ()
    cl = vs["sparten_cluster"]
    assert cl.met is False and cl.value == 6.04
    assert [x.block for x in cl.limits] == ["inner join (registers, control) (cu*.join)",
                                            "MAC (cu*.mul*)"]
    assert [x.what for x in cl.limits] == ["startpoint cu12.join (Q)", "endpoint cu12.mul0 (D)"]
    assert [x.block for x in vs["barista_group"].limits] == [
        "input port of barista_group", "control/other (barista_group's own logic)"]
    assert vs["barista_fetch"].met is None and "ran out of time" in vs["barista_fetch"].missing
    assert vs["sparten_cu"].missing.startswith("not synthesised: run make area")


def test_path_block_reads_the_engine_table():
    assert path_block("eureka", "eureka_core", "row0.sel12 (Y)") == "select muxes (row*.sel*)"
    assert path_block("common", "innerjoin128", "prio0 (Q)") == "priority encoder (prio*)"
    assert path_block("sparten", "sparten_cu", "output o__payload") == "output port of sparten_cu"


def _iso_row(speedup, ratio, missing=None):
    return IsoArea("sparten", "sparten_cluster", "sparten_dense_array", ratio, speedup,
                   "VGG-16" if speedup else None,
                   speedup / ratio if speedup else None, missing)


def test_iso_area_met_missed_and_missing():
    """>= 3x: speed-up / area ratio from the iso-area row; a miss names the blocks that make the
    cluster larger than the dense array; without a bench speed-up the row's reason is kept."""
    r = _ratio("sparten_cluster", "sparten_dense_array", 2.76,
               {"inner join (registers, control)": 1.2e6, "MAC": -1e5, "prefix sums": 9e5},
               {"cu*.join": 1.2e6, "cu*.join.prefix_f*": 4.5e5, "mac*": -1.5e6},
               engine="sparten")
    unit = _ratio("sparten_cu", "sparten_dense_unit", 1.5, {"buffers": 1e6}, engine="sparten")
    v = _one(evaluate("area", ratios=[r, unit], iso=[_iso_row(4.83, 2.76)]), "sparten_iso_area")
    assert v.met is False and v.value == pytest.approx(4.83 / 2.76)
    assert "4.83x / area ratio 2.760" in v.detail
    assert [x.block for x in v.limits] == ["inner join (registers, control)", "prefix sums",
                                           "cu*.join", "cu*.join.prefix_f*"]
    v = _one(evaluate("bench", ratios=[r], iso=[_iso_row(9.0, 2.76)]), "sparten_iso_area")
    assert v.met is True and v.limits == ()
    v = _one(evaluate("area", ratios=[r], iso=[_iso_row(None, 2.76, "no sparten bench section: "
                                                               "run make bench")]),
             "sparten_iso_area")
    assert v.met is None and v.missing == "no sparten bench section: run make bench"
    v = _one(evaluate("bench", ratios=None, iso=None, no_area="No current area report: run "
                      "`make area`"), "sparten_iso_area")
    assert v.met is None and "make area" in v.missing


def test_suds_speedup_from_the_bench_pair_or_the_iso_row():
    """>= 4.5x over dense: the bench's pair of the two tops (the bench), or the iso-area row that
    carries it (the area report); a headline figure of another pair never stands in."""
    p = PairSpeedup("eureka_core", "eureka_dense", 4.80, "GEMM d_w 0.2")
    v = _one(evaluate("bench", speedups={("eureka_core", "eureka_dense"): p}),
             "eureka_suds_speedup")
    assert (v.value, v.met) == (4.80, True) and "GEMM d_w 0.2" in v.detail
    row = IsoArea("eureka", "eureka_core", "eureka_dense", 1.3, 4.04, "G=4", 4.04 / 1.3)
    v = _one(evaluate("area", iso=[row]), "eureka_suds_speedup")
    assert (v.value, v.met) == (4.04, False)
    row = IsoArea("eureka", "eureka_core", "eureka_dense", 1.3, None, None, None,
                  "no eureka bench section: run make bench")
    v = _one(evaluate("area", iso=[row], no_bench="?"), "eureka_suds_speedup")
    assert v.value is None and v.missing == "no eureka bench section: run make bench"
    other = PairSpeedup("eureka_core", "eureka_ampere24", 4.9, "x")
    v = _one(evaluate("bench", speedups={CORE_VS_AMP: other}, no_bench="run make bench"),
             "eureka_suds_speedup")
    assert v.value is None and v.missing == "run make bench"


def _verdict_doc():
    v = _one(evaluate("area", ratios=[_ratio(*CORE_VS_AMP, 1.107, {"select muxes": 6.3e4})]),
             "eureka_area")
    return json.loads(json.dumps(v.to_json()))


def test_reader_round_trips_and_refuses_malformed_entries(tmp_path):
    path = tmp_path / "area.json"
    good = _verdict_doc()
    write_json(path, {"targets": [good]})
    (back,) = read_targets(path)
    assert back.limits == (Limit("select muxes", "category: +63,000 µm² over eureka_ampere24",
                                 6.3e4, "µm²"),) and back.met is False
    bad = [({**good, "met": True}, "'met' is True but 1.107 <= 1.06 is False"),
           ({**good, "target": "eureka_power"}, "no such target"),
           ({**good, "bound": 1.1}, "the table says <= 1.06"),
           ({k: v for k, v in good.items() if k != "direction"}, "missing field 'direction'"),
           ({**good, "value": None, "met": None}, "needs a 'missing' reason"),
           ({**good, "value": "1.1"}, "expected a number"),
           ({**good, "limits": [{"block": "x"}]}, "missing field 'what'"),
           ({**good, "limits": "select muxes"}, "'limits' must be a list of objects"),
           ({**good, "limits": ["select muxes"]}, "'limits' must be a list of objects"),
           ({**good, "verdict": "met"}, "unknown field 'verdict'"),
           ("met", "expected an object")]
    for doc, msg in bad:
        write_json(path, {"targets": [doc]})
        with pytest.raises(ReportError, match=msg):
            read_targets(path)
    write_json(path, {"ratios": []})
    with pytest.raises(ReportError, match="missing field 'targets'"):
        read_targets(path)


def test_the_table_is_the_one_source_of_bounds():
    """A verdict carries its target's bound from the table; the bounds are issue 11's."""
    assert {t.name: (t.figure, t.direction, t.bound) for t in TARGETS} == {
        "eureka_area": ("area_ratio", "at_most", 1.06),
        "eureka_suds_speedup": ("pair_speedup", "at_least", 4.5),
        "critical_path": ("critical_path_ns", "at_most", 5.0),
        "sparten_iso_area": ("iso_area_speedup", "at_least", 3.0)}
    with pytest.raises(ValueError, match="direction must be one of at_most, at_least, got 'below'"):
        dataclasses.replace(T["eureka_area"], direction="below")
    with pytest.raises(ReportError, match="the table says"):
        Verdict("critical_path", "x", 4.0, 4.5, "at_most", True)


def _result(name, engine, role, config, area_um2, cp=None, start=None, end=None, sel=0.5):
    r = area.SynthResult(area.Design(name, None, engine, role, "", config))
    r.numbers = {"area_um2": area_um2, "cells": 10, "critical_path_ns": cp, "startpoint": start,
                 "endpoint": end, "path_depth": 9, "modules": [],
                 "blocks": {"select muxes": {"value": area_um2 * sel, "share": sel},
                            "multipliers": {"value": area_um2 * (1 - sel), "share": 1 - sel}},
                 "block_groups": [{"block": "row*.sel*", "category": "select muxes", "copies": 8,
                                   "value": area_um2 * sel, "share": sel}]}
    return r


def test_area_report_prints_and_keeps_the_verdicts(tmp_path):
    """area.json's ``targets`` (read strictly) and area.md's "Targets" section from synth's
    results: the missed area target names the select muxes, the top over 5.0 ns the block of its
    path's ends, a top not synthesised says to run make area."""
    size = {"rows": 8, "lanes": 32}
    res = [_result("eureka_core", "eureka", "engine", size, 1200.0, 5.5, "row2.sel4 (Q)",
                   "row2.mul4 (D)", sel=0.6),
           _result("eureka_ampere24", "eureka", "sparse-baseline", size, 1000.0, 3.9)]
    js, md = area.write_reports(res, None, tmp_path, bench_path=tmp_path / "no_bench.json")
    vs = read_targets(js)
    a = _one(vs, "eureka_area")
    assert a.met is False and a.limits[0].block == "select muxes"
    assert a.limits[0].value == pytest.approx(1200 * 0.6 - 1000 * 0.5)
    # the engine has less multiplier area than the baseline: not a limiting block
    assert [x.block for x in a.limits] == ["select muxes", "row*.sel*"]
    cp = {v.subject: v for v in vs if v.target == "critical_path"}
    assert cp["eureka_core"].met is False and cp["eureka_ampere24"].met is True
    assert "not synthesised" in cp["sparten_cu"].missing
    text = md.read_text()
    assert "## Targets" in text
    assert "| eureka_core | 5.500 | <= 5 | **missed** | select muxes (row*.sel*) (startpoint " \
           "row2.sel4 (Q)); multipliers (row*.mul*) (endpoint row2.mul4 (D))" in text
    assert "| eureka_core / eureka_ampere24 | 1.200 | <= 1.06 | **missed** | select muxes " \
           "(category: +220 µm² over eureka_ampere24); row*.sel* (block group: +220 µm² over " \
           "eureka_ampere24) — area_um2 ratio from make area |" in text
    assert "| eureka_core / eureka_dense | n/a | >= 4.5 | not measured |" in text
    # the tops not synthesised share one row
    assert "| innerjoin128, sparten_layer, sparten_cu, " in text
    assert "| sparten_cu " not in text


def test_bench_report_prints_its_targets(tmp_path):
    """bench.md's "Targets" holds the bench's own (SUDS speed-up from the section's pair; SparTen
    iso-area from area.json's ratio and its block deltas); bench.json keeps them."""
    from sim.bench_report import write_report
    from report.schema import iso_area

    ratio = _ratio("sparten_cluster", "sparten_dense_array", 2.76, {"prefix sums": 9e5},
                   engine="sparten")
    write_json(tmp_path / "area.json", {"ratios": [ratio]})
    heads = {
        "eureka": Headline("eureka", "GEMM", {"speedup_vs_dense": 4.8, "speedup_vs_2to4": 2.4},
                           pairs=[PairSpeedup("eureka_core", "eureka_dense", 4.8, "d_w 0.2")]),
        "sparten": Headline("sparten", "VGG-16", {"speedup_vs_dense": 4.83,
                                                  "speedup_vs_onesided": 2.06,
                                                  "fraction_of_ideal": 0.68},
                            pairs=[PairSpeedup("sparten_cluster", "sparten_dense_array", 4.83,
                                               "VGG-16")])}
    sections = {n: Section(n, "", h, RtlCheck([], "none"), {}, 0.0) for n, h in heads.items()}
    iso = iso_area(heads, [ratio])
    write_report(tmp_path, sections, iso, None, [], None, [], 1.0, True, tmp_path / "area.json")
    vs = {v.target: v for v in read_targets(tmp_path / "bench.json")}
    assert set(vs) == {"eureka_suds_speedup", "sparten_iso_area"}
    assert vs["eureka_suds_speedup"].met is True
    assert vs["sparten_iso_area"].met is False
    assert [x.block for x in vs["sparten_iso_area"].limits] == ["prefix sums"]
    text = (tmp_path / "bench.md").read_text()
    assert "| sparten_cluster / sparten_dense_array | 1.750 | >= 3 | **missed** | prefix sums" \
        in text
    # without an area report the iso-area verdict says to run make area, the speed-up stays
    write_report(tmp_path, sections, [], "No current area report: run `make area`.", [], None,
                 [], 1.0, True)
    vs = {v.target: v for v in read_targets(tmp_path / "bench.json")}
    assert vs["sparten_iso_area"].missing == "No current area report: run `make area`."
    assert vs["eureka_suds_speedup"].met is True
