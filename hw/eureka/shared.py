"""Reduction trees shared between rows (``EurekaConfig.tree_share`` = n > 1).

The rows form groups ``j`` of n consecutive rows (``j*n .. j*n+n-1``); every group has one product
register of L products, one own tree and one moved path (``suds{j}``, ``mov_tree{j}``), and its
rows take them in turns. The selects and multipliers stay per row. A weight beat is held on the
core's input for ``config.issue_interval`` = n cycles, its **turns**: in turn ``t`` the row-select
``share{j}`` passes row ``j*n+t``'s products (and ``disp`` bits) into the group's register; the beat
transfers (``w.ready``, and the activation window pops with ``last_window``) in the last turn.

With the turn travelling down the pipeline, the group's tree sums ``S`` and moved sums ``M`` of row
``r = j*n+t`` reach the accumulators in turn ``t``: ``acc[r] += S - M`` and the row above, which
hosts the moved weights, ``acc[r-1] += M``. So in turn ``t`` an accumulator adds one value: its own
group's ``S - M`` when ``t == r % n``, else the moved sum of row ``r+1``'s group when
``t == (r+1) % n`` (for n = 2 the two turns are exactly these). The output is emitted after the
last turn of a beat with ``last``: every row's last contribution has arrived by then.

Latency from the transfer (the last turn) to the output is the core's, ``EurekaCore.latency``; the
busy counter counts turns (``issue_interval`` per beat), which :func:`golden.eureka.cycle_model`
predicts.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .rows import RowMoved

__all__ = ["RowShare", "elaborate_shared"]


class RowShare(wiring.Component):
    """The row-select of one group of rows sharing a tree (combinational): ``p = rows[turn]``,
    ``disp = disps[turn]``."""

    def __init__(self, config):
        self._config = config
        n, L = config.tree_share, config.lanes
        prod = data.ArrayLayout(signed(2 * config.value_width), L)
        bits = data.ArrayLayout(unsigned(1), L)
        super().__init__({
            "turn": In(range(n)),
            "rows": In(data.ArrayLayout(prod, n)),
            "disps": In(data.ArrayLayout(bits, n)),
            "p": Out(prod),
            "disp": Out(bits),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._config.tree_share
        p, disp = self.rows[n - 1], self.disps[n - 1]
        for t in reversed(range(n - 1)):
            p = Mux(self.turn == t, self.rows[t], p)
            disp = Mux(self.turn == t, self.disps[t], disp)
        m.d.comb += [self.p.eq(p), self.disp.eq(disp)]
        return m


def _handshake(core, m, en):
    """A turn runs when both inputs are valid and the pipeline moves; the beat transfers (and pops
    its window with ``last_window``) in the last turn. Returns ``(step, turn)``."""
    n = core.config.issue_interval
    turn, step, final = Signal(range(n), name="turn"), Signal(), Signal()
    m.d.comb += [final.eq(turn == n - 1),
                 step.eq(core.w.valid & core.a.valid & en),
                 core.w.ready.eq(core.a.valid & en & final),
                 core.a.ready.eq(core.w.valid & en & final & core.w.payload.last_window)]
    with m.If(step):
        m.d.sync += [turn.eq(Mux(final, 0, turn + 1)), core.busy.eq(core.busy + 1)]
    return step, turn


def _stage_products(core, m, en, step, turn):
    """Stage 1: every row's select and multipliers; each group's row-select into its product
    register (``prod1``) with the disp bits (``disp1``). Returns ``(prod1, disp1, v1, t1, last1)``."""
    cfg = core.config
    n, L = cfg.tree_share, cfg.lanes
    groups = cfg.rows // n
    pshape = signed(2 * cfg.value_width)
    prod1 = [[Signal(pshape, name=f"prod1_{j}_{l}") for l in range(L)] for j in range(groups)]
    disp1 = [[Signal(name=f"disp1_{j}_{l}") for l in range(L)] for j in range(groups)]
    v1, t1, last1 = Signal(), Signal(range(n)), Signal()
    with m.If(en):
        m.d.sync += [v1.eq(step), t1.eq(turn), last1.eq(core.w.payload.last)]
    for j in range(groups):
        share = m.submodules[f"share{j}"] = RowShare(cfg)
        m.d.comb += share.turn.eq(turn)
        for t in range(n):
            r = j * n + t
            p, slots = core._row_products(m, r, core.a.payload.a)
            m.d.comb += share.rows[t].eq(p)
            if cfg.has_suds and r > 0:       # nothing is displaced out of the top row
                m.d.comb += [share.disps[t][l].eq(slots[l].disp) for l in range(L)]
        with m.If(en):
            m.d.sync += [prod1[j][l].eq(share.p[l]) for l in range(L)]
            if cfg.has_suds:
                m.d.sync += [disp1[j][l].eq(share.disp[l]) for l in range(L)]
    return prod1, disp1, v1, t1, last1


def _stage_trees(core, m, en, prod1, disp1, v1, t1, last1):
    """Stage 2: each group's tree of all its products and (SUDS) its moved sum, registered inside
    (``TREE_STAGES``) and at the output. Returns ``(s2, m2, v2, t2, last2)``; ``m2`` is empty
    without SUDS."""
    cfg = core.config
    L, groups = cfg.lanes, cfg.rows // cfg.tree_share
    vt, tt, lastt = Signal(), Signal.like(t1), Signal()
    v2, t2, last2 = Signal(), Signal.like(t1), Signal()
    with m.If(en):
        m.d.sync += [vt.eq(v1), tt.eq(t1), lastt.eq(last1), v2.eq(vt), t2.eq(tt), last2.eq(lastt)]
    s2, m2 = [], []
    for j in range(groups):
        s2.append(core._own_sum(m, en, prod1[j], j))
        if not cfg.has_suds:
            continue
        pick = m.submodules[f"suds{j}"] = RowMoved(cfg)
        m.d.comb += [pick.p[l].eq(prod1[j][l]) for l in range(L)]
        m.d.comb += [pick.disp[l].eq(disp1[j][l]) for l in range(L)]
        s = core._reduce(m, en, [pick.seg[k] for k in range(L // cfg.segment)], f"mov_tree{j}")
        reg = Signal(s.shape(), name=f"mov2_{j}")
        with m.If(en):
            m.d.sync += reg.eq(s)
        m2.append(reg)
    return s2, m2, v2, t2, last2


def _stage_accumulate(core, m, en, s2, m2, v2, t2, last2):
    """Stage 3: in turn ``t`` row ``r`` adds its group's ``S - M`` (``t == r % n``) or the moved
    sum of row ``r+1``'s group (``t == (r+1) % n``); the last turn of a ``last`` beat emits."""
    cfg = core.config
    n, R = cfg.tree_share, cfg.rows
    acc = [Signal(signed(cfg.acc_width), name=f"acc{r}") for r in range(R)]
    net = [s - mv for s, mv in zip(s2, m2)] if m2 else s2
    with m.If(en):
        m.d.sync += core.o.valid.eq(0)
        with m.If(v2):
            for r in range(R):
                add = 0
                if m2 and r + 1 < R:
                    add = Mux(t2 == (r + 1) % n, m2[(r + 1) // n], 0)
                total = acc[r] + Mux(t2 == r % n, net[r // n], add)
                with m.If(last2 & (t2 == n - 1)):
                    m.d.sync += [acc[r].eq(0), core.o.payload.acc[r].eq(total)]
                with m.Else():
                    m.d.sync += acc[r].eq(total)
            with m.If(last2 & (t2 == n - 1)):
                m.d.sync += core.o.valid.eq(1)


def elaborate_shared(core):
    """The core of ``core.config`` with trees shared by groups of ``tree_share`` rows."""
    m = Module()
    en = Signal()
    m.d.comb += en.eq(~core.o.valid | core.o.ready)
    step, turn = _handshake(core, m, en)
    st1 = _stage_products(core, m, en, step, turn)
    st2 = _stage_trees(core, m, en, *st1)
    _stage_accumulate(core, m, en, *st2)
    return m
