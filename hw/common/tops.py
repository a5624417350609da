"""Tops of hw/common that ``sparse-hw verilog`` emits."""

from ..top import Top  # noqa: F401

TOPS = []


def _sparten_dense_mac():
    # Like-for-like area baseline of the SparTen cluster: as many MACs, same widths and chunk as the
    # default SparTenConfig (synth/area.py pairs it with the sparten engine tops).
    from ..sparten.config import SparTenConfig
    from ..sparten.dense_baseline import DenseMacArray, DenseMacConfig
    return Top("sparten_dense_mac", DenseMacConfig.like(SparTenConfig()), DenseMacArray,
               engine="sparten", role="dense-baseline",
               description="dense MAC array, as many MACs as the SparTen cluster")


TOPS.append(_sparten_dense_mac())


def _innerjoin():
    # SparTen's inner-join front end at the paper's chunk size, one match per cycle.
    from .innerjoin import InnerJoin, InnerJoinConfig
    cfg = InnerJoinConfig(chunk=128, matches_per_cycle=1)
    return Top("innerjoin128", cfg, lambda c: InnerJoin(c.chunk, c.matches_per_cycle),
               engine="common", role="block",
               description="inner join of two 128-bit chunk masks, one match per cycle")


TOPS.append(_innerjoin())
