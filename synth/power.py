"""``sparse-hw power``: energy and power from simulated switching activity, on the area's cells.

Designs and workloads (:mod:`synth.power_work`): the EUREKA core, its dense and Ampere-like 2:4
baselines (the tests' 4x8 size, G=8; ``--rows/--lanes`` for others, ``make power-paper`` for the
paper's 8x32) on a GEMM at d_w 0.2 and a 2:4 GEMM, a SparTen cluster with the dense MAC array of
as many MACs (4 units, chunk 8) on a VGG-like layer, and with ``--barista`` a BARISTA cluster
(memories of 64 words, so all cells) with its dense MAC array on a VGG-like layer. The 8x32 trio
and the BARISTA cluster (115k cells) take far longer to build than ``make power``'s budget
(measured in ``docs/power.md``); every model is cached, so a rerun builds nothing. For each:

1. Synthesis with the area flow itself (:func:`synth.area.synthesize`, ``asic`` flow, same ABC
   script and Liberty file as ``make area``; sky130 hd TT by default).
2. The flattened mapped netlist (the area flow's ``flat.json``) is written as Verilog with every
   internal net given a public name (:func:`export_netlist`), and the cells it uses get Verilog
   models made by Yosys' ``read_liberty`` (without ``-lib``) from the Liberty file itself
   (:func:`cell_models`); each combinational model is checked exhaustively against its Liberty
   ``function`` (:func:`check_models`) before anything is simulated.
3. Verilator simulates the netlist with ``--trace-saif`` (the native harness,
   :mod:`sim.native`, built with ``trace="saif"`` and its ``power`` profile) on the workload; toggle counting runs over a window of ``--window`` cycles in the middle of the
   run (the whole run if shorter), and the netlist's results are checked bit for bit against the
   golden model.
4. :func:`synth.power_model.netlist_power`: toggle rates x (Liberty internal energy at the timing
   flow's transitions and loads + ½CV²) + state-weighted leakage, at ``--clock-mhz`` (200 MHz).
5. The RTL of the same design runs the same workload twice with SAIF (whole run, window only): the
   mean toggle rate of the RTL nets in the window against the whole run says how representative
   the window is.

Reports: ``build/reports/power.{md,json,png}``; the JSON contract is :func:`write_reports`'.
"""

import dataclasses
import json
import re
import subprocess
import time
from pathlib import Path

from hw.emit import build_dir
from sim import native
from . import area
from .liberty_power import eval_bool, parse_bool, read_power
# the report half of make power (power.json, power.md, the plot); re-exported for callers
from .power_report import PAPER, PAIRS, comparisons, write_reports  # noqa: F401

__all__ = ["DEFAULT_CLOCK_MHZ", "DEFAULT_WINDOW", "export_netlist", "cell_models",
           "check_models", "measure", "register", "run"]

DEFAULT_CLOCK_MHZ = 200.0
#: Cycles of the SAIF window of the gate-level run (the middle of the run; all of it if shorter).
DEFAULT_WINDOW = 2000

_EXPORT = """read_liberty -lib {lib}
read_json flat.json
rename -hide w:* x:* %d
rename -enumerate -pattern pwr_n% w:* x:* %d
opt_clean
write_json net.json
write_verilog -noattr -noexpr netlist.v
"""


def _yosys(script, cwd, log="log.txt"):
    (Path(cwd) / "run_power.ys").write_text(script)
    p = subprocess.run([*area.yosys_command(), "-q", "-l", log, "run_power.ys"], cwd=cwd,
                       capture_output=True, text=True)
    if p.returncode != 0:
        tail = (Path(cwd) / log).read_text(errors="replace").splitlines()[-5:] \
            if (Path(cwd) / log).exists() else [p.stderr]
        raise RuntimeError(f"Yosys failed in {cwd}: {' / '.join(tail)}")


def export_netlist(asic_dir, lib):
    """``netlist.v`` and ``net.json`` of the area flow's flattened netlist in ``asic_dir``.

    Every internal wire becomes ``pwr_n<k>`` (public, so Verilator traces it, and the same name in
    the JSON and the Verilog); ports keep their names; cell names keep the hierarchy.
    """
    asic_dir = Path(asic_dir)
    out = asic_dir / "net.json"
    src = asic_dir / "flat.json"
    if out.exists() and (asic_dir / "netlist.v").exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return asic_dir / "netlist.v", out
    _yosys(_EXPORT.format(lib=area._rel(lib.path, asic_dir)), asic_dir, "export.log")
    return asic_dir / "netlist.v", out


def cell_models(lib, used, folder):
    """Verilog models of the cells ``used`` (names), made by ``read_liberty`` from the Liberty
    file (cached per library in ``build/cells/``), written to ``folder/cells.v``; also returns
    the models' Yosys JSON (for :func:`check_models`)."""
    cells_dir = Path(lib.path).parent
    stem = Path(lib.path).stem
    mv, mj = cells_dir / f"{stem}.models.v", cells_dir / f"{stem}.models.json"
    if not mv.exists() or not mj.exists() or mv.stat().st_mtime < Path(lib.path).stat().st_mtime:
        # -ignore_miss_*: a few cells (tristate, power switches) lack a function; we never use them
        _yosys(f"read_liberty -ignore_miss_func -ignore_miss_dir -ignore_miss_data_latch "
               f"{Path(lib.path).name}\nwrite_verilog -noattr {mv.name}\nwrite_json {mj.name}\n",
               cells_dir, f"{stem}.models.log")
    text = mv.read_text()
    blocks = {}
    for b in re.split(r"(?m)^(?=module )", text):
        m = re.match(r"module\s+\\?(\S+?)\s*\(", b)
        if m:
            blocks[m.group(1)] = b.split("endmodule")[0] + "endmodule\n"
    missing = sorted(set(used) - set(blocks))
    if missing:
        raise ValueError(f"no Liberty model for cell(s) {missing} (read_liberty wrote none)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "cells.v"
    body = "".join(blocks[c] for c in sorted(used))
    if not out.exists() or out.read_text() != body:
        out.write_text(body)
    return out, json.loads(mj.read_text())


_GATES = {
    "$_NOT_": lambda a: 1 - a["A"], "$_BUF_": lambda a: a["A"],
    "$_AND_": lambda a: a["A"] & a["B"], "$_OR_": lambda a: a["A"] | a["B"],
    "$_XOR_": lambda a: a["A"] ^ a["B"], "$_NAND_": lambda a: 1 - (a["A"] & a["B"]),
    "$_NOR_": lambda a: 1 - (a["A"] | a["B"]), "$_XNOR_": lambda a: 1 - (a["A"] ^ a["B"]),
    "$_ANDNOT_": lambda a: a["A"] & (1 - a["B"]), "$_ORNOT_": lambda a: a["A"] | (1 - a["B"]),
    "$_MUX_": lambda a: a["B"] if a["S"] else a["A"],
}


def _eval_model(mod, inputs):
    """Output values of a combinational Yosys-JSON model for one input assignment."""
    val = {}
    for name, p in mod["ports"].items():
        if p["direction"] == "input":
            val[p["bits"][0]] = inputs[name]
    cells = list(mod["cells"].values())
    for _ in range(len(cells) + 1):
        progress = False
        for c in cells:
            out = [b for pin, bits in c["connections"].items() if c["port_directions"][pin] == "output"
                   for b in bits]
            if all(b in val for b in out):
                continue
            ins = {pin: bits[0] for pin, bits in c["connections"].items()
                   if c["port_directions"][pin] == "input"}
            args = {}
            for pin, b in ins.items():
                if isinstance(b, str):
                    args[pin] = int(b == "1")
                elif b in val:
                    args[pin] = val[b]
            if len(args) == len(ins):
                f = _GATES.get(c["type"])
                if f is None:
                    raise ValueError(f"model uses {c['type']}, not a plain gate")
                val[out[0]] = f(args)
                progress = True
        if not progress:
            break
    res = {}
    for name, p in mod["ports"].items():
        if p["direction"] == "output":
            b = p["bits"][0]
            res[name] = int(b == "1") if isinstance(b, str) else val.get(b)
    return res


def check_models(models_json, lib_power, used):
    """Check every combinational cell of ``used`` against its Liberty ``function``, on all input
    combinations. Returns ``{"checked": [cells], "sequential": [cells], "combinations": n}``;
    raises ``ValueError`` naming the cell, pin and inputs of the first mismatch."""
    mods = {k.lstrip("\\"): v for k, v in models_json["modules"].items()}
    checked, seq, combos = [], [], 0
    for cell in sorted(used):
        lc = lib_power["cells"].get(cell)
        if lc is None or cell not in mods:
            raise ValueError(f"cell {cell} has no Liberty power data or no model")
        if lc["seq"]:
            seq.append(cell)
            continue
        ins = sorted(lc["inputs"])
        funcs = {p: parse_bool(f) for p, f in lc["functions"].items()}
        for k in range(1 << len(ins)):
            env = {p: (k >> i) & 1 for i, p in enumerate(ins)}
            got = _eval_model(mods[cell], env)
            for pin, tree in funcs.items():
                want = eval_bool(tree, env)
                if got.get(pin) != want:
                    raise ValueError(f"cell model {cell}: {pin} = {got.get(pin)} for {env}, "
                                     f"Liberty function {lc['functions'][pin]!r} gives {want}")
            combos += 1
        checked.append(cell)
    return {"checked": checked, "sequential": seq, "combinations": combos}


# -- One design -----------------------------------------------------------------------------------


def _window(total, window):
    """(first, last) cycle of the SAIF window: the middle ``window`` cycles of ``total``."""
    if window is None or window >= total:
        return 0, total
    first = (total - window) // 2
    return first, first + window


def _script(job, folder, first, last, saif="dump.saif"):
    """Native command script (:mod:`sim.native`) of ``job``: its setup, the SAIF window
    [first, last) counted from the end of the setup, written to ``folder/saif``, then its finish
    (run to the end) and the peeks. A window of the whole run is open from the end of the setup
    to the end of the run."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / saif
    lines = list(job.setup)
    if first == 0 and last >= job.expected_cycles:
        # the whole run: the window closes when the run ends, not after a cycle estimate
        lines += [("saif", path), *job.finish, ("saif", None)]
    else:
        if first:
            lines.append(("step", first))
        lines += [("saif", path), ("step", last - first), ("saif", None), *job.finish]
    lines += [("peek", p) for p in job.peek]
    return lines


@dataclasses.dataclass
class Built:
    """A design synthesised and ready to simulate."""

    name: str
    engine: str
    synth: object              # area.SynthResult
    net: dict                  # net.json
    slews: dict
    netlist: Path              # netlist.v
    gate: object               # native.NativeModel (SAIF windows)
    rtl: object                # native.NativeModel or None
    models: dict               # check_models result
    seconds: dict


def _synth_stamp(design, lib):
    """What a design's synthesis depends on: its Verilog, the Liberty file and the flow's code."""
    import hashlib
    h = hashlib.sha256(Path(design.verilog).read_bytes())
    h.update(str(Path(lib.path).resolve()).encode())
    # the area flow is several modules of synth/ (area.py is its entry point): all but power's
    for src in sorted(Path(area.__file__).parent.glob("*.py")):
        if not src.name.startswith(("power", "liberty_power")):
            h.update(src.read_bytes())
    return h.hexdigest()


def _synthesize(designs, lib, work, log, reuse):
    """:func:`synth.area.synthesize` (asic flow); with ``reuse`` a design whose Verilog, library
    and flow code are those of its last synthesis in ``work`` is read back, not synthesised."""
    stamps = {d.name: _synth_stamp(d, lib) for d in designs}

    def fresh(d):
        f = work / d.name / "asic" / "synth.stamp"
        return reuse and f.exists() and f.read_text().strip() == stamps[d.name] \
            and (work / d.name / "asic" / "flat.json").exists()
    old = [d for d in designs if fresh(d)]
    new = [d for d in designs if not fresh(d)]
    got = {}
    for batch, again in ((old, True), (new, False)):
        if batch:
            for d, r in zip(batch, area.synthesize(batch, lib, flows=("asic",), work=work, jobs=2,
                                                   log=log, reuse=again)):
                got[d.name] = r
                if not again and not r.errors:
                    (work / d.name / "asic" / "synth.stamp").write_text(stamps[d.name] + "\n")
    return [got[d.name] for d in designs]


def build_designs(jobs, lib, lib_power, log=print, rtl=True, work=None, reuse_synth=False):
    """Synthesise every distinct design of ``jobs`` with the area flow, export the netlists,
    check the cell models, build the gate-level (and RTL) SAIF drivers. ``{design: Built}``.

    ``reuse_synth`` reads back a synthesis of the same Verilog, library and flow code instead of
    running Yosys again (sweeps; ``make power`` always synthesises)."""
    from hw.emit import emit_verilog
    from .sta import critical_path, read_liberty
    work = Path(work or build_dir() / "power")
    vdir = work / "verilog"
    first = {}
    for j in jobs:
        first.setdefault(j.design, j)
    designs, t = [], {}
    for name, j in first.items():
        t0 = time.monotonic()
        v, _ = emit_verilog(j.make(), name, j.config, vdir)
        t[name] = {"verilog": time.monotonic() - t0}
        designs.append(area.Design(name, v, j.engine, j.role, j.description,
                                   j.config.to_dict() if j.config is not None else None))
    log(f"synthesis ({len(designs)} designs, area flow, {lib.name})")
    results = _synthesize(designs, lib, work / "synth" / lib.name, lambda m: log("  " + m),
                          reuse_synth)
    lib_timing = read_liberty(lib.path)
    out = {}
    for d, r in zip(designs, results):
        if r.errors:
            raise RuntimeError(f"synthesis of {d.name} failed: {r.errors}")
        asic = work / "synth" / lib.name / d.name / "asic"
        nv, nj = export_netlist(asic, lib)
        net = json.loads(nj.read_text())
        mod = net["modules"][d.name]
        used = {c["type"] for c in mod["cells"].values() if c["type"] in lib_power["cells"]}
        cells_v, models_json = cell_models(lib, used, asic)
        models = check_models(models_json, lib_power, used)
        slews = {}
        critical_path(net, lib_timing, d.name, slews=slews)
        t0 = time.monotonic()
        log(f"  {d.name}: {len(mod['cells'])} cells, {len(models['checked'])} cell models "
            f"checked against their Liberty functions; building the gate-level model")
        gate = native.build_verilog(nv.read_text() + cells_v.read_text(), d.name, trace="saif",
                                    profile="power", trace_depth=1, folder=work / "sim" / "gate",
                                    log=lambda m: log(f"    gate {m}"))
        t[d.name]["gate_build"] = time.monotonic() - t0
        rtl_model = None
        if rtl:
            t0 = time.monotonic()
            rtl_model = native.build_verilog(Path(d.verilog).read_text(), d.name, trace="saif",
                                             profile="power", folder=work / "sim" / "rtl",
                                             log=lambda m: log(f"    RTL {m}"))
            t[d.name]["rtl_build"] = time.monotonic() - t0
        log(f"  {d.name}: built (gate {t[d.name]['gate_build']:.0f} s"
            + (f", RTL {t[d.name]['rtl_build']:.0f} s)" if rtl else ")"))
        out[d.name] = Built(d.name, d.engine, r, net, slews, nv, gate, rtl_model, models,
                            t[d.name])
    return out


def _rates(nets, cycles):
    return {n: tc / cycles for n, (t0, t1, tc) in nets.items()}


def representativeness(built, job, first, last, total, folder):
    """RTL toggle rates of the window against the whole run (same workload, same RTL)."""
    folder = Path(folder)
    whole = built.rtl.run(_script(job, folder / "whole", 0, total))
    win = built.rtl.run(_script(job, folder / "window", first, last))
    rw, _ = native.read_saif(folder / "whole" / "dump.saif", scopes=True)
    rn, _ = native.read_saif(folder / "window" / "dump.saif", scopes=True)
    # rates over the cycles each SAIF window really covered (a whole-run window ends with the run)
    cw = max(1, whole.windows[0][1] - whole.windows[0][0])
    cn = max(1, win.windows[0][1] - win.windows[0][0])
    a, b = _rates(rw, cw), _rates(rn, cn)
    keys = [k for k in a if k in b and not k.endswith(("clk", "rst"))]
    mean_w = sum(a[k] for k in keys) / max(1, len(keys))
    mean_n = sum(b[k] for k in keys) / max(1, len(keys))
    # per-net deviation, weighted by activity: sum |window - whole| / sum whole
    dev = sum(abs(b[k] - a[k]) for k in keys) / max(1e-12, sum(a[k] for k in keys))
    return {"rtl_nets": len(keys), "whole_cycles": cw, "window_cycles": cn,
            "mean_toggle_rate_whole": mean_w, "mean_toggle_rate_window": mean_n,
            "window_over_whole": mean_n / mean_w if mean_w else None,
            "per_net_deviation": dev}


def measure(job, built, lib_power, clock_mhz, window, work=None, rtl=True):
    """Gate-level run of ``job`` on ``built`` with a SAIF window; the power figures and checks."""
    from .power_model import netlist_power
    work = Path(work or build_dir() / "power")
    total = job.expected_cycles
    first, last = _window(total, window)
    folder = work / "runs" / f"{job.design}-{job.workload}"
    res = built.gate.run(_script(job, folder / "gate", first, last))
    checked = job.check(res)
    nets, _ = native.read_saif(folder / "gate" / "dump.saif")
    (wa, wb), = res.windows
    cycles = wb - wa
    p = netlist_power(built.net, job.design, lib_power, nets, cycles, clock_mhz * 1e6,
                      built.engine, built.slews)
    run_cycles = res.sim_cycles - native.RESET_CYCLES
    energy_j = p["total_w"] * run_cycles / (clock_mhz * 1e6)
    out = {
        "design": job.design, "workload": job.workload, "description": job.description,
        "engine": job.engine, "role": job.role, "config": job.config.to_dict(),
        "cycles": run_cycles, "busy_cycles": checked.get("busy_cycles"),
        "window": [first, last], "window_cycles": cycles,
        "dynamic_mw": p["dynamic_w"] * 1e3, "leakage_mw": p["leakage_w"] * 1e3,
        "total_mw": p["total_w"] * 1e3, "energy_nj": energy_j * 1e9,
        "pj_per_mac": energy_j * 1e12 / job.macs if job.macs else None,
        "pj_per_dense_mac": energy_j * 1e12 / job.dense_macs if job.dense_macs else None,
        "macs": job.macs, "dense_macs": job.dense_macs,
        "blocks": {k: (v["dynamic_w"] + v["leakage_w"]) * 1e3 for k, v in p["blocks"].items()},
        "block_toggles": {k: v["toggles"] for k, v in p["blocks"].items()},
        "area_um2": built.synth.numbers.get("area_um2"), "cells": p["cells"],
        "nets": p["nets"], "nets_missing": p["nets_missing"], "memory_macros": p["macros"],
        "toggles_per_cycle": p["toggles_per_cycle"], "checks": checked,
        "cell_models_checked": len(built.models["checked"]),
        "gate_sim_seconds": res.seconds,
        "gate_build": native.build_stats(built.gate),
    }
    if rtl and built.rtl is not None:
        out["representativeness"] = representativeness(built, job, first, last, total,
                                                       folder / "rtl")
    return out


def opensta_power(netlist, top, lib, clock_mhz, folder, activity=0.1):
    """Debian OpenSTA's vectorless ``report_power`` of a mapped netlist (Verilog), or
    ``(None, reason)`` when ``sta`` is not on PATH (``apt-get install opensta``)."""
    import shutil
    exe = shutil.which("sta")
    if exe is None:
        return None, "OpenSTA (`sta`) is not on PATH (Debian: apt-get install opensta)"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    period = 1000.0 / clock_mhz
    tcl = folder / "power.tcl"
    # this OpenSTA (2.0.17) spells the option -activiity in its help; both are tried
    tcl.write_text(f"read_liberty {Path(lib.path).resolve()}\nread_verilog {Path(netlist).resolve()}\n"
                   f"link_design {top}\ncreate_clock -name clk -period {period:g} "
                   f"[get_ports clk]\n"
                   f"if {{[catch {{set_power_activity -input -activity {activity}}}]}} "
                   f"{{set_power_activity -input -activiity {activity}}}\n"
                   "report_power\nexit\n")
    p = subprocess.run([exe, "-no_init", "-exit", str(tcl)], capture_output=True, text=True,
                       timeout=600)
    text = (p.stdout + p.stderr).strip()
    m = re.search(r"^Total\s+([-0-9.eE+]+)\s+([-0-9.eE+]+)\s+([-0-9.eE+]+)\s+([-0-9.eE+]+)",
                  text, re.MULTILINE)
    if p.returncode != 0 or not m:
        return None, f"OpenSTA ran but gave no power total: {text[-300:]}"
    internal, switching, leakage, total = (float(m.group(k)) for k in range(1, 5))
    return {"internal_w": internal, "switching_w": switching, "leakage_w": leakage,
            "total_w": total, "input_activity": activity, "text": text}, None


# -- Command line ---------------------------------------------------------------------------------


def register(sub):
    p = sub.add_parser(
        "power", help="power and energy from gate-level switching activity (SAIF) on the area's "
                      "cell library",
        description="Synthesise the EUREKA core and its dense and Ampere-like 2:4 baselines, the "
                    "SparTen cluster and (--barista) the BARISTA cluster, each with its dense "
                    "array, with the area flow, simulate the mapped netlists in Verilator with "
                    "SAIF on GEMMs and VGG-like layers, and write "
                    "build/reports/power.{md,json,png}.")
    p.add_argument("--liberty", default=None, metavar="PATH",
                   help="Liberty file (default as `sparse-hw area`: sky130 hd TT)")
    p.add_argument("--clock-mhz", type=float, default=DEFAULT_CLOCK_MHZ, metavar="F",
                   help=f"clock the power is stated at (default {DEFAULT_CLOCK_MHZ:g} MHz)")
    p.add_argument("--window", type=int, default=DEFAULT_WINDOW, metavar="CYCLES",
                   help=f"SAIF window of the gate-level run, in cycles (default {DEFAULT_WINDOW}; "
                        "the middle of the run, all of it if shorter)")
    p.add_argument("--rows", type=int, default=None, help="EUREKA rows R (default: 4, the tests' core)")
    p.add_argument("--lanes", type=int, default=None, help="EUREKA lanes L (default: 8)")
    p.add_argument("--no-eureka", action="store_true",
                   help="skip the EUREKA core and its baselines")
    p.add_argument("--no-sparten", action="store_true",
                   help="skip the SparTen cluster and its dense MAC array")
    p.add_argument("--barista", action="store_true",
                   help="also the BARISTA cluster and its dense MAC array (115k cells: outside "
                        "make power's budget, docs/power.md)")
    p.add_argument("--no-rtl", action="store_true",
                   help="skip the RTL runs that measure how representative the window is")
    p.add_argument("--reuse-synth", action="store_true",
                   help="read back a synthesis of the same Verilog, library and flow code "
                        "instead of running Yosys again (make power-paper)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default build/reports)")
    p.set_defaults(func=run)


def run(args):
    from hw.common.config import check_int
    from hw.eureka.config import SMALL
    from . import power_work
    if not args.clock_mhz > 0 or args.clock_mhz > 10_000:
        raise ValueError(f"--clock-mhz must be in (0, 10000] MHz, not {args.clock_mhz!r}")
    check_int("--window", args.window, 16, 10_000_000)
    if args.no_eureka and args.no_sparten and not args.barista:
        raise ValueError("--no-eureka and --no-sparten without --barista leave nothing to "
                         "measure")
    cfg = dataclasses.replace(SMALL, rows=SMALL.rows if args.rows is None else args.rows,
                              lanes=SMALL.lanes if args.lanes is None else args.lanes)
    t0 = time.monotonic()
    src = area.find_liberty(args.liberty)
    if src is None:
        raise ValueError("power needs a Liberty file (--liberty or SPARSE_HW_LIBERTY; 'none' "
                         "has no power data)")
    lib = area.prepare_liberty(src)
    lib_power = read_power(lib.path)
    print(f"library: {lib.name} [{lib.corner}] from {src}; clock {args.clock_mhz:g} MHz")
    jobs = (([] if args.no_eureka else power_work.eureka_jobs(cfg))
            + ([] if args.no_sparten else power_work.sparten_jobs())
            + (power_work.barista_jobs() if args.barista else []))

    def log(msg):
        print(f"[{time.monotonic() - t0:5.0f} s] {msg}", flush=True)
    built = build_designs(jobs, lib, lib_power, log=log, rtl=not args.no_rtl,
                          reuse_synth=args.reuse_synth)
    rows = []
    for k, job in enumerate(jobs, 1):
        r = measure(job, built[job.design], lib_power, args.clock_mhz, args.window,
                    rtl=not args.no_rtl)
        rows.append(r)
        log(f"[{k}/{len(jobs)}] {job.design} / {job.workload}: {r['total_mw']:.3f} mW, "
            f"{r['energy_nj']:.2f} nJ, {r['pj_per_mac']:.3f} pJ/MAC, {r['cycles']} cycles, "
            f"bit-exact {r['checks']['bit_exact']}")
    extra = {}
    first = built[jobs[0].design]
    sta_res, why = opensta_power(first.netlist, first.name, lib, args.clock_mhz,
                                 build_dir() / "power" / "opensta")
    ours = next(r for r in rows if r["design"] == first.name)
    if sta_res is None:
        extra["opensta"] = {"skipped": why, "text": f"Skipped: {why}."}
        log(f"OpenSTA: skipped ({why})")
    else:
        extra["opensta"] = {**{k: v for k, v in sta_res.items() if k != "text"},
                            "design": first.name, "ours_total_mw": ours["total_mw"],
                            "text": f"`{first.name}`: OpenSTA vectorless (input activity "
                                    f"{sta_res['input_activity']}) total "
                                    f"{sta_res['total_w'] * 1e3:.3f} mW (internal "
                                    f"{sta_res['internal_w'] * 1e3:.3f}, switching "
                                    f"{sta_res['switching_w'] * 1e3:.3f}, leakage "
                                    f"{sta_res['leakage_w'] * 1e3:.6f}); ours from the "
                                    f"simulated activity of {ours['workload']}: "
                                    f"{ours['total_mw']:.3f} mW."}
        log("OpenSTA: " + extra["opensta"]["text"])
    js, md = write_reports(rows, lib, args.clock_mhz, time.monotonic() - t0, args.out, extra)
    values, detail = comparisons(rows)
    for name, c in detail.items():
        if c.get("value") is None:
            print(f"  {c['what']}: not measured ({c.get('reason')})")
            continue
        tgt = f"target {c['target']:g}" if c["target"] is not None else "no target"
        met = "" if c.get("met") is None else (" met" if c["met"] else
                                               f" MISSED (limiting block: {c['limiting_block']})")
        print(f"  {c['what']}: ours {c['value']:.3f}, {tgt}, paper "
              f"{c['paper'] if c['paper'] is not None else '-'}{met}")
    print(f"wrote {md} and {js} ({time.monotonic() - t0:.0f} s)")
    return 0
