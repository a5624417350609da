"""sim/coverage.py: the bins classify stimulus correctly, and a required bin not hit fails."""

import json

import numpy as np
import pytest

from golden import eureka as ge
from hw.eureka.config import SMALL as EUREKA_SMALL
from sim import coverage
from sim.coverage import BINS, REQUIRED, Coverage, eureka_case_bins, sparten_layer_bins


def test_required_bins_exist():
    for test, bins in REQUIRED.items():
        assert set(bins) <= set(BINS), test


def test_sparten_bins():
    w = np.zeros((2, 12, 3, 3), np.int64)
    w[0, :8] = 1                                  # a full chunk (all-ones mask)
    w[1, 3, 0, 0] = 5                             # single non-zero chunks; zero chunks elsewhere
    a = np.zeros((12, 4, 4), np.int64)
    assert set(sparten_layer_bins(w, a, 2, 8)) == {"all_zero_chunk", "all_ones_mask",
                                                   "single_nonzero", "partial_last_chunk",
                                                   "stride_2"}
    w1 = np.ones((3, 16, 1, 1), np.int64)
    assert set(sparten_layer_bins(w1, np.ones((16, 1, 1)), 1, 8)) == {"all_ones_mask", "fc"}
    assert "conv_1x1" in sparten_layer_bins(w1, np.ones((16, 2, 2)), 1, 8)


def test_eureka_bins():
    cfg = EUREKA_SMALL
    w = np.zeros((4, 72), np.int64)
    w[2, 5] = 3
    assert set(eureka_case_bins(cfg, w, "dense", ge.pack(w, "dense", cfg))) == \
        {"single_nonzero", "partial_last_chunk"}
    w = np.zeros((4, 64), np.int64)
    w[0, 1::4] = w[0, 2::4] = 1                   # 2:4 everywhere in row 0, rows 1..3 empty
    assert "nm_degenerate_group" in eureka_case_bins(cfg, w, "nm:2:4",
                                                     ge.pack(w, "nm:2:4", cfg))
    w = np.zeros((4, 64), np.int64)
    w[2, :8] = 7                                  # row 2 (lane 0) overflows into the bottom row
    assert "suds_bottom_row_overflow" in eureka_case_bins(cfg, w, "suds", ge.pack(w, "suds", cfg))
    w = np.zeros((4, 64), np.int64)
    w[3] = 7                                      # the bottom row itself is full: nothing moves
    assert "suds_bottom_row_overflow" not in eureka_case_bins(cfg, w, "suds",
                                                              ge.pack(w, "suds", cfg))


def test_require_fails_on_a_missing_bin(tmp_path, monkeypatch):
    monkeypatch.setattr(coverage, "COVERAGE_DIR", tmp_path)
    cov = Coverage("eureka_all_modes")
    for b in REQUIRED["eureka_all_modes"]:
        if b != "suds_bottom_row_overflow":
            cov.hit(b)
    with pytest.raises(AssertionError, match="bins not hit: suds_bottom_row_overflow"):
        cov.require()
    written = json.loads((tmp_path / "eureka_all_modes.json").read_text())
    assert written["hits"]["suds_bottom_row_overflow"] == 0
    cov.hit("suds_bottom_row_overflow")
    cov.require()
    with pytest.raises(KeyError, match="unknown coverage bin"):
        cov.hit("no_such_bin")
