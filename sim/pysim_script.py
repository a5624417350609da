"""The command scripts of :mod:`sim.native`, run in Amaranth's simulator, with flow-control stress.

Same commands and results as ``sim.native`` (``poke``, ``feed``, ``drain``, ``pulse``, ``until``,
``step``, ``peek``; ``streams``, ``peeks``, ``sim_cycles``), so a test can run one script on both
and compare, plus what a native run cannot do: seeded random **idle** cycles on every fed stream
(``valid`` low between beats) and random **backpressure** on every drained stream (``ready`` low).
Slow (Python per cycle): for small configs and protocol tests.
"""

import dataclasses
import random
import time

from amaranth.sim import Simulator

from .flow import check_stall
from .streams import beat_bits, stream_get, stream_put

__all__ = ["ScriptResult", "ScriptError", "run_script"]


class ScriptError(RuntimeError):
    """A script command failed (unknown port, ``until`` cap reached)."""


@dataclasses.dataclass
class ScriptResult:
    streams: dict
    peeks: list
    sim_cycles: int
    seconds: float


def _port(component, name):
    try:
        return getattr(component, name)
    except AttributeError:
        raise ScriptError(f"{type(component).__name__} has no port {name!r}") from None


def _bits(value):
    """Integer bits of a port value (a plain signal or a ``lib.data`` view)."""
    return value.as_value() if hasattr(value, "as_value") else value


def run_script(component, script, seed=0, idle=0.0, backpressure=0.0):
    """Run ``script`` on ``component`` in the Amaranth simulator; returns a :class:`ScriptResult`.

    ``idle``/``backpressure``: probability that a fed stream's ``valid`` (a drained stream's
    ``ready``) is held low in a cycle, seeded by ``seed``.
    """
    check_stall("idle", idle)
    check_stall("backpressure", backpressure)
    run = _Run(component, random.Random(seed), idle, backpressure)
    sim = Simulator(component)
    sim.add_clock(1e-8)
    for name in dict.fromkeys(c[1] for c in script if c[0] == "drain"):
        run.streams[name] = []
        sim.add_testbench(run.drainer(name), background=True)

    async def main(ctx):
        for cmd in script:
            op = _COMMANDS.get(cmd[0])
            if op is None:
                raise ScriptError(f"unknown script command {cmd[0]!r}")
            await op(run, ctx, *cmd[1:])

    sim.add_testbench(main)
    t0 = time.monotonic()
    sim.run()
    return ScriptResult(streams=run.streams, peeks=run.peeks, sim_cycles=run.cycles,
                        seconds=time.monotonic() - t0)


class _Run:
    """The state of one :func:`run_script`: the drained streams' beats, the peeks, the clock
    cycles of the main testbench; one method per script command."""

    def __init__(self, component, rng, idle, backpressure):
        self.component, self.rng = component, rng
        self.idle, self.backpressure = idle, backpressure
        self.streams, self.peeks, self.active, self.cycles = {}, [], set(), 0

    def port(self, name):
        return _port(self.component, name)

    def drainer(self, name):
        """Background testbench taking beats of stream ``name`` once ``drain`` made it active."""
        s = self.port(name)

        async def run(ctx):
            # Plain awaits (see sim.streams.Monitor.run): ``ready`` stays low until ``drain``.
            while name not in self.active:
                await ctx.tick()
            while True:
                payload = await stream_get(ctx, s, backpressure=self.backpressure, rand=self.rng)
                self.streams[name].append(beat_bits(payload))
        return run

    async def tick(self, ctx):
        await ctx.tick()
        self.cycles += 1

    async def poke(self, ctx, name, value):
        ctx.set(_bits(self.port(name)), value)

    async def feed(self, ctx, name, beats):
        s = self.port(name)
        for beat in beats:
            self.cycles += await stream_put(ctx, s, beat, idle=self.idle, rand=self.rng)

    async def drain(self, ctx, name):
        self.active.add(name)

    async def pulse(self, ctx, name):
        p = self.port(name)
        ctx.set(p, 1)
        await self.tick(ctx)
        ctx.set(p, 0)

    async def until(self, ctx, name, cap):
        p = _bits(self.port(name))
        n = 0
        while not ctx.get(p):
            if n >= cap:
                raise ScriptError(f"until {name!r}: still 0 after {cap} cycles")
            await self.tick(ctx)
            n += 1

    async def step(self, ctx, n):
        for _ in range(n):
            await self.tick(ctx)

    async def peek(self, ctx, name):
        self.peeks.append(int(ctx.get(_bits(self.port(name)))))


#: Script command -> the :class:`_Run` method that carries it out.
_COMMANDS = {op: getattr(_Run, op) for op in ("poke", "feed", "drain", "pulse", "until", "step",
                                              "peek")}
