"""``sparse-hw verilog``: write every top's Verilog, JSON sidecar, a FuseSoC core and a file list."""

from pathlib import Path

from hw.emit import build_dir, write_tops
from hw.top import all_tops, select_tops

from .fusesoc import write_core


def register(sub):
    p = sub.add_parser("verilog", help="emit the Verilog of every top into build/verilog/",
                       description="Write <top>.v and <top>.json (full config) for every registered "
                                   "top, plus sparse_hw.core (FuseSoC) and files.f (plain file list).")
    p.add_argument("--out", type=Path, default=None, help="output folder (default build/verilog)")
    p.add_argument("--top", action="append", default=None, metavar="NAME",
                   help="only this top (repeatable); see --list")
    p.add_argument("--list", action="store_true", help="list the tops and exit")
    p.set_defaults(func=run)


def write_all(out, names=None, log=print):
    """Every top (or ``names``) with :func:`hw.emit.write_tops`, then ``files.f`` and the FuseSoC
    core listing them; returns the Verilog paths."""
    written = write_tops(out, names, log)
    write_listing(out, written, names)
    return written


def write_listing(out, written, names=None):
    """``files.f`` and the FuseSoC core of the tops (or ``names``) whose Verilog paths are
    ``written`` (in registry order), as :func:`write_all` writes them."""
    tops = select_tops(names=names)
    files = sorted(p.name for p in written)
    (out / "files.f").write_text("".join(f"{f}\n" for f in files))
    write_core(out, [(t.name, v.name) for t, v in zip(tops, written)])


def run(args):
    if args.list:
        for t in all_tops():
            print(f"{t.name:32s} {t.engine:8s} {t.role:16s} {t.description}")
        return 0
    out = args.out or build_dir() / "verilog"
    written = write_all(out, args.top)
    print(f"wrote {len(written)} top(s), files.f and sparse_hw.core to {out}")
    return 0
