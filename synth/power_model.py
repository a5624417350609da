"""Power of a flattened mapped netlist from its SAIF toggle counts and the Liberty file.

Per net (one bit of the netlist, driven by one cell output or one top-level input):

- toggle rate ``a`` = SAIF ``TC`` / window cycles;
- energy per toggle = the driving cell's output internal energy (Liberty ``internal_power`` of that
  output, mean of rise and fall, averaged over its related input pins, each at the transition of
  the net on that pin, at the net's load) + ½·C·V² (C = the sum of the input capacitances of the
  pins it drives; no wire load before placement) + the input internal energy of every pin it
  drives (their ``internal_power`` at the net's transition: flip-flop clock pins carry most of it);
- transitions are :func:`synth.sta.critical_path`'s (the timing flow's), loads the same pin sums.

Dynamic power = Σ a·E·f. Leakage per cell = Σ over its ``when`` states of P(state)·value, with
P from the SAIF's T1/(T0+T1) of each pin, pins taken as independent
(:func:`synth.liberty_power.leakage_nw`). Memory macros (``$mem_v2``) have no Liberty data: they
are counted and left out, as in the area report.

Per block: a net's driver energy and ½CV² go to the driving cell's block, input-pin energy and
leakage to the cell's own block; blocks are :func:`synth.area.classify` of the cell's instance
path (the area report's categories). Nets driven by top-level inputs are charged to
``input ports`` (their ½CV²), the clock net to ``clock net``.
"""

from .area import OTHER, _where, classify
from .liberty_power import energy, leakage_nw
from .sta import INPUT_SLEW_NS

__all__ = ["bit_names", "netlist_power", "CLOCK_PORTS"]

CLOCK_PORTS = ("clk",)
PORT_BLOCK = "input ports (pins they drive)"
CLOCK_BLOCK = "clock net (flip-flop clock pins)"
TOP_REGS = "registers (top module)"


def bit_names(mod):
    """``{bit: SAIF net name}`` of a Yosys JSON module: ``name`` for one-bit wires, ``name[i]``
    otherwise (ports first, so a port's name wins over an alias)."""
    out = {}
    items = sorted(mod["netnames"].items(), key=lambda kv: kv[0] not in mod["ports"])
    for name, nn in items:
        if nn.get("hide_name"):
            continue
        bits = nn["bits"]
        off = int(nn.get("offset", 0))
        for i, b in enumerate(bits):
            if isinstance(b, str):
                continue
            out.setdefault(b, name if len(bits) == 1 else f"{name}[{i + off}]")
    return out


def _block(cname, top, engine, seq):
    inst = _where(cname)
    if inst == "(top)":
        return TOP_REGS if seq else OTHER
    inst = inst.split(" (")[0]
    return classify(f"{top}.{inst}", top, engine)


def _cells(mod, cells_lib, top, engine):
    """``(drivers, sinks, info, unknown, macros)`` of the netlist's cells: ``drivers`` ``{bit:
    (cell, output pin)}``, ``sinks`` ``{bit: [(cell, input pin)]}``, ``info`` ``{cell: (type,
    Liberty cell, {pin: bit}, block)}``, the cell types without Liberty data and the count of
    memory macros."""
    drivers, sinks = {}, {}
    info = {}
    unknown, macros = set(), 0
    for cname, c in mod["cells"].items():
        lc = cells_lib.get(c["type"])
        if lc is None:
            if c["type"].startswith("$mem"):
                macros += 1
            else:
                unknown.add(c["type"])
            continue
        pins = {}
        for pin, bits in c["connections"].items():
            b = bits[0] if bits else None
            pins[pin] = b
            if isinstance(b, str) or b is None:
                continue
            if pin in lc["outputs"]:
                drivers[b] = (cname, pin)
            elif pin in lc["inputs"]:
                sinks.setdefault(b, []).append((cname, pin))
        info[cname] = (c["type"], lc, pins, _block(cname, top, engine, lc["seq"]))
    return drivers, sinks, info, unknown, macros


def _port_dirs(mod):
    """``{bit: (port name, direction)}`` of the module's ports."""
    port_dir = {}
    for pname, p in mod["ports"].items():
        for b in p["bits"]:
            if not isinstance(b, str):
                port_dir[b] = (pname, p["direction"])
    return port_dir


class _Blocks(dict):
    """``{block: {"dynamic_w", "leakage_w", "toggles"}}``, accumulated by :meth:`add`."""

    def add(self, block, dyn=0.0, leak=0.0, tog=0):
        e = self.setdefault(block, {"dynamic_w": 0.0, "leakage_w": 0.0, "toggles": 0})
        e["dynamic_w"] += dyn
        e["leakage_w"] += leak
        e["toggles"] += tog


def _net_energy(b, sl, load, drivers, info, slews):
    """Driver internal energy of a toggle of net ``b`` (0 when no cell drives it)."""
    cname, pin = drivers[b]
    _, lc, pins, _ = info[cname]
    per = lc["out_power"].get(pin, {})
    es = [energy(tabs, slews.get(pins.get(rp), INPUT_SLEW_NS) if rp else sl, load)
          for rp, tabs in per.items()]
    return sum(es) / len(es) if es else 0.0


def _dynamic(blocks, nl, stat, cycles, clock_hz, u, slews):
    """Charge every toggling net's dynamic power to ``blocks``; return ``(nets with a SAIF entry,
    nets without one, toggles)``."""
    drivers, sinks, info, port_dir = nl
    v2, ej = u["voltage"] ** 2, u["energy_j"]   # table energy units -> J
    missing, nets, toggles = 0, 0, 0
    for b in set(drivers) | set(sinks):
        s = stat(b)
        if s is None:
            missing += 1
            continue
        nets += 1
        tc = s[2]
        if not tc:
            continue
        toggles += tc
        rate = tc / cycles * clock_hz            # toggles per second
        sl = slews.get(b, INPUT_SLEW_NS)
        load = sum(info[c][1]["inputs"].get(p, 0.0) for c, p in sinks.get(b, ()))
        e_sw = 0.5 * load * v2                   # pF x V^2 = table energy units (pJ)
        if b in drivers:
            e_drv = _net_energy(b, sl, load, drivers, info, slews)
            blocks.add(info[drivers[b][0]][3], dyn=(e_drv + e_sw) * ej * rate, tog=tc)
        else:
            pname = port_dir.get(b, ("?", ""))[0]
            blocks.add(CLOCK_BLOCK if pname in CLOCK_PORTS else PORT_BLOCK, dyn=e_sw * ej * rate,
                       tog=tc)
        for cname, pin in sinks.get(b, ()):
            _, lc, _, blk = info[cname]
            tabs = lc["in_power"].get(pin)
            if tabs:
                e_in = energy(tabs, sl)
                blocks.add(CLOCK_BLOCK if port_dir.get(b, ("",))[0] in CLOCK_PORTS else blk,
                           dyn=e_in * ej * rate)
    return nets, missing, toggles


def _leakage(blocks, info, stat, leak_w):
    """Charge every cell's leakage (pin probabilities from the SAIF) to its block."""
    for cname, (ctype, lc, pins, blk) in info.items():
        p_one = {}
        for pin, b in pins.items():
            if isinstance(b, str):
                p_one[pin] = 1.0 if b == "1" else 0.0
                continue
            s = stat(b)
            if s is not None and s[0] + s[1] > 0:
                p_one[pin] = s[1] / (s[0] + s[1])
        blocks.add(blk, leak=leakage_nw(lc, p_one) * leak_w)


def netlist_power(net_json, top, lib_power, saif_nets, cycles, clock_hz, engine="common",
                  slews=None):
    """Power of module ``top`` of ``net_json`` over a SAIF window of ``cycles`` clock cycles.

    Parameters
    ----------
    lib_power : dict
        :func:`synth.liberty_power.read_power`.
    saif_nets : dict
        ``{net name: (T0, T1, TC)}`` (:func:`sim.native.read_saif`).
    slews : dict or None
        ``{bit: ns}`` from :func:`synth.sta.critical_path`; missing bits use ``INPUT_SLEW_NS``.

    Returns
    -------
    dict with ``dynamic_w``, ``leakage_w``, ``total_w``, ``blocks`` ``{name: {"dynamic_w",
    "leakage_w", "toggles"}}``, ``nets``, ``nets_missing`` (bits without a SAIF entry),
    ``macros``, ``unknown_cells``, ``toggles_per_cycle``.
    """
    if cycles <= 0:
        raise ValueError(f"cycles must be positive, not {cycles!r}")
    mod = net_json["modules"][top]
    u = lib_power["units"]
    slews = slews or {}
    names = bit_names(mod)
    drivers, sinks, info, unknown, macros = _cells(mod, lib_power["cells"], top, engine)

    def stat(b):
        return saif_nets.get(names.get(b))

    blocks = _Blocks()
    nets, missing, toggles = _dynamic(blocks, (drivers, sinks, info, _port_dirs(mod)), stat,
                                      cycles, clock_hz, u, slews)
    _leakage(blocks, info, stat, u["leak_w"])
    dyn = sum(e["dynamic_w"] for e in blocks.values())
    leak = sum(e["leakage_w"] for e in blocks.values())
    return {"dynamic_w": dyn, "leakage_w": leak, "total_w": dyn + leak,
            "blocks": dict(sorted(blocks.items(), key=lambda kv: -(kv[1]["dynamic_w"]
                                                               + kv[1]["leakage_w"]))),
            "nets": nets, "nets_missing": missing, "macros": macros,
            "unknown_cells": sorted(unknown), "toggles_per_cycle": toggles / cycles,
            "cells": len(info)}
