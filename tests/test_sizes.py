"""Sizes the project's guide sets (issue 14): no module of the packages over 600 lines (sim/ and
synth/ are held to it; about 500 is the aim) and no function over 80 lines. Read from the source,
so a file that grows past a limit fails here, naming itself and its size."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("hw", "golden", "sim", "synth", "report")
#: Lines a module may have at most.
MODULE_LINES = 600
#: Lines a function (or method) may have at most, ``def`` to its last line.
FUNCTION_LINES = 80


def _modules(root):
    for pkg in PACKAGES:
        yield from sorted((root / pkg).rglob("*.py"))


def long_modules(root=ROOT, limit=MODULE_LINES):
    """``(path, lines)`` of every package module over ``limit`` lines."""
    out = []
    for p in _modules(root):
        n = len(p.read_text().splitlines())
        if n > limit:
            out.append((str(p.relative_to(root)), n))
    return out


def long_functions(root=ROOT, limit=FUNCTION_LINES):
    """``(path:line name, lines)`` of every function in the packages over ``limit`` lines."""
    out = []
    for p in _modules(root):
        rel = p.relative_to(root)
        for node in ast.walk(ast.parse(p.read_text(), str(rel))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append((f"{rel}:{node.lineno} {node.name}", n))
    return out


def test_no_module_over_the_limit():
    assert long_modules() == [], f"split these modules (at most {MODULE_LINES} lines)"


def test_no_function_over_the_limit():
    assert long_functions() == [], f"split these functions (at most {FUNCTION_LINES} lines)"


def test_the_checks_find_a_planted_long_module_and_function(tmp_path):
    (tmp_path / "sim").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    (tmp_path / "sim" / "probe.py").write_text(f"def f():\n{body}\n")       # 81 lines
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "big.py").write_text("x = 1\n" * (MODULE_LINES + 1))
    (tmp_path / "synth" / "ok.py").write_text("x = 1\n" * MODULE_LINES)
    assert long_functions(tmp_path) == [("sim/probe.py:1 f", FUNCTION_LINES + 1)]
    assert long_modules(tmp_path) == [("synth/big.py", MODULE_LINES + 1)]
