"""Preload mode of the EUREKA core: on-chip buffers and a sequencer that feeds the core itself.

:class:`EurekaGemm` wraps :class:`hw.eureka.core.EurekaCore` unchanged. A run has two phases:

1. **Load** (while idle): beats on ``load`` write the **weight buffer** (``target`` 0) and the
   **activation buffer** (``target`` 1), one word per beat. A weight word is one weight beat of the
   core's schedule (:func:`hw.eureka.core.weight_layout`: every slot's weight, G:1 select, valid and
   displacement bits, ``last_window``, ``last``) plus ``win``, the index of the activation window the
   beat multiplies, within one column. The row tiles of a run are stored back to back, each ending
   with the beat that has ``last``. An activation word is one window (:func:`act_layout`); column
   ``n`` occupies words ``n*col_windows .. n*col_windows + col_windows - 1``. Buffers keep their
   contents between runs, so a run that reuses the weights (or the activations) of the previous one
   loads only the other buffer.
2. **Run** (``start`` pulse, with ``desc`` holding ``n_tiles``, ``n_cols``, ``col_windows``): for
   each row tile in turn, for each column, the sequencer streams the tile's beats and, with each, the
   activation word ``n*col_windows + win``; one result per (row tile, column) leaves on ``o`` (the
   core's result beat: R accumulators), tile-major then column. ``done`` rises when the last result
   has been taken.

Pipeline of the sequencer: a narrow **control** copy of each weight word's ``last`` and ``win``
(written by the same load beat) is read first, and its output chooses the next address in the same
cycle (next beat, back to the tile's first beat for the next column, or the next tile), so the
sequencer issues one beat per cycle; the weight and activation buffers are read in the following
stage, whose output registers hold while the core stalls (output backpressure).

Counters (valid from ``start`` to the next ``start``): ``beats`` (weight beats the core accepted: the
golden cycle model's count, whatever the backpressure), ``stalls`` (cycles a finished result waited
for ``o.ready``) and ``cycles`` (cycles from ``start`` to ``done``). Without stalls
``cycles = beats + latency`` (:attr:`EurekaGemm.latency`); in general
``cycles = beats + stalls + latency``.
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import EurekaGemmConfig
from .core import EurekaCore, act_layout, result_layout, weight_layout

__all__ = ["EurekaGemm", "weight_word_layout", "ctrl_layout", "load_layout", "desc_layout",
           "TARGET_WEIGHT", "TARGET_ACT", "COUNTER_WIDTH"]

TARGET_WEIGHT, TARGET_ACT = 0, 1
COUNTER_WIDTH = 32


def _width(n):
    """Bits of a counter 0..n."""
    return max(1, ceil_log2(n + 1))


def _addr_width(depth):
    return max(1, ceil_log2(depth))


def weight_word_layout(config):
    """A weight-buffer word: ``beat`` (the core's weight beat) and ``win`` (its activation window
    within a column, ``0 .. act_depth - 1``)."""
    return data.StructLayout({"beat": weight_layout(config.core),
                              "win": unsigned(_addr_width(config.act_depth))})


def ctrl_layout(config):
    """The control copy of a weight word: ``last`` and ``win``."""
    return data.StructLayout({"last": unsigned(1), "win": unsigned(_addr_width(config.act_depth))})


def load_layout(config):
    """A load beat: ``target`` (:data:`TARGET_WEIGHT` or :data:`TARGET_ACT`), ``addr`` and ``data``
    (a weight word, or an activation window in the low bits)."""
    from amaranth.hdl import Shape
    bits = max(Shape.cast(weight_word_layout(config)).width, Shape.cast(act_layout(config.core)).width)
    return data.StructLayout({
        "target": unsigned(1),
        "addr": unsigned(max(_addr_width(config.weight_depth), _addr_width(config.act_depth))),
        "data": unsigned(bits),
    })


def desc_layout(config):
    """The run descriptor (held from ``start`` to ``done``): ``n_tiles`` row tiles stored back to
    back in the weight buffer, ``n_cols`` activation columns, ``col_windows`` words per column."""
    return data.StructLayout({
        "n_tiles": unsigned(_width(config.weight_depth)),
        "n_cols": unsigned(_width(config.act_depth)),
        "col_windows": unsigned(_width(config.act_depth)),
    })


class EurekaGemm(wiring.Component):
    """The EUREKA core with its weight and activation buffers and a sequencer (preload mode).

    Parameters
    ----------
    config : EurekaGemmConfig

    Members
    -------
    load : In(stream.Signature(load_layout(config)))
        Buffer writes; ready while no run is in progress (one word per cycle).
    desc : In(desc_layout(config))
    start : In(1)
        Pulse while idle to run ``desc`` on the loaded buffers.
    o : Out(stream.Signature(result_layout(config.core)))
        One result per (row tile, column), tile-major; backpressure stalls the core.
    running, done : Out(1)
        A run is in progress; the last run has finished (cleared by ``start``).
    beats, stalls, cycles : Out(32)
        Counters of the last run (see the module docstring).

    Latency: ``cycles = beats + stalls + latency`` (:attr:`latency`). Throughput: one weight beat
    per cycle.
    """

    #: Sequencer stages ahead of the core: the control read, then the weight/activation read.
    issue_stages = 2
    #: After the last result is taken: one cycle to see the pipeline empty and end the run.
    end_stages = 1
    #: Cycles of a run beyond its beats and stalls: the issue stages, the core's latency and the
    #: end of the run, less one because the first control read is issued in the cycle of
    #: ``start``, which ``cycles`` does not count.
    latency = issue_stages - 1 + EurekaCore.latency + end_stages

    def __init__(self, config):
        if not isinstance(config, EurekaGemmConfig):
            self._MustUse__silence = True
            raise TypeError(f"config must be an EurekaGemmConfig, not {config!r}")
        self._config = config
        super().__init__({
            "load": In(stream.Signature(load_layout(config))),
            "desc": In(desc_layout(config)),
            "start": In(1),
            "o": Out(stream.Signature(result_layout(config.core))),
            "running": Out(1),
            "done": Out(1),
            "beats": Out(COUNTER_WIDTH),
            "stalls": Out(COUNTER_WIDTH),
            "cycles": Out(COUNTER_WIDTH),
        })

    @property
    def config(self):
        return self._config


    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = EurekaCore(self._config.core)
        wiring.connect(m, wiring.flipped(self.o), core.o)
        w_rp, c_rp, a_rp = self._buffers(m)
        start, v1, v2, fire = self._sequencer(m, core, w_rp, c_rp, a_rp)
        self._run_end(m, core, w_rp, start, v1, v2, fire)
        return m

    def _buffers(self, m):
        """The three buffers and their load port; returns their read ports (weights, control,
        activations)."""
        cfg = self._config
        running = self.running
        m.submodules.wbuf = wbuf = memory.Memory(shape=weight_word_layout(cfg),
                                                  depth=cfg.weight_depth, init=[])
        m.submodules.cbuf = cbuf = memory.Memory(shape=ctrl_layout(cfg), depth=cfg.weight_depth,
                                                  init=[])
        m.submodules.abuf = abuf = memory.Memory(shape=act_layout(cfg.core), depth=cfg.act_depth,
                                                  init=[])
        w_wp, w_rp = wbuf.write_port(), wbuf.read_port()
        c_wp, c_rp = cbuf.write_port(), cbuf.read_port()
        a_wp, a_rp = abuf.write_port(), abuf.read_port()

        # -- load ---------------------------------------------------------------------------
        ld = self.load.payload
        m.d.comb += self.load.ready.eq(~running)
        wr = self.load.valid & self.load.ready
        word = weight_word_layout(cfg)(ld.data[:w_wp.data.shape().size])
        m.d.comb += [
            w_wp.en.eq(wr & (ld.target == TARGET_WEIGHT)), w_wp.addr.eq(ld.addr), w_wp.data.eq(word),
            c_wp.en.eq(wr & (ld.target == TARGET_WEIGHT)), c_wp.addr.eq(ld.addr),
            c_wp.data.last.eq(word.beat.last), c_wp.data.win.eq(word.win),
            a_wp.en.eq(wr & (ld.target == TARGET_ACT)), a_wp.addr.eq(ld.addr),
            a_wp.data.eq(ld.data[:a_wp.data.shape().size]),
        ]
        return w_rp, c_rp, a_rp

    def _sequencer(self, m, core, w_rp, c_rp, a_rp):
        """Stages 1-2: the control word, the sequencer's counters and the core's inputs; returns
        ``(start, v1, v2, fire)``."""
        cfg = self._config
        running = self.running
        d = self.desc

        # -- stage 1: control word of beat p1 (c_rp.data), sequencer counters ---------------
        v1 = Signal()
        p1 = Signal(_addr_width(cfg.weight_depth) + 1)
        tile_start = Signal.like(p1)
        tile = Signal(_width(cfg.weight_depth))
        col = Signal(_width(cfg.act_depth))
        col_base = Signal(_width(2 * cfg.act_depth))
        # -- stage 2: weight beat and activation window at the core's inputs ----------------
        v2 = Signal()
        fire = Signal()
        adv = Signal()
        m.d.comb += [
            core.w.valid.eq(v2), core.w.payload.eq(w_rp.data.beat),
            core.a.valid.eq(v2), core.a.payload.eq(a_rp.data),
            fire.eq(core.w.valid & core.w.ready),
            adv.eq(~v2 | fire),
        ]

        start = self.start & ~running
        ctrl = c_rp.data
        nxt = Signal.like(p1)
        has_next = Signal()
        more_cols = Signal()
        more_tiles = Signal()
        m.d.comb += [more_cols.eq(col + 1 < d.n_cols), more_tiles.eq(tile + 1 < d.n_tiles)]
        with m.If(~ctrl.last):
            m.d.comb += [nxt.eq(p1 + 1), has_next.eq(1)]
        with m.Elif(more_cols):
            m.d.comb += [nxt.eq(tile_start), has_next.eq(1)]
        with m.Elif(more_tiles):
            m.d.comb += [nxt.eq(p1 + 1), has_next.eq(1)]

        # The buffers' read ports move only when stage 2 does, so a stalled beat stays in place.
        m.d.comb += [
            w_rp.en.eq(adv), w_rp.addr.eq(p1),
            a_rp.en.eq(adv), a_rp.addr.eq(col_base + ctrl.win),
            c_rp.en.eq(start | (running & adv & v1)),
            c_rp.addr.eq(Mux(start, 0, nxt)),
        ]
        with m.If(start):
            m.d.sync += [running.eq(1), self.done.eq(0), v1.eq((d.n_tiles != 0) & (d.n_cols != 0)),
                         p1.eq(0), tile_start.eq(0), tile.eq(0), col.eq(0), col_base.eq(0)]
        with m.Elif(running & adv):
            m.d.sync += v2.eq(v1)
            with m.If(v1):
                m.d.sync += [v1.eq(has_next), p1.eq(nxt)]
                with m.If(ctrl.last & more_cols):
                    m.d.sync += [col.eq(col + 1), col_base.eq(col_base + d.col_windows)]
                with m.Elif(ctrl.last):
                    m.d.sync += [col.eq(0), col_base.eq(0), tile.eq(tile + 1),
                                 tile_start.eq(p1 + 1)]
        return start, v1, v2, fire

    def _run_end(self, m, core, w_rp, start, v1, v2, fire):
        """Results in flight, the end of a run (``done``) and the counters."""
        running = self.running
        # -- results in flight, end of run, counters ----------------------------------------
        pending = Signal(range(EurekaCore.latency + 3))
        out_fire = core.o.valid & core.o.ready
        last_fire = fire & w_rp.data.beat.last
        m.d.sync += pending.eq(pending + last_fire - out_fire)
        with m.If(running & ~start & ~v1 & ~v2 & (pending == 0)):
            m.d.sync += [running.eq(0), self.done.eq(1)]
        with m.If(start):
            m.d.sync += [self.beats.eq(0), self.stalls.eq(0), self.cycles.eq(0)]
        with m.Elif(running):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(fire):
                m.d.sync += self.beats.eq(self.beats + 1)
            with m.If(core.o.valid & ~core.o.ready):
                m.d.sync += self.stalls.eq(self.stalls + 1)
