"""Cross-check of :mod:`synth.sta`'s critical path with OpenSTA (optional).

OpenSTA is the static timing analyser of the open ASIC flows; Debian ships it as ``opensta``
(command ``sta``). It is not needed by any flow of the project: this module only compares. For an
``asic`` job of ``sparse-hw area`` it

1. takes the job's flattened mapped netlist (``flat.json``, the very file :mod:`synth.sta`
   reads) and builds the buffer trees that :mod:`synth.sta` only assumes for nets of more than
   ``FANOUT_MAX`` sinks (:func:`buffer_netlist`), so both analysers time one netlist;
2. writes it as structural Verilog with Yosys (``read_json``, ``write_verilog``);
3. runs ``sta`` on it with the same Liberty file: one clock on ``clk``, inputs arriving at 0 with
   :data:`synth.sta.INPUT_SLEW_NS` transition, outputs required at the clock edge, no wire load
   (the Liberty's ``default_wire_load`` is left out of OpenSTA's copy, as :mod:`synth.sta` has
   none), and once more with the Liberty's default wire-load model;
4. reads the worst slack; the critical path is ``period - slack``.

Usage: ``python -m synth.opensta TOP [TOP ...]`` after ``sparse-hw area --top TOP``; it prints both
figures and their deviation. ``docs/timing.md`` records the measured deviations.
"""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["sta_available", "netlist_verilog", "opensta_path", "compare", "main"]

#: Clock period given to OpenSTA (ns); any period longer than the paths works, slack is relative.
PERIOD_NS = 100.0


def sta_available():
    """The ``sta`` executable on PATH, or None."""
    return shutil.which("sta")


def netlist_verilog(asic_dir):
    """``asic_dir/flat.v``: the job's ``flat.json`` as structural Verilog (written once)."""
    from .area import yosys_command
    asic_dir = Path(asic_dir).resolve()
    out = asic_dir / "flat.v"
    src = asic_dir / "flat.json"
    if not src.exists():
        raise FileNotFoundError(f"{src} is missing: run `sparse-hw area` on this top first")
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        (asic_dir / "to_verilog.ys").write_text(
            "read_json flat.json\nwrite_verilog -noattr -noexpr flat.v\n")
        proc = subprocess.run([*yosys_command(), "-q", "to_verilog.ys"], cwd=asic_dir,
                              capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"yosys could not write {out}: {proc.stderr.strip()[-1000:]}")
    return out


def _liberty_without_wire_load(lib_path, folder):
    """A copy of the Liberty file without ``default_wire_load`` (so OpenSTA adds no wire load)."""
    dest = Path(folder) / (Path(lib_path).stem + ".nowl.lib")
    if not dest.exists() or dest.stat().st_mtime < Path(lib_path).stat().st_mtime:
        text = Path(lib_path).read_text(errors="replace")
        dest.write_text(re.sub(r"^\s*default_wire_load\s*:.*$", "", text, flags=re.MULTILINE))
    return dest


def _script(top, lib, netlist, input_slew):
    return "\n".join([
        f"read_liberty {lib}",
        f"read_verilog {netlist}",
        f"link_design {top}",
        f"create_clock -name clk -period {PERIOD_NS} [get_ports clk]",
        "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]",
        "set_output_delay 0 -clock clk [all_outputs]",
        f"set_input_transition {input_slew} [all_inputs]",
        "report_checks -path_delay max -digits 4",
        "exit",
    ]) + "\n"


def opensta_path(asic_dir, top, lib_path, wire_load=False):
    """Critical path (ns) of an ``asic`` job by OpenSTA, and its report text."""
    from .sta import INPUT_SLEW_NS
    exe = sta_available()
    if exe is None:
        raise FileNotFoundError("OpenSTA (`sta`) is not on PATH: apt-get install opensta")
    asic_dir = Path(asic_dir).resolve()
    netlist = netlist_verilog(asic_dir)
    lib = Path(lib_path) if wire_load else _liberty_without_wire_load(lib_path, asic_dir)
    script = asic_dir / f"opensta{'_wl' if wire_load else ''}.tcl"
    script.write_text(_script(top, lib.resolve(), netlist.resolve(), INPUT_SLEW_NS))
    proc = subprocess.run([exe, "-no_init", "-no_splash", "-exit", str(script)], cwd=asic_dir,
                          capture_output=True, text=True, timeout=3600)
    text = proc.stdout + proc.stderr
    (script.with_suffix(".log")).write_text(text)
    m = re.search(r"^\s*(-?[\d.]+)\s+slack \((?:MET|VIOLATED)\)", text, re.MULTILINE)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"OpenSTA on {top} gave no worst slack (log "
                           f"{script.with_suffix('.log')}): {text.strip()[-800:]}")
    return PERIOD_NS - float(m.group(1)), text


def buffer_netlist(flat, cells, fanout=None):
    """``flat`` (a ``write_json`` netlist dict, one module) with every net of more than
    ``fanout`` cell sinks (default :data:`synth.sta.FANOUT_MAX`) driven through a tree of the
    library's ``buf_4``: leaf buffers of ``fanout`` sinks each, then fan-out-4 levels until the
    driver sees at most 4 buffers. This is the tree :mod:`synth.sta` assumes for such nets
    (``ceil(log4(n / fanout))`` buffer levels), made concrete, so both analysers can time the
    same netlist. Returns a new dict; ``flat`` is unchanged."""
    import copy

    from .sta import FANOUT_MAX
    fanout = fanout or FANOUT_MAX
    names = sorted(n for n in cells if re.search(r"__buf_4$", n))
    if not names:
        raise ValueError("the library has no *__buf_4 cell to build buffer trees with")
    buf = names[0]
    bin_, bout = next(iter(cells[buf]["inputs"])), next(iter(cells[buf]["outputs"]))
    flat = copy.deepcopy(flat)
    top = next((m for m, v in flat["modules"].items() if v.get("attributes", {}).get("top")),
               None) or next(iter(flat["modules"]))
    mod = flat["modules"][top]
    sinks = {}
    nbits = 1
    for cname, c in mod["cells"].items():
        lib = cells.get(c["type"])
        for pin, bits in c["connections"].items():
            d = c.get("port_directions", {}).get(pin)
            if lib is not None:
                d = "input" if pin in lib["inputs"] else "output" if pin in lib["outputs"] else d
            for k, b in enumerate(bits):
                if isinstance(b, int):
                    nbits = max(nbits, b + 1)
                    if d == "input":
                        sinks.setdefault(b, []).append((cname, pin, k))
    for p in mod["ports"].values():
        nbits = max([nbits, *(b + 1 for b in p["bits"] if isinstance(b, int))])
    count = 0
    for b, users in list(sinks.items()):
        level, group = users, fanout
        while len(level) > group:
            nxt = []
            for g in range(0, len(level), group):
                new = nbits
                nbits += 1
                name = f"$sta_buf{count}"
                count += 1
                for cname, pin, k in level[g:g + group]:
                    mod["cells"][cname]["connections"][pin][k] = new
                mod["cells"][name] = {"hide_name": 1, "type": buf, "parameters": {},
                                      "attributes": {},
                                      "port_directions": {bin_: "input", bout: "output"},
                                      "connections": {bin_: [b], bout: [new]}}
                nxt.append((name, bin_, 0))
            level, group = nxt, 4
    return flat


def _write_flat(flat, folder):
    import json
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "flat.json").write_text(json.dumps(flat))
    return folder


def compare(top, synth_dir=None, lib=None, wire_load=True):
    """Critical paths (ns) of one top after ``sparse-hw area --top TOP``, by us and by OpenSTA.

    Returns a dict:

    ``report_ns``
        The area report's figure: :mod:`synth.sta` on the report's (unbuffered) netlist, nets of
        more than ``FANOUT_MAX`` sinks assumed buffered.
    ``ours_buffered_ns``, ``opensta_buffered_ns``, ``deviation``
        Both analysers on the report's netlist with explicit buffer trees
        (:func:`buffer_netlist`); ``deviation`` = ours / OpenSTA - 1: the error of our delay
        calculation alone.
    ``report_vs_opensta``
        ``report_ns`` / ``opensta_buffered_ns`` - 1: the report's figure (buffer trees assumed,
        not built) against OpenSTA on the explicitly buffered netlist: delay calculation and
        buffering model together.
    ``opensta_wire_load_ns``
        OpenSTA on the buffered netlist with the Liberty's default wire-load model (wires cost
        delay; ours has none).
    """
    import json

    from hw.emit import build_dir

    from .area import find_liberty, prepare_liberty
    from .sta import critical_path, read_liberty
    libfile = prepare_liberty(find_liberty(lib))
    top_dir = Path(synth_dir or build_dir() / "synth" / libfile.name) / top
    asic = top_dir / "asic"
    if not (asic / "flat.json").exists():
        raise FileNotFoundError(f"no {asic / 'flat.json'}: run `sparse-hw area --top {top}` first")
    cells = read_liberty(libfile.path)
    flat = json.loads((asic / "flat.json").read_text())
    report = critical_path(flat, cells)["critical_path_ns"]
    buf = _write_flat(buffer_netlist(flat, cells), top_dir / "asic_buffered")
    # The same netlist, now explicitly buffered: no further buffering assumed.
    ours = critical_path(json.loads((buf / "flat.json").read_text()), cells,
                         fanout_max=None)["critical_path_ns"]
    theirs, _ = opensta_path(buf, top, libfile.path)
    out = {"top": top, "library": libfile.name, "report_ns": report, "ours_buffered_ns": ours,
           "opensta_buffered_ns": theirs, "deviation": ours / theirs - 1,
           "report_vs_opensta": report / theirs - 1}
    if wire_load:
        out["opensta_wire_load_ns"] = opensta_path(buf, top, libfile.path, wire_load=True)[0]
    return out


ROW_HEADER = ("| top | report ns (sta.py, buffer trees assumed) | sta.py ns "
              "(buffer trees built) | OpenSTA ns (same netlist) | deviation (same netlist) | "
              "report vs OpenSTA | OpenSTA ns + Liberty wire load |\n"
              "|---|---:|---:|---:|---:|---:|---:|")


def row(c):
    """One markdown row of :data:`ROW_HEADER` for a :func:`compare` result."""
    wl = c.get("opensta_wire_load_ns")
    return (f"| {c['top']} | {c['report_ns']:.3f} | {c['ours_buffered_ns']:.3f} | "
            f"{c['opensta_buffered_ns']:.3f} | {c['deviation']:+.1%} | "
            f"{c['report_vs_opensta']:+.1%} | {'' if wl is None else f'{wl:.3f}'} |")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m synth.opensta",
                                description="Compare synth/sta.py's critical path with OpenSTA's "
                                            "on the asic jobs of `sparse-hw area`.")
    p.add_argument("tops", nargs="+", help="tops already synthesised by `sparse-hw area`")
    p.add_argument("--liberty", help="Liberty file (default: as sparse-hw area)")
    args = p.parse_args(argv)
    if sta_available() is None:
        print("OpenSTA (`sta`) is not on PATH: apt-get install opensta", file=sys.stderr)
        return 2
    print(ROW_HEADER)
    for top in args.tops:
        print(row(compare(top, lib=args.liberty)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
