"""SparTen's inner-join front end: two chunk masks in, a stream of matches out.

For a pair of SparseMap chunks (filter mask ``mask_f``, activation mask ``mask_a``) the matches are
the set bits of ``mask_f & mask_a``. Each is reported with its position ``p`` and the exclusive
prefix popcounts ``popcount(mask_f & ((1 << p) - 1))`` and ``popcount(mask_a & ...)`` - the indices
of the two non-zero values in their packed arrays. A priority encoder takes the lowest remaining
match, the bit is cleared, and the next cycle takes the next one (the paper's loop), here one beat
ahead of the output (see :class:`InnerJoin`).

Golden reference and cycle model: :mod:`golden.innerjoin`.
"""

import dataclasses

from amaranth import Cat, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .bits import Popcount, PriorityEncoder, count_width
from .config import ConfigBase, check_choice, check_pow2

__all__ = ["InnerJoinConfig", "PAPER", "InnerJoin", "GroupPrefix", "group_of",
           "group_prefix_layout", "group_counts_layout", "onehot_select", "lane_layout",
           "input_layout", "output_layout"]


@dataclasses.dataclass(frozen=True)
class InnerJoinConfig(ConfigBase):
    """Parameters of a stand-alone :class:`InnerJoin` top.

    Members
    -------
    chunk : int
        Mask width, a power of two in 8..256.
    matches_per_cycle : int
        Matches reported per beat: 1 (the paper), 2 or 4 (ours).
    """

    chunk: int = 128
    matches_per_cycle: int = 1

    def __post_init__(self):
        check_pow2("chunk", self.chunk, 8, 256)
        check_choice("matches_per_cycle", self.matches_per_cycle, {1, 2, 4})


#: The paper's inner join: chunk 128, one match per cycle (``make verilog``'s ``innerjoin128``).
PAPER = InnerJoinConfig()


def lane_layout(chunk):
    """One match: ``valid``, position ``pos`` and the offsets ``off_f``/``off_a`` (0..chunk-1)."""
    w = ceil_log2(chunk)
    return data.StructLayout({"valid": 1, "pos": w, "off_f": w, "off_a": w})


def input_layout(chunk, extra=None):
    """Input beat: the two masks, ``last`` (passed through as ``chunk_last``) and optional ``extra``."""
    fields = {"mask_f": chunk, "mask_a": chunk, "last": 1}
    if extra is not None:
        fields["extra"] = extra
    return data.StructLayout(fields)


def output_layout(chunk, matches_per_cycle=1, extra=None):
    """Output beat: ``lanes`` (lowest match in lane 0), ``n`` valid lanes, ``last`` beat of the chunk,
    ``chunk_last`` (the input's ``last``) and ``extra`` (the input's, unchanged)."""
    fields = {"lanes": data.ArrayLayout(lane_layout(chunk), matches_per_cycle),
              "n": count_width(matches_per_cycle), "last": 1, "chunk_last": 1}
    if extra is not None:
        fields["extra"] = extra
    return data.StructLayout(fields)


def group_of(chunk):
    """Bits per group of the join's partial popcounts: ``min(chunk, InnerJoin.GROUP)``."""
    return min(chunk, InnerJoin.GROUP)


def group_prefix_layout(chunk):
    """The exclusive prefix popcounts of a mask at each group boundary (:class:`GroupPrefix`)."""
    return data.ArrayLayout(unsigned(max(1, ceil_log2(chunk))), chunk // group_of(chunk))


def onehot_select(values, index, enable=1):
    """``values[index]`` if ``enable`` else 0, as one-hot enables AND-ed with the values and OR-ed
    in balanced trees (``values``: a list of equal-width values; ``index`` wide enough).

    Predecoded enables: the index's low 3 bits and its middle bits each to one-hot, ANDed per
    value (``enable`` folded into the middle ones), select within each half of the values; the
    top bit, decoded, selects between the halves last, since an adder-driven index settles its
    top bits last (docs/sparten_area.md: halves beat quarters and a flat select on timing/area). The indexed form ``a[index]`` (Yosys ``$shiftx``) maps to a mux tree; this
    maps to and-or-invert cells (docs/sparten_area.md measures both).
    """
    n = len(values)
    if n == 1:
        return Mux(enable, values[0], 0)
    width = len(Value.cast(values[0]))
    w = ceil_log2(n)
    top_w = min(1, max(0, w - 3))
    lo_w = min(3, w)
    part = n >> top_w                       # values per half (the whole list if w <= 3)
    lo = [index[:lo_w] == k for k in range(1 << lo_w)]
    mid = ([enable & (index[lo_w:w - top_w] == k) for k in range(part >> lo_w)]
           if w - top_w > lo_w else [enable])
    enables = [lo[k & ((1 << lo_w) - 1)] & mid[k >> lo_w] for k in range(part)]
    parts = [_and_or(values[q * part:(q + 1) * part], enables, width) for q in range(1 << top_w)]
    if top_w == 0:
        return parts[0]
    return _and_or(parts, [index[w - top_w:w] == q for q in range(1 << top_w)], width)


def _and_or(values, enables, width):
    """OR over ``k`` of ``values[k] & enables[k]`` (balanced tree)."""
    terms = [Value.cast(v) & Value.cast(e).replicate(width) for v, e in zip(values, enables)]
    while len(terms) > 1:
        terms = [terms[k] | terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


def group_counts_layout(chunk):
    """The popcounts of a mask's groups (:class:`GroupPrefix`'s input)."""
    g = group_of(chunk)
    return data.ArrayLayout(unsigned(count_width(g)), chunk // g)


class GroupPrefix(wiring.Component):
    """Exclusive prefix sums of a mask's group popcounts (combinational).

    With ``counts[k] = popcount(mask[k * group:(k + 1) * group])`` for the ``chunk // group``
    groups of :func:`group_of` bits, ``prefix[k] = counts[0] + ... + counts[k - 1]``, i.e.
    ``popcount(mask[:k * group])`` (``prefix[0] = 0``): a Kogge-Stone prefix sum, ``log2(groups)``
    adder levels. The SparTen cluster registers the group popcounts of the activation chunk in its
    input stage and this sum once for all its joins (``InnerJoin(shared_mask_a=True)``).
    """

    def __init__(self, chunk):
        check_pow2("chunk", chunk, 8, 256)
        self._chunk = chunk
        super().__init__({"counts": In(group_counts_layout(chunk)),
                          "prefix": Out(group_prefix_layout(chunk))})

    def elaborate(self, platform):
        m = Module()
        n_groups = self._chunk // group_of(self._chunk)
        w = max(1, ceil_log2(self._chunk))
        acc = [Value.cast(self.counts[k]) for k in range(n_groups - 1)]
        span = 1
        while span < len(acc):
            acc = [acc[k] + acc[k - span] if k >= span else acc[k] for k in range(len(acc))]
            span *= 2
        m.d.comb += self.prefix[0].eq(0)
        for k, v in enumerate(acc):
            m.d.comb += self.prefix[k + 1].eq(v[:w])
        return m


class InnerJoin(wiring.Component):
    """Streams the matches of two chunk masks, ``matches_per_cycle`` per beat.

    Parameters
    ----------
    chunk : int
        Mask width.
    matches_per_cycle : int
        Lanes per output beat (1, 2, 4).
    extra : layout or None
        Side data carried unchanged from an input beat to each of its output beats (the compute unit
        passes the packed values and framing through here).
    shared_mask_a : bool
        ``False`` (default): the join registers the accepted chunk's ``mask_a`` and, per match, the
        masked popcounts of its groups. ``True``: it keeps no copy and reads the held chunk's
        activation mask and its group prefixes from ``mask_a_held`` and ``prefix_a_held``
        instead, for joins side by side that always accept the same activation chunk in the same
        cycle (the SparTen cluster with its barrier holds both once for all its units). The
        activation offset is then formed on the output: the held prefix of the match's group plus
        one masked popcount of the held mask inside that group.

    Members
    -------
    i : In(stream.Signature(input_layout(chunk, extra)))
    o : Out(stream.Signature(output_layout(chunk, matches_per_cycle, extra)))
    mask_a_held : In(chunk)
        Only with ``shared_mask_a``: the ``mask_a`` of the last chunk accepted, from the cycle after
        its transfer on (a register outside, loaded exactly on ``i.valid & i.ready``).
    prefix_a_held : In(group_prefix_layout(chunk))
        Only with ``shared_mask_a``: :class:`GroupPrefix` of that mask, registered alike.

    Contract
    --------
    Each input chunk produces ``max(1, ceil(popcount(mask_f & mask_a) / matches_per_cycle))`` output
    beats; its last beat has ``last = 1``. A chunk without a match produces one beat with ``n = 0``
    and every lane invalid, so that framing (``chunk_last``, ``extra``) always reaches the consumer.
    Lanes fill lowest first; lane ``l`` is valid iff ``l < n``.

    Latency is :attr:`latency` = one cycle (a chunk accepted at edge ``t`` shows its first beat
    during cycle ``t+1``). Throughput is one beat per cycle: the next chunk is accepted in the same
    cycle as the current chunk's last beat (``i.ready = ~busy | (o.ready & last)``), so back-to-back
    chunks cost exactly their beat counts. ``i.ready`` does not depend on ``i.valid``.

    Structure (for the clock): each beat is computed one cycle ahead and registered. While a beat
    is on the output, the priority encoders find the next beat's matches among the remaining ones
    (or, if this beat is the chunk's last, among the incoming chunk's), and the masked popcounts of
    every :attr:`group` bits below each match are registered. The output offsets are the sums of
    those registered group counts. So no path runs from the priority encoder through a 128-bit
    popcount into the consumer (10.1 ns in the compute unit before, on sky130 hd), and ``last`` is
    a register (``more``), not the end of a priority chain.
    """

    #: Cycles from an input transfer to the first output beat of that chunk (published: the cycle
    #: models read it from here).
    latency = 1

    #: Width of the groups whose masked popcounts are registered per match (see the class
    #: docstring); a chunk narrower than this is one group. 8 balances the two halves at chunk 128:
    #: priority encoder + popcount of 8 bits before the registers, a sum of 16 counts after.
    GROUP = 8

    def __init__(self, chunk, matches_per_cycle=1, extra=None, shared_mask_a=False):
        check_pow2("chunk", chunk, 8, 256)
        check_choice("matches_per_cycle", matches_per_cycle, {1, 2, 4})
        self._chunk = chunk
        self._mpc = matches_per_cycle
        self._extra = extra
        self._shared_mask_a = bool(shared_mask_a)
        ports = {
            "i": In(stream.Signature(input_layout(chunk, extra))),
            "o": Out(stream.Signature(output_layout(chunk, matches_per_cycle, extra))),
        }
        if self._shared_mask_a:
            ports["mask_a_held"] = In(chunk)
            ports["prefix_a_held"] = In(group_prefix_layout(chunk))
        super().__init__(ports)

    @property
    def chunk(self):
        return self._chunk

    @property
    def matches_per_cycle(self):
        return self._mpc

    @property
    def group(self):
        """Bits per registered partial popcount (``min(chunk, GROUP)``)."""
        return group_of(self._chunk)

    def elaborate(self, platform):
        m = Module()
        n = self._chunk
        busy = Signal()
        more = Signal()           # matches remain after the beat on the output
        rem = Signal(n)           # those matches
        mask_f = Signal(n)
        mask_a = self.mask_a_held if self._shared_mask_a else Signal(n)
        chunk_last = Signal()
        extra = Signal(self._extra) if self._extra is not None else None

        # The next beat is computed while the current one is on the output and registered: from
        # the remaining matches of this chunk, or, when this beat is the chunk's last (or the join
        # is idle), from the incoming chunk. `more` is a register, so the select does not wait for
        # the handshake; the handshake only enables the registers.
        p = self.i.payload
        src = Signal(n)
        src_f = Signal(n)
        m.d.comb += [src.eq(Mux(more, rem, p.mask_f & p.mask_a)),
                     src_f.eq(Mux(more, mask_f, p.mask_f))]
        src_a = None            # shared: the activation offsets come from the held prefixes
        if not self._shared_mask_a:
            src_a = Signal(n)
            m.d.comb += src_a.eq(Mux(more, mask_a, p.mask_a))

        r, count, lanes = self._lanes(m, src, src_f, src_a)
        q_n = Signal(count_width(self._mpc))

        def load_next():
            stmts = [rem.eq(r), more.eq(r.any()), q_n.eq(count)]
            for nxt in lanes:
                stmts += [reg.eq(val) for reg, val in nxt]
            return stmts

        m.d.comb += [
            self.o.valid.eq(busy),
            self.o.payload.n.eq(q_n),
            self.o.payload.last.eq(~more),
            self.o.payload.chunk_last.eq(chunk_last),
            self.i.ready.eq(~busy | (self.o.ready & ~more)),
        ]
        if extra is not None:
            m.d.comb += self.o.payload.extra.eq(extra)

        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [busy.eq(1), mask_f.eq(p.mask_f), chunk_last.eq(p.last)] + load_next()
            if not self._shared_mask_a:
                m.d.sync += mask_a.eq(p.mask_a)
            if extra is not None:
                m.d.sync += extra.eq(p.extra)
        with m.Elif(self.o.valid & self.o.ready):
            with m.If(more):
                m.d.sync += load_next()
            with m.Else():
                m.d.sync += busy.eq(0)
        return m

    def _lanes(self, m, src, src_f, src_a):
        """Peel up to matches_per_cycle lowest set bits off ``src``. Each lane is a priority
        encoder (``prio<lane>``: the match, the positions below it, what remains) and masked
        popcounts of the mask bits below the match, registered: per group of ``group`` bits
        (``prefix_f<lane>_<k>``, and with a private activation mask ``prefix_a<lane>_<k>``),
        summed on the output into the offsets. With a shared activation mask the activation
        offset is formed on the output instead: the held prefix of the match's group plus the
        held mask's bits below the match in that group (``prefix_a<lane>``, :meth:`_in_group`).
        As named submodules, synthesis reports give each its own area.

        Returns ``(rest, count, lanes)``: the matches left after the lanes, how many the lanes
        took, and per lane its ``(register, next value)`` pairs.
        """
        n, g = self._chunk, self.group
        n_groups = n // g
        cw = count_width(g)
        r = src
        count = 0
        lanes = []
        for lane in range(self._mpc):
            m.submodules[f"prio{lane}"] = prio = PriorityEncoder(n)
            m.d.comb += prio.i.eq(r)
            q_valid = Signal(name=f"q{lane}_valid")
            q_pos = Signal(max(1, ceil_log2(n)), name=f"q{lane}_pos")
            q_f = [Signal(cw, name=f"q{lane}_f{k}") for k in range(n_groups)]
            nxt = [(q_valid, prio.valid), (q_pos, prio.index)]
            for k in range(n_groups):
                sl = slice(k * g, (k + 1) * g)
                m.submodules[f"prefix_f{lane}_{k}"] = pf = Popcount(g, masked=True)
                m.d.comb += [pf.i.eq(prio.below[sl]), pf.mask.eq(src_f[sl])]
                nxt.append((q_f[k], pf.o))
            out = self.o.payload.lanes[lane]
            if self._shared_mask_a:
                # the match's group, one-hot: group k holds it iff the bit below the group is
                # below the match and the group's top bit is not
                q_g = Signal(n_groups, name=f"q{lane}_g")
                nxt.append((q_g, Cat(*[(prio.below[k * g - 1] if k else 1)
                                       & ~prio.below[(k + 1) * g - 1]
                                       for k in range(n_groups)])))
                off_a = self._held_offset(q_pos, q_g)
            else:
                q_a = [Signal(cw, name=f"q{lane}_a{k}") for k in range(n_groups)]
                for k in range(n_groups):
                    sl = slice(k * g, (k + 1) * g)
                    m.submodules[f"prefix_a{lane}_{k}"] = pa = Popcount(g, masked=True)
                    m.d.comb += [pa.i.eq(prio.below[sl]), pa.mask.eq(src_a[sl])]
                    nxt.append((q_a[k], pa.o))
                off_a = sum(q_a[1:], q_a[0])
            lanes.append(nxt)
            count = count + prio.valid
            r = prio.rest
            m.d.comb += [out.valid.eq(q_valid), out.pos.eq(q_pos),
                         out.off_f.eq(sum(q_f[1:], q_f[0])), out.off_a.eq(off_a)]
        return r, count, lanes

    def _held_offset(self, q_pos, q_g):
        """The activation offset of a match from the held mask and prefixes: the held prefix of
        the match's group (one-hot ``q_g``) plus the held mask's bits of that group below the
        match, as one sum (inline: across a module boundary the mapper could not merge the
        in-group count into the add, which was the unit's critical path). It reads registers
        only (the position, the group, the held mask and prefixes), on the output side like the
        private form's sum of registered group counts."""
        n, g = self._chunk, self.group
        held, prefix = self.mask_a_held, self.prefix_a_held
        groups = list(q_g)
        bits = _and_or([held[k * g:(k + 1) * g] for k in range(n // g)], groups, g)
        base = _and_or([prefix[k] for k in range(len(groups))], groups, len(prefix[0]))
        within = q_pos[:ceil_log2(g)]
        return sum((bits[j] & (within > j) for j in range(g - 1)), base)
