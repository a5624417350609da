"""hw/sparten/output.py: requantise + ReLU and the SparseMap encoder, against golden/ bit for bit.

Amaranth-simulator unit tests (fast) with seeded idle cycles on inputs and backpressure on outputs,
exact latencies in stall-free runs; one cocotb-on-Verilator run of :class:`OutputPath` at the end.
"""

import dataclasses
import random
import types

import numpy as np
import pytest

from golden.quant import requantize
from golden.sparsemap import encode_vector
from hw.sparten.config import SMALL, SparTenConfig
from hw.sparten.output import (OutputPath, Requantize, SparseMapEncoder, acc_layout, chunk_layout,
                               value_layout)
from sim.verilator import build_model
from sim.streams import Driver, Monitor, simulate


# -- a small stream scoreboard for the Amaranth simulator ----------------------------------------

def _run_stream(dut, beats, idle, backpressure, seed, n_out, max_cycles, params=None):
    """Drive ``beats`` (payload dicts, with optional per-beat port values ``params``) into ``dut.i``.

    Returns ``(in_cycles, outputs, out_cycles, stalled)``: the edge index of each input transfer,
    the output payloads (``lib.data.Const``), the edge index of each output transfer, and whether
    ``i.ready`` was ever low while ``i.valid`` was high. Fails (never hangs) when ``n_out`` outputs
    have not arrived within ``max_cycles``; runs 8 more cycles to catch surplus outputs.
    """
    rand = random.Random(seed)
    drv = Driver(dut.i, beats, idle=idle, rand=rand, params=params, dut=dut)
    mon = Monitor(dut.o, n_out, backpressure=backpressure, rand=rand)
    simulate(dut, drivers=[drv], monitors=[mon], cap=max_cycles, tail=8, seed=seed)
    return drv.cycles, mon.beats, mon.cycles, drv.stalled


def _golden_values(acc, mult, shift, relu, value_width=8):
    q = requantize(np.asarray(acc, dtype=np.int64), mult, shift, out_bits=value_width)
    return np.where(np.asarray(relu, dtype=bool), np.maximum(q, 0), q)


def _golden_chunks(vectors, chunk):
    """Expected (mask, padded values, last) per chunk of every position's vector."""
    out = []
    for vec in vectors:
        chunks = encode_vector(np.asarray(vec, dtype=np.int64), chunk)
        for j, c in enumerate(chunks):
            vals = np.zeros(chunk, dtype=np.int64)
            vals[:len(c.values)] = c.values
            out.append((c.mask, vals, int(j == len(chunks) - 1)))
    return out


def _check_chunks(got, expected, seed):
    assert len(got) == len(expected), (len(got), len(expected), f"seed {seed}")
    for n, (g, (mask, vals, last)) in enumerate(zip(got, expected)):
        assert int(g.mask) == mask, (n, hex(int(g.mask)), hex(mask), f"seed {seed}")
        np.testing.assert_array_equal(np.array([int(v) for v in g.values]), vals,
                                      err_msg=f"chunk {n}, seed {seed}")
        assert int(g.last) == last, (n, f"seed {seed}")


# -- Requantize ----------------------------------------------------------------------------------

CFG = SMALL  # chunk 8, value_width 8, acc_width 32


def _requant_stimulus(rand, n, acc_width=32):
    lo, hi = -(1 << (acc_width - 1)), (1 << (acc_width - 1)) - 1
    accs, params = [], []
    for k in range(n):
        kind = rand.random()
        if kind < 0.1:
            acc = rand.choice([lo, hi, 0, -1, 1])
        elif kind < 0.5:
            acc = rand.randint(-4000, 4000)
        else:
            acc = rand.randint(lo, hi)
        accs.append(acc)
        params.append({"multiplier": rand.choice([1, 65535, rand.randint(1, 65535)]),
                       "shift": rand.choice([0, 1, 31, rand.randint(0, 31)]),
                       "relu": rand.randint(0, 1)})
    return accs, params


@pytest.mark.parametrize("idle,backpressure", [(0.0, 0.0), (0.3, 0.4)])
def test_requantize_matches_golden(seed, idle, backpressure):
    rand = random.Random(seed)
    accs, params = _requant_stimulus(rand, 400)
    dut = Requantize(CFG)
    beats = [{"acc": a, "last": k % 7 == 6} for k, a in enumerate(accs)]
    acc_c, out, out_c, stalled = _run_stream(dut, beats, idle, backpressure, seed, len(beats),
                                             5000, params=params)
    expected = np.array([_golden_values(a, p["multiplier"], p["shift"], p["relu"])
                         for a, p in zip(accs, params)])
    got = np.array([int(o.value) for o in out])
    np.testing.assert_array_equal(got, expected, err_msg=f"seed {seed}")
    assert [int(o.last) for o in out] == [int(b["last"]) for b in beats]
    if idle == backpressure == 0:
        # Contract: full throughput and exactly `latency` cycles from input to output transfer.
        assert not stalled
        assert np.diff(acc_c).tolist() == [1] * (len(accs) - 1)
        assert (np.array(out_c) - np.array(acc_c)).tolist() == [Requantize.latency] * len(accs)
    else:
        assert stalled, "backpressure never reached the input: the stress did not stress"
        assert all(o - a >= Requantize.latency for a, o in zip(acc_c, out_c))


def test_requantize_saturates_both_ends():
    cases = [(-(1 << 31), 65535, 0, 0, -128), ((1 << 31) - 1, 65535, 0, 0, 127),
             (-(1 << 31), 65535, 0, 1, 0), (255, 1, 1, 0, 127), (-255, 1, 1, 0, -127),
             (-256, 1, 1, 0, -128), (-257, 1, 1, 0, -128), (5, 1, 1, 0, 3), (-5, 1, 1, 0, -2),
             (3, 3, 0, 0, 9)]
    dut = Requantize(CFG)
    beats = [{"acc": c[0], "last": 0} for c in cases]
    params = [{"multiplier": c[1], "shift": c[2], "relu": c[3]} for c in cases]
    _, out, _, _ = _run_stream(dut, beats, 0.0, 0.0, 0, len(beats), 200, params=params)
    assert [int(o.value) for o in out] == [c[4] for c in cases]
    # The hand-written expectations are the golden model's too.
    assert [int(_golden_values(*c[:4])) for c in cases] == [c[4] for c in cases]


def test_requantize_other_widths(seed):
    cfg = dataclasses.replace(SMALL, value_width=4, acc_width=20, max_reduction=64)
    rand = random.Random(seed)
    accs, params = _requant_stimulus(rand, 200, acc_width=20)
    for p in params:
        p["multiplier"] = min(p["multiplier"], 255)
        p["shift"] = min(p["shift"], 15)
    dut = Requantize(cfg, multiplier_width=8, shift_width=4)
    beats = [{"acc": a, "last": 0} for a in accs]
    _, out, _, _ = _run_stream(dut, beats, 0.2, 0.2, seed, len(beats), 3000, params=params)
    expected = [int(_golden_values(a, p["multiplier"], p["shift"], p["relu"], value_width=4))
                for a, p in zip(accs, params)]
    assert [int(o.value) for o in out] == expected, f"seed {seed}"


def test_requantize_rejects_bad_widths():
    with pytest.raises(ValueError, match="multiplier_width"):
        Requantize(CFG, multiplier_width=0)
    with pytest.raises(ValueError, match="shift_width"):
        Requantize(CFG, shift_width=7)
    with pytest.raises(TypeError, match="acc_width"):
        Requantize(types.SimpleNamespace(value_width=8))
    with pytest.raises(TypeError, match="chunk"):
        SparseMapEncoder(types.SimpleNamespace(value_width=8, chunk=0))


# -- SparseMapEncoder ----------------------------------------------------------------------------

def _vectors(rand, n_pos, channels, density):
    vecs = []
    for _ in range(n_pos):
        v = [rand.choice([-128, 127, rand.randint(-128, 127) or 1]) if rand.random() < density
             else 0 for _ in range(channels)]
        vecs.append(v)
    return vecs


def _encoder_beats(vecs):
    return [{"value": x, "last": int(c == len(v) - 1)} for v in vecs for c, x in enumerate(v)]


@pytest.mark.parametrize("chunk", [8, 16])
@pytest.mark.parametrize("channels", [1, 5, 8, 16, 21])
def test_encoder_matches_golden_under_stress(seed, chunk, channels):
    rand = random.Random(f"{seed}:{chunk}:{channels}")
    cfg = dataclasses.replace(SMALL, chunk=chunk)
    vecs = _vectors(rand, 12, channels, rand.choice([0.0, 0.3, 0.7, 1.0]))
    vecs += [[0] * channels, [rand.randint(1, 127) for _ in range(channels)]]
    expected = _golden_chunks(vecs, chunk)
    _, out, _, _ = _run_stream(SparseMapEncoder(cfg), _encoder_beats(vecs), 0.3, 0.5, seed,
                               len(expected), 20 * 14 * channels + 200)
    _check_chunks(out, expected, seed)


@pytest.mark.parametrize("channels", [3, 8, 19])
def test_encoder_exact_latency_and_full_throughput(seed, channels):
    """Stall-free: one value per cycle, never a stall, each chunk exactly `latency` after its last."""
    rand = random.Random(seed)
    vecs = _vectors(rand, 10, channels, 0.5)
    beats = _encoder_beats(vecs)
    expected = _golden_chunks(vecs, CFG.chunk)
    acc_c, out, out_c, stalled = _run_stream(SparseMapEncoder(CFG), beats, 0.0, 0.0, seed,
                                             len(expected), 1000)
    _check_chunks(out, expected, seed)
    assert not stalled
    assert np.diff(acc_c).tolist() == [1] * (len(beats) - 1)
    # The beat completing each chunk: every chunk-th channel and every position's last channel.
    completing = [k for k in range(len(beats))
                  if k % channels == channels - 1 or (k % channels) % CFG.chunk == CFG.chunk - 1]
    assert len(completing) == len(out)
    assert [o - acc_c[k] for o, k in zip(out_c, completing)] == \
        [SparseMapEncoder.latency] * len(out)


def test_encoder_corner_cases():
    vecs = [[0] * 8, [0] * 3, [1] * 8, [-128] * 11, [0] * 7 + [5], [9] + [0] * 15, [0, -1, 0]]
    expected = _golden_chunks(vecs, 8)
    _, out, _, _ = _run_stream(SparseMapEncoder(CFG), _encoder_beats(vecs), 0.2, 0.2, 3,
                               len(expected), 2000)
    _check_chunks(out, expected, 3)


def test_layouts_match_sparten_word():
    # The chunk payload minus `last` is exactly the stored chunk word of the config.
    assert chunk_layout(SMALL).size == SMALL.chunk_bits + 1
    assert acc_layout(SMALL).size == SMALL.acc_width + 1
    assert value_layout(SMALL).size == SMALL.value_width + 1


# -- OutputPath ----------------------------------------------------------------------------------

def test_output_path_matches_golden(seed):
    rand = random.Random(seed)
    channels = 13
    mult, shift, relu = 181, 12, 1
    accs = [[rand.choice([0, 0, rand.randint(-60000, 60000), rand.randint(-(1 << 31), (1 << 31) - 1)])
             for _ in range(channels)] for _ in range(12)]
    dut = OutputPath(CFG)
    beats = [{"acc": a, "last": int(c == channels - 1)} for v in accs for c, a in enumerate(v)]
    params = [{"multiplier": mult, "shift": shift, "relu": relu}] * len(beats)
    vecs = [_golden_values(v, mult, shift, relu) for v in accs]
    expected = _golden_chunks(vecs, CFG.chunk)
    _, out, _, _ = _run_stream(dut, beats, 0.25, 0.4, seed, len(expected), 4000, params=params)
    _check_chunks(out, expected, seed)


# -- RTL: cocotb on Verilator --------------------------------------------------------------------

def rtl_config():
    """The config of the one Verilator build of the output path (chunk 8, int8, int32 acc)."""
    return SMALL


@pytest.mark.rtl
def test_output_path_rtl(seed):
    cfg = rtl_config()
    dut = OutputPath(cfg)
    model = build_model(dut, "sparten_output_path", cfg,
                        extra={"latency": OutputPath.latency, "multiplier_width": 16,
                               "shift_width": 5})
    results = model.run("cocotb_sparten_output", seed=seed)
    for name in ("stall_free_exact_latency", "random_idle_and_backpressure", "corner_cases"):
        assert results.get(name) == "pass", (name, results)


def test_config_variants_build():
    # Elaboration at the paper's chunk and a wide accumulator (no simulation: a smoke check).
    from amaranth.back import rtlil
    cfg = SparTenConfig(chunk=128, acc_width=48)
    assert rtlil.convert(OutputPath(cfg))
