"""The hardware-quality targets (issue 11) and their verdicts, as ``make area`` and ``make bench``
print them.

:data:`TARGETS` is the one place a target is written: which figure it reads, its bound and
direction, the issue and the paper figure behind it. The reports evaluate it with
:func:`evaluate` into :class:`Verdict` records (``area.json``'s and ``bench.json``'s ``targets``
lists, read back strictly with :func:`read_targets`); a missed target names the blocks that limit
it (:class:`Limit`), a target whose inputs are absent says which command makes them.

This module knows no hardware: the area report hands it the block that each end of a critical
path lies in (``path_block``, from the engines' block tables in synth/).
"""

import dataclasses

from .schema import ReportError, _choice, _fields_from, _need, _number, read_json

__all__ = ["Target", "TARGETS", "target", "Limit", "Verdict", "LIMITS_SHOWN", "evaluate", "verdict",
           "targets_of", "read_targets", "markdown", "summary"]

#: The figures a target can read, and where they come from.
FIGURES = {
    "area_ratio": "area(design) / area(baseline), µm², from area.json's ratios (make area)",
    "pair_speedup": "cycle speed-up of design over baseline, the bench's pair (make bench)",
    "iso_area_speedup": "cycle speed-up / area ratio (report.schema.iso_area; make area + bench)",
    "critical_path_ns": "critical path of every registered top, ns (synth/sta.py, make area)",
}
DIRECTIONS = {"at_most": "<=", "at_least": ">="}


@dataclasses.dataclass(frozen=True)
class Target:
    """One target: ``figure`` (a key of :data:`FIGURES`) of ``design`` over ``baseline`` (both
    ``None`` for a figure of every top) must be ``direction`` ``bound``.

    ``reports`` are the reports that print its verdict; ``paper`` the published figure it stands
    for, where there is one.
    """
    name: str
    what: str
    figure: str
    bound: float
    direction: str
    design: str = None
    baseline: str = None
    issue: int = 11
    paper: str = None
    reports: tuple = ("area",)

    def __post_init__(self):
        _choice(self.figure, FIGURES, f"target {self.name}", "figure")
        _choice(self.direction, DIRECTIONS, f"target {self.name}", "direction")

    def met_by(self, value):
        """Whether ``value`` meets the bound."""
        return value <= self.bound if self.direction == "at_most" else value >= self.bound

    @property
    def text(self):
        """One line: what, of which tops, the bound (``... (eureka_core / eureka_ampere24) <=
        1.06``; ``(every default top)`` for a figure of every top)."""
        subject = f"{self.design} / {self.baseline}" if self.design else "every default top"
        return f"{self.what} ({subject}) {DIRECTIONS[self.direction]} {self.bound:g}"


#: Issue 11's targets ("in make area / make bench output; not timed tests").
TARGETS = (
    Target("eureka_area", "EUREKA core area / the Ampere-like 2:4 core of the same R x L",
           "area_ratio", 1.06, "at_most", "eureka_core", "eureka_ampere24",
           paper="EUREKA (MICRO'23): +6% area over Ampere's sparse tensor core"),
    Target("eureka_suds_speedup", "EUREKA SUDS speed-up over the dense core at d_w 0.2, beside "
           "the area target", "pair_speedup", 4.5, "at_least", "eureka_core", "eureka_dense",
           paper="EUREKA (MICRO'23): about 5x over dense", reports=("area", "bench")),
    Target("critical_path", "critical path, sky130 hd TT (200 MHz)",
           "critical_path_ns", 5.0, "at_most"),
    Target("sparten_iso_area", "SparTen cluster iso-area speed-up over the dense MAC array, "
           "the bench's VGG-16 densities", "iso_area_speedup", 3.0, "at_least",
           "sparten_cluster", "sparten_dense_array", reports=("area", "bench")),
)
_BY_NAME = {t.name: t for t in TARGETS}


def target(name):
    """The :class:`Target` called ``name`` (KeyError naming the known ones otherwise)."""
    if name not in _BY_NAME:
        raise KeyError(f"no target {name!r}; known: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]

#: How many blocks a missed area or iso-area target names (largest engine-minus-baseline first).
LIMITS_SHOWN = 3


@dataclasses.dataclass(frozen=True)
class Limit:
    """A block that limits a missed target: ``block`` (a block category, a block group or the
    block a critical path's end lies in), ``what`` (how it limits) and the number behind it
    (``value`` in ``unit``: µm² over the baseline; ``None`` for a path end)."""
    block: str
    what: str
    value: float = None
    unit: str = None

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc, where="limit"):
        return _fields_from(cls, doc, where)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One target's verdict on one subject (a pair of tops, or one top).

    ``value`` is the measured figure, ``met`` whether it meets ``bound``; both are ``None``
    exactly when ``missing`` says which input is absent and how to make it. ``limits`` name the
    limiting blocks of a missed target; ``detail`` says where the value comes from.
    """
    target: str
    subject: str
    value: float
    bound: float
    direction: str
    met: bool
    limits: tuple = ()
    detail: str = None
    missing: str = None

    def __post_init__(self):
        where = f"target {self.target} ({self.subject})"
        t = _BY_NAME.get(self.target)
        if t is None:
            raise ReportError(f"{where}: no such target in report/targets.py "
                              f"({', '.join(_BY_NAME)})")
        if (self.bound, self.direction) != (t.bound, t.direction):
            raise ReportError(f"{where}: written for {DIRECTIONS.get(self.direction, '?')} "
                              f"{self.bound}, the table says {DIRECTIONS[t.direction]} {t.bound} "
                              "(a stale report: run it again)")
        if self.value is None:
            if not isinstance(self.missing, str) or not self.missing or self.met is not None:
                raise ReportError(f"{where}: no value needs a 'missing' reason and no 'met'")
        else:
            _number(self.value, f"{where} value")
            if self.met is not t.met_by(self.value):
                raise ReportError(f"{where}: 'met' is {self.met!r} but {self.value} "
                                  f"{DIRECTIONS[t.direction]} {t.bound} is {t.met_by(self.value)}")
        if not isinstance(self.limits, (list, tuple)) or not all(
                isinstance(x, (Limit, dict)) for x in self.limits):
            raise ReportError(f"{where}: 'limits' must be a list of objects, got {self.limits!r}")
        object.__setattr__(self, "limits", tuple(
            x if isinstance(x, Limit) else Limit.from_json(x, f"{where} limit")
            for x in self.limits))

    def to_json(self):
        return {**dataclasses.asdict(self), "limits": [x.to_json() for x in self.limits]}

    @classmethod
    def from_json(cls, doc, where="target verdict"):
        return _fields_from(cls, doc, where)


def verdict(target, subject, value, limits=(), detail=None, missing=None):
    """The :class:`Verdict` of ``target`` (a :class:`Target`) on ``value``; limits only when
    missed."""
    if value is None:
        return Verdict(target.name, subject, None, target.bound, target.direction, None,
                       missing=missing or "not measured", detail=detail)
    met = target.met_by(value)
    return Verdict(target.name, subject, float(value), target.bound, target.direction, met,
                   () if met else tuple(limits), detail)


def targets_of(report):
    """The targets that ``report`` (``"area"`` or ``"bench"``) prints."""
    return [t for t in TARGETS if report in t.reports]


def _pair(target):
    return f"{target.design} / {target.baseline}"


def _find(rows, target):
    return next((r for r in rows if (r.design, r.baseline) == (target.design, target.baseline)),
                None)


def _excess(ratio, unit):
    """:class:`Limit` rows: the block categories and block groups with the largest positive
    engine-minus-baseline area of ``ratio`` (an :class:`~report.schema.AreaRatio`)."""
    out = []
    for kind, deltas in (("category", ratio.delta_by_category),
                         ("block group", ratio.delta_by_group)):
        top = [(k, v) for k, v in sorted(deltas.items(), key=lambda kv: -kv[1]) if v > 0]
        out += [Limit(k, f"{kind}: {v:+,.0f} {unit} over {ratio.baseline}", v, unit)
                for k, v in top[:LIMITS_SHOWN]]
    return out


def _area_ratio(target, ratios, no_area):
    if ratios is None:
        return verdict(target, _pair(target), None, missing=no_area)
    r = _find(ratios, target)
    if r is None:
        return verdict(target, _pair(target), None, missing=f"no area ratio of {_pair(target)} "
                       f"in this area report: run make area (sparse-hw area --top "
                       f"{target.design} --top {target.baseline})")
    if r.metric != "area_um2":
        return verdict(target, _pair(target), None, missing=f"the ratio is in {r.metric} (no "
                       "Liberty file); the target is on µm²")
    return verdict(target, _pair(target), r.area_ratio, _excess(r, "µm²"),
                   f"{r.metric} ratio from make area")


def _speedup(target, speedups, iso, no_bench):
    """From the bench's pairs; without them, from the iso-area row of the pair (which carries
    the bench's speed-up, or why there is none)."""
    p = (speedups or {}).get((target.design, target.baseline))
    if p is not None:
        return verdict(target, _pair(target), p.speedup, detail=f"{p.workload} (make bench)")
    row = _find(iso or (), target)
    if row is not None and row.speedup is not None:
        return verdict(target, _pair(target), row.speedup,
                       detail=f"{row.speedup_workload} (make bench)")
    return verdict(target, _pair(target), None, missing=row.missing if row else no_bench)


def _iso(target, iso, ratios, no_area):
    row = _find(iso or (), target)
    if row is None:
        return verdict(target, _pair(target), None, missing=no_area if ratios is None else (
            f"no area ratio of {_pair(target)}: run make area (sparse-hw area --top "
            f"{target.design} --top {target.baseline})"))
    if row.iso_area_speedup is None:
        return verdict(target, _pair(target), None, missing=row.missing)
    r = _find(ratios or (), target)
    return verdict(target, _pair(target), row.iso_area_speedup,
                   _excess(r, "µm²" if r.metric == "area_um2" else r.metric) if r else (),
                   f"cycle speed-up {row.speedup:.2f}x / area ratio {row.area_ratio:.3f} "
                   f"({row.speedup_workload})")


def _critical_paths(target, designs, tops, path_block):
    """One verdict per registered top (``tops``: ``{name: engine}``)."""
    out = []
    for name, engine in tops.items():
        d = designs.get(name)
        if d is None:
            out.append(verdict(target, name, None, missing="not synthesised: run make area "
                               "(or sparse-hw area --top with these tops)"))
            continue
        if d["critical_path_ns"] is None:
            why = "; ".join(d["errors"]) or "no timing without a Liberty file"
            out.append(verdict(target, name, None, missing=why))
            continue
        cp = d["critical_path"]
        limits = [Limit(path_block(engine, name, cp[end]), f"{end} {cp[end]}")
                  for end in ("startpoint", "endpoint") if cp.get(end)]
        out.append(verdict(target, name, d["critical_path_ns"], limits,
                           f"{cp.get('path_depth')} cells deep"))
    return out


def evaluate(report, ratios=None, iso=None, speedups=None, designs=None, tops=None,
             path_block=None, no_area="no area report: run make area",
             no_bench="no speed-up of this pair in the bench report: run make bench"):
    """The verdicts of every target that ``report`` prints, in :data:`TARGETS` order.

    Parameters
    ----------
    report : str
        ``"area"`` or ``"bench"``.
    ratios : list of AreaRatio or None
        ``area.json``'s ratios (``None``: no area report, ``no_area`` says why).
    iso : list of IsoArea or None
        The iso-area rows (:func:`report.schema.iso_area`).
    speedups : mapping of (design, baseline) to PairSpeedup or None
        The bench's pair speed-ups; a pair not there is looked up in ``iso`` (whose rows carry
        the bench's speed-up or why there is none), else ``no_bench`` says why.
    designs : mapping of str to dict
        ``area.json``'s designs by name (the area report only).
    tops : mapping of str to str
        Every registered top and its engine (the critical-path target's subjects).
    path_block : callable
        ``path_block(engine, top, point)``: the block a critical path's end lies in.
    """
    out = []
    for t in targets_of(report):
        if t.figure == "area_ratio":
            out.append(_area_ratio(t, ratios, no_area))
        elif t.figure == "pair_speedup":
            out.append(_speedup(t, speedups, iso, no_bench))
        elif t.figure == "iso_area_speedup":
            out.append(_iso(t, iso, ratios, no_area))
        else:
            out += _critical_paths(t, designs or {}, tops or {}, path_block)
    return out


def read_targets(path):
    """The :class:`Verdict` rows of a report's ``targets`` list (``area.json``, ``bench.json``);
    :class:`ReportError` on any other shape."""
    doc = read_json(path)
    rows = _need(doc, "targets", str(path))
    if not isinstance(rows, list):
        raise ReportError(f"{path}: 'targets' must be a list")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise ReportError(f"{path} target {i}: expected an object, got {r!r}")
        out.append(Verdict.from_json(r, f"{path} target {i}"))
    return out


def _fmt(v):
    return "n/a" if v is None else f"{v:.3f}"


def _counts(rows):
    met = sum(v.met is True for v in rows)
    missed = [v for v in rows if v.met is False]
    return (f"Met {met}, missed {len(missed)}"
            + (f" ({', '.join(f'{v.subject} {_fmt(v.value)}' for v in missed)})" if missed else "")
            + f", not measured {len(rows) - met - len(missed)}")


def summary(verdicts):
    """One line per target (for a command's output): its statement and the counts."""
    return [f"target {t.name}: {t.text}: {_counts(rows)}" for t in TARGETS
            if (rows := [v for v in verdicts if v.target == t.name])]


def markdown(verdicts, heading="## Targets"):
    """The report section: per target its statement, then per subject the measured value, the
    bound, met or missed, and the limiting blocks of a missed one (or what input is missing)."""
    L = [heading, "",
         "Targets of issue 11, written once in `report/targets.py`; a missed one names the blocks "
         "that limit it (for area: the largest engine-minus-baseline areas; for a critical path: "
         "the blocks its start and end lie in).", ""]
    for t in TARGETS:
        rows = [v for v in verdicts if v.target == t.name]
        if not rows:
            continue
        paper = f" Paper: {t.paper}." if t.paper else ""
        L += [f"**{t.text}** (issue {t.issue}).{paper} {_counts(rows)}.", "",
              "| subject | ours | bound | verdict | limiting block / missing input |",
              "|---|---:|---:|---|---|"]
        # subjects missing the same input share a row (a partial run leaves many tops out)
        missing = {}
        for v in rows:
            if v.missing:
                missing.setdefault(v.missing, []).append(v.subject)
        for v in rows:
            if v.missing and v.subject != missing[v.missing][0]:
                continue
            word = {True: "met", False: "**missed**", None: "not measured"}[v.met]
            why = v.missing or "; ".join(f"{x.block} ({x.what})" for x in v.limits)
            if v.detail and v.missing is None:
                why = f"{why}{' — ' if why else ''}{v.detail}"
            subject = ", ".join(missing[v.missing]) if v.missing else v.subject
            L.append(f"| {subject} | {_fmt(v.value)} | {DIRECTIONS[v.direction]} "
                     f"{v.bound:g} | {word} | {why} |")
        L.append("")
    return L
