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

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .bits import Popcount, PriorityEncoder, count_width
from .config import ConfigBase, check_choice, check_pow2

__all__ = ["InnerJoinConfig", "PAPER", "InnerJoin", "lane_layout", "input_layout", "output_layout"]


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
        ``False`` (default): the join registers the accepted chunk's ``mask_a``. ``True``: it keeps
        no copy and reads the held chunk's activation mask from the ``mask_a_held`` port instead,
        for joins side by side that always accept the same activation chunk in the same cycle
        (the SparTen cluster with its barrier holds that mask once for all its units).

    Members
    -------
    i : In(stream.Signature(input_layout(chunk, extra)))
    o : Out(stream.Signature(output_layout(chunk, matches_per_cycle, extra)))
    mask_a_held : In(chunk)
        Only with ``shared_mask_a``: the ``mask_a`` of the last chunk accepted, from the cycle after
        its transfer on (a register outside, loaded exactly on ``i.valid & i.ready``).

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
        return min(self._chunk, self.GROUP)

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
        src_a = Signal(n)
        m.d.comb += [src.eq(Mux(more, rem, p.mask_f & p.mask_a)),
                     src_f.eq(Mux(more, mask_f, p.mask_f)),
                     src_a.eq(Mux(more, mask_a, p.mask_a))]

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
        encoder (``prio<lane>``: the match, the positions below it, what remains) and, per group
        of ``group`` bits, two masked popcounts (``prefix_f<lane>_<k>``, ``prefix_a<lane>_<k>``)
        of the mask bits below the match: registered, and summed on the output into the offsets.
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
            q_a = [Signal(cw, name=f"q{lane}_a{k}") for k in range(n_groups)]
            nxt = [(q_valid, prio.valid), (q_pos, prio.index)]
            for k in range(n_groups):
                sl = slice(k * g, (k + 1) * g)
                m.submodules[f"prefix_f{lane}_{k}"] = pf = Popcount(g, masked=True)
                m.submodules[f"prefix_a{lane}_{k}"] = pa = Popcount(g, masked=True)
                m.d.comb += [pf.i.eq(prio.below[sl]), pf.mask.eq(src_f[sl]),
                             pa.i.eq(prio.below[sl]), pa.mask.eq(src_a[sl])]
                nxt += [(q_f[k], pf.o), (q_a[k], pa.o)]
            lanes.append(nxt)
            count = count + prio.valid
            r = prio.rest
            out = self.o.payload.lanes[lane]
            m.d.comb += [out.valid.eq(q_valid), out.pos.eq(q_pos),
                         out.off_f.eq(sum(q_f[1:], q_f[0])), out.off_a.eq(sum(q_a[1:], q_a[0]))]
        return r, count, lanes
