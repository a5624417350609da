"""Registry of the tops that ``sparse-hw verilog`` writes and synth/ reports.

Each engine package keeps its own list in ``tops.py`` (``TOPS``) of :class:`Top` records; this module
only gathers them, so engines can be added without touching each other.
"""

import dataclasses
from typing import Any, Callable

__all__ = ["Top", "all_tops", "select_tops", "block_table"]


@dataclasses.dataclass(frozen=True)
class Top:
    """One emitted design.

    Members
    -------
    name : str
        Verilog module name and file stem (``build/verilog/<name>.v``).
    config : ConfigBase
        The frozen config the design is generated from; written to the ``.json`` sidecar.
    build : callable
        ``build(config) -> wiring.Component``.
    engine : str
        ``"common"``, ``"sparten"``, ``"eureka"`` or ``"barista"``.
    role : str
        What the design is, for reports: e.g. ``"engine"``, ``"dense-baseline"``, ``"block"``.
    """

    name: str
    config: Any
    build: Callable
    engine: str
    role: str = "block"
    description: str = ""

    def elaborate(self):
        return self.build(self.config)

    @property
    def blocks(self):
        """The area block table of this top's engine (:func:`block_table`)."""
        return block_table(self.engine)


def all_tops():
    """Every registered top, in a stable order."""
    from .common.tops import TOPS as common
    from .sparten.tops import TOPS as sparten
    from .eureka.tops import TOPS as eureka
    from .barista.tops import TOPS as barista
    tops = [*common, *sparten, *eureka, *barista]
    names = [t.name for t in tops]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"duplicate top names: {sorted(dup)!r}")
    return tops


ENGINES = ("common", "sparten", "eureka", "barista")


def select_tops(engines=None, names=None):
    """The registered tops, narrowed to ``names`` and/or ``engines``; unknown ones raise ValueError."""
    tops = all_tops()
    if names:
        known = {t.name for t in tops}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"unknown top(s) {unknown}; choose from {sorted(known)}")
        tops = [t for t in tops if t.name in names]
    if engines:
        bad = [e for e in engines if e not in ENGINES]
        if bad:
            raise ValueError(f"unknown engine(s) {bad}; choose from {sorted(ENGINES)}")
        tops = [t for t in tops if t.engine in engines]
    return tops


def block_table(engine):
    """The :class:`hw.common.blocks.BlockTable` of ``engine``: ``BLOCKS`` of ``hw/<engine>/blocks.py``
    (synth/ reads every engine's area blocks from here)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {sorted(ENGINES)}")
    import importlib
    table = importlib.import_module(f"{__package__}.{engine}.blocks").BLOCKS
    if table.engine != engine:
        raise ValueError(f"hw/{engine}/blocks.py holds the table of {table.engine!r}")
    return table
