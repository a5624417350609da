"""Tiling plans: a layer cut into tiles that fit an engine config's memories.

Pure Python. An engine's planner (SparTen: conv / FC layers; EUREKA: GEMMs) returns one
:class:`Plan`; each :class:`Tile` carries its modelled cycles and the bytes it moves on and off
chip, sized as stored (SparseMap or N:M compressed). The runtime runs the tiles one by one on the
RTL and checks each against its ``cycles``; reports read :meth:`Plan.to_dict`.

The bandwidth-bound time of a plan is ``sum over tiles of max(compute cycles, bytes / B)`` for an
off-chip bandwidth of ``B`` bytes per cycle: a tile's transfers overlap its own compute (double
buffering), never another tile's.
"""

import dataclasses
import math

__all__ = ["Tile", "Plan", "PlanError", "DEFAULT_DRAM_BYTES_PER_CYCLE", "TRAFFIC_KINDS"]

#: Off-chip bandwidth assumed when none is given, in bytes per engine cycle *(ours)*: 64 B/cycle
#: is 12.8 GB/s at 200 MHz (our timing target), half of one DDR4-3200 x64 channel.
DEFAULT_DRAM_BYTES_PER_CYCLE = 64

#: What a tile moves. ``psums_in``/``psums_out`` are partial sums read back and written out when
#: the reduction (input channels / K) is split over several tiles.
TRAFFIC_KINDS = ("weights", "activations", "psums_in", "psums_out", "outputs")


class PlanError(ValueError):
    """A layer cannot be planned on a config (a geometric limit, or a tile that can never fit)."""


@dataclasses.dataclass(frozen=True)
class Tile:
    """One piece of a layer run on the engine in one go.

    Members
    -------
    coords : dict
        Engine-specific position of the tile in the layer (e.g. ``{"round": 0, "cblock": 1}``).
    cycles : int
        Compute cycles of the tile, from the engine's cycle model (equal to the RTL's counter).
    traffic : dict
        Bytes per kind of :data:`TRAFFIC_KINDS` moved on (weights, activations, psums_in) and off
        (psums_out, outputs) chip for this tile.
    """

    coords: dict
    cycles: int
    traffic: dict

    def __post_init__(self):
        unknown = set(self.traffic) - set(TRAFFIC_KINDS)
        if unknown:
            raise ValueError(f"tile traffic kinds {sorted(unknown)!r} unknown; accepted: "
                             f"{list(TRAFFIC_KINDS)!r}")

    @property
    def bytes_moved(self):
        return sum(self.traffic.values())

    def bound_cycles(self, bytes_per_cycle):
        """``max(cycles, bytes / B)``: the tile's time when its transfers overlap its compute."""
        return max(self.cycles, math.ceil(self.bytes_moved / bytes_per_cycle))

    def to_dict(self):
        return {"coords": dict(self.coords), "cycles": int(self.cycles),
                "traffic": {k: int(v) for k, v in self.traffic.items()},
                "bytes_moved": int(self.bytes_moved)}


@dataclasses.dataclass(frozen=True)
class Plan:
    """A layer's tiles on one config.

    Members
    -------
    engine : str
        ``"sparten"`` or ``"eureka"``.
    layer : dict
        The layer's shape (engine-specific keys, e.g. K, C, H, W, R, S, stride, padding).
    tiles : tuple of Tile
    psum : str
        Where split reductions are summed: ``"none"`` (no split), ``"host"`` or ``"hardware"``.
    """

    engine: str
    layer: dict
    tiles: tuple
    psum: str = "none"

    def __post_init__(self):
        if self.psum not in ("none", "host", "hardware"):
            raise ValueError(f"psum must be 'none', 'host' or 'hardware', not {self.psum!r}")
        if not self.tiles:
            raise PlanError("a plan needs at least one tile")

    @property
    def cycles(self):
        """Compute cycles of the whole layer (tiles run back to back)."""
        return sum(t.cycles for t in self.tiles)

    @property
    def traffic(self):
        out = dict.fromkeys(TRAFFIC_KINDS, 0)
        for t in self.tiles:
            for k, v in t.traffic.items():
                out[k] += v
        return out

    @property
    def bytes_moved(self):
        return sum(t.bytes_moved for t in self.tiles)

    def bound_cycles(self, bytes_per_cycle=DEFAULT_DRAM_BYTES_PER_CYCLE):
        """Bandwidth-bound time: the sum of every tile's ``max(cycles, bytes / B)``."""
        if not (isinstance(bytes_per_cycle, (int, float)) and bytes_per_cycle > 0):
            raise ValueError(f"bytes_per_cycle must be a positive number, not {bytes_per_cycle!r}")
        return sum(t.bound_cycles(bytes_per_cycle) for t in self.tiles)

    def to_dict(self, bytes_per_cycle=DEFAULT_DRAM_BYTES_PER_CYCLE):
        return {"engine": self.engine, "layer": dict(self.layer), "psum": self.psum,
                "n_tiles": len(self.tiles), "cycles": int(self.cycles),
                "traffic": {k: int(v) for k, v in self.traffic.items()},
                "bytes_moved": int(self.bytes_moved), "dram_bytes_per_cycle": bytes_per_cycle,
                "bound_cycles": int(self.bound_cycles(bytes_per_cycle)),
                "tiles": [t.to_dict() for t in self.tiles]}
