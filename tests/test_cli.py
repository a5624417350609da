import json
import subprocess
import sys

from sim import cli


def test_help_lists_every_subcommand(capsys):
    parser = cli.build_parser()
    text = parser.format_help()
    for name in ("verilog",):
        assert name in text


def test_every_subcommand_has_help():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices, "no subcommands registered"
    for name, p in sub.choices.items():
        assert p.format_help().strip(), name


def test_bad_option_is_one_line_error():
    r = subprocess.run([sys.executable, "-m", "sim.cli", "verilog", "--top", "no_such_top"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "no_such_top" in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_verilog_writes_sidecar_core_and_filelist(emitted_verilog):
    from hw.top import all_tops

    tmp_path, written = emitted_verilog
    tops = all_tops()
    assert len(written) == len(tops)
    files = (tmp_path / "files.f").read_text().split()
    assert files == sorted(f"{t.name}.v" for t in tops)
    core = (tmp_path / "sparse_hw.core").read_text()
    assert core.startswith("CAPI=2:")
    for t in tops:
        side = json.loads((tmp_path / f"{t.name}.json").read_text())
        assert side["top"] == t.name
        assert type(t.config).from_dict(side["config"]) == t.config
        assert f"module {t.name}(" in (tmp_path / f"{t.name}.v").read_text()
    # Published latencies reach the sidecars (what testbenches and cycle models read).
    from hw.common.innerjoin import InnerJoin
    from hw.sparten.cu import ComputeUnit
    from hw.sparten.layer import SparTenLayer
    names = {t.name: t for t in tops}
    want = {"innerjoin128": InnerJoin.latency, "sparten_cu": ComputeUnit.latency,
            "sparten_layer": SparTenLayer.latency_of(names["sparten_layer"].config)}
    for name, lat in want.items():
        assert json.loads((tmp_path / f"{name}.json").read_text())["latency"] == lat, name
