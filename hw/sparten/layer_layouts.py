"""Layouts and sizes of the SparTen layer top's ports, shared by its submodules and the host side.

:func:`descriptor_layout` (the ``desc`` port), :func:`load_layout` (a ``load`` beat) and
:func:`table_layout` (a channel-table entry) are what :mod:`hw.sparten.memmap` packs; the load
targets are :data:`TARGET_ACT`, :data:`TARGET_WEIGHT` and :data:`TARGET_TABLE`.
"""

from amaranth import signed, unsigned
from amaranth.lib import data
from amaranth.utils import ceil_log2

from .cluster import w_addr_width
from .cu import chunk_word, out_addr_width
from .output import MULTIPLIER_WIDTH, SHIFT_WIDTH

__all__ = ["TARGET_ACT", "TARGET_WEIGHT", "TARGET_TABLE", "counter_width", "act_addr_width",
           "max_chunks", "max_rounds", "descriptor_layout", "table_layout", "load_layout"]

TARGET_ACT, TARGET_WEIGHT, TARGET_TABLE = 0, 1, 2


def counter_width(n):
    """Width of a counter 0..n."""
    return max(1, ceil_log2(n + 1))


def act_addr_width(config):
    return max(1, ceil_log2(config.act_depth))


def max_chunks(config):
    return -(-config.max_channels // config.chunk)


def max_rounds(config):
    return -(-config.max_channels // config.n_units)


def descriptor_layout(config):
    """The per-layer descriptor (held constant from ``start`` to ``done``).

    Derived fields (``w_round``, ``step_x``...) are precomputed by :func:`hw.sparten.memmap.plan_layer`
    so the sequencer needs adders only.
    """
    _w = counter_width
    aw = act_addr_width(config) + 2
    return data.StructLayout({
        "H": _w(config.max_size), "W": _w(config.max_size),
        "Ho": _w(config.max_size), "Wo": _w(config.max_size),
        "R": _w(config.max_kernel), "S": _w(config.max_kernel),
        "stride": _w(config.max_stride), "pad": _w(config.max_kernel),
        "nc": _w(max_chunks(config)),                  # channel chunks per vector
        "K": _w(config.max_channels),
        "rounds": _w(max_rounds(config)),
        "P": _w(config.out_depth),                     # Ho*Wo
        "w_round": _w(config.weight_depth),            # R*S*nc
        "step_x": aw, "step_y": aw, "tap_y": aw,       # stride*nc, stride*W*nc, W*nc
        "base0": signed(aw + 1),                       # -(pad*W + pad)*nc
        "sparse_out": 1, "relu": 1,
        "multiplier": unsigned(MULTIPLIER_WIDTH), "shift": unsigned(SHIFT_WIDTH),
    })


def table_layout(config):
    """Channel table entry: the unit holding channel k and ``round*P`` (its output bank base)."""
    return data.StructLayout({"unit": max(1, ceil_log2(config.n_units)),
                              "base": out_addr_width(config)})


def load_layout(config):
    """A load beat: ``target`` (0 activations, 1 filter bank ``unit``, 2 channel table), address,
    data (a chunk word; for the table the low bits hold a :func:`table_layout` entry)."""
    aw = max(act_addr_width(config), w_addr_width(config), counter_width(config.max_channels))
    return data.StructLayout({"target": 2, "unit": max(1, ceil_log2(config.n_units)),
                              "addr": aw, "data": chunk_word(config)})
