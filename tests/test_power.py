"""Power from switching activity (synth/power.py and its modules): a register bank toggling a
known pattern against the figure computed by hand from the Liberty tables; the Liberty-made cell
models against their functions; the Liberty expression reader; zeros the EUREKA core skips do
not toggle its multipliers (RTL toggle counts from SAIF); OpenSTA's vectorless estimate beside
ours where Debian's ``sta`` is installed.

Each Verilator model is built once (cached by hash under build/power/); the designs are tiny.
"""

import os
import shutil
import types

import numpy as np
import pytest

from designs import Reg
from sim.verilator import ROOT, _locked, build_dir
from sim import native
from synth import area, liberty_power, power, power_model
from synth.sta import INPUT_SLEW_NS, lookup

SHARED_LIB = ROOT.parent / "shared" / "pdk" / "sky130hd_tt.lib.gz"
needs_lib = pytest.mark.skipif(not SHARED_LIB.is_file(),
                               reason=f"needs the shared sky130 Liberty file {SHARED_LIB}")
BITS = 16
CYCLES = 400
PATTERN = (0x5555, 0xAAAA)     # every bit toggles every cycle


@pytest.fixture(scope="module")
def lib():
    lib = area.prepare_liberty(SHARED_LIB)
    return lib, liberty_power.read_power(lib.path)


def _shared():
    """Lock of build/test_power: xdist workers synthesise and write there one at a time."""
    return _locked(build_dir() / "test_power" / ".lock")


@pytest.fixture(scope="module")
def bank(lib):
    lib, lp = lib
    job = types.SimpleNamespace(design="power_bank16", engine="common", role="block",
                                config=None, make=lambda: Reg(BITS), description="16 flops")
    with _shared():
        built = power.build_designs([job], lib, lp, log=lambda *_: None, rtl=False,
                                    work=build_dir() / "test_power")["power_bank16"]
    run_dir = build_dir() / "test_power" / "runs" / f"bank-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    res = built.gate.run([("saif", run_dir / "dump.saif"),
                          ("wave", "d", [PATTERN[k % 2] for k in range(CYCLES)]), ("saif", None)])
    nets, _ = native.read_saif(run_dir / "dump.saif")
    return built, nets, res


def _hand_figure(lp, cell, f_hz):
    """Power of BITS flip-flops whose D and Q toggle once per cycle, by hand from the tables."""
    c = lp["cells"][cell]
    v = lp["units"]["voltage"]

    def mean_rf(pairs, load=None):
        # rise and fall each once per two toggles; one table pair per pin here
        (rise, fall), = pairs
        if load is None:
            return (lookup(rise, INPUT_SLEW_NS, 0) + lookup(fall, INPUT_SLEW_NS, 0)) / 2
        return (lookup(rise, INPUT_SLEW_NS, load) + lookup(fall, INPUT_SLEW_NS, load)) / 2
    clk = 2 * (0.5 * c["inputs"]["CLK"] * v * v + mean_rf(c["in_power"]["CLK"]))
    d = 0.5 * c["inputs"]["D"] * v * v + mean_rf(c["in_power"]["D"])
    q = mean_rf(c["out_power"]["Q"]["CLK"], load=0.0)       # Q drives only the output port
    per_cycle_pj = BITS * (clk + d + q)
    leak = BITS * sum(val for _, val in c["leakage_when"]) / len(c["leakage_when"])
    return per_cycle_pj * lp["units"]["energy_j"] * f_hz, leak * lp["units"]["leak_w"]


@needs_lib
def test_register_bank_matches_hand_figure(lib, bank):
    lib, lp = lib
    built, nets, res = bank
    cells = built.net["modules"]["power_bank16"]["cells"]
    types_ = {c["type"] for c in cells.values()}
    assert len(cells) == BITS and len(types_) == 1, f"expected {BITS} identical flops: {types_}"
    cell = types_.pop()
    (a, b), = res.windows
    assert b - a == CYCLES
    f = 200e6
    got = power_model.netlist_power(built.net, "power_bank16", lp, nets, b - a, f,
                                    slews=built.slews)
    dyn, leak = _hand_figure(lp, cell, f)
    print(f"register bank: flow {got['dynamic_w'] * 1e3:.5f} mW dynamic, "
          f"{got['leakage_w'] * 1e9:.4f} nW leakage; hand {dyn * 1e3:.5f} mW, {leak * 1e9:.4f} nW")
    assert got["nets_missing"] == 0
    assert got["dynamic_w"] == pytest.approx(dyn, rel=0.01), (got["dynamic_w"], dyn)
    # every state equally likely (D, Q, CLK each half the time, independent): the mean of `when`s
    assert got["leakage_w"] == pytest.approx(leak, rel=0.01), (got["leakage_w"], leak)


@needs_lib
def test_cell_models_follow_liberty_functions(lib, bank):
    lib, lp = lib
    built = bank[0]
    common = ["sky130_fd_sc_hd__nand2_1", "sky130_fd_sc_hd__a21oi_1", "sky130_fd_sc_hd__xor2_1",
              "sky130_fd_sc_hd__mux2_1", "sky130_fd_sc_hd__maj3_1", "sky130_fd_sc_hd__o2bb2ai_1"]
    with _shared():
        cells_v, models = power.cell_models(lib, common, build_dir() / "test_power" / "models")
    got = power.check_models(models, lp, common)
    assert got["checked"] == sorted(common) and got["combinations"] == 4 + 8 + 4 + 8 + 8 + 16
    # a planted error: the checker must see a model that disagrees with its function
    bad = {**lp, "cells": {**lp["cells"]}}
    nand = dict(bad["cells"]["sky130_fd_sc_hd__nand2_1"])
    nand["functions"] = {"Y": "A&B"}
    bad["cells"]["sky130_fd_sc_hd__nand2_1"] = nand
    with pytest.raises(ValueError, match="nand2_1"):
        power.check_models(models, bad, ["sky130_fd_sc_hd__nand2_1"])
    assert built.models["sequential"] == [next(iter(built.models["sequential"]))]


def test_liberty_expressions():
    t = liberty_power.parse_bool("(A1&A2) | !B1'")
    assert liberty_power.eval_bool(t, {"A1": 1, "A2": 1, "B1": 0}) == 1
    assert liberty_power.eval_bool(t, {"A1": 1, "A2": 0, "B1": 0}) == 0
    assert liberty_power.eval_bool(liberty_power.parse_bool("A B + C"), {"A": 1, "B": 1, "C": 0}) == 1
    assert liberty_power.eval_bool(liberty_power.parse_bool("A^B"), {"A": 1, "B": 1}) == 0
    assert liberty_power.probability(liberty_power.parse_bool("!A&B"), {"A": 0.25, "B": 0.5}) \
        == pytest.approx(0.375)
    with pytest.raises(ValueError, match="Liberty expression"):
        liberty_power.parse_bool("A & (B")


@pytest.mark.rtl
def test_skipped_zero_weights_do_not_toggle_multipliers(seed):
    """Row 0 of W is all zero: EUREKA skips those weights (no slot holds one; nothing is displaced
    into the top row), so row 0's multipliers must not see a single operand change, while row 1's
    do. RTL toggle counts of the ``mul<r>`` submodules from SAIF."""
    from hw.eureka.config import EurekaConfig
    from hw.eureka.core import EurekaCore
    from sim.run_eureka import prepare_case
    from sim.verilator import emit_verilog
    cfg = EurekaConfig(rows=2, lanes=2, group=2)
    rng = np.random.default_rng(seed)
    k, n = 16, 4
    w = rng.integers(-127, 128, (2, k)) * (rng.random((2, k)) < 0.7)
    w[0] = 0
    a = rng.integers(-128, 128, (k, n))
    case, sched, golden, model, _ = prepare_case(cfg, w, a, "suds", "gate")
    work = build_dir() / "test_power"
    v, _ = emit_verilog(EurekaCore(cfg), "power_eureka_2x2", cfg, work / "verilog")
    model_ = native.build_verilog(v.read_text(), "power_eureka_2x2", trace="saif",
                                  profile="power", folder=work / "sim")
    job = types.SimpleNamespace(setup=[("feed_bg", "w", [int(x, 16) for x in case["w"]]),
                                       ("feed_bg", "a", [int(x, 16) for x in case["a"]]),
                                       ("drain", "o")],
                                finish=[("until_beats", "o", case["n_out"], 10000)],
                                peek=("busy",), expected_cycles=case["model_cycles"])
    run_dir = work / "runs" / f"eureka2x2-{seed}"
    res = model_.run(power._script(job, run_dir, 0, case["model_cycles"]))
    from hw.eureka.beats import decode_results
    out = decode_results(cfg, res.streams["o"], 2, n)
    np.testing.assert_array_equal(out, golden)
    nets, _ = native.read_saif(run_dir / "dump.saif", scopes=True)
    tog = {r: sum(tc for name, (_, _, tc) in nets.items() if name.startswith(f"mul{r}/"))
           for r in (0, 1)}
    assert any(name.startswith("mul0/") for name in nets), "no mul0 nets in the SAIF"
    assert tog[1] > 0, "row 1's multipliers never toggled: the measurement sees nothing"
    assert tog[0] == 0, f"row 0's multipliers toggled {tog[0]} times on skipped zero weights"


@needs_lib
def test_opensta_vectorless_beside_ours(lib, bank):
    if shutil.which("sta") is None:
        pytest.skip("OpenSTA (`sta`) is not on PATH (Debian: apt-get install opensta)")
    lib, lp = lib
    built, nets, res = bank
    with _shared():
        got, why = power.opensta_power(built.netlist, "power_bank16", lib, 200.0,
                                       build_dir() / "test_power" / "opensta", activity=1.0)
    assert got is not None, why
    ours = power_model.netlist_power(built.net, "power_bank16", lp, nets, CYCLES, 200e6,
                                     slews=built.slews)
    print(f"OpenSTA vectorless (input activity 1.0): {got['total_w'] * 1e3:.4f} mW; "
          f"ours (SAIF): {ours['total_w'] * 1e3:.4f} mW")
    # same cells, same tables, every input toggling every cycle: the same order of magnitude
    assert 0.3 < got["total_w"] / ours["total_w"] < 3.0


def _row(design, role, workload, total_mw, cycles, blocks, engine="eureka"):
    return {"design": design, "engine": engine, "role": role, "workload": workload,
            "cycles": cycles, "dynamic_mw": total_mw, "leakage_mw": 0.0, "total_mw": total_mw,
            "energy_nj": total_mw * cycles / 200e6 * 1e6, "pj_per_mac": 1.0, "blocks": blocks,
            "block_toggles": {}, "window_cycles": cycles, "checks": {"bit_exact": True}}


def test_report_contract_and_bench_rows(tmp_path):
    """power.json keeps the issue's contract; ratios are baseline/engine (energy) and
    engine/baseline (power); the limiting block is the one the engine spends most on; the
    bench's reproduction table reads the three energy rows from it."""
    from sim import bench
    rows = [_row("e", "engine", "gemm_dw0.2", 10.0, 100, {"multipliers": 6.0, "select muxes": 4.0}),
            _row("d", "dense-baseline", "gemm_dw0.2", 8.0, 400, {"multipliers": 8.0}),
            _row("a", "sparse-baseline", "gemm_2to4", 9.0, 200, {"multipliers": 8.0,
                                                                  "select muxes": 1.0}),
            _row("b", "engine", "vgg_layer", 2.0, 300, {"banks": 2.0}, "barista"),
            _row("bd", "dense-baseline", "vgg_layer", 1.5, 1200, {"multipliers": 1.5}, "barista")]
    lib = types.SimpleNamespace(name="lib_x", corner="tt")
    js, md = power.write_reports(rows, lib, 200.0, 1.0, tmp_path)
    import json
    doc = json.loads(js.read_text())
    assert set(doc) >= {"library", "clock_mhz", "designs", "comparisons"}
    assert set(doc["designs"][0]) >= {"design", "workload", "cycles", "dynamic_mw", "leakage_mw",
                                      "total_mw", "energy_nj", "pj_per_mac", "blocks"}
    c = doc["comparisons"]
    from report.power import COMPARISONS, read_power_comparisons
    from report.schema import ReportError
    assert set(c) == {"eureka_vs_dense_energy", "eureka_vs_ampere24_energy",
                      "eureka_vs_ampere24_power", "sparten_vs_dense_energy",
                      "barista_vs_dense_energy"} == set(COMPARISONS)
    assert c["barista_vs_dense_energy"] == pytest.approx(1.5 * 1200 / (2.0 * 300))
    read = read_power_comparisons(js)
    assert read["barista_vs_dense_energy"].value == pytest.approx(3.0)
    assert read["barista_vs_dense_energy"].engine == "b / vgg_layer"
    assert read["sparten_vs_dense_energy"] is None
    # the strict reader: a power.json without the BARISTA comparison is refused, naming it
    bad = json.loads(js.read_text())
    del bad["comparisons"]["barista_vs_dense_energy"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ReportError, match="barista_vs_dense_energy"):
        read_power_comparisons(tmp_path / "bad.json")
    assert c["eureka_vs_dense_energy"] == pytest.approx(8.0 * 400 / (10.0 * 100))
    assert c["eureka_vs_ampere24_energy"] == pytest.approx(9.0 * 200 / (10.0 * 100))
    assert c["eureka_vs_ampere24_power"] == pytest.approx(10.0 / 9.0)
    assert c["sparten_vs_dense_energy"] is None
    det = doc["comparison_details"]["eureka_vs_ampere24_power"]
    assert det["met"] is True and det["limiting_block"] == "select muxes"
    # energy vs dense, target 3.2: multipliers 6x100 against a budget of 8x400/3.2 = 1000 (under),
    # select muxes 4x100 against 0 (over): the muxes limit it
    assert doc["comparison_details"]["eureka_vs_dense_energy"]["limiting_block"] == "select muxes"
    assert "| energy, dense core / EUREKA (d_w 0.2) |" in md.read_text()
    assert (tmp_path / "power.png").read_bytes()[:4] == b"\x89PNG"
    got = {r["id"]: r["ours"] for r in bench.reproduction_rows({}, [], js)}
    assert got["eureka_energy_vs_dense"] == pytest.approx(3.2)
    assert got["eureka_power_vs_ampere"] == pytest.approx(10.0 / 9.0 - 1)
    assert all(r["ours"] is None for r in bench.reproduction_rows({}, [], tmp_path / "none.json")
               if r["id"] in bench.POWER_KEYS)


def test_cli_rejects_bad_options(capsys):
    from sim import cli
    assert cli.main(["power", "--clock-mhz", "0"]) == 2
    assert "--clock-mhz" in capsys.readouterr().err
    assert cli.main(["power", "--window", "3"]) == 2
    assert "--window" in capsys.readouterr().err
    assert cli.main(["power", "--no-eureka", "--no-sparten"]) == 2
    assert "nothing to measure" in capsys.readouterr().err
    assert cli.main(["power", "--rows", "0"]) == 2
    assert "rows" in capsys.readouterr().err


def test_barista_job_checks_results_order_and_counters():
    """The BARISTA power job: its config maps every memory to cells (no macro), the dense
    baseline runs the same tensors, and its check passes the golden trace's own outcome and
    fails a wrong value, a wrong drain order and a wrong counter (runs faked from
    golden.barista.cluster_trace; the netlist runs are make power's)."""
    from hw.barista.outbuf import write_layout
    from hw.barista.tops import DENSE_BASELINE
    from synth import power_work
    from synth.yosys import MACRO_MIN_DEPTH
    engine, dense = power_work.barista_jobs()
    cfg = engine.config
    assert cfg.input_buffer_chunks // cfg.banks <= MACRO_MIN_DEPTH
    assert cfg.output_buffer_entries <= MACRO_MIN_DEPTH
    assert dense.design == "barista_dense_array" and dense.config == DENSE_BASELINE
    assert (engine.macs, engine.dense_macs) == (dense.macs, dense.dense_macs)
    w, a, _, _ = power_work._sparten_layer(cfg, power_work.BARISTA_LAYER, power_work.SEED)
    want = power_work.barista_trace(w, a, cfg)
    assert engine.expected_cycles == want["cycles"]
    wl = write_layout(cfg)

    def fake(out, **counters):
        peeked = {k: [counters.get(k, want[k])] for k in ("cycles", "reads", "requests")}
        beats = [wl.const({"colour": c, "addr": ad, "value": v}).as_value().value
                 for c, ad, v in out]
        return types.SimpleNamespace(streams={"o": beats}, peeked=peeked)
    out = list(want["out"])
    got = engine.check(fake(out))
    assert got["bit_exact"] and got["busy_cycles"] == want["cycles"] == got["model_cycles"]
    c, ad, v = out[5]
    with pytest.raises(AssertionError, match=r"output \[.*\] = .*, golden"):
        engine.check(fake(out[:5] + [(c, ad, v + 1)] + out[6:]))
    with pytest.raises(AssertionError, match="drained as"):
        engine.check(fake(out[1:] + out[:1]))
    with pytest.raises(AssertionError, match="counters"):
        engine.check(fake(out, reads=want["reads"] + 1))
