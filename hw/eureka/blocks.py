"""EUREKA's area blocks (:class:`hw.common.blocks.BlockTable`), keyed by the submodule names of
hw/eureka/core.py (per row ``sel<r>``, ``mul<r>``, ``suds<r>``, ``own_tree<r>``, ``mov_tree<r>``;
with trees shared by pairs of rows also ``share<j>``) and hw/eureka/preload.py (``core``)."""

from ..common.blocks import OTHER, Block, BlockTable

__all__ = ["BLOCKS"]

BLOCKS = BlockTable(
    "eureka",
    (
        # the second tree of a row exists only for SUDS: products moved back to the row above
        # are summed there
        Block("mov_tree", "SUDS moved-product trees"),
        Block("suds", "SUDS steering"),
        # trees shared between rows (tree_share=2): the row-select before a pair's product register
        Block("share", "row-selects of shared trees"),
        Block("sel", "select muxes"),
        Block("own_tree", "reduction trees"),
        Block("mul", "multipliers"),
        # the preload top's core: its own logic is the core's pipeline (named as below)
        Block("core", OTHER),
    ),
    # what the core module keeps itself: pipeline registers, accumulators, control
    carved={"mul": "multipliers", "add": "accumulators (adders)",
            "mux": "pipeline muxes (enables, clear)", "regs": "registers (pipeline, accumulators)"},
    size_fields=(("rows", "lanes"),),
)
