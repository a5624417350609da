"""Tops of hw/sparten that ``sparse-hw verilog`` emits."""

from ..top import Top  # noqa: F401

TOPS = []
