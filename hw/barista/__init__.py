"""BARISTA-style barrier-free, large-scale two-sided sparse engine (DESIGN.md section 3b).

Blocks so far
-------------
:mod:`.config` (``BaristaConfig``)
    The one config: clusters, units, chunk, banks and their width, buffer capacities, colours,
    combine window, technique switches; presets ``SMALL`` and ``PAPER`` (4 clusters x 8K MACs).
:mod:`.fetch` (``ChunkFetch``)
    One shared bank behind request/response ports: round-robin issue, combining of requests for
    the chunk on the response bus, snarfing of responses by every waiting port. Cycle-exact
    against ``golden.barista.fetch_trace``.
:mod:`.tops`
    ``barista_fetch`` (SMALL, 4 ports, chunk 8) and ``barista_fetch_paper`` (chunk 128, 8 ports,
    for area).

The whole-engine cycle model is ``golden/barista.py`` (:func:`golden.barista.layer_cycles`) and
the benchmark ``sim/bench_barista.py``. Not written yet: the cluster around the fetch block
(SparTen's compute unit unchanged, the dynamic round-robin dispatcher, the coloured output
buffers), so the layer model is not yet checked against RTL.
"""
