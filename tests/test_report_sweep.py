"""report.sweep: sweep.json written through the schema and read strictly (``pick --from``): a
round trip keeps every row, and any other shape is a one-line ReportError naming file and field."""

import copy
import json
import tomllib

import pytest

from report.schema import ReportError
from report.sweep import SweepReport, read_sweep
from sim import sweep, sweep_report
from sim.cli import main

@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    spec = sweep.parse_spec(tomllib.loads(sweep.EXAMPLE))     # model-only, both engines
    doc = sweep.run_sweep(spec, sweep.Cache(tmp / "c"), None)
    sweep_report.write_reports(doc, tmp / "o")
    return doc, tmp / "o" / "sweep.json"


def test_round_trip_keeps_every_row(written):
    doc, path = written
    rep = read_sweep(path)
    assert isinstance(rep, SweepReport) and rep.name == doc["name"]
    assert rep.summary.points == len(rep.rows) == len(doc["rows"]) > 10
    for got, want in zip(rep.rows, doc["rows"]):
        assert got.to_json() == {k: v for k, v in json.loads(json.dumps(want)).items()
                                 if v is not None}
    assert {r.engine for r in rep.rows} == {"sparten", "eureka"}
    assert all(r.status == "ok" and r.cycles > 0 for r in rep.rows)
    assert set(rep.pareto) == {"conv", "fc"}
    assert rep.pareto["fc"].cost == "multipliers" and rep.pareto["fc"].speed


def _broken(path, tmp_path, edit):
    doc = json.loads(path.read_text())
    edit(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    return bad


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.pop("rows"), "bad.json: missing field 'rows'"),
    (lambda d: d["rows"][1].pop("digest"), "bad.json row 1: missing field 'digest'"),
    (lambda d: d["rows"][0].update(speedup=2.0), "bad.json row 0: unknown field 'speedup' of SweepRow"),
    (lambda d: d["rows"][0].update(status="fine"), "status must be one of ok, failed, incomplete"),
    (lambda d: d["rows"][2].pop("cycles"), "an ok row needs field 'cycles'"),
    (lambda d: d["rows"][0].update(cycles="many"), "field 'cycles': expected a number, got 'many'"),
    (lambda d: d["summary"].pop("cached"), "bad.json summary: missing field 'cached'"),
    (lambda d: d["pareto"]["fc"].update(cost="luts"), "cost must be area_um2 or multipliers"),
])
def test_other_shapes_are_one_line_errors(written, tmp_path, edit, message):
    bad = _broken(written[1], tmp_path, edit)
    with pytest.raises(ReportError) as e:
        read_sweep(bad)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_pick_from_a_malformed_sweep_says_which_field(written, tmp_path, capsys):
    bad = _broken(written[1], tmp_path, lambda d: d["rows"][0].pop("engine"))
    rc = main(["pick", "--network", "eureka_gemm", "--from", str(bad), "--max-area", "1e9",
               "--serial", "--no-synth", "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == [f"sparse-hw pick: error: {bad} row 0: missing field 'engine'"]
    (tmp_path / "nojson.json").write_text("{")
    with pytest.raises(ReportError, match="nojson.json: not JSON"):
        read_sweep(tmp_path / "nojson.json")


def test_the_writer_refuses_a_malformed_row(written, tmp_path):
    doc = copy.deepcopy(written[0])
    doc["rows"][0]["status"] = "done"
    with pytest.raises(ReportError, match="status must be one of"):
        sweep_report.write_reports(doc, tmp_path / "o")
    assert not (tmp_path / "o" / "sweep.json").exists()
