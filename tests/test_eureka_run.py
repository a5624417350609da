"""``sparse-hw run eureka`` and the Python API.

Whole GEMMs (``run_gemm_tiled``, the CLI) run on the preload top's native Verilator model of
``GEMM_SMALL`` (one build shared by every test here); ``run_conv2d`` keeps the cocotb stream path on
the 4x8 G=8 core that ``test_eureka_rtl.py`` also builds.
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from golden import eureka as ge
from hw.eureka.config import GEMM_SMALL
from sim import run_eureka

CFG = run_eureka.DEFAULT_CONFIG


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sim.cli", "run", "eureka", *map(str, args)],
                          capture_output=True, text=True)


def sparse(rng, shape, density):
    return rng.integers(-128, 128, shape) * (rng.random(shape) < density)


@pytest.mark.rtl
def test_cli_runs_tiles_and_writes_stats(tmp_path, seed):
    rng = np.random.default_rng(seed)
    w = sparse(rng, (10, 300), 0.3).astype(np.int8)
    a = rng.integers(-128, 128, (300, 7)).astype(np.int8)
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "a.npy", a)
    (tmp_path / "cfg.json").write_text(json.dumps(GEMM_SMALL.to_dict()))
    r = cli("--mode", "suds", "--weights", tmp_path / "w.npy", "--activations", tmp_path / "a.npy",
            "--config", tmp_path / "cfg.json", "--out", tmp_path / "o.npy", "--stats",
            tmp_path / "s.json", "--k-windows", 2, "--n-block", 4, "--dram-bytes-per-cycle", 3)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("bit-exact") == 6                # progress: one line per tile
    out = np.load(tmp_path / "o.npy")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, w.astype(np.int64) @ a.astype(np.int64))
    st = json.loads((tmp_path / "s.json").read_text())
    for key in ("cycles", "model_cycles", "dense_cycles", "displaced", "utilization", "bit_exact",
                "tiles", "n_tiles", "bytes_moved", "bound_cycles", "traffic", "psum"):
        assert key in st, key
    assert st["bit_exact"] and st["torch_exact"] and st["cycle_exact"]
    assert st["cycles"] == st["model_cycles"] == ge.cycle_model(w, 7, "suds", GEMM_SMALL.core)[
        "cycles"]
    assert st["dense_cycles"] == 3 * 7 * 38             # 3 row tiles, 7 columns, ceil(300/8)
    assert st["n_tiles"] == len(st["tiles"]) == 6 and st["psum"] == "host"
    assert st["bytes_moved"] == sum(t["bytes_moved"] for t in st["tiles"])
    assert st["traffic"]["psums_out"] > 0
    assert st["dram_bytes_per_cycle"] == 3
    assert st["bound_cycles"] == sum(max(t["cycles"], math.ceil(t["bytes_moved"] / 3))
                                     for t in st["tiles"]) > st["cycles"]
    for t in st["tiles"]:
        assert t["cycles"] == t["model_cycles"] and t["bit_exact"] and t["stalls"] == 0
        assert t["run_cycles"] == t["cycles"] + st["latency"]


@pytest.mark.rtl
@pytest.mark.parametrize("mode,permute", [("suds", False), ("nm:2:4", False), ("dense", False),
                                          ("suds", True), ("unstructured-nosuds", True)])
def test_tiled_native_runs(seed, mode, permute):
    rng = np.random.default_rng(seed)
    M, K, N = 13, 384, 9
    if mode == "nm:2:4":
        w = rng.integers(1, 128, (M, K)).reshape(M, -1, 4)
        w = (w * (np.argsort(rng.random(w.shape), -1) < 2)).reshape(M, K)
    else:
        w = sparse(rng, (M, K), 0.25 if mode == "suds" else 1.0)
    if mode == "suds":
        w[:4] = 0                                      # an all-zero row tile: one beat per column
    a = rng.integers(-128, 128, (K, N))
    a[:, 0] = -128
    msgs = []
    # balanced order: K blocks of 2 of the tile's windows, so partial sums of gathered blocks add up
    out, st = run_eureka.run_gemm_tiled(w, a, mode, config=GEMM_SMALL, progress=msgs.append,
                                        permute=permute, k_windows=2 if permute else None)
    np.testing.assert_array_equal(out, w @ a)
    assert st["bit_exact"] and st["torch_exact"] and st["cycle_exact"]
    assert st["n_tiles"] > 1 and sum(m.startswith("tile ") for m in msgs) == st["n_tiles"]
    assert all(t["cycles"] == t["model_cycles"] for t in st["tiles"])
    whole = ge.cycle_model(w, N, mode, GEMM_SMALL.core, permute=permute)["cycles"]
    assert st["cycles"] >= whole and (permute or st["cycles"] == whole)
    if permute:
        assert st["psum"] == "host"


def test_tiled_bad_inputs_before_hardware():
    w = np.zeros((4, 64), np.int64)
    a = np.zeros((64, 2), np.int64)
    with pytest.raises(ValueError, match="idle/backpressure need sim='amaranth'"):
        run_eureka.run_gemm_tiled(w, a, "suds", config="small", idle=0.2)
    with pytest.raises(ValueError, match="sim must be one of"):
        run_eureka.run_gemm_tiled(w, a, "suds", config="small", sim="vcs")
    with pytest.raises(ValueError, match="dram_bytes_per_cycle must be a positive number"):
        run_eureka.run_gemm_tiled(w, a, "suds", config="small", dram_bytes_per_cycle=0)
    with pytest.raises(ValueError, match="K=63 rows but the weights have K=64"):
        run_eureka.run_gemm_tiled(w, a[:63], "suds", config="small")


def test_cli_bad_inputs_are_one_line(tmp_path, capsys):
    from sim.cli import main

    np.save(tmp_path / "w.npy", np.zeros((4, 8), np.int8))
    np.save(tmp_path / "a3.npy", np.zeros((4, 8, 1), np.int8))
    np.save(tmp_path / "af.npy", np.zeros((8, 2), np.float32))
    np.save(tmp_path / "a9.npy", np.zeros((9, 2), np.int8))
    np.save(tmp_path / "a8.npy", np.zeros((8, 2), np.int8))
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "badcfg.json").write_text(json.dumps({**CFG.to_dict(), "rows": 0}))
    (tmp_path / "badbuf.json").write_text(json.dumps({**GEMM_SMALL.to_dict(), "act_depth": 0}))
    common = ["--out", tmp_path / "o.npy", "--stats", tmp_path / "s.json"]
    for acts, extra, msg in [
        ("missing.npy", [], "does not exist"),
        ("a3.npy", [], "must be [K,N]"),
        ("af.npy", [], "must be int8"),
        ("a9.npy", [], "do not chain"),
        ("a9.npy", ["--config", tmp_path / "bad.json"], "is not JSON"),
        ("a9.npy", ["--config", tmp_path / "badcfg.json"], "rows must be in 1..64, not 0"),
        ("a9.npy", ["--config", tmp_path / "badbuf.json"], "act_depth must be in 1..1048576, not 0"),
        ("a9.npy", ["--config", "huge"], "config must be one of ['paper', 'small']"),
        ("a9.npy", ["--mode", "nm:3:2"], "N:M needs"),
        ("a9.npy", ["--mode", "nm:2:16"], "not supported by this core"),
        ("a8.npy", ["--config", "small", "--dram-bytes-per-cycle", "0"],
         "dram_bytes_per_cycle must be a positive number"),
        ("a8.npy", ["--config", "small", "--idle", "0.3"], "idle/backpressure need"),
        ("a8.npy", ["--config", "small", "--k-windows", "0"], "k_windows must be a positive int"),
    ]:
        rc = main(["run", "eureka", "--weights", str(tmp_path / "w.npy"), "--activations",
                   str(tmp_path / acts), *map(str, common), *map(str, extra)])
        err = capsys.readouterr().err
        assert rc == 2, (acts, extra, err)
        assert msg in err, (msg, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_help_states_defaults(capsys):
    from sim.cli import main
    with pytest.raises(SystemExit):
        main(["run", "eureka", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default 64)" in text and "default paper" in text


@pytest.mark.rtl
def test_conv2d_on_rtl_matches_torch(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    act = rng.integers(-128, 128, (3, 6, 5))
    filt = rng.integers(-128, 128, (5, 3, 3, 3)) * (rng.random((5, 3, 3, 3)) < 0.4)
    out, stats = run_eureka.run_conv2d(act, filt, stride=2, padding=1, mode="suds", config=CFG,
                                       seed=seed, idle=0.2, backpressure=0.2)
    ref = torch.nn.functional.conv2d(torch.from_numpy(act[None]).double(),
                                     torch.from_numpy(filt).double(), stride=2, padding=1)[0]
    np.testing.assert_array_equal(out, ref.numpy().astype(np.int64))
    assert stats["bit_exact"] and stats["cycle_exact"] and stats["conv"]["out_hw"] == [3, 3]
