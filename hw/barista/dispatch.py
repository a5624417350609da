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

Tiles are opened from registered state only, at most one per cycle: a tile opens in the cycle after
its colour's last task ended (the unfinished-task counts are registers) and its tasks are granted
from two cycles after it opened (through a register into the registered count of open tasks):
:attr:`TaskDispatch.open_latency` = 1 and :attr:`TaskDispatch.release_latency` = 2, which
:func:`golden.barista.group_schedule` and the scheduling rule of :func:`golden.barista.layer_cycles`
take as keywords (:meth:`TaskDispatch.latencies`); ``hw.barista`` tests drive the block with units
that stay busy for each task's cost and compare every grant. So no path runs from a ``fin`` through
the tile state into a grant (issue 11: that chain made the group 18.3 ns; it is 4.98 ns now,
``docs/timing.md``).

*(ours)*: the ranking by free time (a queue of free units in the order they freed) is what
"round-robin" means here; ranking by index alone would give a waiting unit's turn to one that freed
later. ``tile_size >= n_units`` is a precondition (a cycle's grants span at most two tiles).

With ``colour_free=True`` (the cluster, :mod:`hw.barista.cluster`) a tile's colour is not free
when the tile ``colours`` before it has ended its tasks but when the output buffer has drained it:
the input ``free`` (one bit per colour, a register of the cluster) then decides whether the next
tile may open, and ``opening`` says which colour a tile took this cycle.
"""

import functools
import types
import operator

from amaranth import Cat, Const, Module, Mux, Signal, Value
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
    granting : Out(1)
        Some unit is granted in this cycle (``grant != 0``, from the counts, not the ranking).
    granted : Out(max_grants + 1)
        One-hot: bit ``r``, ``r`` units are granted in this cycle (``popcount(grant)``, from the
        counts, so a user can select among values precomputed per count).
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
    #: freed (the last task's ``fin``, or ``free`` rising) and after the tile before it opened
    #: (the unfinished-task counts are registers) ...
    open_latency = 1
    #: ... and its tasks are granted from ``release_latency`` cycles after it opened (its task
    #: count reaches the registered count of open tasks through one register).
    release_latency = 2

    @classmethod
    def latencies(cls):
        """``{"open_latency", "release_latency"}``: the keywords of
        :func:`golden.barista.group_schedule` and :func:`golden.barista.layer_cycles`."""
        return {"open_latency": cls.open_latency, "release_latency": cls.release_latency}

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
            "granting": Out(1),
            "granted": Out(self._max + 1),
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
        ncol = self._colours
        slot_done = Signal()
        for k in range(ncol):
            with m.If(st["open_slot"] == k):
                m.d.comb += slot_done.eq(self.free[k] if self._colour_free
                                         else st["todo"][k] == 0)
        opening = Signal()
        m.d.comb += opening.eq((st["rest"] != 0) & slot_done)
        added = Signal.like(st["rest"])
        m.d.comb += added.eq(Mux(opening, st["size"], 0))
        m.d.comb += [self.opened.eq(st["opened"]),
                     self.opening.eq(Cat(opening & (st["open_slot"] == k) for k in range(ncol)))]
        rest = Signal.like(st["rest"])
        m.d.comb += rest.eq(st["rest"] - st["size"])
        with m.If(opening):
            m.d.sync += [st["opened"].eq(st["opened"] + 1), st["rest"].eq(rest),
                         st["size"].eq(Mux(rest < st["tsize"], rest, st["tsize"])),
                         st["open_slot"].eq(self._inc(st["open_slot"]))]
        return opening, added

    def _tables(self, m, st, r_max):
        """For each grant count ``r`` in ``0..r_max``, from registers only: the task, offset
        and colour ``r`` places after the next, and the open tasks (and their ``avail``) left
        after ``r`` grants."""
        tw, tab = TASK_WIDTH, {"task": [], "off": [], "slot": [], "room": [], "avail": []}
        for r in range(r_max + 1):
            o = Signal(tw + 1, name=f"off_r{r}")
            wrap = Signal(name=f"wrap_r{r}")
            left = Signal(tw + 2, name=f"room_r{r}")
            m.d.comb += [o.eq(st["off"] + r), wrap.eq(o >= st["tsize"]),
                         left.eq(st["room"] + st["pend"] - r)]
            tab["task"].append(st["nxt"] + r)
            tab["off"].append(Mux(wrap, o - st["tsize"], o))
            tab["slot"].append(Mux(wrap, self._inc(st["slot"]), st["slot"]))
            tab["room"].append(left)
            tab["avail"].append(Mux(left < self._max, left, self._max))
        return tab

    def _pick(self, m, tab, sel, name):
        """``tab[key][sel]`` for every key, as signals named ``{key}_{name}``."""
        out = {}
        for key, vals in tab.items():
            sig = Signal(len(vals[0]), name=f"{key}_{name}")
            with m.Switch(sel):             # one parallel multiplexer, not a chain
                for r, v in enumerate(vals[:1 << len(sel)]):
                    with m.Case(r):
                        m.d.comb += sig.eq(v)
            out[key] = sig
        return out

    @staticmethod
    def and_or(m, vals, sel, name):
        """``vals[r]`` for the one-hot ``sel``, as an AND-OR (no priority, no decode)."""
        width = max(len(Value.cast(v)) for v in vals)
        sig = Signal(width, name=name)
        m.d.comb += sig.eq(functools.reduce(operator.or_, (
            Value.cast(v)[:width] & sel[r].replicate(width) for r, v in enumerate(vals))))
        return sig

    def elaborate(self, platform):
        m = Module()
        n, ncol, tw = self._n, self._colours, TASK_WIDTH
        shapes = {"ntask": tw, "tsize": tw,
                  "opened": tw,                 # tiles opened
                  "rest": tw,                   # tasks not in an opened tile
                  "size": tw,                   # tasks of the next tile to open
                  "open_slot": range(ncol),     # slot of the next tile to open
                  "nxt": tw,                    # next task to grant
                  "off": tw,                    # its offset in its tile
                  "slot": range(ncol),          # colour (slot) of its tile
                  "room": tw + 1,               # tasks of the opened tiles not yet granted
                  "pend": tw,                   # tasks of the tile opened in the last cycle
                  "avail": bits_for(self._max)}     # min(room, max_grants)
        st = {k: Signal(shape, name=k) for k, shape in shapes.items()}
        # Tasks of the tile in each slot not yet finished (0: the colour is free).
        st["todo"] = [Signal(tw, name=f"todo{k}") for k in range(ncol)]
        ubusy = Signal(n)
        uslot = [Signal(range(ncol), name=f"uslot{i}") for i in range(n)]
        # ahead[i][j]: idle unit j freed before idle unit i (or in the same cycle, j < i).
        ahead = [[Signal(name=f"ahead{i}_{j}") if j != i else None for j in range(n)]
                 for i in range(n)]
        fin = Signal(n)
        m.d.comb += fin.eq(self.fin & ubusy)

        opening, st["added"] = self._open_tiles(m, st)

        v = types.SimpleNamespace()
        v.ahead, v.fin, v.n, v.ncol = ahead, fin, n, ncol
        v.ubusy, v.uslot = ubusy, uslot
        self._grants(m, st, v)
        self._next_state(m, st, v)
        n_idle = v.n_idle

        with m.If(self.start):
            m.d.sync += [st["ntask"].eq(self.n_tasks), st["tsize"].eq(self.tile_size),
                         st["nxt"].eq(0), st["room"].eq(0), st["pend"].eq(0), st["avail"].eq(0),
                         st["off"].eq(0),
                         st["slot"].eq(0), st["opened"].eq(0), st["rest"].eq(self.n_tasks),
                         st["size"].eq(Mux(self.n_tasks < self.tile_size, self.n_tasks,
                                           self.tile_size)),
                         st["open_slot"].eq(0), ubusy.eq(0), n_idle.eq(n)]
            m.d.sync += [c.eq(0) for c in st["todo"]]
            m.d.sync += [ahead[i][j].eq(j < i) for i in range(n) for j in range(n) if j != i]
        return m

    def _grants(self, m, st, v):
        """This cycle's grants: each unit's rank, grant and granted task, and the idle units'
        order (``v``: the shared signals; adds ``tab``, ``n_idle``, ``n_fin``, ``grants``...)."""
        ahead, fin, n, ubusy = v.ahead, v.fin, v.n, v.ubusy
        uslot = v.uslot
        # Grants: every idle unit ranks by ``ahead`` (registers); the units finishing now come
        # after the ``n_idle`` idle ones, and ``slack`` of them are granted. Every value a grant
        # selects is tabulated from registers (``tab``, by rank and by grant count), so after a
        # ``fin`` only a small popcount, its decode and AND-OR selects remain.
        avail = st["avail"]
        # A cycle grants at most ``mx`` (rank ``mx`` and above is never granted), so the tables
        # and the grant counts stop there.
        mx = self._max
        tab = self._tables(m, st, mx)
        n_idle = Signal(range(n + 1), init=n)       # popcount(~ubusy), kept as a register
        idle_g, slack = (Signal(range(mx + 1), name=k) for k in ("idle_g", "slack"))
        m.d.comb += [idle_g.eq(Mux(avail < n_idle, avail, n_idle)),
                     slack.eq(avail - idle_g)]
        n_fin = Signal(range(n + 1))
        m.d.comb += n_fin.eq(popcount(fin))
        m.d.comb += self.granting.eq((avail != 0) & ((n_idle != 0) | fin.any()))
        grants = []
        for i in range(n):
            idle_rank = popcount(Cat(~ubusy[j] & ahead[i][j] for j in range(n) if j != i))
            lower = popcount(Cat(fin[j] for j in range(i))) if i else Const(0, 1)
            g = Signal(name=f"g{i}")
            rank = Signal(range(n), name=f"rank{i}")
            m.d.comb += [g.eq(Mux(ubusy[i], fin[i] & (lower < slack), idle_rank < avail)),
                         rank.eq(Mux(ubusy[i], n_idle + lower, idle_rank) if n > 1 else 0),
                         self.grant[i].eq(g), self.rank[i].eq(rank if self._max > 1 else 0)]
            grants.append(g)
            if self._max == 1:          # only rank 0 is granted: the registers as they are
                m.d.comb += [self.task[i].eq(st["nxt"]), self.slot[i].eq(st["slot"]),
                             self.offset[i].eq(st["off"])]
            else:
                mine = self._pick(m, {k: tab[k] for k in ("task", "slot", "off")}, rank, f"u{i}")
                m.d.comb += [self.task[i].eq(mine["task"]), self.slot[i].eq(mine["slot"]),
                             self.offset[i].eq(mine["off"])]
            with m.If(g):
                m.d.sync += uslot[i].eq(self.slot[i])
        for i in range(n):
            for j in range(n):
                if j == i:
                    continue
                with m.If(fin[i]):
                    m.d.sync += ahead[i][j].eq(~fin[j] | (j < i))
                with m.Elif(fin[j]):
                    m.d.sync += ahead[i][j].eq(0)
        v.avail, v.grants, v.mx, v.n_fin = avail, grants, mx, n_fin
        v.n_idle, v.tab = n_idle, tab

    def _next_state(self, m, st, v):
        """The next task state, chosen one-hot by the grant count, the idle count and the
        per-colour unfinished tasks."""
        avail, fin, grants, mx = v.avail, v.fin, v.grants, v.mx
        n, n_fin, n_idle, ncol = v.n, v.n_fin, v.n_idle, v.ncol
        tab, ubusy, uslot = v.tab, v.ubusy, v.uslot
        # The next state is ``tab[idle_g + fin_g]`` = ``tab[min(avail, n_idle + n_fin)]``: for
        # each value of ``n_fin`` that choice, one-hot, is a function of registers only, so a
        # ``fin`` reaches the next state through its count's decode and two AND-OR levels.
        # Likewise the idle units left: ``max(n_idle + n_fin - avail, 0)``.
        sel = Signal(mx + 1)
        choice, left = [], []
        for f in range(n + 1):
            c = Signal(mx + 1, name=f"choice_f{f}")
            tot = Signal(range(n + f + 1), name=f"tot_f{f}")
            m.d.comb += [tot.eq(n_idle + f),
                         c.eq(Cat(Mux(tot < avail, tot, avail) == r for r in range(mx + 1)))]
            choice.append(c & (n_fin == f).replicate(mx + 1))
            left.append(Mux(tot > avail, tot - avail, 0))
        m.d.comb += [sel.eq(functools.reduce(operator.or_, choice)), self.granted.eq(sel)]
        m.d.sync += n_idle.eq(self.and_or(m, left, Cat(n_fin == f for f in range(n + 1)),
                                          "n_idle_next"))
        after = {key: self.and_or(m, vals, sel, f"{key}_next") for key, vals in tab.items()}
        m.d.sync += [st["nxt"].eq(after["task"]), st["off"].eq(after["off"]),
                     st["slot"].eq(after["slot"]), st["room"].eq(after["room"]),
                     st["avail"].eq(after["avail"]), st["pend"].eq(st["added"]),
                     ubusy.eq(Cat(*grants) | (ubusy & ~fin))]
        for k in range(ncol):
            # ``todo - done`` for every count of tasks ending, chosen by the count, one-hot.
            done_k = popcount(Cat(fin[i] & (uslot[i] == k) for i in range(n)))
            left = self.and_or(m, [st["todo"][k] - c for c in range(n + 1)],
                               Cat(done_k == c for c in range(n + 1)), f"todo_left{k}")
            m.d.sync += st["todo"][k].eq(Mux(self.opening[k], st["size"], left))
        m.d.comb += self.idle.eq((st["nxt"] == st["ntask"]) & (ubusy == 0))
