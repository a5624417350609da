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
  Rising and falling transitions are tracked separately, each arc mapping input edges to output
  edges by its ``timing_sense`` (positive, negative or non-unate), with the ``cell_rise``/
  ``cell_fall`` and transition tables of its output edge; setup uses the data edge's constraint.
  (``rise_fall=False`` takes the worse of the two at every arc instead: 11-21% pessimistic
  against OpenSTA, see ``docs/timing.md``.)
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


def table_templates(lib):
    """``{name: {"variable_1", "index_1", ...}}`` of the ``lu_table_template`` and
    ``power_lut_template`` groups of a parsed Liberty library."""
    templates = {}
    for g in lib[3]:
        if g[0] in ("lu_table_template", "power_lut_template"):
            t = {k: v for k, v in g[2].items() if k.startswith("variable")}
            for k in ("index_1", "index_2"):
                if k in g[2]:
                    t[k] = _floats(g[2][k])
            templates[g[1][0] if g[1] else ""] = t
    return templates


def liberty_cached(path, kind, version, build, cache_dir=None):
    """``build(parsed)`` of the Liberty file ``path`` (``parsed``: the nested groups of
    :func:`_parse`), cached as the pickle ``<file>.<kind>.pickle`` beside it (or in
    ``cache_dir``), keyed by the file's path, size and mtime and by ``version``."""
    path = Path(path)
    st = path.stat()
    cache = Path(cache_dir or path.parent) / f"{path.name}.{kind}.pickle"
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, version)
    if cache.exists():
        try:
            with open(cache, "rb") as f:
                k, out = pickle.load(f)
            if k == key:
                return out
        except Exception:
            pass
    out = build(_parse(_tokens(path.read_text(errors="replace"))))
    try:
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            pickle.dump((key, out), f)
        tmp.replace(cache)
    except OSError:
        pass
    return out


def read_liberty(path, cache_dir=None):
    """Cells of a Liberty file: ``{cell: {"area", "seq", "inputs": {pin: cap},
    "outputs": {pin: [arc]}, "setup": {pin: [tables]}, "setup_rf": {pin: (rise, fall)}}}``, arcs
    ``{"from", "type", "delay", "slew", "sense", "edge"}``: ``delay``/``slew`` list the rise and
    fall tables, ``edge`` maps ``"rise"``/``"fall"`` (of the output) to ``(delay, transition)``
    tables, ``sense`` is the Liberty ``timing_sense`` (tables ``(index_slew, index_load, rows)``,
    None where the Liberty gives none). Cached as a pickle beside ``path``."""
    def build(lib):
        templates = table_templates(lib)
        cells = {}
        for g in lib[3]:
            if g[0] != "cell":
                continue
            name, attrs, sub = g[1][0], g[2], g[3]
            cell = {"area": float(attrs.get("area", 0) or 0), "seq": False, "inputs": {},
                    "outputs": {}, "setup": {}, "setup_rf": {}}
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
                            rf = (tabs.get("rise_constraint"), tabs.get("fall_constraint"))
                            if any(rf):
                                cell["setup"][pname] = [t for t in rf if t]
                                cell["setup_rf"][pname] = rf
                            continue
                        if d != "output" or ttype.startswith(("hold", "setup", "recovery", "removal",
                                                              "min_", "non_seq", "skew", "nochange")):
                            continue
                        delay = [t for t in (tabs.get("cell_rise"), tabs.get("cell_fall")) if t]
                        slew = [t for t in (tabs.get("rise_transition"), tabs.get("fall_transition")) if t]
                        if not delay:
                            continue
                        sense = tg[2].get("timing_sense", "non_unate")
                        edge = {"rise": (tabs.get("cell_rise"), tabs.get("rise_transition")),
                                "fall": (tabs.get("cell_fall"), tabs.get("fall_transition"))}
                        for rp in related:
                            cell["outputs"].setdefault(pname, []).append(
                                {"from": rp, "type": ttype, "delay": delay, "slew": slew,
                                 "sense": sense, "edge": edge})
                    if d == "output":
                        cell["outputs"].setdefault(pname, [])
            cells[name] = cell
        return cells

    return liberty_cached(path, "timing", 3, build, cache_dir)


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


EDGES = ("rise", "fall")
OTHER_EDGE = {"rise": "fall", "fall": "rise"}

_GENERIC_SEQ = re.compile(r"^\$(_(S?DFF|DFFE|SDFFE|SDFFCE|ALDFF|DFFSR|DFFSRE|DLATCH|SR)_|mem|dff|"
                          r"sdff|adff|dffe|aldff|dlatch|ff)")


def critical_path(flat_json, cells=None, top=None, fanout_max=FANOUT_MAX, rise_fall=True,
                  slews=None):
    """Longest register-to-register (or port) path of the flattened netlist ``flat_json``.

    Parameters
    ----------
    flat_json : path or dict
        ``write_json`` of the flattened design (one module).
    cells : dict or None
        :func:`read_liberty` result; None gives the logic depth only.
    fanout_max : int or None
        Nets with more sinks are assumed buffered (see the module docstring); None: no buffering
        assumed, every net loads its driver with all its sinks (how OpenSTA sees the netlist,
        used by :mod:`synth.opensta` to compare like for like).
    rise_fall : bool
        Track rising and falling transitions separately through each arc by its Liberty
        ``timing_sense`` (default). False: the worse of rise and fall at every arc, an upper
        bound (the estimate before OpenSTA's cross-check, ``docs/timing.md``).
    slews : dict or None
        If given, filled with ``{bit: transition ns}`` (mean of the rising and falling ones) of
        every net that has an arrival; synth/power.py reads its power tables at them.

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
        if fanout_max is not None and n > fanout_max and buf is not None:
            avg = tot / n
            levels = math.ceil(math.log(n / fanout_max, 4))
            ld = fanout_max * avg
            got = (max(ld, buf[0] * 4), levels * _worst(buf[1]["delay"], INPUT_SLEW_NS, ld),
                   _worst(buf[1]["slew"], INPUT_SLEW_NS, ld))
        net_cache[bit] = got
        return got

    def load_of(bit):
        return net_of(bit)[0]

    def settle(bit, edges, depth, start):
        """The arrival on net ``bit`` once past its (assumed) buffer tree."""
        _, extra, bsl = net_of(bit)
        return ({e: (t + extra, bsl if bsl is not None else sl) for e, (t, sl) in edges.items()},
                depth, start)

    def latest(a):
        return max(t for t, _ in a[0].values())

    def through(arc, edges, ld):
        """Output edges of one timing arc from the input pin's ``{edge: (time, slew)}``."""
        if not rise_fall:
            t, sl = max(edges.values())
            sl = max(s for _, s in edges.values())
            d = t + _worst(arc["delay"], sl, ld)
            o = _worst(arc["slew"], sl, ld) if arc["slew"] else sl
            return {"rise": (d, o), "fall": (d, o)}
        out = {}
        for e in EDGES:
            dtab, stab = arc["edge"][e]
            if dtab is None:
                continue
            sense = arc["sense"]
            ins = (e,) if sense == "positive_unate" else \
                (OTHER_EDGE[e],) if sense == "negative_unate" else EDGES
            best = None
            for ie in ins:
                if ie in edges:
                    t_in, s_in = edges[ie]
                    t = t_in + lookup(dtab, s_in, ld)
                    if best is None or t > best[0]:
                        best = (t, lookup(stab, s_in, ld) if stab else s_in)
            if best is not None:
                out[e] = best
        return out

    def merge(a, b):
        """Edge-wise latest of two arrivals (depth and start point of the later one)."""
        if a is None:
            return b
        edges = dict(a[0])
        for e, v in b[0].items():
            if e not in edges or v[0] > edges[e][0]:
                edges[e] = v
        first = b if latest(b) > latest(a) else a
        return (edges, first[1], first[2])

    start_edges = {e: (0.0, INPUT_SLEW_NS) for e in EDGES}
    # arrival[bit] = ({"rise": (time, slew), "fall": (time, slew)}, depth, startpoint)
    arrival = {}
    for b, (cname, pin) in drivers.items():
        if cname is None:
            arrival[b] = (dict(start_edges), 0, f"input {pin}")
    indeg = {}
    ready = []
    for cname, (ctype, lib, seq, ins, outs) in cell_info.items():
        if seq:
            for pin, b in outs:
                edges = dict(start_edges)
                if lib is not None:
                    ld = load_of(b)
                    got = {}
                    for a in lib["outputs"].get(pin, []):
                        for e, v in through(a, start_edges, ld).items():
                            if e not in got or v[0] > got[e][0]:
                                got[e] = v
                    edges = got or edges
                arrival[b] = settle(b, edges, 0, cname)
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
            if a is not None:
                pin_arr[pin] = merge(pin_arr.get(pin), a)
        for opin, ob in outs:
            best = None
            if lib is not None:
                ld = load_of(ob)
                for arc in lib["outputs"].get(opin, []):
                    a = pin_arr.get(arc["from"])
                    if a is None:
                        continue
                    edges = through(arc, a[0], ld)
                    if edges:
                        best = merge(best, (edges, a[1] + 1, a[2]))
            if best is None:
                src = max(pin_arr.values(), default=(dict(start_edges), 0, "constant"),
                          key=lambda a: (latest(a), a[1]))
                best = (src[0], src[1] + 1, src[2])
            arrival[ob] = settle(ob, *best)
        for sc in fanout_cells.get(cname, ()):
            indeg[sc] -= 1
            if indeg[sc] == 0:
                ready.append(sc)
    if done != len(indeg):
        raise ValueError(f"combinational loop: {len(indeg) - done} cells never became ready")
    if slews is not None:
        slews.update({b: sum(v[1] for v in a[0].values()) / len(a[0])
                      for b, a in arrival.items() if a[0]})

    worst = (0.0, 0, "-", "-")
    deepest = 0
    for cname, (ctype, lib, seq, ins, outs) in cell_info.items():
        if not seq:
            continue
        for pin, b in ins:
            a = arrival.get(b)
            if a is None:
                continue
            t_end = latest(a)
            if lib is not None and pin in lib["setup"]:
                if rise_fall and pin in lib.get("setup_rf", {}):
                    rf = dict(zip(EDGES, lib["setup_rf"][pin]))
                    t_end = max(t + max(0.0, lookup(rf[e], sl, INPUT_SLEW_NS) if rf[e] else 0.0)
                                for e, (t, sl) in a[0].items())
                else:
                    sl = max(s for _, s in a[0].values())
                    t_end += max(0.0, max(lookup(t, sl, INPUT_SLEW_NS) for t in lib["setup"][pin]))
            deepest = max(deepest, a[1])
            if (t_end, a[1]) > worst[:2]:
                worst = (t_end, a[1], a[2], f"{cname}.{pin}")
    for pname, p in mod["ports"].items():
        if p["direction"] != "output":
            continue
        for b in p["bits"]:
            a = arrival.get(b) if not isinstance(b, str) else None
            if a is None:
                continue
            deepest = max(deepest, a[1])
            if (latest(a), a[1]) > worst[:2]:
                worst = (latest(a), a[1], a[2], f"output {pname}")
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
