"""``sparse-hw sweep``: design-space sweeps of both engines on Dask ``distributed``.

A spec (TOML, read with :mod:`tomllib`) gives a grid, or a random sample of a grid, over config
fields of one or more engines, crossed with workloads::

    [sweep]
    name = "example"
    area = false            # synthesise every config (make area's flow, asic only; cached)
    rtl = false             # run a reduced copy of the first layer on the RTL of every point
    energy = false          # gate-level power of a sample x model cycles (synth/power_sweep.py)
    seed = 1                # seed of random workloads and of `sample`
    skip_invalid = false    # skip grid combinations the config rejects instead of failing

    [[engine]]
    engine = "eureka"       # or "sparten"
    base = "paper"          # preset the grid modifies (hw/<engine>/config.py PRESETS)
    baselines = true        # EUREKA: also the dense and Ampere-like 2:4 core of every R x L
    sample = 4              # optional: 4 random points of the grid instead of all of it
    workloads = ["vgg16"]   # optional: only these workloads (by name) for this table
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

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from . import sweep_work as work
from .sweep_spec import EXAMPLE, SpecError, _canon, expand, load_spec, parse_spec  # noqa: F401

__all__ = ["SpecError", "load_spec", "parse_spec", "expand", "Cache", "code_version", "run_sweep",
           "run_tasks", "EXAMPLE", "register"]


# -- cache --------------------------------------------------------------------------------------


def _hash(*parts):
    return hashlib.sha256(_canon(parts).encode()).hexdigest()[:20]


#: Source files whose text is part of each kind of task's cache key (globs from the repo root).
SOURCES = {
    "model": ("golden/*.py", "hw/common/config.py", "hw/sparten/config.py", "hw/eureka/config.py",
              "sim/bench_sparten.py", "sim/bench_eureka.py", "sim/sweep_model.py"),
    "area": ("hw/**/*.py", "synth/*.py", "report/*.py", "sim/verilator.py", "sim/sweep_work.py"),
    "rtl": ("hw/**/*.py", "golden/*.py", "sim/*.py", "sim/benches/*.py", "tests/cocotb/*.py"),
    "energy": ("hw/**/*.py", "golden/*.py", "synth/*.py", "report/*.py", "sim/sweep_work.py",
               "sim/sweep_model.py", "sim/run_eureka.py", "sim/bench_sparten.py",
               "sim/verilator.py", "sim/native.py"),
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


def _liberty(spec, kind="area"):
    if not spec["sweep"].get(kind):
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
    elib_path, elib_id = _liberty(spec, "energy")
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
            keys["energy"] = _hash("energy", *args, elib_id, ver("energy"))
            tasks[keys["energy"]] = ("energy", "energy_task", args + (elib_path, keys["model"]))
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
    try:
        doc = run_sweep(spec, cache, client, prog)
    except KeyboardInterrupt:
        prog.log(f"interrupted: finished results are kept in {cache.root}; the same command "
                 f"resumes")
        raise
    paths = write_reports(doc, out)
    s = doc["summary"]
    print(f"{s['points']} points ({s['tasks']} tasks: {s['computed']} computed, {s['cached']} "
          f"cached, {s['failed']} failed) in {s['seconds']:.1f} s; wrote "
          + ", ".join(str(p) for p in paths))
    return 1 if s["failed"] else 0
