"""A second, strict front end: every emitted top elaborates in slang (pyslang) without an error.

Verilator and Yosys read our Verilog already; slang is stricter about the language (declarations,
widths of ports, duplicate names) and is what many SystemVerilog tools build on. The Verilog is the
``emitted_top`` fixture's (``sparse-hw verilog``'s files), not emitted again here.
"""

import pytest

from hw.top import all_tops

pyslang = pytest.importorskip("pyslang", reason="pyslang (slang's Python bindings, a dev "
                                                "dependency in pyproject.toml) is not installed")


def slang_errors(text, name):
    """slang's error diagnostics of ``text`` elaborated with top ``name``, as report lines."""
    from pyslang import ast, syntax
    tree = syntax.SyntaxTree.fromText(text, f"{name}.v")
    options = ast.CompilationOptions()
    options.topModules = {name}
    bag = pyslang.Bag([options])
    comp = ast.Compilation(bag)
    comp.addSyntaxTree(tree)
    errors = [d for d in comp.getAllDiagnostics() if d.isError()]
    if not errors:
        return []
    report = pyslang.DiagnosticEngine.reportAll(tree.sourceManager, errors)
    return [ln for ln in report.splitlines() if ": error: " in ln]


@pytest.mark.parametrize("top", [t.name for t in all_tops()])
def test_top_elaborates_in_slang(emitted_top, top):
    text = emitted_top(top).read_text()
    errors = slang_errors(text, top)
    assert errors == [], "\n".join(errors[:20])


@pytest.mark.parametrize("text,what", [
    ("module m(input a, output y);\n  assign y = a &\nendmodule\n", "expected"),
    ("module m(input a, output y);\n  assign y = a & b;\nendmodule\n", "undeclared identifier 'b'"),
    ("module m(input a, output y);\n  n u(.q(a));\n  assign y = a;\nendmodule\n"
     "module n(input p);\nendmodule\n", "port 'q' does not exist"),
])
def test_slang_reports_planted_errors(text, what):
    errors = slang_errors(text, "m")
    assert errors and any(what in e for e in errors), errors
