"""Power data of a Liberty file: internal-energy tables, pin capacitances, leakage (with ``when``
states), output functions, and the units to read them in.

The tokenizer, parser and table reader are :mod:`synth.sta`'s; this module keeps what power needs.
Units (read from the library, sky130 hd: V, pF, nW, ns): an ``internal_power`` table value is an
energy per transition in ``voltage_unit x capacitive_load_unit`` (V x pF = pJ), indexed by the
input transition (ns) and, for output pins, the output load (pF); leakage values are in
``leakage_power_unit``.

Boolean expressions (``function``, ``when``) are parsed by :func:`parse_bool` into a small tree that
:func:`eval_bool` evaluates and :func:`probability` weighs under independent inputs.
"""

import itertools
import re
from pathlib import Path

from .liberty import cell_groups
from .sta import _table, liberty_cached, lookup, table_templates

__all__ = ["read_power", "parse_bool", "eval_bool", "bool_vars", "probability", "energy",
           "leakage_nw"]

_UNIT = re.compile(r"([-0-9.eE+]*)\s*([a-zA-Z]+)")
_PREFIX = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3}


def _unit(text, base):
    """``"1nW"`` -> 1e-9 (with base ``"W"``); ``"1ns"`` -> 1e-9."""
    m = _UNIT.fullmatch(str(text).strip().strip('"').replace(" ", ""))
    if not m or not m.group(2).lower().endswith(base.lower()):
        raise ValueError(f"Liberty unit {text!r} is not in {base}")
    scale = float(m.group(1)) if m.group(1) else 1.0
    prefix = m.group(2)[: -len(base)]
    if prefix not in _PREFIX:
        raise ValueError(f"Liberty unit {text!r}: unknown prefix {prefix!r}")
    return scale * _PREFIX[prefix]


def _pair_tables(group, templates):
    """``(rise, fall)`` tables of an ``internal_power`` group (either may be None)."""
    tabs = {t[0]: _table(t, templates) for t in group[3]}
    rise, fall = tabs.get("rise_power"), tabs.get("fall_power")
    if rise is None and fall is None and "power" in tabs:
        rise = fall = tabs["power"]
    return rise, fall


def read_power(path, cache_dir=None):
    """Power view of a Liberty file, cached as a pickle beside it.

    Returns
    -------
    dict
        ``{"units": {"voltage", "cap_f", "leak_w", "time_s", "energy_j"}, "cells": {cell: {
        "inputs": {pin: cap_pf}, "in_power": {pin: (rise, fall)}, "out_power": {pin: {related:
        (rise, fall)}}, "functions": {pin: expr}, "leakage": nW, "leakage_when": [(expr, nW)],
        "seq": bool, "ff": {"clocked_on", "next_state", ...} or None}}}``.
    """
    path = Path(path)

    def build(lib):
        la = lib[2]
        voltage = None
        for g in lib[3]:
            if g[0] == "operating_conditions" and "voltage" in g[2]:
                voltage = float(g[2]["voltage"])
        if voltage is None and "nom_voltage" in la:
            voltage = float(la["nom_voltage"])
        if voltage is None:
            raise ValueError(f"{path}: no operating_conditions voltage nor nom_voltage")
        cap = la.get("capacitive_load_unit", ["1", "pf"])
        cap_f = float(cap[0]) * _unit("1" + cap[1], "f") if isinstance(cap, list) else _unit(cap, "f")
        units = {
            "voltage": voltage,
            "cap_f": cap_f,
            "leak_w": _unit(la.get("leakage_power_unit", "1nW"), "W"),
            "time_s": _unit(la.get("time_unit", "1ns"), "s"),
        }
        v_unit = _unit(la.get("voltage_unit", "1V"), "V")
        units["energy_j"] = v_unit * cap_f   # internal_power table unit: V x (capacitive_load_unit)
        templates = table_templates(lib)
        cells = {}
        for name, attrs, sub in cell_groups(lib):
            c = {"inputs": {}, "in_power": {}, "out_power": {}, "functions": {}, "outputs": [],
                 "leakage": float(attrs.get("cell_leakage_power", 0) or 0), "leakage_when": [],
                 "seq": False, "ff": None}
            pins = []
            for sg in sub:
                if sg[0] == "leakage_power":
                    val = float(sg[2].get("value", 0) or 0)
                    if sg[2].get("when"):
                        c["leakage_when"].append((sg[2]["when"], val))
                    elif "cell_leakage_power" not in attrs:
                        c["leakage"] = val
                elif sg[0] in ("ff", "latch", "ff_bank", "latch_bank", "statetable"):
                    c["seq"] = True
                    c["ff"] = {"kind": sg[0], "state": list(sg[1]), **sg[2]}
                elif sg[0] == "pin":
                    pins.append(sg)
                elif sg[0] == "bus":
                    pins += [p for p in sg[3] if p[0] == "pin"]
            for pg in pins:
                for pname in pg[1]:
                    d = pg[2].get("direction", "")
                    ips = [x for x in pg[3] if x[0] == "internal_power"]
                    if d == "input":
                        c["inputs"][pname] = float(pg[2].get("capacitance", 0) or 0)
                        # several groups (e.g. per `when`): their mean, as no state is tracked here
                        tabs = [_pair_tables(x, templates) for x in ips]
                        if tabs:
                            c["in_power"][pname] = tabs
                    elif d == "output":
                        c["outputs"].append(pname)
                        if pg[2].get("function"):
                            c["functions"][pname] = pg[2]["function"]
                        per = {}
                        for x in ips:
                            for rp in (x[2].get("related_pin", "") or "").split() or [""]:
                                per.setdefault(rp, []).append(_pair_tables(x, templates))
                        c["out_power"][pname] = per
            cells[name] = c
        doc = {"units": units, "cells": cells, "library": lib[1][0] if lib[1] else path.stem}
        return doc

    return liberty_cached(path, "power", 1, build, cache_dir)


def energy(pair_list, slew, load=0.0):
    """Mean of rise and fall energy (table units) of a list of ``(rise, fall)`` table pairs at
    ``slew`` (and ``load`` for output tables): one transition of unknown direction, and toggles
    alternate rise/fall."""
    vals = []
    for rise, fall in pair_list:
        e = [lookup(t, slew, load) for t in (rise, fall) if t is not None]
        if e:
            vals.append(sum(e) / len(e))
    return sum(vals) / len(vals) if vals else 0.0


# -- Boolean expressions ----------------------------------------------------------------------

_BTOK = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_\[\]]*|[01]|[!'&*|+^()])")


def parse_bool(text):
    """Liberty boolean expression -> tree: ``("var", name)``, ``("const", 0/1)``, ``("not", t)``,
    ``("and"|"or"|"xor", a, b)``. Operators: ``!``/``'`` (not), ``&``/``*``/space (and), ``|``/``+``
    (or), ``^`` (xor); precedence not > and > xor > or."""
    toks, pos = [], 0
    text = text.strip().strip('"')
    while pos < len(text):
        m = _BTOK.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"cannot parse Liberty expression {text!r} at {text[pos:]!r}")
        toks.append(m.group(1))
        pos = m.end()
    k = 0

    def peek():
        return toks[k] if k < len(toks) else None

    def atom():
        nonlocal k
        t = peek()
        if t is None:
            raise ValueError(f"Liberty expression {text!r} ends early")
        k += 1
        if t == "!":
            node = ("not", atom())
        elif t == "(":
            node = orx()
            if peek() != ")":
                raise ValueError(f"Liberty expression {text!r}: missing ')'")
            k += 1
        elif t in ("0", "1"):
            node = ("const", int(t))
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\[\]]*", t):
            node = ("var", t)
        else:
            raise ValueError(f"Liberty expression {text!r}: unexpected {t!r}")
        while peek() == "'":
            k += 1
            node = ("not", node)
        return node

    def andx():
        nonlocal k
        node = atom()
        while peek() is not None and peek() not in ("|", "+", "^", ")"):
            if peek() in ("&", "*"):
                k += 1
            node = ("and", node, atom())
        return node

    def xorx():
        nonlocal k
        node = andx()
        while peek() == "^":
            k += 1
            node = ("xor", node, andx())
        return node

    def orx():
        nonlocal k
        node = xorx()
        while peek() in ("|", "+"):
            k += 1
            node = ("or", node, xorx())
        return node

    tree = orx()
    if k != len(toks):
        raise ValueError(f"Liberty expression {text!r}: trailing {toks[k:]!r}")
    return tree


def eval_bool(tree, env):
    op = tree[0]
    if op == "var":
        return env[tree[1]]
    if op == "const":
        return tree[1]
    if op == "not":
        return 1 - eval_bool(tree[1], env)
    a, b = eval_bool(tree[1], env), eval_bool(tree[2], env)
    return a & b if op == "and" else a | b if op == "or" else a ^ b


def bool_vars(tree, out=None):
    out = set() if out is None else out
    if tree[0] == "var":
        out.add(tree[1])
    elif tree[0] != "const":
        for t in tree[1:]:
            bool_vars(t, out)
    return out


def probability(tree, p_one):
    """P(tree = 1) when every variable ``v`` is 1 with probability ``p_one[v]``, independently."""
    names = sorted(bool_vars(tree))
    total = 0.0
    for vals in itertools.product((0, 1), repeat=len(names)):
        w = 1.0
        for n, v in zip(names, vals):
            p = p_one[n]
            w *= p if v else 1.0 - p
        if w and eval_bool(tree, dict(zip(names, vals))):
            total += w
    return total


def leakage_nw(cell, p_one):
    """State-weighted leakage of one cell (library units): sum over its ``when`` entries of
    P(when) x value, the rest of the probability at ``cell_leakage_power``. Pins missing from
    ``p_one`` (internal states) make that entry fall back to the cell's average."""
    whens = cell["leakage_when"]
    if not whens:
        return cell["leakage"]
    total, covered = 0.0, 0.0
    for expr, val in whens:
        tree = _parsed(expr)
        if not bool_vars(tree) <= p_one.keys():
            return cell["leakage"]
        p = probability(tree, p_one)
        total += p * val
        covered += p
    return total + max(0.0, 1.0 - covered) * cell["leakage"]


_parse_cache = {}


def _parsed(expr):
    t = _parse_cache.get(expr)
    if t is None:
        t = _parse_cache[expr] = parse_bool(expr)
    return t
