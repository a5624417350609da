"""cocotb helpers shared by every testbench: clock/reset, sidecar, seeded stream driver and monitor.

Streams follow ``amaranth.lib.stream`` rules: a transfer happens on a rising edge where ``valid`` and
``ready`` are both high; the driver holds ``valid`` and the payload until the transfer, and never
waits for ``ready`` before raising ``valid``. Flow-control stress is always on: the driver inserts
seeded random idle cycles between beats and the monitor drops ``ready`` at random (backpressure).

Port names follow Amaranth's flattening: a stream port ``i`` becomes ``i__valid``, ``i__ready`` and
``i__payload`` (the whole ``lib.data`` layout as one vector: pack with ``layout.const(...)``).
"""

import collections
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["sidecar", "seed", "rng", "start", "stream_handles", "StreamDriver", "StreamMonitor",
           "CycleCounter", "pack", "unpack"]


def sidecar():
    """The JSON sidecar of the design under test, as a dict."""
    with open(os.environ["SPARSE_HW_SIDECAR"]) as f:
        return json.load(f)


def seed():
    return int(os.environ.get("SPARSE_HW_SEED", "0"))


def rng(salt=""):
    """A ``random.Random`` seeded from the run seed and ``salt`` (e.g. the test name)."""
    return random.Random(f"{seed()}:{salt}")


def stream_handles(dut, prefix):
    """``(valid, ready, payload)`` of stream port ``prefix`` in Amaranth's flattened names."""
    return (getattr(dut, f"{prefix}__valid"), getattr(dut, f"{prefix}__ready"),
            getattr(dut, f"{prefix}__payload"))


def pack(layout, fields):
    """Pack a dict of field values into the integer of ``layout`` (``lib.data`` layout)."""
    return layout.const(fields).as_value().value


def unpack(layout, value):
    """Unpack an integer into a ``lib.data.Const`` view of ``layout`` (fields as attributes)."""
    return layout.from_bits(int(value))


async def start(dut, reset_cycles=2):
    """Start a 10 ns clock on ``dut.clk`` and hold ``dut.rst`` for ``reset_cycles`` cycles."""
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for _ in range(reset_cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


class CycleCounter:
    """Counts rising edges since it started; ``now`` is the index of the current cycle."""

    def __init__(self, clk):
        self.clk = clk
        self.now = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.clk)
            self.now += 1


class StreamDriver:
    """Drives a stream port ``<prefix>__valid/__payload`` from a queue of integer payloads.

    Parameters
    ----------
    dut, prefix : the DUT handle and the port name (``"i"``).
    idle : float
        Probability of an idle cycle before each beat (seeded by ``rand``).
    """

    def __init__(self, dut, prefix, rand, idle=0.0, clk=None):
        self.clk = clk if clk is not None else dut.clk
        self.valid, self.ready, self.payload = stream_handles(dut, prefix)
        self.rand = rand
        self.idle = idle
        self.queue = collections.deque()
        self.sent = 0
        self.idle_before = set()    # indices of beats that an idle cycle preceded (coverage)
        self.valid.value = 0
        cocotb.start_soon(self._run())

    def send(self, payload):
        self.queue.append(int(payload))

    def send_all(self, payloads):
        self.queue.extend(int(p) for p in payloads)

    def flush(self):
        """Drop every queued beat and the one on the port (the DUT is being reset)."""
        self.queue.clear()
        self._beat = None
        self.valid.value = 0

    @property
    def idle_now(self):
        return not self.queue and self._beat is None

    _beat = None

    async def _run(self):
        fired = False
        while True:
            await RisingEdge(self.clk)
            if fired:
                self._beat = None
                self.sent += 1
            if self._beat is None and self.queue:
                if self.rand.random() >= self.idle:
                    self._beat = self.queue.popleft()
                else:
                    self.idle_before.add(self.sent)
            if self._beat is None:
                self.valid.value = 0
            else:
                self.valid.value = 1
                self.payload.value = self._beat
            await ReadOnly()
            fired = self._beat is not None and int(self.ready.value) == 1


class StreamMonitor:
    """Accepts beats from a stream port ``<prefix>__valid/__payload/__ready`` with random backpressure.

    Received payloads (integers) are appended to ``beats`` with the cycle index of their transfer in
    ``cycles``.

    Parameters
    ----------
    backpressure : float
        Probability that ``ready`` is low in a cycle (seeded by ``rand``).
    """

    def __init__(self, dut, prefix, rand, backpressure=0.0, clk=None, counter=None):
        self.clk = clk if clk is not None else dut.clk
        self.valid, self.ready, self.payload = stream_handles(dut, prefix)
        self.rand = rand
        self.backpressure = backpressure
        self.counter = counter
        self.beats = []
        self.cycles = []
        self.stalled = set()        # indices of beats that waited with ready low (coverage)
        self.ready.value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.clk)
            self.ready.value = int(self.rand.random() >= self.backpressure)
            await ReadOnly()
            if int(self.valid.value) and int(self.ready.value):
                self.beats.append(int(self.payload.value))
                self.cycles.append(self.counter.now if self.counter else None)
            elif int(self.valid.value):
                self.stalled.add(len(self.beats))

    async def wait_for(self, n, timeout_cycles):
        """Wait until ``n`` beats arrived; fail (never hang) after ``timeout_cycles`` cycles."""
        for _ in range(timeout_cycles):
            if len(self.beats) >= n:
                return
            await RisingEdge(self.clk)
        if len(self.beats) < n:
            raise AssertionError(f"timeout: {len(self.beats)} of {n} beats after {timeout_cycles} cycles")
