"""Shared pytest fixtures.

Seeds are deterministic: every randomised test takes ``seed`` (default 1, or ``SEED=n`` in the
environment); a failing test that used it shows the seed in its report, so that ``SEED=n`` reruns it.
"""

import fcntl
import os

import pytest


@pytest.fixture
def seed():
    return int(os.environ.get("SEED", "1"))


def pytest_report_header(config):
    return f"sparse-hw: SEED={os.environ.get('SEED', '1')} WAVES={os.environ.get('WAVES', '0')}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "seed" in getattr(item, "fixturenames", ()):
        report.sections.append(("seed", f"SEED={item.funcargs.get('seed')} reproduces this test"))


@pytest.fixture(scope="session")
def emitted_verilog(tmp_path_factory):
    """Every registered top written once per test session, as ``sparse-hw verilog`` writes it."""
    from sim.cmd_verilog import write_all

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        out = tmp_path_factory.mktemp("verilog")
        return out, write_all(out, log=lambda *_: None)
    # Under xdist the workers of one run share a parent folder: the first worker writes the
    # Verilog (the paper-sized cluster alone takes ~40 s), the others wait for it and read it.
    root = tmp_path_factory.getbasetemp().parent
    out = root / "verilog"
    with open(root / "verilog.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = out / "written.txt"
        if not done.exists():
            written = write_all(out, log=lambda *_: None)
            done.write_text("".join(f"{p.name}\n" for p in written))
        written = [out / n for n in done.read_text().split()]
    return out, written
