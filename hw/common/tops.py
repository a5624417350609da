"""Tops of hw/common that ``sparse-hw verilog`` emits: shared blocks only (engine tops and their
baselines live next to their engine, e.g. ``hw/sparten/tops.py``)."""

from ..top import Top
from .innerjoin import PAPER, InnerJoin


def _innerjoin(config):
    return InnerJoin(config.chunk, config.matches_per_cycle)


TOPS = [
    # SparTen's inner-join front end at the paper's chunk size, one match per cycle.
    Top("innerjoin128", PAPER, _innerjoin,
        engine="common", role="block",
        description="inner join of two 128-bit chunk masks, one match per cycle"),
]
