"""One run of the SparTen layer top as its testbenches take it: :class:`LayerCase`.

``sim/run_sparten.py`` prepares cases (:func:`sim.run_sparten.prepare_case`); the cocotb bench
(``tests/cocotb/cocotb_sparten_layer.py``, through the JSON of :meth:`LayerCase.to_dict`), the
native harness script, the Amaranth-simulator test and the benchmarks read them. Every field is
checked here, once, when the case is built (also when it is read back from JSON): a bad field
raises ``ValueError`` in one line naming it.
"""

import dataclasses
from dataclasses import dataclass

__all__ = ["MODES", "STRESS_MAX", "check_stress", "LayerCase"]

#: Output modes of a case: raw accumulators on ``o_acc`` or SparseMap chunks on ``o_chunk``.
MODES = ("acc", "chunk")
#: Idle / backpressure probabilities are below this (at 1 a stream would never move).
STRESS_MAX = 0.95


def check_stress(name, p):
    """``p`` is an idle or backpressure probability in ``0 <= p < STRESS_MAX``, else ValueError."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < STRESS_MAX:
        raise ValueError(f"{name} must be a probability in 0..{STRESS_MAX}, not {p!r}")


def _ints(name, v, n=None):
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise ValueError(f"LayerCase.{name} must be a list of integers, not {type(v).__name__}")
    v = tuple(v)
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, int) or x < 0:
            raise ValueError(f"LayerCase.{name}[{i}] must be a non-negative integer, not {x!r}")
    if n is not None and len(v) != n:
        raise ValueError(f"LayerCase.{name} has {len(v)} entries, need {n}")
    return v


def _count(name, v, lo=0):
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"LayerCase.{name} must be an integer >= {lo}, not {v!r}")


@dataclass(frozen=True)
class LayerCase:
    """A prepared layer run: what to load, what must come out, and how to stress the streams.

    Attributes
    ----------
    name : str
    mode : str
        One of :data:`MODES`: ``acc`` (``o_acc`` beats) or ``chunk`` (``o_chunk`` beats).
    desc : int
        The ``desc`` port value (:func:`hw.sparten.memmap.pack_desc`).
    loads : tuple of int
        ``load`` beats in order (:func:`hw.sparten.memmap.pack_loads`).
    expect : tuple of int
        The golden output beats of the ``mode`` stream.
    n_values : int
        Output values (``K*Ho*Wo``): with ``n_out`` it bounds the readout's cycles.
    cycles : int
        Compute cycles the cycle model predicts (the hardware counter must equal it).
    counters : tuple of (busy, matched, stall) per unit
        The per-unit counters the model predicts.
    cap : int
        Compute cycles after which a bench gives up (never hang).
    idle, backpressure : float
        Probability of an idle cycle before a load beat / of ``ready`` low on the output.
    chain : bool
        The activation memory is loaded from the previous case's output chunks as the RTL emitted
        them (:func:`hw.sparten.memmap.chain_loads`), before ``loads``.
    abort_after : int or None
        Fault test: run this many cycles after ``start``, then reset (no outputs are checked).
    """

    name: str
    mode: str
    desc: int
    loads: tuple
    expect: tuple
    n_values: int
    cycles: int
    counters: tuple
    cap: int
    idle: float = 0.0
    backpressure: float = 0.0
    chain: bool = False
    abort_after: int | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"LayerCase.name must be a non-empty string, not {self.name!r}")
        if self.mode not in MODES:
            raise ValueError(f"LayerCase.mode must be one of {list(MODES)}, not {self.mode!r}")
        _count("desc", self.desc)
        object.__setattr__(self, "loads", _ints("loads", self.loads))
        object.__setattr__(self, "expect", _ints("expect", self.expect))
        _count("n_values", self.n_values)
        _count("cycles", self.cycles)
        if isinstance(self.counters, (str, bytes)) or not hasattr(self.counters, "__iter__"):
            raise ValueError(f"LayerCase.counters must be a list of (busy, matched, stall), "
                             f"not {self.counters!r}")
        object.__setattr__(self, "counters", tuple(_ints(f"counters[{u}]", c, 3)
                                                   for u, c in enumerate(self.counters)))
        _count("cap", self.cap, 1)
        check_stress("LayerCase.idle", self.idle)
        check_stress("LayerCase.backpressure", self.backpressure)
        if not isinstance(self.chain, bool):
            raise ValueError(f"LayerCase.chain must be True or False, not {self.chain!r}")
        if self.abort_after is not None:
            _count("abort_after", self.abort_after)

    @property
    def n_out(self):
        """Output beats the case produces (``len(expect)``)."""
        return len(self.expect)

    @property
    def stream(self):
        """Name of the output stream port: ``o_acc`` or ``o_chunk``."""
        return f"o_{self.mode}"

    def replace(self, **changes):
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """JSON-able dict (big integers stay integers; JSON has no limit on them)."""
        d = dataclasses.asdict(self)
        d["loads"], d["expect"] = list(self.loads), list(self.expect)
        d["counters"] = [list(c) for c in self.counters]
        return d

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`; an unknown or missing key raises ValueError naming it."""
        if not isinstance(d, dict):
            raise ValueError(f"a LayerCase is read from a dict, not {type(d).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in d if k not in names]
        if unknown:
            raise ValueError(f"unknown LayerCase field {unknown[0]!r}")
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.name not in d]
        if required:
            raise ValueError(f"LayerCase field {required[0]!r} is missing")
        return cls(**d)
