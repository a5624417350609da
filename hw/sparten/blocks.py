"""SparTen's area blocks (:class:`hw.common.blocks.BlockTable`), keyed by the submodule names of
hw/sparten/ (and of hw/common/innerjoin.py, which the compute unit holds as ``join``)."""

from ..common.blocks import INNER_JOIN, OTHER, Block, BlockTable

__all__ = ["BLOCKS", "COMPUTE_UNIT"]

#: The compute unit (hw/sparten/cu.py) and what it holds.
COMPUTE_UNIT = (
    *INNER_JOIN,
    # what InnerJoin keeps itself: the match/mask registers (the chunk masks and values it holds)
    # and the beat control
    Block("join", "inner join (registers, control)",
          carved={"mul": "inner join: multipliers", "add": "inner join: adders",
                  "mux": "inner join: muxes",
                  "regs": "buffers (chunk masks and values held by the join)"}),
    Block("mul", "MAC"),                       # cu.py's mul<k>: one multiplier per match lane
    Block("cu", "compute unit (MAC, chunk registers, control)",
          carved={"mul": "compute unit: multipliers", "add": "compute unit: adders",
                  "mux": "compute unit: operand select muxes",
                  "regs": "compute unit: registers"}),
)

BLOCKS = BlockTable(
    "sparten",
    (
        *COMPUTE_UNIT,
        Block("mac", "MAC"),                   # dense_baseline.py's mac<u> (the dense baselines)
        # cluster.py: the broadcast and the barrier are its own logic; fifo is the optional
        # per-unit chunk queue (unit_fifo_depth > 0)
        Block("cluster", OTHER),
        Block("fifo", "buffers"),
        # layer.py: the bank select that restores output-channel order (GB-H), the output path
        # (output.py: requant, SparseMap encoder), the sequencer and the readout
        Block("unperm", "permutation"),
        Block("outpath", "output path"),
        Block("requant", "output path"),
        Block("encoder", "output path"),
        Block("sequencer", "sequencer"),
        Block("readout", "readout"),
    ),
    # sparten_layer's cluster is compared with the dense MAC array of as many MACs on its own
    subtrees=("cluster",),
    size_fields=(("n_units",),),
    # the paper-sized compute unit against one dense MAC unit of the same chunk
    pairs=(("sparten_cu", "sparten_dense_unit"),),
)
