"""BARISTA's golden models, by job: the layer cycle model (:mod:`golden.barista_layer`:
:func:`layer_cycles` and its bank reads), the deal of its work and its scheduling rule
(:mod:`golden.barista_schedule`: tiling, filter deal, :func:`group_schedule`) and
the cycle-exact traces of the RTL blocks (:mod:`golden.barista_trace`: :func:`fetch_trace`,
:func:`drain_trace`, :func:`cluster_trace`, :func:`engine_trace`). This module keeps the public
names in one place for callers (``from golden import barista``)."""

from .barista_layer import NAIVE_UNITS, layer_cycles, read_counts
from .barista_schedule import (cluster_filters, group_schedule, tile_open, tile_positions,
                               units_per_filter)
from .barista_trace import (cluster_layout, cluster_trace, drain_trace, engine_filters,
                            engine_trace, fetch_trace)

__all__ = ["NAIVE_UNITS", "layer_cycles", "tile_positions", "units_per_filter", "cluster_filters",
           "read_counts", "fetch_trace", "group_schedule", "tile_open", "drain_trace",
           "cluster_layout", "cluster_trace", "engine_filters", "engine_trace"]
