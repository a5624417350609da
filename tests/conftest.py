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


def _verilog_root(tmp_path_factory):
    """Where the session's Verilog goes: a folder every xdist worker of the run shares (their
    base temp folders have one parent), or this session's own."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.getbasetemp().parent
    return tmp_path_factory.getbasetemp()


def _emit_once(root, name, wait=True):
    """Write top ``name`` into ``root/verilog`` unless a worker of the run did; True when it is
    there. ``wait=False``: give up (False) at once while another worker is writing it."""
    from hw.emit import write_tops
    (root / "verilog-locks").mkdir(exist_ok=True)
    with open(root / "verilog-locks" / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        done = root / "verilog-locks" / f"{name}.done"
        if not done.exists():
            write_tops(root / "verilog", [name], log=lambda *_: None)
            done.write_text("ok\n")
    return True


@pytest.fixture(scope="session")
def emitted_top(tmp_path_factory):
    """``emitted_top(name)``: the path of top ``name``'s Verilog, as ``sparse-hw verilog`` writes
    it, converted once per run: a test of one top converts only that top (the paper-sized
    cluster alone takes ~40 s), while the other xdist worker goes on with other tests."""
    root = _verilog_root(tmp_path_factory)

    def get(name):
        _emit_once(root, name)
        return root / "verilog" / f"{name}.v"
    return get


@pytest.fixture(scope="session")
def emitted_verilog(tmp_path_factory):
    """Every registered top written once per run, with ``files.f`` and the FuseSoC core, as
    ``sparse-hw verilog`` writes them: ``(folder, Verilog paths)``.

    Under xdist the workers share the work: each first takes the tops no other worker is
    writing, then waits for the rest; the last listing written is the same whoever writes it."""
    from hw.top import all_tops
    from sim.cmd_verilog import write_listing

    root = _verilog_root(tmp_path_factory)
    names = [t.name for t in all_tops()]
    for name in names:
        _emit_once(root, name, wait=False)
    for name in names:
        _emit_once(root, name)
    out = root / "verilog"
    written = [out / f"{n}.v" for n in names]
    with open(root / "verilog-locks" / "listing.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "verilog-locks" / "listing.done"
        if not done.exists():
            write_listing(out, written)
            done.write_text("ok\n")
    return out, written
