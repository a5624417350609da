"""hw/barista/engine.py (two BARISTA clusters, the filters dealt between them, the input map loaded
into both at once) on the Amaranth simulator: results bit-exact against golden conv2d, and every
cluster's cycles, bank reads, requests and drain order equal to golden.barista.engine_trace under
random backpressure on each cluster's output. The clusters themselves are checked on Verilator in
tests/test_barista_cluster.py; the benchmark's RTL check runs the engine on Verilator."""

import os

import numpy as np
import pytest

from golden.barista import cluster_layout, engine_filters, engine_trace
from golden.conv import conv2d_dense
from hw.barista.config import ENGINE
from hw.barista.cluster import BaristaCluster
from hw.sparten.cu import ComputeUnit
from sim.run_barista import engine_words, run_engine_pysim

SEED = int(os.environ.get("SEED", "0"))


def test_engine_is_bit_exact_and_each_cluster_follows_its_trace():
    rng = np.random.default_rng([SEED, 13])
    K, C, H, R = 3, 12, 5, 3
    w = np.where(rng.random((K, C, R, R)) < 0.5, rng.integers(-128, 128, (K, C, R, R)), 0)
    a = np.where(rng.random((C, H, H)) < 0.5, rng.integers(1, 128, (C, H, H)), 0)
    w[2] = 0
    w[2, 3, 1, 1] = 5          # a light filter: the deal puts it beside a heavy one
    ready = [[bool(x) for x in rng.random(8000) < p] for p in (0.7, 0.4)]
    got = run_engine_pysim(ENGINE, w, a, 2, 1, None, ready)
    np.testing.assert_array_equal(got["outputs"], conv2d_dense(a, w, 2, 1))
    want = engine_trace(w, a, ENGINE, 2, 1, None, ready,
                        result_latency=ComputeUnit.result_latency, **BaristaCluster.latencies())
    assert got["filters"] == want["filters"] and sorted(sum(got["filters"], [])) == [0, 1, 2]
    for c, tr in enumerate(want["clusters"]):
        assert (got["cycles"][c], got["reads"][c], got["requests"][c]) == \
            (tr["cycles"], tr["reads"], tr["requests"]), f"SEED={SEED} cluster {c}"
        assert got["drained"][c] == tr["out"], f"SEED={SEED} cluster {c}"


def test_map_is_loaded_once_and_filters_need_a_cluster_each():
    w = np.ones((3, 8, 3, 3), dtype=np.int64)
    a = np.ones((8, 4, 4), dtype=np.int64)
    filters, lays, beats, _ = engine_words(w, a, ENGINE, 1, 1)
    lay = cluster_layout(w.shape, a.shape, ENGINE, 1, 1)
    # the map's chunks once, then each filter's chunks once
    assert len(beats) == lay["fbase"] + 3 * 9 * lay["nc"]
    assert [len(f) for f in filters] == [2, 1]
    with pytest.raises(ValueError, match="clusters"):
        engine_filters(np.ones((1, 8, 3, 3)), 2)
