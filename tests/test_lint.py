"""Verilator -Wall lint of every emitted top (the waivers in sim/lint_waivers.vlt say why)."""

import pytest

from hw.top import all_tops
from sim.lint import lint_file


@pytest.mark.parametrize("top", [t.name for t in all_tops()])
def test_top_is_lint_clean(emitted_top, top):
    findings = lint_file(emitted_top(top), top)
    assert not findings, "\n".join(findings)


def test_lint_catches_a_combinational_loop(tmp_path):
    # The lint must be able to fail: a loop through two assigns is reported.
    v = tmp_path / "loop.v"
    v.write_text("module loop(input a, output y);\n  wire b;\n  assign b = y ^ a;\n"
                 "  assign y = b;\nendmodule\n")
    findings = lint_file(v, "loop")
    assert findings, "a combinational loop passed lint"
