"""Tops of hw/barista that ``sparse-hw verilog`` emits."""

import dataclasses

from ..sparten.config import SMALL as SPARTEN_SMALL
from ..sparten.dense_baseline import DenseMacArray, DenseMacConfig
# The SparTen baseline is built by the very callable of SparTen's own layer top, so that tests
# which synthesise every top once per (build, config) do not build the copy twice.
from ..sparten.tops import _layer as _sparten_layer
from ..top import Top
from .config import CLUSTER, ENGINE, PAPER, SMALL

#: The fetch block at the paper's chunk (128) with 8 ports, for area: its per-port share beside
#: SparTen's compute unit is BARISTA's logic per MAC (sim/bench_barista.py, iso-area). 128 words
#: keep the bank a memory macro (synth/area.py reports its bits, no standard-cell area).
FETCH_PAPER = dataclasses.replace(PAPER, units_per_cluster=8, input_buffer_chunks=128)


def _lazy(module, name):
    """A factory ``config -> hw.barista.<module>.<name>(config)`` that imports the block only
    when a top is built."""
    def build(config):
        import importlib
        return getattr(importlib.import_module(f".{module}", __package__), name)(config)
    build.__name__ = f"_{module}"
    return build


_dispatch = _lazy("dispatch", "TaskDispatch")
_group = _lazy("group", "BaristaGroup")
_outbuf = _lazy("outbuf", "ColourBuffer")
_fetch = _lazy("fetch", "ChunkFetch")
_cluster = _lazy("cluster", "BaristaCluster")
_engine = _lazy("engine", "BaristaEngine")


def _baselines():
    """SparTen and dense designs of the cluster's MAC count, chunk and widths."""
    sparten = dataclasses.replace(SPARTEN_SMALL, n_units=CLUSTER.n_units, chunk=CLUSTER.chunk,
                                  value_width=CLUSTER.value_width, acc_width=CLUSTER.acc_width,
                                  matches_per_cycle=CLUSTER.matches_per_cycle)
    return sparten, DenseMacConfig.like(CLUSTER)


SPARTEN_BASELINE, DENSE_BASELINE = _baselines()


TOPS = [
    # One whole cluster (CLUSTER: SMALL's 4 SparTen units, chunk 8, 4 banks, 2 colours): the
    # request/response fetch with combining and snarfing, the dispatcher, the units and the
    # coloured output buffer, running KxK conv layers.
    Top("barista_cluster", CLUSTER, _cluster, engine="barista", role="engine",
        description="BARISTA cluster: 4 SparTen units behind 4 shared banks (request/response, "
                    "combining, snarfing), dispatcher, 2-colour output buffer, chunk 8"),
    # Two clusters sharing the layer's input map, the filters dealt between them (ENGINE: 2 x 4
    # units). A block for the area report: its baselines are the cluster's, twice.
    Top("barista_engine", ENGINE, _engine, engine="barista", role="block",
        description="BARISTA engine: 2 clusters x 4 SparTen units, filters dealt between them, "
                    "the input map shared"),
    # Its like-for-like baselines (same MACs, chunk and widths): SparTen's whole layer engine
    # (broadcast cluster with its memories, sequencer and output path) and a dense MAC array.
    Top("barista_sparten_layer", SPARTEN_BASELINE, _sparten_layer, engine="barista",
        role="sparten-baseline",
        description=f"SparTen layer engine as BARISTA's baseline: {SPARTEN_BASELINE.n_units} "
                    f"units, chunk {SPARTEN_BASELINE.chunk}"),
    Top("barista_dense_array", DENSE_BASELINE, DenseMacArray, engine="barista",
        role="dense-baseline",
        description=f"dense MAC array as BARISTA's baseline: {DENSE_BASELINE.n_units} MACs, "
                    f"chunk {DENSE_BASELINE.chunk}"),
    # One shared bank with its request/response network at the reduced scale of SMALL (4 ports,
    # 256 chunks of chunk 8): round-robin issue, combining and snarfing on the response bus.
    Top("barista_fetch", SMALL, _fetch, engine="barista", role="block",
        description="BARISTA chunk fetch: one shared bank, 4 request/response ports, combining "
                    "and snarfing, chunk 8"),
    # The dynamic round-robin dispatcher of one filter group at SMALL size (4 units, 2 colours).
    Top("barista_dispatch", SMALL, _dispatch, engine="barista", role="block",
        description="BARISTA dispatcher: dynamic round-robin of a filter's tasks over 4 units, "
                    "2 coloured tiles in flight"),
    # One filter's barrier-free group at SMALL size: the dispatcher, 4 SparTen compute units
    # (unchanged, chunk 8) and the chunk memories.
    Top("barista_group", SMALL, _group, engine="barista", role="block",
        description="BARISTA filter group: dynamic round-robin dispatcher + 4 SparTen compute "
                    "units, chunk 8, 2 colours"),
    # The coloured output buffer at SMALL size (2 colours of 256 int32 entries).
    Top("barista_outbuf", SMALL, _outbuf, engine="barista", role="block",
        description="BARISTA coloured output buffer: 2 colours of 256 results, one drains while "
                    "the other fills"),
    Top("barista_fetch_paper", FETCH_PAPER, _fetch, engine="barista", role="block",
        description="BARISTA chunk fetch at chunk 128: one shared bank, 8 request/response "
                    "ports (area per port)"),
]

#: (engine top, baseline top) pairs of like-for-like area comparisons: the cluster against SparTen
#: and dense designs of its MAC count (synth/area.py's ``pairs()`` finds them by role and engine:
#: the baselines' ``n_units`` equal the cluster's units, its config has no ``n_units`` field).
PAIRS = [("barista_cluster", "barista_sparten_layer"), ("barista_cluster", "barista_dense_array")]
