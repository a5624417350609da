"""sim/run_sparten.py: the `sparse-hw run sparten` CLI and the Python API (run_layer, run_chain)."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from golden.conv import conv2d_dense, relu
from golden.quant import requantize
from hw.sparten.config import SMALL
from sim.run_sparten import prepare_case


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _cli(*args, capsys=None):
    """Run the CLI in process (a subprocess per case would re-import everything)."""
    from sim import cli
    if capsys is None:
        r = subprocess.run([sys.executable, "-m", "sim.cli", "run", "sparten", *map(str, args)],
                           capture_output=True, text=True)
        return r
    capsys.readouterr()
    rc = cli.main(["run", "sparten", *map(str, args)])
    cap = capsys.readouterr()
    return _Result(rc, cap.out, cap.err)


def _one_line_error(r, *words):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_cli_bad_inputs(tmp_path, capsys):
    w = tmp_path / "w.npy"
    a = tmp_path / "a.npy"
    np.save(w, np.ones((2, 3, 1, 1), dtype=np.int8))
    np.save(a, np.ones((3, 4, 4), dtype=np.int8))
    out, st = tmp_path / "o.npy", tmp_path / "s.json"
    _one_line_error(_cli("--weights", tmp_path / "nope.npy", "--activations", a, "--out", out,
                         "--stats", st, capsys=capsys), "does not exist")
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    _one_line_error(_cli("--weights", bad, "--activations", a, "--out", out, "--stats", st, capsys=capsys),
                    "not a .npy")
    np.save(bad, np.ones((2, 3), dtype=np.int8))
    _one_line_error(_cli("--weights", bad, "--activations", a, "--out", out, "--stats", st, capsys=capsys),
                    "[K,C,R,S]")
    np.save(bad, np.ones((3, 4, 4), dtype=np.float32))
    _one_line_error(_cli("--weights", w, "--activations", bad, "--out", out, "--stats", st, capsys=capsys),
                    "int8")
    np.save(bad, np.ones((5, 4, 4), dtype=np.int8))
    _one_line_error(_cli("--weights", w, "--activations", bad, "--out", out, "--stats", st, capsys=capsys), "C")
    np.save(bad, np.full((3, 4, 4), 300, dtype=np.int16))
    _one_line_error(_cli("--weights", w, "--activations", bad, "--out", out, "--stats", st, capsys=capsys),
                    "does not fit")
    _one_line_error(_cli("--config", "small", "--weights", w, "--activations", a, "--stride", 3,
                         "--out", out, "--stats", st, capsys=capsys), "max_stride = 2")
    _one_line_error(_cli("--weights", w, "--activations", a, "--padding", -1, "--out", out,
                         "--stats", st, capsys=capsys), "padding")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"chunk": 12}))
    _one_line_error(_cli("--weights", w, "--activations", a, "--config", cfg, "--out", out,
                         "--stats", st, capsys=capsys), "chunk")


def test_layer_too_big_for_config():
    w = np.ones((4, 8, 3, 3), dtype=np.int8)
    a = np.ones((8, 60, 60), dtype=np.int8)
    with pytest.raises(ValueError, match="activation words"):
        prepare_case(SMALL, w, a)
    with pytest.raises(ValueError, match="balance"):
        prepare_case(SMALL, w, a[:, :4, :4], balance="best")
    with pytest.raises(ValueError, match="requant"):
        prepare_case(SMALL, w, a[:, :4, :4], requant=(0, 3))


@pytest.mark.rtl
def test_cli_runs_layer_on_rtl(tmp_path, seed):
    """The CLI on cocotb (idle cycles and backpressure), a layer cut into two C blocks."""
    rng = np.random.default_rng(seed)
    w = ((rng.random((6, 136, 3, 3)) < 0.5) * rng.integers(-128, 128, (6, 136, 3, 3))).astype(np.int8)
    a = ((rng.random((136, 5, 5)) < 0.5) * rng.integers(-128, 128, (136, 5, 5))).astype(np.int8)
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "a.npy", a)
    r = _cli("--config", "small", "--weights", tmp_path / "w.npy", "--activations",
             tmp_path / "a.npy", "--stride", 2, "--padding", 1, "--relu", "--balance", "gbs",
             "--out", tmp_path / "o.npy", "--stats", tmp_path / "s.json", "--idle", 0.2,
             "--backpressure", 0.3, "--seed", seed, "--dram-bytes-per-cycle", 0.25)
    assert r.returncode == 0, r.stderr + r.stdout
    out = np.load(tmp_path / "o.npy")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, relu(conv2d_dense(a, w, 2, 1)))
    stats = json.loads((tmp_path / "s.json").read_text())
    for key in ("cycles", "model_cycles", "dense_cycles", "matched_macs", "utilization",
                "bit_exact", "tiles", "bytes_moved", "bound_cycles", "traffic", "psum"):
        assert key in stats
    assert stats["sim"] == "cocotb" and stats["psum"] == "host" and stats["n_tiles"] == 2
    assert stats["bit_exact"] and stats["torch_exact"] and stats["cycles"] == stats["model_cycles"]
    assert [t["cycles"] for t in stats["tiles"]] == [t["model_cycles"] for t in stats["tiles"]]
    assert stats["bytes_moved"] == sum(t["bytes_moved"] for t in stats["tiles"])
    # at 1/4 byte per cycle the transfers dominate this small layer
    assert stats["bound_cycles"] == sum(max(t["cycles"], math.ceil(t["bytes_moved"] / 0.25))
                                        for t in stats["tiles"]) > stats["cycles"]


#: A layer that needs every kind of block on SMALL: 2 output-channel groups, 2 input-channel
#: blocks (C = 136 > max_channels), 3 row blocks with halos (see tests/test_sparten_plan.py).
TILED = dict(K=12, C=136, H=17, R=5, stride=2, padding=2)


@pytest.mark.rtl
def test_tiled_layer_native(seed, capsys):
    """Whole-layer run on the native harness: every tile bit-exact and cycle-exact, the layer
    (host partial sums, ReLU after the last block) equal to golden and to torch."""
    import torch
    import torch.nn.functional as F

    from golden.sparten_plan import plan_layer
    from hw.sparten.layer import SparTenLayer
    from sim.run_sparten import run_tiled
    rng = np.random.default_rng(seed)
    K, C, H, R, st, pad = (TILED[k] for k in ("K", "C", "H", "R", "stride", "padding"))
    w = ((rng.random((K, C, R, R)) < 0.3) * rng.integers(-128, 128, (K, C, R, R))).astype(np.int8)
    a = ((rng.random((C, H, H)) < 0.4) * rng.integers(-128, 128, (C, H, H))).astype(np.int8)
    lines = []
    out, stats = run_tiled(w, a, st, pad, relu=True, balance="gbh", config=SMALL, sim="native",
                           dram_bytes_per_cycle=16, progress=lines.append)
    ref = F.conv2d(torch.from_numpy(a).double()[None], torch.from_numpy(w).double(), stride=st,
                   padding=pad)[0].to(torch.int64).numpy()
    np.testing.assert_array_equal(out, np.maximum(ref, 0))
    plan = plan_layer(SMALL, w, a, st, pad, balance="gbh",
                      pipeline=SparTenLayer.latency_of(SMALL))
    assert stats["blocks"] == {"k": 2, "c": 2, "y": 3, "x": 1} == plan.layer["blocks"]
    assert [t["cycles"] for t in stats["tiles"]] == [t.cycles for t in plan.tiles]
    assert [t["coords"] for t in stats["tiles"]] == [t.coords for t in plan.tiles]
    assert stats["bit_exact"] and stats["cycle_exact"] and stats["torch_exact"]
    assert stats["sim"] == "native" and stats["bytes_moved"] == plan.bytes_moved
    assert stats["bound_cycles"] == plan.bound_cycles(16)
    assert sum(1 for ln in lines if ln.startswith("tile ")) == len(plan.tiles)


@pytest.mark.rtl
def test_fc_tiled_host_requant_native(seed):
    """FC (1x1 on 1x1) with C = 300 > max_channels: three C blocks, ReLU and requantisation on
    the host after the last block, equal to golden; the one-tile case uses the hardware path."""
    from golden.conv import fc
    from sim.run_sparten import run_tiled
    rng = np.random.default_rng(seed)
    w = ((rng.random((10, 300)) < 0.5) * rng.integers(-128, 128, (10, 300))).astype(np.int8)
    x = ((rng.random(300) < 0.6) * rng.integers(-128, 128, 300)).astype(np.int8)
    out, stats = run_tiled(w, x, relu=True, requant=(3, 9), config=SMALL)
    assert stats["kind"] == "fc" and stats["blocks"]["c"] == 3 and stats["requant_on"] == "host"
    want = requantize(relu(fc(x, w)), 3, 9)
    np.testing.assert_array_equal(out.reshape(-1), want)
    out1, st1 = run_tiled(w[:, :100], x[:100], relu=True, requant=(3, 9), config=SMALL)
    assert st1["n_tiles"] == 1 and st1["requant_on"] == "hardware"
    np.testing.assert_array_equal(out1.reshape(-1), requantize(relu(fc(x[:100], w[:, :100])), 3, 9))


def test_cli_config_and_plan_errors(tmp_path, capsys):
    """Default config is the paper's; presets and files via --config; a layer beyond the
    geometric limits is a one-line error before any hardware is built."""
    from hw.sparten.config import PAPER
    from sim import cli
    from sim.run_sparten import load_config
    assert load_config(None) == PAPER and load_config("small") == SMALL
    p = tmp_path / "c.json"
    p.write_text(json.dumps(SMALL.to_dict()))
    assert load_config(str(p)) == SMALL
    args = cli.build_parser().parse_args(["run", "sparten", "--weights", "w", "--activations",
                                          "a", "--out", "o", "--stats", "s"])
    assert load_config(args.config) == PAPER
    with pytest.raises(SystemExit):
        cli.main(["run", "sparten", "--help"])
    assert "default 64 bytes per cycle" in " ".join(capsys.readouterr().out.split())
    w, a = tmp_path / "w.npy", tmp_path / "a.npy"
    np.save(w, np.ones((2, 3, 7, 7), dtype=np.int8))
    np.save(a, np.ones((3, 9, 9), dtype=np.int8))
    _one_line_error(_cli("--config", "small", "--weights", w, "--activations", a, "--out",
                         tmp_path / "o.npy", "--stats", tmp_path / "s.json", capsys=capsys),
                    "max_kernel = 5")
    _one_line_error(_cli("--config", "big", "--weights", w, "--activations", a, "--out",
                         tmp_path / "o.npy", "--stats", tmp_path / "s.json", capsys=capsys),
                    "'paper', 'small'")


@pytest.mark.rtl
def test_run_chain_two_layers(seed):
    from sim.run_sparten import run_chain
    rng = np.random.default_rng(seed)
    a = ((rng.random((9, 6, 6)) < 0.6) * rng.integers(-128, 128, (9, 6, 6))).astype(np.int8)
    w0 = ((rng.random((11, 9, 3, 3)) < 0.5) * rng.integers(-128, 128, (11, 9, 3, 3))).astype(np.int8)
    w1 = ((rng.random((7, 11, 1, 1)) < 0.7) * rng.integers(-128, 128, (7, 11, 1, 1))).astype(np.int8)
    layers = [dict(w=w0, padding=1, relu=True, requant=(5, 9), balance="gbh"),
              dict(w=w1, relu=False)]
    (o0, s0), (o1, s1) = run_chain(layers, a, seed=seed, idle=0.1, backpressure=0.2)
    q0 = requantize(relu(conv2d_dense(a, w0, 1, 1)), 5, 9)
    np.testing.assert_array_equal(o0, q0)
    np.testing.assert_array_equal(o1, conv2d_dense(q0, w1))
    assert s0["bit_exact"] and s1["bit_exact"]
    assert s0["cycle_exact"] and s1["cycle_exact"]


@pytest.mark.rtl
def test_run_layer_sparse_takes_and_gives_sparsemap(seed):
    from golden.quant import output_to_sparsemap
    from golden.sparsemap import encode_activations
    from sim.run_sparten import run_layer_sparse
    rng = np.random.default_rng(seed)
    a = ((rng.random((12, 5, 5)) < 0.5) * rng.integers(-128, 128, (12, 5, 5))).astype(np.int8)
    w = ((rng.random((10, 12, 3, 3)) < 0.5) * rng.integers(-128, 128, (10, 12, 3, 3))).astype(np.int8)
    sm_in = encode_activations(a, SMALL.chunk)
    sm, stats = run_layer_sparse(w, sm_in, stride=2, padding=1, relu=True, requant=(7, 10),
                                 seed=seed, idle=0.2, backpressure=0.4)
    want = output_to_sparsemap(conv2d_dense(a, w, 2, 1), SMALL.chunk, 7, 10)
    np.testing.assert_array_equal(sm.decode(), want.decode())
    assert [[[c.mask for c in v] for v in row] for row in sm.chunks] == \
        [[[c.mask for c in v] for v in row] for row in want.chunks]
    assert stats["bit_exact"] and stats["cycle_exact"]


@pytest.mark.rtl
def test_bench_speed_paths_check_their_outputs(monkeypatch):
    """The two timed SparTen runs of ``make bench`` (the cocotb batch of sim/bench_speed.py, cocotb
    against native in sim/bench_sparten_real.py) compare every output with the prepared case's
    expected values: exact on a tiny workload, and not exact once an expected value is wrong.
    (They once indexed the case as a dict and failed only in a full ``make bench``.)"""
    import dataclasses

    from sim import bench_speed
    from sim import run_sparten as rs
    from sim.bench_sparten_real import native_vs_cocotb
    tiny = {"n": 1, "K": 4, "C": 8, "HW": 4, "d_w": 0.35, "d_a": 0.45}
    got = native_vs_cocotb(workload=tiny)
    assert [r["path"] for r in got["rows"]] == ["cocotb", "native"]
    assert all(r["exact"] and r["cycles"] > 0 for r in got["rows"]), got["rows"]
    rng = np.random.default_rng(3)

    def rand(shape, density):
        return np.where(rng.random(shape) < density, rng.integers(-127, 128, shape), 0)
    row = bench_speed._sparten(rand, 1, True, lambda *_: None)
    assert row["bit_exact"] is True and row["cycles"] > 0, row
    # a wrong expected value shows as not exact (this run does not stop at a mismatch)
    real_prepare = rs.prepare_case

    def wrong(*args, **kw):
        case, *rest = real_prepare(*args, **kw)
        bad = (case.expect[0] + 1,) + tuple(case.expect[1:])
        return (dataclasses.replace(case, expect=bad), *rest)
    monkeypatch.setattr(rs, "prepare_case", wrong)
    assert not any(r["exact"] for r in native_vs_cocotb(workload=tiny)["rows"])
