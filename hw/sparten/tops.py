"""Tops of hw/sparten that ``sparse-hw verilog`` emits."""

from ..top import Top
from .config import SMALL, SparTenConfig


def _layer(config):
    from .layer import SparTenLayer
    return SparTenLayer(config)


def _cu(config):
    from .cu import ComputeUnit
    return ComputeUnit(config)


def _cluster(config):
    from .cluster import Cluster
    # One compute-unit module instanced n_units times: converts and synthesises the unit once
    # (32 separate copies take minutes to convert and 32x the Yosys time).
    return Cluster(config, unit_module=".cu")


TOPS = [
    # The whole layer engine (memories, sequencer, cluster, output path) at the configuration the
    # RTL tests and `sparse-hw run sparten` use: chunk 8, 4 units. Larger configs convert slowly
    # (Amaranth writes out every memory word), so the paper-sized unit is registered on its own.
    Top("sparten_layer", SMALL, _layer, engine="sparten", role="engine",
        description="SparTen layer top: 4 units, chunk 8, on-chip memories, output path"),
    # One compute unit at the paper's chunk size (128), one match per cycle: the block that the
    # cluster replicates n_units times (area per unit; the cluster adds only the barrier logic
    # and the filter banks).
    Top("sparten_cu", SparTenConfig(), _cu, engine="sparten", role="block",
        description="SparTen compute unit: inner join + MAC + accumulator, chunk 128"),
    # The cluster at the paper's size (32 units, chunk 128): the units, their filter banks (SRAM
    # macros in the area report) and the broadcast/barrier logic. For synthesis: the units are
    # instances of one shared module (hw/common/shared.py); the RTL tests simulate the same
    # Cluster with ordinary submodules at SMALL size inside sparten_layer.
    Top("sparten_cluster", SparTenConfig(), _cluster, engine="sparten", role="engine",
        description="SparTen cluster: 32 compute units (one shared module), chunk 128, "
                    "filter banks"),
]
