"""cocotb tests of hw.sparten.output.OutputPath (requantise -> ReLU -> SparseMap encoder) on Verilator.

Scoreboard: the driver feeds accumulators in channel order (``last`` on each position's last
channel), the monitor takes chunks under random backpressure, the model is golden.quant.requantize +
ReLU + golden.sparsemap.encode_vector, the checker compares bit for bit. Cycle contract: stall-free,
a chunk leaves exactly ``latency`` cycles (sidecar) after the accumulator that completes it was
accepted and the input never stalls; under stalls no chunk leaves earlier than that.
"""

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from golden.quant import requantize
from golden.sparsemap import encode_vector
from hw.sparten.config import SparTenConfig
from hw.sparten.output import acc_layout, chunk_layout
from sim.cocotb_util import (CycleCounter, StreamDriver, StreamMonitor, pack, rng, sidecar, start,
                             unpack)


class InputWatch:
    """Passive: records the cycle of every transfer on ``i`` and whether ``i`` ever stalled."""

    def __init__(self, dut, counter):
        self.dut, self.counter = dut, counter
        self.cycles, self.stalls = [], 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if int(self.dut.i__valid.value):
                if int(self.dut.i__ready.value):
                    self.cycles.append(self.counter.now)
                else:
                    self.stalls += 1


def _expected(accs, mult, shift, relu, chunk):
    """[(mask, values[chunk], last)] per chunk, and the index of the input completing each chunk."""
    out, completing, base = [], [], 0
    for vec in accs:
        q = requantize(np.asarray(vec, dtype=np.int64), mult, shift, out_bits=8)
        if relu:
            q = np.maximum(q, 0)
        chunks = encode_vector(q, chunk)
        for j, c in enumerate(chunks):
            vals = np.zeros(chunk, dtype=np.int64)
            vals[:len(c.values)] = c.values
            out.append((c.mask, vals, int(j == len(chunks) - 1)))
            completing.append(base + min((j + 1) * chunk, len(vec)) - 1)
        base += len(vec)
    return out, completing


class Bench:
    """Driver, monitor and input watch of one cocotb test; :meth:`trial` runs one batch."""

    @classmethod
    async def create(cls, dut, name):
        self = cls()
        side = sidecar()
        self.cfg = SparTenConfig.from_dict(side["config"])
        self.latency = side["latency"]
        self.a_lay, self.c_lay = acc_layout(self.cfg), chunk_layout(self.cfg)
        self.dut = dut
        await start(dut)
        r = rng(name)
        self.counter = CycleCounter(dut.clk)
        self.watch = InputWatch(dut, self.counter)
        self.drv = StreamDriver(dut, "i", r)
        self.mon = StreamMonitor(dut, "o", r, counter=self.counter)
        return self

    async def trial(self, accs, mult, shift, relu, idle, backpressure):
        dut, latency, mon, watch = self.dut, self.latency, self.mon, self.watch
        # Per-layer inputs change only while the pipeline is empty (between trials).
        dut.multiplier.value = mult
        dut.shift.value = shift
        dut.relu.value = relu
        self.drv.idle, mon.backpressure = idle, backpressure
        expected, completing = _expected(accs, mult, shift, relu, self.cfg.chunk)
        n_in = sum(len(v) for v in accs)
        out0, in0, stalls0 = len(mon.beats), len(watch.cycles), watch.stalls
        await RisingEdge(dut.clk)
        self.drv.send_all(pack(self.a_lay, {"acc": int(a), "last": c == len(v) - 1})
                          for v in accs for c, a in enumerate(v))
        # Cap: 20x the stall-free time is far beyond any idle/backpressure pattern we draw.
        await mon.wait_for(out0 + len(expected), timeout_cycles=20 * (n_in + latency) + 100)
        for _ in range(2 * latency + 4):  # surplus chunks would show up here
            await RisingEdge(dut.clk)
        beats, out_cycles = mon.beats[out0:], mon.cycles[out0:]
        in_cycles, stalls = watch.cycles[in0:], watch.stalls - stalls0
        assert len(beats) == len(expected), (len(beats), len(expected))
        for n, (beat, (mask, vals, last)) in enumerate(zip(beats, expected)):
            got = unpack(self.c_lay, beat)
            assert int(got.mask) == mask, f"chunk {n}: mask {int(got.mask):#x} != {mask:#x}"
            np.testing.assert_array_equal([int(v) for v in got.values], vals,
                                          err_msg=f"chunk {n}")
            assert int(got.last) == last, f"chunk {n}: last"
        assert len(in_cycles) == n_in
        lat = [out_cycles[n] - in_cycles[k] for n, k in enumerate(completing)]
        if idle == 0 and backpressure == 0:
            assert stalls == 0, f"input stalled {stalls} times without backpressure"
            assert np.all(np.diff(in_cycles) == 1), "not one accumulator per cycle"
            assert lat == [latency] * len(expected), lat
        else:
            assert min(lat) >= latency, lat
        return stalls


def _random_accs(r, positions, channels, zero_p=0.5, lo=-(1 << 31), hi=(1 << 31) - 1):
    """Accumulators per position: zeros, the int32 extremes, small and full-range values."""
    return [[0 if r.random() < zero_p else
             r.choice([lo, hi, r.randint(-50000, 50000), r.randint(lo, hi)])
             for _ in range(channels)] for _ in range(positions)]


@cocotb.test()
async def stall_free_exact_latency(dut):
    bench = await Bench.create(dut, "stall_free")
    r = rng("stall_free_data")
    await bench.trial(_random_accs(r, 20, 13), 173, 10, 1, 0.0, 0.0)
    await bench.trial(_random_accs(r, 10, 16, zero_p=0.0), 1, 0, 0, 0.0, 0.0)


@cocotb.test()
async def random_idle_and_backpressure(dut):
    bench = await Bench.create(dut, "stress")
    r = rng("stress_data")
    stalls = 0
    for channels in (1, 7, 8, 16, 21):
        accs = _random_accs(r, 15, channels, zero_p=r.choice([0.0, 0.3, 0.8, 1.0]))
        mult, shift, relu = r.randint(1, 65535), r.randint(0, 31), r.randint(0, 1)
        stalls += await bench.trial(accs, mult, shift, relu, 0.3, 0.5)
    assert stalls > 0, "backpressure never reached the input: the stress did not stress"


@cocotb.test()
async def corner_cases(dut):
    bench = await Bench.create(dut, "corners")
    chunk = bench.cfg.chunk
    lo, hi = -(1 << 31), (1 << 31) - 1
    accs = [
        [0] * chunk,                     # all-zero chunk
        [5] * chunk,                     # all non-zero, exactly one chunk
        [hi] * (chunk + 3),              # saturates high; C not a multiple of chunk
        [lo] * (2 * chunk - 1),          # saturates low (ReLU off in the first trial)
        [0] * (chunk - 1) + [1],         # single non-zero at the top of a chunk
        [1] + [0] * chunk,               # single non-zero, trailing partial all-zero chunk
        [-3, 0, 3],
    ]
    await bench.trial(accs, 65535, 0, 0, 0.2, 0.3)
    await bench.trial(accs, 1, 1, 1, 0.2, 0.3)
    await bench.trial(accs, 3, 2, 0, 0.0, 0.0)
