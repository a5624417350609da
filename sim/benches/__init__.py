"""cocotb benches that production code runs (``sparse-hw run``, the benches' RTL checks), shipped
in the package so that an installed ``sparse-hw`` works outside a checkout. The simulator imports
them by module name (:meth:`sim.verilator.Model.run` puts this folder on its path); test-only
benches live in ``tests/cocotb/``."""
