"""The PNG plots of ``make bench``: published vs ours, iso-area, and each section's own plots
(from its tables and its ``data["plots"]`` specs)."""

import numpy as np

__all__ = ["plots", "README_PLOTS"]

#: Plots that README.md shows (copied to docs/ by a full `make bench`).
README_PLOTS = ("bench_reproduction.png", "bench_sparten_vgg16.png")


def plots(out, sections, iso_rows, repro):
    """PNG plots into ``out`` from the sections (:class:`~report.schema.Section` by name), the
    :class:`~report.schema.IsoArea` rows and the reproduction rows; returns the file names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    # Reproduction: published vs ours, speed-ups only.
    speed = [r for r in repro if not r.get("percent")]
    if any(r["ours"] is not None for r in speed):
        fig, ax = plt.subplots(figsize=(7, 3.6))
        x = np.arange(len(speed))
        ax.bar(x - 0.2, [r["paper"] for r in speed], 0.4, label="published")
        ax.bar(x + 0.2, [r["ours"] or 0 for r in speed], 0.4, label="ours (sparse-hw)")
        ax.set_xticks(x, [f"{r['engine']}\n{r['metric'].replace('speed-up ', '')}" for r in speed],
                      fontsize=8)
        ax.set_ylabel("speed-up (x)")
        ax.set_title("Published headline speed-ups vs this generator")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "bench_reproduction.png", dpi=110)
        plt.close(fig)
        written.append("bench_reproduction.png")
    for name, sec in sections.items():
        for fname in _section_plots(plt, out, name, sec.data):
            written.append(fname)
    rows = [r for r in iso_rows if r.iso_area_speedup is not None]
    if rows:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        labels = [f"{r.design} vs\n{r.baseline}" for r in rows]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r.speedup for r in rows], 0.4, label="cycle speed-up")
        ax.bar(x + 0.2, [r.iso_area_speedup for r in rows], 0.4, label="iso-area speed-up")
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_ylabel("x")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "bench_iso_area.png", dpi=110)
        plt.close(fig)
        written.append("bench_iso_area.png")
    return written


def _known_plots(name, data):
    """Plot specs built from the sections' own tables (see :func:`_section_plots`)."""
    specs = []
    layers = data.get("layers")
    if name == "sparten" and isinstance(layers, list) and layers \
            and isinstance(layers[0].get("speedup_vs_dense"), dict):
        sd = [l["speedup_vs_dense"] for l in layers]
        specs.append({
            "name": "vgg16", "kind": "bar", "x": [l["name"] for l in layers],
            "title": "SparTen speed-up over dense per VGG-16 layer (cycle model)",
            "ylabel": "speed-up (x)",
            "series": {"plain order": [d.get("none") for d in sd], "GB-S": [d.get("gbs") for d in sd],
                       "GB-H": [d.get("gbh") for d in sd],
                       "ideal 1/(d_w d_a)": [l.get("ideal") for l in layers]}})
    un = data.get("unstructured")
    # Only when the section draws no plot of its own (its plot then shows what its headline uses).
    if name == "eureka" and not data.get("plots") and isinstance(un, list) and un \
            and "suds" in un[0]:
        groups = sorted({r["group"] for r in un})
        dens = sorted({r["density"] for r in un})
        g = max(groups)
        by = {(r["group"], r["density"]): r for r in un}
        series = {}
        for gg in groups:
            series[f"SUDS G={gg}"] = [by.get((gg, d), {}).get("suds") for d in dens]
        series[f"no SUDS G={g}"] = [by.get((g, d), {}).get("nosuds") for d in dens]
        series[f"SUDS indep. lanes G={g}"] = [by.get((g, d), {}).get("suds_indep") for d in dens]
        series[f"ideal G={g}"] = [by.get((g, d), {}).get("ideal") for d in dens]
        series["2:4 (any G>=4)"] = [2.0 for _ in dens]
        specs.append({"name": "density", "kind": "line", "x": dens,
                      "title": "EUREKA speed-up over the dense core vs weight density (cycle model)",
                      "xlabel": "weight density d_w", "ylabel": "speed-up (x)",
                      "series": series})
    return specs


def _section_plots(plt, out, name, data):
    """Plots of one section: built from its known tables (:func:`_known_plots`) and any
    ``data["plots"]`` entries ``{name, title, xlabel, ylabel, x (labels or numbers),
    series: {label: ys}, kind: "bar"|"line"}``."""
    written = []
    specs = _known_plots(name, data) + list(data.get("plots") or [])
    for i, p in enumerate(specs):
        try:
            xs, series = p["x"], p["series"]
        except (KeyError, TypeError):
            continue
        fig, ax = plt.subplots(figsize=(8, 3.6))
        if p.get("kind", "bar") == "bar":
            n = max(1, len(series))
            width = 0.8 / n
            xi = np.arange(len(xs))
            for j, (label, ys) in enumerate(series.items()):
                ax.bar(xi + (j - (n - 1) / 2) * width, [y if y is not None else 0 for y in ys],
                       width, label=label)
            ax.set_xticks(xi, [str(v) for v in xs], rotation=45 if len(xs) > 6 else 0, fontsize=8)
        else:
            for label, ys in series.items():
                pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
                style = "--" if label.startswith(("ideal", "2:4")) else "-"
                ax.plot([x for x, _ in pts], [y for _, y in pts], style, marker="o", ms=3,
                        label=label)
        ax.set_title(p.get("title", name))
        ax.set_xlabel(p.get("xlabel", ""))
        ax.set_ylabel(p.get("ylabel", ""))
        ax.legend(fontsize=8)
        fig.tight_layout()
        fname = f"bench_{name}_{p.get('name', i)}.png"
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        written.append(fname)
    return written
