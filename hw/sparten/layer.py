"""SparTen layer top: on-chip memories, convolution sequencer, cluster, output readout and output path.

Phases of one layer run (see :class:`SparTenLayer`):

1. **Load** (before ``start``): the testbench writes the activation memory (SparseMap chunks,
   address ``(y*W + x)*nc + j``), each unit's filter bank (address ``round*R*S*nc + (r*S+s)*nc + j``,
   filled with the filter of slot ``round*n_units + u`` or zeros for an idle slot) and, with
   ``permute``, the channel table (channel ``k`` -> its unit and ``round*Ho*Wo``). Images are built by
   :mod:`hw.sparten.memmap`; the layer itself is described by the ``desc`` port.
2. **Compute** (``start`` pulse): the sequencer (:class:`hw.sparten.sequencer.Sequencer`) walks
   rounds x output positions x taps (r, s) x channel chunks j, one chunk per cycle into the memory
   stage (activation read; a tap in the zero padding reads as an all-zero chunk), then into the
   cluster. Each unit writes its dot product into its output bank at ``round*Ho*Wo + p``. The
   hardware ``cycles`` counter counts every cycle from ``start`` to the end of this phase;
   golden/sparten_model.py predicts it exactly.
3. **Readout** (:class:`hw.sparten.readout.Readout`): results leave in output-channel order per
   position (``p`` major, ``k`` minor): the channel table undoes the filter permutation (un-permute:
   channel ``k`` is read where its slot wrote it). With ``desc.sparse_out`` they pass the output
   path (requantise, ReLU, SparseMap encoder of :mod:`hw.sparten.output`) and leave on ``o_chunk``
   as the next layer's activation chunks, in exactly the order of the activation memory; otherwise
   raw accumulators (optionally ReLU'd) leave on ``o_acc``. ``done`` rises when the last value has
   left.

Submodules (the names area reports show): ``cluster``, ``sequencer``, ``readout`` (with its
``unperm`` bank select), ``outpath``, and the memories ``act``, ``obank<u>`` and ``table``.
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .cluster import Cluster
from .cu import COUNTER_WIDTH, chunk_word, counter_layout
from .layer_layouts import (TARGET_ACT, TARGET_TABLE, TARGET_WEIGHT, act_addr_width,
                            descriptor_layout, load_layout, max_chunks, max_rounds, table_layout)
from .output import OutputPath, acc_layout
from .output import chunk_layout as out_chunk_layout
from .readout import Readout
from .sequencer import Sequencer

__all__ = ["descriptor_layout", "load_layout", "table_layout", "SparTenLayer", "TARGET_ACT",
           "TARGET_WEIGHT", "TARGET_TABLE", "act_addr_width", "max_chunks", "max_rounds"]


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
        d = self.desc
        m.submodules.cluster = cl = Cluster(cfg, unit_module=self._unit_module)
        m.submodules.sequencer = seq = Sequencer(cfg)
        m.submodules.readout = rd = Readout(cfg)
        m.submodules.outpath = op = OutputPath(cfg)
        m.d.comb += [seq.desc.eq(d), rd.desc.eq(d)]
        idle = self._memories(m, cl, seq, rd)

        # Sequencer -> cluster; readout -> output path (sparse mode) or o_acc (raw mode).
        wiring.connect(m, seq.o, cl.i)
        m.d.comb += [op.multiplier.eq(d.multiplier), op.shift.eq(d.shift), op.relu.eq(d.relu)]
        wiring.connect(m, op.o, wiring.flipped(self.o_chunk))
        acc = rd.o.payload.acc
        with m.If(d.sparse_out):
            m.d.comb += [op.i.valid.eq(rd.o.valid), op.i.payload.acc.eq(acc),
                         op.i.payload.last.eq(rd.o.payload.last), rd.o.ready.eq(op.i.ready)]
        with m.Else():
            m.d.comb += [self.o_acc.valid.eq(rd.o.valid),
                         self.o_acc.payload.acc.eq(Mux(d.relu & (acc < 0), 0, acc)),
                         self.o_acc.payload.last.eq(rd.o.payload.last),
                         rd.o.ready.eq(self.o_acc.ready)]

        # Phases: IDLE (loads) -> COMPUTE (sequencer and cluster) -> READ (readout) -> IDLE.
        IDLE, COMPUTE, READ = range(3)
        phase = Signal(range(3))
        m.d.comb += [self.busy.eq(phase != IDLE), idle.eq(phase == IDLE)]
        with m.Switch(phase):
            with m.Case(IDLE):
                with m.If(self.start):
                    m.d.sync += [phase.eq(COMPUTE), self.done.eq(0), self.cycles.eq(0)]
                    m.d.comb += [seq.start.eq(1), cl.clear.eq(1)]
            with m.Case(COMPUTE):
                m.d.sync += self.cycles.eq(self.cycles + 1)
                with m.If(seq.idle & cl.idle):
                    m.d.sync += phase.eq(READ)
                    m.d.comb += rd.start.eq(1)
            with m.Case(READ):
                # The output path holds up to its latency of beats after the last accumulator; the
                # chunk/acc stream's final `last` marks the end for the testbench, `done` follows
                # the last readout transfer.
                with m.If(rd.o.valid & rd.o.ready & rd.end):
                    m.d.sync += [phase.eq(IDLE), self.done.eq(1)]

        # Counters of one unit for the testbench.
        with m.Switch(self.ctr_sel):
            for u in range(cfg.n_units):
                with m.Case(u):
                    m.d.comb += self.ctr.eq(cl.count[u])
        return m

    def _memories(self, m, cl, seq, rd):
        """The activation memory, the output banks, the channel table and the ``load`` port that
        writes them (and the filter banks inside the cluster). Returns the signal that opens the
        load port (the layer is idle)."""
        cfg = self._cfg
        m.submodules.act = act = memory.Memory(shape=chunk_word(cfg), depth=cfg.act_depth, init=[])
        act_wp, act_rp = act.write_port(), act.read_port()
        m.d.comb += [act_rp.en.eq(seq.act_en), act_rp.addr.eq(seq.act_addr),
                     seq.act_data.eq(act_rp.data)]
        for u in range(cfg.n_units):
            m.submodules[f"obank{u}"] = ob = memory.Memory(shape=signed(cfg.acc_width),
                                                          depth=cfg.out_depth, init=[])
            wp, rp = ob.write_port(), ob.read_port()
            m.d.comb += [wp.en.eq(cl.res[u].valid), wp.addr.eq(cl.res[u].addr),
                         wp.data.eq(cl.res[u].value),
                         rp.en.eq(rd.bank_en), rp.addr.eq(rd.bank_addr),
                         rd.bank_data[u].eq(rp.data)]

        idle = Signal()
        ld = self.load.payload
        m.d.comb += self.load.ready.eq(idle)
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
            m.submodules.table = tab = memory.Memory(shape=table_layout(cfg),
                                                     depth=cfg.max_channels, init=[])
            tab_wp, tab_rp = tab.write_port(), tab.read_port()
            m.d.comb += [tab_wp.en.eq(wr & (ld.target == TARGET_TABLE)), tab_wp.addr.eq(ld.addr),
                         tab_wp.data.eq(ld.data.as_value()[:len(tab_wp.data.as_value())]),
                         tab_rp.en.eq(rd.table_en), tab_rp.addr.eq(rd.table_addr),
                         rd.table_data.eq(tab_rp.data)]
        return idle
