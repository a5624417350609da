"""End to end: the digits CNN on the RTL (short version of ``sparse-hw e2e``).

The RTL run compares every conv output and every logit with the golden integer model bit for bit
(inside :func:`sim.e2e.run_e2e`); these tests assert that it says so, that the RTL accuracy equals
the int8 golden accuracy, that the RTL cycle counts equal the cycle models, and that the checker
does catch a wrong answer (a perturbed golden trace).
"""

import json

import numpy as np
import pytest

from golden import digits_net as dn
from sim import e2e
from sim.bench import Progress


def _have(modname):
    return e2e._optional(modname) is not None


QUIET = Progress("e2e-test", stream=None)


def test_golden_only_fallback_is_honest(tmp_path, monkeypatch):
    """Without engine runners nothing is reported as RTL: accuracy n/a, cycle model numbers only."""
    real = e2e._optional
    monkeypatch.setattr(e2e, "_optional",
                        lambda name: None if name.startswith("sim.run_") else real(name))
    data = e2e.run_e2e(4, ("2:4",), tmp_path, progress=QUIET)
    r = data["results"][0]
    assert r["rtl_accuracy"] is None and r["bit_exact"] is None
    assert r["on_rtl"] == {"conv": False, "fc": False, "conv_chained_sparse": False}
    assert all(not l["on_rtl"] and l["cycles"] is None for l in r["layers"])
    md = (tmp_path / "e2e.md").read_text()
    assert "golden only" in md and "RTL acc." in md and "| n/a |" in md
    assert json.loads((tmp_path / "e2e.json").read_text())["results"][0]["n_images"] == 4
    net = dn.build("2:4")
    _, _, xte, yte = dn.load_data()
    acc = float(np.mean(np.argmax(dn.int_forward_batch(net, xte[:4]), 1) == yte[:4]))
    assert r["int8_golden_accuracy"] == acc


@pytest.mark.rtl
def test_e2e_short_on_rtl(tmp_path, seed):
    conv_rtl, fc_rtl = _have("sim.run_sparten"), _have("sim.run_eureka")
    if not (conv_rtl or fc_rtl):
        pytest.skip("no engine runner (sim/run_sparten.py, sim/run_eureka.py) yet")
    data = e2e.run_e2e(2, e2e.VARIANT_MODES, tmp_path, seed=seed, idle=0.2, backpressure=0.2,
                       progress=QUIET)
    for r in data["results"]:
        where = f"variant {r['variant']}, seed {seed}, mismatches {r['mismatches'][:3]}"
        assert r["on_rtl"]["conv"] == conv_rtl and r["on_rtl"]["fc"] == fc_rtl, where
        assert r["bit_exact"] is True, where
        if conv_rtl and fc_rtl:
            assert r["rtl_accuracy"] == r["int8_golden_accuracy"], where
        else:
            assert r["rtl_accuracy"] is None, where
        for l in r["layers"]:
            if l["on_rtl"]:
                assert l["cycles"] == l["model_cycles"], (where, l)
                assert l["dense_cycles"] and l["speedup_vs_dense"] > 0, (where, l)
    md = (tmp_path / "e2e.md").read_text()
    assert "**NO**" not in md
    assert ("golden only" in md) == (not (conv_rtl and fc_rtl))


@pytest.mark.rtl
def test_e2e_checker_catches_a_wrong_answer(tmp_path, monkeypatch, seed):
    conv_rtl, fc_rtl = _have("sim.run_sparten"), _have("sim.run_eureka")
    if not (conv_rtl or fc_rtl):
        pytest.skip("no engine runner (sim/run_sparten.py, sim/run_eureka.py) yet")
    real = dn.int_forward_trace

    def wrong(net, image):
        t = [x.copy() for x in real(net, image)]
        t[0].flat[5] += 1     # a conv1 output the hardware cannot have produced
        t[-1][3] -= 1         # and a logit
        return t

    monkeypatch.setattr(dn, "int_forward_trace", wrong)
    data = e2e.run_e2e(1, ("unstructured",), tmp_path, seed=seed, progress=QUIET)
    r = data["results"][0]
    assert r["bit_exact"] is False
    bad = {m["layer"] for m in r["mismatches"]}
    assert ("conv1" in bad) == conv_rtl and ("fc" in bad) == fc_rtl, bad
    assert "**NO**" in (tmp_path / "e2e.md").read_text()


def test_cli_rejects_bad_options(capsys):
    from sim import cli

    assert cli.main(["e2e", "--images", "0"]) == 2
    assert "--images" in capsys.readouterr().err
    assert cli.main(["e2e", "--idle", "1.5"]) == 2
