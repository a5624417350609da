"""Convolution sequencer of the SparTen layer top, with its activation-memory stage.

Walks rounds x output positions x taps (r, s) x channel chunks j, one chunk per cycle, reads the
activation chunk of each step (a tap in the zero padding reads as an all-zero chunk) and offers it
with its filter-bank address, framing and output address to the cluster's broadcast stream.
"""

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
        cfg = self._cfg
        m = Module()
        d = self.desc
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

        iy = iy0 + r
        ix = ix0 + s
        inside = (iy >= 0) & (iy < d.H) & (ix >= 0) & (ix < d.W)
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
        m.d.comb += adv_m.eq(~mv | self.o.ready)
        m.d.comb += [self.act_en.eq(adv_m), self.act_addr.eq(pos_base + tap_row + tap_col + j)]
        with m.If(adv_m):
            m.d.sync += [mv.eq(seq_valid), m_zero.eq(~inside), m_w_addr.eq(w_base + w_off),
                         m_first.eq(first_chunk), m_last.eq(last_chunk), m_out.eq(out_cnt)]
        p = self.o.payload
        m.d.comb += [
            self.o.valid.eq(mv),
            p.act.mask.eq(Mux(m_zero, 0, self.act_data.mask)),
            p.act.values.eq(self.act_data.values),
            p.w_addr.eq(m_w_addr),
            p.first.eq(m_first),
            p.last.eq(m_last),
            p.out_addr.eq(m_out),
            self.idle.eq(~seq_valid & ~mv),
        ]

        with m.If(seq_valid & adv_m):
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

        # Last, so that a start wins over a step in the same cycle.
        with m.If(self.start):
            m.d.sync += [
                seq_valid.eq(1), j.eq(0), r.eq(0), s.eq(0), ox.eq(0), oy.eq(0), rnd.eq(0),
                iy0.eq(-d.pad), ix0.eq(-d.pad), row_base.eq(d.base0), pos_base.eq(d.base0),
                tap_row.eq(0), tap_col.eq(0), w_base.eq(0), w_off.eq(0), out_cnt.eq(0),
            ]
        return m
