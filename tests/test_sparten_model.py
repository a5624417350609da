"""golden/sparten_model.py: the vectorised cycle model against a chunk-by-chunk reference built from
golden/sparsemap.py's inner join, its baselines, slot tables and speed on a VGG-16-sized layer.
(The model is also asserted equal to the RTL cycle counter in every test of test_sparten_layer.py.)
"""

import dataclasses
import time

import numpy as np
import pytest

from golden.conv import conv_output_shape
from golden.sparsemap import encode_activations, encode_filters, inner_join
from golden.sparten_model import layer_cycles as _layer_cycles, slot_table
from hw.sparten.config import SMALL, SparTenConfig
from hw.sparten.layer import SparTenLayer


def pipeline_cycles(config):
    """The layer top's fill/drain, from the hardware's property."""
    return SparTenLayer.latency_of(config)


def layer_cycles(w, a, config, *args, **kw):
    return _layer_cycles(w, a, config, *args, pipeline=pipeline_cycles(config), **kw)


def reference_cycles(w, a, config, stride, padding, table):
    """Walk the sequencer's order chunk by chunk; cost = max over units of max(1, ceil(m/M))."""
    K, C, R, S = w.shape
    _, H, W = a.shape
    ho, wo = conv_output_shape(H, W, R, S, stride, padding)
    n, mpc, chunk = config.n_units, config.matches_per_cycle, config.chunk
    asm, wsm = encode_activations(a, chunk), encode_filters(w, chunk)
    nc = -(-C // chunk)
    total, matched = 0, 0
    for q in range(len(table) // n):
        slots = table[q * n:(q + 1) * n]
        for yo in range(ho):
            for xo in range(wo):
                for r in range(R):
                    for s in range(S):
                        y, x = yo * stride - padding + r, xo * stride - padding + s
                        for j in range(nc):
                            amask = asm.chunks[y][x][j].mask if 0 <= y < H and 0 <= x < W else 0
                            cost = 1
                            for k in slots:
                                if k < 0:
                                    continue
                                m = len(inner_join(wsm.chunks[k][r][s][j].mask, amask))
                                matched += m
                                cost = max(cost, -(-m // mpc))
                            total += cost
    return total + pipeline_cycles(config), matched


def rand_layer(rng, K, C, H, W, R, S, dw, da):
    w = (rng.random((K, C, R, S)) < dw) * rng.integers(-128, 128, (K, C, R, S))
    a = (rng.random((C, H, W)) < da) * rng.integers(-128, 128, (C, H, W))
    return w, a


@pytest.mark.parametrize("mpc,fifo", [(1, 0), (2, 2), (4, 0)])
def test_model_matches_reference(mpc, fifo, seed):
    rng = np.random.default_rng(seed)
    cfg = dataclasses.replace(SMALL, matches_per_cycle=mpc, fifo_depth=fifo)
    for K, C, H, W, R, S, st, pad, dw, da in [
        (6, 12, 5, 4, 3, 3, 1, 1, 0.5, 0.6), (9, 20, 6, 6, 3, 3, 2, 1, 0.3, 0.9),
        (5, 16, 4, 4, 1, 1, 1, 0, 1.0, 1.0), (4, 8, 4, 4, 3, 3, 1, 1, 0.0, 0.5),
        (7, 33, 1, 1, 1, 1, 1, 0, 0.5, 0.5), (3, 5, 5, 5, 2, 3, 2, 0, 0.7, 0.7),
    ]:
        w, a = rand_layer(rng, K, C, H, W, R, S, dw, da)
        perm = rng.permutation(-(-K // cfg.n_units) * cfg.n_units)
        perm = np.where(perm < K, perm, -1)
        for p in (None, perm):
            table = slot_table(K, cfg.n_units, p)
            want, matched = reference_cycles(w, a, cfg, st, pad, table)
            got = layer_cycles(w, a, cfg, st, pad, perm=p)
            assert got["cycles"] == want, (K, C, H, st, pad, p, seed)
            assert got["matched_macs"] == matched
            assert sum(got["unit_matched"]) == matched
            # Busy plus barrier wait is the same for every unit: the whole chunk stream.
            spans = {b + s for b, s in zip(got["unit_busy"], got["unit_stall"])}
            assert spans == {got["cycles"] - pipeline_cycles(cfg)}


def test_dense_layer_costs_the_dense_baseline():
    cfg = SMALL
    w = np.ones((8, 16, 3, 3), dtype=np.int64)
    a = np.ones((16, 6, 6), dtype=np.int64)
    got = layer_cycles(w, a, cfg, 1, 0)
    assert got["cycles"] == got["dense_cycles"] + pipeline_cycles(cfg)
    assert got["onesided_cycles"] == got["dense_cycles"]
    assert got["utilization"] < 1.0


def test_onesided_between_dense_and_twosided(seed):
    rng = np.random.default_rng(seed)
    w, a = rand_layer(rng, 16, 64, 8, 8, 3, 3, 0.3, 0.4)
    got = layer_cycles(w, a, SparTenConfig(chunk=32, n_units=8), 1, 1)
    assert got["cycles"] < got["onesided_cycles"] < got["dense_cycles"]
    assert got["ideal_cycles"] <= got["cycles"]


def test_slot_table_checks():
    assert slot_table(5, 4).tolist() == [0, 1, 2, 3, 4, -1, -1, -1]
    assert slot_table(3, 4, [2, 0, 1]).tolist() == [2, 0, 1, -1]
    with pytest.raises(ValueError, match="exactly once"):
        slot_table(3, 4, [0, 0, 1, -1])
    with pytest.raises(ValueError, match="entries"):
        slot_table(3, 4, [0, 1])
    with pytest.raises(TypeError):
        slot_table(3, 4, np.array([0.0, 1.0, 2.0]))


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="channel mismatch"):
        layer_cycles(np.ones((2, 3, 1, 1), int), np.ones((4, 2, 2), int), SMALL)
    with pytest.raises(ValueError, match=r"filters must be \[K,C,R,S\]"):
        layer_cycles(np.ones((2, 3), int), np.ones((3, 2, 2), int), SMALL)
    with pytest.raises(TypeError):
        layer_cycles(np.ones((2, 3, 1, 1)), np.ones((3, 2, 2), int), SMALL)


def test_vgg16_layer_in_seconds(seed):
    """conv4_2-sized (512 x 512 x 3 x 3 on 28 x 28) at the paper's chunk 128 and 32 units."""
    rng = np.random.default_rng(seed)
    w = (rng.random((512, 512, 3, 3)) < 0.27).astype(np.int8)
    a = (rng.random((512, 28, 28)) < 0.4).astype(np.int8)
    t0 = time.monotonic()
    got = layer_cycles(w, a, SparTenConfig(), 1, 1)
    elapsed = time.monotonic() - t0
    assert got["dense_cycles"] / got["cycles"] > 3
    assert elapsed < 60, f"model took {elapsed:.1f} s"


def test_unit_queues_never_cost_cycles(seed):
    """A window of waiting chunks per unit only removes barrier waits: cycles never grow with the
    depth, the work (busy, matched) stays the same, and busy + wait spans the same stream."""
    rng = np.random.default_rng(seed)
    w, a = rand_layer(rng, 12, 40, 6, 6, 3, 3, 0.4, 0.5)
    prev = None
    for q in (0, 1, 2, 4):
        cfg = dataclasses.replace(SMALL, unit_fifo_depth=q)
        got = layer_cycles(w, a, cfg, 1, 1)
        if prev is not None:
            assert got["cycles"] <= prev["cycles"]
            assert got["unit_busy"] == prev["unit_busy"]
            assert got["matched_macs"] == prev["matched_macs"]
        spans = {b + s for b, s in zip(got["unit_busy"], got["unit_stall"])}
        assert spans == {got["cycles"] - pipeline_cycles(cfg)}
        prev = got
