"""Readout of the SparTen layer top: output banks -> results in output-channel order.

Results leave per position in channel order (``p`` major, ``k`` minor). Stage 1 finds where
channel ``k`` of position ``p`` was written: with ``permute`` from the channel table (its unit and
its round's bank base; this table and the bank select are the permutation network that undoes
GB-H's filter order), otherwise by counting units and rounds. Stage 2 reads the output banks and
selects the unit's value (:class:`BankSelect`, submodule ``unperm``).
"""

from amaranth import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .cu import out_addr_width
from .layer_layouts import counter_width, descriptor_layout, table_layout
from .output import acc_layout

__all__ = ["Readout", "BankSelect"]


class Readout(wiring.Component):
    """Reads the ``K * P`` results of a layer run out of the output banks.

    Parameters
    ----------
    config : SparTenConfig

    Members
    -------
    desc : In(descriptor_layout(config))
    start : In(1)
        Pulse: read position 0, channel 0 onwards (the compute phase is over).
    table_addr : Out(range of channels), table_en : Out(1), table_data : In(table_layout(config))
        The channel table's read port (one cycle of latency); unused without ``permute``.
    bank_addr : Out(out_addr_width(config)), bank_en : Out(1)
        Read address and enable of every output bank (one cycle of latency).
    bank_data : In(ArrayLayout(signed(acc_width), n_units))
        The banks' read data.
    o : Out(stream.Signature(acc_layout(config)))
        One accumulator per (position, channel), ``last`` on channel K-1.
    end : Out(1)
        The beat on ``o`` is the run's last (position P-1, channel K-1).

    Throughput one result per cycle while ``o`` is ready; latency two cycles (table, bank).
    """

    def __init__(self, config):
        self._cfg = config
        n = config.n_units
        super().__init__({
            "desc": In(descriptor_layout(config)),
            "start": In(1),
            "table_addr": Out(counter_width(config.max_channels)),
            "table_en": Out(1),
            "table_data": In(table_layout(config)),
            "bank_addr": Out(out_addr_width(config)),
            "bank_en": Out(1),
            "bank_data": In(data.ArrayLayout(signed(config.acc_width), n)),
            "o": Out(stream.Signature(acc_layout(config))),
            "end": Out(1),
        })

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        n = cfg.n_units
        d = self.desc
        rp_p = Signal(out_addr_width(cfg) + 1)
        rk = Signal(counter_width(cfg.max_channels))
        gen = Signal()                  # readout generator has values left
        v1 = Signal()
        p1 = Signal.like(rp_p)
        last1 = Signal()
        end1 = Signal()
        v2 = Signal()
        unit2 = Signal(max(1, ceil_log2(n)))
        last2 = Signal()
        end2 = Signal()
        adv2 = Signal()
        adv1 = Signal()
        m.d.comb += [adv2.eq(~v2 | self.o.ready), adv1.eq(~v1 | adv2)]
        if cfg.permute:
            unit1 = self.table_data.unit
            base1 = self.table_data.base
            m.d.comb += [self.table_en.eq(adv1), self.table_addr.eq(rk)]
        else:
            cnt_unit = Signal(max(1, ceil_log2(n)))
            cnt_base = Signal(out_addr_width(cfg) + 1)
            unit1 = Signal.like(cnt_unit)
            base1 = Signal.like(cnt_base)
            with m.If(adv1):
                m.d.sync += [unit1.eq(cnt_unit), base1.eq(cnt_base)]
        with m.If(adv1):
            m.d.sync += [v1.eq(gen), p1.eq(rp_p), last1.eq(rk == d.K - 1),
                         end1.eq((rk == d.K - 1) & (rp_p == d.P - 1))]
        with m.If(gen & adv1):
            m.d.sync += rk.eq(rk + 1)
            if not cfg.permute:
                m.d.sync += cnt_unit.eq(cnt_unit + 1)
                with m.If(cnt_unit == n - 1):
                    m.d.sync += [cnt_unit.eq(0), cnt_base.eq(cnt_base + d.P)]
            with m.If(rk == d.K - 1):
                m.d.sync += [rk.eq(0), rp_p.eq(rp_p + 1)]
                if not cfg.permute:
                    m.d.sync += [cnt_unit.eq(0), cnt_base.eq(0)]
                with m.If(rp_p == d.P - 1):
                    m.d.sync += gen.eq(0)
        m.d.comb += [self.bank_en.eq(adv2), self.bank_addr.eq(base1 + p1)]
        with m.If(adv2):
            m.d.sync += [v2.eq(v1), unit2.eq(unit1), last2.eq(last1), end2.eq(end1)]
        # The result of slot (round, unit) comes from unit `unit2`'s bank: with `permute` the
        # un-permute of GB-H, its own submodule so that area reports show it.
        m.submodules.unperm = unperm = BankSelect(cfg)
        m.d.comb += [unperm.sel.eq(unit2), unperm.i.eq(self.bank_data),
                     self.o.valid.eq(v2), self.o.payload.acc.eq(unperm.o),
                     self.o.payload.last.eq(last2), self.end.eq(end2)]

        # Last, so that a start wins over a step in the same cycle.
        with m.If(self.start):
            m.d.sync += [gen.eq(1), rk.eq(0), rp_p.eq(0)]
            if not cfg.permute:
                m.d.sync += [cnt_unit.eq(0), cnt_base.eq(0)]
        return m


class BankSelect(wiring.Component):
    """``o = i[sel]``: one result out of the ``n_units`` output banks' read data (combinational)."""

    def __init__(self, cfg):
        self._n = cfg.n_units
        super().__init__({"i": In(data.ArrayLayout(signed(cfg.acc_width), cfg.n_units)),
                          "sel": In(max(1, ceil_log2(cfg.n_units))),
                          "o": Out(signed(cfg.acc_width))})

    def elaborate(self, platform):
        m = Module()
        with m.Switch(self.sel):
            for u in range(self._n):
                with m.Case(u):
                    m.d.comb += self.o.eq(self.i[u])
        return m
