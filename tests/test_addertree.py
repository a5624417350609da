import random

import pytest
from amaranth.sim import Simulator

from hw.common.addertree import AdderTree, tree_depth


@pytest.mark.parametrize("n,width,signed_,every,at", [
    (1, 8, True, 0, ()), (5, 8, True, 0, ()), (8, 16, True, 1, ()), (7, 4, False, 2, ()),
    (32, 16, True, 2, ()), (32, 16, True, 0, (3,)), (1, 8, True, 0, (0,)), (6, 8, True, 2, (0, 2))])
def test_adder_tree_sums_exactly(n, width, signed_, every, at, seed):
    dut = AdderTree(n, width, signed_, every, register_at=at)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed_ else (0, (1 << width) - 1)
    rnd = random.Random(seed)
    vecs = [[rnd.choice([lo, hi, rnd.randint(lo, hi)]) for _ in range(n)] for _ in range(40)]
    got = []

    async def bench(ctx):
        for i in range(len(vecs) + dut.latency):
            if i < len(vecs):
                for j, v in enumerate(vecs[i]):
                    ctx.set(dut.i[j], v)
            if not dut.latency:
                await ctx.delay(1e-9)
            if i >= dut.latency:
                got.append(ctx.get(dut.o))
            if dut.latency:
                await ctx.tick()
            else:
                await ctx.delay(1e-8)

    sim = Simulator(dut)
    if dut.latency:
        sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [sum(v) for v in vecs], f"seed {seed}"
    regs = set(range(every, tree_depth(n) + 1, every)) if every else set()
    assert dut.latency == len(regs | set(at))


def test_bad_parameters():
    for kw in ({"n": 0, "width": 8}, {"n": 3, "width": 0}, {"n": 3, "width": 8, "register_every": -1}):
        with pytest.raises(ValueError, match=next(iter(k for k, v in kw.items()
                                                       if v in (0, -1)))):
            AdderTree(**kw)
    with pytest.raises(ValueError, match=r"register_at levels must be ints in 0\.\.2"):
        AdderTree(4, 8, register_at=(3,))


def test_enable_holds_the_pipeline():
    dut = AdderTree(4, 8, True, register_at=(1,))
    got = []

    async def bench(ctx):
        ctx.set(dut.i, [1, 2, 3, 4])
        await ctx.tick()
        ctx.set(dut.en, 0)
        ctx.set(dut.i, [10, 20, 30, 40])
        await ctx.tick().repeat(3)
        got.append(ctx.get(dut.o))           # held: the first sum
        ctx.set(dut.en, 1)
        await ctx.tick()
        got.append(ctx.get(dut.o))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [10, 100]
