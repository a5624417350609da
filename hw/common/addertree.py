"""Balanced binary reduction (adder) tree, combinational or pipelined.

:func:`tree_sum` builds the tree inside an existing module (the engines use it for their per-row
reductions); :class:`AdderTree` wraps it as a stand-alone component for tests and area reports.

Widths grow exactly: Amaranth's ``a + b`` is one bit wider than its wider operand, so a tree of
``n`` inputs of width ``w`` yields ``w + ceil_log2(n)`` bits and never overflows.
"""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["tree_sum", "tree_depth", "AdderTree"]


def tree_depth(n):
    """Adder levels of a balanced tree over ``n`` inputs (0 for one input)."""
    return ceil_log2(n) if n > 1 else 0


def tree_sum(m, values, *, register_every=0, register_at=(), en=None, name="tree"):
    """Sum ``values`` with a balanced binary tree built in module ``m``.

    Parameters
    ----------
    m : Module
    values : list of Value
        Addends (signed or unsigned); at least one.
    register_every : int
        Insert a register stage after every ``register_every`` adder levels (0: combinational).
        The last level is registered only when the depth is a multiple of ``register_every``.
    register_at : iterable of int
        Also insert a register stage after each of these adder levels (0: the addends
        themselves); levels beyond the depth are an error.
    en : Value or None
        Clock enable of the registers (``None``: always enabled).
    name : str
        Prefix of the register names.

    Returns
    -------
    (Value, int)
        The sum and the latency in cycles (number of register stages).
    """
    level = list(values)
    if not level:
        raise ValueError("tree_sum needs at least one value")
    register_at = set(register_at)
    if any(k < 0 or k > tree_depth(len(level)) for k in register_at):
        raise ValueError(f"register_at levels must be in 0..{tree_depth(len(level))}, not "
                         f"{sorted(register_at)!r}")

    def register(level, depth):
        regs = []
        for j, v in enumerate(level):
            r = Signal(v.shape(), name=f"{name}_l{depth}_{j}")
            if en is None:
                m.d.sync += r.eq(v)
            else:
                with m.If(en):
                    m.d.sync += r.eq(v)
            regs.append(r)
        return regs

    depth = latency = 0
    if 0 in register_at:
        level, latency = register(level, 0), 1
    while len(level) > 1:
        nxt = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        depth += 1
        if register_every and depth % register_every == 0 or depth in register_at:
            level = register(level, depth)
            latency += 1
    return level[0], latency


def _check_params(n, width, register_every, register_at):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, not {n!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, not {width!r}")
    if isinstance(register_every, bool) or not isinstance(register_every, int) \
            or register_every < 0:
        raise ValueError(f"register_every must be an int >= 0, not {register_every!r}")
    d = tree_depth(n)
    if any(isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= d for k in register_at):
        raise ValueError(f"register_at levels must be ints in 0..{d} (the tree's depth), not "
                         f"{tuple(register_at)!r}")


class AdderTree(wiring.Component):
    """Stand-alone reduction tree of ``n`` inputs of ``width`` bits.

    Parameters
    ----------
    n : int
        Number of addends (>= 1).
    width : int
        Width of each addend.
    is_signed : bool
        Two's complement addends.
    register_every : int
        Pipeline register after every ``register_every`` levels (0: combinational).
    register_at : tuple of int
        Pipeline registers after these levels too (0: the addends), e.g. ``(3,)`` to cut a
        five-level tree after its third level.

    Members
    -------
    i : In(ArrayLayout) of ``n`` addends.
    o : Out(``width + ceil_log2(n)``) their sum, :attr:`latency` cycles later; throughput one sum
        per cycle.
    en : In(1), only when :attr:`latency` > 0
        Clock enable of every register (high: the tree moves; the default).
    """

    def __init__(self, n, width, is_signed=True, register_every=0, register_at=()):
        try:
            _check_params(n, width, register_every, tuple(register_at))
        except ValueError:
            self._MustUse__silence = True        # a refused component is not an unused one
            raise
        self._n, self._width, self._signed = n, width, is_signed
        self._every, self._at = register_every, tuple(sorted(set(register_at)))
        shape = signed if is_signed else unsigned
        from amaranth.lib.data import ArrayLayout
        ports = {"i": In(ArrayLayout(shape(width), n)), "o": Out(shape(width + tree_depth(n)))}
        if self.latency:
            ports["en"] = In(1, init=1)
        super().__init__(ports)

    @property
    def latency(self):
        d = tree_depth(self._n)
        every = set(range(self._every, d + 1, self._every)) if self._every else set()
        return len(every | set(self._at))

    def elaborate(self, platform):
        m = Module()
        total, lat = tree_sum(m, [self.i[j] for j in range(self._n)],
                              register_every=self._every, register_at=self._at,
                              en=self.en if self.latency else None)
        assert lat == self.latency
        m.d.comb += self.o.eq(total)
        return m
