"""The reproduction table of ``make bench``: each published headline number beside ours.

Our number is read from exactly one place per row (:data:`OURS`): a figure of an engine section's
:class:`~report.schema.Headline`, an :class:`~report.schema.AreaRatio` of ``area.json`` (the
synthesised engine over a baseline of a given role), or a comparison of ``power.json``.
"""

from pathlib import Path

from report.power import read_power_comparisons

__all__ = ["PUBLISHED", "OURS", "AREA_ROWS", "POWER_KEYS", "reproduction_rows", "fmt"]

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
    # energy rows: read from build/reports/power.json (`make power`), key in POWER_KEYS
    {"id": "eureka_energy_vs_dense", "engine": "EUREKA", "metric": "energy, dense / EUREKA",
     "paper": 3.2, "paper_workload": "EUREKA (MICRO'23), 3.2x less energy than dense execution"},
    {"id": "eureka_energy_vs_2to4", "engine": "EUREKA", "metric": "energy, 2:4 / EUREKA",
     "paper": 1.7, "paper_workload": "EUREKA (MICRO'23), 1.7x less energy than 2:4 execution"},
    {"id": "eureka_power_vs_ampere", "engine": "EUREKA", "metric": "power over Ampere-like 2:4 core",
     "paper": 0.115, "percent": True,
     "paper_workload": "EUREKA (MICRO'23), +11.5% power over Ampere's sparse tensor core"},
]
#: PUBLISHED id -> (bench section, figure of its headline) of our number.
OURS = {"sparten_vs_dense": ("sparten", "speedup_vs_dense"),
        "sparten_vs_onesided": ("sparten", "speedup_vs_onesided"),
        "eureka_vs_dense": ("eureka", "speedup_vs_dense"),
        "eureka_vs_2to4": ("eureka", "speedup_vs_2to4"),
        "barista_vs_dense": ("barista", "speedup_vs_dense"),
        "barista_vs_onesided": ("barista", "speedup_vs_onesided"),
        "barista_vs_naive": ("barista", "speedup_vs_naive_sparten"),
        "barista_vs_isoarea": ("barista", "speedup_vs_isoarea_sparten")}
#: PUBLISHED id -> (engine, role of the baseline top): the area ratio of that engine's
#: ``engine``-role top over its baseline of that role, shown as ratio - 1.
AREA_ROWS = {"eureka_area_vs_ampere": ("eureka", "sparse-baseline")}
#: PUBLISHED id -> (key of power.json's comparisons, offset: the percent row shows ratio - 1)
POWER_KEYS = {"eureka_energy_vs_dense": ("eureka_vs_dense_energy", 0.0),
              "eureka_energy_vs_2to4": ("eureka_vs_ampere24_energy", 0.0),
              "eureka_power_vs_ampere": ("eureka_vs_ampere24_power", -1.0)}


def _checked(sec):
    """"RTL-checked in this run" of a section: None (not run), True or False."""
    if sec is None or not sec.rtl.rows:
        return None
    return sec.rtl.all_equal


def _headline_row(sections, eng, figure):
    sec = sections.get(eng)
    if sec is None:
        return None, f"no {eng} section in this run", None
    if figure not in sec.headline.figures:
        return None, f"not measured in this run (see the {eng} section)", _checked(sec)
    return sec.headline[figure], sec.headline.workload, _checked(sec)


def _area_row(ratios, eng, role):
    from hw.top import all_tops
    roles = {t.name: t.role for t in all_tops()}
    for r in ratios:
        if r.engine == eng and roles.get(r.design) == "engine" and roles.get(r.baseline) == role:
            return r.area_ratio - 1.0, f"{r.design} vs {r.baseline} ({r.metric}, make area)"
    return None, "run make area first"


def reproduction_rows(sections, ratios, power_path=None):
    """Each published headline beside ours (``None`` where we have no number).

    Parameters
    ----------
    sections : mapping of str to Section
        This run's sections by name.
    ratios : list of AreaRatio
        ``area.json``'s ratios (empty without an area report).
    power_path : path or None
        ``power.json`` (``make power``) for the energy rows.
    """
    rows = []
    for p in PUBLISHED:
        checked = None
        if p["id"] in OURS:
            ours, workload, checked = _headline_row(sections, *OURS[p["id"]])
        elif p["id"] in AREA_ROWS:
            ours, workload = _area_row(ratios, *AREA_ROWS[p["id"]])
        else:
            ours, workload = _power_row(power_path, *POWER_KEYS[p["id"]])
        rows.append({**p, "ours": ours, "our_workload": workload, "rtl_checked": checked,
                     "synthesis": p["id"] in AREA_ROWS or p["id"] in POWER_KEYS})
    return rows


def _power_row(path, key, offset):
    """(ours, workload) of one energy/power comparison of ``power.json`` (``make power``)."""
    if path is None or not Path(path).exists():
        return None, "run make power first"
    c = read_power_comparisons(path)[key]
    return c.value + offset, c.where


def fmt(v, percent=False, approx=False):
    """A speed-up as ``4.70x`` (``~`` when approximate) or a ratio - 1 as ``+6.0%``."""
    if v is None:
        return "—"
    if percent:
        return f"{'~' if approx else ''}{v * 100:+.1f}%"
    return f"{'~' if approx else ''}{v:.2f}x"
