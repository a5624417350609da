"""Power-side records: the comparisons of ``power.json`` (``make power``, ``synth/power.py``).

``power.json``'s contract is issue 12's: ``comparisons`` maps a name to its ratio, and
``comparison_details`` gives, for each name, what was compared and against which target. The bench's
reproduction table reads them through :func:`read_power_comparisons`, strictly.
"""

import dataclasses

from .schema import ReportError, _fields_from, _need, _number, read_json

__all__ = ["COMPARISONS", "PowerComparison", "read_power_comparisons"]

#: The comparisons ``power.json`` must hold (issue 12, item 4; BARISTA's beside them).
COMPARISONS = ("eureka_vs_dense_energy", "eureka_vs_ampere24_energy", "eureka_vs_ampere24_power",
               "sparten_vs_dense_energy", "barista_vs_dense_energy")


@dataclasses.dataclass(frozen=True)
class PowerComparison:
    """One energy or power ratio of ``power.json``.

    Energy ratios are baseline / engine (more than 1: the engine uses less); power ratios are
    engine / baseline. ``engine`` and ``baseline`` name ``design / workload``; ``library`` and
    ``clock_mhz`` are the report's.
    """
    name: str
    kind: str
    value: float
    what: str
    engine: str
    baseline: str
    library: str
    clock_mhz: float
    target: float = None
    paper: float = None
    met: bool = None
    limiting_block: str = None

    def __post_init__(self):
        if self.kind not in ("energy", "power"):
            raise ReportError(f"power comparison {self.name}: kind must be energy or power, "
                              f"got {self.kind!r}")
        _number(self.value, f"power comparison {self.name}")

    @property
    def where(self):
        """One line: what was compared, on which library and clock."""
        return f"{self.engine} vs {self.baseline}, {self.library}, {self.clock_mhz:g} MHz " \
               f"(make power)"


#: Fields of ``comparison_details`` entries that the record does not keep.
_DETAIL_EXTRA = ("better", "block_difference", "difference_unit")


def read_power_comparisons(path):
    """``{name: PowerComparison or None}`` of ``power.json`` (``None``: the run did not measure
    that comparison, e.g. ``--no-sparten``); :class:`ReportError` on another shape."""
    doc = read_json(path)
    where = str(path)
    values = _need(doc, "comparisons", where)
    details = _need(doc, "comparison_details", where)
    library, clock = _need(doc, "library", where), _need(doc, "clock_mhz", where)
    out = {}
    for name in COMPARISONS:
        det = dict(_need(details, name, f"{where} comparison_details"))
        value = _need(values, name, f"{where} comparisons")
        if value is None:
            out[name] = None
            continue
        if "value" in det and det["value"] != value:
            raise ReportError(f"{where}: comparison {name} is {value} but its details say "
                              f"{det['value']}")
        det = {k: v for k, v in det.items() if k not in _DETAIL_EXTRA}
        det.update(name=name, value=value, library=library, clock_mhz=clock)
        out[name] = _fields_from(PowerComparison, det, f"{where} comparison {name}")
    return out
