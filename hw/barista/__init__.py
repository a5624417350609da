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
:mod:`.dispatch` (``TaskDispatch``)
    Dynamic round-robin of one filter's tasks over its units (ranked by the cycle they freed),
    tiles opening in order behind their output colour. Cycle-exact against
    ``golden.barista.group_schedule``, which is the layer model's scheduling rule.
:mod:`.outbuf` (``ColourBuffer``)
    One bank per colour: results written into their tile's colour while a closed colour drains
    on a stream; ``freed`` when drained. Cycle-exact against ``golden.barista.drain_trace``.
:mod:`.group` (``BaristaGroup``)
    One filter's barrier-free group: the dispatcher, SparTen's compute units (unchanged) and chunk
    memories; bit-exact, and every grant as ``golden.barista.group_schedule`` with SparTen's
    chunk costs.
:mod:`.cluster` (``BaristaCluster``)
    One whole cluster: ``banks`` shared banks (``ChunkFetch``, two ports per unit), the
    dispatcher (colours released when drained), per-unit fetchers walking a KxK task's valid taps
    (stride, padding) into SparTen's compute units (unchanged), a result merge and the
    ``ColourBuffer``. Cycle-exact against ``golden.barista.cluster_trace``.
:mod:`.engine` (``BaristaEngine``)
    ``n_clusters`` clusters, the filters dealt between them as in the layer model, the input map
    loaded into all at once, one output stream each (``golden.barista.engine_trace``).
:mod:`.tops`
    ``barista_engine`` (ENGINE: 2 clusters x 4 units; a block), ``barista_cluster`` (CLUSTER: 4 units, chunk 8, 4 banks, 2 colours; role engine) with its
    baselines ``barista_sparten_layer`` and ``barista_dense_array`` (same 4 MACs, chunk 8;
    ``PAIRS``), ``barista_fetch`` (SMALL, 4 ports, chunk 8), ``barista_dispatch`` (SMALL, 4
    units, 2 colours), ``barista_group`` (SMALL), ``barista_outbuf`` (SMALL, 2 colours of 256) and
    ``barista_fetch_paper`` (chunk 128, 8 ports, for area).

The whole-engine cycle model is ``golden/barista.py`` (:func:`golden.barista.layer_cycles`) and
the benchmark ``sim/bench_barista.py``, whose RTL check runs reduced conv layers through
``barista_cluster`` (and, in the full section, ``barista_engine``). Not written yet: a
telescoping tree of combining levels (the fetch block is one level) and the model's task pieces
(partial sums added in the output buffer).
"""
