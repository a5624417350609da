"""Bit-level building blocks as Amaranth expression builders: popcount, exclusive prefix popcount,
lowest-set-bit isolation and one-hot to index.

They are plain functions returning Amaranth values (combinational logic, no state), so a block
instantiates them inline wherever it needs them. :class:`Popcount` (optionally masked) and
:class:`PriorityEncoder` are the same logic as components: the inner join uses them as named
submodules, so that synthesis reports give the prefix sums and the priority encoder their own area.
"""

from amaranth import Cat, Const, Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["popcount", "prefix_popcounts", "prefix_or", "lowest_set", "onehot_index", "count_width",
           "Popcount", "PriorityEncoder"]


def count_width(n):
    """Width of a count 0..n."""
    return max(1, ceil_log2(n + 1))


def popcount(value):
    """Number of set bits of ``value`` as a balanced adder tree; width ``count_width(len(value))``."""
    value = value.as_value() if hasattr(value, "as_value") else value
    n = len(value)
    if n == 0:
        return Const(0, 1)
    terms = [value[i] for i in range(n)]
    # Pairwise tree: depth log2(n), each level one bit wider.
    while len(terms) > 1:
        nxt = []
        for k in range(0, len(terms) - 1, 2):
            nxt.append(terms[k] + terms[k + 1])
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0].as_unsigned()[:count_width(n)] if n > 1 else terms[0]


def prefix_popcounts(value):
    """Exclusive prefix popcounts: element ``i`` is ``popcount(value[:i])`` (a list of values).

    Built as independent popcounts of each prefix; Yosys shares the common subtrees. Used by the
    SparseMap encoder's compaction and as an alternative offset source.
    """
    n = len(value)
    return [Const(0, count_width(n))] + [popcount(value[:i]) for i in range(1, n)]


def lowest_set(value):
    """One-hot of the lowest set bit of ``value`` (zero if ``value`` is zero): ``v & -v``."""
    n = len(value)
    return (value & (~value + 1))[:n]


def onehot_index(onehot):
    """Binary index of a one-hot value (zero for zero): bit ``b`` is the OR of every position with
    bit ``b`` set, so no priority chain is needed once the input is one-hot."""
    n = len(onehot)
    w = max(1, ceil_log2(n))
    bits = []
    for b in range(w):
        sel = [onehot[i] for i in range(n) if (i >> b) & 1]
        bits.append(Cat(*sel).any() if sel else Const(0, 1))
    return Cat(*bits)


class Popcount(wiring.Component):
    """Combinational popcount of a ``width``-bit input, latency 0.

    ``o = popcount(i)``, or with ``masked`` ``o = popcount(i & mask)`` (the inner join counts the
    mask bits below a match: the prefix sum that indexes a packed value array).
    """

    def __init__(self, width, masked=False):
        self._width = width
        self._masked = bool(masked)
        members = {"i": In(width), "o": Out(count_width(width))}
        if masked:
            members["mask"] = In(width)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(popcount(self.i & self.mask if self._masked else self.i))
        return m


def prefix_or(value):
    """Inclusive prefix OR: bit ``k`` is ``value[0] | ... | value[k]`` (a list of 1-bit values).

    A Kogge-Stone tree: ``ceil_log2(n)`` levels of two-input ORs, each node driving at most two
    others. Written out, since the mapping flow keeps the structure it is given: a decrement's
    carry chain was twice as deep, and a Sklansky tree's wide fan-outs cost as much in buffers.
    """
    p = [value[k] for k in range(len(value))]
    span = 1
    while span < len(p):
        p = [p[k] | p[k - span] if k >= span else p[k] for k in range(len(p))]
        span *= 2
    return p


class PriorityEncoder(wiring.Component):
    """Combinational lowest-first priority encoder.

    One inclusive prefix OR ``P`` (:func:`prefix_or`, log depth) gives every output: ``~P`` is the
    positions below the lowest set bit, ``i & ~P[k-1]`` that bit and ``i & P[k-1]`` what remains.

    Members
    -------
    i : In(width)
    index : Out(ceil_log2(width))   position of the lowest set bit of ``i`` (0 when ``i`` is 0)
    valid : Out(1)                  ``i`` is not zero
    rest : Out(width)               ``i`` with that bit cleared
    below : Out(width)              ones at every position under that bit (all ones when ``i`` is 0)
    """

    def __init__(self, width):
        self._width = width
        super().__init__({"i": In(width), "index": Out(max(1, ceil_log2(width))),
                          "valid": Out(1), "rest": Out(width), "below": Out(width)})

    def elaborate(self, platform):
        m = Module()
        n = self._width
        pre = Signal(unsigned(n))       # pre[k]: some bit at or under k is set
        earlier = Signal(unsigned(n))   # earlier[k]: some bit under k is set
        low = Signal(unsigned(n))
        m.d.comb += [pre.eq(Cat(*prefix_or(self.i))), earlier.eq(pre << 1),
                     low.eq(self.i & ~earlier), self.index.eq(onehot_index(low)),
                     self.valid.eq(pre[n - 1]), self.rest.eq(self.i & earlier),
                     self.below.eq(~pre)]
        return m
