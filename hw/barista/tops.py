"""Tops of hw/barista that ``sparse-hw verilog`` emits."""

from ..top import Top
from .config import SMALL


def _fetch(config):
    from .fetch import ChunkFetch
    return ChunkFetch(config)


TOPS = [
    # One shared bank with its request/response network at the reduced scale of SMALL (4 ports,
    # 256 chunks of chunk 8): round-robin issue, combining and snarfing on the response bus.
    Top("barista_fetch", SMALL, _fetch, engine="barista", role="block",
        description="BARISTA chunk fetch: one shared bank, 4 request/response ports, combining "
                    "and snarfing, chunk 8"),
]
