"""End to end: the digits CNN on the RTL (short version of ``sparse-hw e2e``).

The RTL run compares every conv output and every logit with the golden integer model bit for bit
(inside :func:`sim.e2e.run_e2e`); these tests assert that it says so, that the RTL accuracy equals
the int8 golden accuracy, that the RTL cycle counts equal the cycle models, and that the checker
does catch a wrong answer (a perturbed golden trace).
"""


import pytest

from golden import digits_net as dn
from sim import e2e
from sim.bench import Progress


QUIET = Progress("e2e-test", stream=None)


@pytest.mark.rtl
def test_e2e_short_on_rtl(tmp_path, seed):
    data = e2e.run_e2e(2, e2e.VARIANT_MODES, tmp_path, seed=seed, idle=0.2, backpressure=0.2,
                       progress=QUIET)
    for r in data["results"]:
        where = f"variant {r['variant']}, seed {seed}, mismatches {r['mismatches'][:3]}"
        assert r["on_rtl"]["conv"] and r["on_rtl"]["fc"], where
        assert r["bit_exact"] is True, where
        assert r["rtl_accuracy"] == r["int8_golden_accuracy"], where
        for l in r["layers"]:
            assert l["on_rtl"], (where, l)
            assert l["cycles"] == l["model_cycles"], (where, l)
            assert l["dense_cycles"] and l["speedup_vs_dense"] > 0, (where, l)
    md = (tmp_path / "e2e.md").read_text()
    assert "**NO**" not in md and "golden only" not in md


@pytest.mark.rtl
def test_e2e_checker_catches_a_wrong_answer(tmp_path, monkeypatch, seed):
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
    assert "conv1" in bad and "fc" in bad, bad
    assert "**NO**" in (tmp_path / "e2e.md").read_text()


def test_cli_rejects_bad_options(capsys):
    from sim import cli

    assert cli.main(["e2e", "--images", "0"]) == 2
    assert "--images" in capsys.readouterr().err
    assert cli.main(["e2e", "--idle", "1.5"]) == 2
