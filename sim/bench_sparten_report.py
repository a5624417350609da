"""The markdown of the SparTen section of ``make bench`` (:func:`sim.bench_sparten.section`):
the per-layer table, the whole network beside the paper, the target and why it is missed, the
synthesised tops' speed-ups and the RTL check."""

from sim.bench_sparten import (CHANNEL_CONCENTRATION, FILTER_CONCENTRATION, PAPER, SEED,
                               TARGET_FRACTION, UNIT_FIFO)

__all__ = ["markdown"]


def markdown(data, h, rc, cfg, quick, seconds):
    """The section's markdown from its ``data``, :class:`Headline` ``h`` and :class:`RtlCheck`."""
    checked = {r["name"]: r for r in rc.rows}
    net = data["network"]
    out = ["## SparTen: VGG-16 on the cycle model", ""]
    out.append(
        f"Cluster of {cfg.n_units} units, chunk {cfg.chunk}, {cfg.matches_per_cycle} match per unit "
        f"per cycle. Weights: Han et al. 2015 pruned densities, per-filter densities spread "
        f"(Beta, concentration {FILTER_CONCENTRATION:g}); activations: densities 0.3-0.6 as listed, "
        f"per-channel spread (Beta, concentration {CHANNEL_CONCENTRATION:g}); seed {SEED}. "
        f"Cycles from `golden.sparten_model.layer_cycles`"
        f"{' on spatially reduced layers (--quick)' if quick else ' at full size'}; "
        f"d_w, d_a measured on the generated tensors, d_a as the 3x3 taps read the input "
        f"(padding zeros included, as the dense baseline multiplies them); ideal = 1/(d_w*d_a).")
    out.append("")
    out.append("| layer | C->K | HxW | d_w | d_a | ideal | vs dense none / GB-S / GB-H | "
               "vs one-sided (GB-H) | % of ideal (GB-H) | GB-S gain | GB-H gain | util (GB-H) | "
               f"GB-H + unit FIFO {UNIT_FIFO}: vs dense, % of ideal | model s | RTL-checked |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in data["layers"]:
        sd = r["speedup_vs_dense"]
        c = checked.get(r["name"])
        if c is None:
            rtl = "—"
        elif c.get("error"):
            rtl = f"FAILED ({c['size']}x{c['size']}, C={c['C']}, K={c['K']}: RTL run failed)"
        else:
            rtl = (f"{'yes' if c['equal'] else 'MISMATCH'} ({c['size']}x{c['size']}, C={c['C']}, "
                   f"K={c['K']}: {c['rtl_cycles']} RTL / {c['model_cycles']} model cycles)")
        out.append(
            f"| {r['name']} | {r['C']}->{r['K']} | {r['H']}x{r['H']} | {r['d_w']:.2f} | "
            f"{r['d_a']:.2f} | {r['ideal']:.2f}x | {sd['none']:.2f}x / {sd['gbs']:.2f}x / "
            f"{sd['gbh']:.2f}x | {r['speedup_vs_onesided']['gbh']:.2f}x | "
            f"{100 * r['fraction_of_ideal']['gbh']:.0f}% {'met' if r['target_met'] else 'not met'}"
            f" | {r['gain_gbs']:.3f}x | {r['gain_gbh']:.3f}x | "
            f"{r['methods']['gbh'].get('utilization', float('nan')):.2f} | "
            f"{r['unit_fifo']['speedup_vs_dense']:.2f}x, "
            f"{100 * r['unit_fifo']['fraction_of_ideal']:.0f}% | "
            f"{r['model_seconds'] + r['unit_fifo']['model_seconds']:.1f} | {rtl} |")
    out.append("")
    q = net["unit_fifo"]
    out.append(f"| whole network (cycle-weighted) | ours (GB-H) | ours (GB-H + unit FIFO "
               f"{q['depth']}) | SparTen paper |")
    out.append("|---|---|---|---|")
    out.append(f"| speed-up over dense | {h['speedup_vs_dense']:.2f}x | "
               f"{q['speedup_vs_dense']:.2f}x | {PAPER['speedup_vs_dense']}x |")
    out.append(f"| speed-up over one-sided | {h['speedup_vs_onesided']:.2f}x | "
               f"{q['speedup_vs_onesided']:.2f}x | {PAPER['speedup_vs_onesided']}x |")
    out.append(f"| fraction of ideal ({h['ideal']:.2f}x) | {100 * h['fraction_of_ideal']:.0f}% | "
               f"{100 * q['fraction_of_ideal']:.0f}% | — |")
    out.append(f"| GB-S gain over plain order | {h['gain_gbs']:.3f}x | — | — |")
    out.append(f"| GB-H gain over plain order | {h['gain_gbh']:.3f}x | — | — |")
    out.append("")
    out.append(f"Headline = the paper's cluster (a unit takes a chunk only when its join is free, "
               f"so every chunk costs its slowest unit). The unit FIFO column is our relaxation "
               f"(`SparTenConfig.unit_fifo_depth = {q['depth']}`: the next chunk is broadcast once "
               f"every unit has started the one {q['depth']} back), same GB-H assignment, same "
               f"cycle model.")
    out.append("")
    n_met = len(net["target_met_layers"])
    verdict = "met" if net["target_met_all_layers"] else "not met"
    n_met_q = len(q["target_met_layers"])
    out.append(f"**Target** (issue 3): GB-H at least {100 * TARGET_FRACTION:.0f}% of the ideal "
               f"on every layer: **{verdict}** ({n_met} of {len(data['layers'])} layers; whole "
               f"network {100 * h['fraction_of_ideal']:.0f}%). With the unit FIFO of depth "
               f"{q['depth']}: {n_met_q} of {len(data['layers'])} layers "
               f"({', '.join(q['target_met_layers']) or 'none'}); whole network "
               f"{100 * q['fraction_of_ideal']:.0f}%.")
    if not net["target_met_all_layers"]:
        out.append("")
        out.append(_why_not(data["layers"], h, cfg))
    out.append("")
    out += _pairs_markdown(h)
    out += [_rtl_markdown(rc), "", f"(section took {seconds:.0f} s)"]
    return "\n".join(out) + "\n"


def _rtl_markdown(rc):
    """The sentence on the RTL check of the model."""
    if rc.missing:
        return f"RTL check: not run ({rc.missing})."
    names = ", ".join(f"{r['name']} ({r['size']}x{r['size']}, C={r['C']}, K={r['K']})"
                      for r in rc.rows)
    cfg_name = rc.rows[0]["config"] if rc.rows else "?"
    errors = sorted({r["error"] for r in rc.rows if r.get("error")})
    verdict = ("RTL cycle counter equal to the model and outputs bit-exact on every one"
               if rc.all_equal else "FAILED: " + "; ".join(errors) if errors
               else "MISMATCH (see bench.json)")
    if rc.rows and rc.rows[0].get("full_size"):
        return (f"RTL check of the model: {names} at full size on the paper-sized RTL "
                f"({cfg_name}, native harness, {rc.rows[0]['method']} order per "
                f"output-channel group, tiled by golden/sparten_plan.py): {verdict} "
                f"(next section).")
    return (f"RTL check of the model ({cfg_name}, {rc.rows[0]['method']} order, "
            f"one simulation, {rc.rows[0]['seconds_all']:.0f} s including the "
            f"Verilog conversion and, on first use, the Verilator build): reduced "
            f"copies of {names} (input cut to the size shown, first C channels and K "
            f"filters): {verdict}.")


def _pairs_markdown(h):
    """The table of the synthesised tops' speed-ups (what ``make area``'s iso-area rows use)."""
    if not h.pairs:
        return []
    return ["Speed-ups of the synthesised tops (what `make area`'s iso-area rows use):", "",
            "| top | over | speed-up | workload |", "|---|---|---:|---|",
            *[f"| `{p.design}` | `{p.baseline}` | {p.speedup:.2f}x | {p.workload} |"
              for p in h.pairs], ""]


def _why_not(layers, h, cfg):
    """A sentence on what keeps the layers below the target, from the model's own figures."""
    worst = min(layers, key=lambda r: r["fraction_of_ideal"]["gbh"])
    gbs_vs_gbh = h["gain_gbh"] / h["gain_gbs"]
    parts = []
    for r in layers:
        if r["target_met"]:
            continue
        g = r["methods"]["gbh"]
        util = g["matched_macs"] / (cfg.n_units * g["cycles"])
        parts.append(f"{r['name']} {100 * r['fraction_of_ideal']['gbh']:.0f}% "
                     f"(units busy {100 * util:.0f}% of cycles)")
    return ("Why not: the speed-up is the MAC ratio times the units' utilisation. What is lost is "
            "the barrier: at every broadcast chunk each unit waits for the unit with the most "
            "matches of its round, and a chunk with no match still costs a cycle; balancing by "
            "filter (GB-S/GB-H) removes the part due to unequal filters but not the spread of "
            "matches between chunks of one activation vector, which random activation masks "
            f"make large when chunks hold few matches (a static assignment cannot follow them; "
            f"GB-H over GB-S: {gbs_vs_gbh:.3f}x). Layers below target: {'; '.join(parts)}. "
            f"Worst: {worst['name']}. A queue of {UNIT_FIFO} chunks per unit lets a unit that was "
            f"slow on one chunk catch up on the next ones and recovers most of the barrier loss "
            f"(column above); what remains there is the cycle every chunk without a match still "
            f"costs (padding taps, and most chunks of conv1_1, whose 3 channels hold at most 3 "
            f"matches per 128-slot chunk) and the spread of whole-position work between units.")
