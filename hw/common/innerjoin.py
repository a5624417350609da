"""SparTen's inner-join front end: two chunk masks in, a stream of matches out.

For a pair of SparseMap chunks (filter mask ``mask_f``, activation mask ``mask_a``) the matches are
the set bits of ``mask_f & mask_a``. Each is reported with its position ``p`` and the exclusive
prefix popcounts ``popcount(mask_f & ((1 << p) - 1))`` and ``popcount(mask_a & ...)`` - the indices
of the two non-zero values in their packed arrays. A priority encoder takes the lowest remaining
match, the bit is cleared, and the next cycle takes the next one (the paper's loop).

Golden reference and cycle model: :mod:`golden.innerjoin`.
"""

import dataclasses

from amaranth import Module, Signal
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

    Members
    -------
    i : In(stream.Signature(input_layout(chunk, extra)))
    o : Out(stream.Signature(output_layout(chunk, matches_per_cycle, extra)))

    Contract
    --------
    Each input chunk produces ``max(1, ceil(popcount(mask_f & mask_a) / matches_per_cycle))`` output
    beats; its last beat has ``last = 1``. A chunk without a match produces one beat with ``n = 0``
    and every lane invalid, so that framing (``chunk_last``, ``extra``) always reaches the consumer.
    Lanes fill lowest first; lane ``l`` is valid iff ``l < n``.

    Latency is one cycle (a chunk accepted at edge ``t`` shows its first beat during cycle ``t+1``).
    Throughput is one beat per cycle: the next chunk is accepted in the same cycle as the current
    chunk's last beat (``i.ready = ~busy | (o.ready & last)``), so back-to-back chunks cost exactly
    their beat counts. ``i.ready`` does not depend on ``i.valid``.
    """

    latency = 1

    def __init__(self, chunk, matches_per_cycle=1, extra=None):
        check_pow2("chunk", chunk, 8, 256)
        check_choice("matches_per_cycle", matches_per_cycle, {1, 2, 4})
        self._chunk = chunk
        self._mpc = matches_per_cycle
        self._extra = extra
        super().__init__({
            "i": In(stream.Signature(input_layout(chunk, extra))),
            "o": Out(stream.Signature(output_layout(chunk, matches_per_cycle, extra))),
        })

    @property
    def chunk(self):
        return self._chunk

    @property
    def matches_per_cycle(self):
        return self._mpc

    def elaborate(self, platform):
        m = Module()
        n = self._chunk
        busy = Signal()
        rem = Signal(n)           # matches not yet reported
        mask_f = Signal(n)
        mask_a = Signal(n)
        chunk_last = Signal()
        extra = Signal(self._extra) if self._extra is not None else None

        # Peel up to matches_per_cycle lowest set bits off `rem` in one cycle. Each lane is a
        # priority encoder (`prio<lane>`: the match, the positions below it, what remains) and two
        # masked popcounts (`prefix_f<lane>`, `prefix_a<lane>`: the offsets into the packed value
        # arrays); as named submodules, synthesis reports give each its own area.
        r = rem
        count = 0
        for lane in range(self._mpc):
            m.submodules[f"prio{lane}"] = prio = PriorityEncoder(n)
            m.submodules[f"prefix_f{lane}"] = pf = Popcount(n, masked=True)
            m.submodules[f"prefix_a{lane}"] = pa = Popcount(n, masked=True)
            m.d.comb += [prio.i.eq(r), pf.i.eq(prio.below), pf.mask.eq(mask_f),
                         pa.i.eq(prio.below), pa.mask.eq(mask_a)]
            out = self.o.payload.lanes[lane]
            m.d.comb += [
                out.valid.eq(prio.valid),
                out.pos.eq(prio.index),
                out.off_f.eq(pf.o),
                out.off_a.eq(pa.o),
            ]
            count = count + out.valid
            r = prio.rest
        final = ~r.any()          # nothing left after this beat: it is the chunk's last

        m.d.comb += [
            self.o.valid.eq(busy),
            self.o.payload.n.eq(count),
            self.o.payload.last.eq(final),
            self.o.payload.chunk_last.eq(chunk_last),
            self.i.ready.eq(~busy | (self.o.ready & final)),
        ]
        if extra is not None:
            m.d.comb += self.o.payload.extra.eq(extra)

        with m.If(self.i.valid & self.i.ready):
            p = self.i.payload
            m.d.sync += [busy.eq(1), rem.eq(p.mask_f & p.mask_a), mask_f.eq(p.mask_f),
                         mask_a.eq(p.mask_a), chunk_last.eq(p.last)]
            if extra is not None:
                m.d.sync += extra.eq(p.extra)
        with m.Elif(self.o.valid & self.o.ready):
            m.d.sync += rem.eq(r)
            with m.If(final):
                m.d.sync += busy.eq(0)
        return m
