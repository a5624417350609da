"""Workloads of ``sparse-hw power``: what each design runs, and how its results are checked.

A :class:`Job` names a design (an Amaranth component and its config), the stimulus as
:mod:`sim.native` command-script parts (streams fed, streams drained, expected beats), the
golden check of what the netlist computed, and the MAC counts energy is divided by.

EUREKA (``eureka_jobs``): one GEMM ``W[M,K] x A[K,N]`` with uniform random d_w = 0.2 weights
(the bench's generator, :func:`sim.bench_eureka._sparse`), run by the EUREKA core with SUDS
(balanced column order, as the bench's headline) and by the dense core in dense mode; one 2:4
GEMM of the same shape (:func:`sim.bench_eureka._nm`) run by the Ampere-like core and by the
EUREKA core in 2:4 mode. Activations are dense random int8 (EUREKA is one-sided).

SparTen (``sparten_jobs``) and BARISTA (``barista_jobs``): one VGG-like 3x3 layer run by the
engine and by the dense MAC array of as many MACs (zeros multiplied).
"""

import dataclasses

import numpy as np

__all__ = ["Job", "eureka_jobs", "sparten_jobs", "barista_jobs", "barista_config", "EUREKA_SHAPE",
           "DENSITY", "SPARTEN_LAYER", "BARISTA_LAYER"]

#: GEMM of the power workload at the measured core size (M rows of W, K, N columns of A).
EUREKA_SHAPE = (16, 1024, 16)
DENSITY = 0.2
SEED = 2023


@dataclasses.dataclass
class Job:
    design: str
    engine: str
    role: str
    config: object
    make: object               # () -> wiring.Component
    workload: str
    description: str
    setup: list                # native commands before the window (feeds, drains; may step)
    finish: list               # commands after the window (run to the end)
    expected_cycles: int       # cycles after ``setup`` (golden cycle model)
    check: object              # (RunResult) -> dict of checked facts; raises AssertionError
    macs: int                  # useful MACs (non-zero weight x activation)
    dense_macs: int            # M*K*N
    peek: tuple = ("busy",)


def _pack(layout, **fields):
    """Integer payload of a ``lib.data`` struct from top-level field values (ints; a nested
    struct's value is already its packed bits), at the layout's own offsets."""
    from amaranth.hdl import Shape
    word = 0
    for name, v in fields.items():
        f = layout[name]
        width = Shape.cast(f.shape).width
        word |= (int(v) & ((1 << width) - 1)) << f.offset
    return word


def _eureka_name(base, cfg):
    from hw.eureka.config import PAPER
    same = (cfg.rows, cfg.lanes) == (PAPER.rows, PAPER.lanes)
    return base if same else f"{base}_{cfg.rows}x{cfg.lanes}"


def _eureka_job(design, role, cfg, w, a, mode, workload, desc, permute=False):
    from hw.eureka.beats import decode_results
    from hw.eureka.core import EurekaCore
    from sim.run_eureka import prepare_case
    case, sched, golden, model, w2 = prepare_case(cfg, w, a, mode, workload, permute=permute)

    def check(res):
        beats = res.streams.get("o", [])
        if len(beats) != case["n_out"]:
            raise AssertionError(f"{design} {workload}: {len(beats)} results, expected "
                                 f"{case['n_out']}")
        out = decode_results(cfg, beats, case["M"], case["N"])
        if case.get("row_order") is not None:
            nat = np.empty_like(out)
            nat[np.array(case["row_order"])] = out
            out = nat
        exact = bool(np.array_equal(out, np.asarray(golden)))
        busy = res.peeked.get("busy", [None])[-1]
        if not exact:
            raise AssertionError(f"{design} {workload}: netlist result differs from golden")
        if busy != case["model_cycles"]:
            raise AssertionError(f"{design} {workload}: busy {busy} != cycle model "
                                 f"{case['model_cycles']}")
        return {"bit_exact": exact, "busy_cycles": busy, "model_cycles": case["model_cycles"]}

    m, k = w2.shape
    n = np.asarray(a).shape[1]
    return Job(design=design, engine="eureka", role=role, config=cfg,
               make=lambda: EurekaCore(cfg), workload=workload, description=desc,
               setup=[("feed_bg", "w", [int(x, 16) for x in case["w"]]),
                      ("feed_bg", "a", [int(x, 16) for x in case["a"]]), ("drain", "o")],
               finish=[("until_beats", "o", case["n_out"], 20 * case["model_cycles"] + 1000)],
               expected_cycles=case["model_cycles"], check=check,
               macs=int((w2 != 0).sum()) * n, dense_macs=m * k * n)


def eureka_jobs(config=None, shape=EUREKA_SHAPE, density=DENSITY, seed=SEED):
    """The four EUREKA jobs (see the module docstring) at ``config``'s size (default: the
    tests' 4x8 core, G=8)."""
    from hw.eureka.config import SMALL
    from sim.bench_eureka import _nm, _sparse
    cfg = config or SMALL
    m, k, n = shape
    rng = np.random.default_rng(seed)
    w_sp = _sparse(rng, (m, k), density)
    w24 = _nm(rng, (m, k), 2, 4)
    a = rng.integers(-128, 128, (k, n))
    sp = f"gemm_dw{density:g}"
    sp_desc = f"GEMM {m}x{k} x {k}x{n}, uniform random d_w={density:g} weights, dense int8 activations"
    nm_desc = f"GEMM {m}x{k} x {k}x{n}, 2:4 weights, dense int8 activations"
    amp, dense = cfg.ampere24_baseline(), cfg.dense_baseline()
    return [
        _eureka_job(_eureka_name("eureka_core", cfg), "engine", cfg, w_sp, a, "suds", sp,
                    sp_desc + ", SUDS, balanced column order", permute=True),
        _eureka_job(_eureka_name("eureka_dense", cfg), "dense-baseline", dense, w_sp, a, "dense",
                    sp, sp_desc + ", dense mode (zeros multiplied)"),
        _eureka_job(_eureka_name("eureka_ampere24", cfg), "sparse-baseline", amp, w24, a,
                    "nm:2:4", "gemm_2to4", nm_desc + ", 2:4 mode"),
        _eureka_job(_eureka_name("eureka_core", cfg), "engine", cfg, w24, a, "nm:2:4",
                    "gemm_2to4", nm_desc + ", 2:4 mode"),
    ]


# -- SparTen --------------------------------------------------------------------------------------

#: VGG-like conv layer of the power workload: C channels, H x W map, K = n_units filters, 3x3,
#: stride 1, no padding; Han et al.-like filter density and post-ReLU activation density.
SPARTEN_LAYER = {"channels": 32, "size": 6, "kernel": 3, "weight_density": 0.35,
                 "act_density": 0.45}


def _sparten_layer(cfg, layer, seed):
    rng = np.random.default_rng(seed)
    c, hw, r = layer["channels"], layer["size"], layer["kernel"]
    k = cfg.n_units
    w = rng.integers(-127, 128, (k, c, r, r)) * (rng.random((k, c, r, r)) < layer["weight_density"])
    # post-ReLU activations: non-negative, many zeros
    a = rng.integers(1, 128, (c, hw, hw)) * (rng.random((c, hw, hw)) < layer["act_density"])
    return (w, a, *_conv_valid(w, a))


def _conv_valid(w, a):
    """``(out[K,Ho,Wo], useful MACs)`` of the stride-1, unpadded convolution of ``a[C,H,W]``
    by ``w[K,C,R,S]`` (the useful MACs: non-zero weight x non-zero activation)."""
    k, _, r, s = w.shape
    ho, wo = a.shape[1] - r + 1, a.shape[2] - s + 1
    out = np.zeros((k, ho, wo), np.int64)
    macs = 0
    for y in range(ho):
        for x in range(wo):
            win = a[:, y:y + r, x:x + s]
            out[:, y, x] = (w * win[None]).sum(axis=(1, 2, 3))
            macs += int(((w != 0) & (win[None] != 0)).sum())
    return out, macs


def _sparten_tensors(cfg, layer, seed, arrays):
    """``(w, a, golden, useful MACs)``: the seeded layer, or the given ``arrays`` checked."""
    if arrays is None:
        return _sparten_layer(cfg, layer, seed)
    w, a = (np.asarray(x, np.int64) for x in arrays)
    if w.shape[0] != cfg.n_units or w.shape[2] != w.shape[3]:
        raise ValueError(f"sparten_jobs: filters must be [n_units={cfg.n_units}, C, R, R], "
                         f"not {w.shape}")
    return (w, a, *_conv_valid(w, a))


def _sparten_chunker(cfg):
    """``chunk(vec) -> (values zero-padded to a chunk, packed SparseMap word)``."""
    from hw.sparten.memmap import pack_chunk
    n = cfg.chunk

    def chunk(vec):
        v = np.zeros(n, np.int64)
        v[:len(vec)] = vec
        nz = np.flatnonzero(v)
        return v, pack_chunk(sum(1 << int(i) for i in nz), v[nz], cfg)
    return chunk


def _sparten_writes(cfg, w, taps):
    """The cluster's filter-bank writes (``w_wr`` words, one per unit and tap), then an idle 0."""
    from hw.sparten.cluster import weight_write_layout
    n, chunk, ww = cfg.chunk, _sparten_chunker(cfg), weight_write_layout(cfg)
    writes = [_pack(ww, en=1, unit=u, addr=addr, data=chunk(w[u, j * n:(j + 1) * n, ty, tx])[1])
              for u in range(w.shape[0]) for addr, (ty, tx, j) in enumerate(taps)]
    return writes + [0]


def _sparten_streams(cfg, da, w, a, taps, positions):
    """``(beats, seq)``: the cluster's broadcast chunks and the dense array's ``f``/``a`` beats,
    per output position in ``positions`` and per tap."""
    from hw.sparten.cluster import cluster_input_layout
    n, chunk, il = cfg.chunk, _sparten_chunker(cfg), cluster_input_layout(cfg)
    k, c = w.shape[:2]
    wo = max(x for _, x in positions) + 1
    beats, seq = [], []
    for y, x in positions:
        p = y * wo + x
        for t, (ty, tx, j) in enumerate(taps):
            vals, word = chunk(a[j * n:(j + 1) * n, y + ty, x + tx])
            first, last = t == 0, t == len(taps) - 1
            beats.append(_pack(il, act=word, w_addr=t, first=first, last=last, out_addr=p))
            for u in range(k):
                fv = np.zeros(n, np.int64)
                fv[:min(n, c - j * n)] = w[u, j * n:(j + 1) * n, ty, tx]
                seq.append(("f", da._f_layout.const({"unit": u, "values": fv.tolist()})
                            .as_bits()))
            seq.append(("a", da._a_layout.const({"values": vals.tolist(), "first": first,
                                                 "last": last}).as_bits()))
    return beats, seq


def _sparten_checks(cfg, da, golden, positions):
    """``(check_cluster, check_dense)``: each compares a run's results with ``golden``."""
    from hw.sparten.cu import result_layout
    k, P = golden.shape[0], len(positions)
    rl = result_layout(cfg)
    mask = (1 << rl.size) - 1

    def check_cluster(res):
        got = {}
        for _, v in res.watched.get("res", []):
            for u in range(k):
                f = rl.from_bits((v >> (u * rl.size)) & mask)
                if f.valid:
                    got[(u, int(f.addr))] = int(f.value)
        want = {(u, p): int(golden[u, y, x]) for u in range(k) for p, (y, x) in enumerate(positions)}
        if got != want:
            bad = sorted(set(want.items()) ^ set(got.items()))[:3]
            raise AssertionError(f"sparten cluster: results differ from golden, e.g. {bad}")
        return {"bit_exact": True, "results": len(got)}

    def check_dense(res):
        ol = da._o_layout
        sums = [ol.from_bits(v) for v in res.streams.get("o", [])]
        if len(sums) != P:
            raise AssertionError(f"dense array: {len(sums)} results, expected {P}")
        for p, (y, x) in enumerate(positions):
            for u in range(k):
                if int(sums[p].sums[u]) != int(golden[u, y, x]):
                    raise AssertionError(f"dense array: unit {u} position {p} = "
                                         f"{int(sums[p].sums[u])}, golden {golden[u, y, x]}")
        return {"bit_exact": True, "results": P * k}
    return check_cluster, check_dense


def _sparten_cluster_cycles(n, w, a, taps, positions):
    """Cycle estimate of the cluster (window placement): a chunk occupies it for the most
    matches any unit has in it (at least 1 cycle)."""
    cycles = 0
    for y, x in positions:
        for ty, tx, j in taps:
            m = ((w[:, j * n:(j + 1) * n, ty, tx] != 0)
                 & (a[None, j * n:(j + 1) * n, y + ty, x + tx] != 0)).sum(axis=1)
            cycles += max(1, int(m.max()))
    return cycles


def sparten_jobs(config=None, layer=SPARTEN_LAYER, seed=SEED, arrays=None, workload="vgg_layer",
                 names=None, desc=None):
    """The SparTen cluster and the dense MAC array of as many MACs on one VGG-like layer.

    ``arrays`` = ``(w[n_units, C, R, S], a[C, H, W])`` runs those tensors instead of the seeded
    layer (stride 1, no padding; a sweep point's sample, :mod:`synth.power_sweep`), under
    ``workload`` and the design ``names`` (cluster, dense array) given.

    Cluster: every unit's filter bank is written through ``w_wr`` (one word per cycle), then one
    broadcast chunk per (output position, tap, channel chunk) with the bank address of the
    matching filter chunk; each unit's result strobes (``res``) are recorded and checked against
    the golden convolution, the units' ``matched`` counters against the number of non-zero
    pairs. Dense array: per chunk, the filter chunk of every unit (``f``), then the activation
    chunk (``a``), zeros included; its sums (``o``) are checked likewise.
    """
    from hw.sparten.cluster import Cluster
    from hw.sparten.config import SMALL
    from hw.sparten.dense_baseline import DenseMacArray, DenseMacConfig
    cfg = config or SMALL
    n = cfg.chunk
    w, a, golden, macs = _sparten_tensors(cfg, layer, seed, arrays)
    k, c, r, _ = w.shape
    ho, wo = golden.shape[1], golden.shape[2]
    nc = -(-c // n)
    taps = [(ty, tx, j) for ty in range(r) for tx in range(r) for j in range(nc)]
    positions = [(y, x) for y in range(ho) for x in range(wo)]
    writes = _sparten_writes(cfg, w, taps)
    da = DenseMacArray(DenseMacConfig.like(cfg))    # for its layouts only
    da._MustUse__silence = True
    beats, seq = _sparten_streams(cfg, da, w, a, taps, positions)
    P = ho * wo
    check_cluster, check_dense = _sparten_checks(cfg, da, golden, positions)
    if desc is None:
        desc = (f"VGG-like conv layer {k}x{c}x{r}x{r} on {c}x{layer['size']}x{layer['size']}, "
                f"d_w {layer['weight_density']}, d_a {layer['act_density']}")
    dense_macs = k * P * c * r * r
    # cycle estimates (window placement): dense chunk+1 per chunk; cluster from the matches
    cl_cycles = _sparten_cluster_cycles(n, w, a, taps, positions)
    dcfg = DenseMacConfig.like(cfg)
    dense_cycles = len(taps) * P * (dcfg.chunk + 1 + k)
    tail = 2 * n + 16     # the last results leave the units a few cycles after the last chunk
    sfx = "" if (cfg.chunk, cfg.n_units) == (128, 32) else f"_c{cfg.chunk}u{cfg.n_units}"
    names = names or (f"sparten_cluster{sfx}", f"sparten_dense_array{sfx}")
    return [
        Job(design=names[0], engine="sparten", role="engine", config=cfg,
            make=lambda: Cluster(cfg), workload=workload, description=desc + ", two-sided",
            setup=[("wave", "w_wr", writes), ("feed_bg", "i", beats), ("watch", "res")],
            finish=[("until_fed", 40 * len(beats) + 1000), ("step", tail)],
            expected_cycles=cl_cycles, check=check_cluster, macs=macs, dense_macs=dense_macs,
            peek=()),
        Job(design=names[1], engine="sparten", role="dense-baseline",
            config=dcfg, make=lambda: DenseMacArray(dcfg), workload=workload,
            description=desc + ", dense (zeros multiplied)",
            setup=[("seq", seq), ("drain", "o")],
            finish=[("until_beats", "o", P, 4 * dense_cycles + 1000)],
            expected_cycles=dense_cycles, check=check_dense, macs=macs, dense_macs=dense_macs,
            peek=()),
    ]


# -- BARISTA --------------------------------------------------------------------------------------

#: BARISTA's layer: SparTen's (densities, 3x3, 6x6 map, one filter per unit) with 24 channels, the
#: most (in whole chunks) whose map and filters fit the cluster's banks of :func:`barista_config`
#: (6x6x3 + 4x9x3 = 216 of 256 chunks).
BARISTA_LAYER = dict(SPARTEN_LAYER, channels=24)


def barista_config():
    """The ``barista_cluster`` top's config (``hw.barista.tops``' CLUSTER) with memories the area
    flow maps to cells: every bank and each colour of the output buffer ``MACRO_MIN_DEPTH`` words
    (CLUSTER's 256-word ones are SRAM macros there, with no cells to simulate or Liberty energy)."""
    from hw.barista.tops import CLUSTER
    from .yosys import MACRO_MIN_DEPTH
    return dataclasses.replace(CLUSTER, input_buffer_chunks=CLUSTER.banks * MACRO_MIN_DEPTH,
                               output_buffer_entries=MACRO_MIN_DEPTH)


def _barista_check(design, cfg, lay, golden, want):
    """The check of a ``BaristaCluster`` run: the drained results, in the order and colours of
    :func:`golden.barista.cluster_trace` (``want``), equal to the golden convolution, and the
    cluster's ``cycles``/``reads``/``requests`` counters equal to the trace's."""
    from hw.barista.outbuf import write_layout
    from sim.run_barista import outputs_of
    wl = write_layout(cfg)

    def check(res):
        drained = [(int(p.colour), int(p.addr), int(p.value))
                   for p in (wl.from_bits(v) for v in res.streams.get("o", []))]
        try:
            out = outputs_of(drained, lay, cfg.colours)
        except ValueError as e:
            raise AssertionError(f"{design}: {e}") from None
        if not np.array_equal(out, golden):
            bad = np.argwhere(out != golden)[0].tolist()
            raise AssertionError(f"{design}: output {bad} = {out[tuple(bad)]}, golden "
                                 f"{golden[tuple(bad)]}")
        got = {k: res.peeked.get(k, [None])[-1] for k in ("cycles", "reads", "requests")}
        trace = {k: want[k] for k in got}
        if got != trace:
            raise AssertionError(f"{design}: counters {got}, golden cluster_trace {trace}")
        if drained != list(want["out"]):
            raise AssertionError(f"{design}: drain order differs from golden cluster_trace")
        return {"bit_exact": True, "busy_cycles": got["cycles"], "model_cycles": want["cycles"],
                "reads": got["reads"], "requests": got["requests"], "results": len(drained)}
    return check


def barista_trace(w, a, cfg):
    """:func:`golden.barista.cluster_trace` of the layer with the hardware's published latencies
    (``ComputeUnit.result_latency``, ``BaristaCluster.latencies()``): the job's expected run."""
    from golden.barista import cluster_trace
    from hw.barista.cluster import BaristaCluster
    from hw.sparten.cu import ComputeUnit
    return cluster_trace(w, a, cfg, result_latency=ComputeUnit.result_latency,
                         **BaristaCluster.latencies())


def barista_jobs(config=None, layer=BARISTA_LAYER, seed=SEED, workload="vgg_layer"):
    """The BARISTA cluster (default :func:`barista_config`) and the dense MAC array of as many
    MACs (``barista_dense_array``) on one VGG-like layer (stride 1, no padding).

    Cluster: every chunk word loaded on ``load`` (:func:`sim.run_barista.cluster_words`), the
    descriptor set, ``start`` pulsed, run until ``done``; checked by :func:`_barista_check`
    against the golden convolution and :func:`golden.barista.cluster_trace`, which also gives the
    expected cycles (nothing here is a hard-coded cycle count). Dense array: as
    :func:`sparten_jobs`' (same tensors), checked against the same golden convolution.
    """
    from hw.barista.cluster import BaristaCluster
    from hw.barista.tops import SPARTEN_BASELINE
    from sim.run_barista import cluster_words
    cfg = config or barista_config()
    if (cfg.n_units, cfg.chunk) != (SPARTEN_BASELINE.n_units, SPARTEN_BASELINE.chunk):
        raise ValueError(f"barista_jobs: the dense baseline has {SPARTEN_BASELINE.n_units} MACs "
                         f"of chunk {SPARTEN_BASELINE.chunk}; config has {cfg.n_units}, "
                         f"chunk {cfg.chunk}")
    w, a, golden, macs = _sparten_layer(cfg, layer, seed)
    lay, beats, desc = cluster_words(w, a, cfg)
    want = barista_trace(w, a, cfg)
    design = f"barista_cluster_i{cfg.input_buffer_chunks}o{cfg.output_buffer_entries}"
    k, c, r, _ = w.shape
    text = (f"VGG-like conv layer {k}x{c}x{r}x{r} on {c}x{layer['size']}x{layer['size']}, "
            f"d_w {layer['weight_density']}, d_a {layer['act_density']}")
    engine = Job(design=design, engine="barista", role="engine", config=cfg,
                 make=lambda: BaristaCluster(cfg), workload=workload,
                 description=text + ", two-sided, request/response banks",
                 setup=[("feed", "load", beats), ("poke", "desc", desc), ("drain", "o"),
                        ("pulse", "start")],
                 finish=[("until", "done", 20 * want["cycles"] + 1000)],
                 expected_cycles=want["cycles"], check=_barista_check(design, cfg, lay, golden,
                                                                      want),
                 macs=macs, dense_macs=k * lay["out_h"] * lay["out_w"] * c * r * r,
                 peek=("cycles", "reads", "requests"))
    dense = sparten_jobs(SPARTEN_BASELINE, arrays=(w, a), workload=workload,
                         names=(None, "barista_dense_array"), desc=text)[1]
    return [engine, dataclasses.replace(dense, engine="barista")]
