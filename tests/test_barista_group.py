"""hw/barista/group.py (one filter's barrier-free group: dispatcher + SparTen compute units,
unchanged) on the Amaranth simulator: results bit-exact against NumPy, every task granted in the
cycle and to the unit golden.barista.group_schedule says, with SparTen's chunk costs."""

import dataclasses
import os

import numpy as np
import pytest

from golden.barista import group_schedule
from hw.barista.config import SMALL
from hw.barista.dispatch import TaskDispatch
from sim.run_barista import check_layer, run_group, task_costs

SEED = int(os.environ.get("SEED", "0"))


@pytest.mark.parametrize("seed,C,P,colours,tile,dw,da", [
    (1, 24, 40, 2, 8, 0.5, 0.5), (2, 8, 30, 1, 4, 0.9, 0.9), (3, 40, 24, 3, 5, 0.3, 0.6),
    (4, 16, 33, 2, 16, 0.0, 0.5)])
def test_group_is_bit_exact_and_follows_the_schedule(seed, C, P, colours, tile, dw, da):
    cfg = dataclasses.replace(SMALL, colours=colours)
    rng = np.random.default_rng([SEED, seed])
    w = np.where(rng.random(C) < dw, rng.integers(-128, 128, C), 0)
    a = np.where(rng.random((P, C)) < da, rng.integers(1, 128, (P, C)), 0)
    got = run_group(cfg, w, a, tile)
    assert got["value"] == (a @ w).tolist(), f"SEED={SEED}"
    want = group_schedule(task_costs(w, a, cfg.chunk), cfg.units_per_cluster, tile, colours,
                          **TaskDispatch.latencies())
    assert got["start"] == want["start"] and got["unit"] == want["unit"], f"SEED={SEED}"
    assert got["end"] == want["end"]


def test_check_layer_ties_rtl_schedule_and_layer_model():
    """A 1x1 layer on a 6x6 map: the group's last task end equals layer_cycles on one cluster."""
    rng = np.random.default_rng([SEED, 99])
    w = np.where(rng.random((1, 40, 1, 1)) < 0.4, rng.integers(-128, 128, (1, 40, 1, 1)), 0)
    a = np.where(rng.random((40, 6, 6)) < 0.5, rng.integers(1, 128, (40, 6, 6)), 0)
    r = check_layer(w, a, SMALL)
    assert r["equal"] and r["bit_exact"] and r["rtl_cycles"] == r["model_cycles"] > 0, r
