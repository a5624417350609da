"""A real sweep point with synthesis, RTL check and energy (sim/sweep_work.py's tasks and
synth/power_sweep.py), on the smallest EUREKA core, checked against synth.area, the RTL runner
and the power flow called directly; and ``pick --objective energy`` on those results.

One serial sweep (2 points: SUDS and dense mode of one 2x2 G=2 core) serves the module; the
Verilator and gate-level builds are cached in build/ (the RTL model under build/sim, the netlist's
under build/sweep-cache/power), so a second run pays only the two syntheses.
"""

import json
import tomllib

import numpy as np
import pytest

from sim import sweep, sweep_report, sweep_work
from sim.verilator import ROOT

SHARED_LIB = ROOT.parent / "shared" / "pdk" / "sky130hd_tt.lib.gz"
pytestmark = [pytest.mark.rtl,
              pytest.mark.skipif(not SHARED_LIB.is_file(),
                                 reason=f"needs the shared sky130 Liberty file {SHARED_LIB}")]

SPEC = f"""
[sweep]
name = "points"
area = true
rtl = true
energy = true
liberty = "{SHARED_LIB}"
[[engine]]
engine = "eureka"
base = "small"
[engine.grid]
rows = [2]
lanes = [2]
group = [2]
mode = ["suds", "dense"]
[[workload]]
name = "net"           # as pick names a LAYERS.json file net.json, so that it finds these results
layers = [{{ c = 8, k = 6, h = 6, r = 3, stride = 1, padding = 1, d_w = 0.3, d_a = 0.6 }}]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("points")
    spec = sweep.parse_spec(tomllib.loads(SPEC))
    doc = sweep.run_sweep(spec, sweep.Cache(tmp / "cache"), None)
    return spec, doc, tmp


def test_area_and_rtl_of_a_point_equal_the_direct_runs(swept):
    from golden import eureka as ge
    from hw.eureka.core import EurekaCore
    from sim import run_eureka
    from sim.sweep_work import config_of, layer_arrays, layers_of
    from sim.verilator import emit_verilog
    from synth import area
    spec, doc, tmp = swept
    assert [r["status"] for r in doc["rows"]] == ["ok", "ok"], [r["error"] for r in doc["rows"]]
    row = next(r for r in doc["rows"] if r["mode"] == "suds")
    cfg = config_of("eureka", row["config"])
    # area: the same core through synth.area itself
    v, _ = emit_verilog(EurekaCore(cfg), "direct_core", cfg, tmp / "verilog")
    lib = area.prepare_liberty(SHARED_LIB)
    (res,) = area.synthesize([area.Design("direct_core", v, "eureka", "engine", "", None)], lib,
                             flows=("asic",), jobs=1, work=tmp / "synth", log=lambda *_: None)
    assert not res.errors
    d = res.to_dict()
    assert row["area_um2"] == pytest.approx(d["area_um2"], rel=1e-9)
    assert row["fmax_mhz"] == pytest.approx(d["fmax_mhz"], rel=1e-9)
    assert row["area_library"] == lib.name
    # RTL: the reduced workload through the RTL runner itself (what the point says it ran)
    w, a, stride, padding = layer_arrays(layers_of(spec["workloads"][0]["workload"])[0])
    w2, a2, _ = ge.conv2d_gemm(a, w, stride, padding)
    w2 = w2[:sweep_work.RTL_MAX_K, :sweep_work.RTL_MAX_C * 9]
    a2 = a2[:sweep_work.RTL_MAX_C * 9, :2]
    out, st = run_eureka.run_gemm(w2, a2, "suds", cfg)
    np.testing.assert_array_equal(out, ge.gemm(w2, a2, acc_width=cfg.acc_width))
    assert row["rtl"]["shape"] == list(w2.shape)
    assert row["rtl"]["rtl_cycles"] == st["cycles"]
    assert row["rtl"]["model_cycles"] == ge.cycle_model(w2, a2.shape[1], "suds", cfg)["cycles"]
    assert row["rtl_cycle_exact"] is True
    dense = next(r for r in doc["rows"] if r["mode"] == "dense")
    assert dense["rtl"]["rtl_cycles"] > row["rtl"]["rtl_cycles"]   # SUDS skips the zeros
    assert dense["area_um2"] == row["area_um2"]     # one config, synthesised once


def test_energy_of_a_point_is_the_sample_power_times_the_model_cycles(swept):
    from synth import power_sweep
    spec, doc, tmp = swept
    for row in doc["rows"]:
        e = row["energy"]
        assert e["sample"]["bit_exact"] is True and e["sample"]["nets_missing"] == 0
        assert e["cycles"] == row["cycles"]
        assert row["energy_nj"] == pytest.approx(
            e["total_mw"] * 1e-3 * row["cycles"] / (e["clock_mhz"] * 1e6) * 1e9, rel=1e-9)
        # the sample's own energy is its power over its own run
        assert e["sample"]["energy_nj"] == pytest.approx(
            e["total_mw"] * 1e-3 * e["sample"]["cycles"] / (e["clock_mhz"] * 1e6) * 1e9,
            rel=1e-9)
        assert e["total_mw"] == pytest.approx(sum(e["blocks"].values()), rel=1e-6)
    suds, dense = (next(r for r in doc["rows"] if r["mode"] == m) for m in ("suds", "dense"))
    # zeros skipped: fewer cycles and less energy for the same work
    assert suds["energy_nj"] < dense["energy_nj"]
    assert suds["energy"]["sample"]["cycles"] < dense["energy"]["sample"]["cycles"]
    # the same sample through the flow directly gives the same figure (cached builds)
    p = next(q for q in sweep.expand(spec)[0] if q["point"]["mode"] == "suds")
    model = sweep_work.model_task(p["engine"], p["config"], p["point"], p["workload"])
    direct = power_sweep.sweep_energy(p["engine"], p["config"], p["point"], p["workload"], model,
                                      str(SHARED_LIB))
    assert direct["energy_nj"] == pytest.approx(suds["energy_nj"], rel=1e-9)
    # reports: the energy-vs-area front is there
    assert doc["pareto"]["net"]["cost"] == "area_um2"
    assert [b["label"] for b in doc["pareto"]["net"]["energy"]] == ["eureka 2x2 G2 suds"]
    sweep_report.write_reports(doc, tmp / "out")
    assert "Pareto front, area_um2 vs energy" in (tmp / "out" / "sweep.md").read_text()
    assert "energy_nj" in (tmp / "out" / "sweep.csv").read_text().splitlines()[0]


def test_pick_objective_energy_uses_the_energy(swept, capsys):
    from sim.cli import main
    spec, doc, tmp = swept
    (tmp / "sweep.json").write_text(json.dumps(doc, default=str))
    (tmp / "net.json").write_text(json.dumps(spec["workloads"][0]["workload"]["layers"]))
    argv = ["pick", "--network", str(tmp / "net.json"), "--from", str(tmp / "sweep.json"),
            "--serial", "--cache", str(tmp / "cache"), "--max-area", "1e9",
            "--out", str(tmp / "pick.json")]
    assert main(argv + ["--objective", "energy"]) == 0
    got = json.loads((tmp / "pick.json").read_text())
    assert got["objective"] == "energy" and got["best"]["point"]["mode"] == "suds"
    assert got["best"]["energy_nj"] < got["runner_up"]["energy_nj"]
    out = capsys.readouterr().out
    assert "nJ" in out and "0 computed" in out, out     # every figure came from the sweep
