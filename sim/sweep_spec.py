"""Sweep specs: the TOML format of ``sparse-hw sweep``, its checks, and its expansion into points.

Every check runs here, before any task: an unknown field, a value the config rejects, an empty
grid or a workload that cannot exist each give one line naming the field and, for config fields,
the accepted range in the config's own words (:func:`_accepted`). The format is described in
:mod:`sim.sweep`; :data:`EXAMPLE` is a small runnable spec.
"""

import dataclasses
import itertools
import json
import random
import tomllib
from pathlib import Path

from golden.nm import MODE_FORMS, UNSTRUCTURED_MODES

from . import sweep_work as work

__all__ = ["SpecError", "EXAMPLE", "load_spec", "parse_spec", "expand", "ENGINES"]


class SpecError(ValueError):
    """A sweep spec is malformed; the message is one line naming the field."""


EXAMPLE = """\
# A small sweep: model only, a few EUREKA and SparTen points (sparse-hw sweep --example).
[sweep]
name = "example"
area = false
rtl = false

[[engine]]
engine = "eureka"
base = "paper"
baselines = true          # the dense and Ampere-like 2:4 core of every R x L as well
[engine.grid]
rows = [4, 8]
lanes = [16]
group = [8]
mode = ["suds", "dense", "nm:2:4"]

[[engine]]
engine = "sparten"
base = "paper"
[engine.grid]
n_units = [8, 16]
chunk = [64]
method = ["gbh"]

[[workload]]
name = "conv"
layer = { c = 64, k = 64, h = 14, r = 3, stride = 1, padding = 1, d_w = 0.3, d_a = 0.5 }
prune_nm = true           # nm:N:M modes run the weights pruned to N:M (marked in the results)

[[workload]]
name = "fc"
gemm = { m = 64, k = 512, n = 4, d_w = 0.2, d_a = 0.5 }
"""

SWEEP_KEYS = {"name": str, "area": bool, "rtl": bool, "energy": bool, "seed": int,
              "skip_invalid": bool, "liberty": str}
ENGINE_KEYS = ("engine", "base", "grid", "sample", "baselines", "workloads")
WORKLOAD_KEYS = ("name", "network", "size", "layers", "layer", "gemm", "engines", "structure",
                 "prune_nm", "seed")
LAYER_KEYS = {"c": 1, "k": 1, "h": 1, "w": 1, "r": 1, "s": 1, "stride": 1, "padding": 0}
GEMM_KEYS = {"m": 1, "k": 1, "n": 1}
ENGINES = ("sparten", "eureka")


def settable_fields(cls):
    """The fields of config class ``cls`` a grid may set (derived ones, ``init=False``, excluded:
    they follow from the others)."""
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _engine_module(engine):
    if engine == "sparten":
        from hw.sparten import config
        return config, config.SparTenConfig
    from hw.eureka import config
    return config, config.EurekaConfig


# -- spec ---------------------------------------------------------------------------------------


def load_spec(path):
    """Read and check a TOML spec file; returns the checked spec dict (see :func:`parse_spec`)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(f"spec file {str(path)!r} does not exist") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"spec {str(path)!r} is not valid TOML: {e}") from None
    return parse_spec(raw)


def _unknown(where, got, known):
    bad = sorted(set(got) - set(known))
    if bad:
        raise SpecError(f"{where}: unknown field {bad[0]!r}; accepted: {', '.join(known)}")


def _accepted(cls, base, name):
    """The accepted range of config field ``name``, in the config's own words: the message its
    validation gives for a value far out of range, without the ``not ...`` part."""
    from hw.common.config import ConfigError
    default = getattr(base, name)
    probe = {bool: "?", int: -10 ** 9, str: "\0", tuple: ("\0",)}.get(type(default), None)
    try:
        dataclasses.replace(base, **{name: probe})
    except (ConfigError, ValueError, TypeError) as e:
        msg = str(e).split(", not ")[0].split("; accepted")[0]
        return msg if msg.startswith(name) else f"{name}: {msg}"
    return f"{name}: any {type(default).__name__}"


def _values(where, name, v):
    """Grid values of one field: a list, a scalar, or ``{lo, hi, step}`` / ``{lo, hi, pow2}``."""
    if isinstance(v, dict):
        _unknown(f"{where}.{name}", v, ("lo", "hi", "step", "pow2"))
        lo, hi = v.get("lo"), v.get("hi")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (lo, hi)):
            raise SpecError(f"{where}.{name}: a range needs integer lo and hi, not {v!r}")
        if v.get("pow2"):
            vals = [1 << i for i in range(max(lo, 1).bit_length() - 1, hi.bit_length())
                    if lo <= 1 << i <= hi]
        else:
            step = v.get("step", 1)
            if not isinstance(step, int) or step < 1:
                raise SpecError(f"{where}.{name}: step must be a positive integer, not {step!r}")
            vals = list(range(lo, hi + 1, step))
    elif isinstance(v, list):
        vals = v
    else:
        vals = [v]
    return [tuple(x) if isinstance(x, list) else x for x in vals]


def _check_point_value(engine, where, name, value):
    allowed = work.POINT_FIELDS[engine][name]
    if name == "mode":
        from hw.eureka.config import parse_mode
        try:
            parse_mode(value)
        except ValueError as e:
            raise SpecError(f"{where}.mode: {e}") from None
    elif value not in allowed:
        raise SpecError(f"{where}.{name} must be one of {list(allowed)!r}, not {value!r}")


def _parse_engine(i, block):
    where = f"engine[{i}]"
    if not isinstance(block, dict):
        raise SpecError(f"{where} must be a table")
    _unknown(where, block, ENGINE_KEYS)
    engine = block.get("engine")
    if engine not in ENGINES:
        raise SpecError(f"{where}.engine must be one of {list(ENGINES)!r}, not {engine!r}")
    mod, cls = _engine_module(engine)
    base_name = block.get("base", "paper")
    if base_name not in mod.PRESETS:
        raise SpecError(f"{where}.base must be one of {sorted(mod.PRESETS)!r}, not {base_name!r}")
    base = mod.PRESETS[base_name]
    grid = block.get("grid", {})
    if not isinstance(grid, dict):
        raise SpecError(f"{where}.grid must be a table of field = [values]")
    fields = settable_fields(cls)
    point_fields = list(work.POINT_FIELDS[engine])
    _unknown(f"{where}.grid", grid, fields + point_fields)
    if block.get("baselines") and engine != "eureka":
        raise SpecError(f"{where}.baselines: only the eureka engine has baselines")
    axes = {}
    from hw.common.config import ConfigError
    # fields the grid fixes to one value are the context each value is checked in (a dense
    # baseline's group=1 is valid with variant="dense", not alone on the paper core)
    fixed = {k: vs[0] for k, vs in ((k, _values(f"{where}.grid", k, raw))
                                    for k, raw in grid.items() if k in fields) if len(vs) == 1}
    for name, raw in grid.items():
        vals = _values(f"{where}.grid", name, raw)
        if not vals:
            rng = (_accepted(cls, base, name) if name in fields else
                   f"{name} must be one of {list(work.POINT_FIELDS[engine][name] or MODE_FORMS)!r}")
            raise SpecError(f"{where}.grid.{name} has no values; {rng}")
        for v in vals:
            if name in point_fields:
                _check_point_value(engine, f"{where}.grid", name, v)
                continue
            try:
                try:
                    dataclasses.replace(base, **{**fixed, name: v})
                except (ConfigError, ValueError, TypeError):
                    dataclasses.replace(base, **{name: v})
            except (ConfigError, ValueError, TypeError) as e:
                msg = str(e).splitlines()[0]
                if msg.startswith(name):   # this value alone is out of range
                    raise SpecError(f"{where}.grid.{msg}") from None
        axes[name] = vals
    for name in point_fields:        # defaults: the first accepted value (mode: suds)
        axes.setdefault(name, [work.POINT_FIELDS[engine][name][0]] if work.POINT_FIELDS[engine][name]
                        else ["suds"])
    sample = block.get("sample")
    if sample is not None and (not isinstance(sample, int) or isinstance(sample, bool) or sample < 1):
        raise SpecError(f"{where}.sample must be a positive integer, not {sample!r}")
    only = block.get("workloads")
    if only is not None and (not isinstance(only, list) or not only
                             or not all(isinstance(n, str) for n in only)):
        raise SpecError(f"{where}.workloads must be a non-empty list of workload names, "
                        f"not {only!r}")
    return {"engine": engine, "base": base_name, "axes": axes, "sample": sample,
            "baselines": bool(block.get("baselines", False)), "where": where, "workloads": only}


def _check_number(where, name, v, lo, hi=None, integer=True):
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok or v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        kind = "an integer" if integer else "a number"
        raise SpecError(f"{where}.{name} must be {kind} in {rng}, not {v!r}")


def _parse_shape(where, d, keys):
    if not isinstance(d, dict):
        raise SpecError(f"{where} must be a table")
    _unknown(where, d, list(keys) + ["d_w", "d_a", "name"])
    required = ("c", "k", "h") if "c" in keys else ("m", "k", "n")
    for k in required + ("d_w",):
        if k not in d:
            raise SpecError(f"{where}.{k} is required")
    for k, lo in keys.items():
        if k in d:
            _check_number(where, k, d[k], lo, 1 << 16)
    for k in ("d_w", "d_a"):
        if k in d:
            _check_number(where, k, d[k], 0, 1, integer=False)
            if d[k] <= 0:
                raise SpecError(f"{where}.{k} must be a number in (0, 1], not {d[k]!r}")
    return dict(d)


def _parse_workload(i, block, names):
    where = f"workload[{i}]"
    if not isinstance(block, dict):
        raise SpecError(f"{where} must be a table")
    _unknown(where, block, WORKLOAD_KEYS)
    kinds = [k for k in ("network", "layer", "gemm", "layers") if k in block]
    if len(kinds) != 1:
        raise SpecError(f"{where} needs exactly one of network, layer, gemm, layers (got "
                        f"{kinds or 'none'})")
    wl = {}
    if "network" in block:
        net = block["network"]
        if net not in work.NETWORKS:
            raise SpecError(f"{where}.network must be one of {sorted(work.NETWORKS)!r}, not {net!r}")
        wl["network"] = net
        if "size" in block:
            _check_number(where, "size", block["size"], 3, 224)
            wl["size"] = block["size"]
        if "layers" in block:
            from .bench_sparten import VGG16
            known = [r[0] for r in VGG16]
            bad = [n for n in block["layers"] if n not in known] if net == "vgg16" else ["-"]
            if bad or not block["layers"]:
                raise SpecError(f"{where}.layers must be a non-empty list of {known!r} "
                                f"(vgg16 only), not {block['layers']!r}")
            wl["layers"] = list(block["layers"])
    elif "layers" in block:
        if not isinstance(block["layers"], list) or not block["layers"]:
            raise SpecError(f"{where}.layers must be a non-empty list of layer or gemm tables")
        wl["layers"] = [_parse_shape(f"{where}.layers[{j}]", ly,
                                     GEMM_KEYS if "m" in ly else LAYER_KEYS)
                        for j, ly in enumerate(block["layers"])]
    else:
        kind = kinds[0]
        wl[kind] = _parse_shape(f"{where}.{kind}", block[kind],
                                LAYER_KEYS if kind == "layer" else GEMM_KEYS)
    if "structure" in block:
        s = block["structure"]
        from hw.eureka.config import parse_mode
        try:
            k = parse_mode(s)[0]
        except ValueError as e:
            raise SpecError(f"{where}.structure: {e}") from None
        if k != "nm" or "network" in wl:
            raise SpecError(f"{where}.structure must be 'nm:N:M' (layer and gemm workloads), "
                            f"not {s!r}")
        wl["structure"] = s
    if "prune_nm" in block:
        if not isinstance(block["prune_nm"], bool):
            raise SpecError(f"{where}.prune_nm must be true or false")
        wl["prune_nm"] = block["prune_nm"]
    if "seed" in block:
        _check_number(where, "seed", block["seed"], 0)
        wl["seed"] = block["seed"]
    engines = block.get("engines", list(ENGINES))
    if not isinstance(engines, list) or not engines or any(e not in ENGINES for e in engines):
        raise SpecError(f"{where}.engines must be a non-empty list of {list(ENGINES)!r}, "
                        f"not {engines!r}")
    name = block.get("name") or wl.get("network") or f"{kinds[0]}{i}"
    if not isinstance(name, str) or name in names:
        raise SpecError(f"{where}.name must be a unique string, not {name!r}")
    names.add(name)
    return {"name": name, "engines": engines, "workload": wl}


def parse_spec(raw):
    """Check a spec dict (the parsed TOML) and return ``{"sweep": {...}, "engines": [...],
    "workloads": [...]}``. Raises :class:`SpecError` with one line naming the field."""
    if not isinstance(raw, dict):
        raise SpecError("a spec is a TOML document with [sweep], [[engine]] and [[workload]]")
    _unknown("spec", raw, ("sweep", "engine", "workload"))
    sweep = dict(raw.get("sweep", {}))
    _unknown("sweep", sweep, list(SWEEP_KEYS))
    for k, t in SWEEP_KEYS.items():
        if k in sweep and (not isinstance(sweep[k], t) or (t is int and isinstance(sweep[k], bool))):
            raise SpecError(f"sweep.{k} must be a {t.__name__}, not {sweep[k]!r}")
    sweep.setdefault("name", "sweep")
    sweep.setdefault("seed", 1)
    if sweep.get("energy") and work.energy_hook() is None:
        raise SpecError(f"sweep.energy: no energy model yet ({work.ENERGY_HOOK} does not exist; "
                        f"it comes with make power, issue 12); accepted: false")
    engines, workloads = raw.get("engine", []), raw.get("workload", [])
    if not isinstance(engines, list) or not engines:
        raise SpecError("spec: no [[engine]] table; accepted engines: " + ", ".join(ENGINES))
    if not isinstance(workloads, list) or not workloads:
        raise SpecError("spec: no [[workload]] table; give a network "
                        f"({', '.join(sorted(work.NETWORKS))}), a layer or a gemm")
    names = set()
    out = {"sweep": sweep,
           "engines": [_parse_engine(i, b) for i, b in enumerate(engines)],
           "workloads": [_parse_workload(i, b, names) for i, b in enumerate(workloads)]}
    for e in out["engines"]:
        bad = [n for n in e["workloads"] or () if n not in names]
        if bad:
            raise SpecError(f"{e['where']}.workloads: unknown workload {bad[0]!r}; accepted: "
                            f"{', '.join(w['name'] for w in out['workloads'])}")
    return out


# -- points -------------------------------------------------------------------------------------


def _not_applicable(engine, cfg, point, wl):
    """Why a (config, point, workload) combination cannot run, or None."""
    if engine == "sparten":
        if point["method"] != "none" and not cfg.permute:
            return "sparten: permute=false runs method 'none' only"
        return None
    mode = point["mode"]
    if mode not in cfg.supported_modes:
        return f"eureka: mode {mode} not supported by variant {cfg.variant} G={cfg.group}"
    if mode.startswith("nm:") and wl.get("structure") != mode and not wl.get("prune_nm"):
        return f"eureka: mode {mode} needs {mode}-structured weights (or prune_nm = true)"
    if wl.get("structure") and mode.startswith("nm:") and wl["structure"] != mode:
        return f"eureka: mode {mode} on {wl['structure']} weights"
    if point.get("order") == "balanced" and mode not in UNSTRUCTURED_MODES:
        return "eureka: the balanced order is for the unstructured modes"
    return None


def expand(spec):
    """The points of a checked spec: ``(points, skipped)``; ``points`` is a list of dicts
    ``{"engine", "config" (dict), "digest", "point", "workload", "workload_name"}`` and
    ``skipped`` maps a reason to a count. Raises :class:`SpecError` for a combination the config
    rejects (unless ``skip_invalid``) or when nothing is left to run."""
    from hw.common.config import ConfigError
    rng = random.Random(spec["sweep"]["seed"])
    skip_invalid = spec["sweep"].get("skip_invalid", False)
    points, skipped, seen = [], {}, set()
    for block in spec["engines"]:
        engine = block["engine"]
        mod, cls = _engine_module(engine)
        base = mod.PRESETS[block["base"]]
        names = list(block["axes"])
        combos = list(itertools.product(*(block["axes"][n] for n in names)))
        if block["sample"] and block["sample"] < len(combos):
            combos = rng.sample(combos, block["sample"])
        pnames = set(work.POINT_FIELDS[engine])
        for combo in combos:
            d = dict(zip(names, combo))
            point = {k: v for k, v in d.items() if k in pnames}
            try:
                cfg = dataclasses.replace(base, **{k: v for k, v in d.items() if k not in pnames})
            except (ConfigError, ValueError, TypeError) as e:
                if skip_invalid:
                    skipped["rejected by the config"] = skipped.get("rejected by the config", 0) + 1
                    continue
                fields = ", ".join(f"{k}={v!r}" for k, v in d.items() if k not in pnames)
                raise SpecError(f"{block['where']}.grid point ({fields}): "
                                f"{str(e).splitlines()[0]} (or set sweep.skip_invalid = true)") from None
            cfgs = [cfg]
            if block["baselines"]:
                cfgs += [cfg.dense_baseline(), cfg.ampere24_baseline()]
            for c in cfgs:
                for w in spec["workloads"]:
                    if engine not in w["engines"] or (block["workloads"] is not None
                                                      and w["name"] not in block["workloads"]):
                        continue
                    p = {"engine": engine, "config": c.to_dict(), "digest": c.digest(),
                         "point": dict(point), "workload": w["workload"],
                         "workload_name": w["name"]}
                    ident = _canon({k: p[k] for k in ("engine", "config", "point", "workload")})
                    if ident in seen:          # baselines repeat across the grid
                        continue
                    seen.add(ident)
                    why = _not_applicable(engine, c, point, w["workload"])
                    if why:
                        skipped[why] = skipped.get(why, 0) + 1
                        continue
                    points.append(p)
    if not points:
        why = "; ".join(f"{n} x {r}" for r, n in skipped.items()) or "the grid is empty"
        raise SpecError(f"the spec gives no runnable point ({why})")
    return points, skipped


def _canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
