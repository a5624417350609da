"""sim/bench_sparten.py: the synthesised tops its network speed-up applies to."""

import pytest

from hw.sparten.dense_baseline import DenseMacConfig
from report.bench import top
from sim import bench_sparten as bs


def test_bench_config_is_the_cluster_top():
    assert bs.BENCH_CONFIG is top(bs.BENCH_TOP).config
    assert top("sparten_dense_array").config == DenseMacConfig.like(bs.BENCH_CONFIG)


def test_pairs_name_the_tops_and_check_their_configs(monkeypatch):
    rows = bs._pairs(2.5, "VGG")
    assert [(p.design, p.baseline) for p in rows] == list(bs.PAIRS)
    assert all(p.speedup == 2.5 for p in rows)
    assert "per unit of the 32-unit cluster" in rows[1].workload
    # a pair whose baseline is not the dense array of the top's MACs is refused, not reported
    monkeypatch.setattr(bs, "PAIRS", (("sparten_cluster", "sparten_dense_unit"),))
    with pytest.raises(ValueError, match="sparten_cluster over sparten_dense_unit: the baseline"):
        bs._pairs(2.5, "VGG")
    monkeypatch.setattr(bs, "PAIRS", (("sparten_cluster", "no_such_top"),))
    with pytest.raises(ValueError, match="no registered top 'no_such_top'"):
        bs._pairs(2.5, "VGG")
