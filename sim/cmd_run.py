"""``sparse-hw run ENGINE``: run a layer on the RTL of an engine and write its output and stats."""

import importlib

ENGINES = {"sparten": "sim.run_sparten", "eureka": "sim.run_eureka"}


def register(sub):
    p = sub.add_parser("run", help="run a layer on an engine's RTL (Verilator) and check it",
                       description="Run one layer on the RTL of an engine, compare it bit-exactly "
                                   "with golden/, and write the output and a stats JSON.")
    engines = p.add_subparsers(dest="engine", metavar="ENGINE")
    engines.required = True
    for modname in ENGINES.values():
        importlib.import_module(modname).register(engines)
