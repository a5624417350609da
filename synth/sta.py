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
It runs in three steps: :class:`Graph` (the netlist's drivers, sinks and loads, with the assumed
buffer trees), :func:`arrivals` (latest rise/fall arrival of every net, in topological order) and
:func:`trace` (the worst end point). The Liberty parser is :mod:`synth.liberty`'s.
"""

import json
import math
import re
from pathlib import Path

# The Liberty reader moved to synth/liberty.py; these names stay importable from here
# (synth/liberty_power.py, synth/power_model.py and the tests read them from synth.sta).
from .liberty import _table, _worst, liberty_cached, lookup, read_liberty, table_templates  # noqa: F401

__all__ = ["read_liberty", "critical_path", "INPUT_SLEW_NS", "Graph", "arrivals", "trace"]

INPUT_SLEW_NS = 0.05
FANOUT_MAX = 8

EDGES = ("rise", "fall")
OTHER_EDGE = {"rise": "fall", "fall": "rise"}

_GENERIC_SEQ = re.compile(r"^\$(_(S?DFF|DFFE|SDFFE|SDFFCE|ALDFF|DFFSR|DFFSRE|DLATCH|SR)_|mem|dff|"
                          r"sdff|adff|dffe|aldff|dlatch|ff)")


# -- Graph ----------------------------------------------------------------------------------------


def _buffer_cell(cells):
    """``(input capacitance, arc)`` of the buffer that the assumed fan-out trees are built of: the
    library's ``buf_4``, else its first one-input buffer; None when it has none."""
    names = sorted(n for n in cells if re.search(r"__buf_4$", n)) or \
        sorted(n for n in cells if re.search(r"buf", n) and cells[n]["outputs"]
               and len(cells[n]["inputs"]) == 1 and not cells[n]["seq"])
    if not names:
        return None
    bc = cells[names[0]]
    arcs = [a for v in bc["outputs"].values() for a in v]
    return (next(iter(bc["inputs"].values())), arcs[0]) if arcs else None


class Graph:
    """The top module of a flattened netlist as the timing walk sees it.

    Members
    -------
    drivers : dict
        ``{bit: (cell name, pin)}``; the cell is None for a top-level input.
    sinks : dict
        ``{bit: [(cell name, pin)]}``; the cell is None for a top-level output.
    cell_info : dict
        ``{cell name: (type, Liberty cell or None, sequential, [(pin, bit)] in, [(pin, bit)] out)}``.
    unknown : set
        Cell types the Liberty file does not describe.
    """

    def __init__(self, mod, cells, fanout_max=FANOUT_MAX):
        self.mod, self.cells, self.timed, self.fanout_max = mod, cells, bool(cells), fanout_max
        self.drivers, self.sinks, self.cell_info, self.unknown = {}, {}, {}, set()
        for cname, c in mod["cells"].items():
            self._add_cell(cname, c)
        for pname, p in mod["ports"].items():
            for b in p["bits"]:
                if isinstance(b, str):
                    continue
                if p["direction"] == "input":
                    self.drivers[b] = (None, pname)
                else:
                    self.sinks.setdefault(b, []).append((None, pname))
        self.buf = _buffer_cell(cells) if self.timed else None
        self._nets = {}

    def _add_cell(self, cname, c):
        ctype = c["type"]
        lib = self.cells.get(ctype)
        dirs = c.get("port_directions", {})
        ins, outs = [], []
        for pin, bits in c["connections"].items():
            if lib is not None:
                d = "input" if pin in lib["inputs"] else "output" if pin in lib["outputs"] else \
                    dirs.get(pin)
            else:
                d = dirs.get(pin)
            if d is None:
                self.unknown.add(ctype)
                d = "input"
            for b in bits:
                if isinstance(b, str):
                    continue
                if d == "output":
                    self.drivers[b] = (cname, pin)
                    outs.append((pin, b))
                else:
                    self.sinks.setdefault(b, []).append((cname, pin))
                    ins.append((pin, b))
        seq = lib["seq"] if lib is not None else bool(_GENERIC_SEQ.match(ctype))
        if lib is None and self.timed and not ctype.startswith("$"):
            self.unknown.add(ctype)
        self.cell_info[cname] = (ctype, lib, seq, ins, outs)

    def net(self, bit):
        """``(load seen by the driver, extra buffer-tree delay, slew after the tree or None)``."""
        got = self._nets.get(bit)
        if got is not None:
            return got
        tot, n = 0.0, 0
        for cname, pin in self.sinks.get(bit, ()):
            if cname is not None:
                n += 1
                lib = self.cell_info[cname][1]
                if lib is not None:
                    tot += lib["inputs"].get(pin, 0.0)
        got = (tot, 0.0, None)
        if self.fanout_max is not None and n > self.fanout_max and self.buf is not None:
            avg = tot / n
            levels = math.ceil(math.log(n / self.fanout_max, 4))
            ld = self.fanout_max * avg
            arc = self.buf[1]
            got = (max(ld, self.buf[0] * 4), levels * _worst(arc["delay"], INPUT_SLEW_NS, ld),
                   _worst(arc["slew"], INPUT_SLEW_NS, ld))
        self._nets[bit] = got
        return got

    def load(self, bit):
        return self.net(bit)[0]

    def _comb_driver(self, bit):
        """The combinational cell driving ``bit``, or None (a port, a flop, a constant)."""
        d = self.drivers.get(bit)
        if d is None or d[0] is None or self.cell_info[d[0]][2]:
            return None
        return d[0]

    def comb_order(self):
        """The combinational cells in topological order; ValueError on a combinational loop."""
        indeg, fanout = {}, {}
        for cname, (_, _, seq, ins, outs) in self.cell_info.items():
            if seq:
                continue
            drv = {self._comb_driver(b) for _, b in ins} - {None}
            indeg[cname] = len(drv)
            for _, b in outs:
                for sc, _ in self.sinks.get(b, ()):
                    if sc is not None and not self.cell_info[sc][2]:
                        fanout.setdefault(cname, set()).add(sc)
        ready = [c for c, k in indeg.items() if k == 0]
        order = []
        while ready:
            cname = ready.pop()
            order.append(cname)
            for sc in fanout.get(cname, ()):
                indeg[sc] -= 1
                if indeg[sc] == 0:
                    ready.append(sc)
        if len(order) != len(indeg):
            raise ValueError(f"combinational loop: {len(indeg) - len(order)} cells never became "
                             "ready")
        return order


# -- Arrivals -------------------------------------------------------------------------------------
# An arrival is ({"rise": (time, slew), "fall": (time, slew)}, depth in cells, startpoint).

_START_EDGES = {e: (0.0, INPUT_SLEW_NS) for e in EDGES}


def _latest(a):
    return max(t for t, _ in a[0].values())


def _through(arc, edges, ld, rise_fall=True):
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


def _merge(a, b):
    """Edge-wise latest of two arrivals (depth and start point of the later one)."""
    if a is None:
        return b
    edges = dict(a[0])
    for e, v in b[0].items():
        if e not in edges or v[0] > edges[e][0]:
            edges[e] = v
    first = b if _latest(b) > _latest(a) else a
    return (edges, first[1], first[2])


def _settle(graph, bit, edges, depth, start):
    """The arrival on net ``bit`` once past its (assumed) buffer tree."""
    _, extra, bsl = graph.net(bit)
    return ({e: (t + extra, bsl if bsl is not None else sl) for e, (t, sl) in edges.items()},
            depth, start)


def _start_points(graph, rise_fall):
    """Arrivals at the top-level inputs and at the sequential cells' outputs (clock to output)."""
    arrival = {}
    for b, (cname, pin) in graph.drivers.items():
        if cname is None:
            arrival[b] = (dict(_START_EDGES), 0, f"input {pin}")
    for cname, (_, lib, seq, _, outs) in graph.cell_info.items():
        if not seq:
            continue
        for pin, b in outs:
            edges = dict(_START_EDGES)
            if lib is not None:
                ld = graph.load(b)
                got = {}
                for a in lib["outputs"].get(pin, []):
                    for e, v in _through(a, _START_EDGES, ld, rise_fall).items():
                        if e not in got or v[0] > got[e][0]:
                            got[e] = v
                edges = got or edges
            arrival[b] = _settle(graph, b, edges, 0, cname)
    return arrival


def _cell_outputs(graph, cname, arrival, rise_fall):
    """Set the arrivals of one combinational cell's outputs from those of its inputs."""
    _, lib, _, ins, outs = graph.cell_info[cname]
    pin_arr = {}
    for pin, b in ins:
        a = arrival.get(b)
        if a is not None:
            pin_arr[pin] = _merge(pin_arr.get(pin), a)
    for opin, ob in outs:
        best = None
        if lib is not None:
            ld = graph.load(ob)
            for arc in lib["outputs"].get(opin, []):
                a = pin_arr.get(arc["from"])
                if a is None:
                    continue
                edges = _through(arc, a[0], ld, rise_fall)
                if edges:
                    best = _merge(best, (edges, a[1] + 1, a[2]))
        if best is None:
            src = max(pin_arr.values(), default=(dict(_START_EDGES), 0, "constant"),
                      key=lambda a: (_latest(a), a[1]))
            best = (src[0], src[1] + 1, src[2])
        arrival[ob] = _settle(graph, ob, *best)


def arrivals(graph, rise_fall=True):
    """``{bit: arrival}`` of every net reached from a start point, cell by cell in topological
    order (``rise_fall``: see :func:`critical_path`)."""
    arrival = _start_points(graph, rise_fall)
    for cname in graph.comb_order():
        _cell_outputs(graph, cname, arrival, rise_fall)
    return arrival


# -- Trace ----------------------------------------------------------------------------------------


def _setup_end(lib, pin, a, rise_fall):
    """Arrival plus the setup time at sequential input ``pin`` (the data edge's constraint)."""
    t_end = _latest(a)
    if lib is None or pin not in lib["setup"]:
        return t_end
    if rise_fall and pin in lib.get("setup_rf", {}):
        rf = dict(zip(EDGES, lib["setup_rf"][pin]))
        return max(t + max(0.0, lookup(rf[e], sl, INPUT_SLEW_NS) if rf[e] else 0.0)
                   for e, (t, sl) in a[0].items())
    sl = max(s for _, s in a[0].values())
    return t_end + max(0.0, max(lookup(t, sl, INPUT_SLEW_NS) for t in lib["setup"][pin]))


def trace(graph, arrival, rise_fall=True):
    """The worst end point: a dict as :func:`critical_path` returns."""
    worst = (0.0, 0, "-", "-")
    deepest = 0
    for cname, (_, lib, seq, ins, _) in graph.cell_info.items():
        if not seq:
            continue
        for pin, b in ins:
            a = arrival.get(b)
            if a is None:
                continue
            t_end = _setup_end(lib, pin, a, rise_fall)
            deepest = max(deepest, a[1])
            if (t_end, a[1]) > worst[:2]:
                worst = (t_end, a[1], a[2], f"{cname}.{pin}")
    for pname, p in graph.mod["ports"].items():
        if p["direction"] != "output":
            continue
        for b in p["bits"]:
            a = arrival.get(b) if not isinstance(b, str) else None
            if a is None:
                continue
            deepest = max(deepest, a[1])
            if (_latest(a), a[1]) > worst[:2]:
                worst = (_latest(a), a[1], a[2], f"output {pname}")
    ns = worst[0] if graph.timed else None
    return {
        "critical_path_ns": ns,
        "fmax_mhz": (1000.0 / ns) if ns else None,
        "logic_depth": deepest,
        "path_depth": worst[1],
        "startpoint": worst[2],
        "endpoint": worst[3],
        "unknown_cells": sorted(graph.unknown),
    }


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
    graph = Graph(mods[top], cells or {}, fanout_max)
    arrival = arrivals(graph, rise_fall)
    if slews is not None:
        slews.update({b: sum(v[1] for v in a[0].values()) / len(a[0])
                      for b, a in arrival.items() if a[0]})
    return trace(graph, arrival, rise_fall)
