"""Inner-join front end (hw/common/innerjoin.py) against golden/innerjoin.py.

Tier 1: Amaranth simulator, every chunk size 8..256 and 1/2/4 matches per cycle, random idle cycles
on the input and backpressure on the output, bit-exact beats; plus a stall-free run whose end-to-end
cycle count is asserted equal to the golden cycle model. Tier 2: the same stimulus on Verilator
(cocotb_innerjoin.py) for chunk 8 and chunk 128.
"""

import json
import random

import numpy as np
import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from golden.innerjoin import join_beats, join_cost, stream_cycles
from hw.common.bits import Popcount, PriorityEncoder, popcount
from hw.common.innerjoin import (GroupPrefix, InnerJoin, InnerJoinConfig, group_prefix_layout,
                                 input_layout, onehot_select)
from sim.streams import Driver, Monitor, simulate

CHUNKS = [8, 16, 32, 64, 128, 256]


def mask_cases(chunk, rand, n_random=24):
    """Corner cases (all zero, all ones, single bits at both ends, one side empty) plus random."""
    full = (1 << chunk) - 1
    cases = [(0, 0), (full, full), (full, 0), (0, full), (1, 1), (1 << (chunk - 1), full),
             (full, 1 << (chunk - 1)), (1, 2), (0x55 % (1 << chunk), full)]
    for _ in range(n_random):
        pf, pa = rand.choice([0.05, 0.3, 0.5, 0.9, 1.0]), rand.choice([0.0, 0.1, 0.5, 0.8])
        f = sum(1 << i for i in range(chunk) if rand.random() < pf)
        a = sum(1 << i for i in range(chunk) if rand.random() < pa)
        cases.append((f, a))
    return cases


def expected_beats(cases, chunk, mpc):
    out = []
    for k, (f, a) in enumerate(cases):
        for lanes, last in join_beats(f, a, chunk, mpc):
            out.append((tuple(lanes), last, k % 2))
    return out


class HeldJoin(Elaboratable):
    """An ``InnerJoin(shared_mask_a=True)`` with the held activation mask and its group prefixes
    registered outside on each transfer, as the SparTen cluster holds them; ``i``/``o`` are the
    join's. ``bug="prefix"`` plants a shared prefix one group off (group ``k`` gets ``k - 1``'s)."""

    def __init__(self, chunk, mpc, bug=None):
        self.join = InnerJoin(chunk, mpc, shared_mask_a=True)
        self.i, self.o = self.join.i, self.join.o
        self._chunk, self._bug = chunk, bug

    def elaborate(self, platform):
        m = Module()
        m.submodules.join = join = self.join
        m.submodules.prefix = prefix = GroupPrefix(self._chunk)
        mask = Signal(self._chunk)
        held = Signal(group_prefix_layout(self._chunk))
        g = join.group
        m.d.comb += [prefix.counts[k].eq(popcount(join.i.payload.mask_a[k * g:(k + 1) * g]))
                     for k in range(self._chunk // g)]
        m.d.comb += [join.mask_a_held.eq(mask), join.prefix_a_held.eq(held)]
        want = prefix.prefix
        if self._bug == "prefix":
            want = [want[0]] + [want[k - 1] for k in range(1, len(want))]
        with m.If(join.i.valid & join.i.ready):
            m.d.sync += [mask.eq(join.i.payload.mask_a)]
            m.d.sync += [held[k].eq(want[k]) for k in range(len(held))]
        return m


def run_amaranth(chunk, mpc, cases, seed, idle, backpressure, make=None):
    """Drive ``cases`` into an InnerJoin (or ``make()``'s); return (beats, cycle of each input
    transfer, of each beat)."""
    dut = make() if make is not None else InnerJoin(chunk, mpc)
    rand = random.Random(seed)
    n_expected = sum(join_cost(bin(f & a).count("1"), mpc) for f, a in cases)
    cap = 4 * (n_expected + len(cases)) + 200
    if idle or backpressure:
        cap = int(cap / (1 - max(idle, backpressure)) ** 2) + 200

    def decode(p):
        lanes = tuple((int(ln.pos), int(ln.off_f), int(ln.off_a)) for ln in p.lanes if ln.valid)
        assert int(p.n) == len(lanes)
        return lanes, bool(p.last), int(p.chunk_last)

    drv = Driver(dut.i, [{"mask_f": f, "mask_a": a, "last": k % 2} for k, (f, a) in enumerate(cases)],
                 idle=idle, rand=rand)
    mon = Monitor(dut.o, n_expected, backpressure=backpressure, rand=random.Random(seed + 1),
                  decode=decode)
    # 4 cycles past the last expected beat: a surplus beat would show
    simulate(dut, drivers=[drv], monitors=[mon], cap=cap, tail=4, seed=seed)
    return mon.beats, drv.cycles, mon.cycles


@pytest.mark.parametrize("chunk,mpc", [(c, 1) for c in CHUNKS] + [(8, 2), (8, 4), (32, 2), (64, 4),
                                                                   (128, 2), (16, 4)])
def test_innerjoin_stress(chunk, mpc, seed):
    rand = random.Random(f"{seed}:{chunk}:{mpc}")
    cases = mask_cases(chunk, rand, n_random=6 if chunk >= 128 else 24)
    got, _, _ = run_amaranth(chunk, mpc, cases, seed, idle=0.3, backpressure=0.3)
    assert got == expected_beats(cases, chunk, mpc), f"seed={seed}"


@pytest.mark.parametrize("chunk,mpc", [(8, 1), (8, 2), (8, 4), (64, 1), (128, 4)])
def test_innerjoin_cycles(chunk, mpc, seed):
    """Without stalls the stream is back to back: cycle count equals the golden model exactly."""
    rand = random.Random(f"{seed}:{chunk}:{mpc}:cyc")
    cases = mask_cases(chunk, rand, n_random=16 if chunk < 128 else 4)
    got, in_cycles, out_cycles = run_amaranth(chunk, mpc, cases, seed, idle=0.0, backpressure=0.0)
    assert got == expected_beats(cases, chunk, mpc)
    assert out_cycles[-1] - in_cycles[0] + 1 == stream_cycles(cases, mpc,
                                                              latency=InnerJoin.latency)
    assert out_cycles[0] - in_cycles[0] == InnerJoin.latency
    # One beat every cycle: no bubble between chunks.
    assert out_cycles == list(range(out_cycles[0], out_cycles[0] + len(out_cycles)))


@pytest.mark.parametrize("chunk,mpc", [(8, 2), (16, 1), (64, 2), (128, 1), (256, 4)])
def test_innerjoin_shared_mask(chunk, mpc, seed):
    """With the activation mask and its group prefixes held outside (``shared_mask_a``), the same
    beats as the golden join, and with no stalls the same cycles."""
    rand = random.Random(f"{seed}:{chunk}:{mpc}:held")
    cases = mask_cases(chunk, rand, n_random=6 if chunk >= 128 else 16)
    make = lambda: HeldJoin(chunk, mpc)                                         # noqa: E731
    got, _, _ = run_amaranth(chunk, mpc, cases, seed, idle=0.3, backpressure=0.3, make=make)
    assert got == expected_beats(cases, chunk, mpc), f"seed={seed}"
    got, in_cycles, out_cycles = run_amaranth(chunk, mpc, cases, seed, 0.0, 0.0, make=make)
    assert got == expected_beats(cases, chunk, mpc)
    assert out_cycles[-1] - in_cycles[0] + 1 == stream_cycles(cases, mpc,
                                                              latency=InnerJoin.latency)


def test_innerjoin_shared_mask_planted_bug(seed):
    """The shared-mask test catches a held prefix one group off."""
    rand = random.Random(f"{seed}:bug")
    cases = mask_cases(64, rand, n_random=8)
    got, _, _ = run_amaranth(64, 1, cases, seed, 0.0, 0.0,
                             make=lambda: HeldJoin(64, 1, bug="prefix"))
    assert got != expected_beats(cases, 64, 1)


def test_group_prefix_and_onehot_select(seed):
    """GroupPrefix against popcounts of the mask's prefixes; onehot_select against indexing."""
    rand = random.Random(f"{seed}:prefix")
    gp = GroupPrefix(128)
    vals = [Signal(8, name=f"v{k}") for k in range(128)]
    idx, en = Signal(7), Signal()
    top = Module()
    top.submodules.gp = gp
    sel = Signal(8)
    top.d.comb += sel.eq(onehot_select(vals, idx, en))

    async def bench(ctx):
        for _ in range(40):
            mask = rand.getrandbits(128) & rand.choice([(1 << 128) - 1, rand.getrandbits(128)])
            for g in range(16):
                ctx.set(gp.counts[g], bin((mask >> (8 * g)) & 0xFF).count("1"))
            words = [rand.getrandbits(8) for _ in range(128)]
            for v, w in zip(vals, words):
                ctx.set(v, w)
            k, e = rand.randrange(128), rand.random() < 0.8
            ctx.set(idx, k)
            ctx.set(en, e)
            for g in range(16):
                assert ctx.get(gp.prefix[g]) == bin(mask & ((1 << (8 * g)) - 1)).count("1")
            assert ctx.get(sel) == (words[k] if e else 0)

    sim = Simulator(top)
    sim.add_testbench(bench)
    sim.run()


def test_bits_blocks(seed):
    rand = random.Random(seed)
    pc, pe, pm = Popcount(37), PriorityEncoder(37), Popcount(37, masked=True)
    values = [0, 1, (1 << 37) - 1, 1 << 36] + [rand.getrandbits(37) for _ in range(50)]
    ones = (1 << 37) - 1

    async def bench(ctx):
        for v in values:
            mask = rand.getrandbits(37)
            ctx.set(pc.i, v)
            ctx.set(pe.i, v)
            ctx.set(pm.i, v)
            ctx.set(pm.mask, mask)
            assert ctx.get(pc.o) == bin(v).count("1")
            assert ctx.get(pm.o) == bin(v & mask).count("1")
            assert ctx.get(pe.valid) == (v != 0)
            if v:
                low = (v & -v).bit_length() - 1
                assert ctx.get(pe.index) == low
                assert ctx.get(pe.rest) == v & ~(1 << low)
                assert ctx.get(pe.below) == (1 << low) - 1
            else:
                assert ctx.get(pe.below) == ones

    from amaranth import Module
    top = Module()
    top.submodules.pc = pc
    top.submodules.pe = pe
    top.submodules.pm = pm
    sim = Simulator(top)
    sim.add_testbench(bench)
    sim.run()


def test_config_rejects_bad_parameters():
    from hw.common.config import ConfigError
    with pytest.raises(ConfigError, match="chunk"):
        InnerJoinConfig(chunk=12)
    with pytest.raises(ConfigError, match="matches_per_cycle"):
        InnerJoinConfig(matches_per_cycle=3)


# ---------------------------------------------------------------------------------------------
# RTL tier: cocotb on Verilator, two builds (chunk 8 with 1 match per cycle, chunk 128 with 2).

@pytest.mark.rtl
@pytest.mark.parametrize("chunk,mpc", [(8, 1), (128, 2)])
def test_innerjoin_rtl(chunk, mpc, seed, tmp_path):
    from sim.verilator import build_model

    cfg = InnerJoinConfig(chunk=chunk, matches_per_cycle=mpc)
    model = build_model(InnerJoin(chunk, mpc), f"innerjoin_c{chunk}_m{mpc}", cfg,
                        extra={"latency": InnerJoin.latency})
    rand = random.Random(f"{seed}:rtl:{chunk}")
    cases = mask_cases(chunk, rand, n_random=200 if chunk == 8 else 60)
    stim = tmp_path / "stim.json"
    beats = expected_beats(cases, chunk, mpc)
    stim.write_text(json.dumps({
        "cases": [[hex(f), hex(a)] for f, a in cases],
        "beats": [[list(map(list, lanes)), last, cl] for lanes, last, cl in beats],
        "stream_cycles": stream_cycles(cases, mpc, latency=InnerJoin.latency),
    }))
    model.run("cocotb_innerjoin", seed=seed, env={"STIM": stim})


def test_layout_packs_like_amaranth():
    # The cocotb bench packs payloads with the same layout object; check the field order once here.
    lay = input_layout(8)
    v = lay.const({"mask_f": 0x0F, "mask_a": 0xF0, "last": 1}).as_value().value
    assert v == 0x0F | (0xF0 << 8) | (1 << 16)
    assert np.int64(v) == v
