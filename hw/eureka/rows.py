"""The per-row combinational blocks of the EUREKA core (:mod:`hw.eureka.core`): the G:1 selects,
the multipliers and the SUDS steering / moved-product extraction, each a named submodule of the
core so that synthesis reports its area."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RowSelect", "RowMultiply", "RowSteer", "RowMoved"]


def _windows(config):
    """``L`` lanes of ``G`` activations: one window (the core's ``act_layout`` member ``a``)."""
    return data.ArrayLayout(data.ArrayLayout(signed(config.value_width), config.group),
                            config.lanes)


def _values(config):
    """``L`` operands of ``value_width`` bits (weights or activations of one row)."""
    return data.ArrayLayout(signed(config.value_width), config.lanes)


def _products(config):
    """``L`` products of ``2 * value_width`` bits (exact: a signed x signed product never wraps)."""
    return data.ArrayLayout(signed(2 * config.value_width), config.lanes)


class RowSelect(wiring.Component):
    """The L G:1 activation selects of one row (combinational).

    Members
    -------
    a : In(ArrayLayout)
        The activation window ``a[l][g]`` (see :func:`hw.eureka.core.act_layout`).
    sel, valid : In(ArrayLayout)
        Per slot: which of its lane's G activations to take, and whether the slot holds a weight.
    x : Out(ArrayLayout)
        ``x[l] = a[l][sel[l]]`` if ``valid[l]`` else 0. Zeroing the activation instead of the
        product gives the same zero product with an 8-bit rather than a 16-bit gate.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "a": In(_windows(config)),
            "sel": In(data.ArrayLayout(unsigned(config.sel_width), config.lanes)),
            "valid": In(data.ArrayLayout(unsigned(1), config.lanes)),
            "x": Out(_values(config)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        for l in range(cfg.lanes):
            if cfg.select == "mux":
                m.d.comb += self.x[l].eq(Mux(self.valid[l], self.a[l][self.sel[l]], 0))
                continue
            # "onehot": G enables (valid folded in), then a balanced OR of the G AND terms; its
            # structure is what ABC maps to AOI22/NAND4 (a chained OR or a[sel] map larger).
            en = [Signal(name=f"en{l}_{g}") for g in range(cfg.group)]
            m.d.comb += [en[g].eq(self.valid[l] & (self.sel[l] == g)) for g in range(cfg.group)]
            terms = [self.a[l][g].as_unsigned() & en[g].replicate(cfg.value_width)
                     for g in range(cfg.group)]
            while len(terms) > 1:
                terms = [terms[i] | terms[i + 1] if i + 1 < len(terms) else terms[i]
                         for i in range(0, len(terms), 2)]
            m.d.comb += self.x[l].eq(terms[0])
        return m


class RowMultiply(wiring.Component):
    """The L multipliers of one row (combinational): ``p[l] = w[l] * x[l]``."""

    def __init__(self, config):
        self._config = config
        super().__init__({
            "w": In(_values(config)),
            "x": In(_values(config)),
            "p": Out(_products(config)),
        })

    def elaborate(self, platform):
        m = Module()
        for l in range(self._config.lanes):
            m.d.comb += self.p[l].eq(self.w[l] * self.x[l])
        return m


class RowSteer(wiring.Component):
    """SUDS steering of one row (combinational demux).

    ``own[l] = p[l]`` and ``mov[l] = 0`` when ``disp[l]`` is 0, the other way round when it is 1:
    a displaced product goes to the tree that feeds the row above's accumulator.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "p": In(_products(config)),
            "disp": In(data.ArrayLayout(unsigned(1), config.lanes)),
            "own": Out(_products(config)),
            "mov": Out(_products(config)),
        })

    def elaborate(self, platform):
        m = Module()
        for l in range(self._config.lanes):
            m.d.comb += [self.own[l].eq(Mux(self.disp[l], 0, self.p[l])),
                         self.mov[l].eq(Mux(self.disp[l], self.p[l], 0))]
        return m


class RowMoved(wiring.Component):
    """SUDS moved-product extraction of one row after the product register (combinational).

    ``seg[s]`` is the OR over the lanes of segment ``s`` (``config.segment`` contiguous lanes) of
    ``p[l]`` where ``disp[l]``, else 0. The scheduler puts at most one moved weight in a segment
    per cycle (``disp_budget``), so the OR is that product; without a budget every lane is its
    own segment and ``seg`` is the masked products, reduced by a full tree.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "p": In(_products(config)),
            "disp": In(data.ArrayLayout(unsigned(1), config.lanes)),
            "seg": Out(data.ArrayLayout(signed(2 * config.value_width),
                                        config.lanes // config.segment)),
        })

    def elaborate(self, platform):
        m = Module()
        k = self._config.segment
        for s in range(self._config.lanes // k):
            terms = [Mux(self.disp[l], self.p[l], 0) for l in range(s * k, (s + 1) * k)]
            v = terms[0]
            for t in terms[1:]:
                v = v | t
            m.d.comb += self.seg[s].eq(v)
        return m
