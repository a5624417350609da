"""Sweep-side records of the report schema: ``sweep.json`` (``sparse-hw sweep``, ``sim/sweep*.py``).

``sim.sweep_report.assemble`` builds the sweep's document; :func:`sim.sweep_report.write_reports`
writes it through :class:`SweepReport` (so a malformed row never reaches the file) with
:func:`report.schema.write_json`, and ``sparse-hw pick --from`` reads it back with
:func:`read_sweep`, which rejects any other shape with a one-line :class:`ReportError` naming the
file and the field. In memory the sweep keeps plain dicts (``row_of``'s rows), which these records
mirror field for field.
"""

import dataclasses

from .schema import ReportError, _choice, _fields_from, _need, _number, read_json

__all__ = ["ENGINES", "STATUSES", "SweepRow", "ParetoFront", "SweepSummary", "SweepReport",
           "read_sweep"]

#: Engines a sweep runs, and what a row's ``status`` may be.
ENGINES = ("sparten", "eureka")
STATUSES = ("ok", "failed", "incomplete")

#: Figures an ``ok`` row must have (its cycle model ran).
_MODEL_FIGURES = ("cycles", "dense_cycles", "dense_macs", "speedup_vs_dense", "macs_per_cycle")


class _Record:
    """JSON of the flat records below: fields that are ``None`` are left out of the file (their
    default), and :func:`report.schema._fields_from` rejects a missing or unknown field."""

    def to_json(self):
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, doc, where=None):
        return _fields_from(cls, doc, where or cls.__name__)


@dataclasses.dataclass(frozen=True)
class SweepRow(_Record):
    """One point of a sweep: config, point fields, and the figures its tasks gave.

    ``config`` is the engine config as a dict; the config fields the tables show are copied
    beside it (``None`` where the engine has no such field). ``errors`` maps a task kind to its
    error; ``missing`` lists task kinds without a result; ``status`` is ``ok``, ``failed`` or
    ``incomplete``. Figures are ``None`` when the sweep did not ask for them (e.g. no ``area``).
    """
    workload: str
    engine: str
    digest: str
    config: dict
    multipliers: int
    errors: dict
    status: str
    error: str
    # config fields shown in the tables
    variant: str = None
    rows: int = None
    lanes: int = None
    group: int = None
    n_units: int = None
    chunk: int = None
    matches_per_cycle: int = None
    unit_fifo_depth: int = None
    # point fields (sim.sweep_model.POINT_FIELDS)
    mode: str = None
    order: str = None
    method: str = None
    pruned_to: str = None
    missing: list = None
    # model
    cycles: int = None
    dense_cycles: int = None
    dense_macs: int = None
    layers: list = None
    speedup_vs_dense: float = None
    macs_per_cycle: float = None
    onesided_cycles: int = None
    speedup_vs_onesided: float = None
    # area
    area_um2: float = None
    fmax_mhz: float = None
    critical_path_ns: float = None
    area_library: str = None
    # rtl and energy
    rtl: dict = None
    rtl_cycle_exact: bool = None
    energy: dict = None
    energy_nj: float = None

    def __post_init__(self):
        where = f"sweep row {self.workload} {self.digest}"
        _choice(self.engine, ENGINES, where, "engine")
        _choice(self.status, STATUSES, where, "status")
        for name in ("config", "errors"):
            if not isinstance(getattr(self, name), dict):
                raise ReportError(f"{where}: field {name!r} must be an object")
        if self.status == "ok":
            for name in _MODEL_FIGURES:
                if getattr(self, name) is None:
                    raise ReportError(f"{where}: an ok row needs field {name!r}")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in (int, float) and v is not None:
                _number(v, f"{where} field {f.name!r}")

    def point(self, fields):
        """``{field: value}`` of the point ``fields`` the row has (not ``None``)."""
        return {k: getattr(self, k) for k in fields if getattr(self, k) is not None}



@dataclasses.dataclass(frozen=True)
class ParetoFront(_Record):
    """The fronts of one workload: ``cost`` (``area_um2`` or ``multipliers``) against speed
    (``macs_per_cycle``) and, when the sweep has energy, against ``energy_nj``. Each entry is a
    short summary of a row (``label`` and its figures)."""
    cost: str
    speed: list
    energy: list = None

    def __post_init__(self):
        if self.cost not in ("area_um2", "multipliers"):
            raise ReportError(f"pareto front: cost must be area_um2 or multipliers, "
                              f"got {self.cost!r}")
        for kind in ("speed", "energy"):
            for b in getattr(self, kind) or ():
                _need(b, "label", f"pareto front {kind} entry")



@dataclasses.dataclass(frozen=True)
class SweepSummary(_Record):
    """Counts of a run: points, tasks (computed, cached, failed), failed points, the skipped
    combinations with their reason, wall seconds and Dask workers (``None``: serial)."""
    points: int
    tasks: int
    computed: int
    cached: int
    failed: int
    failed_points: int
    skipped: dict
    seconds: float
    workers: int = None


@dataclasses.dataclass(frozen=True)
class SweepReport:
    """``sweep.json``: the sweep's name and spec, its summary, one :class:`SweepRow` per point and
    a :class:`ParetoFront` per workload."""
    name: str
    spec: dict
    summary: SweepSummary
    rows: tuple
    pareto: dict

    def to_json(self):
        return {"name": self.name, "spec": self.spec, "summary": self.summary.to_json(),
                "rows": [r.to_json() for r in self.rows],
                "pareto": {wl: f.to_json() for wl, f in self.pareto.items()}}

    @classmethod
    def from_json(cls, doc, where="sweep"):
        """The report of a sweep's document (``assemble``'s dict, or the parsed file)."""
        rows = _need(doc, "rows", where)
        pareto = _need(doc, "pareto", where)
        if not isinstance(rows, list) or not isinstance(pareto, dict):
            raise ReportError(f"{where}: rows must be a list and pareto an object")
        return _fields_from(cls, {
            **doc,
            "summary": SweepSummary.from_json(_need(doc, "summary", where), f"{where} summary"),
            "rows": tuple(SweepRow.from_json(r, f"{where} row {i}") for i, r in enumerate(rows)),
            "pareto": {wl: ParetoFront.from_json(f, f"{where} pareto {wl}")
                       for wl, f in pareto.items()}}, where)


def read_sweep(path):
    """The :class:`SweepReport` of ``sweep.json`` at ``path``; :class:`ReportError` on any other
    shape."""
    return SweepReport.from_json(read_json(path), str(path))
