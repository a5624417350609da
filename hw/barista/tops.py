"""Tops of hw/barista that ``sparse-hw verilog`` emits."""

import dataclasses

from ..top import Top
from .config import PAPER, SMALL

#: The fetch block at the paper's chunk (128) with 8 ports, for area: its per-port share beside
#: SparTen's compute unit is BARISTA's logic per MAC (sim/bench_barista.py, iso-area). 128 words
#: keep the bank a memory macro (synth/area.py reports its bits, no standard-cell area).
FETCH_PAPER = dataclasses.replace(PAPER, units_per_cluster=8, input_buffer_chunks=128)


def _dispatch(config):
    from .dispatch import TaskDispatch
    return TaskDispatch(config)


def _group(config):
    from .group import BaristaGroup
    return BaristaGroup(config)


def _outbuf(config):
    from .outbuf import ColourBuffer
    return ColourBuffer(config)


def _fetch(config):
    from .fetch import ChunkFetch
    return ChunkFetch(config)


TOPS = [
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
