"""The one config of the SparTen engine.

:class:`SparTenConfig` feeds the generator (hw/sparten), the cycle model (golden/sparten_model.py),
the testbenches and synthesis. Variants are made with :func:`dataclasses.replace`; :data:`SMALL` is
the small configuration the RTL tests build.
"""

import dataclasses

from amaranth.utils import ceil_log2

from ..common.config import (ConfigBase, ConfigError, check_choice, check_int, check_pow2,
                             resolve_config)

__all__ = ["SparTenConfig", "SMALL", "PAPER", "PRESETS", "SELECTS", "resolve", "ConfigError"]

#: The forms of the compute unit's operand selects (``SparTenConfig.select``).
SELECTS = ("mux", "onehot")


@dataclasses.dataclass(frozen=True)
class SparTenConfig(ConfigBase):
    """Parameters of a SparTen cluster and its layer top.

    Members
    -------
    chunk : int
        SparseMap chunk size in elements, a power of two in 8..256 (SparTen uses 128).
    value_width : int
        Width of the signed weight and activation values (2..16, default 8).
    acc_width : int
        Signed accumulator width (8..64, default 32). Rejected when a dot product of
        ``max_reduction`` products of two most negative values would not fit.
    n_units : int
        Compute units per cluster (1..256, default 32); each owns one filter at a time.
    matches_per_cycle : int
        Inner-join matches (MACs) per unit per cycle: 1 is the paper, 2 and 4 are ours.
    fifo_depth : int
        Depth of the cluster's input FIFO (0 = none, else a power of two in 2..64). It decouples the
        memory/sequencer pipeline from the unit barrier; with preloaded memories it only adds one
        cycle of latency to a layer run (golden/sparten_model.py counts it).
    unit_fifo_depth : int
        Chunks each unit may hold waiting in front of its inner join (0..8). 0 is the paper: a unit
        takes a chunk only when its join is free, so every chunk costs its slowest unit. ``n >= 1``
        *(ours)* relaxes the barrier to a window: the cluster broadcasts chunk ``t`` once every unit
        has started chunk ``t - n``, so a unit that is slow on one chunk catches up on the next
        ones. The cycle model follows it exactly (a recurrence over chunks instead of a sum).
    permute : bool
        Output permutation network on/off. On: a per-layer slot table maps (round, unit) to an output
        channel, so GB-S/GB-H may assign any filter to any unit; results are read back in channel
        order through the table. Off: round ``r`` unit ``u`` computes channel ``r*n_units+u``.
    max_reduction : int
        Largest C*R*S the engine supports (sizes the accumulator check; default 32768 covers VGG-16
        including its FC layers).
    act_depth : int
        Words (chunks) of the activation memory: at least H*W*ceil(C/chunk) of any layer run.
    weight_depth : int
        Words (chunks) of each unit's resident filter bank: rounds*R*S*ceil(C/chunk).
    out_depth : int
        Words (accumulators) of each unit's output bank: rounds*Ho*Wo.
    max_channels : int
        Largest K (output channels) and C; sizes the slot table and channel counters.
    max_size : int
        Largest H and W (and so Ho, Wo).
    max_kernel : int
        Largest R and S.
    max_stride : int
        Largest stride.
    select : str
        Form of the compute unit's two ``chunk``:1 operand selects by prefix offset: ``"mux"``
        (indexed, ``values[offset]``; the default) or ``"onehot"``
        (:func:`hw.common.innerjoin.onehot_select`: offsets decoded to one-hot enables AND-ed
        with the values and OR-ed in balanced trees: smaller, slower). Same results and cycles;
        docs/sparten_area.md measures both. The dense baselines copy it (like for like).
    """

    chunk: int = 128
    value_width: int = 8
    acc_width: int = 32
    n_units: int = 32
    matches_per_cycle: int = 1
    fifo_depth: int = 0
    unit_fifo_depth: int = 0
    permute: bool = True
    max_reduction: int = 32768
    act_depth: int = 8192
    weight_depth: int = 1024
    out_depth: int = 4096
    max_channels: int = 1024
    max_size: int = 256
    max_kernel: int = 7
    max_stride: int = 4
    select: str = "mux"

    def __post_init__(self):
        check_pow2("chunk", self.chunk, 8, 256)
        check_int("value_width", self.value_width, 2, 16)
        check_int("acc_width", self.acc_width, 8, 64)
        check_int("n_units", self.n_units, 1, 256)
        check_choice("matches_per_cycle", self.matches_per_cycle, {1, 2, 4})
        check_int("fifo_depth", self.fifo_depth, 0, 64)
        if self.fifo_depth and (self.fifo_depth < 2 or self.fifo_depth & (self.fifo_depth - 1)):
            # Depth 1 would halve the throughput (a full one-entry FIFO cannot take and give in the
            # same cycle), which the cycle model does not describe.
            raise ConfigError(f"fifo_depth must be 0 or a power of two in 2..64, not {self.fifo_depth!r}")
        check_int("unit_fifo_depth", self.unit_fifo_depth, 0, 8)
        if not isinstance(self.permute, bool):
            raise ConfigError(f"permute must be True or False, not {self.permute!r}")
        check_int("max_reduction", self.max_reduction, 1, 1 << 24)
        check_int("act_depth", self.act_depth, 1, 1 << 22)
        check_int("weight_depth", self.weight_depth, 1, 1 << 22)
        check_int("out_depth", self.out_depth, 1, 1 << 22)
        check_int("max_channels", self.max_channels, 1, 1 << 16)
        check_int("max_size", self.max_size, 1, 4096)
        check_int("max_kernel", self.max_kernel, 1, 15)
        check_int("max_stride", self.max_stride, 1, 8)
        check_choice("select", self.select, set(SELECTS))
        need = self.max_reduction * (1 << (2 * self.value_width - 2))
        if need > self.acc_max:
            raise ConfigError(
                f"acc_width={self.acc_width!r} cannot hold a reduction of max_reduction="
                f"{self.max_reduction} products of {self.value_width}-bit values (needs |sum| up to "
                f"{need}); accepted acc_width is {self.min_acc_width}..64")

    # Derived values.
    @property
    def min_acc_width(self):
        """Smallest accumulator width holding ``max_reduction`` worst-case products."""
        need = self.max_reduction * (1 << (2 * self.value_width - 2))
        return need.bit_length() + 1

    @property
    def acc_max(self):
        return (1 << (self.acc_width - 1)) - 1

    @property
    def value_min(self):
        return -(1 << (self.value_width - 1))

    @property
    def value_max(self):
        return (1 << (self.value_width - 1)) - 1

    @property
    def chunk_bits(self):
        """Bits of one stored chunk: mask plus the packed values (``chunk`` slots)."""
        return self.chunk * (1 + self.value_width)

    @property
    def count_width(self):
        """Width of a match count within a chunk (0..chunk)."""
        return ceil_log2(self.chunk + 1)


#: The small configuration the RTL tests build (fast Verilator builds, small memories).
#: Memories are kept as small as a ~1M-MAC test layer allows: Amaranth emits every memory's init
#: contents, so conversion time grows with total memory bits.
SMALL = SparTenConfig(chunk=8, n_units=4, act_depth=2048, weight_depth=512, out_depth=1024,
                      max_channels=128, max_size=64, max_kernel=5, max_stride=2, max_reduction=4096)

#: The paper's configuration (SparTen, MICRO'19): 32 compute units, chunk 128, one match per cycle;
#: memories sized for VGG-16-class layers (larger layers are tiled by the planner).
#: Its operand selects stay indexed: one-hot ones save 3.0k um^2 a unit but cost 0.26 ns, and
#: with the dense array's selects one-hot too (like for like) the iso-area ratio is the same
#: (docs/sparten_area.md).
PAPER = SparTenConfig()

#: Named presets (``sparse-hw ... --config NAME``); defined here only.
PRESETS = {"small": SMALL, "paper": PAPER}


def resolve(spec):
    """A preset name, a JSON file or a :class:`SparTenConfig` -> the config (see
    :func:`hw.common.config.resolve_config`)."""
    return resolve_config(SparTenConfig, PRESETS, spec)
