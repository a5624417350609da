"""Like-for-like comparisons: which synthesised tops are compared, their area ratios, and the
iso-area rows.

:func:`pairs` pairs every top whose role is ``"engine"`` with every top of the same engine whose
role is a baseline and whose size matches (the engine table's ``size_fields``: e.g. ``n_units``
for SparTen, ``rows x lanes`` for EUREKA), plus the table's explicit ``pairs``. Each pair gives
one :class:`report.schema.AreaRatio` (:func:`area_ratios`); an engine table's ``subtrees`` add a
row for that submodule of the engine top on its own (``sparten_layer/cluster``).

Iso-area speed-ups are not computed here: :func:`iso_rows` hands the ratios and the bench's
headlines (``build/reports/bench.json``, written by ``make bench``) to
:func:`report.schema.iso_area`, the one function both reports use. Without a bench report every
row says to run ``make bench``.

:func:`target_verdicts` evaluates issue 11's targets (:data:`report.targets.TARGETS`) on the
ratios, the iso-area rows and the designs' critical paths; :func:`path_block` names the block
(from the engine's table) that a critical path's end lies in.
"""

import dataclasses
import re
from pathlib import Path

from hw.top import all_tops, block_table
from report.schema import AreaRatio, ReportError, iso_area, read_sections
from report.targets import evaluate

from .blocks import classify

__all__ = ["size_key", "pairs", "area_ratios", "iso_rows", "path_block", "target_verdicts"]


def size_key(config, engine):
    """What must match for two designs of ``engine`` to be compared like for like (None:
    anything matches)."""
    if not config:
        return None
    for fields in block_table(engine).size_fields:
        if all(f in config for f in fields):
            return tuple(config[f] for f in fields)
    return None


def _is_baseline(role):
    return role.endswith("baseline") or role.startswith(("dense", "ampere"))


def pairs(results):
    """``[(engine_result, baseline_result)]``: same engine, engine role vs a baseline role, equal
    :func:`size_key`, plus the engine tables' explicit ``pairs`` (by design name)."""
    by_name = {r.design.name: r for r in results}
    out = []
    for e in results:
        if e.design.role != "engine":
            continue
        for b in results:
            if b is e or b.design.engine != e.design.engine or not _is_baseline(b.design.role):
                continue
            ke = size_key(e.design.config, e.design.engine)
            kb = size_key(b.design.config, b.design.engine)
            if ke is not None and kb is not None and ke != kb:
                continue
            out.append((e, b))
    for engine in sorted({r.design.engine for r in results}):
        for a, b in block_table(engine).pairs:
            if a in by_name and b in by_name and (by_name[a], by_name[b]) not in out:
                out.append((by_name[a], by_name[b]))
    return out


def _subtree_numbers(result, sub):
    """Area and cells of submodule ``sub`` of ``result``'s top with everything below it, or None."""
    mods = result.numbers.get("modules") or []
    prefix = f"{result.design.name}.{sub}"
    if not any(m["module"] == prefix for m in mods):
        return None
    part = [m for m in mods if m["module"] == prefix or m["module"].startswith(prefix + ".")]
    n = {"area_um2": None, "cells": sum(m["cells"] * m["instances"] for m in part)}
    if result.numbers.get("area_um2") is not None:
        n["area_um2"] = sum(m["area_um2"] * m["instances"] for m in part)
    return n


def _delta(ne, nb, ae, ab, key="blocks"):
    """Engine minus baseline area per block category (``key="blocks"``) or per block group
    (``"block_groups"``): shares x headline area, largest difference first."""
    if not (ne.get(key) and nb.get(key) and ae and ab
            and ne.get("blocks_source") == nb.get("blocks_source")):
        return {}

    def areas(n, total):
        rows = n[key].items() if key == "blocks" else ((g["block"], g) for g in n[key])
        return {name: v["share"] * total for name, v in rows}
    e, b = areas(ne, ae), areas(nb, ab)
    delta = {k: e.get(k, 0.0) - b.get(k, 0.0) for k in set(e) | set(b)}
    return dict(sorted(delta.items(), key=lambda kv: -abs(kv[1])))


def area_ratios(results):
    """``(ratios, skipped)``: an :class:`report.schema.AreaRatio` per :func:`pairs` pair (and per
    engine-table subtree), and ``[(design, baseline, why)]`` of pairs without two areas."""
    work = []
    for e, b in pairs(results):
        work.append((e, b, e.design.name, e.numbers))
        for sub in block_table(e.design.engine).subtrees:
            n = _subtree_numbers(e, sub)
            if n is not None:
                work.append((e, b, f"{e.design.name}/{sub}", n))
    ratios, skipped = [], []
    for e, b, label, ne in work:
        nb = b.numbers
        metric = "area_um2" if ne.get("area_um2") is not None and nb.get("area_um2") else "cells"
        ae, ab = ne.get(metric), nb.get(metric)
        if not (ae and ab):
            skipped.append((label, b.design.name, f"no {metric} of "
                            f"{label if not ae else b.design.name} (synthesis failed?)"))
            continue
        cpe, cpb = ne.get("critical_path_ns"), nb.get("critical_path_ns")
        ratios.append(AreaRatio(
            engine=e.design.engine, design=label, baseline=b.design.name, metric=metric,
            area_ratio=ae / ab, critical_path_ratio=cpe / cpb if cpe and cpb else None,
            delta_by_category=_delta(ne, nb, ae, ab),
            delta_by_group=_delta(ne, nb, ae, ab, "block_groups")))
    return ratios, skipped


def iso_rows(ratios, bench_path):
    """``(rows, source)``: :func:`report.schema.iso_area` of ``ratios`` with the headlines of the
    bench report at ``bench_path`` (the section named after each engine), and a line saying where
    the speed-ups came from. Without a readable bench report every row has no speed-up and says
    why."""
    bench_path = Path(bench_path)
    if not bench_path.is_file():
        return iso_area({}, ratios), f"none: no {bench_path} (run make bench)"
    try:
        sections = read_sections(bench_path)
    except ReportError as e:
        why = f"{e} (run make bench)"
        return [dataclasses.replace(r, missing=why) for r in iso_area({}, ratios)], f"none: {why}"
    headlines = {name: s.headline for name, s in sections.items() if name == s.headline.engine}
    return iso_area(headlines, ratios), f"{bench_path} (each engine's bench headline)"


def path_block(engine, top, point):
    """The block a critical path's end lies in: ``point`` is the report's ``startpoint`` or
    ``endpoint`` (``cu3.join (Q)``, ``(top) (Q)``, ``input i__valid``); the answer is its category
    in ``engine``'s block table and its instance path with indices folded (``cu*.join``), as the
    block groups of the breakdown name it."""
    if point.startswith(("input ", "output ", "constant")):
        return f"{point.split()[0]} port of {top}"
    inst = point.split(" (", 1)[0]
    if inst == "(top)":
        return f"{classify(top, top, engine)} ({top}'s own logic)"
    return f"{classify(f'{top}.{inst}', top, engine)} ({re.sub(r'[0-9]+', '*', inst)})"


def target_verdicts(results_dicts, ratios, iso):
    """:func:`report.targets.evaluate` for the area report: ``results_dicts`` are ``area.json``'s
    designs, ``iso`` the rows of :func:`iso_rows`; every registered top is a subject of the
    critical-path target."""
    return evaluate("area", ratios=ratios, iso=iso,
                    designs={d["design"]: d for d in results_dicts},
                    tops={t.name: t.engine for t in all_tops()}, path_block=path_block)
