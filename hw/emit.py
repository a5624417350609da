"""Emission: Amaranth component -> Verilog text and its JSON sidecar, for sim/ and synth/ alike.

One module below both users, so that the simulator and the area, timing and power flows read the
same Verilog from the same code:

- :func:`convert`: the Verilog of a component under a module name, followed by the definitions of
  the :class:`hw.common.shared.SharedModule` s it instantiates (each once); memory initial values
  written by :func:`fast_memory_init`, all-zero memory initialisations as loops
  (:func:`compact_zero_init`).
- :func:`emit_verilog`: ``<name>.v`` and its sidecar ``<name>.json`` (the Verilator harness);
  :func:`write_tops`: that for every registered top (``make verilog``, synthesis).
- :func:`strip_zero_init`: the Verilog without all-zero memory initialisations, for synthesis.
- :func:`build_dir`: where generated files go (``build/`` of the checkout, or of the current
  directory when the package is installed; ``$SPARSE_HW_BUILD`` overrides both).
"""

import contextlib
import itertools
import json
import os
import re
import threading
from pathlib import Path

from amaranth.back import verilog

__all__ = ["ROOT", "in_checkout", "build_dir", "convert", "emit_verilog", "strip_zero_init",
           "compact_zero_init", "fast_memory_init", "write_tops"]

#: The folder holding the packages: the checkout's root when run from one (then it has
#: ``pyproject.toml``), ``site-packages`` when installed.
ROOT = Path(__file__).resolve().parents[1]


def in_checkout():
    """True when the packages run from a source checkout (not from an installed wheel)."""
    return (ROOT / "pyproject.toml").is_file()


def build_dir():
    """Root of generated files: ``$SPARSE_HW_BUILD``, else ``build/`` in the checkout, else
    ``build/`` in the current directory (an installed package never writes into site-packages)."""
    env = os.environ.get("SPARSE_HW_BUILD")
    if env:
        return Path(env).resolve()
    return ((ROOT if in_checkout() else Path.cwd()) / "build").resolve()


@contextlib.contextmanager
def fast_memory_init(zero_marker=False):
    """Make Amaranth's RTLIL writer emit memory initial contents in one string (same text).

    Amaranth 0.5's ``ModuleEmitter.emit_memory`` builds one netlist object per bit of a memory's
    initial contents: a 1024 x 1152-bit filter bank of a paper-sized SparTen unit costs 8 s, and
    a 32-unit cluster over 4 min, before Yosys sees anything. The constant it writes is
    ``<bits>'<binary digits, last word's top bit first>``; this writes the same constant directly.
    The RTLIL (hence the Verilog) is byte-identical (tests/test_harness.py compares both writers).
    If Amaranth's emitter is not the expected one, nothing is patched.

    ``zero_marker=True`` (:func:`convert`): an all-zero initialisation of a memory of ``depth`` > 1
    words is written as its last word only, which Yosys writes as a one-line ``initial`` block
    at the memory's declaration; :func:`_expand_zero_markers` turns that back into the block of
    every word, so the Verilog is the same. Yosys spends ~0.8 s on each 1024 x 1152-bit
    all-zero initialisation (a paper-sized SparTen cluster has 32 banks) and none on a marker.
    """
    from amaranth.back import rtlil
    emitter = getattr(rtlil, "ModuleEmitter", None)
    orig = getattr(emitter, "emit_memory", None)
    outer = getattr(_markers, "on", False)
    _markers.on = zero_marker       # this thread's conversions only
    try:
        if orig is None or getattr(orig, "_sparse_hw_fast", False):
            yield
        else:
            with _patched(emitter, orig):
                yield
    finally:
        _markers.on = outer


_markers = threading.local()


@contextlib.contextmanager
def _patched(emitter, orig):
    """``emitter.emit_memory`` replaced by the one-string writer of :func:`fast_memory_init`."""

    def emit_memory(self, cell_idx, cell):
        width, depth, init = cell.width, cell.depth, list(cell.init)
        if width * depth == 0 or len(init) != depth:
            return orig(self, cell_idx, cell)
        if getattr(_markers, "on", False) and depth > 1 and not any(init):
            abits = depth.bit_length()
            self.builder.cell("$meminit_v2", ports={
                "ADDR": f"{abits}'{depth - 1:0{abits}b}",
                "DATA": f"{width}'{'0' * width}",
                "EN": self.sigspec(_nir_ones(width)),
            }, parameters={
                "MEMID": self.memories[cell_idx].memid,
                "ABITS": abits,
                "WIDTH": width,
                "WORDS": 1,
                "PRIORITY": 0,
            }, src_loc=cell.src_loc)
            return
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


_ZERO_MARKER = re.compile(r"^  initial begin\n    (\\\S+ |[^\s\[]+)\[(\d+)\] = (\d+'[hbd]0+);\n  end\n",
                          re.MULTILINE)


def _expand_zero_markers(text):
    """The ``initial`` block of every word, zero, in place of each one-line block that
    ``fast_memory_init(zero_marker=True)`` has Yosys write for an all-zero memory (its last word;
    a real initialisation always starts at word 0). Every word is written as Yosys wrote the
    marker's (``72'h00..0``, ``32'd0``: its format depends on the width only)."""
    def expand(m):
        name, last, zero = m.group(1), int(m.group(2)), m.group(3)
        if last == 0:
            return m.group(0)
        return ("  initial begin\n"
                + "".join(f"    {name}[{i}] = {zero};\n" for i in range(last + 1))
                + "  end\n")
    return _ZERO_MARKER.sub(expand, text)


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
    with fast_memory_init(zero_marker=True), collecting(name) as shared:
        text = verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)
        # definitions convert on first use, inside the same collection (nested ones included)
        defs = [s.verilog(n) for s, n in shared]
    return compact_zero_init(_expand_zero_markers("".join([text, *defs])))


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


def write_tops(out, names=None, log=print):
    """Write ``<top>.v`` and ``<top>.json`` of every registered top (or of ``names``) into
    ``out``, with the top's engine, role, description and published latency (when the block has
    one) in the sidecar; return the Verilog
    paths. ``make verilog`` adds the file list and the FuseSoC core (``sim/cmd_verilog.py``);
    synthesis calls this directly."""
    import time

    from .top import select_tops
    tops = select_tops(names=names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, t in enumerate(tops, 1):
        t0 = time.monotonic()
        comp = t.elaborate()
        extra = {"engine": t.engine, "role": t.role, "description": t.description}
        # A block's published latency (a property or class attribute, e.g. InnerJoin.latency,
        # ComputeUnit.latency, SparTenLayer.latency, EurekaCore.latency) goes into its sidecar.
        if isinstance(getattr(comp, "latency", None), int):
            extra["latency"] = comp.latency
        v, _ = emit_verilog(comp, t.name, t.config, out, extra)
        written.append(v)
        log(f"[{i}/{len(tops)}] {v} ({time.monotonic() - t0:.1f} s)")
    return written


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(text)
        tmp.replace(path)
