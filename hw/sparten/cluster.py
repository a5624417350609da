"""SparTen cluster: N compute units sharing one broadcast stream of activation chunks.

Each unit keeps its filters resident in its own filter bank (a memory of SparseMap chunks, loaded
through ``w_wr`` before a layer runs). A chunk entering the cluster names the bank address of the
matching filter chunk (``w_addr``, the same for every unit: tap and channel chunk of the current
round); the cluster's input stage reads all banks in parallel while it holds the activation chunk,
then hands every unit its pair at once. The next chunk is taken only when every unit can take it:
the implicit barrier that makes a chunk cost as long as its slowest unit (SparTen's load imbalance).

With that barrier (``unit_fifo_depth`` = 0) every unit works on the same activation chunk from the
same cycle on, so the cluster holds that chunk once (``held``, loaded when the units take a chunk)
and every unit reads its mask and values by wire (``ComputeUnit(shared_act=True)``), as the dense
MAC array holds one activation chunk for all its MACs. With per-unit queues the units run apart and
keep their own copies. See docs/sparten_area.md.
"""

from amaranth import Module, Signal
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.bits import Popcount
from ..common.innerjoin import GroupPrefix, group_counts_layout, group_of, group_prefix_layout
from ..common.shared import SharedModule
from .cu import ComputeUnit, chunk_word, counter_layout, out_addr_width, result_layout

__all__ = ["cluster_input_layout", "weight_write_layout", "Cluster"]


def w_addr_width(config):
    return max(1, ceil_log2(config.weight_depth))


def cluster_input_layout(config):
    """A broadcast chunk: activation chunk, filter bank address, framing and result address."""
    return data.StructLayout({
        "act": chunk_word(config),
        "w_addr": w_addr_width(config),
        "first": 1,
        "last": 1,
        "out_addr": out_addr_width(config),
    })


def weight_write_layout(config):
    """A write into unit ``unit``'s filter bank (``en`` qualifies it)."""
    return data.StructLayout({
        "en": 1,
        "unit": max(1, ceil_log2(config.n_units)),
        "addr": w_addr_width(config),
        "data": chunk_word(config),
    })


class Cluster(wiring.Component):
    """``n_units`` compute units behind one broadcast input with a barrier.

    Parameters
    ----------
    config : SparTenConfig
    unit_module : str or None
        ``None`` (simulation, default): every unit is its own ``ComputeUnit`` submodule. A Verilog
        module name (``".cu"``: ``<top>.cu``): the units are instances of one shared module
        of that name (:class:`hw.common.shared.SharedModule`), written once into the Verilog, so
        that a paper-sized cluster elaborates and synthesises its unit once, not ``n_units`` times.
        Same ports and behaviour; for synthesis (Amaranth's simulator cannot run it).
    shared_act : bool or None
        Hold the units' current activation chunk once in the cluster (``True``) or in every unit
        (``False``). ``None`` (default): shared exactly when ``config.unit_fifo_depth`` is 0, the
        only case it is allowed. Same results and cycles either way.

    Members
    -------
    i : In(stream.Signature(cluster_input_layout(config)))
        Broadcast chunks, framed per output position by ``first``/``last``.
    w_wr : In(weight_write_layout(config))
        Load port of the filter banks (use only while the cluster is idle).
    res : Out(ArrayLayout(result_layout(config), n_units))
        Per unit, the write strobe of its finished dot products (never stalls).
    count : Out(ArrayLayout(counter_layout(), n_units))
        Per-unit counters (busy, matched, stall), cleared by ``clear``.
    clear : In(1)
    idle : Out(1)
        No chunk anywhere in the cluster.

    Timing
    ------
    Optional input FIFO (``fifo_depth`` >= 2; latency one cycle, one chunk per cycle), then the input
    stage (one cycle: filter bank read), then the units. Chunk ``t`` occupies the cluster for
    ``max_u max(1, ceil(m[u,t] / M))`` cycles and chunks follow without bubbles while ``i`` supplies
    them. ``i.ready`` does not depend on ``i.valid``.
    """

    def __init__(self, config, unit_module=None, shared_act=None):
        if shared_act is None:
            shared_act = config.unit_fifo_depth == 0
        if shared_act and config.unit_fifo_depth:
            self._MustUse__silence = True       # never built: no "created but never used"
            raise ValueError(f"shared_act needs unit_fifo_depth 0 (units that take every chunk "
                             f"together), not {config.unit_fifo_depth!r}")
        self._cfg = config
        self._shared_act = bool(shared_act)
        self._shared = None
        if unit_module is not None:
            self._shared = SharedModule(unit_module,
                                        lambda: ComputeUnit(config, shared_act=self._shared_act))
        n = config.n_units
        super().__init__({
            "i": In(stream.Signature(cluster_input_layout(config))),
            "w_wr": In(weight_write_layout(config)),
            "res": Out(data.ArrayLayout(result_layout(config), n)),
            "count": Out(data.ArrayLayout(counter_layout(), n)),
            "clear": In(1),
            "idle": Out(1),
        })

    #: Cycles of the optional input FIFO (``fifo_depth`` > 0), and of the input stage.
    FIFO_LATENCY = 1
    INPUT_LATENCY = 1

    #: Cycles from the units taking a one-beat last chunk to the last unit's ``res`` (and so to
    #: ``idle`` one cycle later): :attr:`ComputeUnit.latency`.
    drain = ComputeUnit.latency

    @classmethod
    def latency_of(cls, config):
        """:attr:`latency` of the cluster of ``config`` (without building one)."""
        return cls.INPUT_LATENCY + (cls.FIFO_LATENCY if config.fifo_depth else 0)

    @property
    def shared_act(self):
        """The units' current activation chunk is held once, in the cluster."""
        return self._shared_act

    @property
    def latency(self):
        """Cycles from an input transfer to the units taking the chunk."""
        return self.latency_of(self._cfg)

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        n = cfg.n_units
        lay = cluster_input_layout(cfg)

        src_valid, src_payload, src_ready, fifo_empty = self._source(m, lay)
        units = []
        for u in range(n):
            cu = (ComputeUnit(cfg, shared_act=self._shared_act) if self._shared is None
                  else self._shared.instance())
            m.submodules[f"cu{u}"] = cu
            units.append(cu)

        # Input stage: holds the activation chunk while the banks are read.
        sv = Signal()
        s = Signal(lay)
        all_ready = Signal()
        any_busy = Signal()
        m.d.comb += [
            all_ready.eq(_all([cu.i.ready for cu in units])),
            any_busy.eq(_any([cu.busy for cu in units])),
        ]
        adv = Signal()
        m.d.comb += [adv.eq(~sv | all_ready), src_ready.eq(adv)]
        with m.If(adv):
            m.d.sync += [sv.eq(src_valid), s.eq(src_payload)]
        if self._shared_act:
            counts = self._group_counts(m, src_payload.act.mask, adv)
        take = Signal()
        m.d.comb += take.eq(sv & all_ready)
        if self._shared_act:
            self._hold_shared(m, units, s.act, counts, take)

        for u, cu in enumerate(units):
            bank = memory.Memory(shape=chunk_word(cfg), depth=cfg.weight_depth, init=[])
            m.submodules[f"wbank{u}"] = bank
            wp = bank.write_port()
            rp = bank.read_port()
            m.d.comb += [
                wp.en.eq(self.w_wr.en & (self.w_wr.unit == u)),
                wp.addr.eq(self.w_wr.addr),
                wp.data.eq(self.w_wr.data),
                rp.en.eq(adv),
                rp.addr.eq(src_payload.w_addr),
                cu.i.valid.eq(take),
                cu.i.payload.act.eq(s.act),
                cu.i.payload.wgt.eq(rp.data),
                cu.i.payload.first.eq(s.first),
                cu.i.payload.last.eq(s.last),
                cu.i.payload.out_addr.eq(s.out_addr),
                cu.others_busy.eq(any_busy),
                cu.clear.eq(self.clear),
                self.res[u].eq(cu.res),
                self.count[u].eq(cu.count),
            ]
        m.d.comb += self.idle.eq(fifo_empty & ~sv & _all([cu.idle for cu in units]))
        return m

    def _source(self, m, lay):
        """``(valid, payload, ready, empty)`` of the input: ``i`` itself, or the optional
        decoupling FIFO's read side (``empty`` is 1 without one)."""
        cfg = self._cfg
        if not cfg.fifo_depth:
            return self.i.valid, self.i.payload, self.i.ready, 1
        m.submodules.fifo = q = fifo.SyncFIFO(width=lay.size, depth=cfg.fifo_depth)
        m.d.comb += [
            q.w_stream.valid.eq(self.i.valid),
            q.w_stream.payload.eq(self.i.payload),
            self.i.ready.eq(q.w_stream.ready),
        ]
        return q.r_stream.valid, lay(q.r_stream.payload), q.r_stream.ready, ~q.r_stream.valid

    def _hold_shared(self, m, units, act, counts, take):
        """The chunk every unit is working on, loaded exactly when they all take one, and with
        it the exclusive prefix popcounts of its mask at each group boundary (the joins'
        activation offsets below the match's group), summed from the group popcounts ``counts``
        that the input stage registered with the chunk; every unit reads both by wire."""
        cfg = self._cfg
        held = Signal(chunk_word(cfg))
        m.submodules.prefix_a = prefix = GroupPrefix(cfg.chunk)
        held_prefix = Signal(group_prefix_layout(cfg.chunk))
        m.d.comb += prefix.counts.eq(counts)
        with m.If(take):
            m.d.sync += [held.eq(act), held_prefix.eq(prefix.prefix)]
        for cu in units:
            m.d.comb += [cu.act_held.eq(held), cu.prefix_a_held.eq(held_prefix)]

    def _group_counts(self, m, mask, adv):
        """The group popcounts of the chunk entering the input stage, registered with it."""
        counts = Signal(group_counts_layout(self._cfg.chunk))
        with m.If(adv):
            m.d.sync += [counts[k].eq(c)
                         for k, c in enumerate(_group_counts_of(m, mask, self._cfg.chunk))]
        return counts


def _group_counts_of(m, mask, chunk):
    """The popcounts of ``mask``'s join groups, one named ``Popcount`` (``prefix_a<k>``) each."""
    g = group_of(chunk)
    out = []
    for k in range(chunk // g):
        m.submodules[f"prefix_a{k}"] = pc = Popcount(g)
        m.d.comb += pc.i.eq(mask[k * g:(k + 1) * g])
        out.append(pc.o)
    return out


def _tree(bits, op):
    """``bits`` combined by ``op`` as a balanced tree (log depth: a linear chain over 32 units was
    the paper-sized cluster's critical path, the units' busy flags into the stall counters)."""
    bits = list(bits)
    while len(bits) > 1:
        bits = [op(bits[k], bits[k + 1]) if k + 1 < len(bits) else bits[k]
                for k in range(0, len(bits), 2)]
    return bits[0]


def _all(bits):
    """AND of a list of 1-bit values."""
    return _tree(bits, lambda a, b: a & b)


def _any(bits):
    """OR of a list of 1-bit values."""
    return _tree(bits, lambda a, b: a | b)
