"""BARISTA's dynamic round-robin assignment of work within a filter, with coloured tiles.

The units of one filter's group take the filter's tasks (output positions, in order) as they free
up, instead of a static share each (arXiv 2104.08734: "dynamic round-robin work assignment"). The
tasks are cut into tiles; a tile writes into one colour of the output buffer, so tile ``s`` opens
only once tile ``s - colours`` has completed (its colour is free) and tile ``s - 1`` has opened.

Each cycle every waiting unit (idle, or finishing a task this cycle) is ranked by the cycle it
became free, then by index; the ``k`` first of them get the next ``k`` tasks of the opened tiles
(``k`` = as many as are open, at most ``max_grants`` per cycle). A unit finishing in cycle ``t``
can be granted in ``t``: it ranks after every idle unit, so its rank is the idle count plus the
finishing units of lower index, and the order of the idle units is a registered matrix (who freed
first), not a comparison of time stamps.

Tiles are opened from registered state only, at most one per cycle: a tile opens in the cycle
after its colour's last task ended (the finished-task counts are registers) and its tasks are
granted from the cycle after it opened (the count of open tasks is a register). That is
:attr:`TaskDispatch.open_latency` = 1 twice, which :func:`golden.barista.group_schedule` and the
scheduling rule of :func:`golden.barista.layer_cycles` take as ``open_latency``; ``hw.barista``
tests drive the block with units that stay busy for each task's cost and compare every grant.
So no path runs from a ``fin`` through the tile state into a grant (issue 11: that chain made the
group 18.4 ns).

*(ours)*: the ranking by free time (a queue of free units in the order they freed) is what
"round-robin" means here; ranking by index alone would give a waiting unit's turn to one that freed
later. ``tile_size >= n_units`` is a precondition (a cycle's grants span at most two tiles).

With ``colour_free=True`` (the cluster, :mod:`hw.barista.cluster`) a tile's colour is not free
when the tile ``colours`` before it has ended its tasks but when the output buffer has drained it:
the input ``free`` (one bit per colour, a register of the cluster) then decides whether the next
tile may open, and ``opening`` says which colour a tile took this cycle.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from ..common.bits import popcount

__all__ = ["TaskDispatch", "TASK_WIDTH"]

TASK_WIDTH = 16


class TaskDispatch(wiring.Component):
    """Hands the tasks of one filter to ``units_per_cluster`` units, ``colours`` tiles in flight.

    Parameters
    ----------
    config : BaristaConfig
        ``units_per_cluster`` units, ``colours`` colours.
    colour_free : bool
        Colours are freed by the ``free`` input (the cluster's drained colours) instead of by the
        finished-task counts.
    max_grants : int or None
        Grants per cycle at most (None: ``units_per_cluster``). With 1 the granted task, its
        colour and offset are registers (the cluster's fetchers take the task cursor as is).

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
    rank : Out(range(n_units)).array(n_units)
        ``task[i]`` minus the first task granted this cycle (valid with ``grant``), so that a
        user can keep per-task values incrementally instead of from the task index.
    slot, offset : Out.array(n_units)
        The colour of the granted task's tile and its place in the tile (valid with ``grant``).
    fin : In(n_units)
        Bit ``i``: unit ``i`` ends its task in this cycle (it may be granted the next one in the
        same cycle).
    idle : Out(1)
        Every task granted and every unit idle.
    opened : Out(16)
        Tiles opened before this cycle.
    opening : Out(colours)
        Bit ``k``: a tile opens into colour ``k`` in this cycle (its tasks are granted from the
        next cycle on).
    free : In(colours)
        Only with ``colour_free``: bit ``k``, colour ``k`` may take a new tile.
    """

    #: Registered stages of the tile state: a tile opens ``open_latency`` cycles after its colour
    #: freed (the last task's ``fin``, or ``free`` rising) and after the tile before it opened, and
    #: its tasks are granted from ``open_latency`` cycles after it opened.
    open_latency = 1

    def __init__(self, config, colour_free=False, max_grants=None):
        self._n = config.units_per_cluster
        self._colours = config.colours
        self._colour_free = colour_free
        self._max = self._n if max_grants is None else max_grants
        if not 1 <= self._max <= self._n:
            raise ValueError(f"max_grants must be in 1..{self._n} (units_per_cluster), not "
                             f"{max_grants!r}")
        ports = {
            "start": In(1),
            "n_tasks": In(TASK_WIDTH),
            "tile_size": In(TASK_WIDTH),
            "grant": Out(self._n),
            "task": Out(TASK_WIDTH).array(self._n),
            "rank": Out(range(self._n)).array(self._n),
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

    @property
    def max_grants(self):
        """Grants per cycle at most."""
        return self._max

    def _inc(self, slot):
        return Mux(slot == self._colours - 1, 0, slot + 1) if self._colours > 1 else slot

    def _open_tiles(self, m, st):
        """The tile opening of this cycle, from registers only; returns (opening, tasks added)."""
        ncol, tw = self._colours, TASK_WIDTH
        slot_done = Signal()
        for k in range(ncol):
            with m.If(st["open_slot"] == k):
                m.d.comb += slot_done.eq(self.free[k] if self._colour_free
                                         else st["cnt"][k] == st["tsize"])
        opening = Signal()
        m.d.comb += opening.eq((st["open_end"] < st["ntask"])
                               & ((st["opened"] < ncol) | slot_done))
        left = Signal(tw + 1)
        added = Signal(tw + 1)
        m.d.comb += [left.eq(st["ntask"] - st["open_end"]),
                     added.eq(Mux(opening, Mux(left < st["tsize"], left, st["tsize"]), 0))]
        m.d.comb += [self.opened.eq(st["opened"]),
                     self.opening.eq(Cat(opening & (st["open_slot"] == k) for k in range(ncol)))]
        with m.If(opening):
            m.d.sync += [st["opened"].eq(st["opened"] + 1),
                         st["open_end"].eq(st["open_end"] + st["tsize"]),
                         st["open_slot"].eq(self._inc(st["open_slot"]))]
        return opening, added

    def _ranks(self, m, ubusy, fin, ahead):
        """Each unit's place among the waiting units: idle units by the registered order
        ``ahead``, then the units finishing now by index."""
        n = self._n
        n_idle = Signal(range(n + 1))
        m.d.comb += n_idle.eq(popcount(~ubusy))
        ranks = []
        for i in range(n):
            idle_rank = popcount(Cat(~ubusy[j] & ahead[i][j] for j in range(n) if j != i))
            fin_rank = n_idle + (popcount(Cat(fin[j] for j in range(i))) if i else 0)
            rank = Signal(range(n), name=f"rank{i}")
            m.d.comb += rank.eq(Mux(ubusy[i], fin_rank, idle_rank) if n > 1 else 0)
            ranks.append(rank)
        return ranks

    def elaborate(self, platform):
        m = Module()
        n, ncol, tw = self._n, self._colours, TASK_WIDTH
        st = {"ntask": Signal(tw), "tsize": Signal(tw),
              "opened": Signal(tw),             # tiles opened
              "open_end": Signal(tw + 1),       # tasks in the opened tiles (may pass n_tasks)
              "open_slot": Signal(range(ncol)),  # slot of the next tile to open
              "cnt": [Signal(tw, name=f"cnt{k}") for k in range(ncol)]}  # finished, per slot
        nxt = Signal(tw)                 # next task to grant
        room = Signal(tw + 1)            # tasks of the opened tiles not yet granted
        cur_off = Signal(tw)             # the next task's offset in its tile
        cur_slot = Signal(range(ncol))   # colour (slot) of its tile
        ubusy = Signal(n)
        uslot = [Signal(range(ncol), name=f"uslot{i}") for i in range(n)]
        # ahead[i][j]: idle unit j freed before idle unit i (or in the same cycle, j < i).
        ahead = [[Signal(name=f"ahead{i}_{j}") if j != i else None for j in range(n)]
                 for i in range(n)]
        fin = Signal(n)
        m.d.comb += fin.eq(self.fin & ubusy)

        opening, added = self._open_tiles(m, st)

        avail = Signal(bits_for(self._max))
        m.d.comb += avail.eq(Mux(room < self._max, room, self._max))
        ranks = self._ranks(m, ubusy, fin, ahead)
        ngrant = []
        for i in range(n):
            g = Signal(name=f"g{i}")
            m.d.comb += [g.eq((~ubusy[i] | fin[i]) & (ranks[i] < avail)), self.grant[i].eq(g),
                         self.rank[i].eq(ranks[i] if self._max > 1 else 0)]
            if self._max == 1:          # only rank 0 is granted: the registers as they are
                m.d.comb += [self.task[i].eq(nxt), self.slot[i].eq(cur_slot),
                             self.offset[i].eq(cur_off)]
            else:
                off = Signal(tw + 1, name=f"off{i}")
                m.d.comb += [off.eq(cur_off + ranks[i]), self.task[i].eq(nxt + ranks[i]),
                             self.slot[i].eq(Mux(off >= st["tsize"], self._inc(cur_slot),
                                                 cur_slot)),
                             self.offset[i].eq(Mux(off >= st["tsize"], off - st["tsize"], off))]
            with m.If(g):
                m.d.sync += uslot[i].eq(self.slot[i])
            ngrant.append(g)
        for i in range(n):
            for j in range(n):
                if j == i:
                    continue
                with m.If(fin[i]):
                    m.d.sync += ahead[i][j].eq(~fin[j] | (j < i))
                with m.Elif(fin[j]):
                    m.d.sync += ahead[i][j].eq(0)

        total = Signal(range(n + 1))
        m.d.comb += total.eq(popcount(Cat(*ngrant)))
        off_next = Signal(tw + 1)
        m.d.comb += off_next.eq(cur_off + total)
        m.d.sync += [nxt.eq(nxt + total), room.eq(room - total + added),
                     ubusy.eq(Cat(*ngrant) | (ubusy & ~fin))]
        with m.If(off_next >= st["tsize"]):
            m.d.sync += [cur_off.eq(off_next - st["tsize"]), cur_slot.eq(self._inc(cur_slot))]
        with m.Else():
            m.d.sync += cur_off.eq(off_next)
        for k in range(ncol):
            done_k = popcount(Cat(fin[i] & (uslot[i] == k) for i in range(n)))
            m.d.sync += st["cnt"][k].eq(Mux(self.opening[k], 0, st["cnt"][k] + done_k))
        m.d.comb += self.idle.eq((nxt == st["ntask"]) & (ubusy == 0))

        with m.If(self.start):
            m.d.sync += [st["ntask"].eq(self.n_tasks), st["tsize"].eq(self.tile_size),
                         nxt.eq(0), room.eq(0), cur_off.eq(0), cur_slot.eq(0),
                         st["opened"].eq(0), st["open_end"].eq(0), st["open_slot"].eq(0),
                         ubusy.eq(0)]
            m.d.sync += [c.eq(0) for c in st["cnt"]]
            m.d.sync += [ahead[i][j].eq(j < i) for i in range(n) for j in range(n) if j != i]
        return m
