"""One BARISTA cluster: shared banks with request/response fetch, the dispatcher, SparTen's compute
units and the coloured output buffer, running whole KxK convolution layers.

What it joins (each block as written and tested on its own):

* ``banks`` shared banks (:class:`~.fetch.ChunkFetch`), address-interleaved by chunk: chunk ``i``
  of the layer's address space lives in bank ``i mod banks`` at word ``i // banks``. The input map
  (pixel ``(y, x)``'s chunk ``j`` at ``(y*W + x)*nc + j``) and the filters (filter ``k``'s tap
  ``(r, s)`` chunk ``j`` at ``fbase + ((k*R + r)*R + s)*nc + j``) share them, as in the layer model.
  Every unit owns two ports of every bank, one for its activation chunks and one for its filter
  chunks. Requests for one chunk pending at once are served by one read (combining for input
  chunks, snarfing for filter chunks: the fetch block's rules).
* the dispatcher (:class:`~.dispatch.TaskDispatch`, ``colour_free``): dynamic round-robin of the
  layer's tasks (filter ``k`` at output position ``(y, x)``, filter-major, positions row-major) over
  the units; a tile of ``tile_size`` consecutive tasks writes into one colour and opens only when
  that colour has been drained.
* ``units_per_cluster`` units, each a *fetcher* and SparTen's :class:`~hw.sparten.cu.ComputeUnit`
  (unchanged). The fetcher walks its task's chunk pairs (taps row-major, channel chunks innermost;
  padding taps are skipped: the valid taps of a position are a rectangle, computed at the grant),
  requests both chunks of a pair in one cycle when both ports are free and its private queue
  (``private_chunks`` pairs) has room, and hands the pairs, in order, to its compute unit as both
  responses arrive. It reports ``fin`` to the dispatcher through a register, the cycle after it
  requests the task's last pair (:attr:`BaristaCluster.fin_latency`), so the next task's chunks
  are requested while the compute unit still works on the queued pairs.
* a result register per unit and a fixed-priority merge (lowest unit first) into the
  :class:`~.outbuf.ColourBuffer`, one write per cycle. *(ours)*: a unit hands a task's last chunk
  to its compute unit only when its previous result has been written (no result is ever lost,
  and no queue is needed: a unit has at most one result in flight).
* tiles are closed in order once all their results are written; the buffer drains each colour on
  ``o`` (``{colour, addr, value}``: the tile's colour, the task's place in the tile) while the units
  fill the others; ``freed`` makes the colour free for the tile ``colours`` later.

The exact cycle behaviour is :func:`golden.barista.cluster_trace`; every rule above is *(ours)*
(the paper's cluster internals were not available). Host protocol: load chunk words on
``load`` (``{addr, data}``, always ready), set ``desc`` (:func:`desc_layout`), pulse ``start``;
``done`` rises when the last colour has drained; ``cycles`` counts the cycles from the one after
``start`` to it, ``reads`` the bank reads and ``requests`` the chunk requests of the run.

Timing: a pair requested in cycle ``t`` reaches the compute unit at ``t + ChunkFetch.latency`` at
best; a result is in the unit's result register :attr:`BaristaCluster.result_latency` cycles after
its task's last join beat. One task is granted per cycle (:attr:`BaristaCluster.grants_per_cycle`):
the granted task is the head, whose tap bounds and first-tap addresses are registers (computed
from the cursor, one task ahead, when it advances), so no cursor arithmetic follows a grant.
``fin`` is a register, the queue's head entry and the closing state are kept in registers and
the descriptor's products take one multiplier per cycle (the first grant is in cycle 2); 4.96 ns
on sky130 hd, ``docs/timing.md`` (13.4 ns, then 6.8 and 5.2 ns before).
"""

import dataclasses
import types

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.config import ConfigError
from ..sparten.cu import ComputeUnit, chunk_word
from .dispatch import TASK_WIDTH, TaskDispatch
from .cluster_unit import feeder, fetcher
from .fetch import ChunkFetch
from .group import cu_config
from .outbuf import ColourBuffer


__all__ = ["BaristaCluster", "check_config", "desc_layout", "load_layout", "bank_config",
           "DIM_WIDTH", "KERNEL_WIDTH", "COUNTER_WIDTH"]

#: Width of map sizes in the descriptor (maps up to 255 x 255) *(ours)*.
DIM_WIDTH = 8
#: Width of the kernel size, stride and padding fields (up to 15) *(ours)*.
KERNEL_WIDTH = 4
#: Width of the run counters (``cycles``, ``reads``, ``requests``).
COUNTER_WIDTH = 32


def check_config(config):
    """Raise ConfigError, naming the field, when the cluster cannot be built from ``config``."""
    b = config.banks
    if b & (b - 1):
        raise ConfigError(f"banks must be a power of two for the cluster's interleaving, not {b!r}")
    if config.input_buffer_chunks % b:
        raise ConfigError(f"input_buffer_chunks must be a multiple of banks ({b}), not "
                          f"{config.input_buffer_chunks!r}")
    if config.output_buffer_entries > 1 << (TASK_WIDTH - 1):
        raise ConfigError(f"output_buffer_entries must be at most {1 << (TASK_WIDTH - 1)} for "
                          f"the cluster, not {config.output_buffer_entries!r}")


def addr_width(config):
    """Bits of a chunk address in the cluster's address space (``input_buffer_chunks`` chunks)."""
    return max(1, ceil_log2(config.input_buffer_chunks))


def bank_config(config):
    """The config of one bank: ``2 * units_per_cluster`` ports, ``input_buffer_chunks / banks``
    words."""
    return dataclasses.replace(config, units_per_cluster=2 * config.units_per_cluster,
                               input_buffer_chunks=max(2, config.input_buffer_chunks
                                                       // config.banks))


def desc_layout(config):
    """The layer descriptor, sampled at ``start``.

    ``n_tasks`` = filters x out_h x out_w; ``tile_size`` tasks per tile (``>= units_per_cluster``,
    ``<= output_buffer_entries``); ``nc`` channel chunks; ``height``/``width`` the input map,
    ``out_h``/``out_w`` the output map; ``kernel`` R (= S), ``stride``, ``pad`` (``< kernel``);
    ``fbase`` the address of filter 0's first chunk.
    """
    aw = addr_width(config)
    return data.StructLayout({
        "n_tasks": unsigned(TASK_WIDTH), "tile_size": unsigned(TASK_WIDTH),
        "nc": unsigned(aw), "height": unsigned(DIM_WIDTH), "width": unsigned(DIM_WIDTH),
        "out_h": unsigned(DIM_WIDTH), "out_w": unsigned(DIM_WIDTH),
        "kernel": unsigned(KERNEL_WIDTH), "stride": unsigned(KERNEL_WIDTH),
        "pad": unsigned(KERNEL_WIDTH), "fbase": unsigned(aw),
    })


def load_layout(config):
    """A load beat: a chunk word (:func:`hw.sparten.cu.chunk_word` bits) and its address."""
    return data.StructLayout({"addr": unsigned(addr_width(config)),
                              "data": unsigned(config.chunk * (1 + config.value_width))})


class BaristaCluster(wiring.Component):
    """A BARISTA cluster of ``units_per_cluster`` SparTen compute units behind ``banks`` shared
    banks (see the module docstring).

    Parameters
    ----------
    config : BaristaConfig
        ``units_per_cluster``, ``chunk``, widths, ``banks`` (a power of two; every bank one chunk
        word per cycle), ``input_buffer_chunks`` (the banks' words in all), ``private_chunks``
        (pairs a unit may have requested and not yet handed on), ``colours`` and
        ``output_buffer_entries`` (entries per colour).

    Members
    -------
    load : In(stream.Signature(load_layout))
        Chunk words into the banks (before ``start``); always ready.
    desc : In(desc_layout)
    start : In(1)
    o : Out(stream.Signature(ColourBuffer.write_layout))
        The results, a tile at a time in address order.
    done : Out(1)
        High from the end of a run to the next ``start``.
    cycles, reads, requests : Out(32)
        Run length, bank reads and chunk requests of the last run.
    """

    def __init__(self, config):
        try:
            check_config(config)
        except ConfigError:
            self._MustUse__used = True      # never built: no "created but never used" warning
            raise
        self._cfg = config
        self._cu = cu_config(config)
        self.aw = addr_width(config)
        #: The blocks, for observability and tests.
        self.dispatch = TaskDispatch(config, colour_free=True, max_grants=self.grants_per_cycle)
        self.outbuf = ColourBuffer(config)
        super().__init__({
            "load": In(stream.Signature(load_layout(config))),
            "desc": In(desc_layout(config)),
            "start": In(1),
            "o": Out(stream.Signature(self.outbuf.write_layout)),
            "done": Out(1),
            "cycles": Out(COUNTER_WIDTH),
            "reads": Out(COUNTER_WIDTH),
            "requests": Out(COUNTER_WIDTH),
        })

    #: Tasks granted per cycle at most *(ours)*: one, so that the granted task is the cursor's
    #: head, whose valid taps and addresses are registers (no cursor arithmetic after a grant).
    #: :func:`golden.barista.cluster_trace` takes it as ``grants_per_cycle``.
    grants_per_cycle = 1
    #: Cycles from a unit's last request of a task to the dispatcher's ``fin`` *(ours)*: one (a
    #: register), so a unit requesting its last pair in cycle ``t`` is granted from ``t + 1`` on;
    #: its private queue still feeds its compute unit meanwhile.
    fin_latency = 1

    @classmethod
    def latencies(cls):
        """``{"grants_per_cycle", "fin_latency"}``: the keywords of
        :func:`golden.barista.cluster_trace` and :func:`golden.barista.engine_trace`."""
        return {"grants_per_cycle": cls.grants_per_cycle, "fin_latency": cls.fin_latency}

    @property
    def result_latency(self):
        """Cycles from a task's last join beat to its result in the unit's result register (the
        compute unit's latency plus one register)."""
        return ComputeUnit.result_latency + 1

    def elaborate(self, platform):
        m = Module()
        ctx = self._blocks(m)
        self._descriptor(m, ctx)
        self._cursor(m, ctx)
        self._colours(m, ctx)
        # Units: a fetcher and a feeder each (:mod:`.cluster_unit`).
        ctx.res_v, ctx.res_slot, ctx.res_off, ctx.res_val, ctx.wsel = [], [], [], [], []
        ctx.n_req, ctx.fins = [], []
        for i in range(ctx.n):
            cu = ComputeUnit(self._cu)
            m.submodules[f"cu{i}"] = cu
            feeder(m, ctx, i, cu, fetcher(m, ctx, i), self.start)

        for i, f in enumerate(ctx.fins):
            m.d.comb += ctx.disp.fin[i].eq(f)
        m.d.sync += self.requests.eq(self.requests + 2 * sum(ctx.n_req))

        self._close(m, ctx)
        return m

    def _blocks(self, m):
        """The banks, the dispatcher and the output buffer, the load ports; the elaboration's
        shared names, as a namespace."""
        cfg = self._cfg
        n, B, D, ncol = cfg.units_per_cluster, cfg.banks, cfg.private_chunks, cfg.colours
        aw = self.aw
        bb = max(0, ceil_log2(B))
        cw = chunk_word(self._cu)
        oaw = max(1, ceil_log2(cfg.output_buffer_entries))
        cbits = max(1, ceil_log2(ncol))

        m.submodules.dispatch = disp = self.dispatch
        m.submodules.outbuf = ob = self.outbuf
        bcfg = bank_config(cfg)
        banks = []
        for b in range(B):
            f = ChunkFetch(bcfg)
            m.submodules[f"bank{b}"] = f
            banks.append(f)

        def bank_of(addr):
            return addr[:bb] if bb else 0

        def word_of(addr):
            return addr[bb:] if bb else addr

        # Loading: every bank's write port.
        m.d.comb += self.load.ready.eq(1)
        for b, f in enumerate(banks):
            m.d.comb += [f.wr_en.eq(self.load.valid & (bank_of(self.load.payload.addr) == b)),
                         f.wr_addr.eq(word_of(self.load.payload.addr)),
                         f.wr_data.eq(self.load.payload.data)]
        ctx = types.SimpleNamespace()
        ctx.B, ctx.D, ctx.aw, ctx.bank_of = B, D, aw, bank_of
        ctx.banks, ctx.bb, ctx.cbits, ctx.cfg = banks, bb, cbits, cfg
        ctx.cw, ctx.disp, ctx.n, ctx.ncol = cw, disp, n, ncol
        ctx.oaw, ctx.ob, ctx.word_of = oaw, ob, word_of
        ctx.kernel_width = KERNEL_WIDTH
        return ctx

    def _descriptor(self, m, ctx):
        """The descriptor register, its derived strides (one multiplier per cycle) and the
        run counter."""
        aw, cfg, disp = ctx.aw, ctx.cfg, ctx.disp
        # The descriptor and its derived strides, latched at start.
        d = Signal(desc_layout(cfg))
        sa = signed(aw + 3)             # act addresses relative to the padded origin may be < 0
        row_a = Signal(aw + 1)          # W * nc: one input row of taps further
        row_w = Signal(aw + 1)          # R * nc: one filter row of taps further
        fstride = Signal(aw + 1)        # R * R * nc: one filter further
        step_x = Signal(aw + 1)         # stride * nc: one output position further
        step_y = Signal(aw + 1)         # stride * W * nc: one output row further
        a_org = Signal(sa)              # (-pad * W - pad) * nc: the first position's base
        running = Signal()
        ds = self.desc
        # One multiplier per cycle: the products of two factors at ``start``, those of three
        # and the cursor's base in cycle 0 (``init``), the head's addresses in cycle 1; nothing
        # is granted before cycle 2 (``TaskDispatch.release_latency``).
        assert TaskDispatch.release_latency >= 2, "the staged products need two cycles"
        pw = Signal(2 * DIM_WIDTH)      # pad * W + pad
        init = Signal(2)
        m.d.sync += init.eq(Cat(self.start, init[0]))
        with m.If(self.start):
            m.d.sync += [row_a.eq(ds.width * ds.nc), row_w.eq(ds.kernel * ds.nc),
                         step_x.eq(ds.stride * ds.nc), pw.eq(ds.pad * ds.width + ds.pad)]
        with m.If(init[0]):
            m.d.sync += [fstride.eq(d.kernel * row_w), step_y.eq(d.stride * row_a),
                         a_org.eq(-(pw * d.nc))]
        with m.If(running):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        m.d.comb += [disp.start.eq(self.start), disp.n_tasks.eq(self.desc.n_tasks),
                     disp.tile_size.eq(self.desc.tile_size)]
        ctx.a_org, ctx.d, ctx.ds, ctx.fstride = a_org, d, ds, fstride
        ctx.init, ctx.pw, ctx.row_a, ctx.row_w = init, pw, row_a, row_w
        ctx.running, ctx.sa, ctx.step_x, ctx.step_y = running, sa, step_x, step_y

    def _cursor(self, m, ctx):
        """The task cursor and the granted task's head (taps and first-tap addresses)."""
        a_org, aw, d, disp = ctx.a_org, ctx.aw, ctx.d, ctx.disp
        ds, fstride, init, pw = ctx.ds, ctx.fstride, ctx.init, ctx.pw
        row_a, row_w, sa, step_x = ctx.row_a, ctx.row_w, ctx.sa, ctx.step_x
        step_y = ctx.step_y
        # Task cursor: the next task to grant, as the output position (y, x), its top-left input
        # pixel (iy, ix) (negative in the padding), the activation address of that pixel (abase,
        # and arow at x = 0), the filter's base address and the task's valid taps (r/s lo..hi).
        # Kept by additions only and one step per grant, so a grant finds all of it in registers.
        sw = signed(DIM_WIDTH + KERNEL_WIDTH + 2)
        names = ("y", "x", "iy", "ix", "abase", "arow", "wbase")
        shapes = (DIM_WIDTH, DIM_WIDTH, sw, sw, sa, sa, aw + 1)
        taps = ("r_lo", "r_hi", "s_lo", "s_hi")

        def cursor(tag):
            c = {k: Signal(sh, name=f"{tag}_{k}") for k, sh in zip(names, shapes)}
            c.update({k: Signal(KERNEL_WIDTH, name=f"{tag}_{k}") for k in taps})
            return c

        def lo_hi(c, o0, size, tag):
            top = Signal(signed(DIM_WIDTH + KERNEL_WIDTH + 3), name=f"{tag}_top")
            m.d.comb += [c[f"{tag[0]}_lo"].eq(Mux(o0 < 0, -o0, 0)), top.eq(size - 1 - o0),
                         c[f"{tag[0]}_hi"].eq(Mux(top < d.kernel - 1, top, d.kernel - 1))]

        cur, nxt_c = cursor("cur"), cursor("succ")
        # The head's wraps are registers too (their compares fan out into the whole cursor).
        wrap_x, wrap_y = Signal(), Signal()
        with m.If(disp.granting | init[1]):
            m.d.sync += [wrap_x.eq(nxt_c["x"] == d.out_w - 1),
                         wrap_y.eq((nxt_c["x"] == d.out_w - 1) & (nxt_c["y"] == d.out_h - 1))]
        with m.If(self.start):
            m.d.sync += [wrap_x.eq(ds.out_w == 1), wrap_y.eq((ds.out_w == 1) & (ds.out_h == 1))]
        m.d.comb += [
            nxt_c["x"].eq(Mux(wrap_x, 0, cur["x"] + 1)),
            nxt_c["y"].eq(Mux(wrap_y, 0, Mux(wrap_x, cur["y"] + 1, cur["y"]))),
            nxt_c["ix"].eq(Mux(wrap_x, -d.pad, cur["ix"] + d.stride)),
            nxt_c["iy"].eq(Mux(wrap_y, -d.pad, Mux(wrap_x, cur["iy"] + d.stride, cur["iy"]))),
            nxt_c["arow"].eq(Mux(wrap_y, a_org, Mux(wrap_x, cur["arow"] + step_y, cur["arow"]))),
            nxt_c["abase"].eq(Mux(wrap_y, a_org, Mux(wrap_x, cur["arow"] + step_y,
                                                     cur["abase"] + step_x))),
            nxt_c["wbase"].eq(Mux(wrap_y, cur["wbase"] + fstride, cur["wbase"])),
        ]
        lo_hi(nxt_c, nxt_c["iy"], d.height, "r_n")
        lo_hi(nxt_c, nxt_c["ix"], d.width, "s_n")
        # The granted task is ``head``: the taps of the cursor's previous place and the
        # addresses of its first valid tap, registers computed from the cursor's registers
        # when it advances, so a grant loads an idle unit's walk from flip-flops. The cursor
        # runs one task ahead of the head: cycle 1 (``init[1]``) moves task 0 into the head.
        hd = {k: Signal(KERNEL_WIDTH, name=f"head_{k}") for k in taps}
        hd["arow"] = Signal(aw + 1, name="head_arow")
        hd["wrow"] = Signal(aw + 1, name="head_wrow")
        with m.If(disp.granting | init[1]):
            m.d.sync += [cur[k].eq(nxt_c[k]) for k in names + taps]
            m.d.sync += [hd[k].eq(cur[k]) for k in taps]
            m.d.sync += [hd["arow"].eq(cur["abase"] + cur["r_lo"] * row_a + cur["s_lo"] * d.nc),
                         hd["wrow"].eq(cur["wbase"] + cur["r_lo"] * row_w + cur["s_lo"] * d.nc)]
        with m.If(self.start):
            hi0 = Mux(ds.kernel - 1 < ds.height + ds.pad - 1, ds.kernel - 1,
                      ds.height + ds.pad - 1)
            hs0 = Mux(ds.kernel - 1 < ds.width + ds.pad - 1, ds.kernel - 1,
                      ds.width + ds.pad - 1)
            m.d.sync += [cur["y"].eq(0), cur["x"].eq(0), cur["iy"].eq(-ds.pad),
                         cur["ix"].eq(-ds.pad), cur["wbase"].eq(ds.fbase),
                         cur["r_lo"].eq(ds.pad), cur["s_lo"].eq(ds.pad),
                         cur["r_hi"].eq(hi0), cur["s_hi"].eq(hs0)]
        with m.If(init[0]):
            m.d.sync += [cur["abase"].eq(-(pw * d.nc)), cur["arow"].eq(-(pw * d.nc))]
        ctx.hd, ctx.taps = hd, taps

    def _colours(self, m, ctx):
        """Each colour's free bit for the dispatcher."""
        disp, ncol, ob = ctx.disp, ctx.ncol, ctx.ob
        # Colours: free until a tile opens into them, free again once drained.
        free = Signal(ncol)
        for k in range(ncol):
            freed_k = ob.freed & (ob.freed_colour == k)
            m.d.sync += free[k].eq((free[k] & ~disp.opening[k]) | freed_k)
        with m.If(self.start):
            m.d.sync += free.eq((1 << ncol) - 1)
        m.d.comb += disp.free.eq(free)

    def _close(self, m, ctx):
        """The results' merge into the output buffer, the tiles' closing and the run's end."""
        banks, d, disp, ds = ctx.banks, ctx.d, ctx.disp, ctx.ds
        n, ncol, oaw, ob = ctx.n, ctx.ncol, ctx.oaw, ctx.ob
        res_off, res_slot, res_v, res_val = ctx.res_off, ctx.res_slot, ctx.res_v, ctx.res_val
        running, wsel = ctx.running, ctx.wsel
        # Merge: the lowest full result register writes this cycle.
        for i in range(n):
            m.d.comb += wsel[i].eq(res_v[i] & ~Cat(*res_v[:i]).any() if i else res_v[i])
        any_w = Signal()
        m.d.comb += any_w.eq(Cat(*res_v).any())
        m.d.comb += ob.i.valid.eq(any_w)
        for i in reversed(range(n)):
            with m.If(wsel[i]):
                m.d.comb += [ob.i.payload.colour.eq(res_slot[i]), ob.i.payload.addr.eq(res_off[i]),
                             ob.i.payload.value.eq(res_val[i])]

        # Written results per colour; tiles closed in order once complete.
        wcnt = [Signal(oaw + 1, name=f"wcnt{k}") for k in range(ncol)]
        for k in range(ncol):
            hit = any_w & (ob.i.payload.colour == k)
            with m.If(disp.opening[k]):
                m.d.sync += wcnt[k].eq(0)
            with m.Elif(hit):
                m.d.sync += wcnt[k].eq(wcnt[k] + 1)
        cslot = Signal(range(ncol))
        ctile = Signal(TASK_WIDTH)
        # Tasks not in a closed tile, the next tile's count and "all closed" are registers.
        rest = Signal(TASK_WIDTH + 1)
        ccount = Signal(oaw + 1)
        all_closed = Signal()
        wc = Signal(oaw + 1)
        for k in range(ncol):
            with m.If(cslot == k):
                m.d.comb += wc.eq(wcnt[k])
        rest_n = Signal(TASK_WIDTH + 1)
        m.d.comb += rest_n.eq(Mux(rest > d.tile_size, rest - d.tile_size, 0))
        m.d.comb += [ob.close.valid.eq(running & ~all_closed & (ctile < disp.opened)
                                       & (wc == ccount)),
                     ob.close.payload.colour.eq(cslot), ob.close.payload.count.eq(ccount)]
        with m.If(ob.close.valid & ob.close.ready):
            m.d.sync += [ctile.eq(ctile + 1), rest.eq(rest_n), all_closed.eq(rest_n == 0),
                         ccount.eq(Mux(rest_n < d.tile_size, rest_n, d.tile_size)),
                         cslot.eq(Mux(cslot == ncol - 1, 0, cslot + 1) if ncol > 1 else 0)]
        with m.If(self.start):
            m.d.sync += [ctile.eq(0), cslot.eq(0), rest.eq(ds.n_tasks),
                         all_closed.eq(ds.n_tasks == 0),
                         ccount.eq(Mux(ds.n_tasks < ds.tile_size, ds.n_tasks, ds.tile_size))]
        wiring.connect(m, wiring.flipped(self.o), ob.o)

        with m.If(running & all_closed & ob.close.ready):
            m.d.sync += [running.eq(0), self.done.eq(1)]
        # The banks count reads since reset; the run's are counted from start.
        reads_now = Signal(COUNTER_WIDTH)
        reads_base = Signal(COUNTER_WIDTH)
        m.d.comb += [reads_now.eq(sum(f.reads for f in banks)),
                     self.reads.eq(reads_now - reads_base)]
        with m.If(self.start):
            m.d.sync += [d.eq(self.desc), running.eq(1), self.done.eq(0), self.cycles.eq(0),
                         self.requests.eq(0), reads_base.eq(reads_now)]
