"""Area block tables: which submodule is which block of the area report.

Each engine owns a :class:`BlockTable` next to its tops (``hw/<engine>/blocks.py``, ``BLOCKS``),
keyed by the names its ``elaborate`` gives its submodules (``m.submodules.<name>``). Amaranth
names every submodule's Verilog module ``<top>.<sub>.<subsub>``, and synthesis keeps that
hierarchy, so each module's own cells are one block; synth/ reads the tables through
:func:`hw.top.block_table` and knows no engine's internals.

This module also holds the table of hw/common's own blocks (:data:`COMMON`), which the engines that
use them (the inner join in SparTen's compute unit) include in theirs.
"""

import dataclasses
import re
from types import MappingProxyType

__all__ = ["OTHER", "CARVED_KINDS", "Block", "BlockTable", "COMMON", "INNER_JOIN",
           "GENERIC_CARVED"]

#: The category of logic that no block names (a top's own control, glue).
OTHER = "control/other"

#: The kinds of coarse cells synth/'s ``blocks`` flow carves out of every module into submodules
#: ``<module>_<kind>`` (multipliers, adders, muxes, registers).
CARVED_KINDS = ("mul", "add", "mux", "regs")

#: What each carved kind is called when its module is not a block of its own (``OTHER``).
GENERIC_CARVED = MappingProxyType({"mul": "multipliers", "add": "adders", "mux": "muxes",
                                   "regs": "registers"})

#: The index part of a submodule name: ``cu7``, ``own_tree3``, ``prefix_f0_3`` (lane 0, group 3).
_INDEX = re.compile(r"(\d+_)*\d+$")


def _check_carved(carved, where):
    bad = sorted(set(carved) - set(CARVED_KINDS))
    if bad:
        raise ValueError(f"{where}: carved kind {bad[0]!r} is not one of {', '.join(CARVED_KINDS)}")
    return MappingProxyType(dict(carved))


@dataclasses.dataclass(frozen=True)
class Block:
    """One named submodule of an engine and its area category.

    Members
    -------
    name : str
        The submodule name without its index (``prefix_f`` names ``prefix_f0``, ``prefix_f12``,
        ``prefix_f0_3``).
    category : str
        Its category in the area report (``OTHER`` for a container whose own logic is control).
    carved : mapping of str to str
        For a block that keeps logic of several kinds inline (a compute unit's operand muxes and
        registers): the category of each carved kind of its own logic. Empty: carved parts keep
        ``category`` (or, for ``OTHER``, the table's ``carved`` names).
    """

    name: str
    category: str
    carved: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*[A-Za-z_]|[A-Za-z_]", self.name or ""):
            raise ValueError(f"block name must be an identifier not ending in a digit, got "
                             f"{self.name!r}")
        object.__setattr__(self, "carved", _check_carved(self.carved, f"block {self.name}"))


@dataclasses.dataclass(frozen=True)
class BlockTable:
    """An engine's area blocks.

    Members
    -------
    engine : str
        The engine whose tops the table describes (``hw.top.Top.engine``).
    blocks : tuple of Block
        Its named submodules; names are unique.
    carved : mapping of str to str
        What the carved kinds of a module's own logic are called where that module is no block
        (the top's own logic, an ``OTHER`` container), e.g. EUREKA's core keeps its pipeline
        registers and accumulators itself.
    subtrees : tuple of str
        Submodules of an engine top whose subtree is also compared with the baselines on its own
        (SparTen's layer top holds a cluster beside its memories' control and output path; the
        dense MAC array is the cluster's counterpart).
    size_fields : tuple of tuple of str
        Config fields that must be equal for an engine top and a baseline top to be compared
        like for like (the first group that both configs have decides).
    pairs : tuple of (str, str)
        Explicit (engine top, baseline top) comparisons beyond the pairing by role and size.
    """

    engine: str
    blocks: tuple
    carved: dict = dataclasses.field(default_factory=lambda: dict(GENERIC_CARVED))
    subtrees: tuple = ()
    size_fields: tuple = ()
    pairs: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))
        names = [b.name for b in self.blocks]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{self.engine} block table: block {dup[0]!r} named twice")
        object.__setattr__(self, "carved", _check_carved(self.carved, f"{self.engine} table"))
        object.__setattr__(self, "subtrees", tuple(self.subtrees))
        object.__setattr__(self, "size_fields", tuple(tuple(f) for f in self.size_fields))
        object.__setattr__(self, "pairs", tuple(tuple(p) for p in self.pairs))
        object.__setattr__(self, "_by_name", MappingProxyType({b.name: b for b in self.blocks}))

    def block(self, component):
        """The :class:`Block` a module-path component (``cu7``, ``prefix_f0``) names, or None."""
        return self._by_name.get(_INDEX.sub("", component))


#: hw/common/innerjoin.py's per-lane submodules: ``prio<l>`` (priority encoder, hw/common/bits.py)
#: and ``prefix_f<l>``/``prefix_a<l>`` (masked popcounts of the filter and activation masks).
INNER_JOIN = (
    Block("prefix_f", "prefix sums"),
    Block("prefix_a", "prefix sums"),
    Block("prio", "priority encoder"),
)

#: hw/common's own tops (``innerjoin128``).
COMMON = BlockTable("common", INNER_JOIN)

#: The table :func:`hw.top.block_table` reads for engine ``"common"``.
BLOCKS = COMMON
