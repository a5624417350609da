"""BARISTA benchmark: VGG-16 and a ResNet-50-shaped network on the cycle model at 32K MACs.

:func:`section` is the BARISTA part of ``sparse-hw bench`` (``make bench``); run this module alone
with ``python -m sim.bench_barista [--quick]``. Its markdown and plot specs are
:mod:`sim.bench_barista_report`.

Workloads
---------
* **VGG-16**: exactly the SparTen section's tensors (:func:`sim.bench_sparten.layer_tensors`: the
  13 3x3 conv layers, Han et al. 2015 weight densities, activation densities 0.3-0.6, same seed).
* **ResNet-50-shaped**: the conv shapes of ResNet-50 (He et al. 2016, torchvision's v1.5 layout:
  stride 2 on the 3x3 of the first block of a stage, 1x1 projection shortcuts), 224x224 input.
  Densities are *ours* (no per-layer pruned densities of ResNet-50 were at hand): weights 0.35 (a
  65%-sparse magnitude-pruned network; conv1 0.8, as first layers are pruned less), activations
  falling with depth from 0.6 (the image) to 0.35, same per-filter / per-channel Beta spreads as the
  VGG-16 tensors. Layers of equal shape inside a stage are modelled once and counted ``n`` times
  (the ``x n`` column): they get the same tensors.

Figures
-------
From :func:`golden.barista.layer_cycles` on :data:`BENCH_CONFIG` (``PAPER``: 4 clusters x 8K
units, chunk 128): speed-up over the dense array of the same MACs, over one-sided (zero weights
skipped, perfectly balanced), over naively scaled SparTen (1024 broadcast clusters of 32 units with
GB-H, same model of the per-chunk barrier as the SparTen section) and over iso-area SparTen
(naive SparTen's speed-up times the area ratio, when ``build/reports/area.json`` has the pair);
the fraction of the ideal ``1/(d_w*d_a)`` (``d_a`` as the taps read it, padding zeros included,
as in the SparTen section); unit utilisation; bank bandwidth use (busy bank cycles over all bank
cycles); output-buffer occupancy (time-averaged colours in flight / colours) and the input-buffer
peak. Network figures are cycle-weighted (total baseline cycles / total BARISTA cycles). An
ablation on two VGG-16 layers switches each technique off in turn.

Cost (2 shared cores): 4 to 7 minutes in all (measured 233 s and 405 s, load-dependent): VGG-16
and ResNet-50 about 1.5 minutes each, the ablation the rest. ``--quick`` runs 7x7 copies of a few layers (:data:`QUICK_LAYERS`) on 4 clusters x 64 units
(seconds). The RTL check (:func:`rtl_check`) adds the native builds of ``barista_cluster``'s and
``barista_engine``'s harnesses the first time (about 20 and 45 s of CPU; cached in
build/native/), then a second or less per layer.
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from report.area import read_area_designs
from report.bench import speedup
from report.schema import (AreaRatio, Headline, PairSpeedup, ReportError, RtlCheck, Section,
                           iso_area, write_json)

from sim.bench_sparten import (CHANNEL_CONCENTRATION, FILTER_CONCENTRATION, SEED, VGG16,
                               _beta, layer_tensors as vgg_tensors, tap_density)

__all__ = ["RESNET50", "PAPER", "TARGET_FRACTION", "BENCH_CONFIG", "QUICK_CONFIG",
           "network_layers", "layer_figures", "network_figures", "network_headline", "area_designs",
           "iso_area_ratio", "section", "main"]

#: BARISTA's published averages (arXiv 2104.08734): over dense, one-sided, naively scaled
#: two-sided and iso-area two-sided designs.
PAPER = {"speedup_vs_dense": 5.4, "speedup_vs_onesided": 2.2, "speedup_vs_naive_sparten": 1.7,
         "speedup_vs_isoarea_sparten": 2.5}
#: Issue 13's target: at least this fraction of the ideal on the whole VGG-16 at 32K MACs.
TARGET_FRACTION = 0.9

#: ResNet-50 conv shapes: (name, C, K, H of the input, R, stride, padding, d_w, d_a, count).
#: Shapes: He et al. 2016 / torchvision v1.5; densities ours (module docstring).
RESNET50 = [
    ("conv1", 3, 64, 224, 7, 2, 3, 0.80, 0.60, 1),
    ("l1_in1x1", 64, 64, 56, 1, 1, 0, 0.35, 0.50, 1),
    ("l1_1x1a", 256, 64, 56, 1, 1, 0, 0.35, 0.50, 2),
    ("l1_3x3", 64, 64, 56, 3, 1, 1, 0.35, 0.50, 3),
    ("l1_1x1b", 64, 256, 56, 1, 1, 0, 0.35, 0.50, 4),     # 3 expansions + the projection
    ("l2_in1x1", 256, 128, 56, 1, 1, 0, 0.35, 0.45, 1),
    ("l2_3x3s2", 128, 128, 56, 3, 2, 1, 0.35, 0.45, 1),
    ("l2_proj", 256, 512, 56, 1, 2, 0, 0.35, 0.45, 1),
    ("l2_1x1a", 512, 128, 28, 1, 1, 0, 0.35, 0.45, 3),
    ("l2_3x3", 128, 128, 28, 3, 1, 1, 0.35, 0.45, 3),
    ("l2_1x1b", 128, 512, 28, 1, 1, 0, 0.35, 0.45, 4),
    ("l3_in1x1", 512, 256, 28, 1, 1, 0, 0.35, 0.40, 1),
    ("l3_3x3s2", 256, 256, 28, 3, 2, 1, 0.35, 0.40, 1),
    ("l3_proj", 512, 1024, 28, 1, 2, 0, 0.35, 0.40, 1),
    ("l3_1x1a", 1024, 256, 14, 1, 1, 0, 0.35, 0.40, 5),
    ("l3_3x3", 256, 256, 14, 3, 1, 1, 0.35, 0.40, 5),
    ("l3_1x1b", 256, 1024, 14, 1, 1, 0, 0.35, 0.40, 6),
    ("l4_in1x1", 1024, 512, 14, 1, 1, 0, 0.35, 0.35, 1),
    ("l4_3x3s2", 512, 512, 14, 3, 2, 1, 0.35, 0.35, 1),
    ("l4_proj", 1024, 2048, 14, 1, 2, 0, 0.35, 0.35, 1),
    ("l4_1x1a", 2048, 512, 7, 1, 1, 0, 0.35, 0.35, 2),
    ("l4_3x3", 512, 512, 7, 3, 1, 1, 0.35, 0.35, 2),
    ("l4_1x1b", 512, 2048, 7, 1, 1, 0, 0.35, 0.35, 3),
]


def _paper_config():
    from hw.barista.config import PAPER as cfg
    return cfg


#: The benchmarked engine: the paper's 4 clusters x 8K MACs (hw/barista/config.py PAPER).
BENCH_CONFIG = _paper_config()
#: ``--quick``: the same engine with 64 units per cluster, on 7x7 copies of the layers.
QUICK_CONFIG = dataclasses.replace(BENCH_CONFIG, units_per_cluster=64)
QUICK_SIZE = 7
#: ``--quick`` models only these layers (the test suite runs it; a few seconds).
QUICK_LAYERS = {"vgg16": ("conv1_2", "conv2_1", "conv3_2"),
                "resnet50": ("conv1", "l1_3x3", "l1_1x1b", "l2_3x3s2", "l2_proj")}
#: Layers of the ablation (one dense-ish mid layer, one small-map layer).
ABLATION_LAYERS = ("conv3_2", "conv5_1")
ABLATIONS = (("paper config", {}), ("1 colour (barrier between tiles)", {"colours": 1}),
             ("no combining", {"combine": False}), ("no snarfing", {"snarf": False}),
             ("static assignment", {"dynamic": False}), ("no task pieces", {"min_tasks_per_unit": 0}))


def resnet_tensors(idx, size=None, seed=SEED):
    """Weights and activations of ResNet-50-shaped layer ``idx`` (same recipe as the VGG-16
    tensors of :func:`sim.bench_sparten.layer_tensors`, own seed stream)."""
    _, C, K, H, R, _, _, d_w, d_a, _ = RESNET50[idx]
    rng = np.random.default_rng([seed, 50, idx])
    dens_f = _beta(rng, d_w, FILTER_CONCENTRATION, K)
    mask = rng.random((K, C, R, R)) < dens_f[:, None, None, None]
    mag = rng.integers(1, 128, size=mask.shape)
    w = np.where(mask, np.where(rng.random(mask.shape) < 0.5, -mag, mag), 0).astype(np.int8)
    dens_c = _beta(rng, d_a, CHANNEL_CONCENTRATION, C)
    side = H if size is None else size
    rng_a = np.random.default_rng([seed, 50, idx, side])
    amask = rng_a.random((C, side, side), dtype=np.float32) < dens_c[:, None, None]
    a = np.where(amask, rng_a.integers(1, 128, size=amask.shape, dtype=np.int8), 0).astype(np.int8)
    return w, a


def network_layers(net, quick=False):
    """``[(name, count, stride, padding, tensors())]`` of ``net`` ("vgg16" or "resnet50")."""
    size = QUICK_SIZE if quick else None
    if net == "vgg16":
        out = [(r[0], 1, 1, 1, (lambda n=r[0]: vgg_tensors(n, size))) for r in VGG16]
    elif net == "resnet50":
        out = [(r[0], r[9], r[5], r[6], (lambda i=i: resnet_tensors(i, size)))
               for i, r in enumerate(RESNET50)]
    else:
        raise ValueError(f"net must be 'vgg16' or 'resnet50', not {net!r}")
    return [x for x in out if x[0] in QUICK_LAYERS[net]] if quick else out


def layer_figures(name, w, a, stride, padding, config, count=1):
    """Model figures of one layer (dict of plain numbers)."""
    from golden.barista import layer_cycles
    from hw.barista.dispatch import TaskDispatch
    t0 = time.monotonic()
    r = layer_cycles(w, a, config, stride=stride, padding=padding, **TaskDispatch.latencies())
    R = w.shape[2]
    d_w = float(np.count_nonzero(w)) / w.size
    d_a = tap_density(a, R, R, stride=stride, padding=padding)
    ideal = 1.0 / (d_w * d_a)
    row = {"name": name, "count": count, "C": int(w.shape[1]), "K": int(w.shape[0]),
           "H": int(a.shape[1]), "R": int(R), "stride": stride, "d_w": d_w, "d_a": d_a,
           "ideal": ideal, "model_seconds": round(time.monotonic() - t0, 2)}
    row.update({k: v for k, v in r.items()})
    c = r["cycles"]
    row["speedup_vs_dense"] = speedup(r["dense_cycles"], c, name)
    row["speedup_vs_onesided"] = speedup(r["onesided_cycles"], c, name)
    row["speedup_vs_naive_sparten"] = speedup(r["naive_sparten_cycles"], c, name)
    row["naive_sparten_vs_dense"] = speedup(r["dense_cycles"], r["naive_sparten_cycles"], name)
    row["onesided_vs_dense"] = speedup(r["dense_cycles"], r["onesided_cycles"], name)
    row["fraction_of_ideal"] = row["speedup_vs_dense"] / ideal
    return row


#: What the per-MAC area ratio divides (names of the tops it is made of): BARISTA's logic per MAC
#: over naive SparTen's, as the design and baseline of BARISTA's iso-area pair.
PER_MAC = ("sparten_cu+barista_fetch_paper/ports", "sparten_cluster/n_units")


def area_designs(area_path, need):
    """``({name: AreaDesign}, None)`` of ``make area``'s report when it has every design of
    ``need`` with a µm² area, else ``(None, reason)`` (one line saying what to run)."""
    if area_path is None or not Path(area_path).exists():
        return None, f"no area report ({area_path}): run `make area` first"
    try:
        area = read_area_designs(area_path)
    except ReportError as e:
        return None, f"{e} (run `make area` again)"
    missing = [n for n in need if n not in area]
    if missing:
        return None, f"{area_path} lacks {', '.join(missing)} (run `make area` again)"
    if any(area[n].area_um2 is None for n in need):
        return None, f"{area_path}: {', '.join(need)} have no µm² (synthesised without a library)"
    return area, None


def iso_area_ratio(area_path):
    """``(ratio, note)``: standard-cell area per MAC of BARISTA over naive SparTen, from
    ``make area``'s report (read by :func:`report.area.read_area_designs`), or
    ``(None, reason)``.

    SparTen per MAC: ``sparten_cluster`` (32 units, chunk 128, its barrier logic) over its units.
    BARISTA per MAC *(ours, its whole RTL is not written)*: SparTen's compute unit (``sparten_cu``,
    unchanged in BARISTA) plus one port's share of the request/response fetch block at chunk 128
    (``barista_fetch_paper`` over its ports). Memories are macros in both (bits, no cell area), so
    the ratio compares logic only. The iso-area SparTen has ``ratio`` times the MACs of naive
    SparTen in BARISTA's area, so its time is naive SparTen's over ``ratio``.
    """
    need = ("sparten_cluster", "sparten_cu", "barista_fetch_paper")
    area, why = area_designs(area_path, need)
    if area is None:
        return None, why
    try:
        n_s = area["sparten_cluster"].config["n_units"]
        ports = area["barista_fetch_paper"].config["units_per_cluster"]
    except KeyError as e:
        return None, f"{area_path}: config of {need[0]} or {need[2]} lacks {e}"
    per_mac_s = area["sparten_cluster"].area_um2 / n_s
    per_mac_b = area["sparten_cu"].area_um2 + area["barista_fetch_paper"].area_um2 / ports
    ratio = per_mac_b / per_mac_s
    unit = "µm²"
    return ratio, (f"BARISTA logic per MAC (sparten_cu + barista_fetch_paper / {ports}: "
                   f"{per_mac_b:.0f} {unit}) over naive SparTen's (sparten_cluster / {n_s}: "
                   f"{per_mac_s:.0f} {unit}) = {ratio:.3f}, memories excluded (make area); "
                   f"iso-area SparTen = naive SparTen with {ratio:.3f} times its MACs")


def cluster_area_ratio(area_path):
    """``(ratio, note)``: area per MAC of the whole BARISTA cluster in RTL (``barista_cluster``:
    fetch network, dispatcher, fetchers, compute units, output-buffer logic) over SparTen's whole
    layer engine of the same MACs and chunk (``barista_sparten_layer``), from ``make area``; or
    ``(None, reason)``. Both at the RTL's reduced scale (4 units, chunk 8): a measured ratio of
    two complete designs, but not at the benchmark's chunk 128, so the headline keeps
    :func:`iso_area_ratio`. Memories are macros in both (bits, no cell area)."""
    from hw.barista.tops import PAIRS
    eng, base = next(p for p in PAIRS if "sparten" in p[1])
    area, why = area_designs(area_path, (eng, base))
    if area is None:
        return None, why
    ve, vb = area[eng].area_um2, area[base].area_um2
    ratio = ve / vb
    return ratio, (f"{eng} / {base} = {ve:.0f} / {vb:.0f} µm² = {ratio:.3f} (both 4 MACs, "
                   f"chunk 8, memories excluded)")


def network_figures(net, config, quick=False, progress=None, area_ratio=None, workload=None):
    """Rows and the cycle-weighted :class:`~report.schema.Headline` of one network.

    With ``area_ratio`` (:func:`iso_area_ratio`) the headline also holds
    ``speedup_vs_isoarea_sparten``, from :func:`report.schema.iso_area` over naive SparTen's
    speed-up (the pair :data:`PER_MAC`) and that ratio.
    """
    progress = progress or (lambda *a, **k: None)
    layers = network_layers(net, quick)
    rows = []
    for i, (name, count, stride, pad, make) in enumerate(layers):
        progress(i, len(layers), f"{net} {name}")
        w, a = make()
        rows.append(layer_figures(name, w, a, stride, pad, config, count))
    progress(len(layers), len(layers), f"{net} done")
    return rows, network_headline(net, rows, config, area_ratio, workload)


def network_headline(net, rows, config, area_ratio=None, workload=None):
    """The cycle-weighted :class:`~report.schema.Headline` of a network's ``rows``
    (:func:`network_figures`)."""

    def tot(key):
        return sum(r[key] * r["count"] for r in rows)

    cyc = tot("cycles")
    ideal_total = tot("dense_cycles") / sum(r["dense_cycles"] / r["ideal"] * r["count"]
                                            for r in rows)
    head = {
        "speedup_vs_dense": speedup(tot("dense_cycles"), cyc, net),
        "speedup_vs_onesided": speedup(tot("onesided_cycles"), cyc, net),
        "speedup_vs_naive_sparten": speedup(tot("naive_sparten_cycles"), cyc, net),
        "ideal": ideal_total,
        "naive_sparten_vs_dense": speedup(tot("dense_cycles"), tot("naive_sparten_cycles"), net),
        "utilization": tot("matched_macs") / (cyc * config.macs),
        "bank_utilization": sum(r["bank_utilization"] * r["cycles"] * r["count"] for r in rows)
        / cyc,
        "output_occupancy": sum(r["output_occupancy"] * r["cycles"] * r["count"] for r in rows)
        / cyc,
        "input_buffer_peak": max(r["input_buffer_peak"] for r in rows),
        "cycles": cyc,
        "layers": sum(r["count"] for r in rows),
        "target_fraction": TARGET_FRACTION,
    }
    head["fraction_of_ideal"] = head["speedup_vs_dense"] / ideal_total
    workload = workload or net
    naive = PairSpeedup(*PER_MAC, head["speedup_vs_naive_sparten"], workload)
    h = Headline("barista", workload, head, (naive,))
    if area_ratio is not None:
        (iso,) = iso_area({"barista": h}, [AreaRatio("barista", *PER_MAC, "area_um2",
                                                     area_ratio)])
        h = Headline("barista", workload, {**head, "isoarea_ratio": area_ratio,
                                           "speedup_vs_isoarea_sparten": iso.iso_area_speedup},
                     (naive,))
    return h


def _ablation(config, quick, progress):
    out = []
    for name in ABLATION_LAYERS[:1] if quick else ABLATION_LAYERS:
        w, a = vgg_tensors(name, QUICK_SIZE if quick else None)
        for label, change in ABLATIONS:
            progress(f"ablation {name}: {label}")
            if "colours" in change:
                # Same tiles as the paper config: the input buffer holds colours + 1 tiles.
                change = dict(change, input_buffer_chunks=config.input_buffer_chunks
                              * (change["colours"] + 1) // (config.colours + 1))
            cfg = dataclasses.replace(config, **change)
            r = layer_figures(name, w, a, 1, 1, cfg)
            out.append({"layer": name, "variant": label, "change": change,
                        "cycles": r["cycles"], "speedup_vs_dense": r["speedup_vs_dense"],
                        "fraction_of_ideal": r["fraction_of_ideal"],
                        "bank_utilization": r["bank_utilization"],
                        "bank_bound_steps": r["bank_bound_steps"], "steps": r["steps"],
                        "bank_reads": r["bank_reads"], "bank_requests": r["bank_requests"]})
    return out


#: Reduced conv layers checked on the RTL of the whole cluster: (network, layer, filters, channels,
#: map side). Each is the first ``filters`` x ``channels`` of that layer's tensors (same seed) on a
#: ``side`` x ``side`` map, with the layer's kernel, stride and padding.
RTL_LAYERS = (("vgg16", "conv2_1", 4, 16, 8), ("vgg16", "conv4_2", 4, 16, 6),
              ("resnet50", "conv1", 4, 3, 12), ("resnet50", "l2_3x3s2", 4, 16, 9),
              ("resnet50", "l3_1x1b", 4, 32, 6))
#: Reduced layers checked on the RTL of two clusters (``barista_engine``, hw/barista/config.py
#: ENGINE), same fields; only in the full section (its native build takes a minute or more).
RTL_ENGINE_LAYERS = (("vgg16", "conv3_1", 8, 16, 6),)
#: Output backpressure (a cycle passes with probability RTL_READY / 256) and load idle of the
#: RTL check (the stall harness's LFSRs, sim/run_barista.py) *(ours)*.
RTL_READY = 160
RTL_IDLE = 128


def _reduced(net, name, K, C, side):
    """``(w, a, stride, padding)`` of a reduced copy of a benchmark layer."""
    if net == "vgg16":
        w, a = vgg_tensors(name, side)
        stride, pad = 1, 1
    else:
        idx = [r[0] for r in RESNET50].index(name)
        w, a = resnet_tensors(idx, side)
        stride, pad = RESNET50[idx][5], RESNET50[idx][6]
    return w[:K, :C].astype(np.int64), a[:C].astype(np.int64), stride, pad


#: What the section's RTL check covers.
RTL_SCOPE = ("reduced conv layers (3x3 and 7x7 with stride and padding, 1x1) through the whole "
             "cluster (hw/barista/cluster.py: shared banks with request/response fetch, combining "
             "and snarfing, the dispatcher, 4 SparTen units, the coloured output buffer) on "
             "Verilator, under random load idle and output backpressure: results bit-exact, "
             "cycles, bank reads and requests equal to golden.barista.cluster_trace; layer_cycles "
             "(the benchmark's model) beside them; the full section also runs two clusters "
             "(hw/barista/engine.py, filters dealt between them) on one layer")


def _check_layers(layers, check, model, config, seed0, note, where, progress):
    """One row per reduced layer of ``layers`` from ``check(model, config, ...)`` (a
    :mod:`sim.run_barista` checker), layer ``k`` with seed ``seed0 + k``."""
    rows = []
    for k, (net, name, K, C, side) in enumerate(layers):
        w, a, stride, pad = _reduced(net, name, K, C, side)
        t0 = time.monotonic()
        r = check(model, config, w, a, stride, pad, seed=seed0 + k, threshold=RTL_READY,
                  idle_threshold=RTL_IDLE)
        r.update(name=f"{net} {name}", size=side, seconds=round(time.monotonic() - t0, 1),
                 config=note)
        rows.append(r)
        if progress:
            progress(f"RTL {name}{where}: rtl {r['rtl_cycles']} trace {r['trace_cycles']} "
                     f"{'ok' if r['equal'] else 'MISMATCH'}")
    return rows


def rtl_check(layers=RTL_LAYERS, progress=None, engine_layers=()):
    """Model vs RTL on reduced conv layers through the whole cluster: ``barista_cluster``
    (hw/barista/config.py CLUSTER: 4 SparTen units, chunk 8, 4 banks, 2 colours) on the native
    Verilator harness, under random load idle and output backpressure, via
    :func:`sim.run_barista.check_cluster_layer`: results against golden conv2d, cycles, bank reads,
    requests and drain order against :func:`golden.barista.cluster_trace`, and
    :func:`golden.barista.layer_cycles` (one cluster) beside them."""
    from hw.barista.config import CLUSTER, ENGINE
    from sim.run_barista import check_cluster_layer, check_engine_layer, cluster_model, engine_model
    rows = _check_layers(layers, check_cluster_layer, cluster_model(CLUSTER), CLUSTER, 1,
                         "CLUSTER: 1 cluster x 4 units, chunk 8, 4 banks, 2 colours", "",
                         progress)
    if engine_layers:
        rows += _check_layers(engine_layers, check_engine_layer, engine_model(ENGINE), ENGINE, 11,
                              f"ENGINE: {ENGINE.n_clusters} clusters x 4 units, chunk 8",
                              f" on {ENGINE.n_clusters} clusters", progress)
    return rows


def section(progress=None, quick=False, area_path=None):
    """The BARISTA section of ``make bench`` (a :class:`~report.schema.Section`); ``area_path``
    (default ``build/reports/area.json``) gives the iso-area ratio."""
    progress = progress or (lambda *a, **k: None)
    cfg = QUICK_CONFIG if quick else BENCH_CONFIG
    t0 = time.monotonic()
    if area_path is None:
        from sim.verilator import build_dir
        area_path = build_dir() / "reports" / "area.json"
    ratio, area_note = iso_area_ratio(area_path)
    scale = f"{cfg.n_clusters} clusters x {cfg.units_per_cluster} units, chunk {cfg.chunk}"
    workloads = {
        "vgg16": f"VGG-16 conv1_1..conv5_3{' (3 layers, 7x7 copies, --quick)' if quick else ''}, "
                 f"SparTen section's tensors; {scale}",
        "resnet50": f"ResNet-50-shaped{' (5 layers, 7x7 copies, --quick)' if quick else ''}; "
                    f"{scale}"}
    nets = {}
    for net, workload in workloads.items():
        rows, head = network_figures(net, cfg, quick, progress, ratio, workload)
        nets[net] = {"layers": rows, "headline": head}
    ablation = _ablation(cfg, quick, progress)
    rtl_rows = rtl_check(RTL_LAYERS[:2] if quick else RTL_LAYERS, progress,
                         () if quick else RTL_ENGINE_LAYERS)
    rtl = RtlCheck(rtl_rows, RTL_SCOPE)
    cluster_ratio, cluster_note = cluster_area_ratio(area_path)
    from sim.bench_barista_report import markdown, plots
    data = {"config": cfg.to_dict(), "seed": SEED, "networks": nets, "ablation": ablation,
            "paper": PAPER, "isoarea_note": area_note, "cluster_area_ratio": cluster_ratio,
            "cluster_area_note": cluster_note, "plots": plots(nets, cfg)}
    md = markdown(data, cfg, rtl, quick, time.monotonic() - t0)
    return Section("barista", md, nets["vgg16"]["headline"], rtl, data,
                   round(time.monotonic() - t0, 1), quick)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="7x7 copies on 4x64 units (seconds)")
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    p.add_argument("--area", metavar="PATH", type=Path, default=None,
                   help="area report for the iso-area figure (default build/reports/area.json)")
    args = p.parse_args(argv)

    def progress(*a, **k):
        print(" ".join(str(x) for x in a), file=sys.stderr, flush=True)

    sec = section(progress=progress, quick=args.quick, area_path=args.area)
    print(sec.markdown)
    if args.json:
        write_json(args.json, sec)


if __name__ == "__main__":
    main()
