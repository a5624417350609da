"""BARISTA's coloured output buffer: units write results of the next tile while the last drains.

Sharing one output buffer between consecutive input tiles would need a barrier (the next tile
waits until the buffer has been drained); colouring it removes that (arXiv 2104.08734: "avoids the
ensuing barriers between consecutive input maps by coloring the output buffers"). Here each colour
is its own memory bank: results are written into the colour of their tile, and a closed colour is
drained in address order on a stream while the units write into the other colours; when its last
entry has been taken the colour is freed (``freed``), which lets the dispatcher
(:mod:`hw.barista.dispatch`) open a new tile into it.

*(ours)*: one write per cycle (the units' results are merged in front of the buffer), no
accumulation of partial sums (the model's task pieces are not in RTL), a drain of ``count``
entries from address 0. Writing into a colour that is being drained is a protocol error the
dispatcher never makes. Cycle behaviour: :func:`golden.barista.drain_trace`.
"""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["ColourBuffer", "write_layout"]


def write_layout(config):
    """``{colour, addr, value}``: a result into (or out of) the buffer of ``config``."""
    return data.StructLayout({"colour": unsigned(max(1, ceil_log2(config.colours))),
                              "addr": unsigned(max(1, ceil_log2(config.output_buffer_entries))),
                              "value": signed(config.acc_width)})


class ColourBuffer(wiring.Component):
    """``colours`` banks of ``output_buffer_entries`` results, one drained at a time.

    Parameters
    ----------
    config : BaristaConfig
        ``colours``, ``output_buffer_entries``, ``acc_width``.

    Members
    -------
    i : In(stream.Signature(write_layout))
        ``{colour, addr, value}``; always ready.
    close : In(stream.Signature(close_layout))
        ``{colour, count}``: drain entries ``0..count-1`` of ``colour``; ready when no drain runs.
    o : Out(stream.Signature(out_layout))
        ``{colour, addr, value}`` of the colour being drained, in address order.
    freed : Out(1)
        Pulse: the drained colour (``freed_colour``) is free again (its last entry was taken, or
        ``count`` was 0).
    freed_colour : Out(range(colours))
    """

    def __init__(self, config):
        self._ncol = config.colours
        self._depth = config.output_buffer_entries
        self._aw = max(1, ceil_log2(self._depth))
        self._cw = max(1, ceil_log2(self._ncol))
        self._vw = config.acc_width
        self.write_layout = write_layout(config)
        self.close_layout = data.StructLayout({"colour": unsigned(self._cw),
                                               "count": unsigned(self._aw + 1)})
        super().__init__({
            "i": In(stream.Signature(self.write_layout)),
            "close": In(stream.Signature(self.close_layout)),
            "o": Out(stream.Signature(self.write_layout)),
            "freed": Out(1),
            "freed_colour": Out(unsigned(self._cw)),
        })

    def elaborate(self, platform):
        m = Module()
        ncol, aw = self._ncol, self._aw
        active = Signal()
        colour = Signal(self._cw)
        count = Signal(aw + 1)
        raddr = Signal(aw + 1)       # next address to read
        pending = Signal()           # a read issued: its data is on the read port
        paddr = Signal(aw)
        ovalid = Signal()
        oaddr = Signal(aw)
        odata = Signal(signed(self._vw))
        last_out = Signal()          # the entry in the output register is the last one

        advance = Signal()
        m.d.comb += advance.eq(~ovalid | self.o.ready)
        rdata = Signal(signed(self._vw))
        m.d.comb += self.i.ready.eq(1)
        for k in range(ncol):
            bank = memory.Memory(shape=signed(self._vw), depth=self._depth, init=[])
            m.submodules[f"colour{k}"] = bank
            wp, rp = bank.write_port(), bank.read_port()
            m.d.comb += [wp.en.eq(self.i.valid & (self.i.payload.colour == k)),
                         wp.addr.eq(self.i.payload.addr), wp.data.eq(self.i.payload.value),
                         rp.en.eq(advance & (colour == k)), rp.addr.eq(raddr)]
            with m.If(colour == k):
                m.d.comb += rdata.eq(rp.data)

        m.d.comb += [self.o.valid.eq(ovalid), self.o.payload.colour.eq(colour),
                     self.o.payload.addr.eq(oaddr), self.o.payload.value.eq(odata),
                     self.close.ready.eq(~active), self.freed_colour.eq(colour)]
        with m.If(active & advance):
            m.d.sync += [ovalid.eq(pending), oaddr.eq(paddr), odata.eq(rdata),
                         last_out.eq(pending & (paddr == count - 1))]
            with m.If(raddr < count):
                m.d.sync += [pending.eq(1), paddr.eq(raddr), raddr.eq(raddr + 1)]
            with m.Else():
                m.d.sync += pending.eq(0)
        done = Signal()
        m.d.comb += done.eq(active & ((ovalid & self.o.ready & last_out) | (count == 0)))
        m.d.comb += self.freed.eq(done)
        with m.If(done):
            m.d.sync += [active.eq(0), ovalid.eq(0), pending.eq(0)]
        with m.If(self.close.valid & ~active):
            m.d.sync += [active.eq(1), colour.eq(self.close.payload.colour),
                         count.eq(self.close.payload.count), raddr.eq(0), pending.eq(0),
                         ovalid.eq(0), last_out.eq(0)]
        return m
