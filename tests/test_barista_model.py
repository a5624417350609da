"""golden/barista.py (the BARISTA cycle model) and hw/barista/config.py.

Model invariants against independent references: task costs and MACs from golden/sparsemap.py's
inner join, the schedule of one filter group against a plain heap simulation of dynamic
round-robin (with and without barriers between tiles), the bank bound against reads counted by
hand, and the effects the paper's techniques must have (colours, combining, snarfing).
"""

import dataclasses
import heapq

import numpy as np
import pytest

from golden import barista
from golden.conv import conv_output_shape
from golden.sparsemap import encode_activations, encode_filters, inner_join
from hw.barista.config import PAPER, PRESETS, SMALL, BaristaConfig, ConfigError, resolve

#: A config whose banks never limit (wide, many): isolates compute scheduling.
WIDE = dataclasses.replace(SMALL, banks=64, bank_bytes_per_cycle=1024)


def _rand(rng, shape, density):
    v = rng.integers(1, 128, size=shape)
    return np.where(rng.random(shape) < density, v, 0).astype(np.int64)


def task_costs(w, a, chunk, stride, padding):
    """``cost[p, k]`` = sum over the task's chunk pairs of max(1, matches), and total matches,
    walked chunk by chunk with golden.sparsemap's inner join."""
    K, C, R, S = w.shape
    _, H, W = a.shape
    ho, wo = conv_output_shape(H, W, R, S, stride, padding)
    asm, wsm = encode_activations(a, chunk), encode_filters(w, chunk)
    nc = -(-C // chunk)
    cost = np.zeros((ho * wo, K), dtype=np.int64)
    matched = 0
    for yo in range(ho):
        for xo in range(wo):
            for k in range(K):
                for r in range(R):
                    for s in range(S):
                        y, x = yo * stride - padding + r, xo * stride - padding + s
                        for j in range(nc):
                            am = asm.chunks[y][x][j].mask if 0 <= y < H and 0 <= x < W else 0
                            m = len(inner_join(wsm.chunks[k][r][s][j].mask, am, chunk))
                            matched += m
                            cost[yo * wo + xo, k] += max(1, m)
    return cost, matched


def greedy(costs, n_units, free=None, release=0):
    """Dynamic round-robin by hand: each task to the unit that frees first (lowest on ties)."""
    heap = [(f, u) for u, f in enumerate(free or [0] * n_units)]
    heapq.heapify(heap)
    for c in costs:
        f, u = heapq.heappop(heap)
        heapq.heappush(heap, (max(f, release) + int(c), u))
    return sorted(heap, key=lambda t: t[1])


@pytest.mark.parametrize("shape,stride,padding", [((6, 20, 3, 3), 1, 1), ((5, 8, 1, 1), 2, 0)])
def test_macs_equal_the_matches_and_busy_equals_task_costs(shape, stride, padding):
    rng = np.random.default_rng(3)
    K, C, R, S = shape
    w, a = _rand(rng, shape, 0.4), _rand(rng, (C, 7, 7), 0.5)
    cost, matched = task_costs(w, a, SMALL.chunk, stride, padding)
    r = barista.layer_cycles(w, a, WIDE, stride=stride, padding=padding)
    assert r["matched_macs"] == matched
    assert r["unit_busy"] == int(cost.sum())
    # No unit does more than one task-cycle per cycle; the ideal is a lower bound.
    assert r["cycles"] * WIDE.n_units >= r["unit_busy"]
    assert r["cycles"] >= r["ideal_cycles"] and 0 < r["utilization"] <= 1


def test_one_unit_runs_every_task_back_to_back():
    rng = np.random.default_rng(5)
    w, a = _rand(rng, (3, 16, 3, 3), 0.4), _rand(rng, (16, 6, 6), 0.5)
    cfg = dataclasses.replace(WIDE, n_clusters=1, units_per_cluster=1)
    cost, _ = task_costs(w, a, cfg.chunk, 1, 1)
    assert barista.layer_cycles(w, a, cfg, 1, 1)["cycles"] == int(cost.sum())


@pytest.mark.parametrize("colours", [1, 8])
@pytest.mark.parametrize("dynamic", [True, False])
def test_one_filter_group_schedule_equals_a_heap_simulation(colours, dynamic):
    """One cluster, one filter, 3 units: dynamic round-robin is greedy list scheduling in
    position order; one colour adds a barrier after every tile, enough colours none."""
    rng = np.random.default_rng(11)
    w, a = _rand(rng, (1, 8, 3, 3), 0.6), _rand(rng, (8, 8, 8), 0.5)
    cfg = dataclasses.replace(WIDE, n_clusters=1, units_per_cluster=3, colours=colours,
                              input_buffer_chunks=(colours + 1) * 32, min_tasks_per_unit=0,
                              dynamic=dynamic)
    r = barista.layer_cycles(w, a, cfg, 1, 1)
    cost, _ = task_costs(w, a, cfg.chunk, 1, 1)
    tiles = barista.tile_positions(8, 8, 3, 1, 8, 1, 32, cfg.output_buffer_entries)
    assert r["tiles"] == [len(tiles)] and len(tiles) > 2
    free, done, release = [0, 0, 0], [], 0
    for t, tile in enumerate(tiles):
        release = max(release, done[t - colours]) if t >= colours else 0
        if dynamic:
            free = [f for f, _ in greedy(cost[tile, 0], 3, free, release)]
        else:
            for i, p in enumerate(tile):
                free[i % 3] = max(free[i % 3], release) + int(cost[p, 0])
        done.append(max(free))
    assert r["cycles"] == max(done)


def test_fraction_of_ideal_rises_with_colours():
    """Same tiles (input buffer scaled with the colours), ample bandwidth: fewer barriers."""
    rng = np.random.default_rng(7)
    w, a = _rand(rng, (4, 16, 3, 3), 0.35), _rand(rng, (16, 12, 12), 0.45)
    util = []
    for col in (1, 2, 4):
        cfg = dataclasses.replace(WIDE, colours=col, input_buffer_chunks=(col + 1) * 3 * 12 * 2)
        r = barista.layer_cycles(w, a, cfg, 1, 1)
        assert r["tiles"] == [12, 12]
        util.append(r["utilization"])
    assert util[0] < util[1] <= util[2]


def test_bank_bound_respected_and_reads_counted():
    """One narrow bank, no combining or snarfing: every request is a read; the layer cannot be
    faster than its bank is busy, and a narrower bank makes it slower."""
    rng = np.random.default_rng(2)
    w, a = _rand(rng, (4, 8, 3, 3), 0.5), _rand(rng, (8, 6, 6), 0.5)
    cfg = dataclasses.replace(SMALL, n_clusters=1, banks=1, bank_bytes_per_cycle=2,
                              combine=False, snarf=False, min_tasks_per_unit=0)
    r = barista.layer_cycles(w, a, cfg, 1, 1)
    # Reads by hand: every task reads its 9 filter chunks and its in-map input chunks.
    asm, wsm = encode_activations(a, cfg.chunk), encode_filters(w, cfg.chunk)
    rd = 0
    n_in = 0
    for yo in range(6):
        for xo in range(6):
            for k in range(4):
                for t in range(9):
                    y, x = yo - 1 + t // 3, xo - 1 + t % 3
                    rd += cfg.chunk_read_cycles(bin(wsm.chunks[k][t // 3][t % 3][0].mask).count("1"))
                    if 0 <= y < 6 and 0 <= x < 6:
                        n_in += 1
                        rd += cfg.chunk_read_cycles(bin(asm.chunks[y][x][0].mask).count("1"))
    assert r["bank_reads"] == r["bank_requests"] == {"input": n_in, "filter": 36 * 4 * 9}
    assert r["bank_busy_cycles"] == rd
    assert r["cycles"] >= rd and r["bank_bound_steps"] > 0
    assert r["cycles"] * cfg.units_per_cluster > r["unit_busy"]   # bandwidth, not compute
    wider = barista.layer_cycles(w, a, dataclasses.replace(cfg, bank_bytes_per_cycle=64), 1, 1)
    assert wider["cycles"] < r["cycles"]


def test_combining_and_snarfing_save_reads_not_results():
    rng = np.random.default_rng(4)
    w, a = _rand(rng, (16, 16, 3, 3), 0.4), _rand(rng, (16, 8, 8), 0.5)
    base = dataclasses.replace(SMALL, units_per_cluster=16)
    on = barista.layer_cycles(w, a, base, 1, 1)
    off = barista.layer_cycles(w, a, dataclasses.replace(base, combine=False, snarf=False), 1, 1)
    assert off["bank_reads"] == off["bank_requests"] == on["bank_requests"]
    assert on["bank_reads"]["input"] < off["bank_reads"]["input"] / 2
    assert on["bank_reads"]["filter"] < off["bank_reads"]["filter"] / 2
    assert on["matched_macs"] == off["matched_macs"] and on["unit_busy"] == off["unit_busy"]
    assert on["bank_busy_cycles"] < off["bank_busy_cycles"] and on["cycles"] <= off["cycles"]


def test_read_counts_window():
    keys = [5, 5, 5, 5, 9]
    times = [0, 10, 30, 31, 2]
    assert [list(x) for x in barista.read_counts(keys, times, 10)] == [[5, 9], [2, 1]]
    assert [list(x) for x in barista.read_counts(keys, times, 9)] == [[5, 9], [3, 1]]
    assert [list(x) for x in barista.read_counts(keys, times, 100, combine=False)] == [[5, 9],
                                                                                        [4, 1]]


def test_units_per_filter_and_clusters():
    g = barista.units_per_filter([10, 30, 0, 60], 104)
    assert g.sum() == 104 and g.min() >= 1 and list(np.argsort(g)) == [2, 0, 1, 3]
    parts = barista.cluster_filters([5, 1, 4, 2, 3, 3], 2)
    assert sorted(np.concatenate(parts).tolist()) == list(range(6))
    assert [int(np.sum(np.array([5, 1, 4, 2, 3, 3])[p])) for p in parts] == [9, 9]


def test_pieces_split_small_maps_and_keep_the_work():
    rng = np.random.default_rng(9)
    w, a = _rand(rng, (2, 32, 3, 3), 0.4), _rand(rng, (32, 3, 3), 0.5)
    cfg = dataclasses.replace(WIDE, n_clusters=1, units_per_cluster=8)
    cut = barista.layer_cycles(w, a, cfg, 1, 1)
    whole = barista.layer_cycles(w, a, dataclasses.replace(cfg, min_tasks_per_unit=0), 1, 1)
    assert cut["pieces"] > 1 and whole["pieces"] == 1
    assert cut["unit_busy"] == whole["unit_busy"] and cut["matched_macs"] == whole["matched_macs"]
    assert cut["cycles"] < whole["cycles"]


def test_buffers_too_small_are_a_clear_error():
    rng = np.random.default_rng(1)
    w, a = _rand(rng, (2, 64, 3, 3), 0.4), _rand(rng, (64, 4, 4), 0.5)
    cfg = dataclasses.replace(SMALL, input_buffer_chunks=40)
    with pytest.raises(ValueError, match="input_buffer_chunks=40"):
        barista.layer_cycles(w, a, cfg, 1, 1)


@pytest.mark.parametrize("field,value", [
    ("n_clusters", 0), ("units_per_cluster", 20000), ("chunk", 12), ("value_width", 1),
    ("acc_width", 70), ("matches_per_cycle", 3), ("banks", 0), ("bank_bytes_per_cycle", 3),
    ("input_buffer_chunks", 1), ("output_buffer_entries", 0), ("colours", 9),
    ("private_chunks", 1), ("combine_window", -1), ("combine", 1), ("snarf", "yes"),
    ("dynamic", None), ("min_tasks_per_unit", 2000)])
def test_bad_config_rejected_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"^{field} must be .*{value!r}"):
        dataclasses.replace(SMALL, **{field: value})


def test_presets():
    assert PAPER.n_clusters == 4 and PAPER.units_per_cluster == 8192 and PAPER.macs == 32768
    assert resolve("paper") is PAPER and resolve("small") is SMALL and set(PRESETS) == {"small",
                                                                                          "paper"}
    assert BaristaConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(ConfigError, match="config must be one of"):
        resolve("huge")


def test_combine_window_bounds_the_reads():
    """An endless window leaves one read per chunk and step; a zero window one per distinct
    request time; reads never exceed requests."""
    rng = np.random.default_rng(8)
    w, a = _rand(rng, (2, 8, 3, 3), 0.5), _rand(rng, (8, 6, 6), 0.5)
    cfg = dataclasses.replace(WIDE, n_clusters=1, units_per_cluster=4, min_tasks_per_unit=0)
    endless = barista.layer_cycles(w, a, dataclasses.replace(cfg, combine_window=65536), 1, 1)
    zero = barista.layer_cycles(w, a, dataclasses.replace(cfg, combine_window=0), 1, 1)
    assert endless["steps"] == 1                                   # the 6x6 map is one tile
    assert endless["bank_reads"]["filter"] == 2 * 9                # 2 filters x 9 chunks
    assert endless["bank_reads"]["input"] == 36                    # every pixel's chunk once
    for key in ("input", "filter"):
        assert endless["bank_reads"][key] < zero["bank_reads"][key] <= zero["bank_requests"][key]


def test_more_clusters_than_filters():
    """A cluster without a filter idles; the work and the result do not change."""
    rng = np.random.default_rng(6)
    w, a = _rand(rng, (1, 8, 3, 3), 0.5), _rand(rng, (8, 5, 5), 0.5)
    one = barista.layer_cycles(w, a, dataclasses.replace(WIDE, n_clusters=1), 1, 1)
    three = barista.layer_cycles(w, a, dataclasses.replace(WIDE, n_clusters=3), 1, 1)
    assert three["clusters"][1:] == [0, 0] and three["cycles"] == one["cycles"]
    assert three["matched_macs"] == one["matched_macs"]
    assert three["dense_cycles"] * 3 >= one["dense_cycles"] > three["dense_cycles"]
