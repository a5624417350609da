"""Tops of hw/eureka that ``sparse-hw verilog`` emits (and synth/ reports).

The EUREKA core at the default tensor-core size (R=8 rows x L=32 lanes, G=8) and its two baselines
of the same R x L from the same generator: the dense core and the Ampere-like 2:4 core (G=4); and
the preload top (the same core with its weight and activation buffers and sequencer) that whole
GEMMs run on (``sparse-hw run eureka``).
"""

from ..top import Top
from .config import GEMM_PAPER, PAPER
from .core import EurekaCore

EUREKA = PAPER


def _build(config):
    return EurekaCore(config)


def _gemm(config):
    from .preload import EurekaGemm
    return EurekaGemm(config)


TOPS = [
    Top("eureka_core", EUREKA, _build, "eureka", "engine",
        "EUREKA tensor core 8x32, G=8: dense, N:M, unstructured with SUDS"),
    Top("eureka_dense", EUREKA.dense_baseline(), _build, "eureka", "dense-baseline",
        "dense tensor core 8x32 (no muxes, no metadata), same generator"),
    Top("eureka_ampere24", EUREKA.ampere24_baseline(), _build, "eureka", "sparse-baseline",
        "Ampere-like 2:4 sparse core 8x32 (G=4 mux, dense and 2:4 only), same generator"),
    # role "layer", not "engine": area reports compare engines with baselines of equal size; this
    # top adds buffers (SRAM macros) and a sequencer around eureka_core.
    Top("eureka_gemm", GEMM_PAPER, _gemm, "eureka", "layer",
        "EUREKA preload top 8x32, G=8: eureka_core with weight (512 beats) and activation "
        "(512 windows) buffers and a sequencer"),
]
