"""One run of the SparTen layer top as its testbenches take it: :class:`LayerCase`.

:func:`prepare_case` checks a layer and packs it into a case (with the golden result and the cycle
model beside it), :func:`decode_case` turns the RTL's output beats back into arrays and stats;
``sim/run_sparten.py`` runs cases (and re-exports both functions); the cocotb bench
(``tests/cocotb/cocotb_sparten_layer.py``, through the JSON of :meth:`LayerCase.to_dict`), the
native harness script, the Amaranth-simulator test and the benchmarks read them. Every field is
checked here, once, when the case is built (also when it is read back from JSON): a bad field
raises ``ValueError`` in one line naming it.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from golden.conv import conv2d_dense, relu as golden_relu
from golden.quant import requantize
from golden.sparsemap import SparseMap, check_int_array
from golden.sparten_model import layer_cycles
from golden.sparten_plan import tile_perm
from hw.common.pack import field_range, pack_fields, unpack_fields
from hw.sparten.config import SMALL
from hw.sparten.layer import SparTenLayer
from hw.sparten.layer_layouts import TARGET_ACT, descriptor_layout
from hw.sparten.memmap import (chunk_rows, pack_chunks, pack_desc, pack_loads, plan_layer,
                               unpack_chunks)
from hw.sparten.output import acc_layout
from hw.sparten.output import chunk_layout as out_chunk_layout

from .flow import check_stall

__all__ = ["MODES", "LayerCase", "check_requant", "layer_arrays",
           "prepare_case", "decode_case"]

#: Output modes of a case: raw accumulators on ``o_acc`` or SparseMap chunks on ``o_chunk``.
MODES = ("acc", "chunk")


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
        check_stall("LayerCase.idle", self.idle)
        check_stall("LayerCase.backpressure", self.backpressure)
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


# -- making and reading cases ------------------------------------------------------------------


def _perm(w, config, balance):
    # the planner's function: a tile runs with the slot table its cycles were modelled with
    return tile_perm(w, config, balance)


def check_requant(requant):
    if requant is None:
        return None
    try:
        mult, shift = (int(x) for x in requant)
    except (TypeError, ValueError):
        raise ValueError(f"requant must be (multiplier, shift), not {requant!r}") from None
    lay = descriptor_layout(SMALL)        # the two fields' widths do not depend on the config
    m_hi, s_hi = (field_range(lay[k].shape)[1] for k in ("multiplier", "shift"))
    if not 1 <= mult <= m_hi or not 0 <= shift <= s_hi:
        raise ValueError(f"requant multiplier must be in 1..{m_hi} and shift in 0..{s_hi}, "
                         f"not {requant!r}")
    return mult, shift


def layer_arrays(config, w, a):
    """``(w, a)`` as checked integer arrays of ``config.value_width`` bits (a SparseMap ``a`` of the
    engine's chunk decoded); ValueError/TypeError naming what is wrong."""
    if isinstance(a, SparseMap):
        if a.chunk != config.chunk:
            raise ValueError(f"activation SparseMap has chunk={a.chunk}, the engine {config.chunk}")
        a = a.decode()
    return (check_int_array(w, bits=config.value_width, name="weights"),
            check_int_array(a, bits=config.value_width, name="activations"))


def prepare_case(config, w, a, stride=1, padding=0, relu=False, balance="none", requant=None,
                 name="layer", idle=0.0, backpressure=0.0, chain=False, model=None):
    """Check and pack one layer for the cocotb bench.

    Returns ``(case, info)``: ``case`` is the :class:`sim.sparten_case.LayerCase` the benches run;
    ``info`` holds the
    golden result (``golden``: int64 ``[K,Ho,Wo]``; with requant the int8 values), the golden
    output chunk words (``chunks``, sparse mode), the model dict and the slot table. Bad data
    raises ``ValueError``/``TypeError`` before any hardware runs. ``model``: the cycle model's
    dict of this very layer when the caller has it already (the planner computes it per tile).
    """
    check_stall("idle", idle)
    check_stall("backpressure", backpressure)
    requant = check_requant(requant)
    w, a = layer_arrays(config, w, a)
    if w.ndim != 4 or a.ndim != 3:
        raise ValueError(f"need weights [K,C,R,S] and activations [C,H,W], got shapes {w.shape} "
                         f"and {a.shape}")
    perm = _perm(w, config, balance)
    mult, shift = requant if requant else (1, 0)
    plan = plan_layer(w, a, config, stride, padding, perm, relu=relu,
                      sparse_out=requant is not None, multiplier=mult, shift=shift)
    acc = conv2d_dense(a, w, stride, padding, acc_bits=config.acc_width)
    if model is None:
        model = layer_cycles(w, a, config, stride, padding, perm=plan.table,
                             pipeline=SparTenLayer.latency_of(config))
    K, Ho, Wo = plan.out_shape
    info = {"model": model, "table": plan.table, "out_shape": plan.out_shape}
    if requant is None:
        gold = golden_relu(acc) if relu else acc
        flat = gold.transpose(1, 2, 0).reshape(-1)
        last = np.arange(len(flat)) % K == K - 1
        expect = pack_fields(acc_layout(config), len(flat),
                             lambda path: flat if path == ("acc",) else last, check=True,
                             what="golden accumulator")
        mode = "acc"
    else:
        x = golden_relu(acc) if relu else acc
        gold = requantize(x, mult, shift, out_bits=config.value_width, acc_bits=config.acc_width)
        rows = chunk_rows(gold.transpose(1, 2, 0).reshape(Ho * Wo, K), config)
        nc = -(-K // config.chunk)
        expect = pack_chunks(rows, config, last=np.arange(len(rows)) % nc == nc - 1)
        info["chunks"] = pack_chunks(rows, config)
        mode = "chunk"
    info["golden"] = gold
    loads = plan.loads
    if chain:
        loads = [ld for ld in loads if ld[0] != TARGET_ACT]
    case = LayerCase(
        name=name, mode=mode, desc=pack_desc(config, plan.desc), loads=pack_loads(config, loads),
        expect=expect, n_values=K * Ho * Wo, cycles=int(model["cycles"]),
        counters=[[int(x) for x in t] for t in zip(model["unit_busy"], model["unit_matched"],
                                                   model["unit_stall"])],
        cap=2 * int(model["cycles"]) + 1000, idle=idle, backpressure=backpressure,
        chain=bool(chain))
    return case, info


def decode_case(case, info, res, config):
    """RTL output beats -> array (raw) or value array (sparse), and the stats dict."""
    K, Ho, Wo = info["out_shape"]
    model = info["model"]
    if case.mode == "acc":
        vals = unpack_fields(acc_layout(config), res["out"])[("acc",)]
        out = vals.reshape(Ho, Wo, K).transpose(2, 0, 1)
    else:
        rows, _ = unpack_chunks(res["out"], config, out_chunk_layout(config))
        nc = -(-K // config.chunk)
        out = rows.reshape(Ho * Wo, nc * config.chunk)[:, :K].reshape(Ho, Wo, K).transpose(2, 0, 1)
    matched = sum(c[1] for c in res["counters"])
    n, mpc = config.n_units, config.matches_per_cycle
    stats = {
        "config": config.to_dict(),
        "shape": {"K": K, "Ho": Ho, "Wo": Wo},
        "cycles": int(res["cycles"]),
        "model_cycles": int(model["cycles"]),
        "dense_cycles": int(model["dense_cycles"]),
        "onesided_cycles": int(model["onesided_cycles"]),
        "matched_macs": int(matched),
        "utilization": matched / (res["cycles"] * n * mpc) if res["cycles"] else 0.0,
        "speedup_vs_dense": model["dense_cycles"] / res["cycles"] if res["cycles"] else 0.0,
        "speedup_vs_onesided": model["onesided_cycles"] / res["cycles"] if res["cycles"] else 0.0,
        "unit_counters": res["counters"],
        "bit_exact": tuple(res["out"]) == case.expect and np.array_equal(out, info["golden"]),
        "cycle_exact": int(res["cycles"]) == int(model["cycles"]),
    }
    return out, stats
