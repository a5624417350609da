"""cocotb tests of the EUREKA core (any variant) on Verilator.

Stimulus comes from the pytest process (``sim/run_eureka.py`` :func:`prepare_case`): a JSON manifest
named by ``EUREKA_CASES`` lists cases, each with the weight and activation beats (hex payloads built
with the core's layouts from the golden schedule), the expected ``int64[M,N]`` result, the golden
cycle model's count and the stress probabilities. The scoreboard is: drivers (weights,
activations), monitor (results, random backpressure), model (the golden numbers in the case),
checker (bit-exact result, busy cycles equal to the model).

Cycle contract: the core's ``busy`` counter counts accepted weight beats; its increase over a case
must equal the model's cycles whatever the idle/backpressure. The stall-free test also checks the
end-to-end time: last result - first weight beat = busy - 1 + latency (one beat per cycle).

Every case's measured result is written to ``$SPARSE_HW_RUN_DIR/results.json`` for the driver.
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sim.cocotb_util import CycleCounter, StreamDriver, StreamMonitor, rng, sidecar, start
from hw.eureka.beats import decode_results
from hw.eureka.config import EurekaConfig


def _config():
    return EurekaConfig.from_dict(sidecar()["config"])


def _cases():
    with open(os.environ["EUREKA_CASES"]) as f:
        return json.load(f)


class FireWatch:
    """Records the cycle of the first weight-beat transfer."""

    def __init__(self, dut, counter):
        self.dut, self.counter, self.first = dut, counter, None
        cocotb.start_soon(self._run())

    async def _run(self):
        while self.first is None:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if int(self.dut.w__valid.value) and int(self.dut.w__ready.value):
                self.first = self.counter.now


async def _run_case(dut, cfg, case, wdrv, adrv, mon, results):
    import numpy as np
    wdrv.idle = adrv.idle = case["idle"]
    mon.backpressure = case["backpressure"]
    await RisingEdge(dut.clk)
    busy0 = int(dut.busy.value)
    n0 = len(mon.beats)
    w0 = wdrv.sent
    wdrv.send_all(int(x, 16) for x in case["w"])
    adrv.send_all(int(x, 16) for x in case["a"])
    n_out = case["n_out"]
    # Cap: every beat may wait through idle/backpressure; generous but finite.
    stress = 1 + 20 * max(case["idle"], case["backpressure"]) / (1 - max(case["idle"],
                                                                         case["backpressure"]))
    cap = int((len(case["w"]) + n_out) * stress * 4) + 200
    await mon.wait_for(n0 + n_out, cap)
    await RisingEdge(dut.clk)
    busy = (int(dut.busy.value) - busy0) % (1 << 32)
    out = decode_results(cfg, mon.beats[n0:n0 + n_out], case["M"], case["N"])
    if case.get("row_order") is not None:       # the core computed W's rows densest first
        nat = np.empty_like(out)
        nat[np.array(case["row_order"])] = out
        out = nat
    expected = np.array(case["expected"], dtype=np.int64)
    results[case["name"]] = {"out": out.tolist(), "cycles": busy,
                             "bit_exact": bool(np.array_equal(out, expected)),
                             # flow-control events for sim/coverage.py
                             "events": {"idle_first_beat": w0 in wdrv.idle_before,
                                        "backpressure_last_beat":
                                            n0 + n_out - 1 in mon.stalled}}
    return out, expected, busy


def _write(results):
    path = os.path.join(os.environ["SPARSE_HW_RUN_DIR"], "results.json")
    old = {}
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
    old.update(results)
    with open(path, "w") as f:
        json.dump(old, f)


async def _start_streams(dut, tag):
    """Reset the core and attach the weight and activation drivers and the result monitor, all
    drawing from the seeded stream ``tag``."""
    await start(dut)
    r = rng(tag)
    return StreamDriver(dut, "w", r), StreamDriver(dut, "a", r), StreamMonitor(dut, "o", r)


@cocotb.test()
async def gemm_cases_under_stress(dut):
    """Every case of the manifest, back to back, with its idle/backpressure; bit- and cycle-exact."""
    import numpy as np
    cfg = _config()
    cases = [c for c in _cases() if not c.get("stall_free") and c.get("reset_after") is None]
    if not cases:
        return
    wdrv, adrv, mon = await _start_streams(dut, "stress")
    results = {}
    failures = []
    for case in cases:
        out, expected, busy = await _run_case(dut, cfg, case, wdrv, adrv, mon, results)
        if not np.array_equal(out, expected):
            bad = np.argwhere(out != expected)[0].tolist()
            failures.append(f"{case['name']}: result{bad} = {out[tuple(bad)]}, golden "
                            f"{expected[tuple(bad)]}")
        if busy != case["model_cycles"]:
            failures.append(f"{case['name']}: busy cycles {busy} != model {case['model_cycles']}")
    _write(results)
    assert not failures, "; ".join(failures)


@cocotb.test()
async def gemm_stall_free_timing(dut):
    """Stall-free cases: also end-to-end cycles = busy - 1 + latency (no bubbles in the array)."""
    import numpy as np
    cfg = _config()
    latency = sidecar()["latency"]
    cases = [c for c in _cases() if c.get("stall_free")]
    if not cases:
        return
    await start(dut)
    counter = CycleCounter(dut.clk)
    r = rng("stall_free")
    wdrv = StreamDriver(dut, "w", r)
    adrv = StreamDriver(dut, "a", r)
    mon = StreamMonitor(dut, "o", r, counter=counter)
    results = {}
    failures = []
    for case in cases:
        watch = FireWatch(dut, counter)
        out, expected, busy = await _run_case(dut, cfg, case, wdrv, adrv, mon, results)
        e2e = mon.cycles[-1] - watch.first
        results[case["name"]]["end_to_end"] = e2e
        if not np.array_equal(out, expected):
            failures.append(f"{case['name']}: result differs from golden")
        if busy != case["model_cycles"]:
            failures.append(f"{case['name']}: busy cycles {busy} != model {case['model_cycles']}")
        if e2e != busy - 1 + latency:
            failures.append(f"{case['name']}: end-to-end {e2e} != busy {busy} - 1 + latency "
                            f"{latency}")
    _write(results)
    assert not failures, "; ".join(failures)


@cocotb.test()
async def reset_mid_stream(dut):
    """Cases with ``reset_after``: start the case, assert ``rst`` for two cycles after that many
    cycles (weights, windows and results in flight), then run the same case from its start: the
    result must be bit-exact and ``busy`` (cleared by the reset) must count the model's cycles."""
    import numpy as np
    cfg = _config()
    cases = [c for c in _cases() if c.get("reset_after") is not None]
    if not cases:
        return
    wdrv, adrv, mon = await _start_streams(dut, "reset")
    results = {}
    failures = []
    for case in cases:
        wdrv.idle = adrv.idle = case["idle"]
        mon.backpressure = case["backpressure"]
        wdrv.send_all(int(x, 16) for x in case["w"])
        adrv.send_all(int(x, 16) for x in case["a"])
        for _ in range(case["reset_after"]):
            await RisingEdge(dut.clk)
        if not wdrv.queue:
            failures.append(f"{case['name']}: every weight beat was sent before the reset; "
                            f"reset_after={case['reset_after']} is not mid-stream")
        dut.rst.value = 1
        wdrv.flush()
        adrv.flush()
        await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        wdrv.flush()
        adrv.flush()
        dut.rst.value = 0
        out, expected, busy = await _run_case(dut, cfg, case, wdrv, adrv, mon, results)
        if not np.array_equal(out, expected):
            failures.append(f"{case['name']}: result after the reset differs from golden")
        if busy != case["model_cycles"]:
            failures.append(f"{case['name']}: busy cycles {busy} != model {case['model_cycles']} "
                            f"after the reset")
    _write(results)
    assert not failures, "; ".join(failures)
