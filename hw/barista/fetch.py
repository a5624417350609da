"""BARISTA's request/response chunk fetch with combining and snarfing, for one shared bank.

In BARISTA a unit *requests* the chunk it needs instead of waiting for a broadcast (arXiv
2104.08734). This block is one shared bank with its request/response network at reduced scale:
``n_ports`` requesters (the private buffers of the units) share one memory read per cycle, and every
read's response goes out on a bus that all requesters watch.

* **Request**: port ``i`` holds at most one outstanding request (its private-buffer slot); it takes
  a new one (``req[i].ready``) only when that slot is free.
* **Issue**: each cycle, among the ports waiting for data, the round-robin arbiter (starting after
  the last port served) issues one bank read. *Combining* (telescoping, one level): a waiting port
  whose address is the one on the response bus this cycle does not issue, and ports waiting for
  the same address as the issued one are served by that read.
* **Response / snarfing**: one cycle after the issue the read's data is on the bus; every waiting
  port whose address matches captures it, whichever port issued the read. The captured chunk is
  offered on ``resp[i]`` until taken; then the slot frees.

Every rule is *(ours)*: the paper's network (a tree of combining nodes, "telescoping") was not
available; this is its single-level form, a tree of these blocks being the multi-level one. The
exact cycle behaviour is :func:`golden.barista.fetch_trace`, which the tests compare transfer by
transfer under random request idle and response backpressure.

Timing: a request taken at edge ``t`` is pending at ``t+1``, issued at ``t+1`` at best, its data is
on the bus at ``t+2`` and offered on ``resp`` from ``t+3`` (:attr:`ChunkFetch.latency` = 3).
"""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["ChunkFetch"]


class ChunkFetch(wiring.Component):
    """One shared bank behind ``n_ports`` request/response ports, with combining and snarfing.

    Parameters
    ----------
    config : BaristaConfig
        ``units_per_cluster`` ports; memory of ``input_buffer_chunks`` chunks of
        ``chunk * (1 + value_width)`` bits (mask + packed values).

    Members
    -------
    req : In(stream.Signature(unsigned(addr_width))).array(n_ports)
        Chunk addresses. ``ready`` depends only on the port's state, not on ``valid``.
    resp : Out(stream.Signature(unsigned(data_width))).array(n_ports)
        The chunk of the port's last request.
    wr_en, wr_addr, wr_data : In
        Memory load port (one word per cycle, loaded before use).
    reads : Out(32)
        Bank reads issued since reset (the bandwidth used).
    """

    latency = 3

    def __init__(self, config):
        self._cfg = config
        self.n_ports = config.units_per_cluster
        self.depth = config.input_buffer_chunks
        self.addr_width = max(1, ceil_log2(self.depth))
        self.data_width = config.chunk * (1 + config.value_width)
        aw, dw = unsigned(self.addr_width), unsigned(self.data_width)
        super().__init__({
            "req": In(stream.Signature(aw)).array(self.n_ports),
            "resp": Out(stream.Signature(dw)).array(self.n_ports),
            "wr_en": In(1),
            "wr_addr": In(aw),
            "wr_data": In(dw),
            "reads": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n_ports
        mem = memory.Memory(shape=unsigned(self.data_width), depth=self.depth, init=[])
        m.submodules.mem = mem
        wp = mem.write_port()
        rp = mem.read_port()
        m.d.comb += [wp.en.eq(self.wr_en), wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data)]

        pend = Signal(n)            # slot holds a request
        have = Signal(n)            # slot holds the requested chunk
        paddr = [Signal(self.addr_width, name=f"paddr{i}") for i in range(n)]
        pdata = [Signal(self.data_width, name=f"pdata{i}") for i in range(n)]
        bus_valid = Signal()        # a read issued last cycle: its data is on rp.data now
        bus_addr = Signal(self.addr_width)
        rr = Signal(range(n))       # arbiter: search starts at this port

        cand = Signal(n)
        for i in range(n):
            wait = pend[i] & ~have[i]
            hit = bus_valid & (paddr[i] == bus_addr)
            m.d.comb += cand[i].eq(wait & ~hit)
            with m.If(wait & hit):
                m.d.sync += [have[i].eq(1), pdata[i].eq(rp.data)]
            m.d.comb += [self.req[i].ready.eq(~pend[i]),
                         self.resp[i].valid.eq(have[i]),
                         self.resp[i].payload.eq(pdata[i])]
            with m.If(self.req[i].valid & ~pend[i]):
                m.d.sync += [pend[i].eq(1), paddr[i].eq(self.req[i].payload)]
            with m.If(self.resp[i].valid & self.resp[i].ready):
                m.d.sync += [pend[i].eq(0), have[i].eq(0)]

        # Round-robin: the first candidate at or after rr, else the first one before it.
        sel = Signal(range(n))
        found = Signal()
        for i in reversed(range(n)):
            with m.If(cand[i]):
                m.d.comb += [sel.eq(i), found.eq(1)]
        for i in reversed(range(n)):
            # rr is at most n - 1, so the last port is always at or after it (a constant
            # comparison would be a lint finding).
            with m.If(cand[i] & ((i >= rr) if i < n - 1 else 1)):
                m.d.comb += sel.eq(i)
        m.d.comb += rp.addr.eq(paddr[0])
        for i in range(1, n):
            with m.If(sel == i):
                m.d.comb += rp.addr.eq(paddr[i])
        m.d.sync += [bus_valid.eq(found), bus_addr.eq(rp.addr)]
        with m.If(found):
            m.d.sync += [self.reads.eq(self.reads + 1),
                         rr.eq(Mux(sel == n - 1, 0, sel + 1))]
        return m
