"""BARISTA's dynamic round-robin assignment of work within a filter, with coloured tiles.

The units of one filter's group take the filter's tasks (output positions, in order) as they free
up, instead of a static share each (arXiv 2104.08734: "dynamic round-robin work assignment"). The
tasks are cut into tiles; a tile writes into one colour of the output buffer, so tile ``s`` opens
only once tile ``s - colours`` has completed (its colour is free) and tile ``s - 1`` has opened.

Each cycle every waiting unit (idle, or finishing a task this cycle) is ranked by the cycle it
became free, then by index; the ``k`` first of them get the next ``k`` tasks of the opened tiles
(``k`` = as many as are open, at most ``n_units`` per cycle). This is exactly
:func:`golden.barista.group_schedule` and the scheduling rule of
:func:`golden.barista.layer_cycles`, cycle for cycle; ``hw.barista`` tests drive it with units that
stay busy for each task's cost and compare every grant.

*(ours)*: the ranking by free time (a queue of free units in the order they freed) is what
"round-robin" means here; ranking by index alone would give a waiting unit's turn to one that freed
later. ``tile_size >= n_units`` is a precondition (a cycle's grants span at most two tiles).

With ``colour_free=True`` (the cluster, :mod:`hw.barista.cluster`) a tile's colour is not free
when the tile ``colours`` before it has ended its tasks but when the output buffer has drained it:
the input ``free`` (one bit per colour, kept by the cluster) then decides whether the next tile
may open, and ``opening`` says which colour a tile took this cycle.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

__all__ = ["TaskDispatch", "TASK_WIDTH", "TIME_WIDTH"]

TASK_WIDTH = 16
TIME_WIDTH = 32


class TaskDispatch(wiring.Component):
    """Hands the tasks of one filter to ``units_per_cluster`` units, ``colours`` tiles in flight.

    Parameters
    ----------
    config : BaristaConfig
        ``units_per_cluster`` units, ``colours`` colours.

    Members
    -------
    start : In(1)
        Pulse: take ``n_tasks`` and ``tile_size`` and begin; the next cycle is cycle 0.
    n_tasks, tile_size : In(16)
        Tasks of the run and tasks per tile (``tile_size >= n_units``).
    grant : Out(n_units)
        Bit ``i``: unit ``i`` starts task ``task[i]`` in this cycle.
    task : Out(16).array(n_units)
        The task granted to each unit (valid with its ``grant`` bit).
    slot, offset : Out.array(n_units)
        The colour of the granted task's tile and its place in the tile (valid with ``grant``).
    fin : In(n_units)
        Bit ``i``: unit ``i`` ends its task in this cycle (it may be granted the next one in the
        same cycle).
    idle : Out(1)
        Every task granted and every unit idle.
    opened : Out(16)
        Tiles opened since ``start``.
    opening : Out(colours)
        Bit ``k``: a tile opens into colour ``k`` in this cycle.
    free : In(colours)
        Only with ``colour_free``: bit ``k``, colour ``k`` may take a new tile.
    """

    def __init__(self, config, colour_free=False):
        self._n = config.units_per_cluster
        self._colours = config.colours
        self._colour_free = colour_free
        ports = {
            "start": In(1),
            "n_tasks": In(TASK_WIDTH),
            "tile_size": In(TASK_WIDTH),
            "grant": Out(self._n),
            "task": Out(TASK_WIDTH).array(self._n),
            "slot": Out(range(self._colours)).array(self._n),
            "offset": Out(TASK_WIDTH).array(self._n),
            "fin": In(self._n),
            "idle": Out(1),
            "opened": Out(TASK_WIDTH),
            "opening": Out(self._colours),
        }
        if colour_free:
            ports["free"] = In(self._colours)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        n, ncol = self._n, self._colours
        tw = TASK_WIDTH
        ntask = Signal(tw)
        tsize = Signal(tw)
        nxt = Signal(tw)                 # next task to grant
        cur_off = Signal(tw)             # its offset in its tile
        cur_slot = Signal(range(ncol))   # colour (slot) of its tile
        opened = Signal(tw)              # tiles opened
        open_end = Signal(tw + 1)        # tasks in the opened tiles (may pass n_tasks)
        open_slot = Signal(range(ncol))  # slot of the next tile to open
        cnt = [Signal(tw, name=f"cnt{k}") for k in range(ncol)]   # finished tasks per slot
        ubusy = Signal(n)
        uslot = [Signal(range(ncol), name=f"uslot{i}") for i in range(n)]
        ts = [Signal(TIME_WIDTH, name=f"ts{i}") for i in range(n)]
        now = Signal(TIME_WIDTH)

        def inc(slot):
            return Mux(slot == ncol - 1, 0, slot + 1) if ncol > 1 else slot

        # Tasks finished this cycle, per slot.
        cnt_now = []
        for k in range(ncol):
            c = Signal(tw, name=f"cnt_now{k}")
            m.d.comb += c.eq(cnt[k] + sum((self.fin[i] & ubusy[i] & (uslot[i] == k))
                                          for i in range(n)))
            cnt_now.append(c)

        # Open tiles in order, at most ncol per cycle (tile s + ncol needs tile s complete).
        o, oe, osl = opened, open_end, open_slot
        reset = [Signal(name=f"reset{k}") for k in range(ncol)]
        for j in range(ncol):
            slot_done = Signal(name=f"slot_done{j}")
            m.d.comb += slot_done.eq(0)
            for k in range(ncol):
                with m.If(osl == k):
                    m.d.comb += slot_done.eq(self.free[k] if self._colour_free
                                             else cnt_now[k] == tsize)
            can = Signal(name=f"open{j}")
            prev_ok = Signal(name=f"chain{j}")
            m.d.comb += prev_ok.eq(1 if j == 0 else can_prev)
            m.d.comb += can.eq(prev_ok & (oe < ntask) & ((o < ncol) | slot_done))
            for k in range(ncol):
                with m.If(can & (osl == k)):
                    m.d.comb += reset[k].eq(1)
            o2, oe2, osl2 = Signal.like(o), Signal.like(oe), Signal.like(osl)
            m.d.comb += [o2.eq(Mux(can, o + 1, o)), oe2.eq(Mux(can, oe + tsize, oe)),
                         osl2.eq(Mux(can, inc(osl), osl))]
            o, oe, osl, can_prev = o2, oe2, osl2, can
        m.d.sync += [opened.eq(o), open_end.eq(oe), open_slot.eq(osl)]
        m.d.comb += [self.opened.eq(opened), self.opening.eq(Cat(*reset))]

        # Tasks grantable this cycle.
        limit = Signal(tw + 1)
        m.d.comb += limit.eq(Mux(oe < ntask, oe, ntask))
        avail = Signal(bits_for(n))
        room = Signal(tw + 1)
        m.d.comb += [room.eq(limit - nxt), avail.eq(Mux(room < n, room, n))]

        waiting = Signal(n)
        ts_eff = []
        for i in range(n):
            t = Signal(TIME_WIDTH, name=f"ts_eff{i}")
            m.d.comb += [waiting[i].eq(~ubusy[i] | self.fin[i]),
                         t.eq(Mux(self.fin[i], now, ts[i]))]
            ts_eff.append(t)
        ngrant = []
        for i in range(n):
            ahead = [waiting[j] & ((ts_eff[j] < ts_eff[i]) if j > i else (ts_eff[j] <= ts_eff[i]))
                     for j in range(n) if j != i]
            rank = Signal(range(n), name=f"rank{i}")
            m.d.comb += rank.eq(sum(ahead) if ahead else 0)
            g = Signal(name=f"g{i}")
            m.d.comb += [g.eq(waiting[i] & (rank < avail)), self.grant[i].eq(g),
                         self.task[i].eq(nxt + rank)]
            off = Signal(tw + 1, name=f"off{i}")
            m.d.comb += off.eq(cur_off + rank)
            m.d.comb += [self.slot[i].eq(Mux(off >= tsize, inc(cur_slot), cur_slot)),
                         self.offset[i].eq(Mux(off >= tsize, off - tsize, off))]
            with m.If(g):
                m.d.sync += uslot[i].eq(self.slot[i])
            with m.If(self.fin[i] & ~g):
                m.d.sync += ts[i].eq(now)
            ngrant.append(g)
        total = Signal(range(n + 1))
        m.d.comb += total.eq(sum(ngrant))
        off_next = Signal(tw + 1)
        m.d.comb += off_next.eq(cur_off + total)
        m.d.sync += [nxt.eq(nxt + total), now.eq(now + 1),
                     ubusy.eq(Cat(*ngrant) | (ubusy & ~self.fin))]
        with m.If(off_next >= tsize):
            m.d.sync += [cur_off.eq(off_next - tsize), cur_slot.eq(inc(cur_slot))]
        with m.Else():
            m.d.sync += cur_off.eq(off_next)
        for k in range(ncol):
            m.d.sync += cnt[k].eq(Mux(reset[k], 0, cnt_now[k]))
        m.d.comb += self.idle.eq((nxt == ntask) & (ubusy == 0))

        with m.If(self.start):
            m.d.sync += [ntask.eq(self.n_tasks), tsize.eq(self.tile_size), nxt.eq(0),
                         cur_off.eq(0), cur_slot.eq(0), opened.eq(0), open_end.eq(0),
                         open_slot.eq(0), ubusy.eq(0), now.eq(0)]
            m.d.sync += [c.eq(0) for c in cnt] + [t.eq(0) for t in ts]
        return m
