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


def _section_plots(plt, out, name, data):
    """Plots of one section: its ``data["plots"]`` specs ``{name, title, xlabel, ylabel,
    x (labels or numbers), series: {label: ys}, kind: "bar"|"line"}`` (``x`` and ``series``
    required)."""
    written = []
    for i, p in enumerate(data.get("plots", ())):
        xs, series = p["x"], p["series"]
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
