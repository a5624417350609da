"""Area-side records of the report schema: one synthesised design of ``area.json``.

``make area`` (synth/) writes each entry of ``area.json``'s ``designs`` list as an
:class:`AreaDesign`; readers (e.g. the BARISTA bench's iso-area ratio) take them through
:func:`read_area_designs`, which rejects any other shape with a one-line :class:`ReportError`.
The like-for-like ratios and iso-area rows are :class:`report.schema.AreaRatio` and
:class:`report.schema.IsoArea`.
"""

import dataclasses

from .schema import ReportError, _fields_from, _need, read_json

__all__ = ["AreaDesign", "read_area_designs"]


@dataclasses.dataclass(frozen=True)
class AreaDesign:
    """Everything ``make area`` measured of one top (its entry in ``area.json``'s ``designs``).

    Areas are µm² of Liberty cells (``None`` in the generic flow, which counts Yosys gates in
    ``cells``); memory macros are outside ``area_um2`` (their bits are ``memory_macro_bits``).
    ``blocks`` maps a block category to ``{"value", "share"}``; ``block_groups`` lists the modules
    with their indices folded; ``seconds`` the wall and CPU time of each flow.
    """

    design: str
    engine: str
    role: str
    description: str
    config: dict
    library: str
    corner: str
    area_um2: float
    cells: int
    critical_path_ns: float
    fmax_mhz: float
    logic_depth: int
    memory_macro_bits: int
    blocks: dict
    errors: list
    seq_area_um2: float = None
    cells_kind: str = None
    transistors: int = None
    transistors_kind: str = None
    luts: int = None
    lutram_luts: int = None
    ffs: int = None
    dsps: int = None
    bram36: float = None
    carry4: int = None
    critical_path: dict = dataclasses.field(default_factory=dict)
    memory_macros: list = dataclasses.field(default_factory=list)
    blocks_source: str = None
    blocks_total_vs_headline: float = None
    block_groups: list = dataclasses.field(default_factory=list)
    fpga_cells: dict = dataclasses.field(default_factory=dict)
    seconds: dict = dataclasses.field(default_factory=dict)

    @property
    def logic_area(self):
        """``(value, unit)``: standard-cell µm², or generic gates without a Liberty file."""
        if self.area_um2 is not None:
            return self.area_um2, "µm²"
        return self.cells, "cells"

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc, where="area design"):
        if isinstance(doc, dict) and "design" in doc:
            where = f"{where} {doc['design']}"
        return _fields_from(cls, doc, where)


def read_area_designs(path):
    """``{design name: AreaDesign}`` from ``area.json`` (its ``designs`` list)."""
    doc = read_json(path)
    out = {}
    for i, d in enumerate(_need(doc, "designs", str(path))):
        rec = AreaDesign.from_json(d, f"{path} design {i}")
        if rec.design in out:
            raise ReportError(f"{path}: design {rec.design!r} listed twice")
        out[rec.design] = rec
    return out
