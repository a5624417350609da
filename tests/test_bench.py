"""``sparse-hw bench``: report plumbing on fake sections, and the real sections in quick mode."""

import io
import json

import pytest

from report.schema import (AreaRatio, Headline, PairSpeedup, ReportError, RtlCheck, Section,
                           read_sections, write_json)
from sim import bench

PLOT = {"name": "layers", "x": ["a", "b"], "series": {"ours": [1.0, 2.0]}, "title": "t",
        "kind": "bar"}


def _section(name, figures, pairs=(), rtl=None, data=None):
    head = Headline(name, f"{name} workload", figures, pairs)
    return Section(name, f"{name} table", head, rtl or RtlCheck([], "none", "not run"),
                   data or {}, 1.0, True)


def _fake_sections():
    return {
        "sparten": _section("sparten", {"speedup_vs_dense": 3.9, "speedup_vs_onesided": 1.7,
                                        "fraction_of_ideal": 0.7},
                            [PairSpeedup("sparten_cluster", "sparten_dense_array", 3.9, "VGG")],
                            RtlCheck([{"layer": "conv1_1 reduced", "equal": True}], "reduced"),
                            {"plots": [PLOT]}),
        "eureka": _section("eureka", {"speedup_vs_dense": 4.1, "speedup_vs_2to4": 2.05},
                           [PairSpeedup("eureka_core", "eureka_dense", 4.1, "GEMM"),
                            PairSpeedup("eureka_core", "eureka_ampere24", 2.05, "GEMM")],
                           RtlCheck([{"equal": False}], "reduced GEMMs")),
        "barista": _section("barista", {"speedup_vs_dense": 5.0, "speedup_vs_onesided": 2.0,
                                        "speedup_vs_naive_sparten": 1.5,
                                        "fraction_of_ideal": 0.9}),
    }


FAKE_RATIOS = [AreaRatio("sparten", "sparten_cluster", "sparten_dense_array", "area_um2", 2.0),
               AreaRatio("eureka", "eureka_core", "eureka_dense", "area_um2", 1.375),
               AreaRatio("eureka", "eureka_core", "eureka_ampere24", "area_um2", 1.1)]


def test_report_from_fake_sections_and_area(tmp_path):
    write_json(tmp_path / "area.json", {"ratios": FAKE_RATIOS})
    sections = _fake_sections()
    assert sections["sparten"].rtl.all_equal is True
    assert sections["eureka"].rtl.all_equal is False
    ratios, iso, note = bench.area_rows(tmp_path / "area.json", sections)
    assert note is None and ratios == FAKE_RATIOS
    by = {(r.engine, r.baseline): r for r in iso}
    assert by[("sparten", "sparten_dense_array")].iso_area_speedup == pytest.approx(3.9 / 2.0)
    assert by[("eureka", "eureka_dense")].iso_area_speedup == pytest.approx(4.1 / 1.375)
    assert by[("eureka", "eureka_ampere24")].area_ratio == pytest.approx(1.1)
    repro = bench.reproduction_rows(sections, ratios)
    got = {r["id"]: r["ours"] for r in repro}
    assert got["sparten_vs_dense"] == 3.9 and got["eureka_vs_2to4"] == 2.05
    assert got["barista_vs_naive"] == 1.5 and got["barista_vs_isoarea"] is None
    assert got["eureka_area_vs_ampere"] == pytest.approx(0.1)
    plots = bench.plots(tmp_path, sections, iso, repro)
    assert {"bench_reproduction.png", "bench_iso_area.png", "bench_sparten_layers.png"} <= set(plots)
    for p in plots:
        assert (tmp_path / p).read_bytes()[:4] == b"\x89PNG"
    speed = [{"engine": "SparTen", "workload": "w", "cycles": 1000, "macs": 5000, "seconds": 2.0,
              "cycles_per_s": 500.0, "macs_per_s": 2500.0, "bit_exact": True}]
    md_path, js_path = bench.write_report(tmp_path, sections, iso, None, repro, speed, plots, 1.0,
                                          quick=True)
    md = md_path.read_text()
    assert "| SparTen | speed-up over dense | 4.70x |" in md
    assert "3.90x" in md and "+10.0%" in md and "| yes |" in md and "| NO |" in md
    assert "iso-area" in md and "2.50 k" in md and "sparten table" in md
    assert f"| {3.9 / 2.0:.2f}x |" in md
    back = read_sections(js_path)
    assert back == sections and back["sparten"].headline["speedup_vs_dense"] == 3.9
    assert json.loads(js_path.read_text())["iso_area"][0]["iso_area_speedup"] == \
        pytest.approx(3.9 / 2.0)


def test_report_without_area_says_run_make_area(tmp_path):
    ratios, iso, note = bench.area_rows(tmp_path / "area.json", {})
    assert ratios == [] and iso == [] and "run `make area`" in note and "\n" not in note
    repro = bench.reproduction_rows({}, ratios)
    md, _ = bench.write_report(tmp_path, {}, iso, note, repro, [], [], 0.5, quick=False)
    text = md.read_text()
    assert "run `make area`" in text
    assert all(r["ours"] is None for r in repro)


def test_old_shape_reports_are_one_line_errors(tmp_path):
    """bench.json, area.json and e2e.json of the shapes before the schema are rejected, each
    with one line naming the file and the missing field; the bench then says what to run."""
    old = {"sections": {"sparten": {"markdown": "x", "rtl_checked": True, "data": {
        "headline": {"speedup_vs_dense": 3.9}}}}}
    (tmp_path / "bench.json").write_text(json.dumps(old))
    with pytest.raises(ReportError) as e:
        read_sections(tmp_path / "bench.json")
    assert "missing field 'headline'" in str(e.value) and "\n" not in str(e.value)
    assert "bench.json" in str(e.value)
    (tmp_path / "area.json").write_text(json.dumps({"designs": [], "comparisons": [
        {"engine": "eureka", "design": "eureka_core", "baseline": "eureka_dense",
         "area_ratio": 1.2}]}))
    ratios, iso, note = bench.area_rows(tmp_path / "area.json", _fake_sections())
    assert (ratios, iso) == ([], []) and "missing field 'ratios'" in note
    assert "run `make area`" in note and "\n" not in note
    (tmp_path / "e2e.json").write_text(json.dumps({"results": []}))
    md, _ = bench.write_report(tmp_path, {}, [], note, [], None, [], 0.1, quick=True)
    text = md.read_text()
    assert "missing field 'summary'" in text and "run `make e2e` again" in text


def test_progress_accepts_common_callback_shapes():
    buf = io.StringIO()
    p = bench.Progress("t", stream=buf)
    p("just a message")
    p(1, 4)
    p(2, 4, "two of four")
    p(done=4, total=4, msg="done")
    p.sub("stage")(3, 10)
    p.log("a line")
    text = buf.getvalue()
    assert "just a message" in text and "2/4 two of four" in text and "4/4 done" in text
    assert "stage: |" in text and "a line" in text
    assert "\r" not in text  # not a terminal: plain lines


def test_area_file_that_does_not_exist_is_a_one_line_error(tmp_path, capsys):
    from sim import cli

    rc = cli.main(["bench", "--out", str(tmp_path), "--area", str(tmp_path / "none.json")])
    assert rc == 2
    assert "make area" in capsys.readouterr().err


@pytest.mark.parametrize("name,modname", bench.SECTIONS)
def test_real_section_quick(name, modname, tmp_path):
    """The real section in its reduced mode returns a Section whose RTL check ran and matched,
    whose pairs name registered tops, and which survives bench.json."""
    from hw.top import all_tops

    lines = []
    sec = bench.run_section(modname, lambda *a, **k: lines.append(a), True, tmp_path / "no.json")
    assert sec.name == name and sec.quick and sec.markdown.strip() and lines
    assert sec.rtl.rows and sec.rtl.all_equal, f"{name}: cycle model disagrees with the RTL"
    names = {t.name for t in all_tops()}
    assert all(p.design in names and p.baseline in names for p in sec.headline.pairs
               if name != "barista"), sec.headline.pairs
    write_json(tmp_path / "bench.json", {"sections": {name: sec}})
    assert read_sections(tmp_path / "bench.json")[name].headline == sec.headline


def test_iso_area_uses_the_pairs_make_area_compared(tmp_path):
    """area.json's ratios decide the pairs; each takes the section's speed-up of those two tops
    (EUREKA's at the core's G), not the headline measured at another G."""
    write_json(tmp_path / "area.json", {"ratios": [
        AreaRatio("eureka", "eureka_core", "eureka_dense", "area_um2", 1.2),
        AreaRatio("eureka", "eureka_core", "eureka_ampere24", "area_um2", 1200.0 / 1100.0)]})
    sections = {"eureka": _section(
        "eureka", {"speedup_vs_dense": 9.9, "speedup_vs_2to4": 9.9, "group": 16},
        [PairSpeedup("eureka_core", "eureka_dense", 3.0, "G=8"),
         PairSpeedup("eureka_core", "eureka_ampere24", 1.5, "G=8")])}
    ratios, rows, _ = bench.area_rows(tmp_path / "area.json", sections)
    assert [r.baseline for r in rows] == ["eureka_dense", "eureka_ampere24"]
    assert rows[0].speedup == 3.0 and rows[0].iso_area_speedup == pytest.approx(2.5)
    assert rows[1].speedup == 1.5
    assert rows[1].iso_area_speedup == pytest.approx(1.5 / (12 / 11))
    repro = bench.reproduction_rows(sections, ratios)
    assert next(r for r in repro if r["id"] == "eureka_area_vs_ampere")["ours"] == \
        pytest.approx(12 / 11 - 1)
    # a pair the bench did not measure: the row says so, no other figure stands in
    ratios, rows, _ = bench.area_rows(tmp_path / "area.json", {"eureka": _section(
        "eureka", {"speedup_vs_dense": 9.9, "speedup_vs_2to4": 9.9})})
    assert all(r.iso_area_speedup is None and "no speed-up of eureka_core" in r.missing
               for r in rows)


def _bench_and_area_files(tmp_path):
    """bench.json from the bench's writer and area.json with ratios, as the two flows write them."""
    sections = _fake_sections()
    write_json(tmp_path / "area.json", {"ratios": FAKE_RATIOS})
    ratios, iso, _ = bench.area_rows(tmp_path / "area.json", sections)
    bench.write_report(tmp_path, sections, iso, None, bench.reproduction_rows(sections, ratios),
                       None, [], 1.0, quick=True)
    return tmp_path / "bench.json", tmp_path / "area.json"


def test_iso_area_is_one_value_for_the_same_files(tmp_path):
    """Read back from the files, the iso-area rows are the ones bench.md printed: the same
    function over the same records, no second computation."""
    from report.schema import iso_area, read_area_ratios

    bench_json, area_json = _bench_and_area_files(tmp_path)
    md = (tmp_path / "bench.md").read_text()
    again = iso_area({n: s.headline for n, s in read_sections(bench_json).items()},
                     read_area_ratios(area_json))
    assert [r.iso_area_speedup for r in again] == [3.9 / 2.0, 4.1 / 1.375, 2.05 / 1.1]
    for r in again:
        assert f"| `{r.design}` | `{r.baseline}` | {r.area_ratio:.3f} | {r.speedup:.2f}x |" in md
        assert f"| {r.iso_area_speedup:.2f}x |" in md


def test_area_report_reads_the_same_iso_area(tmp_path):
    """synth's iso-area rows (area.md/area.json) from the same two files equal the bench's."""
    compare = pytest.importorskip("synth.compare", reason="synth/compare.py (branch synthsplit) "
                                  "not merged into this branch yet")
    from report.schema import read_area_ratios

    bench_json, area_json = _bench_and_area_files(tmp_path)
    ours = bench.area_rows(area_json, read_sections(bench_json))[1]
    theirs, _ = compare.iso_rows(read_area_ratios(area_json), bench_json)
    assert theirs == ours
