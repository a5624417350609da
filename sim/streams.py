"""Seeded stream drivers and monitors for Amaranth-simulator testbenches.

Every fast-tier test of a stream port uses these, and so do the Amaranth-simulator runners of
sim/ (:mod:`sim.pysim_script`, :mod:`sim.run_barista`), so idle cycles, backpressure and the stream
rules are handled one way (the shape of Glasgow's ``stream_put``/``stream_get`` and of cocotbext-axi's
pause generators):

- :func:`stream_put` / :func:`stream_get`: one transfer, inside any async testbench;
- :class:`Driver`: puts a list of beats with idle cycles before each, recording the clock edge of
  each transfer and whether ``ready`` ever held a beat back; the idle cycles are random (seeded)
  or prescribed: a per-edge ``offer`` pattern, or per beat the ``at`` edge it may start from;
- :class:`Monitor`: takes beats under backpressure, random (seeded) or a prescribed per-edge
  ``ready`` pattern, recording each with its edge, and asserts the stream rules on the way: a beat
  offered and not taken stays offered, unchanged;
- :func:`simulate`: runs drivers and monitors (in the background) until every monitor has its
  count of beats, failing with the counts (never hanging) after ``cap`` cycles, or for exactly
  ``cycles`` edges (a prescribed pattern's length); an optional ``setup`` runs first.

The prescribed patterns are those of trace models (e.g. ``golden.barista.fetch_trace``), which
replay given offer/ready schedules cycle by cycle. Edges are counted from the first ``ctx.tick()``
of each testbench (edge 0), after ``setup`` if there is one; all testbenches start together, so
their edge indices are comparable.
"""

import random

from amaranth.hdl import Signal, Value
from amaranth.sim import Simulator

__all__ = ["stream_put", "stream_get", "beat_bits", "Driver", "Monitor", "simulate"]


def beat_bits(payload):
    """The integer bits of a sampled payload (a ``lib.data`` constant or a plain value)."""
    return payload.as_bits() if hasattr(payload, "as_bits") else int(payload)


def _set_payload(ctx, port, beat):
    if isinstance(beat, int):
        ctx.set(Value.cast(port.payload), beat)
    else:
        ctx.set(port.payload, beat)


async def stream_put(ctx, port, payload, *, idle=0.0, rand=None):
    """Offer ``payload`` on stream ``port`` until it is taken, after random idle cycles (each with
    probability ``idle``, drawn from ``rand``); returns the edges it took (>= 1)."""
    edges = 0
    while idle and rand.random() < idle:
        ctx.set(port.valid, 0)
        await ctx.tick()
        edges += 1
    ctx.set(port.valid, 1)
    _set_payload(ctx, port, payload)
    while True:
        _, _, ready = await ctx.tick().sample(port.ready)
        edges += 1
        if ready:
            break
    ctx.set(port.valid, 0)
    return edges


async def stream_get(ctx, port, *, backpressure=0.0, rand=None, cap=None):
    """Take one beat from stream ``port``, ``ready`` low at each edge with probability
    ``backpressure``; returns the payload. AssertionError after ``cap`` edges without one."""
    edges = 0
    while True:
        ready = int(not backpressure or rand.random() >= backpressure)
        ctx.set(port.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(port.valid, port.payload)
        edges += 1
        if valid and ready:
            break
        if cap is not None and edges >= cap:
            ctx.set(port.ready, 0)
            raise AssertionError(f"no beat on the stream after {cap} cycles")
    ctx.set(port.ready, 0)
    return payload


class Driver:
    """Puts ``beats`` on ``port`` in order; :meth:`run` is the testbench.

    Parameters
    ----------
    port : stream interface (``valid``, ``ready``, ``payload``)
    beats : list
        Payloads: ints (the payload's bits) or what ``ctx.set(port.payload, ...)`` takes.
    idle : float
        Probability of an idle cycle (``valid`` low) before each beat, drawn again after each.
    rand : random.Random
    offer : sequence of bool or None
        Prescribed instead of ``idle``: a beat not yet offered is offered at edge ``e`` iff
        ``offer[e]`` (none after the pattern ends); once offered it is held until taken.
    at : sequence of int or None
        Prescribed instead of ``idle``: beat ``k`` is offered from edge ``at[k]`` on (or as soon as
        beat ``k - 1`` is taken, if later), held until taken.
    params : list of dict or None
        Per beat, other input ports to set with it (``{attribute of dut: value}``), on ``dut``.

    Members
    -------
    cycles : list of int
        Edge index of each transfer.
    stalled : bool
        ``ready`` was low at some edge while a beat was offered.
    """

    def __init__(self, port, beats, *, idle=0.0, rand=None, offer=None, at=None, params=None,
                 dut=None):
        self.port, self.beats, self.idle = port, list(beats), idle
        if offer is not None and at is not None:
            raise ValueError("Driver: give offer or at, not both")
        if at is not None and len(at) != len(self.beats):
            raise ValueError(f"Driver: at has {len(at)} edges for {len(self.beats)} beats")
        self.offer, self.at = offer, at
        self.rand = rand or random.Random(0)
        self.params, self.dut = params, dut
        self.cycles, self.stalled = [], False

    def _wait(self, k, edge):
        """Whether beat ``k`` (not yet offered) waits an idle cycle at ``edge``."""
        if self.offer is not None:
            return not (edge < len(self.offer) and self.offer[edge])
        if self.at is not None:
            return edge < self.at[k]
        return self.rand.random() < self.idle

    async def run(self, ctx):
        edge = 0
        port = self.port
        for k, beat in enumerate(self.beats):
            while self._wait(k, edge):
                ctx.set(port.valid, 0)
                await ctx.tick()
                edge += 1
            ctx.set(port.valid, 1)
            _set_payload(ctx, port, beat)
            for name, v in (self.params[k] if self.params else {}).items():
                ctx.set(getattr(self.dut, name), v)
            while True:
                _, _, ready = await ctx.tick().sample(port.ready)
                edge += 1
                if ready:
                    break
                self.stalled = True
            self.cycles.append(edge - 1)
        ctx.set(port.valid, 0)


class Monitor:
    """Takes beats from ``port`` under random backpressure; :meth:`run` is the testbench.

    Parameters
    ----------
    port : stream interface
    n : int or None
        Beats expected (:func:`simulate` waits for them); None: take whatever comes.
    backpressure : float
        Probability that ``ready`` is low at an edge.
    rand : random.Random
    ready : sequence of bool or None
        Prescribed instead of ``backpressure``: ``ready`` at edge ``e`` is ``ready[e]`` (low after
        the pattern ends).
    decode : callable or None
        ``decode(payload)`` of each taken beat (default: the sampled payload itself).
    watch : list
        More signals sampled at every edge; ``on_edge(edge, values)`` sees them.

    Members
    -------
    beats, cycles : lists
        Taken beats (decoded) and the edge index of each.
    """

    def __init__(self, port, n=None, *, backpressure=0.0, rand=None, ready=None, decode=None,
                 watch=(), on_edge=None):
        self.port, self.n, self.backpressure, self.ready = port, n, backpressure, ready
        self.rand = rand or random.Random(1)
        self.decode = decode
        self.watch, self.on_edge = list(watch), on_edge
        self.beats, self.cycles = [], []

    @property
    def done(self):
        return self.n is not None and len(self.beats) >= self.n

    def _ready(self, edge):
        if self.ready is not None:
            return int(edge < len(self.ready) and bool(self.ready[edge]))
        return int(self.rand.random() >= self.backpressure)

    async def run(self, ctx):
        # Plain awaits, no `async for` over ctx.tick(): a background testbench is dropped mid-wait
        # when the simulation ends, and an async generator dropped that way raises an "ignored
        # exception" at garbage collection, which -W error turns into a random failure.
        port = self.port
        edge, held = 0, None
        ctx.set(port.ready, self._ready(0))
        while True:
            _, _, valid, ready, payload, *more = await ctx.tick().sample(
                port.valid, port.ready, port.payload, *self.watch)
            if held is not None:
                assert valid and beat_bits(payload) == held, \
                    f"a beat offered and not taken was dropped or changed (edge {edge})"
            held = beat_bits(payload) if valid and not ready else None
            if valid and ready:
                self.beats.append(self.decode(payload) if self.decode else payload)
                self.cycles.append(edge)
            if self.on_edge is not None:
                self.on_edge(edge, more)
            edge += 1
            ctx.set(port.ready, self._ready(edge))


def simulate(dut, *, drivers=(), monitors=(), cap=None, cycles=None, tail=0, setup=None,
             at_end=None, seed=None):
    """Run ``dut`` with ``drivers`` and ``monitors`` until every monitor with a count has it.

    Raises AssertionError naming each monitor's count (and ``seed``) when that takes more than
    ``cap`` cycles. With ``cycles`` instead of ``cap`` it runs exactly that many edges (a
    prescribed pattern's length) and waits for no count. ``setup(ctx)`` (async), if given, runs
    first (e.g. to fill a memory through a write port); drivers and monitors start, at their edge
    0, one edge after it returns. ``tail`` more cycles run after (monitors keep checking, e.g. for
    surplus beats); then ``at_end(ctx)`` (async) may read final state.
    """
    if (cap is None) == (cycles is None):
        raise ValueError("simulate: give cap or cycles, not both")
    go = Signal()   # testbench-only: raised when setup is done

    async def timer(ctx):
        if setup is not None:
            await setup(ctx)
            ctx.set(go, 1)
            await ctx.tick()
        if cycles is not None:
            await ctx.tick().repeat(cycles)
        else:
            for _ in range(cap):
                if all(m.done for m in monitors if m.n is not None):
                    break
                await ctx.tick()
            else:
                got = ", ".join(f"{len(m.beats)}/{m.n}" for m in monitors if m.n is not None)
                raise AssertionError(f"timeout after {cap} cycles: beats {got} (seed={seed})")
        if tail:
            await ctx.tick().repeat(tail)
        if at_end is not None:
            await at_end(ctx)

    def after_setup(run):
        async def later(ctx):
            await ctx.tick().until(go)
            await run(ctx)
        return later if setup is not None else run

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for tb in (*drivers, *monitors):
        sim.add_testbench(after_setup(tb.run), background=True)
    sim.add_testbench(timer)
    sim.run()
