"""Layer cycle model of a BARISTA-style engine: barrier-free clusters of SparTen compute units.

BARISTA (Gondimalla, Gundabolu, Vijaykumar, Thottethodi, arXiv 2104.08734; chapter 2 of
Gondimalla's 2024 dissertation) scales two-sided sparse execution to 32K MACs without SparTen's
broadcast barrier. What this model takes from the paper (its abstract): request/response chunk
fetch instead of broadcast, telescoping combining of input-map requests, snarfing of filter
responses, coloured output buffers (consecutive input maps need no barrier), dynamic round-robin
assignment of work within a filter, hierarchical buffering (few wide shared banks, narrow private
buffers). The paper's internals could not be read; everything below marked *(ours)* is our choice,
with its reason. Pure Python/NumPy; the config is any object with :class:`BaristaConfig`'s fields
(``hw/barista/config.py``), nothing is imported from ``hw/``.

What is modelled
----------------
* **Work.** A layer ``w[K,C,R,S]`` on ``a[C,H,W]`` is ``K x P`` tasks (a filter at an output
  position, ``P = Ho*Wo``), each a dot product over ``R*S*ceil(C/chunk)`` SparseMap chunk pairs.
  A task runs on one SparTen compute unit, unchanged: a chunk pair costs ``max(1, ceil(m / M))``
  cycles (``m`` matches, :func:`golden.innerjoin.join_costs`), so a task costs the sum. The match
  counts are **exact**, from the real masks (:func:`golden.sparten_model.chunk_counts`, one 0/1
  matrix product per tap and chunk); nothing is statistical.
* **Clusters** *(ours)*: filters are dealt to clusters by longest-processing-time on their non-zero
  counts (known offline), so clusters get equal weight work; clusters share nothing else.
* **Units per filter** *(ours)*: a cluster with ``Kc <= U`` filters runs them all in one round and
  gives filter ``k`` a group of ``g_k`` units in proportion to its non-zeros (largest remainder,
  at least one unit), so all groups sweep the positions at about the same rate (which is also what
  makes their input requests meet, see combining). With ``Kc > U`` it runs rounds of ``U`` filters
  (heaviest first), one unit each.
* **Dynamic round-robin within a filter** (paper): the positions of a tile are handed, in order, to
  whichever unit of the filter's group frees first (ties to the lowest unit), i.e. greedy list
  scheduling; ``dynamic=False`` deals them statically (position ``i`` to unit ``i mod g``).
* **Tiles and coloured output buffers** (paper; sizes ours): the positions are cut into tiles,
  bands of output rows (or runs within a row) whose input footprint fits ``1/(colours+1)`` of the
  shared input buffer and whose outputs fit one colour of the output buffer. A step is one tile of
  one round and writes into its own colour; a unit may start a task of step ``s`` once step
  ``s - colours`` has completed in the whole cluster (its colour is drained) and step ``s - 1``
  has opened (steps open in order, so tasks start in order). With one colour that is a barrier
  between consecutive tiles; with more, fast units flow on into the next tile. Input
  tiles are assumed prefetched into the spare ``+1`` tile of the input buffer (DRAM time is not
  modelled; DRAM bytes are counted).
* **Request/response fetch, combining, snarfing, banks** *(ours in the details)*: every task
  requests its input chunks (one per non-padding tap and channel chunk) and its filter chunks from
  the cluster's shared banks; chunk ``i`` of the input region and of the filter region lives in
  bank ``i mod banks``. A read of a chunk with ``n`` non-zeros occupies its bank
  ``ceil((chunk/8 + n*value_bytes) / bank_bytes_per_cycle)`` cycles. The request tree keeps a
  response visible for ``combine_window`` cycles after the last request it served: requests for
  that chunk within that time are answered without a new bank read (telescoping combining for
  input chunks across filters and neighbouring positions; snarfing for filter chunks across the
  units of a filter's group). So the bank reads of a chunk in a step are ``1 + (gaps between its
  sorted request times larger than the window)``. *(ours)*: a task's requests are all timed at its
  start (units prefetch a task's chunks into the private buffer), so the model judges combining on
  task start times.
* **Bandwidth stalls** *(ours)*: each bank is a queue; a step's reads enter it at the step's first
  task start, in addition to the reads of earlier steps still queued. A step completes at the later
  of its last task's end and its last bank read; when the banks are later, the units that worked in
  the step are delayed by the difference. Bank conflicts inside a step are not modelled cycle by
  cycle (that is the RTL's business); the bound is the busiest bank's total.

* **Task pieces** *(ours)*: when a filter's group would get fewer than ``min_tasks_per_unit``
  tasks per unit (few positions, many units: VGG-16's conv5 at 32K MACs), every task is cut into
  that many pieces of consecutive chunk pairs, dealt like tasks; the output buffer adds the partial
  sums.

The cycle-exact traces of the RTL blocks are :mod:`golden.barista_trace`; the deal of the work
(filters to clusters, units to filters, positions to tiles) and the scheduling rule
(:func:`~golden.barista_schedule.group_schedule`, the cycle behaviour of
``hw.barista.dispatch.TaskDispatch``; a test ties them) are :mod:`golden.barista_schedule`.

Baselines from the same match counts (same total MACs ``n_clusters * units_per_cluster * M``):

* ``dense_cycles``: every MAC of the layer (padding taps included) on a perfectly used dense array;
* ``onesided_cycles``: zero weights skipped, activations dense, perfectly balanced;
* ``naive_sparten_cycles``: SparTen scaled naively: ``macs / (32 M)`` broadcast clusters of 32 units
  (SparTen's paper size) with GB-H filter order (:func:`golden.balance.assign`) and the per-chunk
  barrier of :mod:`golden.sparten_model`; the ``(round, position)`` work items are split statically
  in contiguous blocks across clusters, and the slowest cluster sets the time. Its bandwidth is not
  modelled (optimistic for the baseline).
"""

import types

import numpy as np

from .balance import assign
from .conv import check_conv_operands, conv_output_shape
from .barista_schedule import cluster_filters, tile_open, tile_positions, units_per_filter
from .innerjoin import join_costs
from .sparten_model import chunk_counts

__all__ = ["NAIVE_UNITS", "layer_cycles", "read_counts"]

#: Units of one cluster of the naively scaled SparTen baseline: SparTen's paper size (MICRO'19).
NAIVE_UNITS = 32


def read_counts(keys, times, window, combine=True):
    """Bank reads per key for requests ``(keys[i], times[i])``.

    With ``combine``: a response stays visible ``window`` cycles after the last request it served,
    so per key the reads are 1 plus the gaps between consecutive sorted request times that exceed
    ``window``. Without: one read per request. Returns ``(unique_keys, reads)``.
    """
    keys = np.asarray(keys, dtype=np.int64).ravel()
    times = np.asarray(times, dtype=np.int64).ravel()
    if keys.size == 0:
        return keys, keys
    if not combine:
        u, c = np.unique(keys, return_counts=True)
        return u, c.astype(np.int64)
    order = np.lexsort((times, keys))
    k, t = keys[order], times[order]
    new = np.ones(len(k), dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (t[1:] - t[:-1] > window)
    u, inv = np.unique(k, return_inverse=True)
    return u, np.bincount(inv, weights=new, minlength=len(u)).astype(np.int64)


def _layer_stats(w, a, chunk, mpc, stride, padding, naive_table, pieces, progress):
    """Task-piece costs ``[P, K, pieces]``, matched MACs per filter and the naive SparTen per-item
    barrier costs ``[P, rounds]``, in one pass over the match counts. Chunk pair ``i`` (taps
    row-major, channel chunks innermost, the order of :func:`golden.sparten_model.chunk_counts`)
    belongs to piece ``i * pieces // n_ch``."""
    K, C, R, S = w.shape
    ho, wo = conv_output_shape(a.shape[1], a.shape[2], R, S, stride, padding)
    P = ho * wo
    n_naive = NAIVE_UNITS
    valid = naive_table >= 0
    idx = np.where(valid, naive_table, 0)
    rounds = len(naive_table) // n_naive
    cost = np.zeros((P, K, pieces), dtype=np.int64)
    matched = np.zeros(K, dtype=np.int64)
    naive = np.zeros((P, rounds), dtype=np.int64)
    nc = -(-C // chunk)
    total = R * S * nc
    for i, (r, s, j, counts) in enumerate(chunk_counts(w, a, chunk, stride, padding)):
        cost[:, :, i * pieces // total] += join_costs(counts, mpc)
        matched += counts.sum(axis=0)
        slots = np.where(valid, counts[:, idx], 0).reshape(P, rounds, n_naive)
        naive += join_costs(slots, mpc).max(axis=2)
        if progress and (i + 1) % max(1, total // 4) == 0:
            progress(f"match counts {i + 1}/{total}")
    return cost, matched, naive


def _split_static(item_costs, n_parts):
    """Max over ``n_parts`` contiguous, equally sized blocks of the sum of ``item_costs``."""
    n = len(item_costs)
    if n == 0:
        return 0
    bounds = (np.arange(n_parts + 1) * n) // n_parts
    csum = np.concatenate([[0], np.cumsum(item_costs)])
    return int((csum[bounds[1:]] - csum[bounds[:-1]]).max())


def layer_cycles(w, a, config, stride=1, padding=0, progress=None, open_latency=0,
                 release_latency=0):
    """Model a layer ``w[K,C,R,S]`` on ``a[C,H,W]`` on a BARISTA ``config`` (see module docstring).

    ``open_latency`` and ``release_latency`` are the dispatcher's tile stages (the rule of
    :func:`~golden.barista_schedule.tile_open`; ``hw.barista.dispatch.TaskDispatch.latencies()``
    for the RTL's, 0 and 0 for a dispatcher that opens and grants in the cycle a colour frees).

    Returns
    -------
    dict
        ``cycles`` (slowest cluster), ``dense_cycles``, ``onesided_cycles``,
        ``naive_sparten_cycles``, ``matched_macs``, ``dense_macs``, ``utilization`` (matched MACs /
        (cycles * MACs)), ``ideal_cycles`` (matched MACs / MACs), ``unit_busy`` (sum of task
        costs), ``tiles`` (per cluster), ``steps``, ``bank_reads`` ({"input", "filter"}),
        ``bank_requests`` (reads without combining/snarfing), ``bank_busy_cycles``,
        ``bank_utilization`` (busy bank cycles / (banks * clusters * cycles)),
        ``bank_bound_steps`` (steps whose completion the banks set), ``colours_in_flight`` (time
        average of steps in flight per cluster), ``output_occupancy`` (its fraction of
        ``colours``), ``input_buffer_peak`` (largest tile footprint x tiles held / capacity),
        ``dram_bytes`` ({"weights", "activations", "outputs"}) and ``clusters`` (per-cluster
        cycles).
    """
    w, a = check_conv_operands(w, a)
    cfg = config
    lay = _layer_nnz(w, a, cfg.chunk, stride, padding)
    clusters = cluster_filters(lay.nnz_k, cfg.n_clusters)
    plans = _cluster_plans(clusters, lay.nnz_k, cfg.units_per_cluster)
    # Work pieces *(ours)*: when a filter's group has fewer than min_tasks_per_unit tasks per unit
    # (few positions, many units: VGG-16's conv5 at 32K MACs), each task is cut into pieces of
    # consecutive chunk pairs, dealt like tasks; the output entry of the colour adds the pieces'
    # partial sums (an adder at the output buffer, no MAC cycle). Same pieces for the whole layer.
    g_top = max((int(g.max()) for pl in plans for _, g in pl), default=1)
    pieces = 1
    if cfg.min_tasks_per_unit:
        pieces = int(min(lay.n_ch, max(1, -(-cfg.min_tasks_per_unit * g_top // lay.P))))
    naive_table = assign(w, NAIVE_UNITS, "gbh", chunk=cfg.chunk)
    cost, matched_k, naive_items = _layer_stats(w, a, cfg.chunk, cfg.matches_per_cycle, stride,
                                                padding, naive_table, pieces, progress)
    run = _LayerRun(cfg, lay, cost, pieces, open_latency, release_latency)
    for rounds in plans:
        run.cluster(rounds)
    return _summary(run, lay, cfg, clusters, cost, matched_k, naive_items)


def _layer_nnz(w, a, chunk, stride, padding):
    """The layer's shapes, its chunks' non-zeros (activations per padded pixel and chunk, filters
    per filter, tap and chunk) and the padded pixel each tap of each output position reads."""
    K, C, R, S = w.shape
    _, H, W = a.shape
    ho, wo = conv_output_shape(H, W, R, S, stride, padding)
    P = ho * wo
    nc = -(-C // chunk)
    n_ch = R * S * nc
    Hp, Wp = H + 2 * padding, W + 2 * padding
    apad = np.zeros((nc * chunk, Hp, Wp), dtype=bool)
    apad[:C, padding:padding + H, padding:padding + W] = a != 0
    a_nnz = apad.reshape(nc, chunk, Hp * Wp).sum(axis=1).T              # [pixels, nc]
    inside = np.zeros((Hp, Wp), dtype=bool)
    inside[padding:padding + H, padding:padding + W] = True
    inside = inside.ravel()
    wb = np.zeros((K, nc * chunk, R, S), dtype=bool)
    wb[:, :C] = w != 0
    f_nnz = wb.reshape(K, nc, chunk, R, S).sum(axis=2).transpose(0, 2, 3, 1).reshape(K, n_ch)
    # Pixel (padded coordinates) read by each tap of each output position: [P, R*S].
    yo, xo = np.divmod(np.arange(P), wo)
    rr, ss = np.divmod(np.arange(R * S), S)
    pix = (yo[:, None] * stride + rr[None, :]) * Wp + (xo[:, None] * stride + ss[None, :])
    return types.SimpleNamespace(K=K, C=C, R=R, S=S, H=H, W=W, stride=stride, ho=ho, wo=wo,
                                 P=P, nc=nc, n_ch=n_ch, Hp=Hp, Wp=Wp, a_nnz=a_nnz, f_nnz=f_nnz,
                                 nnz_k=f_nnz.sum(axis=1), pix=pix, pix_in=inside[pix])


def _cluster_plans(clusters, nnz_k, U):
    """Each cluster's rounds: ``(filters, units per filter)``, all its filters at once when they
    fit its ``U`` units, else ``U`` filters of one unit each at a time."""
    plans = []
    for filt in clusters:
        if len(filt) == 0:
            plans.append([])
        elif len(filt) <= U:
            plans.append([(filt, units_per_filter(nnz_k[filt], U))])
        else:
            plans.append([(filt[i:i + U], np.ones(len(filt[i:i + U]), dtype=np.int64))
                          for i in range(0, len(filt), U)])
    return plans


class _LayerRun:
    """:func:`layer_cycles`' clusters, one after the other, and the totals of their steps."""

    def __init__(self, cfg, lay, cost, pieces, open_latency, release_latency):
        self.cfg, self.lay, self.cost, self.pieces = cfg, lay, cost, pieces
        self.open_latency, self.release_latency = open_latency, release_latency
        self.piece_of = np.arange(lay.n_ch) * pieces // lay.n_ch
        self.piece_chunks = [np.flatnonzero(self.piece_of == q) for q in range(pieces)]
        self.rd_in = cfg.chunk_read_cycles(lay.a_nnz).ravel()              # [pixels * nc]
        self.rd_f = cfg.chunk_read_cycles(lay.f_nnz)                       # [K, n_ch]
        self.filt_base = lay.Hp * lay.Wp * lay.nc
        self.rows_fit = cfg.input_buffer_chunks // (cfg.colours + 1)
        self.out = {"input": 0, "filter": 0}
        self.req = {"input": 0, "filter": 0}
        self.bank_busy, self.cl_cycles, self.in_flight, self.steps_all = 0, [], 0, 0
        self.bound_steps, self.peak_in, self.n_tiles = 0, 0.0, []
        self.dram = {"weights": 0, "activations": 0, "outputs": 0}

    def cluster(self, rounds):
        """One cluster's ``rounds`` (:func:`_cluster_plans`), tile by tile."""
        cfg, lay = self.cfg, self.lay
        if not rounds:
            self.cl_cycles.append(0)
            self.n_tiles.append(0)
            return
        out_fit = cfg.output_buffer_entries // max(len(f) for f, _ in rounds)
        try:
            tiles = tile_positions(lay.ho, lay.wo, lay.R, lay.stride, lay.W, lay.nc,
                                   self.rows_fit, out_fit)
        except ValueError as e:
            raise ValueError(f"layer K={lay.K} C={lay.C} {lay.H}x{lay.W} R={lay.R} on this "
                             f"config: {e} (input_buffer_chunks={cfg.input_buffer_chunks}, "
                             f"colours={cfg.colours}, output_buffer_entries="
                             f"{cfg.output_buffer_entries})") from None
        self.n_tiles.append(len(tiles))
        free = np.zeros(cfg.units_per_cluster, dtype=np.int64)
        bank_free = np.zeros(cfg.banks, dtype=np.int64)
        opened = 0
        done = []
        starts_of = []
        big = np.iinfo(np.int64).max // 4
        for filt_r, g in rounds:
            G = len(filt_r)
            gmax = int(g.max())
            first = np.concatenate([[0], np.cumsum(g)[:-1]])
            unit_of = first[:, None] + np.arange(gmax)[None, :]            # [G, gmax]
            real = np.arange(gmax)[None, :] < g[:, None]
            unit_of = np.where(real, unit_of, 0)
            self.dram["weights"] += int((lay.f_nnz[filt_r] * cfg.value_bytes).sum()
                                        + G * lay.n_ch * cfg.mask_bytes)
            fb = (self.filt_base + filt_r[:, None] * lay.n_ch
                  + np.arange(lay.n_ch)[None, :]) % cfg.banks
            for tile in tiles:
                # Tiles open in order (a tile opens once the one before it has, and its colour
                # is free: step s - colours completed), the dispatcher's rule (tile_open).
                opened = tile_open(opened, len(done), done, cfg.colours, self.open_latency)
                fg = np.where(real, free[unit_of], big)
                st, ct, worked = self._deal(tile, filt_r, g, fg, opened + self.release_latency)
                end = int((st + ct).max())
                s0 = int(st.min())
                bcyc = self._bank_cycles(tile, filt_r, st, fb)
                self.bank_busy += int(bcyc.sum())
                used = bcyc > 0
                bank_free[used] = np.maximum(bank_free[used], s0) + bcyc[used]
                stretch = max(0, int(bank_free.max()) - end)
                if stretch:
                    self.bound_steps += 1
                    fg = np.where(worked, fg + stretch, fg)
                done.append(end + stretch)
                starts_of.append(s0)
                free[unit_of[real]] = fg[real]
                self._footprint(tile, G, len(tiles) * len(rounds))
        span = max(done)
        self.cl_cycles.append(span)
        self.in_flight += sum(e - b for e, b in zip(done, starts_of)) / max(span, 1)
        self.steps_all += len(done)

    def _deal(self, tile, filt_r, g, fg, release):
        """A tile's task pieces dealt over the group's units (``fg``: each unit's free cycle,
        updated): their start cycles ``[T, pieces, G]``, costs and the units that worked."""
        G, T, pieces = len(filt_r), len(tile), self.pieces
        rows_g = np.arange(G)
        worked = np.zeros(fg.shape, dtype=bool)
        st = np.empty((T, pieces, G), dtype=np.int64)
        ct = self.cost[tile][:, filt_r, :].transpose(0, 2, 1)             # [T, pieces, G]
        n = 0
        for i in range(T):
            for q in range(pieces):
                u = fg.argmin(axis=1) if self.cfg.dynamic else n % g
                t0 = np.maximum(fg[rows_g, u], release)
                st[i, q] = t0
                fg[rows_g, u] = t0 + ct[i, q]
                worked[rows_g, u] = True
                n += 1
        return st, ct, worked

    def _bank_cycles(self, tile, filt_r, st, fb):
        """A tile's bank reads (combining the input requests, snarfing the filter requests),
        counted, and each bank's busy cycles for them."""
        cfg, lay, banks, W_comb = self.cfg, self.lay, self.cfg.banks, self.cfg.combine_window
        G, T, nc = len(filt_r), len(tile), lay.nc
        # Input requests: (chunk, start) for every non-padding chunk of every task piece.
        pt = lay.pix[tile]                                                   # [T, RS]
        keys, times = [], []
        for q, chs in enumerate(self.piece_chunks):
            tap, jj = chs // nc, chs % nc
            kq = pt[:, tap] * nc + jj[None, :]                               # [T, nq]
            keep = lay.pix_in[tile][:, tap]
            keys.append(np.broadcast_to(kq[:, :, None], kq.shape + (G,))[keep])
            times.append(np.broadcast_to(st[:, q, None, :], kq.shape + (G,))[keep])
        keys = np.concatenate(keys)
        times = np.concatenate(times)
        uch, rp = read_counts(keys, times, W_comb, cfg.combine)
        self.req["input"] += int(keys.size)
        self.out["input"] += int(rp.sum())
        bcyc = np.bincount(uch % banks, weights=rp * self.rd_in[uch], minlength=banks)
        # Filter requests: every task piece asks for its chunks of the group's filter;
        # snarfing serves the group's requests within the window with one read.
        if cfg.snarf:
            srt = np.sort(st, axis=0)                                        # [T, pieces, G]
            rf = 1 + (np.diff(srt, axis=0) > W_comb).sum(axis=0)             # [pieces, G]
        else:
            rf = np.full((self.pieces, G), T, dtype=np.int64)
        rf_ch = rf[self.piece_of].T                                          # [G, n_ch]
        self.req["filter"] += T * G * lay.n_ch
        self.out["filter"] += int(rf_ch.sum())
        bcyc += np.bincount(fb.ravel(), weights=(rf_ch * self.rd_f[filt_r]).ravel(),
                            minlength=banks)
        return bcyc.astype(np.int64)

    def _footprint(self, tile, G, held):
        """A tile's footprint in the input buffer (``held`` tiles at most at once) and the DRAM
        bytes of its inputs and outputs."""
        cfg, lay = self.cfg, self.lay
        upix_in = np.unique(lay.pix[tile][lay.pix_in[tile]])
        foot = len(upix_in) * lay.nc
        self.peak_in = max(self.peak_in, foot * min(cfg.colours + 1, held)
                           / cfg.input_buffer_chunks)
        a_rows = lay.a_nnz[upix_in]
        self.dram["activations"] += int((a_rows * cfg.value_bytes).sum() + foot * cfg.mask_bytes)
        self.dram["outputs"] += len(tile) * G * cfg.value_bytes


def _summary(run, lay, cfg, clusters, cost, matched_k, naive_items):
    """:func:`layer_cycles`' result from its run's totals."""
    cycles = int(max(run.cl_cycles))
    n_used = sum(1 for f in clusters if len(f))
    mpc = cfg.matches_per_cycle
    macs = cfg.n_units * mpc
    matched = int(matched_k.sum())
    dense_macs = lay.K * lay.C * lay.R * lay.S * lay.P
    onesided_macs = lay.P * int(lay.nnz_k.sum())
    n_naive = max(1, macs // (NAIVE_UNITS * mpc))
    naive_cycles = _split_static(naive_items.T.ravel(), n_naive)
    colours_avg = run.in_flight / max(n_used, 1)
    return {
        "cycles": cycles,
        "dense_cycles": -(-dense_macs // macs),
        "onesided_cycles": -(-onesided_macs // macs),
        "naive_sparten_cycles": naive_cycles,
        "naive_sparten_clusters": n_naive,
        "matched_macs": matched,
        "dense_macs": dense_macs,
        "ideal_cycles": -(-matched // macs),
        "utilization": matched / (cycles * macs) if cycles else 0.0,
        "unit_busy": int(cost.sum()),
        "tiles": run.n_tiles,
        "pieces": run.pieces,
        "steps": run.steps_all,
        "bank_requests": run.req,
        "bank_reads": run.out,
        "bank_busy_cycles": run.bank_busy,
        "bank_utilization": (run.bank_busy / (cfg.banks * max(n_used, 1) * cycles)
                             if cycles else 0.0),
        "bank_bound_steps": run.bound_steps,
        "colours_in_flight": colours_avg,
        "output_occupancy": colours_avg / cfg.colours,
        "input_buffer_peak": run.peak_in,
        "dram_bytes": run.dram,
        "clusters": [int(c) for c in run.cl_cycles],
    }
