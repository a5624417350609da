"""``sparse-hw run eureka`` and the Python API (run_gemm, run_conv2d), on the 4x8 G=8 RTL model
(the driver's default) that ``test_eureka_rtl.py`` also builds (same Verilog, shared build)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from sim import run_eureka

CFG = run_eureka.DEFAULT_CONFIG


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sim.cli", "run", "eureka", *map(str, args)],
                          capture_output=True, text=True)


@pytest.mark.rtl
def test_cli_runs_and_writes_stats(tmp_path, seed):
    rng = np.random.default_rng(seed)
    w = (rng.integers(-128, 128, (6, 40)) * (rng.random((6, 40)) < 0.3)).astype(np.int8)
    a = rng.integers(-128, 128, (40, 3)).astype(np.int8)
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "a.npy", a)
    (tmp_path / "cfg.json").write_text(json.dumps(CFG.to_dict()))
    r = cli("--mode", "suds", "--weights", tmp_path / "w.npy", "--activations", tmp_path / "a.npy",
            "--config", tmp_path / "cfg.json", "--out", tmp_path / "o.npy", "--stats",
            tmp_path / "s.json", "--seed", seed, "--idle", 0.3, "--backpressure", 0.3)
    assert r.returncode == 0, r.stderr[-3000:]
    out = np.load(tmp_path / "o.npy")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, w.astype(np.int64) @ a.astype(np.int64))
    st = json.loads((tmp_path / "s.json").read_text())
    for key in ("cycles", "model_cycles", "dense_cycles", "displaced", "utilization", "bit_exact"):
        assert key in st
    assert st["bit_exact"] and st["cycles"] == st["model_cycles"]
    assert st["dense_cycles"] == 2 * 3 * 5           # 2 tiles, 3 columns, ceil(40/8)


def test_cli_bad_inputs_are_one_line(tmp_path, capsys):
    from sim.cli import main

    np.save(tmp_path / "w.npy", np.zeros((4, 8), np.int8))
    np.save(tmp_path / "a3.npy", np.zeros((4, 8, 1), np.int8))
    np.save(tmp_path / "af.npy", np.zeros((8, 2), np.float32))
    np.save(tmp_path / "a9.npy", np.zeros((9, 2), np.int8))
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "badcfg.json").write_text(json.dumps({**CFG.to_dict(), "rows": 0}))
    common = ["--out", tmp_path / "o.npy", "--stats", tmp_path / "s.json"]
    for acts, extra, msg in [
        ("missing.npy", [], "does not exist"),
        ("a3.npy", [], "must be [K,N]"),
        ("af.npy", [], "must be int8"),
        ("a9.npy", [], "do not chain"),
        ("a9.npy", ["--config", tmp_path / "bad.json"], "is not JSON"),
        ("a9.npy", ["--config", tmp_path / "badcfg.json"], "rows must be in 1..64, not 0"),
        ("a9.npy", ["--mode", "nm:3:2"], "N:M needs"),
        ("a9.npy", ["--mode", "nm:2:16"], "not supported by this core"),
    ]:
        rc = main(["run", "eureka", "--weights", str(tmp_path / "w.npy"), "--activations",
                   str(tmp_path / acts), *map(str, common), *map(str, extra)])
        err = capsys.readouterr().err
        assert rc == 2, (acts, err)
        assert msg in err, (msg, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


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
