"""The markdown and plot specs of the BARISTA section of ``make bench``
(:func:`sim.bench_barista.section`): the per-layer tables of both networks, the whole networks
beside the paper, the target, what limits it, the ablation and the RTL check."""

from sim.bench_barista import PAPER, RTL_READY, TARGET_FRACTION

__all__ = ["markdown", "plots"]


def plots(nets, cfg):
    """Plot specs for ``sim/bench.py``: speed-up over dense per layer of each network."""
    plots = []
    for net, d in nets.items():
        rows = d["layers"]
        plots.append({"name": net, "kind": "bar", "x": [r["name"] for r in rows],
                      "title": f"BARISTA ({cfg.n_clusters}x{cfg.units_per_cluster} units) speed-up "
                               f"over dense per {net} layer (cycle model)",
                      "ylabel": "speed-up over dense (x)",
                      "series": {"BARISTA": [r["speedup_vs_dense"] for r in rows],
                                 "naive SparTen": [r["naive_sparten_vs_dense"] for r in rows],
                                 "one-sided": [r["onesided_vs_dense"] for r in rows],
                                 "ideal 1/(d_w d_a)": [r["ideal"] for r in rows]}})
    return plots


def _pct(x):
    return f"{100 * x:.0f}%"


def _x(v):
    return "—" if v is None else f"{v:.2f}x"


def markdown(data, cfg, rc, quick, seconds):
    """The section's markdown from its ``data``, the config ``cfg`` and the :class:`RtlCheck`
    ``rc``."""
    out = ["## BARISTA: VGG-16 and ResNet-50 on the cycle model", ""]
    out.append(
        f"{cfg.n_clusters} clusters x {cfg.units_per_cluster} SparTen compute units "
        f"({cfg.macs} MACs), chunk {cfg.chunk}; per cluster {cfg.banks} shared banks of "
        f"{cfg.bank_bytes_per_cycle} B/cycle, input buffer {cfg.input_buffer_chunks} chunks, "
        f"{cfg.colours} output colours of {cfg.output_buffer_entries} entries, combine window "
        f"{cfg.combine_window} cycles. Cycles from `golden.barista.layer_cycles`"
        f"{' on 7x7 copies (--quick)' if quick else ' at full size'}; exact per-chunk "
        f"match counts of the generated tensors. Baselines of the same MACs: dense array, "
        f"one-sided (zero weights skipped, perfectly balanced), naive SparTen (broadcast clusters "
        f"of 32 units, GB-H, per-chunk barrier).")
    out.append("")
    for net, d in data["networks"].items():
        out += _layer_table(net, d["layers"])
    out.append("| whole network (cycle-weighted) | VGG-16 | ResNet-50-shaped | BARISTA paper |")
    out.append("|---|---|---|---|")
    v, rn = data["networks"]["vgg16"]["headline"], data["networks"]["resnet50"]["headline"]
    for key, label in (("speedup_vs_dense", "speed-up over dense"),
                       ("speedup_vs_onesided", "speed-up over one-sided"),
                       ("speedup_vs_naive_sparten", "speed-up over naive SparTen"),
                       ("speedup_vs_isoarea_sparten", "speed-up over iso-area SparTen")):
        out.append(f"| {label} | {_x(v.figures.get(key))} | {_x(rn.figures.get(key))} | "
                   f"{PAPER[key]}x |")
    out.append(f"| fraction of ideal | {_pct(v['fraction_of_ideal'])} (ideal "
               f"{v['ideal']:.2f}x) | {_pct(rn['fraction_of_ideal'])} (ideal {rn['ideal']:.2f}x) "
               f"| target >= {_pct(TARGET_FRACTION)} (VGG-16) |")
    out.append(f"| unit utilisation / bank use / output-buffer occupancy | {v['utilization']:.2f}"
               f" / {_pct(v['bank_utilization'])} / {_pct(v['output_occupancy'])} | "
               f"{rn['utilization']:.2f} / {_pct(rn['bank_utilization'])} / "
               f"{_pct(rn['output_occupancy'])} | — |")
    out += ["", f"Iso-area SparTen: {data['isoarea_note']}.", ""]
    out.append(f"Whole cluster in RTL against SparTen's whole engine of the same 4 MACs (area per "
               f"MAC): {data['cluster_area_note']}. Measured at the RTL's chunk 8, it does not "
               f"replace the chunk-128 estimate above.")
    if "speedup_vs_isoarea_sparten" in v.figures:
        out.append("")
        out.append("The ratio counts standard-cell logic only: SparTen's per-unit filter banks and "
                   "BARISTA's shared banks and private buffers are memory macros, outside it. On "
                   "logic alone BARISTA's fetch ports make it the larger design per MAC, so the "
                   "iso-area SparTen gets more MACs than the naive one and the figure falls below "
                   "the naive one; the paper's 2.5x over 1.7x says the opposite holds with its "
                   "buffers counted (the naive design's buffering is what BARISTA removes).")
    out += ["", f"**Target** (issue 13): at least {_pct(TARGET_FRACTION)} of the ideal on the "
            f"whole VGG-16: **{'met' if v['fraction_of_ideal'] >= TARGET_FRACTION else 'not met'}"
            f"** ({_pct(v['fraction_of_ideal'])})."]
    out += ["", _limits(data)]
    out += _ablation_table(data["ablation"]) + _rtl_table(rc)
    out += ["", f"(section took {seconds:.0f} s)"]
    return "\n".join(out) + "\n"


def _ablation_table(rows):
    """The ablation rows (each technique off in turn)."""
    out = ["", "Ablation (each technique off in turn, same tensors):", ""]
    out.append("| layer | variant | cycles | vs dense | % of ideal | bank use | bank-bound steps | "
               "input reads / requests | filter reads / requests |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        out.append(f"| {r['layer']} | {r['variant']} | {r['cycles']} | "
                   f"{r['speedup_vs_dense']:.2f}x | {_pct(r['fraction_of_ideal'])} | "
                   f"{_pct(r['bank_utilization'])} | {r['bank_bound_steps']}/{r['steps']} | "
                   f"{r['bank_reads']['input']} / {r['bank_requests']['input']} | "
                   f"{r['bank_reads']['filter']} / {r['bank_requests']['filter']} |")
    return out + [""]


def _rtl_table(rc):
    """The RTL check's rows (the whole cluster on Verilator)."""
    out = ["RTL check (`barista_cluster` on Verilator, random load idle and output "
           f"backpressure {RTL_READY}/256): reduced layers through the whole cluster", ""]
    out.append("| layer | clusters | K x C, map | kernel / stride / pad | RTL cycles | trace | "
               "layer model | bank reads / requests | bit-exact | equal |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rc.rows:
        out.append(f"| {r['name']} | {r.get('clusters', 1)} | {r['K']} x {r['C']}, "
                   f"{r['size']}x{r['size']} | {r['R']} / "
                   f"{r['stride']} / {r['padding']} | {r['rtl_cycles']} | {r['trace_cycles']} | "
                   f"{r['model_cycles']} | {r['reads']} / {r['requests']} | "
                   f"{'yes' if r['bit_exact'] else 'NO'} | {'yes' if r['equal'] else 'NO'} |")
    out.append("")
    out.append(f"{'Every row equal' if rc.all_equal else 'MISMATCH (see bench.json)'}. "
               f"Scope: {rc.scope}.")
    return out


def _layer_table(net, layers):
    """The per-layer table of one network."""
    out = [f"### {net}"]
    out.append("")
    out.append("| layer | x n | C->K | HxW | R/stride | d_w | d_a | ideal | vs dense | "
               "vs one-sided | vs naive SparTen | % of ideal | util | bank use | "
               "out-buffer occ. | in-buffer peak | tiles | pieces | model s |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in layers:
        out.append(
            f"| {r['name']} | {r['count']} | {r['C']}->{r['K']} | {r['H']}x{r['H']} | "
            f"{r['R']}/{r['stride']} | {r['d_w']:.2f} | {r['d_a']:.2f} | {r['ideal']:.2f}x | "
            f"{r['speedup_vs_dense']:.2f}x | {r['speedup_vs_onesided']:.2f}x | "
            f"{r['speedup_vs_naive_sparten']:.2f}x | {_pct(r['fraction_of_ideal'])} | "
            f"{r['utilization']:.2f} | {_pct(r['bank_utilization'])} | "
            f"{_pct(r['output_occupancy'])} | {_pct(r['input_buffer_peak'])} | "
            f"{r['tiles'][0]} | {r['pieces']} | {r['model_seconds']:.1f} |")
    out.append("")
    return out


def _limits(data):
    """What keeps each network below its ideal and the paper's figures, from the model's rows."""
    parts = []
    for net, d in data["networks"].items():
        rows = sorted(d["layers"], key=lambda r: r["fraction_of_ideal"])[:3]
        lost = []
        for r in rows:
            why = []
            if r["bank_bound_steps"]:
                why.append(f"banks set {r['bank_bound_steps']} of {r['steps']} steps")
            per_pair = r["C"] * r["d_w"] * r["d_a"]
            if per_pair < 2:
                why.append(f"a chunk pair holds {per_pair:.1f} matches on average (C={r['C']}) "
                           f"but costs at least a cycle")
            cfgd = data["config"]
            if r["K"] > cfgd["units_per_cluster"] * cfgd["n_clusters"]:
                why.append("more filters than units: each unit owns a filter for a round, so "
                           "filters of unequal work leave units idle")
            tasks = r["K"] * (r["H"] // r["stride"]) ** 2 * r["pieces"] / (
                cfgd["units_per_cluster"] * cfgd["n_clusters"])
            if tasks < 16:
                why.append(f"about {tasks:.0f} task pieces per unit: the last ones leave units idle")
            lost.append(f"{r['name']} {_pct(r['fraction_of_ideal'])}"
                        f" ({'; '.join(why) or 'residual imbalance between filter groups'})")
        parts.append(f"{net}: lowest layers {', '.join(lost)}")
    return ("What limits it: " + ". ".join(parts) + ". The speed-ups over one-sided and naive "
            "SparTen also depend on the baselines: ours are the one-sided engine perfectly "
            "balanced and naive SparTen without a bandwidth limit, both generous.")
