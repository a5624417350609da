"""Functional coverage of the corner cases DESIGN.md (section 4) says always run.

Bins are ours (no coverage library): :data:`BINS` names each one once. An RTL test classifies the
stimulus it actually ran on the RTL (the weights and activations it handed to ``run_cases``, and the
flow-control events the cocotb bench saw: an idle cycle before a first beat, backpressure on a last
beat), counts the hits in a :class:`Coverage`, writes them to ``build/coverage/<test>.json`` and
calls :meth:`Coverage.require`, which fails naming every bin of :data:`REQUIRED` for that test that
was not hit. Each test checks its own bins, so the check does not depend on test order or on which
pytest-xdist worker ran what.
"""

import json
import os
from pathlib import Path

import numpy as np

from hw.emit import build_dir

__all__ = ["BINS", "REQUIRED", "Coverage", "sparten_layer_bins", "eureka_case_bins",
           "COVERAGE_DIR"]

COVERAGE_DIR = Path(os.environ.get("SPARSE_HW_COVERAGE_DIR", build_dir() / "coverage"))

#: Every bin, with what hits it.
BINS = {
    "all_zero_chunk": "a SparseMap chunk (weights or activations) with no non-zero",
    "all_ones_mask": "a chunk whose mask has every bit set",
    "single_nonzero": "a chunk (SparTen) or a whole weight matrix (EUREKA) with one non-zero",
    "partial_last_chunk": "C not a multiple of the chunk (SparTen) or K not a multiple of the "
                          "window L*G (EUREKA): the last chunk/window is zero padded",
    "stride_2": "a convolution with stride 2",
    "conv_1x1": "a 1x1 convolution on a map larger than 1x1",
    "fc": "a fully connected layer (1x1 convolution on a 1x1 map)",
    "nm_degenerate_group": "an N:M run with a group of M holding fewer than N non-zeros",
    "suds_bottom_row_overflow": "a SUDS schedule that displaces weights into the bottom row, "
                                "which cannot pass anything further down",
    "idle_first_beat": "an idle input cycle right before a case's first input beat",
    "backpressure_last_beat": "the last output beat of a case waited with ready low",
}

#: Bins each RTL test must hit (keyed by the test's name as :class:`Coverage` is given it).
REQUIRED = {
    "sparten_layer_small": ("all_zero_chunk", "all_ones_mask", "single_nonzero",
                            "partial_last_chunk", "stride_2", "conv_1x1", "fc",
                            "idle_first_beat", "backpressure_last_beat"),
    "eureka_all_modes": ("single_nonzero", "partial_last_chunk", "nm_degenerate_group",
                         "suds_bottom_row_overflow", "idle_first_beat",
                         "backpressure_last_beat"),
}


class Coverage:
    """Hit counts of :data:`BINS` for one test."""

    def __init__(self, test):
        self.test = test
        self.hits = dict.fromkeys(BINS, 0)

    def hit(self, *names):
        for name in names:
            if name not in BINS:
                raise KeyError(f"unknown coverage bin {name!r}; bins: {sorted(BINS)}")
            self.hits[name] += 1

    def write(self, folder=None):
        folder = Path(folder or COVERAGE_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.test}.json"
        path.write_text(json.dumps({"test": self.test, "hits": self.hits,
                                    "required": list(REQUIRED.get(self.test, ()))}, indent=1))
        return path

    def missing(self, required=None):
        req = REQUIRED[self.test] if required is None else required
        return [b for b in req if not self.hits[b]]

    def require(self, required=None):
        """Write the hits, then raise ``AssertionError`` naming each required bin not hit."""
        path = self.write()
        miss = self.missing(required)
        if miss:
            raise AssertionError(f"coverage of {self.test}: bins not hit: "
                                 + "; ".join(f"{b} ({BINS[b]})" for b in miss) + f" [{path}]")


def _chunk_masks(x, chunk):
    """Masks of the chunks of ``x`` (last axis = channels, cut into zero-padded chunks)."""
    x = np.asarray(x)
    c = x.shape[-1]
    pad = -c % chunk
    flat = np.concatenate([x.reshape(-1, c), np.zeros((x.reshape(-1, c).shape[0], pad),
                                                      x.dtype)], axis=1)
    nz = flat.reshape(-1, chunk) != 0
    return nz


def sparten_layer_bins(w, a, stride, chunk):
    """Bins hit by one SparTen layer: ``w[K,C,R,S]``, ``a[C,H,W]`` (channel-innermost chunks)."""
    K, C, R, S = w.shape
    _, H, W = a.shape
    masks = np.concatenate([_chunk_masks(np.transpose(w, (0, 2, 3, 1)), chunk),
                            _chunk_masks(np.transpose(a, (1, 2, 0)), chunk)])
    counts = masks.sum(axis=1)
    # A full mask is only possible in a chunk that holds chunk real channels.
    bins = []
    if (counts == 0).any():
        bins.append("all_zero_chunk")
    if (counts == chunk).any():
        bins.append("all_ones_mask")
    if (counts == 1).any():
        bins.append("single_nonzero")
    if C % chunk:
        bins.append("partial_last_chunk")
    if stride == 2:
        bins.append("stride_2")
    if R == S == 1:
        bins.append("fc" if H == W == 1 else "conv_1x1")
    return bins


def eureka_case_bins(config, w, mode, sched):
    """Bins hit by one EUREKA GEMM case (weights ``w[M,K]`` in mode ``mode``, its packed schedule
    ``sched``, a :class:`golden.eureka.Schedule`)."""
    w = np.asarray(w)
    bins = []
    if np.count_nonzero(w) == 1:
        bins.append("single_nonzero")
    if w.shape[1] % config.window:
        bins.append("partial_last_chunk")
    if mode.startswith("nm:"):
        n, m = (int(x) for x in mode.split(":")[1:])
        k = w.shape[1] - w.shape[1] % m
        groups = (w[:, :k].reshape(w.shape[0], -1, m) != 0).sum(axis=2)
        if (groups < n).any():
            bins.append("nm_degenerate_group")
    if mode == "suds" and any(t.disp[:, -1, :].any() for t in sched.tiles
                              if t.disp.shape[1] == config.rows):
        bins.append("suds_bottom_row_overflow")
    return bins
