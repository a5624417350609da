"""Liberty files: which one to use, its copy for Yosys, and its text parsed into cells and tables.

:func:`find_liberty` picks the file (``--liberty``, ``$SPARSE_HW_LIBERTY``, the sky130 hd typical
corner under ``$PDK_ROOT``, else ``../shared/pdk/sky130hd_tt.lib.gz``); :func:`prepare_liberty`
copies it into ``build/cells/`` for Yosys (the WebAssembly Yosys reads only the project's folders)
and reads its name and corner. :func:`read_liberty` parses the cells, pins and NLDM timing tables
that :mod:`synth.sta` walks (and :mod:`synth.liberty_power` the power tables, through
:func:`liberty_cached`); :func:`lookup` interpolates one table.
"""

import bisect
import dataclasses
import gzip
import os
import pickle
import re
import shutil
import threading
from pathlib import Path

from hw.emit import ROOT, build_dir

__all__ = ["Library", "find_liberty", "prepare_liberty", "read_liberty", "liberty_cached",
           "cell_pins", "cell_groups", "table_templates", "lookup", "SKY130_PDK_LIB", "SHARED_LIB"]

SKY130_PDK_LIB = "sky130A/libs.ref/sky130_fd_sc_hd/lib/sky130_fd_sc_hd__tt_025C_1v80.lib"
SHARED_LIB = ROOT.parent / "shared" / "pdk" / "sky130hd_tt.lib.gz"

@dataclasses.dataclass(frozen=True)
class Library:
    """A Liberty file prepared for Yosys.

    Members
    -------
    source : Path
        Where it came from (may be gzipped).
    path : Path
        The plain copy under ``build/cells/`` that Yosys reads.
    name : str
        The ``library (...)`` name, e.g. ``sky130_fd_sc_hd__tt_025C_1v80``.
    corner : str
        Operating conditions, e.g. ``tt_025C_1v80 (process 1, 25 C, 1.8 V)``.
    """

    source: Path
    path: Path
    name: str
    corner: str

    def to_dict(self):
        return {"source": str(self.source), "path": str(self.path), "name": self.name,
                "corner": self.corner}


def find_liberty(arg=None, environ=None):
    """The Liberty file to use, or None: ``arg``, ``$SPARSE_HW_LIBERTY``, the sky130 hd typical
    corner under ``$PDK_ROOT``, else ``../shared/pdk/sky130hd_tt.lib.gz`` when it exists.

    ``arg``/``SPARSE_HW_LIBERTY`` of ``"none"`` selects the generic flow; a named file that does not
    exist is an error (a typo must not silently fall back to another library).
    """
    environ = os.environ if environ is None else environ
    for value, what in ((arg, "--liberty"), (environ.get("SPARSE_HW_LIBERTY"), "SPARSE_HW_LIBERTY")):
        if value:
            if value.lower() == "none":
                return None
            p = Path(value).expanduser()
            if not p.is_file():
                raise FileNotFoundError(f"{what} names {str(p)!r}, which is not a file")
            return p.resolve()
    pdk = environ.get("PDK_ROOT")
    if pdk and (Path(pdk) / SKY130_PDK_LIB).is_file():
        return (Path(pdk) / SKY130_PDK_LIB).resolve()
    if SHARED_LIB.is_file():
        return SHARED_LIB.resolve()
    return None


_prepare_lock = threading.Lock()


def prepare_liberty(source, cells_dir=None):
    """Copy (gunzipping if needed) ``source`` into ``build/cells/`` and read its name and corner.

    The WebAssembly Yosys cannot read /tmp nor relative paths whose first part names a system
    folder, so every Liberty file is read from the project's build folder.
    """
    source = Path(source)
    cells_dir = Path(cells_dir or build_dir() / "cells")
    cells_dir.mkdir(parents=True, exist_ok=True)
    stem = source.name[:-3] if source.name.endswith(".gz") else source.name
    if not stem.endswith(".lib"):
        stem += ".lib"
    dest = cells_dir / stem
    with _prepare_lock:
        st = source.stat()
        stamp = dest.with_suffix(".src")
        key = f"{source.resolve()} {st.st_size} {st.st_mtime_ns}\n"
        if not dest.exists() or not stamp.exists() or stamp.read_text() != key:
            opener = gzip.open if source.name.endswith(".gz") else open
            tmp = dest.with_suffix(f".tmp{os.getpid()}")
            with opener(source, "rb") as fi, open(tmp, "wb") as fo:
                shutil.copyfileobj(fi, fo)
            tmp.replace(dest)
            stamp.write_text(key)
    with open(dest, errors="replace") as f:
        head = f.read(200_000)
    m = re.search(r'library\s*\(\s*"?([^")\s]+)"?\s*\)', head)
    if not m:
        raise ValueError(f"{source} is not a Liberty file (no library(...) group)")
    name = m.group(1)
    corner = name
    oc = re.search(r'operating_conditions\s*\(\s*"?([^")\s]+)"?\s*\)\s*\{([^}]*)\}', head)
    if oc:
        body = oc.group(2)
        vals = {k: re.search(rf"\b{k}\s*:\s*([-0-9.eE+]+)", body) for k in
                ("process", "temperature", "voltage")}
        vals = {k: float(v.group(1)) for k, v in vals.items() if v}
        parts = []
        if "process" in vals:
            parts.append(f"process {vals['process']:g}")
        if "temperature" in vals:
            parts.append(f"{vals['temperature']:g} C")
        if "voltage" in vals:
            parts.append(f"{vals['voltage']:g} V")
        corner = f"{oc.group(1)} ({', '.join(parts)})" if parts else oc.group(1)
    return Library(source=source, path=dest, name=name, corner=corner)


# -- Liberty text -------------------------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z0-9_.+\-\[\]!\'&|*^/]+|[{}():;,]')


def _tokens(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S).replace("\\\n", " ")
    return _TOKEN.findall(text)


def _parse(tokens):
    """Liberty text -> nested ``(name, args, attrs, groups)``; only what timing needs is kept."""
    pos = 0
    n = len(tokens)

    def group():
        nonlocal pos
        name = tokens[pos]
        pos += 2  # name (
        args = []
        while tokens[pos] != ")":
            if tokens[pos] != ",":
                args.append(tokens[pos].strip('"'))
            pos += 1
        pos += 1
        if pos < n and tokens[pos] == ";":   # complex attribute: name(args);
            pos += 1
            return ("attr", name, args)
        pos += 1  # {
        attrs, groups = {}, []
        while tokens[pos] != "}":
            if tokens[pos + 1] == ":":
                key = tokens[pos]
                pos += 2
                val = []
                while tokens[pos] != ";" and tokens[pos + 1] != ":" and tokens[pos] != "}":
                    val.append(tokens[pos])
                    pos += 1
                    if tokens[pos - 1].startswith('"') and tokens[pos] != ";":
                        break
                if tokens[pos] == ";":
                    pos += 1
                attrs[key] = " ".join(v.strip('"') for v in val)
            else:
                g = group()
                if g[0] == "attr":
                    attrs[g[1]] = g[2]
                else:
                    groups.append(g)
        pos += 1
        return (name, args, attrs, groups)

    return group()


def _floats(s):
    if isinstance(s, list):
        s = ",".join(s)
    return [float(x) for x in re.split(r"[,\s]+", s.strip()) if x]


def _table(g, templates):
    name, args, attrs, _ = g
    vals = attrs.get("values")
    if vals is None:
        return None
    tmpl = templates.get(args[0] if args else "", {})
    i1 = _floats(attrs["index_1"]) if "index_1" in attrs else tmpl.get("index_1", [0.0])
    i2 = _floats(attrs["index_2"]) if "index_2" in attrs else tmpl.get("index_2", [0.0])
    flat = _floats(vals)
    v1, v2 = tmpl.get("variable_1", "input_net_transition"), tmpl.get("variable_2", "")
    if len(flat) == len(i1) and not (len(i2) > 1 and len(flat) == len(i1) * len(i2)):
        rows = [[x] for x in flat]
        i2 = [0.0]
    else:
        rows = [flat[k * len(i2):(k + 1) * len(i2)] for k in range(len(i1))]
    slew_first = "transition" in v1 or "capacitance" in v2 or not v2
    if not slew_first:  # table indexed (load, slew): transpose to (slew, load)
        rows = [list(r) for r in zip(*rows)]
        i1, i2 = i2, i1
    return (i1, i2, rows)


def cell_groups(lib):
    """``(name, attributes, subgroups)`` of each ``cell`` group of a parsed Liberty library."""
    for g in lib[3]:
        if g[0] == "cell":
            yield g[1][0], g[2], g[3]


def table_templates(lib):
    """``{name: {"variable_1", "index_1", ...}}`` of the ``lu_table_template`` and
    ``power_lut_template`` groups of a parsed Liberty library."""
    templates = {}
    for g in lib[3]:
        if g[0] in ("lu_table_template", "power_lut_template"):
            t = {k: v for k, v in g[2].items() if k.startswith("variable")}
            for k in ("index_1", "index_2"):
                if k in g[2]:
                    t[k] = _floats(g[2][k])
            templates[g[1][0] if g[1] else ""] = t
    return templates


def liberty_cached(path, kind, version, build, cache_dir=None):
    """``build(parsed)`` of the Liberty file ``path`` (``parsed``: the nested groups of
    :func:`_parse`), cached as the pickle ``<file>.<kind>.pickle`` beside it (or in
    ``cache_dir``), keyed by the file's path, size and mtime and by ``version``."""
    path = Path(path)
    st = path.stat()
    cache = Path(cache_dir or path.parent) / f"{path.name}.{kind}.pickle"
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, version)
    if cache.exists():
        try:
            with open(cache, "rb") as f:
                k, out = pickle.load(f)
            if k == key:
                return out
        except Exception:
            pass
    out = build(_parse(_tokens(path.read_text(errors="replace"))))
    try:
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            pickle.dump((key, out), f)
        tmp.replace(cache)
    except OSError:
        pass
    return out


def cell_pins(groups):
    """The ``pin`` groups among a parsed cell's ``groups``, those inside ``bus`` groups included."""
    pins = []
    for g in groups:
        if g[0] == "pin":
            pins.append(g)
        elif g[0] == "bus":
            pins += [p for p in g[3] if p[0] == "pin"]
    return pins


def read_liberty(path, cache_dir=None):
    """Cells of a Liberty file: ``{cell: {"area", "seq", "inputs": {pin: cap},
    "outputs": {pin: [arc]}, "setup": {pin: [tables]}, "setup_rf": {pin: (rise, fall)}}}``, arcs
    ``{"from", "type", "delay", "slew", "sense", "edge"}``: ``delay``/``slew`` list the rise and
    fall tables, ``edge`` maps ``"rise"``/``"fall"`` (of the output) to ``(delay, transition)``
    tables, ``sense`` is the Liberty ``timing_sense`` (tables ``(index_slew, index_load, rows)``,
    None where the Liberty gives none). Cached as a pickle beside ``path``."""
    def build(lib):
        templates = table_templates(lib)
        cells = {}
        for name, attrs, sub in cell_groups(lib):
            cell = {"area": float(attrs.get("area", 0) or 0), "seq": False, "inputs": {},
                    "outputs": {}, "setup": {}, "setup_rf": {}}
            for sg in sub:
                if sg[0] in ("ff", "latch", "ff_bank", "latch_bank", "statetable"):
                    cell["seq"] = True
            for pg in cell_pins(sub):
                for pname in pg[1]:
                    d = pg[2].get("direction", "")
                    if d == "input":
                        cell["inputs"][pname] = float(pg[2].get("capacitance", 0) or 0)
                    for tg in pg[3]:
                        if tg[0] != "timing":
                            continue
                        ttype = tg[2].get("timing_type", "combinational")
                        related = tg[2].get("related_pin", "").split()
                        tabs = {t[0]: _table(t, templates) for t in tg[3]}
                        if d == "input" and ttype.startswith("setup"):
                            rf = (tabs.get("rise_constraint"), tabs.get("fall_constraint"))
                            if any(rf):
                                cell["setup"][pname] = [t for t in rf if t]
                                cell["setup_rf"][pname] = rf
                            continue
                        if d != "output" or ttype.startswith(("hold", "setup", "recovery", "removal",
                                                              "min_", "non_seq", "skew", "nochange")):
                            continue
                        delay = [t for t in (tabs.get("cell_rise"), tabs.get("cell_fall")) if t]
                        slew = [t for t in (tabs.get("rise_transition"), tabs.get("fall_transition")) if t]
                        if not delay:
                            continue
                        sense = tg[2].get("timing_sense", "non_unate")
                        edge = {"rise": (tabs.get("cell_rise"), tabs.get("rise_transition")),
                                "fall": (tabs.get("cell_fall"), tabs.get("fall_transition"))}
                        for rp in related:
                            cell["outputs"].setdefault(pname, []).append(
                                {"from": rp, "type": ttype, "delay": delay, "slew": slew,
                                 "sense": sense, "edge": edge})
                    if d == "output":
                        cell["outputs"].setdefault(pname, [])
            cells[name] = cell
        return cells

    return liberty_cached(path, "timing", 3, build, cache_dir)


def _interp1(xs, x):
    if len(xs) == 1:
        return 0, 0, 0.0
    k = min(max(bisect.bisect_left(xs, x) - 1, 0), len(xs) - 2)
    return k, k + 1, (x - xs[k]) / (xs[k + 1] - xs[k])


def lookup(table, slew, load):
    """Bilinear interpolation (linear extrapolation outside the table)."""
    i1, i2, rows = table
    a0, a1, fa = _interp1(i1, slew)
    b0, b1, fb = _interp1(i2, load)
    r0 = rows[a0][b0] + (rows[a0][b1] - rows[a0][b0]) * fb
    r1 = rows[a1][b0] + (rows[a1][b1] - rows[a1][b0]) * fb
    return r0 + (r1 - r0) * fa


def _worst(tables, slew, load):
    return max(lookup(t, slew, load) for t in tables) if tables else 0.0
