"""Several BARISTA clusters: the layer's filters dealt to ``n_clusters`` clusters, the input map
shared.

As in the layer model (:func:`golden.barista.layer_cycles`), clusters share nothing but the layer
they work on: the host deals the filters to the clusters by longest processing time on their
non-zeros (:func:`golden.barista.cluster_filters`), every cluster holds the whole input map in its
own banks and its filters, and runs its tasks as :class:`~.cluster.BaristaCluster` does. The load
stream writes a chunk into every cluster whose bit is set in ``clusters`` (the input map into all
of them at once, a filter into its own), so sharing the map costs no extra load cycles.

*(ours)*: one output stream per cluster (no merge: the clusters' drains do not wait on each
other); the engine is done when every cluster is. Cycle behaviour: each cluster is
:func:`golden.barista.cluster_trace` on its filters with its own output backpressure.
"""

from amaranth import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .cluster import COUNTER_WIDTH, BaristaCluster, desc_layout, load_layout
from .outbuf import write_layout

__all__ = ["BaristaEngine", "engine_load_layout"]


def engine_load_layout(config):
    """A load beat of the engine: a cluster's load beat and the clusters it goes to."""
    return data.StructLayout({"beat": load_layout(config),
                              "clusters": unsigned(config.n_clusters)})


class BaristaEngine(wiring.Component):
    """``n_clusters`` :class:`~.cluster.BaristaCluster` of ``config``.

    Members
    -------
    load : In(stream.Signature(engine_load_layout))
        Always ready; the beat is written into every cluster whose ``clusters`` bit is set.
    desc : In(desc_layout).array(n_clusters)
        Each cluster's descriptor (its own ``n_tasks`` and filter base).
    start : In(1)
    o : Out(stream.Signature(write_layout)).array(n_clusters)
        Each cluster's results (see :class:`~.cluster.BaristaCluster`).
    done : Out(1)
        Every cluster is done.
    cycles, reads, requests : Out(32).array(n_clusters)
    """

    def __init__(self, config):
        self._cfg = config
        n = config.n_clusters
        #: The clusters.
        self.clusters = [BaristaCluster(config) for _ in range(n)]
        super().__init__({
            "load": In(stream.Signature(engine_load_layout(config))),
            "desc": In(desc_layout(config)).array(n),
            "start": In(1),
            "o": Out(stream.Signature(write_layout(config))).array(n),
            "done": Out(1),
            "cycles": Out(COUNTER_WIDTH).array(n),
            "reads": Out(COUNTER_WIDTH).array(n),
            "requests": Out(COUNTER_WIDTH).array(n),
        })

    def elaborate(self, platform):
        m = Module()
        dones = []
        m.d.comb += self.load.ready.eq(1)
        for c, cl in enumerate(self.clusters):
            m.submodules[f"cluster{c}"] = cl
            m.d.comb += [cl.load.valid.eq(self.load.valid & self.load.payload.clusters[c]),
                         cl.load.payload.eq(self.load.payload.beat),
                         cl.desc.eq(self.desc[c]), cl.start.eq(self.start),
                         self.cycles[c].eq(cl.cycles), self.reads[c].eq(cl.reads),
                         self.requests[c].eq(cl.requests)]
            wiring.connect(m, wiring.flipped(self.o[c]), cl.o)
            dones.append(cl.done)
        all_done = Signal()
        m.d.comb += [all_done.eq(1), self.done.eq(all_done)]
        for d in dones:
            with m.If(~d):
                m.d.comb += all_done.eq(0)
        return m
