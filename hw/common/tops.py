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
