"""SparTen compute unit: inner join + multiply-accumulate + accumulator.

One unit owns one filter at a time. Each activation chunk broadcast by the cluster arrives together
with the unit's own filter chunk for the same tap and channel chunk (read from the unit's resident
filter bank, see :mod:`hw.sparten.cluster`); the inner join (:class:`hw.common.innerjoin.InnerJoin`)
walks the matches, each match selects the two packed values by their prefix offsets, and the
products are accumulated. After the last chunk of an output position the dot product is written to
the unit's output bank.
"""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.innerjoin import InnerJoin, group_prefix_layout, onehot_select

__all__ = ["chunk_word", "cu_input_layout", "result_layout", "counter_layout", "ComputeUnit",
           "COUNTER_WIDTH"]

#: Width of the per-unit event counters (busy, matched, stall).
COUNTER_WIDTH = 32


def chunk_word(config):
    """One stored SparseMap chunk: ``mask`` and ``values`` (slot 0 = first non-zero, unused slots 0).

    The same bits as the first two fields of :func:`hw.sparten.output.chunk_layout`, so an encoded
    output chunk is written unchanged into the next layer's activation memory.
    """
    return data.StructLayout({
        "mask": unsigned(config.chunk),
        "values": data.ArrayLayout(signed(config.value_width), config.chunk),
    })


def out_addr_width(config):
    return max(1, ceil_log2(config.out_depth))


def cu_input_layout(config):
    """What a unit takes per chunk: both chunks, position framing and the result address."""
    return data.StructLayout({
        "act": chunk_word(config),
        "wgt": chunk_word(config),
        "first": 1,                 # first chunk of an output position
        "last": 1,                  # last chunk of an output position
        "out_addr": out_addr_width(config),
    })


def result_layout(config):
    """A write strobe into the unit's output bank."""
    return data.StructLayout({"valid": 1, "addr": out_addr_width(config),
                              "value": signed(config.acc_width)})


def counter_layout():
    return data.StructLayout({"busy": COUNTER_WIDTH, "matched": COUNTER_WIDTH,
                              "stall": COUNTER_WIDTH})


class ComputeUnit(wiring.Component):
    """Inner join, ``matches_per_cycle`` multipliers, adder and accumulator.

    Parameters
    ----------
    config : SparTenConfig
    shared_act : bool
        ``False`` (default; the stand-alone unit): the unit keeps its own copy of the activation
        chunk it works on (mask and values, registered in its join). ``True``: it keeps none and
        reads the chunk from ``act_held``, which the cluster holds once for all its units: with the
        cluster's barrier (``unit_fifo_depth`` = 0) every unit takes the same chunk in the same
        cycle. Same results and cycles. Needs ``config.unit_fifo_depth == 0`` (with a queue the
        units run apart).

    Members
    -------
    i : In(stream.Signature(cu_input_layout(config)))
        One chunk pair per transfer. ``i.ready`` does not depend on ``i.valid`` (it is the join's
        ``~busy | last beat``, or with ``unit_fifo_depth`` the room in the waiting queue), which
        lets the cluster fire all units together.
    res : Out(result_layout(config))
        Valid for one cycle per output position, :attr:`result_latency` cycles after the join's last
        beat of the position's last chunk; never stalls (the output bank always accepts).
    count : Out(counter_layout())
        ``busy``: cycles the join held a chunk; ``matched``: MACs done; ``stall``: cycles the unit was
        idle while ``others_busy`` (waiting at the cluster barrier). Cleared by ``clear``.
    others_busy : In(1)
        Some unit of the cluster is working (driven by the cluster).
    clear : In(1)
        Synchronous clear of the counters and the accumulator state (start of a layer).
    busy : Out(1)
        The join holds a chunk.
    idle : Out(1)
        Nothing in flight (join, MAC stage and result register empty).
    act_held : In(chunk_word(config))
        Only with ``shared_act``: ``act`` of the last chunk the unit took, from the cycle after the
        transfer on (a register outside, loaded exactly on ``i.valid & i.ready``). ``i.payload.act``
        still brings the incoming chunk's mask (its values are not used).
    prefix_a_held : In(group_prefix_layout(config.chunk))
        Only with ``shared_act``: the exclusive prefix popcounts of ``act_held.mask`` at each of
        the join's group boundaries (:class:`hw.common.innerjoin.GroupPrefix`), registered alike.

    Timing
    ------
    A chunk with ``m`` matches occupies the unit for ``max(1, ceil(m / M))`` cycles and the next chunk
    is accepted in the last of them (throughput one beat per cycle). Pipeline: join
    (:attr:`InnerJoin.latency`) -> operand select, operands register -> multiply (``mul<k>``
    submodules), products register -> accumulate, result register (:attr:`result_latency`).
    """

    #: Register stages from the join's output to ``res``: operands, products, accumulator.
    result_latency = 3
    #: Cycles from the transfer of a one-beat chunk that ends a position to its ``res.valid`` (a
    #: chunk of cost ``c`` adds ``c - 1``): the join's latency, then :attr:`result_latency`.
    latency = InnerJoin.latency + result_latency

    def __init__(self, config, shared_act=False):
        if shared_act and config.unit_fifo_depth:
            self._MustUse__silence = True       # never built: no "created but never used"
            raise ValueError(f"shared_act needs unit_fifo_depth 0 (units that take every chunk "
                             f"together), not {config.unit_fifo_depth!r}")
        self._cfg = config
        self._shared_act = bool(shared_act)
        ports = {
            "i": In(stream.Signature(cu_input_layout(config))),
            "res": Out(result_layout(config)),
            "count": Out(counter_layout()),
            "others_busy": In(1),
            "clear": In(1),
            "busy": Out(1),
            "idle": Out(1),
        }
        if self._shared_act:
            ports["act_held"] = In(chunk_word(config))
            ports["prefix_a_held"] = In(group_prefix_layout(config.chunk))
        super().__init__(ports)

    @property
    def shared_act(self):
        """The unit reads the held activation chunk from ``act_held`` (see Parameters)."""
        return self._shared_act

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        vals = data.ArrayLayout(signed(cfg.value_width), cfg.chunk)
        fields = {"vals_f": vals, "first": 1, "out_addr": out_addr_width(cfg)}
        if not self._shared_act:
            fields["vals_a"] = vals
        extra = data.StructLayout(fields)
        m.submodules.join = join = InnerJoin(cfg.chunk, cfg.matches_per_cycle, extra=extra,
                                             shared_mask_a=self._shared_act)
        if cfg.unit_fifo_depth:
            p, q_empty = self._queue(m, join)
        else:
            p, q_empty = self.i.payload, 1
            m.d.comb += [join.i.valid.eq(self.i.valid), self.i.ready.eq(join.i.ready)]
        m.d.comb += [
            join.i.payload.mask_f.eq(p.wgt.mask),
            join.i.payload.mask_a.eq(p.act.mask),
            join.i.payload.last.eq(p.last),
            join.i.payload.extra.vals_f.eq(p.wgt.values),
            join.i.payload.extra.first.eq(p.first),
            join.i.payload.extra.out_addr.eq(p.out_addr),
            join.o.ready.eq(1),           # the MAC pipeline never stalls
            self.busy.eq(join.o.valid),
        ]
        if self._shared_act:
            m.d.comb += [join.mask_a_held.eq(self.act_held.mask),
                         join.prefix_a_held.eq(self.prefix_a_held)]
            vals_a = self.act_held.values
        else:
            m.d.comb += join.i.payload.extra.vals_a.eq(p.act.values)
            vals_a = join.o.payload.extra.vals_a
        s1_valid, mid, s1 = self._operands(m, join.o, vals_a)
        s2_valid = self._multiply_accumulate(m, s1_valid, *s1)
        self._counters(m, join.o, mid)
        m.d.comb += self.idle.eq(q_empty & ~join.o.valid & ~s1_valid & ~s2_valid & ~self.res.valid)
        return m

    def _queue(self, m, join):
        """Waiting chunks (ours, config.unit_fifo_depth): a shift register whose head feeds the
        join; an arriving chunk bypasses it when it is empty and the join is free, so a
        depth-0-like unit loses no cycle. The unit can take a chunk while fewer than ``q_depth``
        chunks would remain waiting after this cycle's pop. Returns (the join's payload, empty)."""
        q_depth = self._cfg.unit_fifo_depth
        lay = cu_input_layout(self._cfg)
        slots = [Signal(lay, name=f"wait{k}") for k in range(q_depth)]
        count = Signal(range(q_depth + 1))
        q_empty = count == 0
        head = lay(Mux(q_empty, self.i.payload.as_value(), slots[0].as_value()))
        pop = ~q_empty & join.i.ready
        push = self.i.valid & ~(q_empty & join.i.ready)
        m.d.comb += [
            join.i.valid.eq(~q_empty | self.i.valid),
            self.i.ready.eq((count < q_depth) | pop),
        ]
        with m.If(pop):
            for k in range(q_depth - 1):
                m.d.sync += slots[k].eq(slots[k + 1])
            with m.If(push):
                for k in range(q_depth):
                    with m.If(count == k + 1):
                        m.d.sync += slots[k].eq(self.i.payload)
            with m.Else():
                m.d.sync += count.eq(count - 1)
        with m.Elif(push):
            for k in range(q_depth):
                with m.If(count == k):
                    m.d.sync += slots[k].eq(self.i.payload)
            m.d.sync += count.eq(count + 1)
        with m.If(self.clear):
            m.d.sync += count.eq(0)
        return head, q_empty

    def _operands(self, m, jo, vals_a):
        """Stage 1: select the two operands of each lane by their prefix offsets (the activation
        values from ``vals_a``: the join's copy or the cluster's held chunk) and register
        them. The multiply is in stage 2 with the accumulation: inner join -> operand select ->
        multiply in one cycle was the unit's critical path (15.7 ns on sky130 hd); split this way
        each stage has part of it, with the same latency and the same register bits (two
        operands in place of one product). Returns ``(s1_valid, mid, (s1_f, s1_a, s1_start,
        s1_end, s1_addr))``."""
        cfg = self._cfg
        mpc, vw = cfg.matches_per_cycle, cfg.value_width
        beat = jo.payload
        s1_valid = Signal()
        s1_f = [Signal(signed(vw), name=f"s1_f{k}") for k in range(mpc)]
        s1_a = [Signal(signed(vw), name=f"s1_a{k}") for k in range(mpc)]
        s1_start = Signal()     # first beat of the first chunk of a position: restart the sum
        s1_end = Signal()       # last beat of the last chunk of a position: emit the result
        s1_addr = Signal(out_addr_width(cfg))
        mid = Signal()          # the next beat continues a chunk (is not its first beat)
        with m.If(jo.valid):
            m.d.sync += mid.eq(~beat.last)
        m.d.sync += s1_valid.eq(jo.valid)
        m.d.sync += [
            s1_start.eq(beat.extra.first & ~mid),
            s1_end.eq(beat.chunk_last & beat.last),
            s1_addr.eq(beat.extra.out_addr),
        ]
        for k in range(mpc):
            lane = beat.lanes[k]
            # An invalid lane (past the last match, or the no-match beat) contributes nothing:
            # its activation operand is zeroed, so its product is 0.
            if cfg.select == "onehot":
                # one-hot enables (the lane's valid folded into the activation side's) AND-ed
                # with the values, OR-ed in a balanced tree: and-or-invert cells, not a mux tree
                f = onehot_select(list(beat.extra.vals_f), lane.off_f).as_signed()
                a = onehot_select(list(vals_a), lane.off_a, lane.valid).as_signed()
            else:
                # word_select is one shift cell (Yosys $shiftx) instead of a chunk-way case
                # tree: the same mux, far cheaper to elaborate for chunk 128.
                f = beat.extra.vals_f.as_value().word_select(lane.off_f, vw).as_signed()
                a = Mux(lane.valid, vals_a.as_value().word_select(lane.off_a, vw), 0)
            m.d.sync += [s1_f[k].eq(f), s1_a[k].eq(a)]
        return s1_valid, mid, (s1_f, s1_a, s1_start, s1_end, s1_addr)

    def _multiply_accumulate(self, m, s1_valid, s1_f, s1_a, s1_start, s1_end, s1_addr):
        """Stage 2: multiply, products registered. Stage 3: accumulate; the result register
        doubles as the output bank's write port. (Multiply and accumulate in one cycle was
        6.8 ns on sky130 hd once the join's offsets came from registers.) Returns ``s2_valid``."""
        cfg = self._cfg
        mpc, vw = cfg.matches_per_cycle, cfg.value_width
        prod_w = 2 * vw
        prods = [Signal(signed(prod_w), name=f"prod{k}") for k in range(mpc)]
        s2_p = [Signal(signed(prod_w), name=f"s2_p{k}") for k in range(mpc)]
        for k in range(mpc):
            m.submodules[f"mul{k}"] = mul = _Multiply(vw)
            m.d.comb += [mul.a.eq(s1_f[k]), mul.b.eq(s1_a[k]), prods[k].eq(mul.p)]
        s2_valid = Signal()
        s2_start = Signal()
        s2_end = Signal()
        s2_addr = Signal(out_addr_width(cfg))
        m.d.sync += [s2_valid.eq(s1_valid), s2_start.eq(s1_start), s2_end.eq(s1_end),
                     s2_addr.eq(s1_addr)] + [s2_p[k].eq(prods[k]) for k in range(mpc)]
        acc = Signal(signed(cfg.acc_width))
        total = Signal(signed(cfg.acc_width))
        sum_w = prod_w + ceil_log2(mpc) if mpc > 1 else prod_w
        psum = Signal(signed(sum_w))
        m.d.comb += psum.eq(sum(s2_p[1:], s2_p[0]))
        m.d.comb += total.eq(Mux(s2_start, 0, acc) + psum)
        m.d.sync += self.res.valid.eq(0)
        with m.If(s2_valid):
            m.d.sync += acc.eq(total)
            with m.If(s2_end):
                m.d.sync += [self.res.valid.eq(1), self.res.addr.eq(s2_addr),
                             self.res.value.eq(total)]
        return s2_valid

    def _counters(self, m, jo, mid):
        """``busy`` / ``matched`` / ``stall`` counters; ``clear`` also clears ``mid``."""
        n_now = Signal(range(self._cfg.matches_per_cycle + 1))
        m.d.comb += n_now.eq(Mux(jo.valid, jo.payload.n, 0))
        with m.If(self.clear):
            m.d.sync += [self.count.busy.eq(0), self.count.matched.eq(0), self.count.stall.eq(0),
                         mid.eq(0)]
        with m.Else():
            m.d.sync += self.count.matched.eq(self.count.matched + n_now)
            with m.If(jo.valid):
                m.d.sync += self.count.busy.eq(self.count.busy + 1)
            with m.Elif(self.others_busy):
                m.d.sync += self.count.stall.eq(self.count.stall + 1)


class _Multiply(wiring.Component):
    """``p = a * b`` (signed, combinational); its own module so that area reports show the MACs'
    multipliers as a block."""

    def __init__(self, width):
        super().__init__({"a": In(signed(width)), "b": In(signed(width)),
                          "p": Out(signed(2 * width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(self.a * self.b)
        return m
