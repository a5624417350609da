"""Run layers on BARISTA's RTL and compare them with the golden models, by block:

* the filter group (``hw.barista.group.BaristaGroup``): a 1x1 layer of one filter in the Amaranth
  simulator, memories loaded through its write ports, every grant, task end and result recorded
  (:func:`run_group`, :func:`check_layer`; ``tests/test_barista_group.py``);
* the whole cluster (``hw.barista.cluster.BaristaCluster``): its load words (:func:`cluster_words`),
  a native Verilator harness with seeded LFSR load idle and output backpressure
  (:func:`stall_harness`, :func:`run_cluster`, :func:`check_cluster_layer`, against
  :func:`golden.barista.cluster_trace`) and an Amaranth-simulator run (:func:`run_cluster_pysim`);
* several clusters (``hw.barista.engine.BaristaEngine``): the same for the engine
  (:func:`engine_harness`, :func:`run_engine`, :func:`check_engine_layer`,
  :func:`run_engine_pysim`, against :func:`golden.barista.engine_trace`).

The benchmark's RTL check (:func:`sim.bench_barista.rtl_check`) runs the cluster's and the
engine's checkers; ``tests/test_barista_cluster.py`` and ``tests/test_barista_engine.py`` all.
"""

import dataclasses

import numpy as np

__all__ = ["run_group", "task_costs", "check_layer", "rtl_config", "lfsr_pattern",
           "stall_harness", "cluster_words", "outputs_of", "cluster_model", "run_cluster",
           "check_cluster_layer", "run_cluster_pysim", "engine_harness", "engine_model",
           "engine_words", "run_engine", "run_engine_pysim", "check_engine_layer"]


def _vec_chunks(v, cfg):
    from golden.sparsemap import encode_vector
    from hw.sparten.memmap import pack_chunk
    return [pack_chunk(c.mask, c.values, cfg) for c in encode_vector(v, cfg.chunk)]


def run_group(config, w, a, tile_size, max_cycles=20000):
    """``w[C]`` one filter, ``a[P, C]`` the positions on ``BaristaGroup(config)``.

    Returns ``{"start", "unit", "value"}`` (per task: grant cycle, unit, result) and ``"end"``
    (cycle of the last task end, counted from the cycle after ``start``).
    """
    from amaranth.sim import Simulator
    from hw.barista.group import BaristaGroup, cu_config

    dut = BaristaGroup(config)
    cu = cu_config(config)
    n, P = config.units_per_cluster, a.shape[0]
    fchunks = _vec_chunks(w, cu)
    nc = len(fchunks)
    if P * nc > config.input_buffer_chunks:
        raise ValueError(f"{P} positions x {nc} chunks do not fit input_buffer_chunks="
                         f"{config.input_buffer_chunks}")
    out = {"start": [None] * P, "unit": [None] * P, "value": [None] * P}

    async def bench(ctx):
        for j, word in enumerate(fchunks):
            ctx.set(dut.wgt_we, 1)
            ctx.set(dut.wgt_addr, j)
            ctx.set(dut.wgt_data.as_value(), word)
            await ctx.tick()
        ctx.set(dut.wgt_we, 0)
        for p in range(P):
            for j, word in enumerate(_vec_chunks(a[p], cu)):
                ctx.set(dut.act_we, 1)
                ctx.set(dut.act_addr, p * nc + j)
                ctx.set(dut.act_data.as_value(), word)
                await ctx.tick()
        ctx.set(dut.act_we, 0)
        ctx.set(dut.n_tasks, P)
        ctx.set(dut.tile_size, tile_size)
        ctx.set(dut.n_chunks, nc)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        last = None
        for t in range(max_cycles):
            grant = ctx.get(dut.grant)
            for i in range(n):
                if grant >> i & 1:
                    k = ctx.get(dut.dispatch.task[i])
                    out["start"][k], out["unit"][k] = t, i
                r = ctx.get(dut.res[i])
                if r.valid:
                    out["value"][int(r.addr)] = int(r.value)
            if ctx.get(dut.fin):
                last = t
            if all(v is not None for v in out["value"]):
                out["end"] = last
                return
            await ctx.tick()
        raise RuntimeError(f"the group did not finish in {max_cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


def task_costs(w, a, chunk, matches_per_cycle=1):
    """SparTen's cost of each position's dot product: sum over chunks of max(1, ceil(m / M))."""
    from golden.sparsemap import encode_vector
    mw = [c.mask for c in encode_vector(w, chunk)]
    M = matches_per_cycle
    return [sum(max(1, -(-bin(f & c.mask).count("1") // M))
                for f, c in zip(mw, encode_vector(row, chunk))) for row in a]


def rtl_config(config, W, nc, rows=2):
    """One cluster of ``config``'s units, banks that never limit, no task pieces, and an input
    buffer giving tiles of ``rows`` rows of a ``W``-wide 1x1 layer of ``nc`` chunks (so that the
    layer model's tiles are the group's)."""
    return dataclasses.replace(config, n_clusters=1, banks=64, bank_bytes_per_cycle=1024,
                               min_tasks_per_unit=0,
                               input_buffer_chunks=(config.colours + 1) * rows * W * nc)


def check_layer(w, a, config, rows=2):
    """The 1x1 layer ``w[1,C,1,1]`` on ``a[C,H,W]``: RTL (the group) vs golden.

    Returns ``{rtl_cycles, model_cycles, schedule_cycles, bit_exact, equal, P, C}``:
    ``rtl_cycles`` the group's last task end, ``model_cycles`` :func:`golden.barista.layer_cycles`
    on :func:`rtl_config`, ``schedule_cycles`` :func:`golden.barista.group_schedule`.
    """
    from golden.barista import group_schedule, layer_cycles
    from hw.barista.dispatch import TaskDispatch
    lat = TaskDispatch.latencies()
    C, H, W = a.shape
    nc = -(-C // config.chunk)
    cfg = rtl_config(config, W, nc, rows)
    wv = np.asarray(w, dtype=np.int64).reshape(C)
    rows_a = np.asarray(a, dtype=np.int64).reshape(C, H * W).T
    got = run_group(cfg, wv, rows_a, rows * W)
    sched = group_schedule(task_costs(wv, rows_a, cfg.chunk, cfg.matches_per_cycle),
                           cfg.units_per_cluster, rows * W, cfg.colours, **lat)
    model = layer_cycles(np.asarray(w).reshape(1, C, 1, 1), a, cfg, **lat)
    exact = got["value"] == (rows_a @ wv).tolist()
    ok = exact and got["end"] == model["cycles"] == sched["end"] \
        and got["start"] == sched["start"] and got["unit"] == sched["unit"]
    return {"P": H * W, "C": C, "rtl_cycles": got["end"], "model_cycles": model["cycles"],
            "schedule_cycles": sched["end"], "bit_exact": exact, "equal": ok}


# -- the whole cluster (hw/barista/cluster.py) ----------------------------------------------------

#: Galois LFSR of the stall harness (16 bits, taps 16, 14, 13, 11) *(ours)*.
LFSR_TAPS = 0xB400


def lfsr_pattern(seed, threshold, n):
    """The harness's gate for ``n`` cycles from the one after ``start``: cycle ``t`` passes when the
    low byte of the LFSR state (``seed`` at cycle 0) is below ``threshold`` (0..256)."""
    s, out = seed, []
    for _ in range(n):
        out.append((s & 0xFF) < threshold)
        s = (s >> 1) ^ (LFSR_TAPS if s & 1 else 0)
    return out


def _lfsr_next(m, reg):
    from amaranth import Mux
    return Mux(reg[0], (reg >> 1) ^ LFSR_TAPS, reg >> 1)


def stall_harness(config):
    """``BaristaCluster(config)`` behind two LFSR gates, for whole runs on Verilator: ``load``
    sees random idle (its own free-running LFSR), ``o`` random backpressure (an LFSR loaded with
    ``seed`` at ``start``, passing when its low byte is below ``threshold``, see
    :func:`lfsr_pattern`). With ``threshold`` = 256 nothing is gated."""
    from amaranth import Module, Signal
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out
    from hw.barista.cluster import BaristaCluster, desc_layout, load_layout

    class Harness(wiring.Component):
        def __init__(self):
            self.cluster = BaristaCluster(config)
            super().__init__({
                "load": In(stream.Signature(load_layout(config))),
                "desc": In(desc_layout(config)),
                "start": In(1), "seed": In(16), "threshold": In(9), "idle_threshold": In(9),
                "o": Out(stream.Signature(self.cluster.outbuf.write_layout)),
                "done": Out(1), "cycles": Out(32), "reads": Out(32), "requests": Out(32),
            })

        def elaborate(self, platform):
            m = Module()
            m.submodules.cluster = c = self.cluster
            lo = Signal(16, init=1)
            li = Signal(16, init=0xACE1)
            m.d.sync += [lo.eq(_lfsr_next(m, lo)), li.eq(_lfsr_next(m, li))]
            with m.If(self.start):
                m.d.sync += lo.eq(self.seed)
            go_o = Signal()
            go_i = Signal()
            m.d.comb += [go_o.eq(lo[:8] < self.threshold), go_i.eq(li[:8] < self.idle_threshold)]
            m.d.comb += [c.load.valid.eq(self.load.valid & go_i),
                         c.load.payload.eq(self.load.payload),
                         self.load.ready.eq(c.load.ready & go_i),
                         self.o.valid.eq(c.o.valid & go_o), self.o.payload.eq(c.o.payload),
                         c.o.ready.eq(self.o.ready & go_o),
                         c.desc.eq(self.desc), c.start.eq(self.start),
                         self.done.eq(c.done), self.cycles.eq(c.cycles), self.reads.eq(c.reads),
                         self.requests.eq(c.requests)]
            return m

    return Harness()


def cluster_words(w, a, config, stride=1, padding=0, tile_size=None):
    """``(layout, load beats, desc value)`` of a layer on ``BaristaCluster(config)``: every chunk
    word packed at its address (:func:`golden.barista.cluster_layout`)."""
    from golden.barista import cluster_layout
    from golden.sparsemap import encode_vector
    from hw.barista.cluster import desc_layout, load_layout
    from hw.barista.group import cu_config
    from hw.sparten.memmap import pack_chunk
    cu = cu_config(config)
    w = np.asarray(w)
    a = np.asarray(a)
    lay = cluster_layout(w.shape, a.shape, config, stride, padding, tile_size)
    K, R, H, W, nc, fbase = (lay[k] for k in ("K", "R", "H", "W", "nc", "fbase"))
    ll = load_layout(config)
    beats = []

    def put(addr, vec):
        for j, c in enumerate(encode_vector(vec, config.chunk)):
            beats.append(ll.const({"addr": addr + j,
                                   "data": pack_chunk(c.mask, c.values, cu)}).as_value().value)
    for y in range(H):
        for x in range(W):
            put((y * W + x) * nc, a[:, y, x])
    for k in range(K):
        for r in range(R):
            for s in range(R):
                put(fbase + ((k * R + r) * R + s) * nc, w[k, :, r, s])
    desc = desc_layout(config).const({
        "n_tasks": lay["n_tasks"], "tile_size": lay["tile_size"], "nc": nc, "height": H,
        "width": W, "out_h": lay["out_h"], "out_w": lay["out_w"], "kernel": R, "stride": stride,
        "pad": padding, "fbase": fbase}).as_value().value
    return lay, beats, desc


def outputs_of(drained, lay, colours):
    """The drained ``(colour, addr, value)`` list -> the layer's outputs ``[K, out_h, out_w]``.

    Tiles drain whole and in order, each in address order, so the ``i``-th drained entry is task
    ``i`` and must carry colour ``(i // tile_size) mod colours`` and address ``i mod tile_size``;
    a ValueError says where it does not (a lost, doubled or misplaced result)."""
    n, tsize = lay["n_tasks"], lay["tile_size"]
    if len(drained) != n:
        raise ValueError(f"{len(drained)} results drained, the layer has {n}")
    for i, (colour, addr, _) in enumerate(drained):
        want = ((i // tsize) % colours, i % tsize)
        if (colour, addr) != want:
            raise ValueError(f"result {i}: drained as (colour, addr) {(colour, addr)}, "
                             f"expected {want}")
    return np.asarray([v for _, _, v in drained], dtype=np.int64).reshape(
        lay["K"], lay["out_h"], lay["out_w"])


#: Name of the native model of :func:`stall_harness` (one build per config).
HARNESS_TOP = "barista_cluster_harness"


def cluster_model(config):
    """The native Verilator model of :func:`stall_harness` (built once per config, cached)."""
    from sim.native import build
    return build(stall_harness(config), HARNESS_TOP, config)


def run_cluster(model, config, w, a, stride=1, padding=0, tile_size=None, seed=1,
                threshold=256, idle_threshold=256, cap=10 ** 6):
    """One layer through the whole cluster on the native model: load (with the harness's random
    idle below ``idle_threshold``), run, drain (random backpressure from ``seed``/``threshold``).

    Returns ``{"outputs" [K,Ho,Wo], "drained", "cycles", "reads", "requests", "layout",
    "sim_cycles", "seconds"}``.
    """
    from hw.barista.outbuf import write_layout
    if not 1 <= seed < 1 << 16:
        raise ValueError(f"seed must be in 1..65535 (an LFSR state), not {seed!r}")
    lay, beats, desc = cluster_words(w, a, config, stride, padding, tile_size)
    res = model.run([("poke", "idle_threshold", idle_threshold), ("poke", "threshold", threshold),
                     ("poke", "seed", seed), ("feed", "load", beats), ("poke", "desc", desc),
                     ("drain", "o"), ("pulse", "start"), ("until", "done", cap),
                     ("peek", "cycles"), ("peek", "reads"), ("peek", "requests")])
    wl = write_layout(config)
    drained = []
    for v in res.streams.get("o", []):
        p = wl.from_bits(v)
        drained.append((int(p.colour), int(p.addr), int(p.value)))
    cycles, reads, requests = res.peeks
    return {"outputs": outputs_of(drained, lay, config.colours), "drained": drained,
            "cycles": cycles, "reads": reads, "requests": requests, "layout": lay,
            "sim_cycles": res.sim_cycles, "seconds": res.seconds}


def check_cluster_layer(model, config, w, a, stride=1, padding=0, tile_size=None, seed=1,
                        threshold=256, idle_threshold=256):
    """RTL (the whole cluster, native Verilator) against golden on one layer: results against
    :func:`golden.conv.conv2d_dense`, ``cycles``/``reads``/``requests`` and the drain order
    against :func:`golden.barista.cluster_trace` under the same backpressure, and the layer
    model's cycles (:func:`golden.barista.layer_cycles` on one cluster) beside them.

    Returns ``{rtl_cycles, trace_cycles, model_cycles, reads, trace_reads, requests,
    bit_exact, equal, K, C, H, R, stride, padding}``.
    """
    from golden.barista import cluster_trace, layer_cycles
    from golden.conv import conv2d_dense
    from hw.barista.cluster import BaristaCluster
    from hw.sparten.cu import ComputeUnit
    got = run_cluster(model, config, w, a, stride, padding, tile_size, seed, threshold,
                      idle_threshold)
    ready = lfsr_pattern(seed, threshold, got["cycles"] + 16)
    want = cluster_trace(w, a, config, stride, padding, tile_size, ready,
                         result_latency=ComputeUnit.result_latency,
                         **BaristaCluster.latencies())
    ref = conv2d_dense(np.asarray(a), np.asarray(w), stride, padding)
    exact = bool(np.array_equal(got["outputs"], ref))
    one = dataclasses.replace(config, n_clusters=1, min_tasks_per_unit=0)
    model_c = layer_cycles(np.asarray(w), np.asarray(a), one, stride, padding)["cycles"]
    equal = (exact and got["cycles"] == want["cycles"] and got["reads"] == want["reads"]
             and got["requests"] == want["requests"] and got["drained"] == want["out"])
    K, C, R, _ = np.shape(w)
    return {"K": K, "C": C, "H": int(np.shape(a)[1]), "R": R, "stride": stride,
            "padding": padding, "rtl_cycles": got["cycles"], "trace_cycles": want["cycles"],
            "model_cycles": model_c, "reads": got["reads"], "trace_reads": want["reads"],
            "requests": got["requests"], "bit_exact": exact, "equal": equal,
            "seconds": round(got["seconds"], 2)}


def _run_pysim(dut, beats, set_desc, cycle, on_done, max_cycles, what):
    """The Amaranth-simulator run of a cluster or an engine: ``beats`` on ``dut.load``,
    ``set_desc(ctx)``, a ``start`` pulse, then ``cycle(ctx, t)`` every cycle (``t`` = 0 the one
    after ``start``) until ``dut.done``, when ``on_done(ctx)`` reads the counters."""
    from amaranth.sim import Simulator

    from .streams import stream_put

    async def bench(ctx):
        for b in beats:
            await stream_put(ctx, dut.load, b)
        set_desc(ctx)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for t in range(max_cycles):
            cycle(ctx, t)
            await ctx.tick()
            if ctx.get(dut.done):
                on_done(ctx)
                return
        raise RuntimeError(f"the {what} did not finish in {max_cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def _drain(ctx, o, rdy, into):
    """Set ``o.ready`` and record a transfer ``(colour, addr, value)``."""
    ctx.set(o.ready, rdy)
    if ctx.get(o.valid) and rdy:
        p = ctx.get(o.payload)
        into.append((int(p.colour), int(p.addr), int(p.value)))


def run_cluster_pysim(config, w, a, stride=1, padding=0, tile_size=None, ready=None,
                      max_cycles=50000):
    """One layer on ``BaristaCluster(config)`` in the Amaranth simulator (slow; for small layers
    and configs without a native build): every grant ``(cycle, unit)`` per task, the drained
    results and the counters. ``ready``: ``o.ready`` per cycle from the one after ``start``."""
    from hw.barista.cluster import BaristaCluster
    dut = BaristaCluster(config)
    lay, beats, desc = cluster_words(w, a, config, stride, padding, tile_size)
    got = {"drained": [], "grants": [None] * lay["n_tasks"], "layout": lay}
    n = config.units_per_cluster

    def cycle(ctx, t):
        _drain(ctx, dut.o, True if ready is None else bool(ready[t]), got["drained"])
        g = ctx.get(dut.dispatch.grant)
        for i in range(n):
            if g >> i & 1:
                got["grants"][ctx.get(dut.dispatch.task[i])] = (t, i)

    def on_done(ctx):
        for k in ("cycles", "reads", "requests"):
            got[k] = ctx.get(getattr(dut, k))

    _run_pysim(dut, beats, lambda ctx: ctx.set(dut.desc.as_value(), desc), cycle, on_done,
               max_cycles, "cluster")
    got["outputs"] = outputs_of(got["drained"], lay, config.colours)
    return got


# -- several clusters (hw/barista/engine.py) -------------------------------------------------------

ENGINE_HARNESS_TOP = "barista_engine_harness"


def engine_harness(config):
    """``BaristaEngine(config)`` with an output LFSR gate per cluster (seed ``seed[c]``, loaded at
    ``start``; the same rule as :func:`stall_harness`) and one on the load stream."""
    from amaranth import Module, Signal
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out
    from hw.barista.cluster import desc_layout
    from hw.barista.engine import BaristaEngine, engine_load_layout
    from hw.barista.outbuf import write_layout
    n = config.n_clusters

    class Harness(wiring.Component):
        def __init__(self):
            self.engine = BaristaEngine(config)
            super().__init__({
                "load": In(stream.Signature(engine_load_layout(config))),
                "desc": In(desc_layout(config)).array(n),
                "start": In(1), "seed": In(16).array(n), "threshold": In(9),
                "idle_threshold": In(9),
                "o": Out(stream.Signature(write_layout(config))).array(n),
                "done": Out(1), "cycles": Out(32).array(n), "reads": Out(32).array(n),
                "requests": Out(32).array(n),
            })

        def elaborate(self, platform):
            m = Module()
            m.submodules.engine = e = self.engine
            li = Signal(16, init=0xACE1)
            m.d.sync += li.eq(_lfsr_next(m, li))
            go_i = Signal()
            m.d.comb += go_i.eq(li[:8] < self.idle_threshold)
            m.d.comb += [e.load.valid.eq(self.load.valid & go_i),
                         e.load.payload.eq(self.load.payload),
                         self.load.ready.eq(e.load.ready & go_i), e.start.eq(self.start),
                         self.done.eq(e.done)]
            for c in range(n):
                lo = Signal(16, init=1, name=f"lfsr{c}")
                m.d.sync += lo.eq(_lfsr_next(m, lo))
                with m.If(self.start):
                    m.d.sync += lo.eq(self.seed[c])
                go = Signal(name=f"go{c}")
                m.d.comb += [go.eq(lo[:8] < self.threshold), e.desc[c].eq(self.desc[c]),
                             self.o[c].valid.eq(e.o[c].valid & go),
                             self.o[c].payload.eq(e.o[c].payload),
                             e.o[c].ready.eq(self.o[c].ready & go),
                             self.cycles[c].eq(e.cycles[c]), self.reads[c].eq(e.reads[c]),
                             self.requests[c].eq(e.requests[c])]
            return m

    return Harness()


def engine_model(config):
    """The native model of :func:`engine_harness` (built once per config, cached)."""
    from sim.native import build
    return build(engine_harness(config), ENGINE_HARNESS_TOP, config)


def engine_words(w, a, config, stride=1, padding=0, tile_size=None):
    """``(filters, layouts, load beats, descs)`` of a layer on ``BaristaEngine(config)``: the map
    loaded into every cluster at once, each cluster's filters (:func:`golden.barista.
    engine_filters`) into its own banks."""
    from golden.barista import engine_filters
    from hw.barista.engine import engine_load_layout
    filters = engine_filters(w, config.n_clusters)
    el = engine_load_layout(config)
    lays, descs, beats = [], [], []
    everyone = (1 << config.n_clusters) - 1
    w = np.asarray(w)
    seen_map = False
    for c, f in enumerate(filters):
        lay, bts, desc = cluster_words(w[f], a, config, stride, padding, tile_size)
        lays.append(lay)
        descs.append(desc)
        aw = lay["fbase"]
        from hw.barista.cluster import load_layout
        ll = load_layout(config)
        for b in bts:
            addr = int(ll.from_bits(b).addr)
            if addr < aw and seen_map:
                continue            # the map: loaded once, into every cluster
            bits = everyone if addr < aw else 1 << c
            beats.append(el.const({"beat": ll.from_bits(b), "clusters": bits}).as_value().value)
        seen_map = True
    return filters, lays, beats, descs


def run_engine(model, config, w, a, stride=1, padding=0, tile_size=None, seeds=None,
               threshold=256, idle_threshold=256, cap=10 ** 6):
    """One layer on the engine's native model. Returns ``{"outputs" [K,Ho,Wo], "filters",
    "drained" (per cluster), "cycles", "reads", "requests" (per cluster)}``."""
    from hw.barista.outbuf import write_layout
    n = config.n_clusters
    seeds = seeds or [1 + c for c in range(n)]
    filters, lays, beats, descs = engine_words(w, a, config, stride, padding, tile_size)
    script = [("poke", "idle_threshold", idle_threshold), ("poke", "threshold", threshold)]
    script += [("poke", f"seed__{c}", seeds[c]) for c in range(n)]
    script += [("feed", "load", beats)]
    script += [("poke", f"desc__{c}", descs[c]) for c in range(n)]
    script += [("drain", f"o__{c}") for c in range(n)]
    script += [("pulse", "start"), ("until", "done", cap)]
    script += [("peek", f"{k}__{c}") for k in ("cycles", "reads", "requests") for c in range(n)]
    res = model.run(script)
    wl = write_layout(config)
    K = np.shape(w)[0]
    out = None
    drained = []
    for c in range(n):
        d = [(int(p.colour), int(p.addr), int(p.value))
             for p in (wl.from_bits(v) for v in res.streams.get(f"o__{c}", []))]
        drained.append(d)
        part = outputs_of(d, lays[c], config.colours)
        if out is None:
            out = np.zeros((K,) + part.shape[1:], dtype=np.int64)
        out[filters[c]] = part
    pk = res.peeks
    return {"outputs": out, "filters": filters, "drained": drained, "cycles": pk[:n],
            "reads": pk[n:2 * n], "requests": pk[2 * n:], "seconds": res.seconds}


def run_engine_pysim(config, w, a, stride=1, padding=0, tile_size=None, ready=None,
                     max_cycles=50000):
    """One layer on ``BaristaEngine(config)`` in the Amaranth simulator (slow: small layers).
    ``ready[c]``: cluster ``c``'s ``o.ready`` per cycle from the one after ``start``. Returns
    ``{"outputs", "filters", "drained", "cycles", "reads", "requests"}`` (per-cluster lists)."""
    from hw.barista.engine import BaristaEngine
    dut = BaristaEngine(config)
    n = config.n_clusters
    filters, lays, beats, descs = engine_words(w, a, config, stride, padding, tile_size)
    got = {"filters": filters, "drained": [[] for _ in range(n)]}

    def set_desc(ctx):
        for c in range(n):
            ctx.set(dut.desc[c].as_value(), descs[c])

    def cycle(ctx, t):
        for c in range(n):
            _drain(ctx, dut.o[c], True if ready is None else bool(ready[c][t]), got["drained"][c])

    def on_done(ctx):
        for k in ("cycles", "reads", "requests"):
            got[k] = [ctx.get(getattr(dut, k)[c]) for c in range(n)]

    _run_pysim(dut, beats, set_desc, cycle, on_done, max_cycles, "engine")
    out = np.zeros((np.shape(w)[0], lays[0]["out_h"], lays[0]["out_w"]), dtype=np.int64)
    for c in range(n):
        out[filters[c]] = outputs_of(got["drained"][c], lays[c], config.colours)
    got["outputs"] = out
    return got


def check_engine_layer(model, config, w, a, stride=1, padding=0, tile_size=None, seed=1,
                       threshold=256, idle_threshold=256):
    """As :func:`check_cluster_layer` for the engine (several clusters) on its native model:
    results against conv2d, every cluster's cycles, reads, requests and drain order against
    :func:`golden.barista.engine_trace`, and :func:`golden.barista.layer_cycles` on as many
    clusters beside them."""
    from golden.barista import engine_trace, layer_cycles
    from golden.conv import conv2d_dense
    from hw.barista.cluster import BaristaCluster
    from hw.sparten.cu import ComputeUnit
    n = config.n_clusters
    seeds = [(seed + 7919 * c) % 65535 + 1 for c in range(n)]
    got = run_engine(model, config, w, a, stride, padding, tile_size, seeds, threshold,
                     idle_threshold)
    ready = [lfsr_pattern(s, threshold, max(got["cycles"]) + 16) for s in seeds]
    want = engine_trace(w, a, config, stride, padding, tile_size, ready,
                        result_latency=ComputeUnit.result_latency,
                        **BaristaCluster.latencies())
    exact = bool(np.array_equal(got["outputs"], conv2d_dense(np.asarray(a), np.asarray(w),
                                                              stride, padding)))
    tr = want["clusters"]
    equal = exact and all(
        (got["cycles"][c], got["reads"][c], got["requests"][c], got["drained"][c])
        == (tr[c]["cycles"], tr[c]["reads"], tr[c]["requests"], tr[c]["out"]) for c in range(n))
    mcfg = dataclasses.replace(config, min_tasks_per_unit=0)
    model_c = layer_cycles(np.asarray(w), np.asarray(a), mcfg, stride, padding)["cycles"]
    K, C, R, _ = np.shape(w)
    return {"K": K, "C": C, "H": int(np.shape(a)[1]), "R": R, "stride": stride,
            "padding": padding, "clusters": n, "rtl_cycles": max(got["cycles"]),
            "trace_cycles": want["cycles"], "model_cycles": model_c,
            "reads": sum(got["reads"]), "trace_reads": sum(t["reads"] for t in tr),
            "requests": sum(got["requests"]), "bit_exact": exact, "equal": equal,
            "seconds": round(got["seconds"], 2)}
