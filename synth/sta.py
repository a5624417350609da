"""Critical-path estimate of a flattened, mapped Yosys netlist with Liberty NLDM tables.

Why our own: Yosys' ``sta`` only knows timing from ``specify`` blocks (``read_liberty`` brings no
timing arcs), and the WebAssembly Yosys loses ABC's ``stime`` output. So the flow writes the
flattened netlist as JSON and this module walks it.

Model (an estimate, stated in the reports):

- Start points: top-level inputs (arrival 0, transition :data:`INPUT_SLEW_NS`) and sequential cell
  outputs (the clock-to-output arc of the Liberty cell; memory macros start at 0).
- Each combinational arc's delay and output transition are looked up in the Liberty tables
  (bilinear interpolation, linear extrapolation) at the input transition and the net's load, the
  sum of the input capacitances of the pins it drives (no wire load: this is before placement).
  Rise and fall are not tracked separately; the worse of the two is taken at every arc, which
  over-estimates slightly.
- Nets with more than :data:`FANOUT_MAX` sink pins are assumed buffered as a real flow would (ABC's
  ``map`` inserts no buffers): the driver sees :data:`FANOUT_MAX` average pins and each level of an
  ideal fan-out-4 tree of the library's ``buf_4`` (or first ``buf``) adds that buffer's delay.
- End points: sequential cell data inputs (plus the setup time at the arriving transition),
  memory-macro inputs and top-level outputs.

:func:`critical_path` returns ns, the implied MHz, the logic depth in cells of the longest path, and
the start/end points. Without a Liberty file only the logic depth (unit delay per cell) is known.
"""

import bisect
import json
import math
import os
import pickle
import re
from pathlib import Path

__all__ = ["read_liberty", "critical_path", "INPUT_SLEW_NS"]

INPUT_SLEW_NS = 0.05
FANOUT_MAX = 8
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z0-9_.+\-\[\]!\'&|*^/]+|[{}():;,]')


def _tokens(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S).replace("\\\n", " ")
    return _TOKEN.findall(text)


def _parse(tokens):
    """Liberty text -> nested ``(name, args, attrs, groups)``; only what timing needs is kept."""
    pos = 0
    n = len(tokens)

    def group():
        nonlocal pos
        name = tokens[pos]
        pos += 2  # name (
        args = []
        while tokens[pos] != ")":
            if tokens[pos] != ",":
                args.append(tokens[pos].strip('"'))
            pos += 1
        pos += 1
        if pos < n and tokens[pos] == ";":   # complex attribute: name(args);
            pos += 1
            return ("attr", name, args)
        pos += 1  # {
        attrs, groups = {}, []
        while tokens[pos] != "}":
            if tokens[pos + 1] == ":":
                key = tokens[pos]
                pos += 2
                val = []
                while tokens[pos] != ";" and tokens[pos + 1] != ":" and tokens[pos] != "}":
                    val.append(tokens[pos])
                    pos += 1
                    if tokens[pos - 1].startswith('"') and tokens[pos] != ";":
                        break
                if tokens[pos] == ";":
                    pos += 1
                attrs[key] = " ".join(v.strip('"') for v in val)
            else:
                g = group()
                if g[0] == "attr":
                    attrs[g[1]] = g[2]
                else:
                    groups.append(g)
        pos += 1
        return (name, args, attrs, groups)

    return group()


def _floats(s):
    if isinstance(s, list):
        s = ",".join(s)
    return [float(x) for x in re.split(r"[,\s]+", s.strip()) if x]


def _table(g, templates):
    name, args, attrs, _ = g
    vals = attrs.get("values")
    if vals is None:
        return None
    tmpl = templates.get(args[0] if args else "", {})
    i1 = _floats(attrs["index_1"]) if "index_1" in attrs else tmpl.get("index_1", [0.0])
    i2 = _floats(attrs["index_2"]) if "index_2" in attrs else tmpl.get("index_2", [0.0])
    flat = _floats(vals)
    v1, v2 = tmpl.get("variable_1", "input_net_transition"), tmpl.get("variable_2", "")
    if len(flat) == len(i1) and not (len(i2) > 1 and len(flat) == len(i1) * len(i2)):
        rows = [[x] for x in flat]
        i2 = [0.0]
    else:
        rows = [flat[k * len(i2):(k + 1) * len(i2)] for k in range(len(i1))]
    slew_first = "transition" in v1 or "capacitance" in v2 or not v2
    if not slew_first:  # table indexed (load, slew): transpose to (slew, load)
        rows = [list(r) for r in zip(*rows)]
        i1, i2 = i2, i1
    return (i1, i2, rows)


def read_liberty(path, cache_dir=None):
    """Cells of a Liberty file: ``{cell: {"area", "seq", "inputs": {pin: cap},
    "outputs": {pin: [arc]}, "setup": {pin: table}}}``, arcs ``{"from", "type", "delay",
    "slew"}`` (tables ``(index_slew, index_load, rows)``). Cached as a pickle beside ``path``."""
    path = Path(path)
    st = path.stat()
    cache = Path(cache_dir or path.parent) / (path.name + ".timing.pickle")
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, 2)
    if cache.exists():
        try:
            with open(cache, "rb") as f:
                k, cells = pickle.load(f)
            if k == key:
                return cells
        except Exception:
            pass
    lib = _parse(_tokens(path.read_text(errors="replace")))
    templates = {}
    for g in lib[3]:
        if g[0] in ("lu_table_template", "power_lut_template"):
            t = {k: v for k, v in g[2].items() if k.startswith("variable")}
            for k in ("index_1", "index_2"):
                if k in g[2]:
                    t[k] = _floats(g[2][k])
            templates[g[1][0] if g[1] else ""] = t
    cells = {}
    for g in lib[3]:
        if g[0] != "cell":
            continue
        name, attrs, sub = g[1][0], g[2], g[3]
        cell = {"area": float(attrs.get("area", 0) or 0), "seq": False, "inputs": {},
                "outputs": {}, "setup": {}}
        for sg in sub:
            if sg[0] in ("ff", "latch", "ff_bank", "latch_bank", "statetable"):
                cell["seq"] = True
        pins = []
        for sg in sub:
            if sg[0] == "pin":
                pins.append(sg)
            elif sg[0] == "bus":
                pins += [p for p in sg[3] if p[0] == "pin"]
        for pg in pins:
            for pname in pg[1]:
                d = pg[2].get("direction", "")
                if d == "input":
                    cell["inputs"][pname] = float(pg[2].get("capacitance", 0) or 0)
                for tg in pg[3]:
                    if tg[0] != "timing":
                        continue
                    ttype = tg[2].get("timing_type", "combinational")
                    related = tg[2].get("related_pin", "").split()
                    tabs = {t[0]: _table(t, templates) for t in tg[3]}
                    if d == "input" and ttype.startswith("setup"):
                        cand = [t for t in (tabs.get("rise_constraint"), tabs.get("fall_constraint")) if t]
                        if cand:
                            cell["setup"][pname] = cand
                        continue
                    if d != "output" or ttype.startswith(("hold", "setup", "recovery", "removal",
                                                          "min_", "non_seq", "skew", "nochange")):
                        continue
                    delay = [t for t in (tabs.get("cell_rise"), tabs.get("cell_fall")) if t]
                    slew = [t for t in (tabs.get("rise_transition"), tabs.get("fall_transition")) if t]
                    if not delay:
                        continue
                    for rp in related:
                        cell["outputs"].setdefault(pname, []).append(
                            {"from": rp, "type": ttype, "delay": delay, "slew": slew})
                if d == "output":
                    cell["outputs"].setdefault(pname, [])
        cells[name] = cell
    try:
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            pickle.dump((key, cells), f)
        tmp.replace(cache)
    except OSError:
        pass
    return cells


def _interp1(xs, x):
    if len(xs) == 1:
        return 0, 0, 0.0
    k = min(max(bisect.bisect_left(xs, x) - 1, 0), len(xs) - 2)
    return k, k + 1, (x - xs[k]) / (xs[k + 1] - xs[k])


def lookup(table, slew, load):
    """Bilinear interpolation (linear extrapolation outside the table)."""
    i1, i2, rows = table
    a0, a1, fa = _interp1(i1, slew)
    b0, b1, fb = _interp1(i2, load)
    r0 = rows[a0][b0] + (rows[a0][b1] - rows[a0][b0]) * fb
    r1 = rows[a1][b0] + (rows[a1][b1] - rows[a1][b0]) * fb
    return r0 + (r1 - r0) * fa


def _worst(tables, slew, load):
    return max(lookup(t, slew, load) for t in tables) if tables else 0.0


_GENERIC_SEQ = re.compile(r"^\$(_(S?DFF|DFFE|SDFFE|SDFFCE|ALDFF|DFFSR|DFFSRE|DLATCH|SR)_|mem|dff|"
                          r"sdff|adff|dffe|aldff|dlatch|ff)")


def critical_path(flat_json, cells=None, top=None, slews=None):
    """Longest register-to-register (or port) path of the flattened netlist ``flat_json``.

    Parameters
    ----------
    flat_json : path or dict
        ``write_json`` of the flattened design (one module).
    cells : dict or None
        :func:`read_liberty` result; None gives the logic depth only.
    slews : dict or None
        If given, filled with ``{bit: transition ns}`` of every net that has an arrival (the
        transitions this walk computes; synth/power.py reads its tables at them).

    Returns
    -------
    dict
        ``critical_path_ns`` (None without cells), ``fmax_mhz``, ``logic_depth`` (cells on the
        deepest path), ``startpoint``, ``endpoint`` (hierarchical names), ``unknown_cells``.
    """
    if not isinstance(flat_json, dict):
        flat_json = json.loads(Path(flat_json).read_text())
    mods = flat_json["modules"]
    if top is None:
        top = next((m for m, v in mods.items() if v.get("attributes", {}).get("top")), None) \
            or next(iter(mods))
    mod = mods[top]
    cells = cells or {}
    timed = bool(cells)

    drivers = {}          # bit -> (cell name or None for port, pin)
    sinks = {}            # bit -> [(cell, pin)]
    cell_info = {}
    unknown = set()
    for cname, c in mod["cells"].items():
        ctype = c["type"]
        lib = cells.get(ctype)
        dirs = c.get("port_directions", {})
        ins, outs = [], []
        for pin, bits in c["connections"].items():
            if lib is not None:
                d = "input" if pin in lib["inputs"] else "output" if pin in lib["outputs"] else \
                    dirs.get(pin)
            else:
                d = dirs.get(pin)
            if d is None:
                unknown.add(ctype)
                d = "input"
            for b in bits:
                if isinstance(b, str):
                    continue
                if d == "output":
                    drivers[b] = (cname, pin)
                    outs.append((pin, b))
                else:
                    sinks.setdefault(b, []).append((cname, pin))
                    ins.append((pin, b))
        seq = lib["seq"] if lib is not None else bool(_GENERIC_SEQ.match(ctype))
        if lib is None and timed and not ctype.startswith("$"):
            unknown.add(ctype)
        cell_info[cname] = (ctype, lib, seq, ins, outs)
    for pname, p in mod["ports"].items():
        for b in p["bits"]:
            if isinstance(b, str):
                continue
            if p["direction"] == "input":
                drivers[b] = (None, pname)
            else:
                sinks.setdefault(b, []).append((None, pname))

    buf = None
    if timed:
        names = sorted(n for n in cells if re.search(r"__buf_4$", n)) or \
            sorted(n for n in cells if re.search(r"buf", n) and cells[n]["outputs"]
                   and len(cells[n]["inputs"]) == 1 and not cells[n]["seq"])
        if names:
            bc = cells[names[0]]
            arcs = [a for v in bc["outputs"].values() for a in v]
            if arcs:
                buf = (next(iter(bc["inputs"].values())), arcs[0])
    net_cache = {}

    def net_of(bit):
        """(load seen by the driver, extra buffer-tree delay, slew after the tree or None)."""
        got = net_cache.get(bit)
        if got is not None:
            return got
        tot, n = 0.0, 0
        for cname, pin in sinks.get(bit, ()):
            if cname is not None:
                n += 1
                lib = cell_info[cname][1]
                if lib is not None:
                    tot += lib["inputs"].get(pin, 0.0)
        got = (tot, 0.0, None)
        if n > FANOUT_MAX and buf is not None:
            avg = tot / n
            levels = math.ceil(math.log(n / FANOUT_MAX, 4))
            ld = FANOUT_MAX * avg
            got = (max(ld, buf[0] * 4), levels * _worst(buf[1]["delay"], INPUT_SLEW_NS, ld),
                   _worst(buf[1]["slew"], INPUT_SLEW_NS, ld))
        net_cache[bit] = got
        return got

    def load_of(bit):
        return net_of(bit)[0]

    def settle(bit, t, sl, depth, start):
        _, extra, bsl = net_of(bit)
        return (t + extra, bsl if bsl is not None else sl, depth, start)

    # arrival[bit] = (time, slew, depth, startpoint)
    arrival = {}
    for b, (cname, pin) in drivers.items():
        if cname is None:
            arrival[b] = (0.0, INPUT_SLEW_NS, 0, f"input {pin}")
    indeg = {}
    ready = []
    for cname, (ctype, lib, seq, ins, outs) in cell_info.items():
        if seq:
            for pin, b in outs:
                t = 0.0
                sl = INPUT_SLEW_NS
                if lib is not None:
                    arcs = lib["outputs"].get(pin, [])
                    ld = load_of(b)
                    t = max((_worst(a["delay"], INPUT_SLEW_NS, ld) for a in arcs), default=0.0)
                    sl = max((_worst(a["slew"], INPUT_SLEW_NS, ld) for a in arcs), default=sl)
                arrival[b] = settle(b, t, sl, 0, cname)
            continue
        deps = {b for _, b in ins if b in drivers and drivers[b][0] is not None
                and not cell_info[drivers[b][0]][2]}
        indeg[cname] = len(deps)
        if not deps:
            ready.append(cname)
    fanout_cells = {}
    for cname, (ctype, lib, seq, ins, outs) in cell_info.items():
        if seq:
            continue
        for _, b in outs:
            for sc, _ in sinks.get(b, ()):
                if sc is not None and not cell_info[sc][2]:
                    fanout_cells.setdefault(cname, set()).add(sc)
    # indeg counted distinct driving bits; recount by distinct driver cells to match the release
    for cname in indeg:
        _, _, _, ins, _ = cell_info[cname]
        drv = {drivers[b][0] for _, b in ins if b in drivers and drivers[b][0] is not None
               and not cell_info[drivers[b][0]][2]}
        indeg[cname] = len(drv)
    ready = [c for c, k in indeg.items() if k == 0]
    done = 0
    while ready:
        cname = ready.pop()
        done += 1
        ctype, lib, seq, ins, outs = cell_info[cname]
        pin_arr = {}
        for pin, b in ins:
            a = arrival.get(b)
            if a is not None and (pin not in pin_arr or a[0] > pin_arr[pin][0]):
                pin_arr[pin] = a
        for opin, ob in outs:
            best = None
            if lib is not None:
                ld = load_of(ob)
                for arc in lib["outputs"].get(opin, []):
                    a = pin_arr.get(arc["from"])
                    if a is None:
                        continue
                    t = a[0] + _worst(arc["delay"], a[1], ld)
                    if best is None or t > best[0]:
                        best = (t, _worst(arc["slew"], a[1], ld) if arc["slew"] else a[1],
                                a[2] + 1, a[3])
            if best is None:
                src = max(pin_arr.values(), default=(0.0, INPUT_SLEW_NS, 0, "constant"),
                          key=lambda a: (a[0], a[2]))
                best = (src[0], src[1], src[2] + 1, src[3])
            arrival[ob] = settle(ob, *best)
        for sc in fanout_cells.get(cname, ()):
            indeg[sc] -= 1
            if indeg[sc] == 0:
                ready.append(sc)
    if done != len(indeg):
        raise ValueError(f"combinational loop: {len(indeg) - done} cells never became ready")
    if slews is not None:
        slews.update({b: a[1] for b, a in arrival.items()})

    worst = (0.0, 0, "-", "-")
    deepest = 0
    for cname, (ctype, lib, seq, ins, outs) in cell_info.items():
        if not seq:
            continue
        for pin, b in ins:
            a = arrival.get(b)
            if a is None:
                continue
            setup = 0.0
            if lib is not None and pin in lib["setup"]:
                setup = max(0.0, max(lookup(t, a[1], INPUT_SLEW_NS) for t in lib["setup"][pin]))
            deepest = max(deepest, a[2])
            if (a[0] + setup, a[2]) > worst[:2]:
                worst = (a[0] + setup, a[2], a[3], f"{cname}.{pin}")
    for pname, p in mod["ports"].items():
        if p["direction"] != "output":
            continue
        for b in p["bits"]:
            a = arrival.get(b) if not isinstance(b, str) else None
            if a is None:
                continue
            deepest = max(deepest, a[2])
            if (a[0], a[2]) > worst[:2]:
                worst = (a[0], a[2], a[3], f"output {pname}")
    ns = worst[0] if timed else None
    return {
        "critical_path_ns": ns,
        "fmax_mhz": (1000.0 / ns) if ns else None,
        "logic_depth": deepest,
        "path_depth": worst[1],
        "startpoint": worst[2],
        "endpoint": worst[3],
        "unknown_cells": sorted(unknown),
    }
