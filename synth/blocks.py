"""Per-block breakdown of a synthesised design, from its engine's block table.

Amaranth names every submodule's Verilog module ``<top>.<sub>.<subsub>`` after
``m.submodules.<name>``, and synthesis keeps that hierarchy, so each module's own cells are one
block. Which block a module is comes from its engine's :class:`hw.common.blocks.BlockTable`
(``hw/<engine>/blocks.py``, read through :func:`hw.top.block_table`): the innermost component of
the module's path that the table names decides; this module knows no engine's internals.

The ``blocks`` flow (:mod:`synth.yosys`) also carves the coarse cells a module keeps inline into
submodules ``<module>_mul/_add/_mux/_regs``: such a part takes its owner's category, or the
owner block's name for that kind (``Block.carved``), or, where the owner is no block, the table's
name for the kind.

:func:`unmatched_blocks` lists the table entries that name no module of any design of the run,
and :func:`unnamed_modules` the modules that no entry names (both are printed in the report, so a
renamed submodule cannot silently fall into "control/other").
"""

import re

from hw.common.blocks import CARVED_KINDS, OTHER, BlockTable
from hw.top import block_table

__all__ = ["OTHER", "classify", "block_breakdown", "unmatched_blocks", "unnamed_modules"]

_CARVED = re.compile(r"(.*)_(" + "|".join(CARVED_KINDS) + r")")


def _table(engine):
    return engine if isinstance(engine, BlockTable) else block_table(engine)


def _components(module, top):
    """The path components of ``module`` below ``top`` (none for the top itself)."""
    rest = module[len(top) + 1:] if module.startswith(top + ".") else ""
    return [c for c in rest.split(".") if c]


def _block_of(module, top, table):
    """The innermost :class:`hw.common.blocks.Block` that names a component of ``module``."""
    for comp in reversed(_components(module, top)):
        b = table.block(comp)
        if b is not None:
            return b
    return None


def classify(module, top, engine):
    """Category of the module path ``top.a.b`` by ``engine``'s block table (an engine name or a
    :class:`hw.common.blocks.BlockTable`); ``OTHER`` where no component is a block."""
    table = _table(engine)
    m = _CARVED.fullmatch(module)
    if m:
        owner, kind = m.groups()
        block = _block_of(owner, top, table)
        if block is None or block.category == OTHER:
            return table.carved[kind]
        return block.carved.get(kind, block.category)
    block = _block_of(module, top, table)
    return block.category if block is not None else OTHER


def block_breakdown(modules, top, engine, key="area_um2"):
    """``{category: {"value", "share"}}`` and the modules grouped with indices folded (cu3 -> cu*)."""
    table = _table(engine)
    cats, groups = {}, {}
    for m in modules:
        v = m[key] if m[key] is not None else m["cells"]
        v *= m["instances"]
        cat = classify(m["module"], top, table)
        cats[cat] = cats.get(cat, 0.0) + v
        g = re.sub(r"\d+", "*", m["module"][len(top):]) or "(top)"
        if g.startswith("_"):          # a carved part of the top module itself
            g = "(top)" + g
        e = groups.setdefault(g, {"block": g.lstrip(".") or "(top)", "category": cat, "copies": 0,
                                  "value": 0.0})
        e["copies"] += m["instances"]
        e["value"] += v
    total = sum(cats.values()) or 1.0
    cats = {c: {"value": v, "share": v / total} for c, v in
            sorted(cats.items(), key=lambda kv: -kv[1])}
    groups = sorted(groups.values(), key=lambda e: -e["value"])
    for e in groups:
        e["share"] = e["value"] / total
    return cats, groups


def _module_paths(designs):
    """``{engine: [(top, module path)]}`` of ``(name, engine, modules)`` triples."""
    out = {}
    for name, engine, modules in designs:
        out.setdefault(engine, []).extend((name, m["module"]) for m in modules)
    return out


def unmatched_blocks(designs):
    """``{engine: [block name]}``: entries of each engine's table that name no module of that
    engine's ``designs`` (``(name, engine, modules)`` triples, ``modules`` as in
    :func:`block_breakdown`); engines without such entries are left out."""
    out = {}
    for engine, paths in _module_paths(designs).items():
        table = _table(engine)
        named = {table.block(c).name for top, mod in paths for c in _components(mod, top)
                 if table.block(c) is not None}
        missing = [b.name for b in table.blocks if b.name not in named]
        if missing:
            out[engine] = missing
    return out


def unnamed_modules(designs):
    """``[module path]`` of ``designs`` (as in :func:`unmatched_blocks`) below their top that no
    table entry names, carved parts left out."""
    out = []
    for engine, paths in _module_paths(designs).items():
        table = _table(engine)
        for top, mod in paths:
            if _components(mod, top) and not _CARVED.fullmatch(mod) \
                    and _block_of(mod, top, table) is None:
                out.append(mod)
    return out
