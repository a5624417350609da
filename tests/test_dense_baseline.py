"""Dense MAC array (hw/sparten/dense_baseline.py): bit-exact dot products and exact cycle count
under random idle cycles and backpressure, in the Amaranth simulator (it is an area baseline, so
no Verilator build is spent on it)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.common.config import ConfigError
from hw.sparten.dense_baseline import DenseMacArray, DenseMacConfig
from sim.streams import stream_get, stream_put


def _wrap(x, bits):
    x = np.asarray(x, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(x >= 1 << (bits - 1), x - (1 << bits), x)


@pytest.mark.parametrize("idle,backpressure", [(0.0, 0.0), (0.4, 0.5)])
def test_dot_products_and_cycles(seed, idle, backpressure):
    cfg = DenseMacConfig(n_units=3, chunk=8, value_width=8, acc_width=20)
    dut = DenseMacArray(cfg)
    rng = np.random.default_rng(seed)
    n_chunks = 3
    filt = rng.integers(-128, 128, (n_chunks, cfg.n_units, cfg.chunk))
    acts = rng.integers(-128, 128, (n_chunks, cfg.chunk))
    acts[1] = -128  # most negative values: products of -128 * -128 must not overflow the MAC
    filt[1] = -128
    expect = _wrap(np.einsum("cuk,ck->u", filt, acts), cfg.acc_width)
    got, busy, valid_after = [], [], []

    async def bench(ctx):
        for c in range(n_chunks):
            for u in range(cfg.n_units):
                await stream_put(ctx, dut.f, {"unit": u, "values": [int(v) for v in filt[c, u]]})
            await stream_put(ctx, dut.a, {"values": [int(v) for v in acts[c]], "first": c == 0,
                                          "last": c == n_chunks - 1}, idle=idle, rand=rng)
            for cyc in range(4 * cfg.chunk):  # cycle cap from the model (chunk + 1)
                if ctx.get(dut.f.ready):
                    busy.append(cyc)
                    break
                await ctx.tick()
            else:
                raise AssertionError("array never became idle")
        # o.valid rises exactly dut.latency cycles after the transfer of the last chunk (the
        # busy loop left us ``chunk + 1`` cycles after it).
        after = cfg.chunk + 1
        while not ctx.get(dut.o.valid) and after < 4 * cfg.chunk:
            await ctx.tick()
            after += 1
        valid_after.append(after)
        out = await stream_get(ctx, dut.o, backpressure=backpressure, rand=rng, cap=50)
        got.append([int(x) for x in out.sums])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == 1, f"no result (seed {seed})"
    np.testing.assert_array_equal(np.array(got[0]), expect, err_msg=f"seed {seed}")
    # After the transfer the array is busy for exactly ``chunk`` cycles (it reports ready again on
    # the next one): the cycle contract of DenseMacConfig.cycles_per_chunk.
    assert busy == [cfg.chunk] * n_chunks
    assert valid_after == [dut.latency]


def test_like_sparten_config():
    from hw.sparten.config import SMALL
    cfg = DenseMacConfig.like(SMALL)
    assert (cfg.n_units, cfg.chunk, cfg.value_width, cfg.acc_width) == (
        SMALL.n_units, SMALL.chunk, SMALL.value_width, SMALL.acc_width)


@pytest.mark.parametrize("field,value", [("n_units", 0), ("chunk", 12), ("acc_width", 8)])
def test_bad_config_names_field(field, value):
    with pytest.raises(ConfigError, match=field):
        DenseMacConfig(**{field: value})
