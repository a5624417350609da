"""``sparse-hw bench``: report plumbing on a fake section, and the real sections in quick mode."""

import importlib
import inspect
import io
import json

import pytest

from sim import bench

FAKE_SPARTEN = {"headline": {"speedup_vs_dense": 3.9, "speedup_vs_onesided": 1.7,
                             "workload": "VGG-16 conv layers (Han et al. densities)"},
                "rtl_checked": [{"layer": "conv1_1 reduced", "equal": True}],
                "plots": [{"name": "layers", "x": ["a", "b"], "series": {"ours": [1.0, 2.0]},
                           "title": "t", "kind": "bar"}]}
FAKE_EUREKA = {"summary": {"speedup_over_dense": 4.1, "speedup_over_2to4": 2.05},
               "rtl_checked": {"all_equal": False}}
FAKE_BARISTA = {"headline": {"speedup_vs_dense": 5.0, "speedup_vs_onesided": 2.0,
                             "speedup_vs_naive_sparten": 1.5, "speedup_vs_isoarea_sparten": None}}
FAKE_AREA = {"designs": [
    {"design": "sparten_cluster", "library": "sky130", "area_um2": 2000.0},
    {"design": "sparten_dense", "library": "sky130", "area_um2": 1000.0},
    {"design": "eureka_core", "library": "sky130", "area_um2": 1100.0},
    {"design": "eureka_dense", "library": "sky130", "area_um2": 800.0},
    {"design": "eureka_ampere24", "library": "sky130", "area_um2": 1000.0},
]}


def _fake_sections():
    return {
        "sparten": {"markdown": "sparten table", "data": FAKE_SPARTEN,
                    "rtl_checked": bench._rtl_checked(FAKE_SPARTEN)},
        "eureka": {"markdown": "eureka table", "data": FAKE_EUREKA,
                   "rtl_checked": bench._rtl_checked(FAKE_EUREKA)},
        "barista": {"markdown": "barista table", "data": FAKE_BARISTA, "rtl_checked": None},
    }


def test_report_from_fake_sections_and_area(tmp_path):
    (tmp_path / "area.json").write_text(json.dumps(FAKE_AREA))
    sections = _fake_sections()
    assert sections["sparten"]["rtl_checked"] is True
    assert sections["eureka"]["rtl_checked"] is False
    area = bench.load_area(tmp_path / "area.json")
    ours = {k: bench._lookup(sections[k.split("_")[0]]["data"], *p)
            for k, p in bench.OURS_PATHS.items()}
    assert ours == {"sparten_vs_dense": 3.9, "sparten_vs_onesided": 1.7,
                    "eureka_vs_dense": 4.1, "eureka_vs_2to4": 2.05,
                    "barista_vs_dense": 5.0, "barista_vs_onesided": 2.0, "barista_vs_naive": 1.5,
                    "barista_vs_isoarea": None}
    iso = bench.iso_area(area, ours)
    by = {(r["engine"], r["baseline"]): r for r in iso}
    assert by[("SparTen", "sparten_dense")]["iso_area_speedup"] == pytest.approx(3.9 / 2.0)
    assert by[("EUREKA", "eureka_dense")]["iso_area_speedup"] == pytest.approx(4.1 / 1.375)
    assert by[("EUREKA", "eureka_ampere24")]["area_ratio"] == pytest.approx(1.1)
    repro = bench.reproduction_rows(sections, iso)
    got = {r["id"]: r["ours"] for r in repro}
    assert got["sparten_vs_dense"] == 3.9 and got["eureka_vs_2to4"] == 2.05
    assert got["barista_vs_naive"] == 1.5 and got["barista_vs_isoarea"] is None
    assert got["eureka_area_vs_ampere"] == pytest.approx(0.1)
    plots = bench._plots(tmp_path, sections, iso, repro)
    assert {"bench_reproduction.png", "bench_iso_area.png", "bench_sparten_layers.png"} <= set(plots)
    for p in plots:
        assert (tmp_path / p).read_bytes()[:4] == b"\x89PNG"
    speed = [{"engine": "SparTen", "workload": "w", "cycles": 1000, "macs": 5000, "seconds": 2.0,
              "cycles_per_s": 500.0, "macs_per_s": 2500.0, "bit_exact": True}]
    md_path, js_path = bench.write_report(tmp_path, sections, tmp_path / "area.json", iso, repro,
                                          speed, plots, 1.0, quick=True)
    md = md_path.read_text()
    assert "| SparTen | speed-up over dense | 4.70x |" in md
    assert "3.90x" in md and "+10.0%" in md and "| yes |" in md and "| NO |" in md
    assert "iso-area" in md and "2.50 k" in md and "sparten table" in md
    data = json.loads(js_path.read_text())
    assert data["sections"]["sparten"]["data"]["headline"]["speedup_vs_dense"] == 3.9
    assert "markdown" not in data["sections"]["sparten"]


def test_report_without_area_says_run_make_area(tmp_path):
    sections = {"sparten": {"error": "sim.bench_sparten not written yet", "data": {},
                            "rtl_checked": None}}
    repro = bench.reproduction_rows(sections, [])
    md, _ = bench.write_report(tmp_path, sections, None, [], repro, [], [], 0.5, quick=False)
    text = md.read_text()
    assert "run `make area` first" in text
    assert "Section not available" in text
    assert all(r["ours"] is None for r in repro)


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
def test_real_section_quick(name, modname):
    """The real section in its reduced mode returns markdown + data and says what it checked."""
    mod = importlib.import_module(modname)
    params = inspect.signature(mod.section).parameters
    if "quick" not in params:
        pytest.skip(f"{modname}.section has no quick mode; the full section runs in make bench")
    lines = []
    (md, data), used_quick = bench._call_section(mod, lambda *a, **k: lines.append(a), True)
    assert used_quick and md.strip() and isinstance(data, dict)
    assert bench._rtl_checked(data) is not False, f"{name}: cycle model disagrees with the RTL"
    json.dumps(data, default=bench._json_default)


def test_iso_area_uses_the_pairs_make_area_compared(tmp_path):
    """area.json's ``comparisons`` decide the pairs; EUREKA takes the speed-up at the core's G."""
    doc = {"designs": [
        {"design": "eureka_core", "config": {"group": 8, "variant": "eureka"}, "area_um2": 1200.0},
        {"design": "eureka_dense", "config": {"group": 1, "variant": "dense"}, "area_um2": 1000.0},
        {"design": "eureka_ampere24", "config": {"group": 4, "variant": "ampere24"},
         "area_um2": 1100.0}],
        "comparisons": [
            {"engine": "eureka", "design": "eureka_core", "baseline": "eureka_dense",
             "metric": "area_um2", "area_ratio": 1.2},
            {"engine": "eureka", "design": "eureka_core", "baseline": "eureka_ampere24",
             "metric": "area_um2", "area_ratio": 1200.0 / 1100.0}]}
    (tmp_path / "area.json").write_text(json.dumps(doc))
    sections = {"eureka": {"data": {
        "headline": {"density": 0.2, "group": 16, "speedup_vs_dense": 9.9,
                     "speedup_vs_2to4": 9.9},
        "unstructured": [{"group": 8, "density": 0.2, "suds": 3.0},
                         {"group": 16, "density": 0.2, "suds": 4.0}]}}}
    area = bench.load_area(tmp_path / "area.json")
    rows = bench.iso_area(area, {"eureka_vs_dense": 9.9, "eureka_vs_2to4": 9.9}, sections)
    assert [r["baseline"] for r in rows] == ["eureka_dense", "eureka_ampere24"]
    assert rows[0]["speedup"] == 3.0 and rows[0]["iso_area_speedup"] == pytest.approx(2.5)
    assert rows[1]["speedup"] == 1.5
    assert rows[1]["iso_area_speedup"] == pytest.approx(1.5 / (12 / 11))
    repro = bench.reproduction_rows(sections, rows)
    assert next(r for r in repro if r["id"] == "eureka_area_vs_ampere")["ours"] == \
        pytest.approx(12 / 11 - 1)
    # the headline itself when it was measured at the synthesised core's G
    sections["eureka"]["data"]["headline"]["group"] = 8
    rows = bench.iso_area(area, {}, sections)
    assert rows[0]["speedup"] == 9.9 and rows[0]["iso_area_speedup"] == pytest.approx(9.9 / 1.2)
