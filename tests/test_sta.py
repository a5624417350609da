"""synth/sta.py's three steps on hand-made netlists whose timing is computed here from the Liberty
tables: the graph (drivers, sinks, topological order, loops), the arrivals (clock to output at a
flop, rise/fall through a negative-unate arc) and the trace (setup time at a flop's data pin,
the worst end point)."""

import pytest

from sim.verilator import ROOT
from synth.liberty import lookup, prepare_liberty, read_liberty
from synth.sta import (EDGES, INPUT_SLEW_NS, OTHER_EDGE, Graph, arrivals, critical_path,
                       trace)

SHARED_LIB = ROOT.parent / "shared" / "pdk" / "sky130hd_tt.lib.gz"
INV = "sky130_fd_sc_hd__inv_1"
FF = "sky130_fd_sc_hd__dfxtp_1"


@pytest.fixture(scope="module")
def cells():
    if not SHARED_LIB.is_file():
        pytest.skip(f"no shared Liberty file {SHARED_LIB}")
    return read_liberty(prepare_liberty(SHARED_LIB).path)


def _cell(ctype, **pins):
    dirs = {p: ("output" if p in ("Y", "Q") else "input") for p in pins}
    return {"type": ctype, "port_directions": dirs, "connections": {p: [b] for p, b in pins.items()}}


def _netlist(inv=INV, ff=FF, clk="CLK", out=True):
    """``a`` -> inv i0 -> flop f0 (clock ``clk``) -> inv i1 -> ``y`` (``out=False``: the flop's
    output drives nothing)."""
    cells = {"i0": _cell(inv, A=2, Y=3), "f0": _cell(ff, **{clk: 4}, D=3, Q=5)}
    ports = {"a": {"direction": "input", "bits": [2]}, "clk": {"direction": "input", "bits": [4]}}
    if out:
        cells["i1"] = _cell(inv, A=5, Y=6)
        ports["y"] = {"direction": "output", "bits": [6]}
    return {"modules": {"top": {"attributes": {"top": 1}, "cells": cells, "ports": ports}}}


def test_graph_drivers_sinks_and_order(cells):
    mod = _netlist()["modules"]["top"]
    g = Graph(mod, cells)
    assert g.drivers[3] == ("i0", "Y") and g.drivers[2] == (None, "a")
    assert g.sinks[3] == [("f0", "D")] and g.sinks[6] == [(None, "y")]
    assert g.load(5) == pytest.approx(cells[INV]["inputs"]["A"])
    assert sorted(g.comb_order()) == ["i0", "i1"]          # the flop is no combinational cell
    ring = {"modules": {"top": {"cells": {"r0": _cell(INV, A=7, Y=8), "r1": _cell(INV, A=8, Y=7)},
                                "ports": {}}}}
    with pytest.raises(ValueError, match="combinational loop: 2 cells"):
        Graph(ring["modules"]["top"], cells).comb_order()


def test_setup_and_clock_to_output_by_hand(cells):
    """Both paths of the netlist computed from the tables: input -> inverter -> flop D plus the
    data edge's setup; flop clock-to-Q -> inverter -> output. The worse one is reported."""
    inv, ff = cells[INV]["outputs"]["Y"][0], cells[FF]
    cap_d, cap_a = ff["inputs"]["D"], cells[INV]["inputs"]["A"]
    setup = dict(zip(EDGES, ff["setup_rf"]["D"]))
    to_d = []
    for e in EDGES:                       # inverter output edge e at the flop's D
        d, s = (lookup(t, INPUT_SLEW_NS, cap_d) for t in inv["edge"][e])
        to_d.append(d + lookup(setup[e], s, INPUT_SLEW_NS))
    q_arc = ff["outputs"]["Q"][0]
    to_y = []
    for e in EDGES:                       # flop output edge e, then the inverter's opposite one
        dq, sq = (lookup(t, INPUT_SLEW_NS, cap_a) for t in q_arc["edge"][e])
        to_y.append(dq + lookup(inv["edge"][OTHER_EDGE[e]][0], sq, 0.0))
    g = Graph(_netlist()["modules"]["top"], cells)
    arr = arrivals(g)
    assert max(t for t, _ in arr[3][0].values()) == pytest.approx(
        max(lookup(inv["edge"][e][0], INPUT_SLEW_NS, cap_d) for e in EDGES), rel=1e-12)
    got = trace(g, arr)
    want = max(max(to_d), max(to_y))
    assert got["critical_path_ns"] == pytest.approx(want, rel=1e-12)
    assert (got["startpoint"], got["endpoint"]) == (("f0", "output y") if max(to_y) > max(to_d)
                                                    else ("input a", "f0.D"))
    assert got == critical_path(_netlist(), cells)
    # the flop's output unused: the data path with its setup time is the only one
    alone = critical_path(_netlist(out=False), cells)
    assert alone["critical_path_ns"] == pytest.approx(max(to_d), rel=1e-12)
    assert (alone["startpoint"], alone["endpoint"], alone["path_depth"]) == ("input a", "f0.D", 1)
    # the generic flow's gates, without a Liberty file: the logic depth only
    depth = critical_path(_netlist("$_NOT_", "$_DFF_P_", "C"))
    assert depth["critical_path_ns"] is None and depth["logic_depth"] == 1
