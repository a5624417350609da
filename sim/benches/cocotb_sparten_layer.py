"""cocotb test of hw.sparten.layer.SparTenLayer: runs a batch of layer cases in one simulation.

The cases come from sim/run_sparten.py (``$SPARTEN_CASES``, JSON of
:class:`sim.sparten_case.LayerCase`): per case the descriptor, the load beats (pre-packed), the
expected output beats, the golden cycle count and per-unit counters.
For each case the bench resets the DUT, loads the memories through ``load`` with seeded idle
cycles, pulses ``start``, sleeps until the compute phase ends (no Python work per compute cycle:
it waits on the ``busy``/``done`` edges only, the clock runs in the simulator), then collects the
output stream with seeded backpressure. A case flagged ``chain`` loads its activation memory from
the previous case's output chunks as they came out of the RTL (a layer feeding the next one without
leaving the SparseMap format).

Results (outputs, cycles, counters) go to ``$SPARSE_HW_RUN_DIR/sparten_results.json``; with
``check`` set the bench also asserts them against the expectations (bit- and cycle-exact).
"""

import json
import os

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from hw.sparten.config import SparTenConfig
from hw.sparten.memmap import chain_loads, unit_counters
from sim.cocotb_util import rng, sidecar, start, stream_handles
from sim.sparten_case import LayerCase


async def _load(dut, beats, rand, idle, events):
    """Drive ``load`` beats with random idle cycles (stream rules: valid and payload hold until the
    transfer; valid never waits for ready). Called right after a rising edge."""
    for k, payload in enumerate(beats):
        while rand.random() < idle:
            if k == 0:
                events["idle_first_beat"] = True
            dut.load__valid.value = 0
            await RisingEdge(dut.clk)
        dut.load__valid.value = 1
        dut.load__payload.value = payload
        while True:
            await ReadOnly()
            fired = int(dut.load__ready.value)
            await RisingEdge(dut.clk)
            if fired:
                break
    dut.load__valid.value = 0


async def _collect(dut, prefix, n, rand, backpressure, cap, events):
    """Take ``n`` beats from stream ``prefix`` with random backpressure. Called after an edge."""
    valid, ready, payload = stream_handles(dut, prefix)
    got = []
    for _ in range(cap):
        r = int(rand.random() >= backpressure)
        ready.value = r
        await ReadOnly()
        if r and int(valid.value):
            got.append(int(payload.value))
        elif int(valid.value) and len(got) == n - 1:
            events["backpressure_last_beat"] = True
        await RisingEdge(dut.clk)
        if len(got) == n:
            break
    ready.value = 0
    if len(got) < n:
        raise AssertionError(f"timeout: {len(got)} of {n} output beats after {cap} cycles")
    return got


async def _wait_done(dut, cap_cycles):
    """Sleep until ``done`` (checked every 1024 cycles: coarse polling keeps Python out of the
    compute loop; the cycle count comes from the hardware counter, not from this wait)."""
    waited = 0
    await FallingEdge(dut.clk)
    while not int(dut.done.value):
        await Timer(10 * 1024, unit="ns")
        waited += 1024
        if waited > cap_cycles:
            raise AssertionError(f"layer did not finish within {cap_cycles} cycles")


@cocotb.test()
async def sparten_layer_cases(dut):
    cfg = SparTenConfig.from_dict(sidecar()["config"])
    with open(os.environ["SPARTEN_CASES"]) as f:
        spec = json.load(f)
    check = spec.get("check", True)
    cases = [LayerCase.from_dict(c) for c in spec["cases"]]
    results = []
    prev_chunks = None
    await start(dut)
    dut.start.value = 0
    dut.o_acc__ready.value = 0
    dut.o_chunk__ready.value = 0
    dut.load__valid.value = 0
    dut.ctr_sel.value = 0
    for idx, case in enumerate(cases):
        rand = rng(f"case{idx}")
        # Reset between cases: state of a previous (possibly failed) case must not leak.
        dut.rst.value = 1
        await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        dut.rst.value = 0
        dut.desc.value = case.desc
        beats = list(case.loads)
        if case.chain:
            if prev_chunks is None:
                raise AssertionError(f"case {idx} chains from a case without chunk output")
            beats = chain_loads(cfg, prev_chunks) + beats
        events = {"idle_first_beat": False, "backpressure_last_beat": False}   # sim/coverage.py
        await _load(dut, beats, rand, case.idle, events)
        await RisingEdge(dut.clk)
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        if case.abort_after is not None:
            results.append(await _abort(dut, case.abort_after, events))
            prev_chunks = None
            continue
        out, cycles, counters = await _compute_and_read(dut, cfg, idx, case, rand, events)
        results.append({"out": [str(x) for x in out], "cycles": cycles, "counters": counters,
                        "events": events})
        prev_chunks = out if case.mode == "chunk" else None
        if check:
            _check(idx, case, out, cycles, counters)
    with open(os.path.join(os.environ["SPARSE_HW_RUN_DIR"], "sparten_results.json"), "w") as f:
        json.dump(results, f)


async def _abort(dut, abort_after, events):
    """Fault test: run ``abort_after`` cycles (compute, or into the readout, which moves freely);
    the next case's reset then lands in the middle of this one."""
    dut.o_acc__ready.value = dut.o_chunk__ready.value = 1
    for _ in range(abort_after):
        await RisingEdge(dut.clk)
    dut.o_acc__ready.value = dut.o_chunk__ready.value = 0
    return {"out": [], "cycles": None, "counters": [], "events": events, "aborted": True,
            "busy_at_reset": int(dut.busy.value)}


async def _compute_and_read(dut, cfg, idx, case, rand, events):
    """A started case to its end: ``(output beats, RTL cycles, per-unit counters)``."""
    # Compute runs without Python: poll every 256 cycles, at falling edges so that reads see
    # settled values. The readout then waits (ready low) until _collect takes over.
    await FallingEdge(dut.clk)
    while int(dut.busy.value) and not _reading(dut):
        await Timer(10 * 256, unit="ns")
        if int(dut.cycles.value) > case.cap:
            raise AssertionError(f"case {idx} ({case.name}): compute exceeded "
                                 f"{case.cap} cycles (seed {os.environ['SPARSE_HW_SEED']})")
    await RisingEdge(dut.clk)
    # Readout moves one value per cycle when not stalled; the cap allows for the backpressure.
    cap = int(2 * (case.n_values + case.n_out) / (1 - case.backpressure)) + 1000
    out = await _collect(dut, case.stream, case.n_out, rand, case.backpressure, cap=cap,
                         events=events)
    await _wait_done(dut, 4096)
    cycles = int(dut.cycles.value)
    counters = []
    for u in range(cfg.n_units):
        dut.ctr_sel.value = u
        await Timer(1, unit="ns")
        counters.append(unit_counters(cfg, int(dut.ctr.value)))
    return out, cycles, counters


def _check(idx, case, out, cycles, counters):
    """The case's output beats, cycle count and unit counters against golden and the model."""
    want = list(case.expect)
    if out != want:
        bad = next(i for i, (g, w) in enumerate(zip(out, want)) if g != w)
        raise AssertionError(f"case {idx} ({case.name}): output beat {bad} is {out[bad]:#x}, "
                             f"golden {want[bad]:#x}")
    assert cycles == case.cycles, \
        f"case {idx} ({case.name}): RTL cycles {cycles} != model {case.cycles}"
    want_ctr = [list(c) for c in case.counters]
    assert counters == want_ctr, \
        f"case {idx} ({case.name}): unit counters {counters} != model {want_ctr}"


def _reading(dut):
    # The readout has started once the cycle counter stops and busy stays high; exposed as the
    # first output beat becoming valid.
    return int(dut.o_acc__valid.value) or int(dut.o_chunk__valid.value)
