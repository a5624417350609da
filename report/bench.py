"""Bench-side report records: the speed-up definition, the tops a bench's pairs name, and the
e2e summary.

* :func:`speedup` is the one definition of a cycle speed-up (baseline cycles over engine cycles);
  the engine benches and e2e call it, every report reads the figure they wrote.
* :func:`top` / :func:`pair` look synthesised tops up in :func:`hw.top.all_tops`, so a bench's
  :class:`~report.schema.PairSpeedup` rows name real tops and read their configs from there.
* :class:`E2eVariant` is one variant's line of ``e2e.json``'s ``summary``, which ``make bench``
  reads with :func:`read_e2e_summary`.

The area side (``area.json``'s designs) is :mod:`report.area`.
"""

import dataclasses

from .schema import PairSpeedup, ReportError, _fields_from, _need, _number, read_json

__all__ = ["speedup", "top", "pair", "E2eVariant", "read_e2e_summary"]


def speedup(baseline_cycles, cycles, what="speed-up"):
    """``baseline_cycles / cycles``: how many times fewer cycles the engine needs.

    Raises :class:`ValueError` (one line naming ``what``) unless both are positive.
    """
    if not cycles > 0 or not baseline_cycles > 0:
        raise ValueError(f"{what}: cycles must be > 0 (baseline {baseline_cycles!r}, engine "
                         f"{cycles!r})")
    return float(baseline_cycles) / float(cycles)


def top(name):
    """The registered :class:`hw.top.Top` called ``name`` (``ValueError`` naming the known ones)."""
    from hw.top import all_tops
    tops = {t.name: t for t in all_tops()}
    if name not in tops:
        raise ValueError(f"no registered top {name!r} (hw/top.py all_tops: {', '.join(tops)})")
    return tops[name]


def pair(design, baseline, value, workload, check=None):
    """A :class:`PairSpeedup` of registered top ``design`` over top ``baseline``.

    ``check(design_config, baseline_config)`` may say (a string) why the speed-up does not apply
    to the tops' configs; that is a :class:`ValueError`, so a bench never names tops its figure
    was not measured for.
    """
    d, b = top(design), top(baseline)
    why = check(d.config, b.config) if check is not None else None
    if why:
        raise ValueError(f"speed-up of {design} over {baseline}: {why}")
    return PairSpeedup(design, baseline, value, workload)


@dataclasses.dataclass(frozen=True)
class E2eVariant:
    """One network variant of ``make e2e``: accuracies, whether the RTL was bit-exact (``None``
    when no layer ran on the RTL) and the network's speed-up over the dense baselines."""
    variant: str
    classifier_mode: str
    n_images: int
    float_accuracy: float
    int8_golden_accuracy: float
    rtl_accuracy: float = None
    bit_exact: bool = None
    speedup_vs_dense: float = None

    def __post_init__(self):
        for name in ("float_accuracy", "int8_golden_accuracy"):
            _number(getattr(self, name), f"e2e variant {self.variant} {name}")
        for name in ("rtl_accuracy", "speedup_vs_dense"):
            if getattr(self, name) is not None:
                _number(getattr(self, name), f"e2e variant {self.variant} {name}")
        if self.bit_exact not in (True, False, None):
            raise ReportError(f"e2e variant {self.variant}: bit_exact must be a bool or None")

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc, where="e2e variant"):
        return _fields_from(cls, doc, where)


def read_e2e_summary(path):
    """The :class:`E2eVariant` rows of ``e2e.json`` (its ``summary`` list)."""
    doc = read_json(path)
    return [E2eVariant.from_json(r, f"{path} summary {i}")
            for i, r in enumerate(_need(doc, "summary", str(path)))]
