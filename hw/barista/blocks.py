"""BARISTA's area blocks (:class:`hw.common.blocks.BlockTable`), keyed by the submodule names of
hw/barista/: the filter group's ``dispatch`` and its SparTen compute units ``cu<i>`` (whose blocks
are SparTen's), the engine's fetch banks ``bank<b>``, coloured output buffer ``outbuf`` and
clusters ``cluster<c>``. BARISTA's baselines are SparTen designs, so SparTen's whole table is
part of this one."""

from ..common.blocks import Block, BlockTable
from ..sparten.blocks import BLOCKS as SPARTEN

__all__ = ["BLOCKS"]

BLOCKS = BlockTable(
    "barista",
    (
        *SPARTEN.blocks,                       # cu, join, prefix sums, ..., cluster (control)
        Block("dispatch", "dispatcher"),       # dispatch.py: dynamic round-robin task dispatch
        Block("bank", "chunk fetch"),          # fetch.py's ChunkFetch per shared bank
        Block("outbuf", "output buffer"),      # outbuf.py's coloured output buffer
    ),
)
