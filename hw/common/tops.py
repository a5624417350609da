"""Tops of hw/common that ``sparse-hw verilog`` emits."""

from ..top import Top  # noqa: F401

TOPS = []
