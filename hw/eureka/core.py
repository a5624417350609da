"""EUREKA-style tensor core: R rows x L lanes, output-stationary, G:1 muxes, SUDS displacement.

One generator, three variants (see :mod:`hw.eureka.config`): the EUREKA core, the dense baseline
and the Ampere-like 2:4 core. The core executes a schedule made offline by ``golden/eureka.py``:
every weight beat says, for every (row, lane) slot, which weight to multiply, which of the lane's G
activations to select, whether the slot is valid, and whether it holds a weight **displaced** from
the row above (SUDS); its product is then added to the row above's accumulator.

Datapath per cycle (one weight beat):

* lane ``l`` of every row sees the same group of G activations of the current window and each slot
  picks one with its G:1 mux (no mux when G = 1);
* row ``r`` reduces its L products in two trees: the products it owns and the products it holds for
  row ``r-1`` (SUDS only; row 0 has no such tree, as nothing is displaced into it);
* ``acc[r] += own[r] + moved[r+1]`` (``moved`` of the bottom row + 1 is 0).

``config.steer`` and ``config.disp_budget`` choose the SUDS datapath (area variants, measured by
``synth/suds_variants.py``):

* ``steer="before"``: products steered into ``own1``/``mov1`` before the register (2L product
  registers per row), two full trees;
* ``steer="after"`` (default): one product register and a ``disp`` bit per slot; ``own_tree{r}`` sums all of
  row r's products ``S[r]``, ``mov_tree{r}`` their moved part ``M[r]``, and
  ``acc[r] += S[r] - M[r] + M[r+1]``;
* ``disp_budget=D`` (with ``"after"``; default D=1): ``M[r]`` is an OR per segment of L/D lanes (at
  most one moved product per segment and cycle, by the scheduler) and a D-input adder, not a full
  tree (for D=1 the tree is one register);
* ``moved_sum="tree"`` (with D=1; what the default ``"auto"`` resolves to there, see
  ``config.moved_sum_resolved``): ``M[r+1] - M[r]`` is added to ``own_tree{r}``'s sum before its
  output register (no moved-sum output registers), and ``acc[r] += S'[r]``; ``"accumulate"``
  (``"auto"`` elsewhere) adds ``M[r+1] - M[r]`` in the accumulate as above.

``config.tree_share=2``: pairs of rows share their product register and trees and take turns on
them, a beat every two cycles (:mod:`hw.eureka.shared`, which builds that datapath).

``config.select`` chooses how the G:1 select of ``sel{r}`` is written (same function):
``"onehot"`` (default) decodes ``sel`` and ``valid`` into G enables and ORs the G AND terms as a
balanced tree (AOI22 + NAND4 cells on sky130 hd: 11,371 µm² a row at 1x32, G=8), ``"mux"`` is the
indexed ``a[sel]`` gated by ``valid`` (17,136 µm²).

``config.lane_sync`` chooses how the lanes step through their windows:

* ``"lockstep"`` (default): one activation stream of whole windows (``L*G`` values); every lane
  reads the current window and a beat with ``last_window`` pops it, so a window costs the cycles
  of its slowest lane;
* ``"independent"``: an activation stream per lane (``a[l]``, G values per window) and a
  ``last_window`` bit per lane, so each lane has its own window position and pops its own stream;
  beat ``s`` holds the ``s``-th cycle of every lane's own schedule (a lane that has ended its
  windows gets all-invalid slots) and the lanes meet where an output ends (``last``). A beat waits
  for the streams of the lanes that need their window in it (a valid slot, or the pop). The
  datapath is the lock-step one with ``disp_budget=0`` (a full moved tree per row, as the model
  assumes: lanes that do not share windows cannot share moved slots); the lock-step Verilog is
  unchanged by the option.

The combinational datapath of every row is split into named submodules so that synthesis (which
keeps Amaranth's hierarchy: module ``<top>.<name>``) reports each block's area; the pipeline
registers and the accumulators stay in the core itself:

=============== ========================= =========================================================
submodule       built when                contents
=============== ========================= =========================================================
``sel{r}``      ``config.has_mux``        the L G:1 activation selects of row r, zeroed when the
                                          slot is not valid (so the product is 0)
``mul{r}``      always                    the L multipliers of row r
``suds{r}``     ``has_suds`` and r >= 1   the SUDS steering: each product to the row's own tree or
                                          to the moved tree (for row r-1) by ``disp``, 0 to the other
                                          (``"after"``: the moved products, OR-ed per segment)
``own_tree{r}`` always                    reduction tree of row r's own products (``"after"``: of
                                          all its products)
``mov_tree{r}`` ``has_suds`` and r >= 1   reduction tree of the products row r holds for row r-1
                                          (with a budget: of the D segment values)
=============== ========================= =========================================================
"""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..common.addertree import AdderTree, tree_depth
from .config import EurekaConfig
from .rows import RowMoved, RowMultiply, RowSelect, RowSteer, _windows

__all__ = ["EurekaCore", "RowSelect", "RowMultiply", "RowSteer", "RowMoved",
           "slot_layout", "weight_layout", "act_layout", "lane_act_layout", "result_layout"]


def slot_layout(config):
    """One (row, lane) slot of a weight beat: ``w`` [, ``sel``, ``valid``] [, ``disp``]."""
    fields = {"w": signed(config.value_width)}
    if config.has_mux:
        fields["sel"] = unsigned(config.sel_width)
        fields["valid"] = unsigned(1)
    if config.has_suds:
        fields["disp"] = unsigned(1)
    return data.StructLayout(fields)


def weight_layout(config):
    """A weight beat: ``slot[r][l]`` for every row and lane, ``last_window`` and ``last``.

    ``last_window``: the beat is the last cycle of its window; the core pops the activation window
    with it. With independent lanes it is one bit per lane, ``last_window[l]``: the last cycle of
    lane ``l``'s window, which pops lane ``l``'s activation stream. ``last``: the beat is the last
    of its output; the accumulators are emitted and cleared.
    """
    return data.StructLayout({
        "slot": data.ArrayLayout(data.ArrayLayout(slot_layout(config), config.lanes), config.rows),
        "last_window": data.ArrayLayout(unsigned(1), config.lanes) if config.independent
        else unsigned(1),
        "last": unsigned(1),
    })


def act_layout(config):
    """An activation window: ``a[l][g]``, the G activations lane ``l`` sees."""
    return data.StructLayout({"a": _windows(config)})


def lane_act_layout(config):
    """One lane's activation window (independent lanes): ``a[g]``, the G activations it sees."""
    return data.StructLayout({"a": act_layout(config).members["a"].elem_shape})


def result_layout(config):
    """One output: ``acc[r]`` for the R rows of the tile (wrapping ``acc_width`` arithmetic)."""
    return data.StructLayout({"acc": data.ArrayLayout(signed(config.acc_width), config.rows)})


class EurekaCore(wiring.Component):
    """The EUREKA tensor core (or a baseline, per ``config.variant``).

    Parameters
    ----------
    config : EurekaConfig

    Members
    -------
    w : In(stream.Signature(weight_layout))
        Weight beats, one per busy cycle (see :func:`weight_layout`).
    a : In(stream.Signature(act_layout)), or L of In(stream.Signature(lane_act_layout))
        Activation windows; one is consumed with every weight beat that has ``last_window`` set
        (for the dense variant, with every beat). Independent lanes: ``a[l]`` is lane ``l``'s
        stream of G activations per window, consumed with a beat that has ``last_window[l]``.
    o : Out(stream.Signature(result_layout))
        One beat per output (per weight beat with ``last``), holding the R accumulators.
    busy : Out(32)
        Busy-cycle counter: weight beats accepted since reset times ``config.issue_interval``
        (wraps; with ``tree_share`` > 1 it counts the beats' turns, :mod:`hw.eureka.shared`). This
        is the cycle count the golden model predicts; it is exact under input idle cycles and
        output backpressure.

    Contract: a weight beat transfers when ``w.valid & a.valid`` and the pipeline can move (the
    output register is empty or being read). Independent lanes: when ``w.valid``, the pipeline can
    move and ``a[l].valid`` for every lane ``l`` that needs its window in the beat (a valid slot
    or ``last_window[l]``); a lane that has ended its windows for the output needs none. Trees
    shared between rows (``tree_share`` > 1): the beat is read in ``issue_interval`` turns and
    transfers in the last. Throughput: one weight beat per ``config.issue_interval`` cycles.
    Latency: the output of a beat with ``last`` is valid :attr:`latency` cycles after that beat's
    transfer (no backpressure). Backpressure on ``o`` stalls the whole pipeline.
    """

    def __init__(self, config):
        if not isinstance(config, EurekaConfig):
            self._MustUse__silence = True
            raise TypeError(f"config must be an EurekaConfig, not {config!r}")
        self._config = config
        act = In(stream.Signature(lane_act_layout(config))).array(config.lanes) \
            if config.independent else In(stream.Signature(act_layout(config)))
        super().__init__({
            "w": In(stream.Signature(weight_layout(config))),
            "a": act,
            "o": Out(stream.Signature(result_layout(config))),
            "busy": Out(32),
        })

    @property
    def config(self):
        return self._config

    #: Register stages inside each row's reduction tree (after :meth:`tree_cut` of its levels):
    #: an L=32 tree is five adder levels, whose ripple adders were the core's critical path
    #: (own1 -> tree -> own2, 5.73 ns on sky130 hd); cut after level 3 it meets 5 ns.
    TREE_STAGES = 1
    #: products registered, the tree's own stages, tree sums registered, accumulate into the
    #: output register
    latency = 1 + TREE_STAGES + 1 + 1
    @property
    def throughput(self):
        """Weight beats accepted per cycle at most: ``1 / config.issue_interval``."""
        return 1 / self._config.issue_interval

    @staticmethod
    def tree_cut(lanes):
        """The level of an ``lanes``-input row tree after which it is registered: the middle,
        rounded up (level 0, the addends, for a one-lane core)."""
        return (tree_depth(lanes) + 1) // 2

    def _lane_handshake(self, m, en, fire):
        """Independent lanes: lane ``l`` needs ``a[l]`` in a beat with a valid slot in its column
        or with ``last_window[l]`` (then it pops it); the beat waits for every lane it needs.
        Returns the activations the selects see (``acts[l][g]``)."""
        cfg = self._config
        w = self.w.payload
        need = [Signal(name=f"need{l}") for l in range(cfg.lanes)]
        for l in range(cfg.lanes):
            used = w.last_window[l]
            for r in range(cfg.rows):
                used = used | w.slot[r][l].valid
            m.d.comb += need[l].eq(used)
        ok = Signal()
        have = 1
        for l in range(cfg.lanes):
            have = have & (~need[l] | self.a[l].valid)
        m.d.comb += ok.eq(have)
        m.d.comb += [self.w.ready.eq(ok & en), fire.eq(self.w.valid & ok & en)]
        m.d.comb += [self.a[l].ready.eq(self.w.valid & ok & en & w.last_window[l])
                     for l in range(cfg.lanes)]
        acts = Signal(act_layout(cfg).members["a"], name="lane_acts")
        m.d.comb += [acts[l].eq(self.a[l].payload.a) for l in range(cfg.lanes)]
        return acts

    def elaborate(self, platform):
        cfg = self._config
        if cfg.tree_share > 1:
            from .shared import elaborate_shared
            return elaborate_shared(self)
        m = Module()

        # The pipeline moves unless a finished output waits for the consumer.
        en = Signal()
        m.d.comb += en.eq(~self.o.valid | self.o.ready)
        fire = Signal()
        if cfg.independent:
            acts = self._lane_handshake(m, en, fire)
        else:
            m.d.comb += fire.eq(self.w.valid & self.a.valid & en)
            m.d.comb += self.w.ready.eq(self.a.valid & en)
            pop = self.w.payload.last_window if cfg.has_mux else 1
            m.d.comb += self.a.ready.eq(self.w.valid & en & pop)
            acts = self.a.payload.a
        with m.If(fire):
            m.d.sync += self.busy.eq(self.busy + 1)

        st1 = self._stage_products(m, en, fire, acts)
        st2 = self._stage_trees(m, en, *st1)
        self._stage_accumulate(m, en, *st2)
        return m

    @property
    def _after(self):
        """SUDS with ``steer="after"``: one product register and a disp bit per slot."""
        return self._config.has_suds and self._config.steer == "after"

    def _row_products(self, m, r, acts):
        """Row r's select (if any) and multipliers; returns the L products and the row's slots."""
        cfg, L = self._config, self._config.lanes
        slots = [self.w.payload.slot[r][l] for l in range(L)]
        mul = m.submodules[f"mul{r}"] = RowMultiply(cfg)
        m.d.comb += [mul.w[l].eq(slots[l].w) for l in range(L)]
        if cfg.has_mux:
            sel = m.submodules[f"sel{r}"] = RowSelect(cfg)
            m.d.comb += sel.a.eq(acts)
            m.d.comb += [sel.sel[l].eq(slots[l].sel) for l in range(L)]
            m.d.comb += [sel.valid[l].eq(slots[l].valid) for l in range(L)]
            m.d.comb += mul.x.eq(sel.x)
        else:
            m.d.comb += [mul.x[l].eq(acts[l][0]) for l in range(L)]
        return mul.p, slots

    def _stage_products(self, m, en, fire, acts):
        """Stage 1: select, multiply and (steer "before") split into own / moved products
        (combinational submodules per row), registered in own1 / mov1; with steer "after" the
        products are registered once (own1) with their disp bits (disp1).
        Returns ``(own1, mov1, disp1, v1, last1)``."""
        cfg = self._config
        R, L = cfg.rows, cfg.lanes
        pshape = signed(2 * cfg.value_width)
        after = self._after
        own1 = [[Signal(pshape, name=f"own1_{r}_{l}") for l in range(L)] for r in range(R)]
        mov1 = [[Signal(pshape, name=f"mov1_{r}_{l}") for l in range(L)] for r in range(1, R)] \
            if cfg.has_suds and not after else []
        disp1 = [[Signal(name=f"disp1_{r}_{l}") for l in range(L)] for r in range(1, R)] \
            if after else []
        v1, last1 = Signal(), Signal()
        with m.If(en):
            m.d.sync += [v1.eq(fire), last1.eq(self.w.payload.last)]
        for r in range(R):
            p, slots = self._row_products(m, r, acts)
            if after and r > 0:
                own, mov = p, None
                with m.If(en):
                    m.d.sync += [disp1[r - 1][l].eq(slots[l].disp) for l in range(L)]
            elif cfg.has_suds and r > 0:
                # Row 0 has no steering: nothing can be displaced out of the top row.
                steer = m.submodules[f"suds{r}"] = RowSteer(cfg)
                m.d.comb += steer.p.eq(p)
                m.d.comb += [steer.disp[l].eq(slots[l].disp) for l in range(L)]
                own, mov = steer.own, steer.mov
            else:
                own, mov = p, None
            with m.If(en):
                m.d.sync += [own1[r][l].eq(own[l]) for l in range(L)]
                if mov is not None:
                    m.d.sync += [mov1[r - 1][l].eq(mov[l]) for l in range(L)]
        return own1, mov1, disp1, v1, last1

    def _reduce(self, m, en, values, name):
        """An adder tree of ``values`` (products), registered once inside; returns its sum."""
        n = len(values)
        tree = m.submodules[name] = AdderTree(n, 2 * self._config.value_width, is_signed=True,
                                              register_at=(min(self.tree_cut(self._config.lanes),
                                                               tree_depth(n)),))
        assert tree.latency == self.TREE_STAGES
        m.d.comb += [tree.i[l].eq(v) for l, v in enumerate(values)]
        m.d.comb += tree.en.eq(en)
        return tree.o

    def _own_sum(self, m, en, values, k):
        """Own tree ``own_tree<k>`` of ``values`` and its output register ``own2_<k>``."""
        s = self._reduce(m, en, values, f"own_tree{k}")
        reg = Signal(s.shape(), name=f"own2_{k}")
        with m.If(en):
            m.d.sync += reg.eq(s)
        return reg

    def _stage_trees(self, m, en, own1, mov1, disp1, v1, last1):
        """Stage 2: per-row reduction trees (own products; products held for the row above),
        each registered once inside (TREE_STAGES) and once at its output.
        Returns ``(own2, mov2, v2, last2)``."""
        if self._after and self._config.moved_sum_resolved == "tree":
            return self._stage_trees_folded(m, en, own1, disp1, v1, last1)
        cfg = self._config
        R, L = cfg.rows, cfg.lanes
        vt, lastt = Signal(), Signal()
        v2, last2 = Signal(), Signal()
        own2, mov2 = [], []
        with m.If(en):
            m.d.sync += [vt.eq(v1), lastt.eq(last1), v2.eq(vt), last2.eq(lastt)]
        for r in range(R):
            own2.append(self._own_sum(m, en, own1[r], r))
        for r in range(1, R if cfg.has_suds else 1):
            if self._after:
                # own_tree{r} summed all of row r's products; the moved ones are taken out of
                # row r's total and added to row r-1's (stage 3).
                pick = m.submodules[f"suds{r}"] = RowMoved(cfg)
                m.d.comb += [pick.p[l].eq(own1[r][l]) for l in range(L)]
                m.d.comb += [pick.disp[l].eq(disp1[r - 1][l]) for l in range(L)]
                moved = [pick.seg[k] for k in range(L // cfg.segment)]
            else:
                moved = mov1[r - 1]
            s = self._reduce(m, en, moved, f"mov_tree{r}")
            reg = Signal(s.shape(), name=f"mov2_{r}")
            with m.If(en):
                m.d.sync += reg.eq(s)
            mov2.append(reg)
        return own2, mov2, v2, last2

    def _stage_trees_folded(self, m, en, own1, disp1, v1, last1):
        """Stage 2 with ``moved_sum="tree"`` (``disp_budget=1``): ``M[r]``, the one moved product
        of row r (``suds{r}``), is registered at the trees' cut (``mov_tree{r}``, one register),
        and ``M[r+1] - M[r]`` (two products' difference fits a product's width) is added to row
        r's tree sum before its output register. Returns ``(own2, [], v2, last2)``: the
        accumulate is ``acc += own2`` as in the baselines."""
        cfg = self._config
        R, L = cfg.rows, cfg.lanes
        moved = [0]
        for r in range(1, R):
            pick = m.submodules[f"suds{r}"] = RowMoved(cfg)
            m.d.comb += [pick.p[l].eq(own1[r][l]) for l in range(L)]
            m.d.comb += [pick.disp[l].eq(disp1[r - 1][l]) for l in range(L)]
            moved.append(self._reduce(m, en, [pick.seg[0]], f"mov_tree{r}"))
        moved.append(0)
        vt, lastt, v2, last2 = Signal(), Signal(), Signal(), Signal()
        with m.If(en):
            m.d.sync += [vt.eq(v1), lastt.eq(last1), v2.eq(vt), last2.eq(lastt)]
        own2 = []
        for r in range(R):
            net = Signal(signed(2 * cfg.value_width), name=f"net_mov{r}")
            m.d.comb += net.eq(moved[r + 1] - moved[r])
            s = self._reduce(m, en, own1[r], f"own_tree{r}")
            reg = Signal(signed(s.shape().width + 1), name=f"own2_{r}")
            with m.If(en):
                m.d.sync += reg.eq(s + net)
            own2.append(reg)
        return own2, [], v2, last2

    def _stage_accumulate(self, m, en, own2, mov2, v2, last2):
        """Stage 3: accumulate; a beat with `last` emits the sums and clears the accumulators."""
        cfg = self._config
        R = cfg.rows
        acc = [Signal(signed(cfg.acc_width), name=f"acc{r}") for r in range(R)]
        with m.If(en):
            m.d.sync += self.o.valid.eq(0)
            with m.If(v2):
                for r in range(R):
                    total = acc[r] + own2[r]
                    if mov2 and r + 1 < R:
                        total = total + mov2[r]          # mov2[r] holds row r+1's moved products
                    if self._after and mov2 and r > 0:
                        total = total - mov2[r - 1]      # row r's own moved products
                    with m.If(last2):
                        m.d.sync += [acc[r].eq(0), self.o.payload.acc[r].eq(total)]
                    with m.Else():
                        m.d.sync += acc[r].eq(total)
                with m.If(last2):
                    m.d.sync += self.o.valid.eq(1)
