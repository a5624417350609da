"""Shared pytest fixtures.

Seeds are deterministic: every randomised test takes ``seed`` (default 1, or ``SEED=n`` in the
environment); a failing test that used it shows the seed in its report, so that ``SEED=n`` reruns it.
"""

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

    out = tmp_path_factory.mktemp("verilog")
    written = write_all(out, log=lambda *_: None)
    return out, written
