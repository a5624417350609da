"""Dense MAC array of as many MACs as a SparTen cluster: the like-for-like area baseline.

A SparTen cluster has ``n_units`` compute units, each one MAC per cycle fed by the inner join of a
filter chunk and an activation chunk. This array has the same ``n_units`` MACs of the same widths,
but fed *dense* chunks: every unit walks all ``chunk`` positions of its filter chunk against the
broadcast activation chunk, one position per cycle, zeros included. It has no masks, no prefix sums
and no priority encoder, so ``area(cluster) / area(array)`` is the area price of two-sided sparsity
and the cycle ratio of the two on the same layer is what that price buys (synth/area.py combines
both into an iso-area speed-up).

The chunk registers (one activation chunk, one filter chunk per unit) are the dense counterparts of
the chunk registers inside SparTen's compute units; resident filter/activation memories are not part
of either comparison side (synth/area.py reports memories separately).
"""

import dataclasses

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.config import ConfigBase, ConfigError, check_choice, check_int, check_pow2
from ..common.innerjoin import onehot_select

__all__ = ["DenseMacConfig", "DenseMacArray"]


@dataclasses.dataclass(frozen=True)
class DenseMacConfig(ConfigBase):
    """Parameters of the dense MAC array (the field names and ranges of ``SparTenConfig``).

    Members
    -------
    n_units : int
        MACs (one per unit), 1..256.
    chunk : int
        Elements per chunk, a power of two in 8..256; the array spends ``chunk`` cycles per chunk.
    value_width : int
        Signed value width of weights and activations, 2..16.
    acc_width : int
        Signed accumulator width, ``2*value_width``..64 (wraps like a hardware register).
    select : str
        Form of the position selects ``"onehot"`` or ``"mux"``, as ``SparTenConfig.select`` (the
        compute unit's operand selects): like for like, the array uses the cluster's form.
    """

    n_units: int = 32
    chunk: int = 128
    value_width: int = 8
    acc_width: int = 32
    select: str = "mux"

    def __post_init__(self):
        check_int("n_units", self.n_units, 1, 256)
        check_pow2("chunk", self.chunk, 8, 256)
        check_int("value_width", self.value_width, 2, 16)
        check_int("acc_width", self.acc_width, 2 * self.value_width, 64)
        check_choice("select", self.select, {"mux", "onehot"})

    @classmethod
    def like(cls, config):
        """The array of equal MAC count and widths as ``config`` (e.g. a ``SparTenConfig``)."""
        optional = {"select"}               # a config without it: the indexed form
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.name not in optional and not hasattr(config, f.name)]
        if missing:
            raise ConfigError(f"{type(config).__name__} has no field(s) {missing!r} to build a "
                              f"DenseMacConfig from")
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)
                      if hasattr(config, f.name)})

    @property
    def macs(self):
        return self.n_units

    @property
    def cycles_per_chunk(self):
        """Cycles from accepting an activation chunk to being ready for the next one."""
        return self.chunk + 1


class DenseMacArray(wiring.Component):
    """``n_units`` int MACs fed dense chunks: one broadcast activation chunk, one filter chunk each.

    Stream contract (``amaranth.lib.stream``; transfer on ``valid & ready``):

    ``f`` (in)
        ``{unit, values[chunk]}``: load filter chunk ``values`` into unit ``unit``. Ready while no
        chunk is being processed.
    ``a`` (in)
        ``{values[chunk], first, last}``: one activation chunk, broadcast to every unit. ``first``
        clears the accumulators before this chunk; ``last`` emits the sums after it. Ready while
        idle and no result is waiting.
    ``o`` (out)
        ``{sums[n_units]}``: the dot products of every unit over the chunks ``first..last``
        (wrapping at ``acc_width`` bits); valid and payload hold until taken.

    Latency and throughput: an accepted activation chunk occupies the array for
    :attr:`DenseMacConfig.chunk` cycles (one position per cycle, every unit one MAC per cycle), so
    one chunk is accepted every ``chunk + 1`` cycles at best; ``o`` is valid :attr:`latency` cycles
    after the transfer of a ``last`` chunk (its products drain first, and no chunk is taken until
    the sums have left).

    Pipeline: position select, operands register (``w`` per unit, ``x`` shared) -> multiply,
    product register -> accumulate: the stages of SparTen's compute unit after its inner join
    (:attr:`hw.sparten.cu.ComputeUnit.result_latency`), so the two are clocked alike.
    """

    #: Register stages from the position counter to the accumulators (operands, products,
    #: accumulator), as in SparTen's compute unit.
    MAC_STAGES = 3

    def __init__(self, config):
        if not isinstance(config, DenseMacConfig):
            config = DenseMacConfig.like(config)
        self._cfg = cfg = config
        self._vals = vals = data.ArrayLayout(signed(cfg.value_width), cfg.chunk)
        # at least one bit, so that a single-unit array has no zero-width port field
        self._f_layout = data.StructLayout({"unit": unsigned(max(1, ceil_log2(cfg.n_units))),
                                            "values": vals})
        self._a_layout = data.StructLayout({"values": vals, "first": 1, "last": 1})
        self._o_layout = data.StructLayout({
            "sums": data.ArrayLayout(signed(cfg.acc_width), cfg.n_units)})
        super().__init__({
            "f": In(stream.Signature(self._f_layout)),
            "a": In(stream.Signature(self._a_layout)),
            "o": Out(stream.Signature(self._o_layout)),
        })

    @property
    def config(self):
        return self._cfg

    @property
    def latency(self):
        """Cycles from the transfer of a ``last`` chunk to ``o.valid``: ``chunk`` positions, then
        the :data:`MAC_STAGES` registers."""
        return self._cfg.chunk + self.MAC_STAGES

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        act = Signal(self._vals)
        last = Signal()
        busy = Signal()
        idx = Signal(range(cfg.chunk))
        # Stage 1: the position's operands, registered; the activation element is shared by every
        # unit (one mux). `start1`: the first position of a `first` chunk (restart the sums);
        # `end1`: the last position of a `last` chunk (the sums are complete after it).
        a_el = Signal(signed(cfg.value_width))
        v1, start1, end1 = Signal(), Signal(), Signal()
        first_pending = Signal()     # the chunk in flight began with `first`
        m.d.sync += [a_el.eq(self._select(act, idx)), v1.eq(busy),
                     start1.eq(busy & first_pending & (idx == 0)),
                     end1.eq(busy & last & (idx == cfg.chunk - 1))]
        # Stage 2 (in the MACs): products registered. `end2` follows `end1`; the sums are out one
        # cycle after the product of the last position is accumulated.
        v2, start2, end2 = Signal(), Signal(), Signal()
        m.d.sync += [v2.eq(v1), start2.eq(start1), end2.eq(end1)]

        out_valid = Signal()
        draining = Signal()          # a `last` chunk was taken and its sums are not out yet
        m.d.comb += [
            self.f.ready.eq(~busy),
            self.a.ready.eq(~busy & ~draining & ~out_valid),
            self.o.valid.eq(out_valid),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(v2 & end2):
            m.d.sync += [out_valid.eq(1), draining.eq(0)]

        with m.If(self.a.valid & self.a.ready):
            m.d.sync += [act.eq(self.a.payload.values), last.eq(self.a.payload.last),
                         busy.eq(1), idx.eq(0), first_pending.eq(self.a.payload.first),
                         draining.eq(self.a.payload.last)]
        with m.If(busy):
            m.d.sync += idx.eq(idx + 1)
            with m.If(idx == cfg.chunk - 1):
                m.d.sync += busy.eq(0)

        for u in range(cfg.n_units):
            mac = _Mac(cfg)
            m.submodules[f"mac{u}"] = mac
            filt = Signal(self._vals, name=f"filt{u}")
            w1 = Signal(signed(cfg.value_width), name=f"w1_{u}")
            with m.If(self.f.valid & self.f.ready & (self.f.payload.unit == u)):
                m.d.sync += filt.eq(self.f.payload.values)
            m.d.sync += w1.eq(self._select(filt, idx))
            m.d.comb += [
                mac.w.eq(w1),
                mac.x.eq(a_el),
                mac.en.eq(v2),
                mac.start.eq(start2),
                self.o.payload.sums[u].eq(mac.acc),
            ]
        return m


    def _select(self, values, idx):
        """``values[idx]`` in the configured form (:attr:`DenseMacConfig.select`)."""
        if self._cfg.select == "onehot":
            return onehot_select(list(values), idx)
        return values[idx]


class _Mac(wiring.Component):
    """``product <= w * x`` (registered), then ``acc <= (start ? 0 : acc) + product`` when ``en``;
    ``en``/``start`` are the product's (one cycle after the operands'). Its own module so area
    reports show it."""

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "w": In(signed(cfg.value_width)), "x": In(signed(cfg.value_width)),
            "en": In(1), "start": In(1), "acc": Out(signed(cfg.acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        prod = Signal(signed(2 * self._cfg.value_width))
        m.d.sync += prod.eq(self.w * self.x)
        with m.If(self.en):
            m.d.sync += self.acc.eq(Mux(self.start, 0, self.acc) + prod)
        return m
