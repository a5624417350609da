"""The one config of the BARISTA engine.

:class:`BaristaConfig` feeds the cycle model (``golden/barista.py``), the benchmark and (later) the
generator. Variants are made with :func:`dataclasses.replace`; :data:`SMALL` is the reduced scale the
tests use and :data:`PAPER` the published ASIC point (4 clusters x 8K MACs, arXiv 2104.08734).

Published facts (arXiv 2104.08734, abstract; Gondimalla's 2024 dissertation, ch. 2): 4 clusters of
8K MACs (32K MACs, TPU-sized) at 1 GHz in 45 nm; request/response chunk fetch instead of broadcast;
telescoping combining of input-map requests; snarfing of filter responses; coloured output buffers;
dynamic round-robin work assignment within a filter; hierarchical buffering (a few wide shared
banks, narrow private buffers at the units). Buffer sizes, bank counts and widths were not found:
every such number below is *(ours)*, with its reason.
"""

import dataclasses

from ..common.config import (ConfigBase, ConfigError, check_choice, check_int, check_pow2,
                             resolve_config)

__all__ = ["BaristaConfig", "SMALL", "CLUSTER", "ENGINE", "PAPER", "PRESETS", "resolve", "ConfigError"]


@dataclasses.dataclass(frozen=True)
class BaristaConfig(ConfigBase):
    """Parameters of a BARISTA engine (clusters of SparTen compute units behind shared banks).

    Members
    -------
    n_clusters : int
        Clusters (1..16). Each owns a share of the layer's filters and its own shared banks.
    units_per_cluster : int
        SparTen compute units per cluster (1..16384), one MAC each (``matches_per_cycle`` = 1).
    chunk : int
        SparseMap chunk size, a power of two in 8..256 (128 as in SparTen).
    value_width : int
        Width of the stored weight/activation values (2..16 bits); sizes chunk reads in bytes.
    acc_width : int
        Accumulator / output-buffer entry width (8..64 bits).
    matches_per_cycle : int
        Matches per unit per cycle, as SparTen's compute unit (1, 2 or 4; the paper's is 1).
    banks : int
        Shared buffer banks per cluster (1..1024), address-interleaved by chunk.
    bank_bytes_per_cycle : int
        Bytes one bank delivers per cycle (a power of two in 1..1024); a chunk read of ``b`` bytes
        occupies its bank ``ceil(b / bank_bytes_per_cycle)`` cycles.
    input_buffer_chunks : int
        Capacity of a cluster's shared input-map buffer, in chunks. It holds ``colours + 1`` tiles
        (the ones in flight plus one being filled), which sets the tile size.
    output_buffer_entries : int
        Entries of one colour of a cluster's output buffer (one entry per output value).
    colours : int
        Colours of the output buffer (1..8): a tile writes into its own colour, so up to
        ``colours`` consecutive tiles are in flight; 1 = a barrier between consecutive tiles.
    private_chunks : int
        Chunks each unit's private buffer holds (2..64): counted as storage (area estimate).
    combine_window : int
        Cycles (0..65536) a response stays visible in the request tree after it served a request:
        a request for the same chunk within that time is answered without a bank read
        (telescoping combining for input chunks, snarfing for filter chunks).
    combine : bool
        Telescoping combining of input-map requests on/off (off: every request is a bank read).
    snarf : bool
        Snarfing of filter responses on/off (off: every unit reads its own filter chunks).
    dynamic : bool
        Dynamic round-robin assignment of positions within a filter (off: static, position ``i``
        of a tile to unit ``i mod g`` of the filter's ``g`` units).
    min_tasks_per_unit : int
        *(ours)* When a filter's units would get fewer tasks than this over a layer (few positions,
        many units), tasks are cut into pieces of consecutive chunk pairs whose partial sums the
        output buffer adds (0..1024; 0 = never cut).
    """

    n_clusters: int = 4
    units_per_cluster: int = 8192
    chunk: int = 128
    value_width: int = 8
    acc_width: int = 32
    matches_per_cycle: int = 1
    banks: int = 32
    bank_bytes_per_cycle: int = 64
    input_buffer_chunks: int = 16384
    output_buffer_entries: int = 65536
    colours: int = 4
    private_chunks: int = 4
    combine_window: int = 256
    combine: bool = True
    snarf: bool = True
    dynamic: bool = True
    min_tasks_per_unit: int = 8

    def __post_init__(self):
        check_int("n_clusters", self.n_clusters, 1, 16)
        check_int("units_per_cluster", self.units_per_cluster, 1, 16384)
        check_pow2("chunk", self.chunk, 8, 256)
        check_int("value_width", self.value_width, 2, 16)
        check_int("acc_width", self.acc_width, 8, 64)
        check_choice("matches_per_cycle", self.matches_per_cycle, {1, 2, 4})
        check_int("banks", self.banks, 1, 1024)
        check_pow2("bank_bytes_per_cycle", self.bank_bytes_per_cycle, 1, 1024)
        check_int("input_buffer_chunks", self.input_buffer_chunks, 2, 1 << 24)
        check_int("output_buffer_entries", self.output_buffer_entries, 1, 1 << 26)
        check_int("colours", self.colours, 1, 8)
        check_int("private_chunks", self.private_chunks, 2, 64)
        check_int("combine_window", self.combine_window, 0, 65536)
        check_int("min_tasks_per_unit", self.min_tasks_per_unit, 0, 1024)
        for name in ("combine", "snarf", "dynamic"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, not {getattr(self, name)!r}")

    # Derived values.
    @property
    def n_units(self):
        """Compute units (= MACs at one match per cycle) of the whole engine."""
        return self.n_clusters * self.units_per_cluster

    @property
    def macs(self):
        return self.n_units * self.matches_per_cycle

    @property
    def mask_bytes(self):
        """Bytes of one chunk's mask."""
        return -(-self.chunk // 8)

    @property
    def value_bytes(self):
        return -(-self.value_width // 8)

    def chunk_read_cycles(self, nnz):
        """Bank cycles of reading a chunk with ``nnz`` non-zeros (mask + packed values); works on
        NumPy arrays."""
        b = self.bank_bytes_per_cycle
        return -(-(self.mask_bytes + nnz * self.value_bytes) // b)

    @property
    def storage_bytes(self):
        """On-chip buffer bytes of the engine as configured: shared input buffers (chunks stored
        uncompressed, mask + ``chunk`` value slots, the worst case), output buffers (every colour)
        and private buffers (every unit)."""
        chunk_bytes = self.mask_bytes + self.chunk * self.value_bytes
        per_cluster = (self.input_buffer_chunks * chunk_bytes
                       + self.colours * self.output_buffer_entries * (-(-self.acc_width // 8))
                       + self.units_per_cluster * self.private_chunks * chunk_bytes)
        return self.n_clusters * per_cluster


#: Reduced scale for tests and the RTL (2 clusters x 4 units, chunk 8): small enough to check the
#: model by hand and to simulate; buffers sized so that test layers need a few tiles.
SMALL = BaristaConfig(n_clusters=2, units_per_cluster=4, chunk=8, banks=4, bank_bytes_per_cycle=4,
                      input_buffer_chunks=256, output_buffer_entries=256, colours=2,
                      private_chunks=4, combine_window=16)

#: One cluster of SMALL in RTL (``hw.barista.cluster``, top ``barista_cluster``): SMALL's 4 units,
#: 4 banks, 2 colours, with banks of 256 words each (1024 chunks: reduced conv layers and their
#: filters stay resident, so the run needs no input tiling).
CLUSTER = dataclasses.replace(SMALL, n_clusters=1, input_buffer_chunks=1024, bank_bytes_per_cycle=16)

#: Two such clusters (``hw.barista.engine``, top ``barista_engine``): the issue's reduced scale of
#: several clusters, SMALL's 2 x 4 units.
ENGINE = dataclasses.replace(CLUSTER, n_clusters=2)

#: The paper's ASIC point: 4 clusters x 8K MACs (arXiv 2104.08734). *(ours)*: chunk 128 as in
#: SparTen; 32 banks of 64 B per cluster (2 KB/cycle per cluster, 8 KB/cycle for the chip, about
#: 8 TB/s at 1 GHz, a TPU-class on-chip buffer bandwidth); 16K-chunk input buffers per cluster
#: (2.4 MB at 144 B per stored chunk: VGG-16 feature-map bands of about a dozen rows for each of
#: 5 tiles); 64K output entries per colour, 4 colours; a 256-cycle combine window (about one task
#: of a 3x3x128 layer at VGG-16 densities). :attr:`BaristaConfig.storage_bytes` sums them.
PAPER = BaristaConfig()

#: Named presets (``--config NAME``); defined here only.
PRESETS = {"small": SMALL, "paper": PAPER}


def resolve(spec):
    """A preset name, a JSON file or a :class:`BaristaConfig` -> the config (see
    :func:`hw.common.config.resolve_config`)."""
    return resolve_config(BaristaConfig, PRESETS, spec)
