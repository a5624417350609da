"""Tops of hw/sparten that ``sparse-hw verilog`` emits."""

import dataclasses

from ..top import Top
from .config import PAPER, SMALL
from .dense_baseline import DenseMacArray, DenseMacConfig


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
    Top("sparten_cu", PAPER, _cu, engine="sparten", role="block",
        description="SparTen compute unit: inner join + MAC + accumulator, chunk 128"),
    # The cluster at the paper's size (32 units, chunk 128): the units, their filter banks (SRAM
    # macros in the area report) and the broadcast/barrier logic. For synthesis: the units are
    # instances of one shared module (hw/common/shared.py); the RTL tests simulate the same
    # Cluster with ordinary submodules at SMALL size inside sparten_layer.
    Top("sparten_cluster", PAPER, _cluster, engine="sparten", role="engine",
        description="SparTen cluster: 32 compute units (one shared module), chunk 128, "
                    "filter banks"),
]


def _dense_macs():
    # Like-for-like area baselines of SparTen (synth/area.py pairs them): a dense MAC array of as
    # many MACs, widths and chunk as the engine top (layer), one dense MAC unit at the chunk of
    # the compute-unit top (per-unit comparison at paper size), and a dense array as large as the
    # paper-sized cluster.
    by_name = {t.name: t.config for t in TOPS}
    engine = next(t.config for t in TOPS if t.role == "engine")
    array = DenseMacConfig.like(engine)
    one = DenseMacConfig.like(dataclasses.replace(by_name["sparten_cu"], n_units=1))
    cluster = DenseMacConfig.like(by_name["sparten_cluster"])
    return [
        Top("sparten_dense_mac", array, DenseMacArray, engine="sparten", role="dense-baseline",
            description=f"dense MAC array, {array.n_units} MACs, chunk {array.chunk} (as the "
                        "SparTen engine top)"),
        Top("sparten_dense_unit", one, DenseMacArray, engine="sparten", role="dense-baseline",
            description=f"one dense MAC unit, chunk {one.chunk} (as the SparTen compute unit)"),
        Top("sparten_dense_array", cluster, DenseMacArray, engine="sparten",
            role="dense-baseline",
            description=f"dense MAC array, {cluster.n_units} MACs, chunk {cluster.chunk} (as the "
                        "paper-sized SparTen cluster)"),
    ]


TOPS.extend(_dense_macs())
