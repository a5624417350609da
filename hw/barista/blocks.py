"""BARISTA's area blocks (:class:`hw.common.blocks.BlockTable`), keyed by the submodule names of
hw/barista/ (the filter group's ``dispatch`` and its SparTen compute units ``cu<i>``, whose
blocks are SparTen's)."""

from ..common.blocks import Block, BlockTable
from ..sparten.blocks import COMPUTE_UNIT

__all__ = ["BLOCKS"]

BLOCKS = BlockTable(
    "barista",
    (
        *COMPUTE_UNIT,
        Block("dispatch", "dispatcher"),       # group.py: dynamic round-robin task dispatch
    ),
)
