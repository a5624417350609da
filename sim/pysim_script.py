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
    rng = random.Random(seed)
    streams, peeks = {}, []
    active = set()
    cycles = [0]
    drained = [c[1] for c in script if c[0] == "drain"]
    sim = Simulator(component)
    sim.add_clock(1e-8)

    def drainer(name):
        s = _port(component, name)

        async def run(ctx):
            while True:
                if name in active:
                    ctx.set(s.ready, 0 if rng.random() < backpressure else 1)
                _, _, valid, ready, payload = await ctx.tick().sample(s.valid, s.ready,
                                                                _bits(s.payload))
                if valid and ready and name in active:
                    streams[name].append(int(payload))
        return run

    for name in dict.fromkeys(drained):
        streams[name] = []
        sim.add_testbench(drainer(name), background=True)

    async def main(ctx):
        async def tick():
            await ctx.tick()
            cycles[0] += 1

        for cmd in script:
            op = cmd[0]
            if op == "poke":
                ctx.set(_bits(_port(component, cmd[1])), cmd[2])
            elif op == "feed":
                s = _port(component, cmd[1])
                for beat in cmd[2]:
                    while idle and rng.random() < idle:
                        ctx.set(s.valid, 0)
                        await tick()
                    ctx.set(s.valid, 1)
                    ctx.set(_bits(s.payload), beat)
                    while True:
                        _, _, ready = await ctx.tick().sample(s.ready)
                        cycles[0] += 1
                        if ready:
                            break
                ctx.set(s.valid, 0)
            elif op == "drain":
                active.add(cmd[1])
            elif op == "pulse":
                p = _port(component, cmd[1])
                ctx.set(p, 1)
                await tick()
                ctx.set(p, 0)
            elif op == "until":
                p = _bits(_port(component, cmd[1]))
                n = 0
                while not ctx.get(p):
                    if n >= cmd[2]:
                        raise ScriptError(f"until {cmd[1]!r}: still 0 after {cmd[2]} cycles")
                    await tick()
                    n += 1
            elif op == "step":
                for _ in range(cmd[1]):
                    await tick()
            elif op == "peek":
                peeks.append(int(ctx.get(_bits(_port(component, cmd[1])))))
            else:
                raise ScriptError(f"unknown script command {op!r}")

    sim.add_testbench(main)
    t0 = time.monotonic()
    sim.run()
    return ScriptResult(streams=streams, peeks=peeks, sim_cycles=cycles[0],
                        seconds=time.monotonic() - t0)
