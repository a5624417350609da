"""Tops of hw/eureka that ``sparse-hw verilog`` emits (and synth/ reports).

The EUREKA core at the default tensor-core size (R=8 rows x L=32 lanes, G=8) and its two baselines
of the same R x L from the same generator: the dense core and the Ampere-like 2:4 core (G=4).
"""

from ..top import Top
from .config import PAPER
from .core import EurekaCore

EUREKA = PAPER


def _build(config):
    return EurekaCore(config)


TOPS = [
    Top("eureka_core", EUREKA, _build, "eureka", "engine",
        "EUREKA tensor core 8x32, G=8: dense, N:M, unstructured with SUDS"),
    Top("eureka_dense", EUREKA.dense_baseline(), _build, "eureka", "dense-baseline",
        "dense tensor core 8x32 (no muxes, no metadata), same generator"),
    Top("eureka_ampere24", EUREKA.ampere24_baseline(), _build, "eureka", "sparse-baseline",
        "Ampere-like 2:4 sparse core 8x32 (G=4 mux, dense and 2:4 only), same generator"),
]
