"""``sparse-hw sweep``: design-space sweeps of both engines on Dask ``distributed``.

A spec (TOML, read with :mod:`tomllib`) gives a grid, or a random sample of a grid, over config
fields of one or more engines, crossed with workloads::

    [sweep]
    name = "example"
    area = false            # synthesise every config (make area's flow, asic only; cached)
    rtl = false             # run a reduced copy of the first layer on the RTL of every point
    energy = false          # needs synth/power.py (issue 12); refused until it exists
    seed = 1                # seed of random workloads and of `sample`
    skip_invalid = false    # skip grid combinations the config rejects instead of failing

    [[engine]]
    engine = "eureka"       # or "sparten"
    base = "paper"          # preset the grid modifies (hw/<engine>/config.py PRESETS)
    baselines = true        # EUREKA: also the dense and Ampere-like 2:4 core of every R x L
    sample = 4              # optional: 4 random points of the grid instead of all of it
    [engine.grid]           # config fields, and the point fields of sim.sweep_work.POINT_FIELDS
    rows = [4, 8]
    lanes = { lo = 8, hi = 32, pow2 = true }
    mode = ["suds", "nm:2:4", "dense"]

    [[workload]]
    network = "vgg16"       # or eureka_gemm; or layer = {...}; or gemm = {...}

Each point (config x sparsity mode x workload) gets the cycle model, and optionally the area and
critical path of its config, an RTL check and energy. Every task is a pure function of its inputs
and its result is cached under ``build/sweep-cache/`` by a hash of those inputs and of the source
of the code that computes it (:func:`code_version`), so a config is synthesised once across
sweeps, a rerun recomputes nothing, and an interrupted sweep resumes where it stopped. Results go
to ``DIR/sweep.{json,csv,md}`` with Pareto plots (:mod:`sim.sweep_report`).

Tasks run on Dask ``distributed``: a ``LocalCluster`` of one single-threaded worker process per
core by default, or the cluster of ``--scheduler tcp://host:port`` (its workers need this package
installed; results travel back to the client, which alone writes the cache).
"""

import dataclasses
import hashlib
import itertools
import json
import os
import random
import sys
import time
import tomllib
from pathlib import Path

from . import sweep_work as work

__all__ = ["SpecError", "load_spec", "parse_spec", "expand", "Cache", "code_version", "run_sweep",
           "run_tasks", "EXAMPLE", "register"]


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
ENGINE_KEYS = ("engine", "base", "grid", "sample", "baselines")
WORKLOAD_KEYS = ("name", "network", "size", "layers", "layer", "gemm", "engines", "structure",
                 "prune_nm", "seed")
LAYER_KEYS = {"c": 1, "k": 1, "h": 1, "w": 1, "r": 1, "s": 1, "stride": 1, "padding": 0}
GEMM_KEYS = {"m": 1, "k": 1, "n": 1}
ENGINES = ("sparten", "eureka")


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
    fields = [f.name for f in dataclasses.fields(cls)]
    point_fields = list(work.POINT_FIELDS[engine])
    _unknown(f"{where}.grid", grid, fields + point_fields)
    if block.get("baselines") and engine != "eureka":
        raise SpecError(f"{where}.baselines: only the eureka engine has baselines")
    axes = {}
    from hw.common.config import ConfigError
    for name, raw in grid.items():
        vals = _values(f"{where}.grid", name, raw)
        if not vals:
            rng = (_accepted(cls, base, name) if name in fields else
                   f"{name} must be one of {list(work.POINT_FIELDS[engine][name] or ['dense', 'nm:N:M', 'suds', 'unstructured-nosuds'])!r}")
            raise SpecError(f"{where}.grid.{name} has no values; {rng}")
        for v in vals:
            if name in point_fields:
                _check_point_value(engine, f"{where}.grid", name, v)
                continue
            try:
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
    return {"engine": engine, "base": base_name, "axes": axes, "sample": sample,
            "baselines": bool(block.get("baselines", False)), "where": where}


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
    return {"sweep": sweep,
            "engines": [_parse_engine(i, b) for i, b in enumerate(engines)],
            "workloads": [_parse_workload(i, b, names) for i, b in enumerate(workloads)]}


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
    if point.get("order") == "balanced" and mode not in ("suds", "unstructured-nosuds"):
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
                    if engine not in w["engines"]:
                        continue
                    why = _not_applicable(engine, c, point, w["workload"])
                    if why:
                        skipped[why] = skipped.get(why, 0) + 1
                        continue
                    p = {"engine": engine, "config": c.to_dict(), "digest": c.digest(),
                         "point": dict(point), "workload": w["workload"],
                         "workload_name": w["name"]}
                    ident = _canon({k: p[k] for k in ("engine", "config", "point", "workload")})
                    if ident not in seen:      # baselines repeat across the grid
                        seen.add(ident)
                        points.append(p)
    if not points:
        why = "; ".join(f"{n} x {r}" for r, n in skipped.items()) or "the grid is empty"
        raise SpecError(f"the spec gives no runnable point ({why})")
    return points, skipped


# -- cache --------------------------------------------------------------------------------------


def _canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _hash(*parts):
    return hashlib.sha256(_canon(parts).encode()).hexdigest()[:20]


#: Source files whose text is part of each kind of task's cache key (globs from the repo root).
SOURCES = {
    "model": ("golden/*.py", "hw/common/config.py", "hw/sparten/config.py", "hw/eureka/config.py",
              "sim/bench_sparten.py", "sim/bench_eureka.py", "sim/sweep_work.py"),
    "area": ("hw/**/*.py", "synth/area.py", "synth/sta.py", "sim/verilator.py", "sim/sweep_work.py"),
    "rtl": ("hw/**/*.py", "golden/*.py", "sim/*.py", "tests/cocotb/*.py"),
    "energy": ("hw/**/*.py", "synth/*.py", "sim/sweep_work.py"),
}


def code_version(kind, root=None):
    """Hash of the source text of the code behind one kind of task (:data:`SOURCES`)."""
    from .verilator import ROOT
    root = Path(root or ROOT)
    h = hashlib.sha256()
    for pattern in SOURCES[kind]:
        for p in sorted(root.glob(pattern)):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


class Cache:
    """Task results as JSON files ``<root>/<kind>/<key[:2]>/<key>.json``, written atomically by
    the client (so an interrupted sweep leaves only whole results)."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, kind, key):
        return self.root / kind / key[:2] / f"{key}.json"

    def get(self, kind, key):
        try:
            return json.loads(self.path(kind, key).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def put(self, kind, key, value):
        p = self.path(kind, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(value, sort_keys=True))
        tmp.replace(p)


def default_cache():
    from .verilator import build_dir
    return Cache(build_dir() / "sweep-cache")


# -- tasks and the Dask runner -------------------------------------------------------------------


def _liberty(spec):
    if not spec["sweep"].get("area"):
        return None, None
    from synth.area import find_liberty
    src = find_liberty(spec["sweep"].get("liberty"))
    if src is None:
        return None, "generic"
    return str(src), hashlib.sha256(Path(src).read_bytes()).hexdigest()[:16]


def tasks_of(points, spec, versions=None):
    """The tasks of a sweep: a dict key -> ``(kind, function name, args)``, and for every point
    the keys of its tasks (``point["tasks"] = {kind: key}``)."""
    versions = versions or {}
    ver = lambda k: versions.setdefault(k, code_version(k))   # noqa: E731
    lib_path, lib_id = _liberty(spec)
    from .verilator import build_dir
    synth_work = str(build_dir() / "sweep-cache" / "synth")
    tasks = {}
    for p in points:
        args = (p["engine"], p["config"], p["point"], p["workload"])
        keys = {"model": _hash("model", *args, ver("model"))}
        tasks[keys["model"]] = ("model", "model_task", args)
        if spec["sweep"].get("area"):
            keys["area"] = _hash("area", p["engine"], p["config"], lib_id, ver("area"))
            tasks[keys["area"]] = ("area", "area_task", (p["engine"], p["config"], lib_path,
                                                         synth_work))
        if spec["sweep"].get("rtl"):
            keys["rtl"] = _hash("rtl", *args, ver("rtl"))
            tasks[keys["rtl"]] = ("rtl", "rtl_task", args)
        if spec["sweep"].get("energy"):
            keys["energy"] = _hash("energy", *args, ver("energy"))
            tasks[keys["energy"]] = ("energy", "energy_task", args + (keys["model"],))
        p["tasks"] = keys
    return tasks


def _error_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:400]


def _call(fn_name, args):
    return getattr(work, fn_name)(*args)


class _Counts:
    def __init__(self, total):
        self.total, self.done, self.failed, self.cached = total, 0, 0, 0
        self.workers = 0      # Dask workers of the run (0: serial or nothing to compute)

    def __str__(self):
        return f"done {self.done}, failed {self.failed}, cached {self.cached}"


def run_tasks(tasks, cache, client=None, progress=None, stop_after=None, compute=None):
    """Run the tasks that the cache does not hold; return ``(results, counts)``.

    ``results`` maps a key to the task's result dict, or to ``{"error": line}`` for a failed task
    (failures are reported, not cached: the next run tries them again). ``client`` is a
    ``distributed.Client``, or a function making one (called only when a task is not cached;
    the client it makes is closed here); None runs the tasks one by one in this process (the
    serial reference the tests compare against). ``stop_after`` stops after that many computed tasks as an
    interrupt would (tests). ``compute`` (a set of kinds) limits what is computed: other tasks
    only read the cache (``pick --no-synth``). An energy task's last argument is the key of its
    model result.
    """
    counts = _Counts(len(tasks))
    results, todo = {}, {}
    for key, (kind, fn, args) in tasks.items():
        hit = cache.get(kind, key)
        if hit is not None:
            results[key] = hit
            counts.cached += 1
        elif compute is not None and kind not in compute:
            counts.total -= 1
        else:
            todo[key] = (kind, fn, args)
    show = progress or (lambda *a, **k: None)
    show(counts.cached, counts.total, str(counts))
    # Energy needs its point's model figures: it goes after every other task.
    first = {k: t for k, t in todo.items() if t[0] != "energy"}
    later = {k: t for k, t in todo.items() if t[0] == "energy"}

    def finish(key, kind, value, failed):
        results[key] = value
        if failed:
            counts.failed += 1
        else:
            cache.put(kind, key, value)
            counts.done += 1
        show(counts.done + counts.failed + counts.cached, counts.total, str(counts))
        if stop_after is not None and counts.done + counts.failed >= stop_after:
            raise KeyboardInterrupt

    def resolve(batch):
        out = {}
        for k, (kind, fn, args) in batch.items():
            if kind == "energy":
                model = results.get(args[-1], {})
                out[k] = (kind, fn, args[:-1] + (model,))
            else:
                out[k] = (kind, fn, args)
        return out

    made = None
    if callable(client):
        client = made = client() if todo else None
    if client is not None:
        counts.workers = _n_workers(client)
    try:
        for batch in (first, later):
            _run_batch(client, resolve(batch), finish)
    finally:
        if made is not None:
            close_client(made)
    return results, counts


def _run_batch(client, batch, finish):
    """Run one batch of tasks serially (``client`` None) or on Dask, calling ``finish`` per task."""
    if client is None:
        for key, (kind, fn, args) in batch.items():
            try:
                value, failed = _call(fn, args), False
            except Exception as e:      # a failed point is recorded; the sweep goes on
                value, failed = {"error": _error_line(e)}, True
            finish(key, kind, value, failed)
        return
    from distributed import as_completed
    futures = {client.submit(_call, fn, args, key=f"{kind}-{key}", pure=False): (key, kind)
               for key, (kind, fn, args) in batch.items()}
    try:
        for fut in as_completed(futures):
            key, kind = futures[fut]
            if fut.status == "finished":
                finish(key, kind, fut.result(), False)
            else:
                finish(key, kind, {"error": _error_line(fut.exception())}, True)
            fut.release()
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


def make_client(scheduler=None, workers=None):
    """A ``distributed.Client``: joined to ``scheduler`` or on a new ``LocalCluster`` of
    ``workers`` single-threaded processes (default: the machine's cores)."""
    import logging

    from distributed import Client, LocalCluster
    if scheduler:
        return Client(scheduler, timeout="30s")
    n = workers or os.cpu_count() or 1
    # dashboard_address ":0": a free port (None still binds 8787, which a second sweep on the
    # same machine would find taken); memory_limit keeps one worker under the project's 6 GiB.
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR,
                           memory_limit="6GiB")
    return Client(cluster)


def close_client(client):
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run_sweep(spec, cache=None, client=None, progress=None, stop_after=None):
    """Expand a checked spec, run it, and return the result document (see
    :func:`sim.sweep_report.assemble`)."""
    from .sweep_report import assemble
    t0 = time.monotonic()
    points, skipped = expand(spec)
    cache = cache or default_cache()
    tasks = tasks_of(points, spec)
    results, counts = run_tasks(tasks, cache, client, progress, stop_after)
    return assemble(spec, points, skipped, tasks, results, counts, time.monotonic() - t0,
                    workers=counts.workers)


def _n_workers(client):
    try:
        return len(client.scheduler_info().get("workers", {}))
    except Exception:   # a scheduler that went away: the count is only informative
        return None


# -- CLI ----------------------------------------------------------------------------------------


def register(sub):
    p = sub.add_parser("sweep", help="design-space sweep of both engines on Dask",
                       description="Run a sweep spec (TOML: grids over config fields x workloads) "
                                   "on Dask distributed; results cached in build/sweep-cache/, "
                                   "reports in DIR/sweep.{json,csv,md} with Pareto plots.")
    p.add_argument("spec", nargs="?", type=Path, help="the TOML spec (see --example)")
    p.add_argument("--example", action="store_true", help="print a small runnable spec and exit")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="join a running Dask cluster (tcp://host:port) instead of a LocalCluster")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="LocalCluster worker processes (default: CPU count)")
    p.add_argument("--serial", action="store_true",
                   help="run in this process without Dask (debugging; same results)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default build/sweep)")
    p.add_argument("--cache", type=Path, default=None,
                   help="result cache (default build/sweep-cache)")
    p.set_defaults(func=run)
    from .pick import register as register_pick
    register_pick(sub)


def run(args):
    if args.example:
        sys.stdout.write(EXAMPLE)
        return 0
    if args.spec is None:
        raise SpecError("give a spec file (or --example)")
    if args.workers is not None and args.workers < 1:
        raise SpecError(f"--workers must be at least 1, not {args.workers}")
    spec = load_spec(args.spec)
    expand(spec)                          # every bad input fails here, before any task
    from .bench import Progress
    from .sweep_report import write_reports
    from .verilator import build_dir
    out = args.out or build_dir() / "sweep"
    cache = Cache(args.cache) if args.cache else default_cache()
    prog = Progress("sweep", stream=sys.stderr)   # the stream of now (tests swap it)
    client = None if args.serial else lambda: make_client(args.scheduler, args.workers)
    doc = run_sweep(spec, cache, client, prog)
    paths = write_reports(doc, out)
    s = doc["summary"]
    print(f"{s['points']} points ({s['tasks']} tasks: {s['computed']} computed, {s['cached']} "
          f"cached, {s['failed']} failed) in {s['seconds']:.1f} s; wrote "
          + ", ".join(str(p) for p in paths))
    return 1 if s["failed"] else 0
