"""Synthesis reports (synth/area.py, synth/sta.py): a tiny design whose numbers are known, the fast
regression subset (small configs of every registered top) against synth/baselines/*.json with
per-metric tolerances, the report files, and the command line's errors.

The Yosys runs of this file are shared by every pytest-xdist worker: the first one synthesises under
a file lock and caches the results in build/test_area/ (keyed by the Verilog, the Liberty file and
synth/*.py), the others read them. Regenerate the baselines after an intended change with
``UPDATE_BASELINES=1 .venv/bin/python -m pytest tests/test_area.py -n0``.
"""

import dataclasses
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from designs import Reg
from hw.top import block_table
from report.area import read_area_designs
from report.schema import (Headline, PairSpeedup, RtlCheck, Section, read_area_ratios,
                           write_json)
from sim.verilator import ROOT, build_dir, emit_verilog
from synth import area

SHARED_LIB = ROOT.parent / "shared" / "pdk" / "sky130hd_tt.lib.gz"
BASELINES = ROOT / "synth" / "baselines"
WORK = build_dir() / "test_area"
needs_lib = pytest.mark.skipif(
    not SHARED_LIB.is_file(),
    reason=f"the area tests need the shared sky130 Liberty file {SHARED_LIB} "
           "(../shared/pdk/sky130hd_tt.lib.gz beside the repo), which is not there")

REG_BITS = 12


def _shrink(config):
    """A small config of the same kind (the fast subset), or None when unknown."""
    kind = type(config).__name__
    if hasattr(config, "rows") and hasattr(config, "lanes"):
        return dataclasses.replace(config, rows=2, lanes=4)
    if kind == "SparTenConfig":
        from hw.sparten.config import SMALL
        return dataclasses.replace(SMALL, n_units=2)
    if kind == "DenseMacConfig":
        return dataclasses.replace(config, n_units=2, chunk=8, acc_width=20)
    return None


def small_designs():
    """``[(Design, component)]`` of the fast subset: the register and a small copy of every top."""
    from hw.top import all_tops
    out = [(area.Design("area_reg12", None, "common", "block", f"{REG_BITS}-bit register", None),
            Reg(REG_BITS), None)]
    seen = set()
    for t in all_tops():
        cfg = _shrink(t.config)
        # engines and baselines only; two tops that shrink to the same design are built once
        if cfg is None or t.role == "block" or (t.build, cfg) in seen:
            continue
        seen.add((t.build, cfg))
        out.append((area.Design(f"small_{t.name}", None, t.engine, t.role, t.description,
                                cfg.to_dict()), t.build(cfg), cfg))
    return out


def _digest(paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def lib():
    if not SHARED_LIB.is_file():
        pytest.skip(f"no shared Liberty file {SHARED_LIB}")
    return area.prepare_liberty(SHARED_LIB)


@pytest.fixture(scope="session")
def fast_results(lib):
    """area.json-style dicts of the fast subset, synthesised once for all xdist workers."""
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        vdir = WORK / "verilog"
        designs = []
        for d, comp, cfg in small_designs():
            v, _ = emit_verilog(comp, d.name, cfg, vdir)
            d.verilog = v
            designs.append(d)
        # the flow (every synth/ module) and the engines' block tables decide the results
        key = _digest([d.verilog for d in designs] + [lib.path]
                      + sorted((ROOT / "synth").glob("*.py"))
                      + sorted((ROOT / "hw").glob("*/blocks.py")))
        cache = WORK / "results.json"
        if cache.exists():
            got = json.loads(cache.read_text())
            if got.get("key") == key:
                return got["designs"], designs
        # FPGA flow only where it is cheap; make area runs it for every full-size top.
        fpga = {"area_reg12", "small_sparten_dense_mac"}
        res = area.synthesize([d for d in designs if d.name in fpga], lib, jobs=2,
                              work=WORK / "synth", log=lambda *_: None)
        res += area.synthesize([d for d in designs if d.name not in fpga], lib, jobs=2,
                               flows=("asic",), work=WORK / "synth", log=lambda *_: None,
                               blocks_for={"small_eureka_core"})
        order = {d.name: k for k, d in enumerate(designs)}
        res.sort(key=lambda r: order[r.design.name])
        dicts = [r.to_dict() for r in res]
        for r, dct in zip(res, dicts):
            dct["_modules"] = r.numbers.get("modules", [])
        cache.write_text(json.dumps({"key": key, "designs": dicts}, indent=1))
        return dicts, designs


def _by_name(results):
    return {d["design"]: d for d in results[0]}


@needs_lib
def test_register_numbers_are_exact(fast_results, lib):
    """An N-bit register without reset is N D flip-flops: N cells, N x the cell's area, N FPGA FFs
    and no LUT; its critical path is one clock-to-Q or one setup time."""
    from synth.sta import read_liberty
    d = _by_name(fast_results)["area_reg12"]
    assert not d["errors"], d["errors"]
    cells = read_liberty(lib.path)
    flops = [n for n, c in cells.items() if c["seq"] and n.endswith("dfxtp_1")]
    assert d["cells"] == REG_BITS
    assert d["area_um2"] == pytest.approx(REG_BITS * cells[flops[0]]["area"], rel=1e-9)
    assert d["seq_area_um2"] == pytest.approx(d["area_um2"], rel=1e-9)
    assert (d["ffs"], d["luts"], d["dsps"]) == (REG_BITS, 0, 0)
    assert d["library"] == "sky130_fd_sc_hd__tt_025C_1v80" and "25 C" in d["corner"]
    assert 0.05 < d["critical_path_ns"] < 1.0
    assert d["logic_depth"] == 0
    # stat -tech cmos: a generic $_DFF_P_ is 16 transistors in Yosys' cost table, whatever the count
    assert d["transistors"] % REG_BITS == 0 and d["transistors"] > 0


@needs_lib
def test_fast_subset_synthesises_every_top(fast_results):
    results, designs = fast_results
    for d in results:
        assert not d["errors"], f"{d['design']}: {d['errors']}"
        assert d["area_um2"] > 0 and d["cells"] > 0 and d["transistors"] > 0, d["design"]
        assert d["critical_path_ns"] is None or d["critical_path_ns"] > 0
        shares = sum(v["share"] for v in d["blocks"].values())
        assert shares == pytest.approx(1.0), d["design"]
        # the per-module areas add up to Yosys' own hierarchical total
        mods = d["_modules"]
        assert sum(m["area_um2"] * m["instances"] for m in mods) == pytest.approx(d["area_um2"])


@needs_lib
def test_dense_mac_blocks_and_fpga(fast_results):
    d = _by_name(fast_results).get("small_sparten_dense_mac")
    if d is None:
        pytest.skip("sparten_dense_mac is not registered")
    # 2 units: two MAC modules, classified as MAC, and one DSP48 each on the FPGA
    assert d["blocks"]["MAC"]["share"] > 0.1
    assert d["dsps"] == 2
    # filter chunks + activation chunk (the accumulators may sit in the DSP48s' P registers)
    assert d["ffs"] >= 2 * 8 * 8 + 8 * 8


@needs_lib
def test_eureka_blocks(fast_results):
    """The EUREKA core's per-row submodules give the issue's categories (select muxes, SUDS
    steering, reduction trees) directly; the blocks flow splits what the core module keeps."""
    d = _by_name(fast_results).get("small_eureka_core")
    if d is None:
        pytest.skip("eureka_core is not registered")
    assert d["blocks_source"].startswith("blocks flow")
    for cat in ("select muxes", "SUDS steering", "SUDS moved-product trees", "reduction trees",
                "multipliers", "registers (pipeline, accumulators)"):
        assert d["blocks"][cat]["share"] > 0.01, (cat, d["blocks"])
    assert abs(d["blocks_total_vs_headline"]) < 0.2


@needs_lib
def test_shared_units_counted_per_instance(fast_results):
    """The cluster top instances one compute-unit module n_units times: the breakdown counts its
    area once per instance, and the inner join's prefix sums and priority encoder are blocks."""
    d = _by_name(fast_results).get("small_sparten_cluster")
    if d is None:
        pytest.skip("sparten_cluster is not registered")
    mods = {m["module"]: m for m in d["_modules"]}
    cu = mods["small_sparten_cluster.cu"]
    assert cu["instances"] == d["config"]["n_units"] == 2
    assert sum(m["area_um2"] * m["instances"] for m in mods.values()) == \
        pytest.approx(d["area_um2"])
    for cat in ("prefix sums", "priority encoder"):       # small at chunk 8, but their own blocks
        assert d["blocks"][cat]["share"] > 0.002, (cat, d["blocks"])


def _baseline_path(name):
    return BASELINES / f"{name}.json"


@needs_lib
def test_baselines(fast_results):
    """Every metric within its tolerance of synth/baselines/<design>.json."""
    results, _ = fast_results
    update = os.environ.get("UPDATE_BASELINES", "") not in ("", "0")
    problems, missing = [], []
    for d in results:
        path = _baseline_path(d["design"])
        if update:
            BASELINES.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(area.baseline_of(d), indent=2) + "\n")
            continue
        if not path.exists():
            missing.append(d["design"])
            continue
        base = json.loads(path.read_text())
        if base.get("config") != d["config"]:
            # a silent skip here left baselines uncompared for a session: a changed config fails
            problems.append(f"{d['design']}: config differs from its baseline's")
            continue
        problems += area.check_baseline(d, base)
    assert not problems, "; ".join(problems) + \
        " (if intended: UPDATE_BASELINES=1 python -m pytest tests/test_area.py -n0)"
    if missing:
        pytest.skip(f"no baseline yet for {missing}; create with UPDATE_BASELINES=1")


def test_check_baseline_can_fail():
    base = {"metrics": {"area_um2": {"value": 100.0, "rel_tol": 0.1},
                        "ffs": {"value": 12, "rel_tol": 0.0}}}
    assert area.check_baseline({"design": "x", "area_um2": 109.0, "ffs": 12}, base) == []
    bad = area.check_baseline({"design": "x", "area_um2": 120.0, "ffs": 13}, base)
    assert len(bad) == 2 and "area_um2" in bad[0] and "ffs" in bad[1]
    # an asic-only run (--no-fpga) compares no FPGA metric, and does not call them missing
    assert area.check_baseline({"design": "x", "area_um2": 109.0}, base, flows={"asic"}) == []
    assert "ffs missing" in area.check_baseline({"design": "x", "area_um2": 109.0}, base)[0]


def test_baseline_update_keeps_metrics_of_flows_not_run(tmp_path):
    from types import SimpleNamespace
    (tmp_path / "x.json").write_text(json.dumps({
        "design": "x", "config": None, "library": "L",
        "metrics": {"area_um2": {"value": 100.0, "rel_tol": 0.1}, "ffs": {"value": 12, "rel_tol": 0}}}))
    r = SimpleNamespace(errors=[], seconds={"asic": 1.0},
                        to_dict=lambda: {"design": "x", "config": None, "library": "L",
                                         "area_um2": 200.0, "ffs": None})
    assert area.compare_baselines([r], folder=tmp_path) == [
        "x: area_um2 200 vs baseline 100 (tolerance 10%)"]
    area.compare_baselines([r], update=True, folder=tmp_path)
    got = json.loads((tmp_path / "x.json").read_text())["metrics"]
    assert got == {"area_um2": {"value": 200.0, "rel_tol": 0.1}, "ffs": {"value": 12, "rel_tol": 0}}


@needs_lib
def test_reports(fast_results, lib, tmp_path):
    results, designs = fast_results
    # Rebuild SynthResult objects from the cached dicts only as far as reports need them.
    res = []
    for d, design in zip(results, designs):
        r = area.SynthResult(design, lib)
        r.numbers = {k: d[k] for k in ("area_um2", "cells", "transistors", "luts", "ffs", "dsps",
                                       "critical_path_ns", "fmax_mhz", "logic_depth",
                                       "memory_macro_bits", "blocks")}
        r.numbers["block_groups"] = d["block_groups"]
        r.numbers["modules"] = d["_modules"]
        res.append(r)
    out = WORK / f"reports-{os.getpid()}"
    js, md = area.write_reports(res, lib, out, bench_path=tmp_path / "no_bench.json")
    doc = json.loads(js.read_text())
    for d in doc["designs"]:
        for key in ("design", "library", "area_um2", "cells", "transistors", "luts", "ffs", "dsps",
                    "critical_path_ns"):
            assert key in d, key
    text = md.read_text()
    assert "sky130_fd_sc_hd__tt_025C_1v80" in text and "small_sparten_dense_mac" in text
    # the strict readers of the schema take the file as written
    designs_back = read_area_designs(js)
    assert designs_back["small_sparten_dense_mac"].area_um2 == \
        _by_name(fast_results)["small_sparten_dense_mac"]["area_um2"]
    ratios = read_area_ratios(js)
    eng = [c for c in ratios if c.engine == "eureka"]
    if any(d.design.engine == "eureka" and d.design.role == "engine" for d in res):
        assert eng and all(c.area_ratio > 0 for c in eng)
        assert {(c.design, c.baseline) for c in eng} == {
            ("small_eureka_core", "small_eureka_dense"), ("small_eureka_core", "small_eureka_ampere24")}
    # the layer's cluster on its own against the dense MAC array of as many MACs (SparTen's table)
    assert any(c.design == "small_sparten_layer/cluster" for c in ratios)
    # no bench report: every iso-area row says so, none has a speed-up
    assert len(doc["iso_area"]) == len(ratios)
    assert all(r["speedup"] is None and "run make bench" in r["missing"] for r in doc["iso_area"])
    # every module of every small top is named by its engine's block table
    assert doc["unnamed_modules"] == []
    for engine, names in doc["unmatched_blocks"].items():
        assert set(names) <= {b.name for b in block_table(engine).blocks}


def test_generic_flow_without_liberty():
    """No Liberty file: no µm², no ns; generic gates, the transistor estimate and logic depth."""
    work = WORK / f"generic-{os.getpid()}"
    v, _ = emit_verilog(Reg(4), "area_reg4", None, work)
    d = area.Design("area_reg4", v)
    (r,) = area.synthesize([d], None, jobs=1, flows=("asic",), work=work, log=lambda *_: None)
    out = r.to_dict()
    assert not out["errors"], out["errors"]
    assert out["area_um2"] is None and out["critical_path_ns"] is None and out["library"] is None
    assert out["cells"] == 4 and out["transistors"] > 0 and out["logic_depth"] == 0


#: (module path under top "t", engine, "==" or "prefix", expected category). The paths are the
#: engines' real submodule names (hw/<engine>/blocks.py); a carved part ``<module>_<kind>`` is
#: what the blocks flow cuts out of a module.
CLASSIFY_CASES = [
    ("t.cluster.cu3.join.prefix_a2", "sparten", "==", "prefix sums"),
    ("t.cu3.join.prio1", "sparten", "==", "priority encoder"),
    ("t.cu3.mul0", "sparten", "==", "MAC"),
    ("t.mac3", "sparten", "==", "MAC"),
    ("t.unperm", "sparten", "==", "permutation"),
    ("t", "sparten", "==", area.OTHER),
    ("t.core.suds2", "eureka", "==", "SUDS steering"),
    ("t.core.own_tree2", "eureka", "==", "reduction trees"),
    ("t.mov_tree3", "eureka", "==", "SUDS moved-product trees"),
    ("t.own_tree3", "eureka", "==", "reduction trees"),
    ("t.sel5", "eureka", "==", "select muxes"),
    ("t.suds1", "eureka", "==", "SUDS steering"),
    ("t.mul0", "eureka", "==", "multipliers"),
    ("t.mul0_mul", "eureka", "==", "multipliers"),
    ("t_add", "eureka", "==", "accumulators (adders)"),
    ("t.core_regs", "eureka", "==", "registers (pipeline, accumulators)"),
    ("t.cu.join.prefix_f0", "sparten", "==", "prefix sums"),
    ("t.cu.join.prefix_a1_add", "sparten", "==", "prefix sums"),
    ("t.cu.join.prio0", "sparten", "==", "priority encoder"),
    ("t.cu.join_regs", "sparten", "prefix", "buffers"),
    ("t.cu_mux", "sparten", "==", "compute unit: operand select muxes"),
    ("t.cluster_mux", "sparten", "==", "muxes"),
    ("t.cluster.cu7", "sparten", "prefix", "compute unit"),
    ("t.cluster.cu7.join", "sparten", "prefix", "inner join"),
    ("t.cluster.cu7.not_a_block", "sparten", "prefix", "compute unit"),
    ("t.not_a_block", "sparten", "==", area.OTHER),
    ("t.outpath.encoder", "sparten", "==", "output path"),
    ("t.sequencer", "sparten", "==", "sequencer"),
    ("t.core.sel1", "eureka", "==", "select muxes"),
    ("t.dispatch", "barista", "==", "dispatcher"),
    ("t.cu2.join.prio0", "barista", "==", "priority encoder"),
    ("t.prefix_f0", "common", "==", "prefix sums"),
    ("t.cu.join.prefix_a0_3", "sparten", "==", "prefix sums"),     # lane 0, group 3
    ("t.cluster1.bank0", "barista", "==", "chunk fetch"),
    ("t.cluster1.cu3.mul0", "barista", "==", "MAC"),
]


@pytest.mark.parametrize("path, engine, how, expected", CLASSIFY_CASES)
def test_classify_blocks(path, engine, how, expected):
    got = area.classify(path, "t", engine)
    if how == "==":
        assert got == expected
    else:
        assert got.startswith(expected), got


def test_find_liberty(tmp_path, monkeypatch):
    f = tmp_path / "x.lib"
    f.write_text('library ("demo") { }\n')
    assert area.find_liberty(str(f), {}) == f.resolve()
    assert area.find_liberty(None, {"SPARSE_HW_LIBERTY": str(f)}) == f.resolve()
    assert area.find_liberty("none", {"SPARSE_HW_LIBERTY": str(f)}) is None
    with pytest.raises(FileNotFoundError, match="nope"):
        area.find_liberty(str(tmp_path / "nope.lib"), {})
    pdk = tmp_path / "pdk"
    (pdk / area.SKY130_PDK_LIB).parent.mkdir(parents=True)
    (pdk / area.SKY130_PDK_LIB).write_text('library ("sky130_fd_sc_hd__tt_025C_1v80") { }\n')
    assert area.find_liberty(None, {"PDK_ROOT": str(pdk)}) == (pdk / area.SKY130_PDK_LIB).resolve()


def test_cli_errors_are_one_line(tmp_path):
    for argv in (["area", "--liberty", str(tmp_path / "missing.lib")],
                 ["area", "--top", "no_such_top"], ["area", "--jobs", "0"]):
        r = subprocess.run([sys.executable, "-m", "sim.cli", *argv], capture_output=True,
                           text=True, cwd=ROOT)
        assert r.returncode == 2, (argv, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def _result(name, engine, role, config, area_um2, critical_path_ns=None, modules=()):
    r = area.SynthResult(area.Design(name, None, engine, role, "", config))
    r.numbers = {"area_um2": area_um2, "cells": 10, "critical_path_ns": critical_path_ns,
                 "modules": list(modules)}
    return r


def test_iso_area_rows_from_bench_headlines(tmp_path):
    """area.json's iso-area rows are report.schema.iso_area of synth's ratios and the bench's pair
    speed-ups; a pair without a bench speed-up, no bench report or an old-shape one gives a row
    without a speed-up that says why (no other source of speed-ups)."""
    size = {"rows": 8, "lanes": 32}
    core = _result("eureka_core", "eureka", "engine", size, 150.0, 4.0)
    dense = _result("eureka_dense", "eureka", "dense-baseline", size, 100.0, 3.2)
    amp = _result("eureka_ampere24", "eureka", "sparse-baseline", size, 120.0)
    small = _result("eureka_dense_4x8", "eureka", "dense-baseline", {"rows": 4, "lanes": 8}, 9.0)
    ratios, skipped = area.area_ratios([core, dense, amp, small])
    assert [(r.design, r.baseline) for r in ratios] == [("eureka_core", "eureka_dense"),
                                                        ("eureka_core", "eureka_ampere24")]
    assert ratios[0].area_ratio == 1.5 and ratios[0].critical_path_ratio == pytest.approx(1.25)
    assert ratios[1].critical_path_ratio is None and skipped == []
    rows, _ = area.iso_rows(ratios, tmp_path / "bench.json")
    assert [r.speedup for r in rows] == [None, None]
    assert all("run make bench" in r.missing for r in rows)
    head = Headline("eureka", "GEMM", {"speedup_vs_dense": 4.8, "speedup_vs_2to4": 2.4},
                    pairs=[PairSpeedup("eureka_core", "eureka_dense", 4.8, "GEMM d_w 0.2")])
    write_json(tmp_path / "bench.json", {"sections": {
        "eureka": Section("eureka", "", head, RtlCheck([], "none"), {}, 0.0)}})
    rows, _ = area.iso_rows(ratios, tmp_path / "bench.json")
    assert rows[0].iso_area_speedup == pytest.approx(4.8 / 1.5)
    assert rows[0].speedup_workload == "GEMM d_w 0.2" and rows[0].missing is None
    # the headline's speedup_vs_2to4 is not a pair speed-up of these two tops: no value
    assert rows[1].speedup is None and rows[1].iso_area_speedup is None
    assert "no speed-up of eureka_core over eureka_ampere24" in rows[1].missing
    (tmp_path / "bench.json").write_text(json.dumps(
        {"sections": {"eureka": {"headline": {"speedup_vs_dense": 4.8}}}}))
    rows, _ = area.iso_rows(ratios, tmp_path / "bench.json")
    assert all(r.speedup is None and "missing field" in r.missing for r in rows)


def test_pairs_follow_the_engine_tables():
    """Pairs by role and the table's size fields, the table's explicit pairs, and its subtrees
    (the layer's cluster on its own); a pair without an area is skipped with the reason."""
    mods = [{"module": "sparten_layer", "instances": 1, "cells": 5, "area_um2": 100.0},
            {"module": "sparten_layer.cluster", "instances": 1, "cells": 5, "area_um2": 50.0},
            {"module": "sparten_layer.cluster.cu", "instances": 4, "cells": 5, "area_um2": 25.0}]
    layer = _result("sparten_layer", "sparten", "engine", {"n_units": 4}, 250.0, modules=mods)
    mac = _result("sparten_dense_mac", "sparten", "dense-baseline", {"n_units": 4}, 100.0)
    unit = _result("sparten_dense_unit", "sparten", "dense-baseline", {"n_units": 1}, 10.0)
    cu = _result("sparten_cu", "sparten", "block", {"n_units": 32}, 30.0)
    broken = _result("sparten_cluster", "sparten", "engine", {"n_units": 1}, None)
    broken.numbers["cells"] = None            # its synthesis failed
    ratios, skipped = area.area_ratios([layer, mac, unit, cu, broken])
    assert {(r.design, r.baseline): r.area_ratio for r in ratios} == {
        ("sparten_layer", "sparten_dense_mac"): 2.5,
        ("sparten_layer/cluster", "sparten_dense_mac"): 1.5,
        ("sparten_cu", "sparten_dense_unit"): 3.0}
    assert skipped == [("sparten_cluster", "sparten_dense_unit",
                        "no cells of sparten_cluster (synthesis failed?)")]


def test_block_rule_matching_nothing_is_reported():
    """A table entry that names no module of the run's designs is listed, and so is a module that
    no entry names (it would otherwise fall silently into control/other)."""
    mods = [{"module": m} for m in ("e", "e.mul0", "e.sel0", "e.own_tree0", "e.mov_tree1",
                                    "e.suds1", "e.share0", "e.mul0_mul", "e_regs", "e.extra0")]
    assert area.unmatched_blocks([("e", "eureka", mods)]) == {"eureka": ["core"]}
    assert area.unnamed_modules([("e", "eureka", mods)]) == ["e.extra0"]
    gemm = [{"module": m} for m in ("g", "g.core", "g.core.mul0", "g.core.sel0", "g.core.suds1",
                                    "g.core.own_tree0", "g.core.mov_tree1", "g.core.share0")]
    assert area.unmatched_blocks([("g", "eureka", gemm)]) == {}
    assert area.unnamed_modules([("g", "eureka", gemm)]) == []


class _Mems(wiring.Component):
    """A 16-word memory (becomes flip-flops) and a 128-word one (a macro), both zero-initialised."""

    def __init__(self):
        super().__init__({"a": In(7), "d": In(8), "we": In(1), "q": Out(16)})

    def elaborate(self, platform):
        from amaranth.lib import memory
        m = Module()
        qs = []
        for name, depth in (("small", 16), ("big", 128)):
            m.submodules[name] = mem = memory.Memory(shape=8, depth=depth, init=[])
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [wp.addr.eq(self.a), wp.data.eq(self.d), wp.en.eq(self.we),
                         rp.addr.eq(self.a)]
            qs.append(rp.data)
        m.d.comb += self.q.eq(Cat(*qs))
        return m


@needs_lib
def test_zero_init_stripping_changes_no_number(lib):
    """Synthesis reads the Verilog without all-zero memory initialisations (fast to parse): the
    numbers must equal those of the Verilog as written."""
    work = WORK / f"zeroinit-{os.getpid()}"
    v, _ = emit_verilog(_Mems(), "mems", None, work / "verilog")
    assert "initial begin" in v.read_text()
    assert "initial begin" not in area.synth_source(v, work / "check").read_text()
    d = area.Design("mems", v)
    got = []
    for strip in (True, False):
        r = area.synthesize([d], lib, jobs=1, flows=("asic",), work=work / f"strip{strip}",
                            log=lambda *_: None, strip_zero_init=strip)[0]
        assert not r.errors, r.errors
        got.append(r.to_dict())
    for key in ("area_um2", "cells", "transistors", "memory_macro_bits"):
        assert got[0][key] == got[1][key], key
    # ABC's mapping is the same; its netlist order may differ, moving the path estimate a hair
    assert got[0]["critical_path_ns"] == pytest.approx(got[1]["critical_path_ns"], rel=1e-3)
    assert got[0]["memory_macro_bits"] == 128 * 8
