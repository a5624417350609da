"""sim/sparten_case.py: LayerCase, the one description of a SparTen layer run the benches read."""

import json

import numpy as np
import pytest

from hw.sparten.config import SMALL
from sim.run_sparten import prepare_case
from sim.sparten_case import LayerCase, check_stress

GOOD = dict(name="c", mode="acc", desc=5, loads=[1, 2, 3], expect=[7, 8], n_values=2, cycles=10,
            counters=[[1, 2, 3], [4, 5, 6]], cap=100, idle=0.2, backpressure=0.3)


def test_json_round_trip_keeps_every_field():
    rng = np.random.default_rng(0)
    w = ((rng.random((5, 12, 3, 3)) < 0.5) * rng.integers(-128, 128, (5, 12, 3, 3))).astype(np.int8)
    a = ((rng.random((12, 4, 4)) < 0.5) * rng.integers(-128, 128, (12, 4, 4))).astype(np.int8)
    for requant, mode in ((None, "acc"), ((3, 6), "chunk")):
        case, info = prepare_case(SMALL, w, a, 1, 1, requant=requant, name="rt", idle=0.1,
                                  backpressure=0.4)
        assert case.mode == mode and case.stream == f"o_{mode}"
        assert case.n_out == len(case.expect) > 0
        assert case.cycles == info["model"]["cycles"]
        back = LayerCase.from_dict(json.loads(json.dumps(case.to_dict())))
        assert back == case
    aborted = case.replace(name="abort", abort_after=7, chain=True)
    assert LayerCase.from_dict(json.loads(json.dumps(aborted.to_dict()))) == aborted
    assert aborted.loads == case.loads and case.abort_after is None


@pytest.mark.parametrize("field, value, message", [
    ("name", "", "LayerCase.name must be a non-empty string"),
    ("mode", "dense", r"LayerCase.mode must be one of \['acc', 'chunk'\], not 'dense'"),
    ("desc", -1, "LayerCase.desc must be an integer >= 0"),
    ("loads", [1, -2], r"LayerCase.loads\[1\] must be a non-negative integer, not -2"),
    ("loads", "123", "LayerCase.loads must be a list of integers"),
    ("expect", [1.5], r"LayerCase.expect\[0\] must be a non-negative integer"),
    ("n_values", True, "LayerCase.n_values must be an integer"),
    ("cycles", 2.0, "LayerCase.cycles must be an integer"),
    ("counters", [[1, 2]], r"LayerCase.counters\[0\] has 2 entries, need 3"),
    ("cap", 0, "LayerCase.cap must be an integer >= 1"),
    ("idle", 0.95, "LayerCase.idle must be a probability in 0..0.95"),
    ("backpressure", -0.1, "LayerCase.backpressure must be a probability"),
    ("chain", 1, "LayerCase.chain must be True or False"),
    ("abort_after", -3, "LayerCase.abort_after must be an integer >= 0"),
])
def test_bad_field_is_one_line_error(field, value, message):
    with pytest.raises(ValueError, match=message) as e:
        LayerCase(**{**GOOD, field: value})
    assert "\n" not in str(e.value)
    case = LayerCase(**GOOD)
    with pytest.raises(ValueError, match=message):          # replace checks again
        case.replace(**{field: value})


def test_from_dict_names_unknown_and_missing_keys():
    with pytest.raises(ValueError, match="unknown LayerCase field 'data_offset'"):
        LayerCase.from_dict({**GOOD, "data_offset": 3})
    with pytest.raises(ValueError, match="LayerCase field 'cap' is missing"):
        LayerCase.from_dict({k: v for k, v in GOOD.items() if k != "cap"})
    with pytest.raises(ValueError, match="read from a dict"):
        LayerCase.from_dict([1])


def test_check_stress():
    check_stress("idle", 0)
    check_stress("idle", 0.5)
    for bad in (0.95, 1, -0.01, True, "0.1"):
        with pytest.raises(ValueError, match="idle must be a probability in 0..0.95"):
            check_stress("idle", bad)
