"""``sparse-hw``: the project's command line.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func``; this module only gathers them. Errors a user can cause (bad options, bad
files, bad data) print one line and exit 2; ``--debug`` shows the traceback instead.
"""

import argparse
import importlib
import sys

# (module, doc) in the order --help lists them.
SUBCOMMANDS = [
    "sim.cmd_verilog",
    "sim.cmd_run",
    "sim.lint",
    "synth.area",
    "synth.power",
    "sim.bench",
    "sim.e2e",
    "sim.sweep",    # also registers `pick`
]


class CliError(Exception):
    """An error caused by the user's input; printed as one line."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sparse-hw",
        description="Generate, simulate and measure SparTen- and EUREKA-style sparse tensor engines.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print("sparse-hw: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, TypeError, FileNotFoundError, IsADirectoryError, PermissionError) as e:
        if args.debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"sparse-hw {args.command}: error: {msg}", file=sys.stderr)
        return 2
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
