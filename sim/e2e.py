"""``sparse-hw e2e``: a real pruned int8 CNN end to end on the RTL, checked bit for bit.

The network is :mod:`golden.digits_net` (trained on scikit-learn's bundled digits, pruned, int8 with
integer requantisation). For each variant (``unstructured``: every layer unstructured-sparse, the
classifier on EUREKA with SUDS; ``2:4``: classifier pruned 2:4, run in EUREKA's N:M mode):

1. the three convolutions run on the **SparTen** layer top (Verilator), one image at a time, chained
   in the sparse format: each layer's output leaves the hardware's output path (requantise, ReLU,
   SparseMap encoder) as a SparseMap and is the next layer's input;
2. the classifier runs on the **EUREKA** core as one GEMM ``W[10,128] x A[128,N]`` whose N columns
   are the flattened conv3 outputs *of the RTL* of all images;
3. every intermediate map and every logit is compared bit-exactly with the golden integer model
   (:func:`golden.digits_net.int_forward_trace`), and float / int8-golden / RTL accuracies, cycles
   per layer and speed-up over the dense baseline are reported in ``e2e.md`` and ``e2e.json``.
"""

import concurrent.futures
import contextlib
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

from golden import digits_net as dn
from golden.balance import METHODS
from hw.emit import build_dir
from report.bench import E2eVariant, speedup
from report.schema import write_json

from .progress import Progress

__all__ = ["register", "run_e2e", "summary", "sparten_config", "eureka_config", "VARIANT_MODES"]

#: Images per variant ``sparse-hw e2e`` runs unless told: None = the whole held-out split (450;
#: about 5 minutes for both variants on two idle cores).
DEFAULT_IMAGES = None

#: EUREKA mode of the classifier for each network variant.
VARIANT_MODES = {"unstructured": "suds", "2:4": "nm:2:4"}


def sparten_config():
    """The SparTen layer top the demo runs: ``sim.run_sparten.DEFAULT_CONFIG`` (chunk 8, 4 units;
    the same Verilator model as the engine's tests), which holds every layer of the network."""
    from .run_sparten import DEFAULT_CONFIG
    return DEFAULT_CONFIG


def eureka_config():
    """The EUREKA core the classifier runs on: ``sim.run_eureka.DEFAULT_CONFIG`` (4 rows x 8 lanes,
    G = 8: 2:4 and SUDS both run; the same Verilator model as the engine's own runs)."""
    from .run_eureka import DEFAULT_CONFIG
    return DEFAULT_CONFIG


# ---------------------------------------------------------------------------------------------
# engine adapters

class _Tally:
    """Per-layer sums of the engines' stats over the images."""

    KEYS = ("cycles", "model_cycles", "dense_cycles", "onesided_cycles", "matched_macs", "macs",
            "displaced")

    def __init__(self, name, engine, mode):
        self.row = {"layer": name, "engine": engine, "mode": mode, "on_rtl": False, "runs": 0,
                    "cycles_exact": True, "bit_exact": True, "chained_sparse": None,
                    "rtl_seconds": 0.0}
        for k in self.KEYS:
            self.row[k] = None

    def add(self, stats, on_rtl, seconds=0.0):
        r = self.row
        r["runs"] += 1
        r["rtl_seconds"] += seconds if on_rtl else 0.0
        r["on_rtl"] = on_rtl
        for k in self.KEYS:
            v = stats.get(k)
            if isinstance(v, (int, float, np.integer)) and not isinstance(v, bool):
                r[k] = (r[k] or 0) + int(v)
        if on_rtl and stats.get("model_cycles") is not None and stats.get("cycles") is not None \
                and int(stats["model_cycles"]) != int(stats["cycles"]):
            r["cycles_exact"] = False

    def finish(self):
        r = self.row
        base = r["cycles"] if r["cycles"] is not None else r["model_cycles"]
        r["speedup_vs_dense"] = _speedup(r["dense_cycles"], base, r["layer"])
        r["speedup_vs_onesided"] = _speedup(r["onesided_cycles"], base, r["layer"])
        return r


def _sparten_batch(cfg, layers, images, b0, opts):
    """Worker: prepare the chained cases of a batch of images and run them in one simulator.

    Returns ``(image indices, cases, infos, (image, layer) per case, results, seconds)``.
    """
    from sim import run_sparten as runner

    idx = list(range(b0, b0 + len(images)))
    cases, infos, where = [], [], []
    for i, img in zip(idx, images):
        x = np.asarray(img, dtype=np.int64)
        for j, (w, stride, padding, relu, requant) in enumerate(layers):
            case, info = runner.prepare_case(cfg, w, x, stride, padding, relu, opts["balance"],
                                             requant, f"image{i}_layer{j}", opts["idle"],
                                             opts["backpressure"], chain=j > 0)
            cases.append(case)
            infos.append(info)
            where.append((i, j))
            x = info["golden"]
    t0 = time.monotonic()
    # check=False: a mismatch is recorded by the caller (and fails the run), not raised mid-batch.
    results = runner.run_cases(cfg, cases, seed=opts["seed"] + b0, check=False)
    return idx, cases, infos, where, results, time.monotonic() - t0


def _run_sparten_chain(net, images, opts, progress, tallies, mismatches, trace_golden):
    """Convolutions of every image; returns the conv3 outputs ``[N, C, H, W]`` (RTL or golden).

    On the RTL, every image is a chain of three cases of the SparTen layer bench
    (:func:`sim.run_sparten.prepare_case`): the first loads the image, the next two load their
    activation memory from the previous case's output chunks exactly as the RTL emitted them
    (requantise -> ReLU -> SparseMap encoder in hardware), so the feature maps never leave the
    sparse format. Images are run in batches, one simulator process per batch.
    """
    from . import run_sparten as runner
    cfg = sparten_config()
    convs = net.convs
    n = len(images)
    finals = [None] * n
    batch = max(1, int(opts.get("batch", 16)))
    jobs = max(1, int(opts.get("jobs", 1)))
    # Build (or find) the Verilator model once, up front, so that a long build is announced here
    # rather than hidden inside the first batches.
    t0 = time.monotonic()
    progress("Verilator model of the SparTen layer top (built once, cached in build/sim)")
    runner.build(cfg)
    progress(f"Verilator model ready ({time.monotonic() - t0:.1f} s)")
    progress(0, n, f"{len(convs)} conv layers per image on SparTen "
                   f"({cfg.n_units} units, chunk {cfg.chunk}, balance {opts['balance']}, "
                   f"{jobs} simulator(s) at a time)")

    layers = [(l.weight, l.stride, l.padding, l.relu, l.requant) for l in convs]
    done = 0
    # Separate processes (not threads): the harness names its temporary files by process id.
    starts = list(range(0, n, batch))
    workers = min(jobs, len(starts))
    with contextlib.ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")))
            futures = [pool.submit(_sparten_batch, cfg, layers, images[b0:b0 + batch], b0, opts)
                       for b0 in starts]
            batches = (f.result() for f in concurrent.futures.as_completed(futures))
        else:
            batches = (_sparten_batch(cfg, layers, images[b0:b0 + batch], b0, opts)
                       for b0 in starts)
        for idx, cases, infos, where, results, seconds in batches:
            for case, info, res, (i, j) in zip(cases, infos, results, where):
                layer = convs[j]
                out, stats = runner.decode_case(case, info, res, cfg)
                out = np.asarray(out, dtype=np.int64)
                t = tallies[layer.name]
                t.add(stats, on_rtl=True, seconds=seconds / len(cases))
                t.row["chained_sparse"] = True
                golden = trace_golden[i][j]
                if stats.get("bit_exact") is False or out.shape != golden.shape \
                        or not np.array_equal(out, golden):
                    t.row["bit_exact"] = False
                    mismatches.append({"image": i, "layer": layer.name,
                                       "differing": int(np.sum(out != golden))
                                       if out.shape == golden.shape else f"shape {out.shape}"})
                if j == len(convs) - 1:
                    finals[i] = out
            done += len(idx)
            progress(done, n, f"images {idx[0] + 1}-{idx[-1] + 1} of {n} on SparTen RTL "
                              f"({seconds:.1f} s)")
    return np.stack(finals), True, True


def _run_classifier(net, acts, mode, opts, progress, tally, mismatches, golden_logits):
    """The classifier as one GEMM on EUREKA; returns logits ``[N, 10]`` (RTL or golden)."""
    from . import run_eureka as runner
    from .verilator import SimFailure
    a = acts.reshape(acts.shape[0], -1).T.copy()  # [K, N]: images are columns
    w = net.fc.weight
    progress("Verilator model of the EUREKA core (built once, cached in build/sim)")
    runner.build(eureka_config())
    progress(0, 1, f"classifier on EUREKA ({mode}, {a.shape[1]} columns)")
    t0 = time.monotonic()
    try:
        out, stats = runner.run_gemm(w, a, mode=mode, config=eureka_config(), seed=opts["seed"],
                                     idle=opts["idle"], backpressure=opts["backpressure"])
    except SimFailure as e:
        # The runner checks against golden itself and raises on a mismatch: record, don't hide.
        tally.add({}, on_rtl=True)
        tally.row["bit_exact"] = False
        mismatches.append({"image": "all", "layer": "fc", "error": str(e).splitlines()[0]})
        progress(1, 1, "classifier FAILED on the RTL")
        return np.full_like(golden_logits, np.iinfo(np.int32).min)
    tally.add(stats, on_rtl=True, seconds=time.monotonic() - t0)
    logits = np.asarray(out, dtype=np.int64).T
    if stats.get("bit_exact") is False or logits.shape != golden_logits.shape \
            or not np.array_equal(logits, golden_logits):
        tally.row["bit_exact"] = False
        mismatches.append({"image": "all", "layer": "fc",
                           "differing": int(np.sum(logits != golden_logits))
                           if logits.shape == golden_logits.shape else f"shape {logits.shape}"})
    progress(1, 1, "classifier done")
    return logits


# ---------------------------------------------------------------------------------------------
# driver

def run_variant(variant, n_images, opts, progress):
    """One network variant end to end; returns its JSON-able result."""
    t0 = time.monotonic()
    # the trained net is cached in the build folder (./build when installed, not site-packages)
    net = dn.build(variant, cache_dir=build_dir() / "digits_net", log=progress.log)
    _, _, xte, yte = dn.load_data(net.info["hparams"]["seed"], net.info["hparams"]["test_size"])
    n = len(xte) if n_images is None else min(n_images, len(xte))
    if n < 1:
        raise ValueError(f"--images must be at least 1, not {n_images!r}")
    images, labels = xte[:n], yte[:n]
    progress.log(f"{variant}: golden integer model on {n} image(s)")
    traces = [dn.int_forward_trace(net, im) for im in images]
    golden_logits = np.stack([t[-1] for t in traces])
    float_pred = np.argmax(dn.float_logits(net, images), axis=1)
    mode = VARIANT_MODES[variant]
    tallies = {l.name: _Tally(l.name, "SparTen", f"two-sided, {opts['balance']}")
               for l in net.convs}
    tallies[net.fc.name] = _Tally(net.fc.name, "EUREKA", mode)
    mismatches = []
    acts, conv_rtl, chained = _run_sparten_chain(net, images, opts, progress.sub(f"{variant} conv"),
                                                 tallies, mismatches, traces)
    progress.stage = ""
    logits = _run_classifier(net, acts, mode, opts, progress.sub(f"{variant} fc"),
                             tallies[net.fc.name], mismatches, golden_logits)
    progress.stage = ""
    fc_rtl = tallies[net.fc.name].row["on_rtl"]
    layers = [tallies[l.name].finish() for l in net.layers]
    for row, layer in zip(layers, net.layers):
        row["weight_density"] = layer.density
        row["shape"] = list(layer.weight.shape)
    all_rtl = conv_rtl and fc_rtl
    totals = {}
    for k in ("cycles", "model_cycles", "dense_cycles"):
        vals = [l[k] for l in layers]
        totals[k] = None if any(v is None for v in vals) else sum(vals)
    base = totals["cycles"] if totals["cycles"] is not None else totals["model_cycles"]
    totals["speedup_vs_dense"] = _speedup(totals["dense_cycles"], base, f"{variant} network")
    bit_exact = all(r["bit_exact"] for r in layers) and not mismatches
    int8_acc = float(np.mean(np.argmax(golden_logits, axis=1) == labels))
    rtl_acc = float(np.mean(np.argmax(logits, axis=1) == labels)) if all_rtl else None
    act_density = [float(np.mean([np.count_nonzero(t[j]) / t[j].size for t in traces]))
                   for j in range(len(net.convs))]
    in_density = float(np.mean([np.count_nonzero(im) / im.size for im in images]))
    for row, d in zip(layers, [in_density, *act_density]):
        row["input_density"] = d
    return {
        "variant": variant, "classifier_mode": mode, "n_images": n,
        "float_accuracy": float(np.mean(float_pred == labels)),
        "int8_golden_accuracy": int8_acc,
        "rtl_accuracy": rtl_acc,
        "float_accuracy_full_test": net.info["float_pruned_accuracy"],
        "float_dense_accuracy_full_test": net.info["float_dense_accuracy"],
        "weight_sparsity": net.weight_sparsity,
        "on_rtl": {"conv": conv_rtl, "fc": fc_rtl, "conv_chained_sparse": chained},
        "bit_exact": bit_exact if all_rtl or conv_rtl or fc_rtl else None,
        "mismatches": mismatches[:50], "n_mismatches": len(mismatches),
        "layers": layers, "totals": totals, "seconds": round(time.monotonic() - t0, 1),
        "model_key": net.info["key"],
    }


def run_e2e(n_images=None, variants=dn.VARIANTS, out=None, seed=0, idle=0.0, backpressure=0.0,
            progress=None, balance="gbh", batch=16, jobs=None):
    """Run the variants, write ``e2e.md`` and ``e2e.json`` into ``out`` (if given); return the dict.

    Parameters
    ----------
    n_images : int or None
        First ``n_images`` of the held-out split (all 450 when None).
    variants : sequence of str
        Keys of :data:`VARIANT_MODES`.
    out : path or None
        Report folder.
    seed, idle, backpressure :
        Stall patterns of the RTL runs (random input idle cycles, output backpressure).
    balance : str
        SparTen load balancing of the conv layers: ``"none"``, ``"gbs"`` or ``"gbh"``.
    batch : int
        Images per SparTen simulator process.
    jobs : int or None
        Simulator processes at a time (default: 2, or 1 on a single core).
    """
    t0 = time.monotonic()
    progress = progress or Progress("e2e")
    if balance not in METHODS:
        raise ValueError(f"balance must be one of {list(METHODS)!r}, not {balance!r}")
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive int, not {batch!r}")
    if jobs is None:
        jobs = min(2, os.cpu_count() or 1)
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, not {jobs!r}")
    opts = {"seed": seed, "idle": idle, "backpressure": backpressure, "balance": balance,
            "batch": batch, "jobs": jobs}
    results = []
    for v in variants:
        if v not in VARIANT_MODES:
            raise ValueError(f"variant must be one of {list(VARIANT_MODES)}, not {v!r}")
        progress.log(f"variant {v}")
        results.append(run_variant(v, n_images, opts, progress))
    data = {"results": results, "seconds": round(time.monotonic() - t0, 1),
            "sparten_config": _cfg_dict(sparten_config), "eureka_config": _cfg_dict(eureka_config),
            "seed": seed, "idle": idle, "backpressure": backpressure, "balance": balance}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "e2e.json", {**data, "summary": summary(data)})
        (out / "e2e.md").write_text(markdown(data))
        progress.log(f"wrote {out / 'e2e.md'} and {out / 'e2e.json'} "
                     f"({time.monotonic() - t0:.1f} s)")
    return data


def _cfg_dict(fn):
    return fn().to_dict()


def _pct(v):
    return "n/a" if v is None else f"{100 * v:.2f}%"


def _x(v):
    return "—" if v is None else f"{v:.2f}x"


def _speedup(baseline_cycles, cycles, what):
    """:func:`report.bench.speedup`, or None when either count is missing (not run)."""
    return None if not baseline_cycles or not cycles else speedup(baseline_cycles, cycles, what)


def summary(data):
    """The :class:`report.bench.E2eVariant` rows of :func:`run_e2e`'s result (``e2e.json``'s
    ``summary``, which ``make bench`` reads)."""
    return [E2eVariant(r["variant"], r["classifier_mode"], r["n_images"], r["float_accuracy"],
                       r["int8_golden_accuracy"], r["rtl_accuracy"], r["bit_exact"],
                       r["totals"]["speedup_vs_dense"]) for r in data["results"]]


def markdown(data):
    """The human-readable report of :func:`run_e2e`'s result."""
    md = ["# End to end: pruned int8 digits CNN on the RTL", "",
          "Network: conv 1->16 3x3 s1, conv 16->32 3x3 s2, conv 32->32 3x3 s2 (SparTen, chained in "
          "SparseMap), FC 128->10 (EUREKA GEMM, images as columns); int8 weights and activations, "
          "integer requantisation (multiplier, shift, round half up); trained on scikit-learn's "
          "digits (held-out split of 450 images). Logits are compared bit-exactly with the golden "
          "integer model.", ""]
    sc, ec = data["sparten_config"], data["eureka_config"]
    md += [f"Engines: SparTen layer top with {sc['n_units']} units, chunk {sc['chunk']}, "
           f"{sc['matches_per_cycle']} match/unit/cycle, balance {data['balance']}; "
           f"EUREKA core {ec['rows']} rows x {ec['lanes']} lanes, G={ec['group']} "
           f"(the engines' test configurations, whose Verilator models the test suite builds).",
           ""]
    md += ["| variant | images | weight sparsity | float acc. | int8 golden acc. | RTL acc. | "
           "bit-exact | on RTL |", "|---|---|---|---|---|---|---|---|"]
    for r in data["results"]:
        on = r["on_rtl"]
        where = ", ".join(f"{k}: {'RTL' if v else 'golden only'}" for k, v in
                          (("conv", on["conv"]), ("fc", on["fc"])))
        be = {True: "yes", False: "**NO**", None: "n/a"}[r["bit_exact"]]
        md.append(f"| {r['variant']} (fc {r['classifier_mode']}) | {r['n_images']} | "
                  f"{100 * r['weight_sparsity']:.1f}% | {_pct(r['float_accuracy'])} | "
                  f"{_pct(r['int8_golden_accuracy'])} | {_pct(r['rtl_accuracy'])} | {be} | "
                  f"{where} |")
    md.append("")
    for r in data["results"]:
        md += [f"## Variant {r['variant']}: per layer (sums over {r['n_images']} image(s))", "",
               "| layer | engine | mode | weight density | input density | cycles (RTL) | "
               "model cycles | dense-baseline cycles | speed-up vs dense | source |",
               "|---|---|---|---|---|---|---|---|---|---|"]
        for l in r["layers"]:
            src = "RTL" if l["on_rtl"] else ("cycle model only" if l["model_cycles"] else
                                             "not run (no engine, no model)")
            if l["on_rtl"] and l["chained_sparse"] is False:
                src += " (dense hand-over between layers)"
            if l["on_rtl"] and not l["cycles_exact"]:
                src += ", **model != RTL**"
            md.append(f"| {l['layer']} | {l['engine']} | {l['mode']} | {l['weight_density']:.3f} | "
                      f"{l['input_density']:.3f} | {l['cycles'] if l['cycles'] is not None else '—'} | "
                      f"{l['model_cycles'] if l['model_cycles'] is not None else '—'} | "
                      f"{l['dense_cycles'] if l['dense_cycles'] is not None else '—'} | "
                      f"{_x(l['speedup_vs_dense'])} | {src} |")
        tot = r["totals"]
        md.append(f"| **network** | | | | | {tot['cycles'] if tot['cycles'] is not None else '—'} | "
                  f"{tot['model_cycles']} | {tot['dense_cycles']} | {_x(tot['speedup_vs_dense'])} "
                  f"| layers run one after the other |")
        md += ["", "Dense baseline: SparTen layers against the cycle model's dense baseline (the same "
               "units and MACs, no zero skipping); the classifier against the dense tensor core "
               "of the same R x L. conv1 has a single input channel, so each chunk "
               "holds at most one match and still costs a cycle: SparTen cannot gain there."]
        rtl_s = sum(l["rtl_seconds"] for l in r["layers"])
        rtl_c = sum(l["cycles"] or 0 for l in r["layers"] if l["on_rtl"])
        if rtl_s > 0:
            md.append(f"Simulation: {rtl_c} RTL cycles in {rtl_s:.1f} s of engine runs "
                      f"({rtl_c / rtl_s:.0f} cycles/s including simulator start-up).")
        if r["n_mismatches"]:
            md += ["", f"**{r['n_mismatches']} mismatch(es) against the golden model**, first: "
                   f"{r['mismatches'][:5]}"]
        md += ["", f"Float accuracy on the whole held-out split: "
               f"{_pct(r['float_accuracy_full_test'])} (pruned), "
               f"{_pct(r['float_dense_accuracy_full_test'])} (before pruning). Run time "
               f"{r['seconds']:.0f} s.", ""]
    md.append(f"Total run time {data['seconds']:.0f} s; seed {data['seed']}, input idle "
              f"{data['idle']}, output backpressure {data['backpressure']}.")
    return "\n".join(md) + "\n"


# ---------------------------------------------------------------------------------------------
# CLI

def register(sub):
    p = sub.add_parser("e2e", help="run the pruned int8 digits CNN on the RTL and check it",
                       description="Train (or load from build/digits_net) the pruned int8 digits "
                                   "CNN, run its convolutions on SparTen and its classifier on "
                                   "EUREKA (Verilator), compare every logit with the golden "
                                   "integer model, and write e2e.md and e2e.json.")
    p.add_argument("--images", type=int, default=DEFAULT_IMAGES,
                   help="first N held-out test images per variant (default: all 450, about "
                        "5 minutes for both variants on two idle cores)")
    p.add_argument("--variant", action="append", choices=list(VARIANT_MODES), default=None,
                   help="network variant (repeatable; default both)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default build/reports)")
    p.add_argument("--balance", choices=METHODS, default="gbh",
                   help="SparTen load balancing of the conv layers (default gbh)")
    p.add_argument("--batch", type=int, default=16,
                   help="images per SparTen simulator process (default 16)")
    p.add_argument("--jobs", type=int, default=None,
                   help="simulator processes at a time (default 2, or 1 on one core)")
    p.add_argument("--seed", type=int, default=0, help="seed of the stall patterns")
    p.add_argument("--idle", type=float, default=0.0, help="input idle probability (0..1)")
    p.add_argument("--backpressure", type=float, default=0.0,
                   help="output backpressure probability (0..1)")
    p.set_defaults(func=run)


def run(args):
    if args.images is not None and args.images < 1:
        raise ValueError(f"--images must be at least 1, not {args.images}")
    if args.batch < 1:
        raise ValueError(f"--batch must be at least 1, not {args.batch}")
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, not {args.jobs}")
    for name in ("idle", "backpressure"):
        v = getattr(args, name)
        if not 0.0 <= v < 1.0:
            raise ValueError(f"--{name} must be in [0, 1), not {v}")
    out = args.out or build_dir() / "reports"
    data = run_e2e(args.images, tuple(args.variant or VARIANT_MODES), out, seed=args.seed,
                   idle=args.idle, backpressure=args.backpressure, balance=args.balance,
                   batch=args.batch, jobs=args.jobs)
    ok = True
    for r in data["results"]:
        print(f"{r['variant']:13s} images {r['n_images']}: float {_pct(r['float_accuracy'])}, "
              f"int8 golden {_pct(r['int8_golden_accuracy'])}, RTL {_pct(r['rtl_accuracy'])}, "
              f"bit-exact {r['bit_exact']}")
        if r["bit_exact"] is False:
            ok = False
    print(f"wrote {out / 'e2e.md'}")
    return 0 if ok else 1
