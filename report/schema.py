"""The report schema: the typed records that ``make bench``, ``make area``, ``make e2e``,
``make power`` and ``sparse-hw sweep`` write and read.

Every figure is computed once, in the module that owns it, and travels in one of these records:

* speed-ups: in each engine's bench section (``sim/bench_<engine>.py``), as a :class:`Headline`
  whose figures have the names :data:`HEADLINE_FIGURES` lists, plus :class:`PairSpeedup` rows
  naming the synthesised tops they apply to;
* area ratios: in synth (``synth/area.py``), as :class:`AreaRatio` rows;
* iso-area speed-ups: in :func:`iso_area`, the one function both reports call.

Readers never search for keys and never accept alternative spellings: a record that lacks a field
is a :class:`ReportError` naming the file and the field. Reports are JSON; each record has
``to_json`` and ``from_json``.
"""

import dataclasses
import json
from pathlib import Path
from types import MappingProxyType

__all__ = ["ReportError", "HEADLINE_FIGURES", "PairSpeedup", "Headline", "RtlCheck", "Section",
           "AreaRatio", "IsoArea", "iso_area_speedup", "iso_area", "write_json", "read_json", "read_sections",
           "read_area_ratios"]

#: The figures each engine's headline must hold (more may be given). Names are the contract
#: between the benches, the reproduction table and the area report.
HEADLINE_FIGURES = MappingProxyType({
    "sparten": ("speedup_vs_dense", "speedup_vs_onesided", "fraction_of_ideal"),
    "eureka": ("speedup_vs_dense", "speedup_vs_2to4"),
    # speedup_vs_isoarea_sparten is there only when the area report is (make area): not required.
    "barista": ("speedup_vs_dense", "speedup_vs_onesided", "speedup_vs_naive_sparten",
                "fraction_of_ideal"),
})


class ReportError(ValueError):
    """A report file or record that does not follow this schema (one-line message)."""


def _need(doc, key, where):
    if not isinstance(doc, dict) or key not in doc:
        raise ReportError(f"{where}: missing field {key!r}")
    return doc[key]


def _number(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ReportError(f"{where}: expected a number, got {v!r}")
    return float(v)


def _choice(v, choices, where, name):
    """``v`` if it is one of ``choices``, else the one-line ``ReportError`` naming ``name``."""
    if v not in choices:
        raise ReportError(f"{where}: {name} must be one of {', '.join(choices)}, got {v!r}")
    return v


def _fields_from(cls, doc, where):
    """``cls(**doc)`` with every field of ``cls`` that has no default required in ``doc``."""
    kw = {}
    for f in dataclasses.fields(cls):
        if f.name in doc:
            kw[f.name] = doc[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ReportError(f"{where}: missing field {f.name!r}")
    unknown = sorted(set(doc) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ReportError(f"{where}: unknown field {unknown[0]!r} of {cls.__name__}")
    return cls(**kw)


@dataclasses.dataclass(frozen=True)
class PairSpeedup:
    """Cycle speed-up of synthesised top ``design`` over top ``baseline`` on ``workload``.

    The bench section that measured the speed-up names the pair, so that :func:`iso_area` matches
    it with the area report's :class:`AreaRatio` of the same two tops by name.
    """
    design: str
    baseline: str
    speedup: float
    workload: str

    def __post_init__(self):
        _number(self.speedup, f"speed-up of {self.design} over {self.baseline}")
        if not self.speedup > 0:
            raise ReportError(f"speed-up of {self.design} over {self.baseline} must be > 0, "
                              f"got {self.speedup}")

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc, where="pair speed-up"):
        return _fields_from(cls, doc, where)


@dataclasses.dataclass(frozen=True)
class Headline:
    """An engine's headline figures on one named workload.

    ``figures`` maps a figure name to its value; it must hold every name
    :data:`HEADLINE_FIGURES` lists for ``engine``. ``pairs`` are the speed-ups of synthesised
    tops over their baselines that the area report's iso-area rows use.
    """
    engine: str
    workload: str
    figures: dict
    pairs: tuple = ()

    def __post_init__(self):
        if self.engine not in HEADLINE_FIGURES:
            raise ReportError(f"headline engine {self.engine!r}: expected one of "
                              f"{', '.join(HEADLINE_FIGURES)}")
        missing = [n for n in HEADLINE_FIGURES[self.engine] if n not in self.figures]
        if missing:
            raise ReportError(f"{self.engine} headline: missing figure {missing[0]!r}")
        for name, v in self.figures.items():
            _number(v, f"{self.engine} headline figure {name!r}")
        object.__setattr__(self, "figures", MappingProxyType(
            {k: float(v) for k, v in self.figures.items()}))
        object.__setattr__(self, "pairs", tuple(
            p if isinstance(p, PairSpeedup) else PairSpeedup.from_json(p) for p in self.pairs))

    def __getitem__(self, name):
        try:
            return self.figures[name]
        except KeyError:
            raise ReportError(f"{self.engine} headline has no figure {name!r} (it has "
                              f"{', '.join(self.figures)})") from None

    def pair(self, design, baseline):
        """The :class:`PairSpeedup` of ``design`` over ``baseline``, or ``None``."""
        for p in self.pairs:
            if (p.design, p.baseline) == (design, baseline):
                return p
        return None

    def to_json(self):
        return {"engine": self.engine, "workload": self.workload, "figures": dict(self.figures),
                "pairs": [p.to_json() for p in self.pairs]}

    @classmethod
    def from_json(cls, doc, where="headline"):
        return _fields_from(cls, doc, where)


@dataclasses.dataclass(frozen=True)
class RtlCheck:
    """What RTL checked a section's model: ``rows`` (one dict per run, each with ``equal``),
    ``scope`` (what the runs cover) and ``missing`` (what they do not, or ``None``)."""
    rows: tuple
    scope: str
    missing: str = None

    def __post_init__(self):
        object.__setattr__(self, "rows", tuple(self.rows))
        for i, r in enumerate(self.rows):
            if not isinstance(r, dict) or not isinstance(r.get("equal"), bool):
                raise ReportError(f"RTL check row {i}: needs a boolean 'equal'")

    @property
    def all_equal(self):
        """True when there is at least one run and every run matched."""
        return bool(self.rows) and all(r["equal"] for r in self.rows)

    def to_json(self):
        return {"rows": list(self.rows), "scope": self.scope, "missing": self.missing,
                "all_equal": self.all_equal}

    @classmethod
    def from_json(cls, doc, where="rtl check"):
        doc = {k: v for k, v in doc.items() if k != "all_equal"}
        return _fields_from(cls, doc, where)


@dataclasses.dataclass(frozen=True)
class Section:
    """One engine's (or e2e's) part of ``bench.json``: its markdown, headline, RTL check, the
    free-form ``data`` its tables and plots are drawn from, and how it was run."""
    name: str
    markdown: str
    headline: Headline
    rtl: RtlCheck
    data: dict
    seconds: float
    quick: bool = False

    def __post_init__(self):
        if not isinstance(self.headline, Headline):
            raise ReportError(f"section {self.name}: headline must be a Headline")
        if not isinstance(self.rtl, RtlCheck):
            raise ReportError(f"section {self.name}: rtl must be an RtlCheck")

    def to_json(self):
        return {"name": self.name, "markdown": self.markdown, "headline": self.headline.to_json(),
                "rtl": self.rtl.to_json(), "data": self.data, "seconds": self.seconds,
                "quick": self.quick}

    @classmethod
    def from_json(cls, doc, where="section"):
        where = f"{where} {doc.get('name', '?')}" if isinstance(doc, dict) else where
        h = Headline.from_json(_need(doc, "headline", where), f"{where} headline")
        r = RtlCheck.from_json(_need(doc, "rtl", where), f"{where} rtl")
        return _fields_from(cls, {**doc, "headline": h, "rtl": r}, where)


@dataclasses.dataclass(frozen=True)
class AreaRatio:
    """``area(design) / area(baseline)`` in ``metric`` (``area_um2`` or ``cells``), from synth.

    ``critical_path_ratio`` is the engine's over the baseline's critical path (``None`` without a
    timing model); ``delta_by_category`` the extra area per block category and
    ``delta_by_group`` per block group (modules with indices folded; a group the baseline lacks
    counts whole), largest first.
    """
    engine: str
    design: str
    baseline: str
    metric: str
    area_ratio: float
    critical_path_ratio: float = None
    delta_by_category: dict = dataclasses.field(default_factory=dict)
    delta_by_group: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not _number(self.area_ratio, f"area ratio of {self.design} over {self.baseline}") > 0:
            raise ReportError(f"area ratio of {self.design} over {self.baseline} must be > 0")

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc, where="area ratio"):
        return _fields_from(cls, doc, where)


@dataclasses.dataclass(frozen=True)
class IsoArea:
    """Iso-area speed-up of ``design`` over ``baseline``: cycle speed-up over area ratio at equal
    clock; ``speedup``/``iso_area_speedup`` are ``None`` with ``missing`` saying why."""
    engine: str
    design: str
    baseline: str
    area_ratio: float
    speedup: float
    speedup_workload: str
    iso_area_speedup: float
    missing: str = None

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc, where="iso-area row"):
        return _fields_from(cls, doc, where)


def iso_area_speedup(speedup, area_ratio):
    """Iso-area speed-up: the cycle speed-up over the area ratio (equal clock assumed); ``None``
    when either is missing. Every iso-area figure of the project is this quotient."""
    if speedup is None or area_ratio is None:
        return None
    return speedup / area_ratio


def iso_area(headlines, ratios):
    """The iso-area rows: each :class:`AreaRatio` with the bench's :class:`PairSpeedup` of the same
    two tops.

    Parameters
    ----------
    headlines : mapping of str to Headline
        The bench's headlines by engine (may lack engines: their rows say so).
    ratios : iterable of AreaRatio
        The area report's like-for-like ratios.

    Returns
    -------
    list of IsoArea
        One per ratio, in order.
    """
    rows = []
    for r in ratios:
        h = headlines.get(r.engine)
        p = h.pair(r.design, r.baseline) if h is not None else None
        if p is None:
            why = (f"the bench's {r.engine} section has no speed-up of {r.design} over "
                   f"{r.baseline}" if h is not None else f"no {r.engine} bench section: run "
                   f"make bench")
            rows.append(IsoArea(r.engine, r.design, r.baseline, r.area_ratio, None, None, None, why))
        else:
            rows.append(IsoArea(r.engine, r.design, r.baseline, r.area_ratio, p.speedup,
                                p.workload, iso_area_speedup(p.speedup, r.area_ratio)))
    return rows


def write_json(path, doc):
    """Write ``doc`` (records are turned into JSON with ``to_json``) to ``path``."""
    def default(o):
        if hasattr(o, "to_json"):
            return o.to_json()
        if isinstance(o, MappingProxyType):
            return dict(o)
        if hasattr(o, "tolist"):   # numpy scalars and arrays
            return o.tolist()
        raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=1, default=default) + "\n")


def read_json(path):
    """The JSON document at ``path``; :class:`ReportError` when absent or not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: no such report") from None
    except ValueError as e:
        raise ReportError(f"{path}: not JSON ({e})") from None


def read_sections(path):
    """``{name: Section}`` from ``bench.json`` (its ``sections`` object)."""
    doc = read_json(path)
    secs = _need(doc, "sections", str(path))
    return {name: Section.from_json(s, f"{path} section") for name, s in secs.items()}


def read_area_ratios(path):
    """The :class:`AreaRatio` rows of ``area.json`` (its ``ratios`` list)."""
    doc = read_json(path)
    return [AreaRatio.from_json(r, f"{path} ratio {i}")
            for i, r in enumerate(_need(doc, "ratios", str(path)))]
