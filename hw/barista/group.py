"""One filter's group of SparTen compute units, barrier-free, fed by BARISTA's dispatcher.

The reduced-scale core of a BARISTA cluster: ``units_per_cluster`` SparTen compute units
(``hw.sparten.cu.ComputeUnit``, unchanged) share one filter; :class:`~.dispatch.TaskDispatch`
hands each unit the next output position as soon as it frees (dynamic round-robin, coloured
tiles), and each unit streams that position's chunk pairs into its compute unit with no barrier
to the others. Every unit reads its chunks through its own read ports of the activation and filter
memories here *(ours, for this reduced scale)*; the shared-bank network with combining and
snarfing is :mod:`.fetch`, the coloured result storage :mod:`.outbuf`, not yet joined to it.

Layer shape *(ours)*: a 1x1 convolution on ``n_tasks`` positions of ``n_chunks`` channel chunks
(the activation memory holds position ``p``'s chunk ``j`` at ``p * n_chunks + j``, the filter
memory its chunk ``j`` at ``j``), the shape whose every task is one dot product.

Timing: a unit granted task ``p`` in cycle ``t`` reads its chunk 0 then, presents it at ``t + 1``
and the compute unit takes a chunk every ``max(1, ceil(m / M))`` cycles (SparTen's cost); the unit
reports ``fin`` one cycle before the last beat of the task's last chunk, at ``t + cost(p)``, and
can be granted again in that cycle, so the next task's first chunk meets the compute unit in that
last beat: tasks cost exactly their chunk costs, back to back, and the run follows
:func:`golden.barista.group_schedule` (with ``TaskDispatch.latencies()``). Results leave on each
unit's ``res`` (the compute unit's, ``addr`` = the task) ``result_latency`` cycles after that last
beat.
"""

import dataclasses
import types

from amaranth import Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..sparten.config import SparTenConfig
from ..sparten.cu import ComputeUnit, chunk_word, result_layout
from .dispatch import TASK_WIDTH, TaskDispatch

__all__ = ["BaristaGroup", "FILTER_DEPTH", "cu_config"]

#: Filter chunks the group's filter memory holds *(ours)*: channels up to 16 chunks.
FILTER_DEPTH = 16


def cu_config(config):
    """The SparTen config of the compute units of a BARISTA config (same chunk and widths; the
    output address is the task index)."""
    return SparTenConfig(chunk=config.chunk, value_width=config.value_width,
                         acc_width=config.acc_width, n_units=1,
                         matches_per_cycle=config.matches_per_cycle,
                         out_depth=1 << TASK_WIDTH, act_depth=config.input_buffer_chunks,
                         max_reduction=FILTER_DEPTH * config.chunk)


class BaristaGroup(wiring.Component):
    """Dispatcher + ``units_per_cluster`` SparTen compute units + chunk memories.

    Members
    -------
    start : In(1)
        Begin a run of ``n_tasks`` tasks, ``tile_size`` per tile, ``n_chunks`` chunks each.
    n_tasks, tile_size, n_chunks : In
    act_we, act_addr, act_data / wgt_we, wgt_addr, wgt_data : In
        Memory load ports (before ``start``).
    res : Out(result_layout).array(units)
        Each unit's results (valid one cycle, ``addr`` = task).
    grant, fin : Out(units)
        The dispatcher's grants and the units' task ends (observability).
    idle : Out(1)
        All tasks granted and finished.
    """

    def __init__(self, config):
        self._cfg = config
        self._cu = cu_config(config)
        n = config.units_per_cluster
        cw = chunk_word(self._cu)
        self.act_aw = max(1, ceil_log2(config.input_buffer_chunks))
        #: The dispatcher (its ``task`` ports say which task a ``grant`` starts).
        self.dispatch = TaskDispatch(config)
        super().__init__({
            "start": In(1),
            "n_tasks": In(TASK_WIDTH),
            "tile_size": In(TASK_WIDTH),
            "n_chunks": In(range(FILTER_DEPTH + 1)),
            "act_we": In(1), "act_addr": In(self.act_aw), "act_data": In(cw),
            "wgt_we": In(1), "wgt_addr": In(range(FILTER_DEPTH)), "wgt_data": In(cw),
            "res": Out(result_layout(self._cu)).array(n),
            "grant": Out(n),
            "fin": Out(n),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, n = self._cfg, self._cfg.units_per_cluster
        cw = chunk_word(self._cu)
        m.submodules.dispatch = disp = self.dispatch
        act = memory.Memory(shape=cw, depth=cfg.input_buffer_chunks, init=[])
        wgt = memory.Memory(shape=cw, depth=FILTER_DEPTH, init=[])
        m.submodules.act = act
        m.submodules.wgt = wgt
        awp, wwp = act.write_port(), wgt.write_port()
        m.d.comb += [awp.en.eq(self.act_we), awp.addr.eq(self.act_addr), awp.data.eq(self.act_data),
                     wwp.en.eq(self.wgt_we), wwp.addr.eq(self.wgt_addr), wwp.data.eq(self.wgt_data)]
        nch = Signal(range(FILTER_DEPTH + 1))
        with m.If(self.start):
            m.d.sync += nch.eq(self.n_chunks)
        # The chunk base of the dispatcher's next task (task * n_chunks), kept by additions: a
        # grant's read address is that plus rank * n_chunks, no multiplier after the grant.
        base_w = self.act_aw + 1
        next_base = Signal(base_w)
        times = [Signal(base_w, name=f"nch_x{r}") for r in range(n + 1)]
        m.d.comb += [t.eq(r * nch) for r, t in enumerate(times)]
        m.d.sync += next_base.eq(TaskDispatch.and_or(m, [next_base + t for t in times],
                                                     disp.granted, "next_base_n"))
        with m.If(self.start):
            m.d.sync += next_base.eq(0)
        m.d.comb += [disp.start.eq(self.start), disp.n_tasks.eq(self.n_tasks),
                     disp.tile_size.eq(self.tile_size), self.grant.eq(disp.grant),
                     self.idle.eq(disp.idle)]
        ctx = types.SimpleNamespace()
        ctx.act, ctx.disp, ctx.n = act, disp, n
        ctx.nch, ctx.next_base, ctx.times, ctx.wgt = nch, next_base, times, wgt
        fins = [self._unit(m, ctx, i) for i in range(n)]
        for i, f in enumerate(fins):
            m.d.comb += [disp.fin[i].eq(f), self.fin[i].eq(f)]
        return m

    def _unit(self, m, ctx, i):
        """Unit ``i``: its compute unit, read ports and chunk cursor; returns its ``fin``."""
        act, disp, n = ctx.act, ctx.disp, ctx.n
        nch, next_base, times, wgt = ctx.nch, ctx.next_base, ctx.times, ctx.wgt
        cu = ComputeUnit(self._cu)
        m.submodules[f"cu{i}"] = cu
        arp, wrp = act.read_port(), wgt.read_port()
        task = Signal(TASK_WIDTH, name=f"task{i}")
        base = Signal(self.act_aw + 1, name=f"base{i}")      # task * n_chunks
        j = Signal(range(FILTER_DEPTH + 1), name=f"j{i}")    # next chunk to read
        pv = Signal(name=f"pv{i}")                           # a chunk is on the read ports
        pj = Signal(range(FILTER_DEPTH), name=f"pj{i}")
        plast = Signal(name=f"plast{i}")                     # pj == n_chunks - 1
        active = Signal(name=f"active{i}")
        more = Signal(name=f"more{i}")                       # active and j < n_chunks
        sent = Signal(name=f"sent{i}")                       # the task's last chunk was taken
        g = disp.grant[i]
        advance = Signal(name=f"advance{i}")
        issue = Signal(name=f"issue{i}")
        m.d.comb += [advance.eq(~pv | cu.i.ready),
                     issue.eq(g | (more & advance))]
        new_base = Signal.like(base, name=f"new_base{i}")
        with m.Switch(disp.rank[i]):
            for r in range(n):
                with m.Case(r):
                    m.d.comb += new_base.eq(next_base + times[r])
        # A unit is granted only once it has read all its chunks (``~more``): its chunk cursor
        # is then dead, so it reads and loads the dispatcher's task for it whether granted or
        # not, and the grant (late: it follows the other units' ``fin``) only sets ``pv``,
        # ``more`` and ``active`` (issue 11: it fanned out into the whole cursor).
        m.d.comb += wrp.addr.eq(Mux(more, j, 0))
        m.d.comb += arp.addr.eq(Mux(more, base + j, new_base))
        m.d.comb += [arp.en.eq(advance), wrp.en.eq(advance)]
        m.d.comb += [cu.i.valid.eq(pv), cu.i.payload.act.eq(arp.data),
                     cu.i.payload.wgt.eq(wrp.data), cu.i.payload.first.eq(pj == 0),
                     cu.i.payload.last.eq(plast), cu.i.payload.out_addr.eq(task),
                     cu.clear.eq(self.start), cu.others_busy.eq(0),
                     self.res[i].eq(cu.res)]
        fin, last_take, ccost, rem = self._fin(m, i, cu, arp, wrp, pv, plast, sent)
        with m.If(advance):
            m.d.sync += [pv.eq(issue), pj.eq(0), plast.eq(nch == 1)]
            with m.If(more):
                m.d.sync += [pj.eq(j), plast.eq(j == nch - 1)]
            with m.Else():
                m.d.sync += task.eq(disp.task[i])
        with m.If(last_take):
            m.d.sync += active.eq(0)
            with m.If(ccost > 1):
                m.d.sync += [sent.eq(1), rem.eq(ccost - 1)]
        with m.Elif(sent):
            m.d.sync += rem.eq(rem - 1)
            with m.If(rem == 1):
                m.d.sync += sent.eq(0)
        with m.If(~more):
            m.d.sync += [base.eq(new_base), j.eq(1)]
        with m.Elif(issue):
            m.d.sync += j.eq(j + 1)
        with m.If(g):
            m.d.sync += [active.eq(1), more.eq(nch > 1)]
        with m.Elif(issue):
            m.d.sync += more.eq(j + 1 < nch)
        return fin

    def _fin(self, m, i, cu, arp, wrp, pv, plast, sent):
        """Unit ``i``'s task end: ``fin`` one cycle before its last beat, from the last chunk's
        match count (SparTen's join cost); returns ``fin, last_take, ccost, rem``."""
        # The task ends, for the dispatcher, one cycle before the compute unit's last beat:
        # the next task's first chunk, read in the grant cycle, then meets the unit in that
        # last beat (when it takes a chunk), so tasks follow each other without a bubble.
        # The last chunk's cost is its matches (SparTen's join cost), counted here.
        m_now = Signal(range(self._cu.chunk + 1), name=f"m{i}")
        m_and = Signal(self._cu.chunk, name=f"and{i}")
        m.d.comb += [m_and.eq(arp.data.mask & wrp.data.mask),
                     m_now.eq(sum(m_and[b] for b in range(self._cu.chunk)))]
        mpc = self._cu.matches_per_cycle
        ccost = Signal(range(self._cu.chunk + 2), name=f"ccost{i}")
        shift = {1: 0, 2: 1, 4: 2}[mpc]
        m.d.comb += ccost.eq(Mux(m_now == 0, 1, (m_now + (mpc - 1)) >> shift))
        rem = Signal(range(self._cu.chunk + 1), name=f"rem{i}")
        last_take = Signal(name=f"last_take{i}")
        m.d.comb += last_take.eq(pv & cu.i.ready & plast)
        fin = Signal(name=f"fin{i}")
        m.d.comb += fin.eq((last_take & (ccost == 1)) | (sent & (rem == 1)))
        return fin, last_take, ccost, rem
