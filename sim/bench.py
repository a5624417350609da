"""``sparse-hw bench``: the benchmark report of both engines, beside the published numbers.

Writes ``build/reports/bench.md`` (what a person reads), ``bench.json`` (every number) and PNG plots
into the same folder. It gathers:

* the SparTen section (:func:`sim.bench_sparten.section`) and the EUREKA section
  (:func:`sim.bench_eureka.section`) when those modules are importable; each returns
  ``(markdown, data)`` and is responsible for checking every cycle-model figure it uses at full
  size against the RTL on a reduced version of the same workload *in the same run*; this report
  repeats which figures were so checked;
* area-normalised (iso-area) speed-ups from ``build/reports/area.json`` when ``make area`` has
  written it (otherwise the report says to run it);
* a reproduction table: each published headline number beside ours, with both workloads named;
* simulation speed: simulated cycles per second and MACs per second of RTL runs timed here.

A text progress bar runs on stderr throughout (:class:`Progress`). ``--quick`` asks the sections for
their reduced mode (the test suite uses it).
"""

import importlib
import inspect
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["Progress", "PUBLISHED", "register", "run_bench", "load_area", "iso_area",
           "reproduction_rows", "write_report", "sim_speed"]

SECTIONS = (("sparten", "sim.bench_sparten"), ("eureka", "sim.bench_eureka"),
            ("barista", "sim.bench_barista"))


# ---------------------------------------------------------------------------------------------
# progress

class Progress:
    """A plain-text progress bar on stderr, shared by ``bench`` and ``e2e``.

    On a terminal it redraws one line; otherwise (CI logs, pipes) it prints one line per update.
    It accepts the shapes progress callbacks take in practice: ``progress(msg)``,
    ``progress(done, total)``, ``progress(done, total, msg)`` or keywords ``done=, total=, msg=``.

    Parameters
    ----------
    label : str
        Prefix of every line (e.g. ``"bench"``).
    stream : file or None
        Default ``sys.stderr``; ``None`` is silent.
    width : int
        Characters of the bar.
    """

    def __init__(self, label, stream=sys.stderr, width=24):
        self.label = label
        self.stream = stream
        self.width = width
        self.t0 = time.monotonic()
        self.stage = ""
        self._tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last_len = 0
        self._printed = {}

    def elapsed(self):
        return time.monotonic() - self.t0

    def sub(self, stage):
        """A callback for one stage: its messages are prefixed with ``stage``."""
        def cb(*args, **kw):
            self.stage = stage
            self(*args, **kw)
        return cb

    def __call__(self, *args, done=None, total=None, msg=None):
        if self.stream is None:
            return
        nums = [a for a in args if isinstance(a, (int, float, np.integer)) and not isinstance(a, bool)]
        texts = [str(a) for a in args if not isinstance(a, (int, float, np.integer))]
        if done is None and nums:
            done = nums[0]
        if total is None and len(nums) > 1:
            total = nums[1]
        if msg is None:
            msg = " ".join(texts)
        head = f"[{self.label} {self.elapsed():6.1f}s]"
        if self.stage:
            head += f" {self.stage}:"
        bar = ""
        if done is not None and total:
            frac = min(max(float(done) / float(total), 0.0), 1.0)
            fill = int(round(frac * self.width))
            bar = f" |{'#' * fill}{'.' * (self.width - fill)}| {done}/{total}"
        line = f"{head}{bar} {msg}".rstrip()
        if self._tty:
            self.stream.write("\r" + line + " " * max(0, self._last_len - len(line)))
            self._last_len = len(line)
            if done is not None and total and done >= total:
                self.stream.write("\n")
                self._last_len = 0
        else:
            # Logs get a line per tenth of a bar (and the first and last step), not per step.
            if done is not None and total:
                tenth = int(10 * min(max(float(done) / float(total), 0.0), 1.0))
                key = (self.stage, total)
                if self._printed.get(key) == tenth and done not in (1, total):
                    return
                self._printed[key] = tenth
            self.stream.write(line + "\n")
        self.stream.flush()

    def log(self, msg):
        """A line that stays (ends a bar being redrawn)."""
        if self.stream is None:
            return
        if self._tty and self._last_len:
            self.stream.write("\n")
            self._last_len = 0
        self.stream.write(f"[{self.label} {self.elapsed():6.1f}s] {msg}\n")
        self.stream.flush()


# ---------------------------------------------------------------------------------------------
# published numbers

#: Headline numbers of the two papers (facts cited; the workloads are the papers').
PUBLISHED = [
    {"id": "sparten_vs_dense", "engine": "SparTen", "metric": "speed-up over dense", "paper": 4.7,
     "paper_workload": "SparTen (MICRO'19), simulated cluster, average over its pruned CNNs"},
    {"id": "sparten_vs_onesided", "engine": "SparTen", "metric": "speed-up over one-sided sparse",
     "paper": 1.8,
     "paper_workload": "SparTen (MICRO'19), simulated cluster, average over its pruned CNNs"},
    {"id": "eureka_vs_dense", "engine": "EUREKA", "metric": "speed-up over dense", "paper": 5.0,
     "approx": True,
     "paper_workload": "EUREKA (MICRO'23), unstructured-sparse DNNs vs a dense tensor core"},
    {"id": "eureka_vs_2to4", "engine": "EUREKA", "metric": "speed-up over 2:4 structured",
     "paper": 2.5, "approx": True,
     "paper_workload": "EUREKA (MICRO'23), vs Ampere's 2:4 sparse tensor core"},
    {"id": "eureka_area_vs_ampere", "engine": "EUREKA", "metric": "area over Ampere-like 2:4 core",
     "paper": 0.06, "percent": True,
     "paper_workload": "EUREKA (MICRO'23), tensor-core area overhead (power +11.5%)"},
    # BARISTA (arXiv 2104.08734): averages over its CNNs, 4 clusters x 8K MACs.
    {"id": "barista_vs_dense", "engine": "BARISTA", "metric": "speed-up over dense", "paper": 5.4,
     "paper_workload": "BARISTA (arXiv 2104.08734), 32K MACs, average over its CNNs"},
    {"id": "barista_vs_onesided", "engine": "BARISTA", "metric": "speed-up over one-sided sparse",
     "paper": 2.2, "paper_workload": "BARISTA (arXiv 2104.08734), 32K MACs, average"},
    {"id": "barista_vs_naive", "engine": "BARISTA",
     "metric": "speed-up over naively scaled two-sided", "paper": 1.7,
     "paper_workload": "BARISTA (arXiv 2104.08734), 32K MACs, average"},
    {"id": "barista_vs_isoarea", "engine": "BARISTA", "metric": "speed-up over iso-area two-sided",
     "paper": 2.5, "paper_workload": "BARISTA (arXiv 2104.08734), 32K MACs, average"},
]
#: Section of each engine of ``PUBLISHED``.
ENGINE_SECTION = {"SparTen": "sparten", "EUREKA": "eureka", "BARISTA": "barista"}


# ---------------------------------------------------------------------------------------------
# sections

def _call_section(mod, progress, quick, area_path=None):
    fn = mod.section
    params = inspect.signature(fn).parameters
    kw = {}
    if "progress" in params:
        kw["progress"] = progress
    if area_path is not None and "area_path" in params:
        kw["area_path"] = area_path   # sections that use the area report (BARISTA's iso-area)
    if quick:
        if "quick" in params:
            kw["quick"] = True
        elif any(p.kind is p.VAR_KEYWORD for p in params.values()):
            kw["quick"] = True
    result = fn(**kw)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str)
            and isinstance(result[1], dict)):
        raise TypeError(f"{mod.__name__}.section() must return (markdown, dict), got "
                        f"{type(result).__name__}")
    return result, ("quick" in kw)


def _import_section(modname):
    try:
        return importlib.import_module(modname), None
    except ModuleNotFoundError as e:
        if e.name == modname:
            return None, "not written yet"
        raise


def _lookup(data, *paths):
    """First value found at one of the dotted ``paths`` in nested dicts (``None`` if none)."""
    for path in paths:
        cur = data
        for part in path.split("."):
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                cur = None
                break
        if isinstance(cur, (int, float)) and not isinstance(cur, bool):
            return float(cur)
    return None


# Where each section keeps its headline numbers; several spellings are accepted so that the
# sections can name them naturally. The first found wins.
OURS_PATHS = {
    "sparten_vs_dense": ("headline.speedup_vs_dense", "headline.speedup_over_dense",
                         "summary.speedup_vs_dense", "summary.speedup_over_dense",
                         "average.speedup_vs_dense", "mean.speedup_vs_dense"),
    "sparten_vs_onesided": ("headline.speedup_vs_onesided", "headline.speedup_over_onesided",
                            "headline.speedup_vs_one_sided", "summary.speedup_vs_onesided",
                            "summary.speedup_over_onesided", "average.speedup_vs_onesided",
                            "mean.speedup_vs_onesided"),
    "eureka_vs_dense": ("headline.speedup_vs_dense", "headline.speedup_over_dense",
                        "summary.speedup_vs_dense", "summary.speedup_over_dense"),
    "eureka_vs_2to4": ("headline.speedup_vs_2to4", "headline.speedup_over_2to4",
                       "headline.speedup_vs_24", "summary.speedup_vs_2to4",
                       "summary.speedup_over_2to4"),
    "barista_vs_dense": ("headline.speedup_vs_dense",),
    "barista_vs_onesided": ("headline.speedup_vs_onesided",),
    "barista_vs_naive": ("headline.speedup_vs_naive_sparten",),
    "barista_vs_isoarea": ("headline.speedup_vs_isoarea_sparten",),
}
WORKLOAD_PATHS = {
    "sparten": ("headline.workload", "summary.workload", "workload"),
    "eureka": ("headline.workload", "summary.workload", "workload"),
    "barista": ("headline.workload", "workload"),
}


def _lookup_str(data, paths):
    for path in paths:
        cur = data
        for part in path.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if isinstance(cur, str):
            return cur
    return None


# ---------------------------------------------------------------------------------------------
# area

def load_area(path):
    """``{design name: record}`` from ``area.json`` (``None`` when the file is absent).

    The like-for-like pairs ``make area`` chose (its ``comparisons`` list) are kept under the
    key ``None``.
    """
    path = Path(path)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    comps = data.get("comparisons") if isinstance(data, dict) else None
    records = data
    if isinstance(data, dict):
        records = data.get("designs", data.get("tops", data))
    if isinstance(records, dict):
        records = [dict(v, design=v.get("design", k)) for k, v in records.items()
                   if isinstance(v, dict)]
    out = {}
    for r in records:
        if isinstance(r, dict) and "design" in r:
            out[r["design"]] = r
    if isinstance(comps, list):
        out[None] = [c for c in comps if isinstance(c, dict)]
    return out


def _area_of(rec):
    """``(value, unit)``: µm² when synthesised with a library, else transistors, else cells."""
    for key, unit in (("area_um2", "µm²"), ("transistors", "transistors"), ("cells", "cells")):
        v = rec.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return float(v), unit
    return None, None


def _pick(area, *must, avoid=()):
    """The design whose lower-cased name contains every word of ``must`` and none of ``avoid``."""
    hits = [n for n in sorted(k for k in area if isinstance(k, str)) if all(w in n.lower() for w in must)
            and not any(w in n.lower() for w in avoid)]
    return hits[0] if hits else None


def _eureka_speedup_at(sections, group, vs_2to4):
    """EUREKA SUDS speed-up at the section's headline density for a core of ``group`` (G), from
    the section's unstructured table; ``(speedup, workload)`` or ``(None, None)``."""
    data = (sections or {}).get("eureka", {}).get("data") or {}
    head = data.get("headline") or {}
    dens = head.get("density")
    if group is not None and head.get("group") == group:
        key = "speedup_vs_2to4" if vs_2to4 else "speedup_vs_dense"
        if isinstance(head.get(key), (int, float)):
            return head[key], f"EUREKA section headline (G={group}, d_w={dens})"
    row_key = head.get("row_key", "suds")
    for table in ("unstructured", "skewed"):
        for r in data.get(table) or ():
            if r.get("group") == group and dens is not None and row_key in r \
                    and abs(r.get("density", -1) - dens) < 1e-9:
                s2 = 2.0 if vs_2to4 else 1.0
                return r[row_key] / s2, (f"{row_key}, G={group}, d_w={dens} (EUREKA section's "
                                         f"{table} table{'; 2:4 = 2.0x' if vs_2to4 else ''})")
    return None, None


def iso_area(area, speedups, sections=None):
    """Iso-area speed-ups: cycle speed-up x (area of dense baseline / area of the sparse engine).

    The pairs are those ``make area`` compared (``area[None]``, its ``comparisons``) when present,
    else designs matched by name. EUREKA's speed-up is taken at the synthesised core's G when the
    section tabulates it.

    Parameters
    ----------
    area : dict
        From :func:`load_area`.
    speedups : dict
        ``{"sparten_vs_dense": x, "eureka_vs_dense": x, "eureka_vs_2to4": x}`` (any may be None).
    sections : dict or None
        The benchmark sections (for the per-G EUREKA table).

    Returns
    -------
    list of dict
        Rows ``{engine, sparse, baseline, baseline_label, unit, area_ratio, speedup,
        speedup_workload, iso_area_speedup}``.
    """
    comps = area.get(None)
    if comps:
        return _iso_from_comparisons(area, comps, speedups, sections)
    rows = []
    pairs = [
        ("SparTen", _pick(area, "sparten", avoid=("dense",)), _pick(area, "sparten", "dense"),
         speedups.get("sparten_vs_dense"), "dense MAC array"),
        ("EUREKA", _pick(area, "eureka", avoid=("dense", "ampere")),
         _pick(area, "eureka", "dense") or _pick(area, "dense", avoid=("sparten",)),
         speedups.get("eureka_vs_dense"), "dense core"),
        ("EUREKA", _pick(area, "eureka", avoid=("dense", "ampere")), _pick(area, "ampere"),
         speedups.get("eureka_vs_2to4"), "Ampere-like 2:4 core"),
    ]
    for engine, sparse, base, speedup, base_label in pairs:
        if not sparse or not base:
            continue
        a_s, unit_s = _area_of(area[sparse])
        a_b, unit_b = _area_of(area[base])
        if a_s is None or unit_s != unit_b:
            continue
        ratio = a_s / a_b
        rows.append({"engine": engine, "sparse": sparse, "baseline": base,
                     "baseline_label": base_label, "unit": unit_s, "area_sparse": a_s,
                     "area_baseline": a_b, "area_ratio": ratio, "speedup": speedup,
                     "speedup_workload": "headline of the section",
                     "iso_area_speedup": None if speedup is None else speedup / ratio})
    return rows


def _iso_from_comparisons(area, comps, speedups, sections):
    rows = []
    for c in comps:
        design, base = c.get("design"), c.get("baseline")
        ratio = c.get("area_ratio")
        if not design or not base or not ratio:
            continue
        rec_d, rec_b = area.get(design, {}), area.get(base, {})
        metric = c.get("metric", "area_um2")
        unit = {"area_um2": "µm²", "cells": "cells", "transistors": "transistors"}.get(metric, metric)
        engine = str(c.get("engine", "")).lower()
        cfg_b = rec_b.get("config") or {}
        cfg_d = rec_d.get("config") or {}
        ampere = "ampere" in base.lower() or cfg_b.get("variant") == "ampere24"
        if engine == "eureka":
            label = "Ampere-like 2:4 core" if ampere else "dense core"
            sp, wl = _eureka_speedup_at(sections, cfg_d.get("group"), ampere)
            if sp is None:
                sp = speedups.get("eureka_vs_2to4" if ampere else "eureka_vs_dense")
                wl = "EUREKA section headline"
            name = "EUREKA"
        elif engine == "sparten":
            label = "dense MAC array"
            sp = speedups.get("sparten_vs_dense")
            wl = "SparTen section headline (VGG-16, GB-H)"
            name = "SparTen"
        else:
            continue
        a_b = rec_b.get(metric)
        a_d = rec_d.get(metric)
        if a_d is None and isinstance(a_b, (int, float)):
            a_d = a_b * ratio  # a sub-block pair of make area (e.g. "x/cluster"): from its ratio
        rows.append({"engine": name, "sparse": design, "baseline": base, "baseline_label": label,
                     "unit": unit, "area_sparse": a_d, "area_baseline": a_b,
                     "area_ratio": ratio, "speedup": sp, "speedup_workload": wl,
                     "iso_area_speedup": None if sp is None else sp / ratio})
    return rows


# ---------------------------------------------------------------------------------------------
# reproduction table

def reproduction_rows(sections, iso_rows):
    """Each published headline beside ours (``None`` where we have no number yet)."""
    rows = []
    for p in PUBLISHED:
        eng = ENGINE_SECTION[p["engine"]]
        data = sections.get(eng, {}).get("data") or {}
        ours, workload = None, _lookup_str(data, WORKLOAD_PATHS[eng])
        if p["id"] in OURS_PATHS:
            ours = _lookup(data, *OURS_PATHS[p["id"]])
        elif p["id"] == "eureka_area_vs_ampere":
            workload = "run make area first"
            for r in iso_rows:
                if r["baseline_label"].startswith("Ampere"):
                    ours = r["area_ratio"] - 1.0
                    workload = f"{r['sparse']} vs {r['baseline']} ({r['unit']}, make area)"
        checked = sections.get(eng, {}).get("rtl_checked")
        rows.append({**p, "ours": ours, "our_workload": workload, "rtl_checked": checked})
    return rows


def _fmt(v, percent=False, approx=False):
    if v is None:
        return "—"
    if percent:
        return f"{'~' if approx else ''}{v * 100:+.1f}%"
    return f"{'~' if approx else ''}{v:.2f}x"


# ---------------------------------------------------------------------------------------------
# simulation speed

def sim_speed(progress=None, quick=False):
    """Time RTL runs of each engine: simulated cycles/s and MACs/s (wall clock).

    Each engine runs a batch of random layers/GEMMs in one simulator process (its ``run_cases``),
    on the engine's default (test) configuration whose Verilator model is built once before the
    clock starts; the time includes starting the simulator, loading memories through the load
    stream and reading results back. Every result is compared with golden bit for bit. Returns a
    list of rows ``{engine, workload, cycles, macs, seconds, cycles_per_s, macs_per_s,
    bit_exact}`` (empty when no engine runner is importable).
    """
    progress = progress or (lambda *a, **k: None)
    rows = []
    rng = np.random.default_rng(7)
    n_cases = 2 if quick else 8

    def rand(shape, density):
        v = rng.integers(-127, 128, size=shape)
        return np.where(rng.random(shape) < density, v, 0).astype(np.int64)

    rs, _ = _import_section("sim.run_sparten")
    if rs is not None:
        cfg = rs.DEFAULT_CONFIG
        progress(f"SparTen: building/reusing the Verilator model of {rs.model_name(cfg)}")
        rs.build(cfg)
        # Sized to the test configuration's memories (16 filters x 32 channels, 8x8 map).
        k, c, hw = (8, 16, 6) if quick else (16, 32, 8)
        cases, infos = [], []
        for i in range(n_cases):
            case, info = rs.prepare_case(cfg, rand((k, c, 3, 3), 0.35), rand((c, hw, hw), 0.45),
                                         1, 1, name=f"speed{i}")
            cases.append(case)
            infos.append(info)
        progress(f"SparTen: timed batch of {n_cases} layers {k}x{c}x3x3 on {c}x{hw}x{hw}")
        t0 = time.monotonic()
        res = rs.run_cases(cfg, cases)
        dt = time.monotonic() - t0
        cycles = sum(int(r["cycles"]) for r in res)
        macs = sum(sum(int(u[1]) for u in r["counters"]) for r in res)
        exact = all(r["out"] == c["expect"] for r, c in zip(res, cases))
        rows.append(_speed_row("SparTen", f"{n_cases} conv layers {k}x{c}x3x3 on {c}x{hw}x{hw}, "
                               f"pad 1, d_w 0.35, d_a 0.45; {rs.model_name(cfg)}",
                               cycles, macs, dt, exact))
    re_, _ = _import_section("sim.run_eureka")
    if re_ is not None:
        cfg = re_.DEFAULT_CONFIG
        progress(f"EUREKA: building/reusing the Verilator model of {re_.model_name(cfg)}")
        re_.build(cfg)
        m, kk, n = (16, 128, 4) if quick else (32, 512, 16)
        cases, macs = [], 0
        for i in range(n_cases):
            w, a = rand((m, kk), 0.2), rand((kk, n), 1.0)
            cases.append(re_.prepare_case(cfg, w, a, "suds", f"speed{i}")[0])
            macs += int(np.count_nonzero(w)) * n
        progress(f"EUREKA: timed batch of {n_cases} SUDS GEMMs {m}x{kk} x {kk}x{n}")
        t0 = time.monotonic()
        res = re_.run_cases(cfg, cases)
        dt = time.monotonic() - t0
        cycles = sum(int(r["cycles"]) for r in res.values())
        exact = all(bool(r["bit_exact"]) for r in res.values())
        rows.append(_speed_row("EUREKA", f"{n_cases} SUDS GEMMs {m}x{kk} (d_w 0.2) x {kk}x{n}; "
                               f"{re_.model_name(cfg)}", cycles, macs, dt, exact))
    return rows


def _speed_row(engine, workload, cycles, macs, seconds, bit_exact):
    return {"engine": engine, "workload": workload, "cycles": cycles, "macs": macs,
            "seconds": round(seconds, 3), "cycles_per_s": cycles / seconds,
            "macs_per_s": macs / seconds, "bit_exact": bit_exact}


# ---------------------------------------------------------------------------------------------
# plots

def _plots(out, sections, iso_rows, repro):
    """PNG plots; returns the list of file names written."""
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
        for fname in _section_plots(plt, out, name, sec.get("data") or {}):
            written.append(fname)
    if iso_rows and any(r["iso_area_speedup"] for r in iso_rows):
        fig, ax = plt.subplots(figsize=(6, 3.2))
        rows = [r for r in iso_rows if r["iso_area_speedup"]]
        labels = [f"{r['engine']} vs\n{r['baseline_label']}" for r in rows]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r["speedup"] for r in rows], 0.4, label="cycle speed-up")
        ax.bar(x + 0.2, [r["iso_area_speedup"] for r in rows], 0.4, label="iso-area speed-up")
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


# ---------------------------------------------------------------------------------------------
# report

def write_report(out, sections, area_path, iso_rows, repro, speed, plots, seconds, quick):
    """Write ``bench.md`` and ``bench.json`` into ``out``; return their paths."""
    out = Path(out)
    md = ["# sparse-hw benchmark", ""]
    md.append(f"Generated by `sparse-hw bench{' --quick' if quick else ''}` in {seconds:.0f} s. "
              "Cycle counts come from the golden cycle models; each section checks the model "
              "against the RTL (Verilator) on reduced versions of its workloads in the same run "
              "and lists those checks.")
    md += ["", "## Reproduction of the published headline numbers", "",
           "| engine | metric | published | paper's workload | ours | our workload | RTL-checked "
           "in this run |", "|---|---|---|---|---|---|---|"]
    for r in repro:
        checked = r.get("rtl_checked")
        checked = "not run" if checked is None else ("yes" if checked else "NO")
        if r["ours"] is None:
            checked = "—"
        if r["id"] == "eureka_area_vs_ampere":
            checked = "n/a (synthesis)"
        md.append(f"| {r['engine']} | {r['metric']} | {_fmt(r['paper'], r.get('percent'), r.get('approx'))}"
                  f" | {r['paper_workload']} | {_fmt(r['ours'], r.get('percent'))} | "
                  f"{r['our_workload'] or '—'} | {checked} |")
    md.append("")
    if "bench_reproduction.png" in plots:
        md += ["![published vs ours](bench_reproduction.png)", ""]

    md += ["## Area-normalised (iso-area) speed-up", ""]
    if area_path is None or not Path(area_path).exists():
        md.append("No area report: run `make area` first (it writes build/reports/area.json), "
                  "then `make bench` again.")
    elif not iso_rows:
        md.append(f"{area_path} has no pair of a sparse engine and its dense baseline this report "
                  "recognises.")
    else:
        md += ["Iso-area speed-up = cycle speed-up x (baseline area / engine area): what the same "
               "silicon would gain if spent on the sparse engine instead of more dense MACs.", "",
               "| engine | baseline | area engine | area baseline | area ratio | cycle speed-up "
               "| speed-up workload | iso-area speed-up |", "|---|---|---|---|---|---|---|---|"]
        for r in iso_rows:
            md.append(f"| {r['engine']} ({r['sparse']}) | {r['baseline_label']} ({r['baseline']}) "
                      f"| {_num(r['area_sparse'])} {r['unit']} | {_num(r['area_baseline'])} "
                      f"{r['unit']} | {r['area_ratio']:.3f} | {_fmt(r['speedup'])} | "
                      f"{r.get('speedup_workload') or '—'} | {_fmt(r['iso_area_speedup'])} |")
        md += ["", "The area pairs are the ones `make area` synthesised (its configurations may "
               "differ from the benchmarked ones: the speed-up workload column says which "
               "speed-up was used)."]
        if "bench_iso_area.png" in plots:
            md += ["", "![iso-area](bench_iso_area.png)"]
    md.append("")

    for name, sec in sections.items():
        title = {"sparten": "SparTen", "eureka": "EUREKA", "barista": "BARISTA"}.get(name, name)
        if sec.get("error"):
            md += [f"## {title}", "", f"**Section not available:** {sec['error']}."]
        else:
            text = sec["markdown"].strip()
            if not text.startswith("#"):
                md += [f"## {title}", ""]
            md.append(text)
            for fname in plots:
                if fname.startswith(f"bench_{name}_"):
                    md += ["", f"![{name}]({fname})"]
        md.append("")

    md += _e2e_summary(out)
    md += ["## Simulation speed", ""]
    if speed is None:
        md.append("Skipped (--no-sim-speed).")
    elif not speed:
        md.append("No engine runner (sim/run_sparten.py, sim/run_eureka.py) is importable yet.")
    else:
        md += ["Wall-clock time of one batch of random workloads in one simulator process on an "
               "already built Verilator model (includes starting the simulator, loading the "
               "memories through the load stream and reading results back; MACs are the non-zero "
               "products the engine performed). Results compared with golden bit for bit.", "",
               "| engine | workload | cycles | MACs | seconds | cycles/s | MACs/s | bit-exact |",
               "|---|---|---|---|---|---|---|---|"]
        for r in speed:
            md.append(f"| {r['engine']} | {r['workload']} | {r['cycles']} | {r['macs']} | "
                      f"{r['seconds']:.2f} | {_si(r['cycles_per_s'])} | {_si(r['macs_per_s'])} | "
                      f"{'yes' if r['bit_exact'] else '**NO**'} |")
    md.append("")
    (out / "bench.md").write_text("\n".join(md))
    data = {"seconds": round(seconds, 1), "quick": quick, "reproduction": repro,
            "iso_area": iso_rows, "area_report": str(area_path) if area_path else None,
            "sim_speed": speed, "plots": plots,
            "sections": {k: {kk: vv for kk, vv in v.items() if kk != "markdown"}
                         for k, v in sections.items()}}
    (out / "bench.json").write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    return out / "bench.md", out / "bench.json"


def _e2e_summary(out):
    """Lines summarising ``e2e.json`` of the same folder (written by ``make e2e``), if any."""
    path = Path(out) / "e2e.json"
    if not path.exists():
        return ["## Real network end to end", "",
                "No end-to-end result here: `make e2e` runs the pruned int8 digits CNN on the RTL "
                "and writes e2e.md/e2e.json next to this report.", ""]
    try:
        data = json.loads(path.read_text())
        md = ["## Real network end to end (from `make e2e`)", "",
              "Pruned int8 digits CNN: three conv layers on SparTen chained in SparseMap, the "
              "classifier on EUREKA; logits compared bit-exactly with the golden integer model "
              "(details in e2e.md).", "",
              "| variant | images | float acc. | int8 golden acc. | RTL acc. | bit-exact | network "
              "speed-up vs dense |", "|---|---|---|---|---|---|---|"]
        for r in data["results"]:
            rtl = r.get("rtl_accuracy")
            sp = (r.get("totals") or {}).get("speedup_vs_dense")
            md.append(f"| {r['variant']} (fc {r['classifier_mode']}) | {r['n_images']} | "
                      f"{100 * r['float_accuracy']:.2f}% | {100 * r['int8_golden_accuracy']:.2f}% | "
                      f"{'n/a' if rtl is None else f'{100 * rtl:.2f}%'} | "
                      f"{ {True: 'yes', False: '**NO**', None: 'n/a'}.get(r['bit_exact'])} | "
                      f"{_fmt(sp)} |")
        return md + [""]
    except (ValueError, KeyError, TypeError) as e:
        return ["## Real network end to end", "", f"{path} could not be read ({e}).", ""]


def _num(v):
    return "—" if not isinstance(v, (int, float)) else f"{v:.4g}"


def _si(v):
    if v is None:
        return "—"
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= f:
            return f"{v / f:.2f} {unit}"
    return f"{v:.0f}"


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if math.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _rtl_checked(data):
    """Whether a section says its cycle model was checked against the RTL in this run."""
    for key in ("rtl_checked", "rtl_check", "checked_against_rtl"):
        v = data.get(key)
        if isinstance(v, bool):
            return v
        if isinstance(v, dict):
            if v.get("missing") or v.get("rows") == []:
                return None  # not run (e.g. the RTL runner is missing): not a mismatch
            if "all_equal" in v:
                return bool(v["all_equal"])
            if "ok" in v:
                return bool(v["ok"])
        if isinstance(v, list) and v:
            oks = [bool(x.get("equal", x.get("ok", x.get("cycles_equal", False))))
                   for x in v if isinstance(x, dict)]
            return bool(oks) and all(oks)
    return None


def run_bench(out, quick=False, only=None, area_path=None, progress=None, speed=True):
    """Run every available section and write the report into ``out``.

    Returns the ``bench.json`` content as a dict.
    """
    t0 = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress("bench")
    sections = {}
    if area_path is None:
        area_path = out / "area.json"
    names = [n for n, _ in SECTIONS if only is None or n in only]
    for i, (name, modname) in enumerate(s for s in SECTIONS if s[0] in names):
        progress.log(f"section {i + 1}/{len(names)}: {name}")
        mod, why = _import_section(modname)
        if mod is None:
            sections[name] = {"error": f"{modname} {why}", "data": {}, "rtl_checked": None}
            progress.log(f"{name}: {modname} {why}, skipped")
            continue
        t1 = time.monotonic()
        (md, data), used_quick = _call_section(mod, progress.sub(name), quick, area_path)
        progress.stage = ""
        sections[name] = {"markdown": md, "data": data, "seconds": round(time.monotonic() - t1, 1),
                          "quick": used_quick, "rtl_checked": _rtl_checked(data)}
        progress.log(f"{name}: done in {time.monotonic() - t1:.1f} s")
    area = load_area(area_path)
    ours = {k: _lookup(sections.get(k.split("_")[0], {}).get("data") or {}, *paths)
            for k, paths in OURS_PATHS.items()}
    iso_rows = iso_area(area, ours, sections) if area else []
    repro = reproduction_rows(sections, iso_rows)
    speed_rows = None
    if speed:
        progress.log("simulation speed")
        speed_rows = sim_speed(progress.sub("sim speed"), quick=quick)
        progress.stage = ""
    progress.log("plots")
    plots = _plots(out, sections, iso_rows, repro)
    md, js = write_report(out, sections, area_path if area else None, iso_rows, repro, speed_rows,
                          plots, time.monotonic() - t0, quick)
    progress.log(f"wrote {md}, {js} and {len(plots)} plot(s) in {time.monotonic() - t0:.1f} s")
    return json.loads(js.read_text())


# ---------------------------------------------------------------------------------------------
# CLI

def register(sub):
    p = sub.add_parser("bench", help="benchmark both engines; write build/reports/bench.md/.json/.png",
                       description="Run the SparTen and EUREKA benchmark sections (cycle models "
                                   "checked against the RTL in the same run), add iso-area "
                                   "speed-ups from build/reports/area.json, the published numbers "
                                   "beside ours, and simulation speed.")
    p.add_argument("--out", type=Path, default=None, help="report folder (default build/reports)")
    p.add_argument("--quick", action="store_true",
                   help="reduced workloads (what the test suite runs)")
    p.add_argument("--only", action="append", choices=[n for n, _ in SECTIONS], default=None,
                   help="only this section (repeatable)")
    p.add_argument("--area", type=Path, default=None,
                   help="area report to use (default <out>/area.json)")
    p.add_argument("--no-sim-speed", action="store_true", help="skip the timed RTL runs")
    p.set_defaults(func=run)


def run(args):
    from .verilator import build_dir

    out = args.out or build_dir() / "reports"
    if args.area is not None and not args.area.exists():
        raise FileNotFoundError(f"area report {args.area} does not exist (run make area first)")
    data = run_bench(out, quick=args.quick, only=args.only, area_path=args.area,
                     speed=not args.no_sim_speed)
    for r in data["reproduction"]:
        print(f"{r['engine']:8s} {r['metric']:34s} published "
              f"{_fmt(r['paper'], r.get('percent'), r.get('approx')):>8s}  ours "
              f"{_fmt(r['ours'], r.get('percent')):>8s}")
    print(f"wrote {out / 'bench.md'}")
    if args.out is None and not args.quick and not args.only:
        # The README shows these plots: a full default run refreshes the copies kept in docs/.
        import shutil

        from .verilator import ROOT
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        for name in README_PLOTS:
            if (out / name).exists():
                shutil.copyfile(out / name, docs / name)
                print(f"updated {docs / name}")
    return 0


#: Plots that README.md shows (copied to docs/ by a full `make bench`).
README_PLOTS = ("bench_reproduction.png", "bench_sparten_vgg16.png")
