import pytest

from golden.plan import Plan, PlanError, Tile


def _plan():
    return Plan("sparten", {"K": 4}, (
        Tile({"round": 0}, 100, {"weights": 640, "activations": 1000}),
        Tile({"round": 1}, 300, {"weights": 64, "outputs": 200})), psum="none")


def test_totals_and_bound():
    p = _plan()
    assert p.cycles == 400 and p.bytes_moved == 1904
    assert p.traffic["weights"] == 704 and p.traffic["psums_in"] == 0
    # Tile 0 is bandwidth-bound at 16 B/cycle (1640/16 -> 103 > 100), tile 1 compute-bound.
    assert p.bound_cycles(16) == 103 + 300
    assert p.bound_cycles(1e9) == p.cycles
    d = p.to_dict(16)
    assert d["n_tiles"] == 2 and d["bound_cycles"] == 403 and d["tiles"][0]["bytes_moved"] == 1640


def test_bad_inputs():
    with pytest.raises(ValueError, match="bytes_per_cycle"):
        _plan().bound_cycles(0)
    with pytest.raises(ValueError, match="traffic kinds"):
        Tile({}, 1, {"dram": 3})
    with pytest.raises(PlanError, match="at least one tile"):
        Plan("eureka", {}, ())
    with pytest.raises(ValueError, match="psum"):
        Plan("eureka", {}, (Tile({}, 1, {}),), psum="dram")
