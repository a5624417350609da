"""SparTen layer top: on-chip memories, convolution sequencer, cluster, output readout and output path.

Phases of one layer run (see :class:`SparTenLayer`):

1. **Load** (before ``start``): the testbench writes the activation memory (SparseMap chunks,
   address ``(y*W + x)*nc + j``), each unit's filter bank (address ``round*R*S*nc + (r*S+s)*nc + j``,
   filled with the filter of slot ``round*n_units + u`` or zeros for an idle slot) and, with
   ``permute``, the channel table (channel ``k`` -> its unit and ``round*Ho*Wo``). Images are built by
   :mod:`hw.sparten.memmap`; the layer itself is described by the ``desc`` port.
2. **Compute** (``start`` pulse): the sequencer walks rounds x output positions x taps (r, s) x channel
   chunks j, one chunk per cycle into the memory stage (activation read; a tap in the zero padding
   reads as an all-zero chunk), then into the cluster. Each unit writes its dot product into its
   output bank at ``round*Ho*Wo + p``. The hardware ``cycles`` counter counts every cycle from
   ``start`` to the end of this phase; golden/sparten_model.py predicts it exactly.
3. **Readout**: results leave in output-channel order per position (``p`` major, ``k`` minor): the
   channel table undoes the filter permutation (un-permute: channel ``k`` is read where its slot
   wrote it). With ``desc.sparse_out`` they pass the output path (requantise, ReLU, SparseMap
   encoder of :mod:`hw.sparten.output`) and leave on ``o_chunk`` as the next layer's activation
   chunks, in exactly the order of the activation memory; otherwise raw accumulators (optionally
   ReLU'd) leave on ``o_acc``. ``done`` rises when the last value has left.
"""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .cluster import Cluster, w_addr_width
from .cu import COUNTER_WIDTH, chunk_word, counter_layout, out_addr_width
from .output import MULTIPLIER_WIDTH, SHIFT_WIDTH, OutputPath, acc_layout
from .output import chunk_layout as out_chunk_layout

__all__ = ["descriptor_layout", "load_layout", "SparTenLayer", "TARGET_ACT", "TARGET_WEIGHT",
           "TARGET_TABLE"]

TARGET_ACT, TARGET_WEIGHT, TARGET_TABLE = 0, 1, 2


def _w(n):
    """Width of a counter 0..n."""
    return max(1, ceil_log2(n + 1))


def act_addr_width(config):
    return max(1, ceil_log2(config.act_depth))


def max_chunks(config):
    return -(-config.max_channels // config.chunk)


def max_rounds(config):
    return -(-config.max_channels // config.n_units)


def descriptor_layout(config):
    """The per-layer descriptor (held constant from ``start`` to ``done``).

    Derived fields (``w_round``, ``step_x``...) are precomputed by :func:`hw.sparten.memmap.descriptor`
    so the sequencer needs adders only.
    """
    aw = act_addr_width(config) + 2
    return data.StructLayout({
        "H": _w(config.max_size), "W": _w(config.max_size),
        "Ho": _w(config.max_size), "Wo": _w(config.max_size),
        "R": _w(config.max_kernel), "S": _w(config.max_kernel),
        "stride": _w(config.max_stride), "pad": _w(config.max_kernel),
        "nc": _w(max_chunks(config)),                  # channel chunks per vector
        "K": _w(config.max_channels),
        "rounds": _w(max_rounds(config)),
        "P": _w(config.out_depth),                     # Ho*Wo
        "w_round": _w(config.weight_depth),            # R*S*nc
        "step_x": aw, "step_y": aw, "tap_y": aw,       # stride*nc, stride*W*nc, W*nc
        "base0": signed(aw + 1),                       # -(pad*W + pad)*nc
        "sparse_out": 1, "relu": 1,
        "multiplier": unsigned(MULTIPLIER_WIDTH), "shift": unsigned(SHIFT_WIDTH),
    })


def table_layout(config):
    """Channel table entry: the unit holding channel k and ``round*P`` (its output bank base)."""
    return data.StructLayout({"unit": max(1, ceil_log2(config.n_units)),
                              "base": out_addr_width(config)})


def load_layout(config):
    """A load beat: ``target`` (0 activations, 1 filter bank ``unit``, 2 channel table), address,
    data (a chunk word; for the table the low bits hold a :func:`table_layout` entry)."""
    aw = max(act_addr_width(config), w_addr_width(config), _w(config.max_channels))
    return data.StructLayout({"target": 2, "unit": max(1, ceil_log2(config.n_units)),
                              "addr": aw, "data": chunk_word(config)})


class SparTenLayer(wiring.Component):
    """One SparTen cluster with its memories and sequencer: runs a whole conv / FC layer.

    Parameters
    ----------
    config : SparTenConfig
    unit_module : str or None
        Passed to :class:`hw.sparten.cluster.Cluster`: ``None`` (default) gives every unit its own
        submodule (what Amaranth's simulator and the cocotb tests use); a module name (``".cu"``)
        makes the units instances of one shared Verilog module, so that a paper-sized layer top
        (32 units, chunk 128) converts in about a minute instead of many (Verilator simulates it).

    Members
    -------
    desc : In(descriptor_layout(config))
    start : In(1)
        Pulse (while idle) to run the layer described by ``desc`` on the loaded memories.
    load : In(stream.Signature(load_layout(config)))
        Memory writes; ready while idle (one write per cycle).
    o_acc : Out(stream.Signature(acc_layout(config)))
        Raw mode: accumulators per position in channel order, ``last`` on channel K-1.
    o_chunk : Out(stream.Signature(output.chunk_layout(config)))
        Sparse mode: output SparseMap chunks in activation-memory order of the next layer.
    busy : Out(1)
        A layer is running (compute or readout).
    done : Out(1)
        The last run finished: set when the last result has left the readout (in sparse mode the
        output path may still hold its final chunk for :attr:`OutputPath.latency` cycles); cleared
        by ``start``.
    cycles : Out(32)
        Cycles of the compute phase of the last run (see the module docstring).
    ctr_sel : In(range(n_units))
    ctr : Out(counter_layout())
        Counters (busy, matched, stall) of unit ``ctr_sel``.
    """

    #: Cycles before the cluster's input: the sequencer's address register, the memory stage.
    FEED_LATENCY = 2

    def __init__(self, config, unit_module=None):
        self._cfg = config
        self._unit_module = unit_module
        super().__init__({
            "desc": In(descriptor_layout(config)),
            "start": In(1),
            "load": In(stream.Signature(load_layout(config))),
            "o_acc": Out(stream.Signature(acc_layout(config))),
            "o_chunk": Out(stream.Signature(out_chunk_layout(config))),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(COUNTER_WIDTH),
            "ctr_sel": In(range(max(2, config.n_units))),
            "ctr": Out(counter_layout()),
        })

    @classmethod
    def latency_of(cls, config):
        """:attr:`latency` of the layer top of ``config`` (without building one)."""
        return cls.FEED_LATENCY + Cluster.latency_of(config) + Cluster.drain

    @property
    def latency(self):
        """Cycles ``cycles`` counts beyond the sum of chunk costs (fill and drain): the feed
        (:data:`FEED_LATENCY`), the cluster's input (:attr:`Cluster.latency`) and its drain to the
        last result (:attr:`Cluster.drain`); the cycle in which the control sees the cluster idle
        makes up for the last chunk's first beat being inside its cost. golden/sparten_model.py's
        ``layer_cycles`` takes it as ``pipeline`` (callers use :meth:`latency_of`)."""
        return self.latency_of(self._cfg)

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        n = cfg.n_units
        d = self.desc
        m.submodules.cluster = cl = Cluster(cfg, unit_module=self._unit_module)

        # ------------------------------------------------------------------ memories
        act = memory.Memory(shape=chunk_word(cfg), depth=cfg.act_depth, init=[])
        m.submodules.act = act
        act_wp, act_rp = act.write_port(), act.read_port()
        banks = []
        for u in range(n):
            ob = memory.Memory(shape=signed(cfg.acc_width), depth=cfg.out_depth, init=[])
            m.submodules[f"obank{u}"] = ob
            banks.append((ob.write_port(), ob.read_port()))
        if cfg.permute:
            tab = memory.Memory(shape=table_layout(cfg), depth=cfg.max_channels, init=[])
            m.submodules.table = tab
            tab_wp, tab_rp = tab.write_port(), tab.read_port()

        # ------------------------------------------------------------------ phases
        IDLE, COMPUTE, READ = range(3)
        phase = Signal(range(3))
        m.d.comb += self.busy.eq(phase != IDLE)

        # Load port.
        ld = self.load.payload
        m.d.comb += self.load.ready.eq(phase == IDLE)
        wr = self.load.valid & self.load.ready
        m.d.comb += [
            act_wp.en.eq(wr & (ld.target == TARGET_ACT)),
            act_wp.addr.eq(ld.addr),
            act_wp.data.eq(ld.data),
            cl.w_wr.en.eq(wr & (ld.target == TARGET_WEIGHT)),
            cl.w_wr.unit.eq(ld.unit),
            cl.w_wr.addr.eq(ld.addr),
            cl.w_wr.data.eq(ld.data),
        ]
        if cfg.permute:
            m.d.comb += [tab_wp.en.eq(wr & (ld.target == TARGET_TABLE)), tab_wp.addr.eq(ld.addr),
                         tab_wp.data.eq(ld.data.as_value()[:len(tab_wp.data.as_value())])]

        # ------------------------------------------------------------------ sequencer
        aw = act_addr_width(cfg) + 3
        j = Signal(_w(max_chunks(cfg)))
        r = Signal(_w(cfg.max_kernel))
        s = Signal(_w(cfg.max_kernel))
        ox = Signal(_w(cfg.max_size))
        oy = Signal(_w(cfg.max_size))
        rnd = Signal(_w(max_rounds(cfg)))
        iy0 = Signal(signed(_w(cfg.max_size * cfg.max_stride) + 2))
        ix0 = Signal(signed(_w(cfg.max_size * cfg.max_stride) + 2))
        row_base = Signal(signed(aw))
        pos_base = Signal(signed(aw))
        tap_row = Signal(signed(aw))
        tap_col = Signal(signed(aw))
        w_base = Signal(w_addr_width(cfg) + 1)
        w_off = Signal(w_addr_width(cfg) + 1)
        out_cnt = Signal(out_addr_width(cfg) + 1)
        seq_valid = Signal()

        iy = iy0 + r
        ix = ix0 + s
        inside = (iy >= 0) & (iy < d.H) & (ix >= 0) & (ix < d.W)
        a_addr = pos_base + tap_row + tap_col + j
        last_j = j == d.nc - 1
        last_s = s == d.S - 1
        last_r = r == d.R - 1
        first_chunk = (j == 0) & (s == 0) & (r == 0)
        last_chunk = last_j & last_s & last_r

        # Memory stage: activation read (one cycle), registered framing.
        mv = Signal()
        m_zero = Signal()
        m_w_addr = Signal(w_addr_width(cfg))
        m_first = Signal()
        m_last = Signal()
        m_out = Signal(out_addr_width(cfg))
        adv_m = Signal()
        m.d.comb += adv_m.eq(~mv | cl.i.ready)
        m.d.comb += [act_rp.en.eq(adv_m), act_rp.addr.eq(a_addr)]
        with m.If(adv_m):
            m.d.sync += [mv.eq(seq_valid), m_zero.eq(~inside), m_w_addr.eq(w_base + w_off),
                         m_first.eq(first_chunk), m_last.eq(last_chunk), m_out.eq(out_cnt)]
        m.d.comb += [
            cl.i.valid.eq(mv),
            cl.i.payload.act.mask.eq(Mux(m_zero, 0, act_rp.data.mask)),
            cl.i.payload.act.values.eq(act_rp.data.values),
            cl.i.payload.w_addr.eq(m_w_addr),
            cl.i.payload.first.eq(m_first),
            cl.i.payload.last.eq(m_last),
            cl.i.payload.out_addr.eq(m_out),
        ]

        step = seq_valid & adv_m
        with m.If(step):
            m.d.sync += [j.eq(j + 1), w_off.eq(w_off + 1)]
            with m.If(last_j):
                m.d.sync += [j.eq(0), s.eq(s + 1), tap_col.eq(tap_col + d.nc)]
                with m.If(last_s):
                    m.d.sync += [s.eq(0), tap_col.eq(0), r.eq(r + 1), tap_row.eq(tap_row + d.tap_y)]
                    with m.If(last_r):
                        # Output position done.
                        m.d.sync += [r.eq(0), tap_row.eq(0), w_off.eq(0), out_cnt.eq(out_cnt + 1),
                                     ox.eq(ox + 1), ix0.eq(ix0 + d.stride),
                                     pos_base.eq(pos_base + d.step_x)]
                        with m.If(ox == d.Wo - 1):
                            m.d.sync += [ox.eq(0), ix0.eq(-d.pad), oy.eq(oy + 1),
                                         iy0.eq(iy0 + d.stride), row_base.eq(row_base + d.step_y),
                                         pos_base.eq(row_base + d.step_y)]
                            with m.If(oy == d.Ho - 1):
                                m.d.sync += [oy.eq(0), iy0.eq(-d.pad), row_base.eq(d.base0),
                                             pos_base.eq(d.base0), rnd.eq(rnd + 1),
                                             w_base.eq(w_base + d.w_round)]
                                with m.If(rnd == d.rounds - 1):
                                    m.d.sync += seq_valid.eq(0)

        # ------------------------------------------------------------------ output banks
        for u, (wp, _) in enumerate(banks):
            m.d.comb += [wp.en.eq(cl.res[u].valid), wp.addr.eq(cl.res[u].addr),
                         wp.data.eq(cl.res[u].value)]

        # ------------------------------------------------------------------ readout
        # Stage 1: channel table (or counters) -> unit and bank base; stage 2: bank read.
        rp_p = Signal(out_addr_width(cfg) + 1)
        rk = Signal(_w(cfg.max_channels))
        gen = Signal()                  # readout generator has values left
        v1 = Signal()
        p1 = Signal.like(rp_p)
        last1 = Signal()
        end1 = Signal()
        v2 = Signal()
        unit2 = Signal(max(1, ceil_log2(n)))
        last2 = Signal()
        end2 = Signal()
        o_ready = Signal()
        adv2 = Signal()
        adv1 = Signal()
        m.d.comb += [adv2.eq(~v2 | o_ready), adv1.eq(~v1 | adv2)]
        if cfg.permute:
            unit1 = tab_rp.data.unit
            base1 = tab_rp.data.base
            m.d.comb += [tab_rp.en.eq(adv1), tab_rp.addr.eq(rk)]
        else:
            cnt_unit = Signal(max(1, ceil_log2(n)))
            cnt_base = Signal(out_addr_width(cfg) + 1)
            unit1 = Signal.like(cnt_unit)
            base1 = Signal.like(cnt_base)
            with m.If(adv1):
                m.d.sync += [unit1.eq(cnt_unit), base1.eq(cnt_base)]
        gen_step = gen & adv1
        with m.If(adv1):
            m.d.sync += [v1.eq(gen), p1.eq(rp_p), last1.eq(rk == d.K - 1),
                         end1.eq((rk == d.K - 1) & (rp_p == d.P - 1))]
        with m.If(gen_step):
            m.d.sync += rk.eq(rk + 1)
            if not cfg.permute:
                m.d.sync += cnt_unit.eq(cnt_unit + 1)
                with m.If(cnt_unit == n - 1):
                    m.d.sync += [cnt_unit.eq(0), cnt_base.eq(cnt_base + d.P)]
            with m.If(rk == d.K - 1):
                m.d.sync += [rk.eq(0), rp_p.eq(rp_p + 1)]
                if not cfg.permute:
                    m.d.sync += [cnt_unit.eq(0), cnt_base.eq(0)]
                with m.If(rp_p == d.P - 1):
                    m.d.sync += gen.eq(0)
        for u, (_, rp) in enumerate(banks):
            m.d.comb += [rp.en.eq(adv2), rp.addr.eq(base1 + p1)]
        with m.If(adv2):
            m.d.sync += [v2.eq(v1), unit2.eq(unit1), last2.eq(last1), end2.eq(end1)]
        # The readout select: the result of slot (round, unit) comes from unit `unit2`'s bank.
        # With `permute`, `unit2`/`base` come from the channel table, so this select and the
        # table are the permutation network that undoes GB-H's filter order (its own submodule,
        # `unperm`, so that area reports show it).
        m.submodules.unperm = unperm = _BankSelect(cfg)
        value2 = Signal(signed(cfg.acc_width))
        m.d.comb += [unperm.sel.eq(unit2), value2.eq(unperm.o)]
        for u, (_, rp) in enumerate(banks):
            m.d.comb += unperm.i[u].eq(rp.data)

        m.submodules.outpath = op = OutputPath(cfg)
        m.d.comb += [op.multiplier.eq(d.multiplier), op.shift.eq(d.shift), op.relu.eq(d.relu)]
        wiring.connect(m, op.o, wiring.flipped(self.o_chunk))
        with m.If(d.sparse_out):
            m.d.comb += [op.i.valid.eq(v2), op.i.payload.acc.eq(value2),
                         op.i.payload.last.eq(last2), o_ready.eq(op.i.ready)]
        with m.Else():
            m.d.comb += [self.o_acc.valid.eq(v2),
                         self.o_acc.payload.acc.eq(Mux(d.relu & (value2 < 0), 0, value2)),
                         self.o_acc.payload.last.eq(last2), o_ready.eq(self.o_acc.ready)]
        out_fire = v2 & o_ready

        # ------------------------------------------------------------------ control
        m.d.comb += cl.clear.eq(0)
        with m.Switch(phase):
            with m.Case(IDLE):
                with m.If(self.start):
                    m.d.sync += [
                        phase.eq(COMPUTE), self.done.eq(0), self.cycles.eq(0), seq_valid.eq(1),
                        j.eq(0), r.eq(0), s.eq(0), ox.eq(0), oy.eq(0), rnd.eq(0),
                        iy0.eq(-d.pad), ix0.eq(-d.pad), row_base.eq(d.base0),
                        pos_base.eq(d.base0), tap_row.eq(0), tap_col.eq(0), w_base.eq(0),
                        w_off.eq(0), out_cnt.eq(0),
                    ]
                    m.d.comb += cl.clear.eq(1)
            with m.Case(COMPUTE):
                m.d.sync += self.cycles.eq(self.cycles + 1)
                with m.If(~seq_valid & ~mv & cl.idle):
                    m.d.sync += phase.eq(READ)
                    m.d.sync += [gen.eq(1), rk.eq(0), rp_p.eq(0)]
                    if not cfg.permute:
                        m.d.sync += [cnt_unit.eq(0), cnt_base.eq(0)]
            with m.Case(READ):
                # The output path holds up to its latency of beats after the last accumulator; the
                # chunk/acc stream's final `last` marks the end for the testbench, `done` follows
                # the last readout transfer.
                with m.If(out_fire & end2):
                    m.d.sync += [phase.eq(IDLE), self.done.eq(1)]

        # Counters of one unit for the testbench.
        with m.Switch(self.ctr_sel):
            for u in range(n):
                with m.Case(u):
                    m.d.comb += self.ctr.eq(cl.count[u])
        return m


class _BankSelect(wiring.Component):
    """``o = i[sel]``: one result out of the ``n_units`` output banks' read data (combinational)."""

    def __init__(self, cfg):
        self._n = cfg.n_units
        super().__init__({"i": In(data.ArrayLayout(signed(cfg.acc_width), cfg.n_units)),
                          "sel": In(max(1, ceil_log2(cfg.n_units))),
                          "o": Out(signed(cfg.acc_width))})

    def elaborate(self, platform):
        m = Module()
        with m.Switch(self.sel):
            for u in range(self._n):
                with m.Case(u):
                    m.d.comb += self.o.eq(self.i[u])
        return m
