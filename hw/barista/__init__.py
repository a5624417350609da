"""BARISTA-style barrier-free, large-scale two-sided sparse engine (DESIGN.md section 3b).

So far this package holds the engine's one config (:mod:`.config`); the cycle model is
``golden/barista.py`` and the benchmark ``sim/bench_barista.py``. The compute unit is SparTen's
(``hw.sparten.cu.ComputeUnit``), unchanged; the reduced-scale RTL of the request/response network,
combining, snarfing and coloured output buffers is not written yet.
"""
