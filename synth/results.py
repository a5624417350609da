"""Reading what a Yosys job left in its folder: the ``asic`` flow's per-module cells and area
(``stat -json``) and transistor estimate, the ``fpga`` flow's resources, and the flattened
netlist's memory macros and critical path (:mod:`synth.sta`).
"""

import json
import re
import time
from pathlib import Path

from .sta import critical_path

__all__ = ["parse_asic", "parse_fpga", "timing", "FPGA_LUTRAM"]

def _strip(name):
    return name[1:] if name.startswith("\\") else name


def _load_json(path):
    text = Path(path).read_text()
    # `tee -o` also captures the command echo on some versions; the JSON starts at the first brace.
    return json.loads(text[text.index("{"):])


def _cells_by_type_area(by_type, cell_area):
    return sum(n * cell_area.get(t, 0.0) for t, n in by_type.items())


def parse_asic(cwd, top, lib, cell_area):
    """Numbers of an ``asic`` run: totals and per-module own cells/area."""
    out = {}
    stat = _load_json(cwd / "stat.json") if lib is not None else None
    if not (cwd / "cmos.json").exists():      # the blocks flow writes stat.json only
        if stat is None:
            stat = _load_json(cwd / "stat.json")
        cmos = None
    else:
        cmos = _load_json(cwd / "cmos.json")
    if stat is not None:
        mods = {_strip(k): v for k, v in stat["modules"].items()}
        own = {}
        for name, mod in mods.items():
            by_type = {t: n for t, n in mod.get("num_cells_by_type", {}).items()
                       if _strip(t) not in mods}
            own[name] = {
                "cells": sum(n for t, n in by_type.items() if not t.startswith("$scopeinfo")),
                "area_um2": _cells_by_type_area(by_type, cell_area),
                "seq_area_um2": sum(n * cell_area.get(t, 0.0) for t, n in by_type.items()
                                    if t in cell_area.get("__seq__", ())),
                "children": {_strip(t): n for t, n in mod.get("num_cells_by_type", {}).items()
                             if _strip(t) in mods},
            }
        inst = _instances(own, top)
        total_area = sum(own[m]["area_um2"] * k for m, k in inst.items())
        total_cells = sum(own[m]["cells"] * k for m, k in inst.items())
        out.update(area_um2=total_area, cells=total_cells,
                   seq_area_um2=sum(own[m]["seq_area_um2"] * k for m, k in inst.items()),
                   yosys_area_um2=stat.get("design", {}).get("area"),
                   modules=[{"module": m, "instances": k, "cells": own[m]["cells"],
                             "area_um2": own[m]["area_um2"]} for m, k in inst.items()])
    if cmos is None:
        return out
    cm = cmos.get("design") or next(iter(cmos["modules"].values()))
    tr = cm.get("estimated_num_transistors")
    out["transistors"] = int(str(tr).rstrip("+")) if tr is not None else None
    out["transistors_exact"] = tr is not None and not str(tr).endswith("+")
    generic_cells = sum(n for t, n in cm.get("num_cells_by_type", {}).items()
                        if t.startswith("$_"))
    out["generic_cells"] = generic_cells
    if stat is None:
        mods = {_strip(k): v for k, v in cmos["modules"].items()}
        own = {name: {"cells": sum(n for t, n in mod.get("num_cells_by_type", {}).items()
                                   if t.startswith("$_")),
                      "children": {_strip(t): n for t, n in mod.get("num_cells_by_type", {}).items()
                                   if _strip(t) in mods}} for name, mod in mods.items()}
        inst = _instances(own, top)
        out.update(area_um2=None, cells=generic_cells,
                   modules=[{"module": m, "instances": k, "cells": own[m]["cells"],
                             "area_um2": None} for m, k in inst.items()])
    memtxt = (cwd / "mem.json").read_text() if (cwd / "mem.json").exists() else ""
    out["macro_cells"] = [ln.strip() for ln in memtxt.splitlines() if ln.strip()]
    return out


def _instances(own, top):
    """Instance count of every module reachable from ``top`` (Amaranth makes one module per
    instance, but Yosys could share one)."""
    counts = {}

    def walk(name, k):
        counts[name] = counts.get(name, 0) + k
        for child, n in own.get(name, {}).get("children", {}).items():
            walk(child, k * n)
    walk(top, 1)
    return counts


FPGA_LUTRAM = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
               "RAM256X1S": 4, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM32M16": 8,
               "RAM64M8": 8, "SRL16E": 1, "SRLC32E": 1}


def parse_fpga(cwd):
    stat = _load_json(cwd / "stat.json")
    d = stat.get("design") or next(iter(stat["modules"].values()))
    by = d.get("num_cells_by_type", {})
    luts = sum(n for t, n in by.items() if re.fullmatch(r"LUT[1-6]", t))
    ffs = sum(n for t, n in by.items() if re.fullmatch(r"FD[RSCP]E(_1)?|FDRE|LD[CP]E?", t))
    dsps = sum(n for t, n in by.items() if t.startswith("DSP48"))
    bram = by.get("RAMB36E1", 0) + 0.5 * by.get("RAMB18E1", 0)
    lutram = sum(FPGA_LUTRAM.get(t, 0) * n for t, n in by.items())
    return {"luts": luts, "lutram_luts": lutram, "ffs": ffs, "dsps": dsps, "bram36": bram,
            "carry4": by.get("CARRY4", 0), "fpga_cells": dict(sorted(by.items()))}


def _where(cell):
    """Hierarchical instance path of a flattened cell name (``(top)`` for the top's own cells)."""
    name = re.sub(r"^\$flatten", "", cell).replace("\\", "")
    inst = name.split(".$", 1)[0] if ".$" in name else ""
    if name.startswith("$") or not inst:
        inst = "(top)"
    pin = cell.rsplit(".", 1)[1] if cell.count(".") and not cell.startswith(("input ", "output ")) \
        and re.fullmatch(r"[A-Z][A-Z0-9_]*", cell.rsplit(".", 1)[1]) else ""
    if cell.startswith(("input ", "output ", "constant")):
        return cell
    return inst + (f" ({pin})" if pin else "")


def _memory_bits(flat):
    """``[(instance, words, width)]`` of the memory macros left in a flattened netlist."""
    mods = flat["modules"]
    out = []
    for m in mods.values():
        for cname, c in m.get("cells", {}).items():
            if c["type"] in ("$mem_v2", "$mem"):
                p = c.get("parameters", {})
                size = int(str(p.get("SIZE", "0")), 2) if set(str(p.get("SIZE", "0"))) <= {"0", "1"} \
                    else int(p.get("SIZE", 0))
                width = int(str(p.get("WIDTH", "0")), 2) if set(str(p.get("WIDTH", "0"))) <= {"0", "1"} \
                    else int(p.get("WIDTH", 0))
                out.append((_where(cname), size, width))
    return out


def timing(cwd, lib_cells):
    """Memory macros and critical path of an ``asic`` job's flattened netlist."""
    t0 = time.monotonic()
    flat = json.loads((cwd / "flat.json").read_text())
    mems = _memory_bits(flat)
    out = {"memory_macros": [{"instance": i, "words": s, "width": w} for i, s, w in mems],
           "memory_macro_bits": sum(s * w for _, s, w in mems)}
    cp = critical_path(flat, lib_cells)
    cp["startpoint"], cp["endpoint"] = _where(cp["startpoint"]), _where(cp["endpoint"])
    out.update(cp)
    out["sta_seconds"] = time.monotonic() - t0
    return out
