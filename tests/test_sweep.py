"""sim/sweep.py, sim/sweep_work.py, sim/sweep_report.py and sim/pick.py: specs, Dask vs serial,
caching and resume, failed points, bad input, and pick.

One 2-worker LocalCluster serves the whole module; every sweep here is model-only and small.
"""

import json
import tomllib

import pytest

from sim import pick, sweep, sweep_report
from sim.cli import main

SMALL_SPEC = """
[sweep]
name = "t"
seed = 3
[[engine]]
engine = "eureka"
base = "small"
baselines = true
[engine.grid]
rows = [2, 4]
lanes = [8]
mode = ["suds", "dense", "nm:2:4", "unstructured-nosuds"]
[[engine]]
engine = "sparten"
base = "small"
[engine.grid]
n_units = [2, 4]
chunk = { lo = 8, hi = 16, pow2 = true }
method = ["gbh", "none"]
[[workload]]
name = "conv"
layer = { c = 12, k = 6, h = 6, r = 3, stride = 1, padding = 1, d_w = 0.4, d_a = 0.5 }
prune_nm = true
[[workload]]
name = "fc"
gemm = { m = 8, k = 64, n = 3, d_w = 0.3, d_a = 0.6 }
"""


def _spec(text=SMALL_SPEC):
    return sweep.parse_spec(tomllib.loads(text))


@pytest.fixture(scope="module")
def client():
    c = sweep.make_client(workers=2)
    yield c
    sweep.close_client(c)


def _by_point(doc):
    return {(r["workload"], r["digest"], r.get("mode"), r.get("method"), r.get("order")): r
            for r in doc["rows"]}


FIGURES = ("cycles", "dense_cycles", "dense_macs", "layers", "status", "error")


def test_dask_equals_serial_then_resume_recomputes_nothing(client, tmp_path):
    spec = _spec()
    serial = sweep.run_sweep(spec, sweep.Cache(tmp_path / "serial"), None)
    dask = sweep.run_sweep(spec, sweep.Cache(tmp_path / "dask"), client)
    s, d = _by_point(serial), _by_point(dask)
    assert len(s) == serial["summary"]["points"] >= 20
    assert s.keys() == d.keys()
    for k in s:
        assert {f: s[k].get(f) for f in FIGURES} == {f: d[k].get(f) for f in FIGURES}, k
    assert dask["summary"]["workers"] == 2
    assert dask["summary"]["computed"] == dask["summary"]["tasks"]
    assert all(r["status"] == "ok" for r in dask["rows"])
    # each workload's own figures (a cache key that forgot the workload would mix them up)
    work = {"conv": 6 * 12 * 9 * 6 * 6, "fc": 8 * 64 * 3}
    assert all(r["dense_macs"] == work[r["workload"]] for r in dask["rows"])
    # the figures are the golden model's: one point recomputed directly
    from golden import balance
    from golden.sparten_model import layer_cycles
    from hw.sparten.config import SparTenConfig
    from sim.sweep_work import layer_arrays, layers_of
    row = next(r for r in dask["rows"] if r["engine"] == "sparten" and r["workload"] == "conv"
               and r["method"] == "gbh" and r["n_units"] == 4 and r["chunk"] == 8)
    w, a, st, pad = layer_arrays(layers_of(spec["workloads"][0]["workload"])[0])
    cfg = SparTenConfig.from_dict(row["config"])
    from hw.sparten.layer import SparTenLayer
    assert row["cycles"] == layer_cycles(w, a, cfg, st, pad,
                                         perm=balance.assign(w, 4, "gbh", chunk=8),
                                         pipeline=SparTenLayer.latency_of(cfg))["cycles"]
    # a rerun finds everything cached and never starts a cluster
    made = []
    again = sweep.run_sweep(spec, sweep.Cache(tmp_path / "dask"), lambda: made.append(1))
    assert made == [] and again["summary"]["computed"] == 0
    assert again["summary"]["cached"] == again["summary"]["tasks"]
    a = _by_point(again)
    assert a.keys() == d.keys()
    for k in d:
        assert {f: d[k].get(f) for f in FIGURES} == {f: a[k].get(f) for f in FIGURES}, k


def test_interrupted_sweep_resumes_where_it_stopped(client, tmp_path):
    spec = _spec()
    cache = sweep.Cache(tmp_path / "c")
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(spec, cache, client, stop_after=7)
    stored = sorted(p.name for p in (tmp_path / "c").rglob("*.json"))
    assert len(stored) == 7
    doc = sweep.run_sweep(spec, cache, None)
    assert doc["summary"]["cached"] == 7
    assert doc["summary"]["computed"] == doc["summary"]["tasks"] - 7


def test_failed_point_is_recorded_and_the_sweep_goes_on(client, tmp_path):
    # value_width 4 cannot hold the workload's int8 weights: the model rejects them at run time
    text = SMALL_SPEC.replace("rows = [2, 4]", "rows = [2]\nvalue_width = [4, 8]")
    cache = sweep.Cache(tmp_path / "c")
    doc = sweep.run_sweep(_spec(text), cache, client)
    failed = [r for r in doc["rows"] if r["status"] == "failed"]
    ok = [r for r in doc["rows"] if r["status"] == "ok"]
    assert failed and all(r["config"]["value_width"] == 4 for r in failed)
    assert all("weights" in r["error"] for r in failed)
    assert any(r["engine"] == "eureka" and r["config"]["value_width"] == 8 for r in ok)
    assert doc["summary"]["failed"] == len(failed)
    again = sweep.run_sweep(_spec(text), cache, None)     # failures are retried, not cached
    assert again["summary"]["computed"] == 0 and again["summary"]["failed"] == len(failed)


@pytest.mark.parametrize("edit, message", [
    (("rows = [2, 4]", "rowz = [2]"), "engine[0].grid: unknown field 'rowz'; accepted: rows"),
    (("rows = [2, 4]", "rows = [2, 100]"), "engine[0].grid.rows must be in 1..64, not 100"),
    # a derived field (init=False) follows from the others: a grid cannot set it
    (("rows = [2, 4]", "moved_sum_resolved = [\"tree\"]"),
     "engine[0].grid: unknown field 'moved_sum_resolved'"),
    (("rows = [2, 4]", "rows = []"), "engine[0].grid.rows has no values; rows must be in 1..64"),
    (("n_units = [2, 4]", "n_units = { lo = 5, hi = 4 }"),
     "engine[1].grid.n_units has no values; n_units must be in 1..256"),
    (("chunk = { lo = 8, hi = 16, pow2 = true }", "chunk = [12]"),
     "chunk must be a power of two in 8..256, not 12"),
    (("method = [\"gbh\", \"none\"]", "method = [\"best\"]"),
     "engine[1].grid.method must be one of ['gbh', 'gbs', 'none'], not 'best'"),
    (("mode = [", "mode = [\"nm:3:2\", "), "engine[0].grid.mode: mode 'nm:3:2'"),
    (("rows = [2, 4]", "rows = [2]\nvariant = [\"dense\"]"),
     "engine[0].grid point (rows=2, variant='dense', lanes=8): group must be 1 for variant"),
    (("d_w = 0.3, d_a = 0.6", "d_w = 1.5"), "workload[1].gemm.d_w must be a number in 0..1"),
    (("engine = \"sparten\"", "engine = \"sparten\"\nworkloads = [\"conv2\"]"),
     "engine[1].workloads: unknown workload 'conv2'; accepted: conv, fc"),
    (("name = \"fc\"\n", "name = \"fc\"\nnetwork = \"vgg17\"\n"),
     "workload[1] needs exactly one of network, layer, gemm, layers"),
])
def test_bad_input_is_one_line_naming_the_field(edit, message):
    text = SMALL_SPEC.replace(*edit)
    assert text != SMALL_SPEC
    with pytest.raises(sweep.SpecError) as e:
        sweep.expand(_spec(text))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_cli_bad_spec_fails_before_any_task(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(SMALL_SPEC.replace("lanes = [8]", "lanes = [0]"))
    rc = main(["sweep", str(spec), "--serial", "--cache", str(tmp_path / "c"),
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == ["sparse-hw sweep: error: engine[0].grid.lanes must be in 1..256, "
                               "not 0"]
    assert not (tmp_path / "c").exists() and not (tmp_path / "o").exists()


def test_example_runs_and_writes_reports(tmp_path, capsys):
    assert main(["sweep", "--example"]) == 0
    text = capsys.readouterr().out
    spec = _spec(text)
    assert {e["engine"] for e in spec["engines"]} == {"eureka", "sparten"}
    assert not spec["sweep"].get("area") and not spec["sweep"].get("rtl")
    (tmp_path / "ex.toml").write_text(text)
    rc = main(["sweep", str(tmp_path / "ex.toml"), "--serial", "--cache", str(tmp_path / "c"),
               "--out", str(tmp_path / "o")])
    assert rc == 0
    doc = json.loads((tmp_path / "o" / "sweep.json").read_text())
    assert doc["summary"]["points"] == len(doc["rows"]) > 10
    csv_rows = (tmp_path / "o" / "sweep.csv").read_text().strip().splitlines()
    assert len(csv_rows) == len(doc["rows"]) + 1
    for wl in ("conv", "fc"):
        assert (tmp_path / "o" / f"sweep_{wl}.png").stat().st_size > 1000
        assert f"## {wl}" in (tmp_path / "o" / "sweep.md").read_text()
    # nm:2:4 ran on the pruned conv weights and says so; never on fc (not pruned)
    nm = [r for r in doc["rows"] if r.get("mode") == "nm:2:4"]
    assert nm and all(r["workload"] == "conv" and r["pruned_to"] == "nm:2:4" for r in nm)


def test_engine_table_limited_to_some_workloads():
    points, _ = sweep.expand(_spec(SMALL_SPEC.replace(
        'engine = "sparten"', 'engine = "sparten"\nworkloads = ["fc"]')))
    assert {p["workload_name"] for p in points if p["engine"] == "sparten"} == {"fc"}
    assert {p["workload_name"] for p in points if p["engine"] == "eureka"} == {"conv", "fc"}


def test_energy_hook_plumbing(tmp_path, monkeypatch):
    """The energy path with a stand-in model (the real one, synth/power_sweep.py, is tested in
    test_power_sweep.py): the task gets its point and its model result, and the rows and the
    energy front carry what it returned; without an energy model the spec is refused."""
    from sim import sweep_work
    text = SMALL_SPEC.replace('seed = 3', 'seed = 3\nenergy = true')
    monkeypatch.setattr(sweep_work, "energy_hook", lambda: None)
    with pytest.raises(sweep.SpecError, match="no energy model yet"):
        _spec(text)
    calls = []

    def fake(engine, config, point, workload, model, liberty):
        assert set(point) == set(sweep_work.POINT_FIELDS[engine])
        calls.append(model["cycles"])
        return {"energy_nj": model["cycles"] * 1e-3 + (5.0 if engine == "sparten" else 0.0)}
    monkeypatch.setattr(sweep_work, "energy_hook", lambda: fake)
    doc = sweep.run_sweep(_spec(text), sweep.Cache(tmp_path / "c"), None)
    assert len(calls) == len(doc["rows"])
    for r in doc["rows"]:
        assert r["energy_nj"] == pytest.approx(r["cycles"] * 1e-3 + 5.0 * (r["engine"] == "sparten"))
    front = doc["pareto"]["fc"]["energy"]
    fc = [r for r in doc["rows"] if r["workload"] == "fc"]
    assert [b["digest"] for b in front] == [r["digest"] for r in sweep_report.pareto(
        fc, "multipliers", "energy_nj", maximise=False)]
    paths = sweep_report.write_reports(doc, tmp_path / "o")
    assert "Pareto front, multipliers vs energy" in (tmp_path / "o" / "sweep.md").read_text()
    assert any(p.name == "sweep_fc.png" for p in paths)


def test_random_sample_of_a_grid_is_seeded():
    text = SMALL_SPEC.replace('engine = "sparten"', 'engine = "sparten"\nsample = 3')
    runs = [sweep.expand(_spec(text))[0] for _ in range(2)]
    combos = [{(p["digest"], p["point"]["method"]) for p in pts if p["engine"] == "sparten"}
              for pts in runs]
    assert len(combos[0]) == 3 and combos[0] == combos[1]      # 3 of the 8, the same each time
    other = sweep.expand(_spec(text.replace("seed = 3", "seed = 4")))[0]
    assert {(p["digest"], p["point"]["method"]) for p in other if p["engine"] == "sparten"} \
        != combos[0]


def test_pareto_front():
    rows = [{"a": 1, "v": 1}, {"a": 2, "v": 3}, {"a": 3, "v": 2}, {"a": 4, "v": 5},
            {"a": 4, "v": 4}, {"a": 5, "v": None}]
    assert sweep_report.pareto(rows, "a", "v") == [rows[0], rows[1], rows[3]]
    assert sweep_report.pareto(rows, "a", "v", maximise=False) == [rows[0]]


PICK_SPACE = """
[[engine]]
engine = "eureka"
base = "small"
baselines = true
[engine.grid]
rows = [2, 4]
lanes = [8]
mode = ["suds", "dense"]
[[engine]]
engine = "sparten"
base = "small"
[engine.grid]
n_units = [2, 4]
"""


def _seed_areas(args, cache):
    """Put made-up areas (100 um2 per multiplier) and clocks into the cache for pick's
    candidates, so that pick runs without Yosys; returns the points."""
    spec = pick.build_spec(args)
    points, _ = sweep.expand(spec)
    tasks = sweep.tasks_of(points, spec)
    for p in points:
        n = sweep_report.multipliers(p["engine"], p["config"])
        area = 100.0 * n + (50.0 if p["config"].get("variant") == "eureka" else 0.0)
        cache.put("area", p["tasks"]["area"], {"area_um2": area, "fmax_mhz": 400.0 - n,
                                               "critical_path_ns": 1, "cells": 1, "library": "t",
                                               "memory_macro_bits": 0, "design": "t"})
    return points, tasks


def test_pick_best_under_budget_with_runner_up_and_bound(tmp_path, capsys):
    space = tmp_path / "space.toml"     # a table limited to a workload pick does not run
    space.write_text(PICK_SPACE.replace('engine = "sparten"', 'engine = "sparten"\n'
                                        'workloads = ["other"]'))
    layers = tmp_path / "net.json"
    layers.write_text(json.dumps([{"c": 16, "k": 8, "h": 5, "r": 3, "padding": 1, "d_w": 0.3,
                                   "d_a": 0.5}, {"m": 8, "k": 64, "n": 2, "d_w": 0.25}]))
    argv = ["pick", "--network", str(layers), "--space", str(space), "--serial",
            "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "pick.json")]
    parser_args = lambda extra: __import__("sim.cli", fromlist=["x"]).build_parser().parse_args(  # noqa: E731
        argv + extra)
    cache = sweep.Cache(tmp_path / "c")
    _seed_areas(parser_args(["--max-area", "1"]), cache)
    # reference ranking from the rows themselves
    doc = sweep.run_sweep(pick.build_spec(parser_args(["--max-area", "1"])), cache, None)
    rows = [r for r in doc["rows"] if r["status"] == "ok"]
    budget = 500.0
    fits = sorted((r for r in rows if r["area_um2"] <= budget), key=lambda r: r["cycles"])
    better = [r for r in rows if r["cycles"] < fits[0]["cycles"]]
    assert better, "the budget must exclude a faster candidate for this test"
    capsys.readouterr()
    assert main(argv + ["--max-area", str(budget)]) == 0
    out = capsys.readouterr().out
    got = json.loads((tmp_path / "pick.json").read_text())
    assert got["best"]["digest"] == fits[0]["digest"]
    assert got["best"]["cycles"] == fits[0]["cycles"]
    assert got["runner_up"]["cycles"] == fits[1]["cycles"]
    assert got["bound"]["constraint"] == "max-area" and got["bound"]["excluded"] == len(better)
    assert got["bound"]["best_excluded"]["cycles"] == min(r["cycles"] for r in rows)
    assert "best: " in out and "runner-up: " in out and "bound: max-area" in out
    # a clock floor that the big designs miss binds instead
    assert main(argv + ["--max-area", "1e9", "--min-mhz", "395"]) == 0
    got = json.loads((tmp_path / "pick.json").read_text())
    assert got["bound"]["constraint"] == "min-mhz"
    assert all(r["multipliers"] <= 5 for r in [got["best"]])
    # no budget: nothing binds
    assert main(argv + ["--max-area", "1e9"]) == 0
    assert "bound: no constraint" in capsys.readouterr().out
    # nothing fits: one line naming the budget and the smallest candidate
    assert main(argv + ["--max-area", "10"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[pick ")]
    assert len(err) == 1 and err[0].startswith("sparse-hw pick: error: no candidate meets "
                                               "--max-area 10; the smallest known is sparten 2u")


def test_pick_sweeps_what_is_missing(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text(PICK_SPACE)
    argv = ["pick", "--network", "eureka_gemm", "--space", str(space), "--serial", "--no-synth",
            "--cache", str(tmp_path / "c"), "--max-area", "1e9"]
    # nothing cached and no synthesis: the models run, no area is known
    assert main(argv) == 2
    assert "no candidate has an area" in capsys.readouterr().err
    cached = len(list((tmp_path / "c" / "model").rglob("*.json")))
    assert cached > 0
    assert main(argv) == 2
    assert "0 computed" in capsys.readouterr().out    # the second time the models are cached


def test_a_value_is_checked_with_the_fields_the_grid_fixes():
    """A dense baseline row (as `pick --from` rebuilds it from a sweep): group 1 is valid beside
    variant "dense", while group 1 on the EUREKA core alone is still refused."""
    dense = SMALL_SPEC.replace("rows = [2, 4]", 'rows = [2]\nvariant = ["dense"]\ngroup = [1]')
    dense = dense.replace('mode = ["suds", "dense", "nm:2:4", "unstructured-nosuds"]',
                          'mode = ["dense"]').replace("baselines = true\n", "")
    pts, _ = sweep.expand(_spec(dense))
    assert {p["config"]["variant"] for p in pts if p["engine"] == "eureka"} == {"dense"}
    alone = SMALL_SPEC.replace("rows = [2, 4]", "rows = [2]\ngroup = [1]")
    with pytest.raises(sweep.SpecError, match="group must be a power of two in 2..16"):
        sweep.expand(_spec(alone))
