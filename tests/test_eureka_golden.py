"""Golden EUREKA packer, optimal SUDS scheduler and cycle model."""

import dataclasses
import itertools

import numpy as np
import pytest

from golden import eureka as ge
from hw.eureka.config import EurekaConfig

CFG = EurekaConfig(rows=4, lanes=4, group=8)
MODES = ["dense", "nm:1:4", "nm:2:4", "nm:2:8", "nm:4:8", "suds", "unstructured-nosuds"]


def nm_weights(rng, rows, k, n, m):
    w = rng.integers(-128, 128, (rows, k))
    g = w.reshape(rows, -1, m)
    keep = np.argsort(rng.random(g.shape), axis=-1) < n
    return (g * keep).reshape(rows, k)


def weights_for(mode, rng, rows=10, k=72, density=0.3):
    if mode.startswith("nm"):
        _, n, m = mode.split(":")
        return nm_weights(rng, rows, k, int(n), int(m))
    return rng.integers(-128, 128, (rows, k)) * (rng.random((rows, k)) < density)


def test_suds_matches_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    cases = [list(c) for r in range(1, 5) for c in itertools.product(range(4), repeat=r)]
    cases += [list(rng.integers(0, 9, rng.integers(1, 7))) for _ in range(300)]
    for c in cases:
        got = int(ge.suds_cycles(np.array(c)[:, None])[0])
        assert got == ge.suds_exhaustive(c), f"counts {c} (seed {seed})"


def test_suds_adversarial_cases():
    # dense row above an empty one: half moves down
    assert ge.suds_exhaustive([8, 0]) == 4 == int(ge.suds_cycles(np.array([[8], [0]]))[0])
    # every non-zero in the bottom row: nothing can move (displacement is downward only)
    assert int(ge.suds_cycles(np.array([[0], [0], [0], [7]]))[0]) == 7
    # all-zero window costs nothing
    assert int(ge.suds_cycles(np.zeros((4, 1), np.int64))[0]) == 0
    d, ok = ge.suds_pushdown(np.array([[8], [0]]), 4)
    assert d[:, 0].tolist() == [4, 0] and ok.all()


@pytest.mark.parametrize("mode", MODES)
def test_pack_executes_to_matmul_and_model_counts_beats(mode, seed):
    rng = np.random.default_rng(seed)
    for rows, k in [(10, 72), (4, 32), (1, 8), (7, 200)]:
        w = weights_for(mode, rng, rows, k)
        a = rng.integers(-128, 128, (k, 3))
        s = ge.pack(w, mode, CFG)
        np.testing.assert_array_equal(ge.execute(s, a), w @ a, err_msg=f"{mode} seed {seed}")
        cm = ge.cycle_model(w, 3, mode, CFG)
        assert cm["cycles"] == 3 * s.cycles_per_column
        assert cm["displaced"] == s.displaced
        assert not s.tiles[0].disp[:, 0].any(), "row 0 never holds a displaced weight"
        for t in s.tiles:
            assert t.beats == t.T.sum() and t.last_window.sum() == len(t.windows)


def test_mode_cycle_counts():
    rng = np.random.default_rng(0)
    w = rng.integers(1, 128, (4, 64))                                  # fully dense
    assert ge.cycle_model(w, 1, "dense", CFG)["cycles"] == 16          # K/L
    assert ge.cycle_model(w, 1, "dense", CFG)["dense_cycles"] == 16
    w24 = nm_weights(rng, 4, 64, 2, 4)
    assert ge.cycle_model(w24, 1, "nm:2:4", CFG)["cycles"] == 8        # exactly 2x
    assert ge.cycle_model(nm_weights(rng, 4, 64, 1, 4), 1, "nm:1:4", CFG)["cycles"] == 4
    z = np.zeros((4, 64), np.int64)
    assert ge.cycle_model(z, 2, "suds", CFG)["cycles"] == 2             # one beat per output
    s = ge.pack(z, "suds", CFG)
    assert s.cycles_per_column == 1 and not s.tiles[0].valid.any()


def test_suds_beats_nosuds_and_independent_lanes_beat_lockstep(seed):
    rng = np.random.default_rng(seed)
    cfg = EurekaConfig(rows=8, lanes=8, group=8)
    w = rng.integers(-128, 128, (16, 512)) * (rng.random((16, 512)) < 0.2)
    nos = ge.cycle_model(w, 1, "unstructured-nosuds", cfg)["cycles"]
    suds = ge.cycle_model(w, 1, "suds", cfg)
    ind = ge.cycle_model(w, 1, "suds", cfg, lockstep=False)["cycles"]
    assert ind <= suds["cycles"] <= nos
    assert suds["displaced"] > 0 and 0 <= suds["suds_removed"] <= 1


def test_adversarial_layouts_pack_correctly():
    cfg = EurekaConfig(rows=4, lanes=2, group=4)
    a = np.arange(-8, 8).reshape(16, 1)
    dense_above_empty = np.zeros((4, 16), np.int64)
    dense_above_empty[1] = np.arange(1, 17)
    bottom = np.zeros((4, 16), np.int64)
    bottom[3] = np.arange(1, 17)
    for w in (dense_above_empty, bottom, np.zeros((4, 16), np.int64)):
        s = ge.pack(w, "suds", cfg)
        np.testing.assert_array_equal(ge.execute(s, a), w @ a)
    free = dataclasses.replace(cfg, disp_budget=0)
    assert ge.pack(dense_above_empty, "suds", free).cycles_per_column == 4  # 4 per lane-window -> 2+2
    # one moved slot per row and cycle (the default budget): both lanes share it, 2 (4 - T) <= T
    assert cfg.disp_budget == 1
    assert ge.pack(dense_above_empty, "suds", cfg).cycles_per_column == 6
    assert ge.pack(bottom, "suds", cfg).cycles_per_column == 8


def test_torch_2to4_pair_is_accepted():
    torch = pytest.importorskip("torch")
    from torch.sparse._semi_structured_conversions import sparse_semi_structured_from_dense_cutlass
    rng = np.random.default_rng(3)
    w = nm_weights(rng, 16, 64, 2, 4).clip(-128, 127)
    values, meta = sparse_semi_structured_from_dense_cutlass(torch.from_numpy(w.astype(np.int8)))
    cfg = EurekaConfig(rows=4, lanes=4, group=4)
    s = ge.pack((values, meta), "nm:2:4", cfg)
    s2 = ge.pack(w, "nm:2:4", cfg)
    for t, t2 in zip(s.tiles, s2.tiles):
        np.testing.assert_array_equal(t.w, t2.w)
        np.testing.assert_array_equal(t.sel, t2.sel)
    a = rng.integers(-128, 128, (64, 2))
    np.testing.assert_array_equal(ge.execute(s, a), w @ a)
    with pytest.raises(ValueError, match="must be 'nm:2:4'"):
        ge.pack((values, meta), "suds", cfg)


def test_errors_are_clear():
    w = np.zeros((4, 16), np.int64)
    w[2, 4:7] = 1                                     # 3 non-zeros in group 1 of row 2
    with pytest.raises(ValueError, match=r"2:4 violation: row 2, group 1"):
        ge.pack(w, "nm:2:4", CFG)
    with pytest.raises(ValueError, match=r"2:4 violation: row 2, group 1"):
        ge.cycle_model(w, 1, "nm:2:4", CFG)
    with pytest.raises(ValueError, match="2-D"):
        ge.pack(np.zeros(8, np.int64), "dense", CFG)
    with pytest.raises(ValueError, match="does not fit"):
        ge.pack(np.full((2, 8), 300), "dense", CFG)
    with pytest.raises(TypeError):
        ge.pack(np.ones((2, 8)), "dense", CFG)
    with pytest.raises(ValueError, match="not supported"):
        ge.pack(w, "suds", CFG.dense_baseline())
    with pytest.raises(ValueError, match="mode must be"):
        ge.pack(w, "sparse", CFG)
    s = ge.pack(np.ones((2, 8), np.int64), "dense", CFG)
    with pytest.raises(ValueError, match="K=9 rows but the weights have K=8"):
        ge.execute(s, np.ones((9, 2), np.int64))
    with pytest.raises(ValueError, match="overflow"):
        ge.gemm(np.full((1, 2**17 + 4096), 127), np.full((2**17 + 4096, 1), 127))


def test_baseline_variants_cycles():
    rng = np.random.default_rng(1)
    cfg = EurekaConfig(rows=4, lanes=4, group=8)
    w = nm_weights(rng, 8, 64, 2, 4)
    d = ge.cycle_model(w, 2, "dense", cfg.dense_baseline())
    amp = ge.cycle_model(w, 2, "nm:2:4", cfg.ampere24_baseline())
    assert d["cycles"] == d["dense_cycles"] == 2 * 2 * 16
    assert amp["cycles"] * 2 == d["cycles"]
    s = ge.pack(w, "dense", cfg.dense_baseline())
    assert s.tiles[0].last_window.all()
    a = rng.integers(-128, 128, (64, 2))
    np.testing.assert_array_equal(ge.execute(s, a), w @ a)


def test_conv_as_gemm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (3, 7, 6))
    w = rng.integers(-128, 128, (5, 3, 3, 3)) * (rng.random((5, 3, 3, 3)) < 0.4)
    w2, a2, (ho, wo) = ge.conv2d_gemm(a, w, stride=2, padding=1)
    s = ge.pack(w2, "suds", CFG)
    out = ge.execute(s, a2).reshape(5, ho, wo)
    ref = torch.nn.functional.conv2d(torch.from_numpy(a[None]).double(),
                                     torch.from_numpy(w).double(), stride=2, padding=1)[0]
    np.testing.assert_array_equal(out, ref.numpy().astype(np.int64))


@pytest.mark.parametrize("mode", ["suds", "unstructured-nosuds"])
def test_permuted_columns_execute_exactly_and_balance(mode, seed):
    rng = np.random.default_rng(seed)
    cfg = EurekaConfig(rows=4, lanes=4, group=8)
    for rows, k, d in [(10, 150, 0.05), (8, 96, 0.3), (3, 40, 0.9), (4, 32, 0.0)]:
        w = rng.integers(-128, 128, (rows, k)) * (rng.random((rows, k)) < d)
        a = rng.integers(-128, 128, (k, 2))
        s = ge.pack(w, mode, cfg, permute=True)
        np.testing.assert_array_equal(ge.execute(s, a), w @ a, err_msg=f"{mode} d={d} seed {seed}")
        cm = ge.cycle_model(w, 2, mode, cfg, permute=True)
        assert cm["cycles"] == 2 * s.cycles_per_column
        assert sorted(s.row_order.tolist()) == list(range(rows))
        nnz = (w[s.row_order] != 0).sum(axis=1)
        assert np.all(np.diff(nnz) <= 0), "rows densest first"
        for t in s.tiles:
            used = t.k_index[t.k_index >= 0]
            assert len(set(used.tolist())) == len(used), "a column visited twice"
    big = rng.integers(-128, 128, (32, 1024)) * (rng.random((32, 1024)) < 0.2)
    cfg = EurekaConfig(rows=8, lanes=8, group=8)
    plain = ge.cycle_model(big, 1, mode, cfg)["cycles"]
    perm = ge.cycle_model(big, 1, mode, cfg, permute=True)["cycles"]
    assert perm < 0.7 * plain, (perm, plain)


def test_permute_only_for_unstructured():
    with pytest.raises(ValueError, match="permute applies to the unstructured modes"):
        ge.pack(np.ones((4, 8), np.int64), "dense", CFG, permute=True)
    with pytest.raises(ValueError, match="lock-step lanes only"):
        ge.cycle_model(np.ones((4, 8), np.int64), 1, "suds", CFG, lockstep=False, permute=True)


# -- displacement budget (issue 11 item 1) ---------------------------------------------------------


def _budget_exhaustive(counts, budget):
    """Fewest lock-step cycles of one window ``counts[R, L]`` by trying every displacement."""
    counts = np.asarray(counts)
    R, L = counts.shape
    seg = L // budget
    best = int(counts.max())
    for d in itertools.product(*[range(int(x) + 1) for x in counts[:-1].ravel()]):
        d = np.array(d, np.int64).reshape(R - 1, L)
        d = np.vstack([d, np.zeros((1, L), np.int64)])
        host = np.vstack([np.zeros((1, L), np.int64), d[:-1]])
        load = int((counts - d + host).max())
        need = int(host.reshape(R, budget, seg).sum(-1).max())   # moved per segment and row
        best = min(best, max(load, need))
    return best


def test_budget_scheduler_matches_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    for R, L, budget in [(2, 2, 1), (3, 2, 1), (2, 4, 2), (2, 4, 1), (3, 2, 2)]:
        for _ in range(60):
            c = rng.integers(0, 5, (R, L))
            got = int(ge.suds_budget_cycles(c[None, :, None, :], budget)[0, 0])
            assert got == _budget_exhaustive(c, budget), f"{c.tolist()} D={budget} seed {seed}"
    # one dense row above an empty one, two lanes: without a budget each lane moves 4 (T=4);
    # with one moved slot per row and cycle the two lanes move 2 (8 - T) <= T in all: T=6
    c = np.array([[8, 8], [0, 0]])
    assert int(ge.suds_cycles(c, axis=0).max()) == 4
    assert int(ge.suds_budget_cycles(c[None, :, None, :], 1)[0, 0]) == 6 == _budget_exhaustive(c, 1)


@pytest.mark.parametrize("budget", [0, 1, 2])
def test_budget_pack_executes_and_honours_budget(budget, seed):
    cfg = EurekaConfig(rows=4, lanes=4, group=8, steer="after", disp_budget=budget)
    rng = np.random.default_rng(seed)
    for rows, k, density in [(10, 72, 0.3), (8, 200, 0.5), (7, 96, 0.15)]:
        w = rng.integers(-128, 128, (rows, k)) * (rng.random((rows, k)) < density)
        w[0, :40] = rng.integers(1, 100, 40)          # a dense row above sparser ones
        a = rng.integers(-128, 128, (k, 2))
        for permute in (False, True):
            s = ge.pack(w, "suds", cfg, permute=permute)
            np.testing.assert_array_equal(ge.execute(s, a), w @ a)
            cm = ge.cycle_model(w, 2, "suds", cfg, permute=permute)
            assert cm["cycles"] == 2 * s.cycles_per_column
            for t in s.tiles:
                assert not (t.disp & ~t.valid).any()
                if budget:
                    per_seg = t.disp.reshape(t.beats, 4, budget, 4 // budget).sum(-1)
                    assert per_seg.max(initial=0) <= 1, f"budget {budget} broken (seed {seed})"
    # independent lanes share no window, hence no budget: modelled (and reported) without one
    ind = ge.cycle_model(w, 1, "suds", cfg, lockstep=False)
    free = ge.cycle_model(w, 1, "suds", dataclasses.replace(cfg, disp_budget=0), lockstep=False)
    assert ind["disp_budget"] == 0 and ind["cycles"] == free["cycles"]
    assert ge.cycle_model(w, 1, "suds", cfg)["disp_budget"] == budget


# -- independent lanes (issue 11 item 2) -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["suds", "unstructured-nosuds", "dense", "nm:2:4"])
def test_independent_lanes_pack_model_execute(mode, seed):
    """The packer's per-lane streams: exact products, one beat per model cycle (the empty-output
    rule included), each lane's windows in order and popped once, no lane longer than the output."""
    cfg = dataclasses.replace(CFG, lane_sync="independent", disp_budget=0)
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, (9, 100)) * (rng.random((9, 100)) < 0.3)
    if mode == "nm:2:4":
        g = rng.integers(-128, 128, (9, 100)).reshape(9, -1, 4)
        w = (g * (np.argsort(rng.random(g.shape), -1) < 2)).reshape(9, 100)
    w[4:8] = 0                                                   # an all-zero tile
    a = rng.integers(-128, 128, (100, 3))
    s = ge.pack(w, mode, cfg)
    np.testing.assert_array_equal(ge.execute(s, a), w @ a)
    cm = ge.cycle_model(w, 3, mode, cfg)
    assert cm["cycles"] == 3 * s.cycles_per_column and not cm["lockstep"]
    assert cm["cycles"] == ge.cycle_model(w, 3, mode, CFG, lockstep=False)["cycles"]
    if mode == "suds":
        assert cm["displaced"] == s.displaced
    for t in s.tiles:
        assert t.independent and t.last_window.shape == (t.beats, cfg.lanes)
        for l in range(cfg.lanes):
            assert list(t.windows[l]) == list(np.nonzero(t.T[:, l])[0])
            assert t.last_window[:, l].sum() == len(t.windows[l])
            end = t.T[:, l].sum()                                # lane l's beats, then padding
            assert not t.valid[end:, :, l].any() and not t.last_window[end:, l].any()
    if mode in ("suds", "unstructured-nosuds"):           # dense and N:M stream every window
        assert s.tiles[1].beats == 1 and not s.tiles[1].last_window.any()
    with pytest.raises(ValueError, match="lock-step lanes only"):
        ge.pack(w, "suds", cfg, permute=True)
