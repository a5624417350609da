"""The package's layers import only downwards: golden <- hw/common <- engines <- emission <- sim,
synth. Read from the source (every ``import``, at module level or inside a function), so a lazy
import that runs backwards is caught too."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ENGINES = ("hw.sparten", "hw.eureka", "hw.barista")
#: (files, forbidden module prefixes, why)
RULES = [
    ("golden/*.py", ("hw", "sim", "synth"), "golden/ is the lowest layer"),
    ("hw/common/*.py", ENGINES + ("sim", "synth"), "hw/common/ serves every engine"),
    ("hw/**/*.py", ("sim", "synth"), "hardware never imports sim/ or synth/"),
]
#: Names of emission (hw/emit.py) that synth/ must import from there, never through sim/.
EMISSION = {"convert", "emit_verilog", "strip_zero_init", "compact_zero_init", "fast_memory_init",
            "build_dir", "ROOT", "write_all", "write_tops"}


def imports(path, root=ROOT):
    """``(module, names)`` of every import in ``path``, relative imports made absolute."""
    package = path.relative_to(root).parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            mod = ".".join([*base, *([node.module] if node.module else [])])
            yield mod, tuple(a.name for a in node.names)


def _under(mod, prefix):
    return mod == prefix or mod.startswith(prefix + ".")


def violations(pattern, forbidden, root=ROOT):
    bad = []
    for path in sorted(root.glob(pattern)):
        for mod, names in imports(path, root):
            # `from hw import eureka` names a module too
            full = [mod] + [f"{mod}.{n}" for n in names]
            if any(_under(m, f) for m in full for f in forbidden):
                bad.append(f"{path.relative_to(root)}: {mod} {list(names)}")
    return bad


@pytest.mark.parametrize("pattern,forbidden,why", RULES, ids=[r[0] for r in RULES])
def test_no_backward_imports(pattern, forbidden, why):
    assert violations(pattern, forbidden) == [], why


def test_synth_emits_through_hw_emit():
    bad = [f"{p.relative_to(ROOT)}: {mod} {sorted(set(names) & EMISSION)}"
           for p in sorted(ROOT.glob("synth/*.py")) for mod, names in imports(p)
           if _under(mod, "sim") and set(names) & EMISSION]
    assert bad == [], "synth/ takes emission from hw.emit, not from sim/"


def test_rules_see_relative_and_lazy_imports(tmp_path):
    # the checker itself: relative and function-level imports running backwards are found
    (tmp_path / "hw" / "common").mkdir(parents=True)
    (tmp_path / "golden").mkdir()
    (tmp_path / "hw" / "common" / "probe.py").write_text(
        "from . import bits\ndef f():\n    from ..sparten import tops\n")
    (tmp_path / "golden" / "probe.py").write_text(
        "import numpy\ndef g():\n    from hw import eureka\n")
    assert violations("hw/common/*.py", ENGINES, tmp_path) == [
        "hw/common/probe.py: hw.sparten ['tops']"]
    assert violations("golden/*.py", ("hw",), tmp_path) == ["golden/probe.py: hw ['eureka']"]


#: Lists of knobs written once: (name, test on a literal's set of strings, the one file allowed).
KNOB_LISTS = [
    ("balancing methods", lambda s: {"gbs", "gbh"} <= s, "golden/balance.py"),
    ("EUREKA modes", lambda s: {"dense", "suds"} <= s or {"suds", "unstructured-nosuds"} <= s,
     "golden/nm.py"),
]


def _ratio(e):
    """``(n, m)`` of a literal pair of ints, else None."""
    if isinstance(e, ast.Tuple) and len(e.elts) == 2 and all(
            isinstance(x, ast.Constant) and type(x.value) is int for x in e.elts):
        return tuple(x.value for x in e.elts)
    return None


#: N:M ratio lists, written once (golden/nm.py's NM_RATIOS): a literal holding two of these pairs.
NM_PAIRS = {(1, 4), (2, 4), (2, 8), (4, 8)}


def knob_literals(root=ROOT):
    """``(file, line, name)`` of every tuple/list/set literal of string constants in the packages
    that spells out one of :data:`KNOB_LISTS` outside its home, and of every literal of N:M
    pairs (two or more of :data:`NM_PAIRS`) outside golden/nm.py."""
    found = []
    for pattern in ("golden/*.py", "hw/**/*.py", "sim/**/*.py", "synth/**/*.py"):
        for path in sorted(root.glob(pattern)):
            rel = str(path.relative_to(root))
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if not isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                    continue
                strs = {e.value for e in node.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                for name, match, home in KNOB_LISTS:
                    if match(strs) and rel != home:
                        found.append((rel, node.lineno, name))
                pairs = {_ratio(e) for e in node.elts} & NM_PAIRS
                if len(pairs) >= 2 and rel != "golden/nm.py":
                    found.append((rel, node.lineno, "N:M ratios"))
    return found


def test_knob_lists_written_once(tmp_path):
    assert knob_literals() == [], "read these lists from their home module"
    # the checker finds a copy
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "probe.py").write_text('X = 1\nCHOICES = ["none", "gbs", "gbh"]\n'
                                               'R = ((2, 4), (2, 8), (1, 2))\nS = [(2, 4)]\n')
    assert knob_literals(tmp_path) == [("sim/probe.py", 2, "balancing methods"),
                                       ("sim/probe.py", 3, "N:M ratios")]


def test_stall_probability_checked_in_one_place():
    # idle/backpressure: every runner delegates to sim.flow.check_stall
    from sim.flow import MAX_STALL, check_stall
    from sim.pysim_script import run_script
    from sim.run_eureka import prepare_case
    assert check_stall("idle", 0) == 0.0
    for bad in (MAX_STALL, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match="idle must be a probability in 0..0.95"):
            check_stall("idle", bad)
    with pytest.raises(ValueError, match="backpressure must be a probability"):
        run_script(None, [], backpressure=0.99)
    with pytest.raises(ValueError, match="idle must be a probability"):
        prepare_case(None, None, None, "suds", "x", idle=True)


CONFIG_CLASSES = {"SparTenConfig", "EurekaConfig", "EurekaGemmConfig", "BaristaConfig",
                  "DenseMacConfig", "InnerJoinConfig"}


def config_calls(root=ROOT):
    """``(file, line, class)`` of every engine-config constructor call in sim/ and synth/: they
    take the presets of each engine's config.py (or ``dataclasses.replace`` of one)."""
    found = []
    for pattern in ("sim/**/*.py", "synth/**/*.py"):
        for path in sorted(root.glob(pattern)):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call):
                    f = node.func
                    name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                    if name in CONFIG_CLASSES:
                        found.append((str(path.relative_to(root)), node.lineno, name))
    return found


def test_no_one_off_configs(tmp_path):
    assert config_calls() == [], "use a preset of the engine's config.py"
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "probe.py").write_text(
        "from hw.eureka import config\nC = config.EurekaConfig(rows=4, lanes=8, group=8)\n")
    assert config_calls(tmp_path) == [("sim/probe.py", 2, "EurekaConfig")]
