"""Configuration of the EUREKA-style tensor core and of its two baselines.

One frozen dataclass, :class:`EurekaConfig`, feeds the generator (``hw/eureka/core.py``), the golden
packer and cycle model (``golden/eureka.py``), the testbenches and synthesis. The ``variant`` field
makes the same generator emit three designs of equal R x L multipliers:

``"eureka"``
    G:1 activation mux per (row, lane) slot driven by metadata, and (if ``"suds"`` is a mode) the
    SUDS displacement path: a slot may hold a weight of the row above whose product is steered back
    to that row's accumulator.
``"dense"``
    The dense baseline: no muxes and no metadata; each lane sees one activation per cycle
    (``group`` must be 1).
``"ampere24"``
    An Ampere-like 2:4 sparse core: ``group`` 4 (a 4:1 mux per slot), modes dense and 2:4 only, no
    displacement path.
"""

import dataclasses

from amaranth.utils import ceil_log2

# Modes and N:M ratios are golden's (the lowest layer); parse_mode, mode_name and NM_RATIOS are
# re-exported here for hw's readers.
from golden.nm import NM_RATIOS, group_modes, mode_name, parse_mode  # noqa: F401

from ..common.config import (ConfigBase, ConfigError, check_choice, check_int, check_pow2,
                             resolve_config)

__all__ = ["EurekaConfig", "VARIANTS", "STEERS", "LANE_SYNCS", "SELECTS", "MOVED_SUMS", "SMALL", "PAPER", "PRESETS", "resolve",
           "parse_mode", "mode_name", "EurekaGemmConfig", "GEMM_SMALL", "GEMM_PAPER", "GEMM_PRESETS", "resolve_gemm"]

VARIANTS = ("eureka", "dense", "ampere24")
#: Where the SUDS datapath splits moved from own products (:class:`EurekaConfig` ``steer``).
STEERS = ("before", "after")
#: How the lanes step through their windows (:class:`EurekaConfig` ``lane_sync``).
LANE_SYNCS = ("lockstep", "independent")
#: How a slot's G:1 activation select is written (:class:`EurekaConfig` ``select``).
SELECTS = ("mux", "onehot")
#: Where the SUDS moved sums meet the accumulators (:class:`EurekaConfig` ``moved_sum``).
MOVED_SUMS = ("auto", "accumulate", "tree")


@dataclasses.dataclass(frozen=True)
class EurekaConfig(ConfigBase):
    """Parameters of one EUREKA-style tensor core (or of one of its baselines).

    Parameters
    ----------
    rows : int
        R, output channels computed at once (one accumulator and reduction tree per row); 1..64.
    lanes : int
        L, multipliers per row; 1..256.
    value_width : int
        Width of signed weights and activations (default 8); 2..16.
    acc_width : int
        Width of the signed accumulators (default 32), wraps like an int32 register; must hold at
        least one product plus the reduction growth.
    group : int
        G, activations each lane sees per window, selected by a G:1 mux (4 = Ampere's 4:1 mux,
        8 ours); power of two 1..16. Must be 1 for ``variant="dense"`` and 4 for ``"ampere24"``.
    variant : str
        ``"eureka"``, ``"dense"`` or ``"ampere24"`` (see the module docstring).
    modes : tuple of str
        Modes the core must run: ``"dense"``, ``"nm:N:M"`` (M must divide G), ``"suds"``,
        ``"unstructured-nosuds"``. Empty (default) means every mode the variant and G allow.
        Only ``"suds"`` changes the hardware (it adds the displacement path).
    steer : str
        Where the SUDS datapath splits moved products from own ones (SUDS only; see
        :mod:`hw.eureka.core`). ``"before"``: steered before the product register, own and moved
        products registered separately, each reduced by its own full tree. ``"after"`` (default):
        one product register (plus the ``disp`` bit) per slot; the row's tree sums all its products
        and the moved sum is subtracted from it and added to the row above.
    disp_budget : int
        D, moved slots a row may host per cycle (SUDS only). 0 (no budget): any lane may host a
        moved weight in any cycle, and the moved sum is a full tree of L products. 1..L with L a
        multiple of D: the lanes form D contiguous segments of L/D lanes, at most one of which
        hosts a moved weight per cycle; the moved sum is an OR per segment plus a D-input adder.
        The offline scheduler honours the budget. Needs ``steer="after"``. Default 1: at 8x32,
        G=8 it costs 1.6% of the natural-order speed-up and none of the balanced order's at
        d_w 0.2, for the least area (``build/reports/suds_variants.md``, ``make area``).
    lane_sync : str
        ``"lockstep"`` (default): all lanes step through the same window, which costs the cycles
        of its slowest lane; one activation stream of whole windows. ``"independent"``: each lane
        steps through its own windows (its own activation stream of G values per window, popped
        by its own ``last_window`` bit) and the lanes meet only where an output ends, which then
        costs the cycles of the lane with the most work over the whole column. Variant
        ``"eureka"`` only; needs ``disp_budget=0`` (lanes that do not share windows cannot share
        a budget of moved slots, so the moved path is a full tree per row), and the packer's
        balanced column order (``permute``) is for lock-step lanes. Lock-step stays the default:
        at 8x32, G=8, d_w 0.2 independent lanes reach 2.62x over dense in natural order (iso-area
        1.97x; the default 1.86x, 1.56x) but the default with the balanced order reaches 4.80x
        (iso-area 4.02x); ``docs/eureka_area.md``.
    select : str
        How each slot's G:1 activation select is written (same function, different netlist; the
        baselines keep it, so the 2:4 core's 4:1 select is written the same way). ``"mux"``: an
        indexed mux ``a[sel]`` gated by ``valid``. ``"onehot"`` (default): ``sel`` and ``valid``
        decoded into G one-hot enables, and the value a balanced OR of G AND terms, which Yosys/ABC
        map to AOI22 + NAND4 cells: at 1x32 on sky130 hd the G=8 select of a row is 11,371 µm²
        instead of 17,136 (the 4:1 one 6,967 instead of 9,209).
    moved_sum : str
        Where the moved sums meet the accumulators (``steer="after"`` with SUDS). ``"accumulate"``:
        ``M[r]`` registered after its path and the accumulate is ``acc[r] += S[r] - M[r] +
        M[r+1]``. ``"tree"``: ``M[r+1] - M[r]`` (one moved product each with ``disp_budget=1``, so
        the difference fits a product's width) is added to row r's tree sum before the tree's
        output register, and the accumulate is ``acc[r] += S'[r]`` as in the baselines; needs
        ``disp_budget=1`` and ``tree_share=1``. ``"auto"`` (default): ``"tree"`` where it applies
        (SUDS with ``disp_budget=1`` and ``tree_share=1``), ``"accumulate"`` elsewhere; at 8x32,
        G=8 the tree form is 1,084,335 µm² against 1,090,505 for the same cycles
        (``docs/eureka_area.md``). The resolved form is :attr:`moved_sum_resolved` (in the repr
        and the sidecar); configs compare equal when their resolved forms are.
    moved_sum_resolved : str
        Derived, not an argument: ``"tree"`` or ``"accumulate"``, the form the core builds.
    tree_share : int
        Rows that share one set of reduction trees (own and moved), 1 (default: a tree per row)
        or 2: each pair of rows ``2k, 2k+1`` has one product register, one own tree and one moved
        path, which the two rows take in turns: a weight beat is held on its input for
        :attr:`issue_interval` = 2 cycles (row ``2k``'s products in the first, row ``2k+1``'s in the
        second, when the beat transfers), so the throughput halves. Variant ``"eureka"`` with
        lock-step lanes and an even ``rows``; with SUDS it needs ``steer="after"``; not for the
        preload top. Not the default: at 8x32, G=8 it saves area but halves the speed-up
        (``docs/eureka_area.md``, "Trees shared between rows").
    """

    rows: int = 8
    lanes: int = 32
    value_width: int = 8
    acc_width: int = 32
    group: int = 8
    variant: str = "eureka"
    modes: tuple = ()
    steer: str = "after"
    disp_budget: int = 1
    lane_sync: str = "lockstep"
    select: str = "onehot"
    moved_sum: str = dataclasses.field(default="auto", compare=False)
    tree_share: int = 1
    moved_sum_resolved: str = dataclasses.field(init=False, default="accumulate")

    def __post_init__(self):
        check_int("rows", self.rows, 1, 64)
        check_int("lanes", self.lanes, 1, 256)
        check_int("value_width", self.value_width, 2, 16)
        check_pow2("group", self.group, 1, 16)
        check_choice("variant", self.variant, VARIANTS)
        need = 2 * self.value_width + ceil_log2(2 * self.lanes) + 1
        check_int("acc_width", self.acc_width, need, 64)
        if self.variant == "dense" and self.group != 1:
            raise ConfigError(f"group must be 1 for variant 'dense' (no activation mux), "
                              f"not {self.group!r}")
        if self.variant == "ampere24" and self.group != 4:
            raise ConfigError(f"group must be 4 for variant 'ampere24' (Ampere's 4:1 mux), "
                              f"not {self.group!r}")
        if self.variant == "eureka" and self.group < 2:
            raise ConfigError(f"group must be a power of two in 2..16 for variant 'eureka', "
                              f"not {self.group!r}")
        if not isinstance(self.modes, tuple):
            raise ConfigError(f"modes must be a tuple of mode strings, not {self.modes!r}")
        allowed = self.allowed_modes
        for mode in self.modes:
            if mode not in allowed:
                raise ConfigError(f"modes: {mode!r} is not supported by variant {self.variant!r} "
                                  f"with group {self.group}; accepted: {list(allowed)!r}")
        if len(set(self.modes)) != len(self.modes):
            raise ConfigError(f"modes must not repeat a mode, not {self.modes!r}")
        check_choice("steer", self.steer, STEERS)
        check_int("disp_budget", self.disp_budget, 0, self.lanes)
        if self.disp_budget and self.lanes % self.disp_budget:
            raise ConfigError(f"disp_budget must divide lanes ({self.lanes}) or be 0, "
                              f"not {self.disp_budget!r}")
        if self.disp_budget and self.steer != "after":
            raise ConfigError(f"disp_budget {self.disp_budget} needs steer='after' (the moved "
                              f"segments are read after the product register), not "
                              f"{self.steer!r}")
        check_choice("lane_sync", self.lane_sync, LANE_SYNCS)
        check_choice("select", self.select, SELECTS)
        if self.independent and self.variant != "eureka":
            raise ConfigError(f"lane_sync 'independent' needs variant 'eureka' (a baseline's "
                              f"lanes always share the window), not {self.variant!r}")
        if self.independent and self.disp_budget:
            raise ConfigError(f"lane_sync 'independent' needs disp_budget=0 (independent lanes "
                              f"share no moved-slot budget), not {self.disp_budget!r}")
        self._check_tree_share()
        self._resolve_moved_sum()

    def _resolve_moved_sum(self):
        check_choice("moved_sum", self.moved_sum, MOVED_SUMS)
        fits = self.disp_budget == 1 and self.tree_share == 1     # disp_budget 1: steer after
        if self.moved_sum == "tree" and not fits:
            raise ConfigError(f"moved_sum 'tree' needs disp_budget=1 and tree_share=1 (one moved "
                              f"product per row and cycle, a tree per row), not "
                              f"{self.disp_budget!r} and {self.tree_share!r}")
        if self.moved_sum == "tree" and not self.has_suds:
            raise ConfigError(f"moved_sum 'tree' needs the 'suds' mode (there are no moved sums "
                              f"without it), not modes {list(self.supported_modes)!r}")
        form = self.moved_sum
        if form == "auto":
            form = "tree" if fits and self.has_suds else "accumulate"
        object.__setattr__(self, "moved_sum_resolved", form)

    @classmethod
    def from_dict(cls, d):
        """:meth:`ConfigBase.from_dict`; a ``moved_sum_resolved`` entry (derived, as the sidecar
        writes it) must match the resolved form of the other fields."""
        d = dict(d)
        form = d.pop("moved_sum_resolved", None)
        cfg = super().from_dict(d)
        if form is not None and form != cfg.moved_sum_resolved:
            raise ConfigError(f"moved_sum_resolved {form!r} does not match the config, which "
                              f"resolves moved_sum {cfg.moved_sum!r} to {cfg.moved_sum_resolved!r}")
        return cfg

    def _check_tree_share(self):
        check_int("tree_share", self.tree_share, 1, 2)
        if self.tree_share == 1:
            return
        if self.variant != "eureka":
            raise ConfigError(f"tree_share {self.tree_share} needs variant 'eureka' (the "
                              f"baselines keep a tree per row), not {self.variant!r}")
        if self.rows % self.tree_share:
            raise ConfigError(f"tree_share {self.tree_share} needs rows to be a multiple of it "
                              f"(rows share trees in groups of {self.tree_share}), not {self.rows!r}")
        if self.independent:
            raise ConfigError(f"tree_share {self.tree_share} needs lane_sync 'lockstep' (the rows "
                              f"of a group take turns on one beat), not {self.lane_sync!r}")
        if self.has_suds and self.steer != "after":
            raise ConfigError(f"tree_share {self.tree_share} needs steer='after' with SUDS (one "
                              f"product register per group of rows), not {self.steer!r}")

    # -- derived values --------------------------------------------------------------------------

    @property
    def allowed_modes(self):
        """Every mode this variant and group can run (N:M needs M to divide G)."""
        if self.variant == "dense":
            return ("dense",)
        if self.variant == "ampere24":
            return ("dense", "nm:2:4")
        return group_modes(self.group)

    @property
    def supported_modes(self):
        """The modes the core runs: ``modes`` or, if empty, :attr:`allowed_modes`."""
        return self.modes or self.allowed_modes

    @property
    def has_mux(self):
        """True when every slot has a G:1 activation mux and a select index in its metadata."""
        return self.group > 1

    @property
    def has_suds(self):
        """True when the displacement path (second reduction tree per row) is built."""
        return "suds" in self.supported_modes

    @property
    def independent(self):
        """True when every lane steps through its own windows (``lane_sync="independent"``)."""
        return self.lane_sync == "independent"

    @property
    def segment(self):
        """Lanes per displacement segment: ``L / disp_budget``; 1 without a budget (every lane
        may host a moved weight in every cycle, as with ``disp_budget = L``)."""
        return self.lanes // self.disp_budget if self.disp_budget else 1

    @property
    def issue_interval(self):
        """Cycles one weight beat occupies the core: ``tree_share`` (the rows sharing a tree take
        it in turns). The core's busy counter and :func:`golden.eureka.cycle_model` count these."""
        return self.tree_share

    @property
    def sel_width(self):
        return ceil_log2(self.group)

    @property
    def window(self):
        """Activations in one window: G per lane, for all L lanes."""
        return self.lanes * self.group

    @property
    def macs(self):
        return self.rows * self.lanes

    def check_mode(self, mode):
        """Raise :class:`ValueError` unless ``mode`` is one this core runs; return its parse."""
        parsed = parse_mode(mode)
        if mode not in self.supported_modes:
            raise ValueError(f"mode {mode!r} is not supported by this core (variant "
                             f"{self.variant!r}, group {self.group}); choose from "
                             f"{list(self.supported_modes)!r}")
        return parsed

    # -- named variants of equal R x L -----------------------------------------------------------

    def dense_baseline(self):
        """The dense tensor core of the same R x L and widths."""
        return dataclasses.replace(self, variant="dense", group=1, modes=(), steer="before",
                                   disp_budget=0, lane_sync="lockstep", tree_share=1,
                                   moved_sum="auto")

    def ampere24_baseline(self):
        """The Ampere-like 2:4 core (G = 4, dense and 2:4 only) of the same R x L and widths."""
        return dataclasses.replace(self, variant="ampere24", group=4, modes=(), steer="before",
                                   disp_budget=0, lane_sync="lockstep", tree_share=1,
                                   moved_sum="auto")


#: The small core the RTL tests and quick runs build (4 rows x 8 lanes, G=8).
SMALL = EurekaConfig(rows=4, lanes=8, group=8)

#: The tensor-core size of the reproduction (8 rows x 32 lanes, G=8): ``make verilog``'s
#: ``eureka_core`` and the bench's headline workload.
PAPER = EurekaConfig(rows=8, lanes=32, group=8)

#: Named presets (``sparse-hw ... --config NAME``); defined here only.
PRESETS = {"small": SMALL, "paper": PAPER}


def resolve(spec):
    """A preset name, a JSON file or an :class:`EurekaConfig` -> the config (see
    :func:`hw.common.config.resolve_config`)."""
    return resolve_config(EurekaConfig, PRESETS, spec)


# -- preload mode: the core with its on-chip buffers (hw/eureka/preload.py) ------------------------


@dataclasses.dataclass(frozen=True)
class EurekaGemmConfig(ConfigBase):
    """The EUREKA core with on-chip buffers it reads itself (:class:`hw.eureka.preload.EurekaGemm`).

    Parameters
    ----------
    core : EurekaConfig
        The tensor core, unchanged inside the wrapper.
    weight_depth : int
        Words of the weight buffer; a word is one weight beat of the core (every slot's weight,
        select, valid and displacement bits, ``last_window``, ``last``) plus the index of the
        activation window it uses. ``core.group`` .. 2**20: one window of one row tile takes up to
        G beats, so a smaller buffer could not hold even that.
    act_depth : int
        Words of the activation buffer; a word is one activation window (``L*G`` values). 1..2**20.

    Buffer sizes are ours (EUREKA does not give them): :data:`GEMM_PAPER` has 512 words each, 208 KiB
    of weight beats and 128 KiB of activations at 8x32, G=8.
    """

    core: EurekaConfig = PAPER
    weight_depth: int = 512
    act_depth: int = 512

    def __post_init__(self):
        if not isinstance(self.core, EurekaConfig):
            raise ConfigError(f"core must be an EurekaConfig, not {self.core!r}")
        check_int("weight_depth", self.weight_depth, self.core.group, 1 << 20)
        check_int("act_depth", self.act_depth, 1, 1 << 20)
        if self.core.independent:
            raise ConfigError(f"core.lane_sync must be 'lockstep' for the preload top (one "
                              f"activation buffer of whole windows), not {self.core.lane_sync!r}")
        if self.core.tree_share != 1:
            raise ConfigError(f"core.tree_share must be 1 for the preload top (its issue logic "
                              f"sends a beat per cycle), not {self.core.tree_share!r}")

    def to_dict(self):
        return {"kind": type(self).__name__, "core": self.core.to_dict(),
                "weight_depth": self.weight_depth, "act_depth": self.act_depth}

    @classmethod
    def from_dict(cls, d):
        """Also accepts a plain :class:`EurekaConfig` dict: that core with the default buffers."""
        d = dict(d)
        kind = d.pop("kind", cls.__name__)
        if kind == EurekaConfig.__name__:
            return cls(core=EurekaConfig.from_dict(d))
        if kind != cls.__name__:
            raise ConfigError(f"sidecar describes a {kind}, not a {cls.__name__}")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} field(s): {sorted(unknown)!r}")
        if "core" in d:
            if not isinstance(d["core"], dict):
                raise ConfigError(f"core must be an EurekaConfig dict, not {d['core']!r}")
            d["core"] = EurekaConfig.from_dict(d["core"])
        return cls(**d)

    # Word widths come from the wrapper's layouts (one place); the planner reads them from here.

    @property
    def weight_word_bits(self):
        from amaranth.hdl import Shape
        from .preload import weight_word_layout
        return Shape.cast(weight_word_layout(self)).width

    @property
    def act_word_bits(self):
        return self.core.window * self.core.value_width

    @property
    def out_word_bits(self):
        return self.core.rows * self.core.acc_width


#: The preload top the tests build: the SMALL core with small buffers, so that plans tile.
GEMM_SMALL = EurekaGemmConfig(core=SMALL, weight_depth=64, act_depth=16)

#: The paper-sized core with our buffer sizes (``make verilog``'s ``eureka_gemm``, the CLI default).
GEMM_PAPER = EurekaGemmConfig(core=PAPER, weight_depth=512, act_depth=512)

#: Named presets of the preload top (``sparse-hw run eureka --config NAME``); defined here only.
GEMM_PRESETS = {"small": GEMM_SMALL, "paper": GEMM_PAPER}


def resolve_gemm(spec):
    """A preset name, a JSON file (an :class:`EurekaGemmConfig`, or an :class:`EurekaConfig` that
    gets the default buffers), an :class:`EurekaGemmConfig`, or an :class:`EurekaConfig` -> the
    :class:`EurekaGemmConfig`."""
    if isinstance(spec, EurekaConfig):
        return EurekaGemmConfig(core=spec)
    return resolve_config(EurekaGemmConfig, GEMM_PRESETS, spec)
