"""Convolution sequencer of the SparTen layer top, with its activation-memory stage.

Walks rounds x output positions x taps (r, s) x channel chunks j, one chunk per cycle, reads the
activation chunk of each step (a tap in the zero padding reads as an all-zero chunk) and offers it
with its filter-bank address, framing and output address to the cluster's broadcast stream.
"""

from types import SimpleNamespace

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .cluster import cluster_input_layout, w_addr_width
from .cu import chunk_word, out_addr_width
from .layer_layouts import act_addr_width, counter_width, descriptor_layout, max_chunks, max_rounds

__all__ = ["Sequencer"]


class Sequencer(wiring.Component):
    """Steps of one layer run, in the order the cluster takes them.

    Parameters
    ----------
    config : SparTenConfig

    Members
    -------
    desc : In(descriptor_layout(config))
        The layer (held from ``start`` to the end of the run).
    start : In(1)
        Pulse (while :attr:`idle`): begin a run at round 0, position 0, tap (0, 0), chunk 0.
    act_addr : Out(act_addr_width(config)), act_en : Out(1)
        Read address and enable of the activation memory (its read port has one cycle of latency;
        for a tap in the zero padding the address is meaningless and the data read is replaced by
        an all-zero chunk).
    act_data : In(chunk_word(config))
        The activation memory's read data.
    o : Out(stream.Signature(cluster_input_layout(config)))
        One chunk per step, ``first``/``last`` framing one output position.
    idle : Out(1)
        No step left and the memory stage is empty.

    Throughput one step per cycle while ``o`` is ready; latency one cycle from a step to ``o``.
    """

    def __init__(self, config):
        self._cfg = config
        super().__init__({
            "desc": In(descriptor_layout(config)),
            "start": In(1),
            "act_addr": Out(act_addr_width(config)),
            "act_en": Out(1),
            "act_data": In(chunk_word(config)),
            "o": Out(stream.Signature(cluster_input_layout(config))),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._counters()
        adv_m = self._memory_stage(m, c)
        self._step(m, c, adv_m)
        # Last, so that a start wins over a step in the same cycle.
        d = self.desc
        with m.If(self.start):
            m.d.sync += [
                c.seq_valid.eq(1), c.j.eq(0), c.r.eq(0), c.s.eq(0), c.ox.eq(0), c.oy.eq(0),
                c.rnd.eq(0), c.iy0.eq(-d.pad), c.ix0.eq(-d.pad), c.row_base.eq(d.base0),
                c.pos_base.eq(d.base0), c.tap_row.eq(0), c.tap_col.eq(0), c.w_base.eq(0),
                c.w_off.eq(0), c.out_cnt.eq(0),
            ]
        return m

    def _counters(self):
        """The loop state: chunk ``j``, tap ``(r, s)``, position ``(oy, ox)``, round ``rnd``, the
        window's top-left input ``(iy0, ix0)``, the address bases and offsets, ``seq_valid``, and
        whether ``j``, ``s``, ``r`` are at their last value."""
        cfg = self._cfg
        _w = counter_width
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
        d = self.desc
        return SimpleNamespace(j=j, r=r, s=s, ox=ox, oy=oy, rnd=rnd, iy0=iy0, ix0=ix0,
                               row_base=row_base, pos_base=pos_base, tap_row=tap_row,
                               tap_col=tap_col, w_base=w_base, w_off=w_off, out_cnt=out_cnt,
                               seq_valid=seq_valid, last_j=j == d.nc - 1, last_s=s == d.S - 1,
                               last_r=r == d.R - 1)

    def _memory_stage(self, m, c):
        """Activation read (one cycle) and the registered framing of the step; drives ``o``.
        Returns ``adv_m``: the stage takes the next step."""
        cfg, d = self._cfg, self.desc
        iy = c.iy0 + c.r
        ix = c.ix0 + c.s
        inside = (iy >= 0) & (iy < d.H) & (ix >= 0) & (ix < d.W)
        first_chunk = (c.j == 0) & (c.s == 0) & (c.r == 0)
        last_chunk = c.last_j & c.last_s & c.last_r
        mv = Signal()
        m_zero = Signal()
        m_w_addr = Signal(w_addr_width(cfg))
        m_first = Signal()
        m_last = Signal()
        m_out = Signal(out_addr_width(cfg))
        adv_m = Signal()
        m.d.comb += adv_m.eq(~mv | self.o.ready)
        m.d.comb += [self.act_en.eq(adv_m),
                     self.act_addr.eq(c.pos_base + c.tap_row + c.tap_col + c.j)]
        with m.If(adv_m):
            m.d.sync += [mv.eq(c.seq_valid), m_zero.eq(~inside), m_w_addr.eq(c.w_base + c.w_off),
                         m_first.eq(first_chunk), m_last.eq(last_chunk), m_out.eq(c.out_cnt)]
        p = self.o.payload
        m.d.comb += [
            self.o.valid.eq(mv),
            p.act.mask.eq(Mux(m_zero, 0, self.act_data.mask)),
            p.act.values.eq(self.act_data.values),
            p.w_addr.eq(m_w_addr),
            p.first.eq(m_first),
            p.last.eq(m_last),
            p.out_addr.eq(m_out),
            self.idle.eq(~c.seq_valid & ~mv),
        ]
        return adv_m

    def _step(self, m, c, adv_m):
        """The nested loops, innermost first: chunk, tap column, tap row, output column, output
        row, round; the last step of the last round ends the run."""
        d = self.desc
        with m.If(c.seq_valid & adv_m):
            m.d.sync += [c.j.eq(c.j + 1), c.w_off.eq(c.w_off + 1)]
            with m.If(c.last_j):
                m.d.sync += [c.j.eq(0), c.s.eq(c.s + 1), c.tap_col.eq(c.tap_col + d.nc)]
                with m.If(c.last_s):
                    m.d.sync += [c.s.eq(0), c.tap_col.eq(0), c.r.eq(c.r + 1),
                                 c.tap_row.eq(c.tap_row + d.tap_y)]
                    with m.If(c.last_r):
                        # Output position done.
                        m.d.sync += [c.r.eq(0), c.tap_row.eq(0), c.w_off.eq(0),
                                     c.out_cnt.eq(c.out_cnt + 1), c.ox.eq(c.ox + 1),
                                     c.ix0.eq(c.ix0 + d.stride),
                                     c.pos_base.eq(c.pos_base + d.step_x)]
                        with m.If(c.ox == d.Wo - 1):
                            m.d.sync += [c.ox.eq(0), c.ix0.eq(-d.pad), c.oy.eq(c.oy + 1),
                                         c.iy0.eq(c.iy0 + d.stride),
                                         c.row_base.eq(c.row_base + d.step_y),
                                         c.pos_base.eq(c.row_base + d.step_y)]
                            with m.If(c.oy == d.Ho - 1):
                                m.d.sync += [c.oy.eq(0), c.iy0.eq(-d.pad),
                                             c.row_base.eq(d.base0), c.pos_base.eq(d.base0),
                                             c.rnd.eq(c.rnd + 1),
                                             c.w_base.eq(c.w_base + d.w_round)]
                                with m.If(c.rnd == d.rounds - 1):
                                    m.d.sync += c.seq_valid.eq(0)
