"""sim/fusesoc.py: the FuseSoC core ``sparse-hw verilog`` writes, checked with the real ``fusesoc``.

The core of the ``emitted_verilog`` fixture lists a target per top (``toplevel`` set) and a
Verilator ``--lint-only -Wall`` target per top; fusesoc must list them all and run a lint target
through edalize to a clean exit, and the same target must fail on a planted combinational loop.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hw.top import all_tops
from sim.fusesoc import CORE_FILE, CORE_NAME, WAIVERS_FILE, core_text

FUSESOC = Path(sys.executable).with_name("fusesoc")
pytestmark = pytest.mark.skipif(not FUSESOC.exists() and not shutil.which("fusesoc"),
                                reason="fusesoc (a dev dependency in pyproject.toml) is not "
                                       "installed")


def fusesoc(cores_root, *args, cwd):
    from sim.verilator import verilator_env
    exe = verilator_env()     # edalize's Makefile calls `verilator` from PATH
    env = {**os.environ, "PATH": os.pathsep.join([str(exe.parent), os.environ.get("PATH", "")])}
    cmd = [str(FUSESOC) if FUSESOC.exists() else "fusesoc", "--cores-root", str(cores_root), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_core_lists_a_target_per_top(emitted_verilog, tmp_path):
    out = emitted_verilog[0]
    r = fusesoc(out, "core", "show", CORE_NAME, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    listed = {ln.split(":")[0].strip() for ln in r.stdout.split("Targets:")[1].splitlines()
              if ":" in ln}
    names = {t.name for t in all_tops()}
    assert listed == {"default"} | names | {f"lint_{n}" for n in names}
    core = (out / CORE_FILE).read_text()
    for n in names:
        assert f"  {n}:\n    filesets: [rtl_{n}]\n    toplevel: {n}\n" in core


def test_lint_target_runs_verilator(emitted_verilog, tmp_path):
    r = fusesoc(emitted_verilog[0], "run", "--target", "lint_innerjoin128", CORE_NAME,
                cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    vc = next((tmp_path / "build").rglob("*.vc")).read_text()
    assert "--top-module innerjoin128" in vc and WAIVERS_FILE in vc


def test_lint_target_fails_on_a_planted_loop(emitted_verilog, tmp_path):
    # same core text and waivers, one top whose Verilog has a combinational loop
    cores = tmp_path / "cores"
    cores.mkdir()
    shutil.copyfile(emitted_verilog[0] / WAIVERS_FILE, cores / WAIVERS_FILE)
    (cores / "loop.v").write_text("module loop(input a, output y);\n  wire b;\n"
                                  "  assign b = y ^ a;\n  assign y = b;\nendmodule\n")
    (cores / CORE_FILE).write_text(core_text([("loop", "loop.v")]))
    r = fusesoc(cores, "run", "--target", "lint_loop", CORE_NAME, cwd=tmp_path)
    assert r.returncode != 0 and "UNOPTFLAT" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
