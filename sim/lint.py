"""``sparse-hw lint``: ``verilator --lint-only -Wall`` on the Verilog that ``make verilog`` writes.

Waivers live in ``sim/lint_waivers.vlt``, each with the reason it is there; everything else that
``-Wall`` reports counts as a finding and makes the command exit 1.
"""

import subprocess
import sys
from pathlib import Path

from .verilator import build_dir, verilator_env

WAIVERS = Path(__file__).with_name("lint_waivers.vlt")


def lint_file(path, top):
    """Lint one Verilog file; return the list of warning/error lines (empty when clean)."""
    exe = verilator_env()
    r = subprocess.run([str(exe), "--lint-only", "-Wall", "--top-module", top, str(WAIVERS),
                        str(path)], capture_output=True, text=True)
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("%")]
    if r.returncode != 0 and not lines:
        lines = [f"%Error: verilator exited {r.returncode}: {(r.stdout + r.stderr).strip()[:500]}"]
    return lines


def register(sub):
    p = sub.add_parser("lint", help="verilator --lint-only -Wall on every emitted top",
                       description="Write the Verilog of every top (as `sparse-hw verilog`) and lint "
                                   "it with Verilator -Wall; waivers are in sim/lint_waivers.vlt.")
    p.add_argument("--top", action="append", default=None, metavar="NAME", help="only this top")
    p.set_defaults(func=run)


def run(args):
    from .cmd_verilog import write_all

    out = build_dir() / "verilog"
    written = write_all(out, args.top, log=lambda *_: None)
    bad = 0
    for v in written:
        findings = lint_file(v, v.stem)
        print(f"{v.stem}: {'clean' if not findings else f'{len(findings)} finding(s)'}")
        for f in findings:
            print(f"  {f}")
        bad += bool(findings)
    if bad:
        print(f"{bad} of {len(written)} top(s) have lint findings", file=sys.stderr)
        return 1
    print(f"all {len(written)} top(s) lint-clean with -Wall")
    return 0
