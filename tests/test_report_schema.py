"""report.schema: records round-trip, readers reject bad shapes, iso-area is computed once."""

import pytest

from report.schema import (AreaRatio, Headline, IsoArea, PairSpeedup, ReportError, RtlCheck,
                           Section, iso_area, read_area_ratios, read_sections, write_json)


def _headline(**extra):
    figs = {"speedup_vs_dense": 4.0, "speedup_vs_2to4": 2.0, **extra}
    return Headline("eureka", "GEMM", figs,
                    pairs=[PairSpeedup("eureka_core", "eureka_dense", 4.0, "GEMM d_w 0.2")])


def test_section_round_trips(tmp_path):
    sec = Section("eureka", "# md", _headline(extra_figure=1.5),
                  RtlCheck([{"equal": True, "name": "a"}], "reduced GEMMs"), {"rows": [1, 2]}, 3.5)
    write_json(tmp_path / "bench.json", {"sections": {"eureka": sec}})
    back = read_sections(tmp_path / "bench.json")["eureka"]
    assert back == sec
    assert back.headline["speedup_vs_2to4"] == 2.0
    assert back.rtl.all_equal


def test_headline_needs_its_engine_figures():
    with pytest.raises(ReportError, match="missing figure 'speedup_vs_2to4'"):
        Headline("eureka", "GEMM", {"speedup_vs_dense": 4.0})
    with pytest.raises(ReportError, match="engine 'tpu'"):
        Headline("tpu", "x", {})
    with pytest.raises(ReportError, match="no figure 'speedup_over_dense'"):
        _headline()["speedup_over_dense"]   # no alternative spellings


def test_rtl_check_all_equal_needs_runs():
    assert not RtlCheck([], "none").all_equal
    assert not RtlCheck([{"equal": True}, {"equal": False}], "x").all_equal
    with pytest.raises(ReportError, match="boolean 'equal'"):
        RtlCheck([{"equal": 1}], "x")


def test_readers_name_the_missing_field(tmp_path):
    write_json(tmp_path / "area.json", {"ratios": [{"engine": "eureka", "design": "a",
                                                      "baseline": "b", "metric": "area_um2"}]})
    with pytest.raises(ReportError, match="missing field 'area_ratio'"):
        read_area_ratios(tmp_path / "area.json")
    write_json(tmp_path / "area.json", {"ratios": [{"engine": "eureka", "design": "a",
                                                      "baseline": "b", "metric": "area_um2",
                                                      "area_ratio": 1.5, "speedup": 2}]})
    with pytest.raises(ReportError, match="unknown field 'speedup'"):
        read_area_ratios(tmp_path / "area.json")
    with pytest.raises(ReportError, match="no such report"):
        read_sections(tmp_path / "bench.json")


def test_iso_area_matches_pairs_by_name():
    ratios = [AreaRatio("eureka", "eureka_core", "eureka_dense", "area_um2", 1.6),
              AreaRatio("eureka", "eureka_core", "eureka_ampere24", "area_um2", 1.3),
              AreaRatio("sparten", "sparten_cluster", "sparten_dense_array", "area_um2", 2.0)]
    rows = iso_area({"eureka": _headline()}, ratios)
    assert rows[0] == IsoArea("eureka", "eureka_core", "eureka_dense", 1.6, 4.0, "GEMM d_w 0.2",
                              4.0 / 1.6)
    assert rows[1].iso_area_speedup is None and "no speed-up of eureka_core over eureka_ampere24" \
        in rows[1].missing
    assert rows[2].speedup is None and "no sparten bench section" in rows[2].missing
