"""Cycle-exact traces of BARISTA's RTL blocks (pure Python, nothing imported from ``hw/``).

RTL: ``hw.barista.dispatch.TaskDispatch`` gives :func:`golden.barista_layer.group_schedule`'s
schedule cycle for cycle, and so does ``hw.barista.group.BaristaGroup`` (the dispatcher with
SparTen's compute units, on 1x1 layers, task costs from the real chunk matches); that schedule is
the scheduling rule of :func:`golden.barista_layer.layer_cycles` (a test ties them).
``hw.barista.fetch.ChunkFetch`` (a bank with its request/response ports) follows
:func:`fetch_trace`, ``hw.barista.outbuf.ColourBuffer`` :func:`drain_trace`. The whole cluster,
``hw.barista.cluster.BaristaCluster`` (shared banks, combining and snarfing, the dispatcher,
SparTen's units, the coloured buffer; KxK layers with stride and padding), follows
:func:`cluster_trace` cycle for cycle under output backpressure (every grant, every drained result,
cycles, bank reads), and ``hw.barista.engine.BaristaEngine`` (several clusters, the filters dealt by
:func:`~golden.barista_layer.cluster_filters`) :func:`engine_trace`. Where the RTL is exact and the
layer model abstracts: the banks (the model's ``combine_window`` rule combines requests that meet
within the window, the RTL's single-level network only those pending at once: on the benchmark's
reduced 3x3 layers both read 68-93% of the requests, on its 1x1 layer the RTL 68%, the model 27%),
the fetch latency (3 cycles, hidden by the private queue except on short tasks) and the drain of a
colour (the RTL frees it after the drain, the model when its last task ends); and the RTL runs one
cluster's filters filter-major over all its units, where the model gives each filter its own group.
On one-filter layers (the same schedule) the model is a lower bound of the trace (a test checks it);
with several filters it may be above it (a filter's group of one unit is slower than the RTL's
sharing), see the benchmark's RTL rows.

The layer model these traces are compared with is :mod:`golden.barista_layer`.
"""

import numpy as np

from .barista_layer import cluster_filters
from .conv import conv_output_shape
from .sparsemap import check_int_array

__all__ = ["fetch_trace", "drain_trace", "cluster_layout", "cluster_trace", "engine_filters",
           "engine_trace"]


def fetch_trace(mem, requests, offer, ready):
    """Cycle-exact behaviour of ``hw.barista.fetch.ChunkFetch`` (one bank, combining, snarfing).

    Parameters
    ----------
    mem : sequence of int
        The bank's words.
    requests : list of lists of int
        Per port, the addresses it requests, in order.
    offer : bool array ``[ports, cycles]``
        Whether port ``i`` starts offering its next request in cycle ``t`` (an offered request is
        held, valid, until taken: the stream rules).
    ready : bool array ``[ports, cycles]``
        Whether port ``i`` takes a response in cycle ``t``.

    Returns
    -------
    dict
        ``req_cycles`` / ``resp_cycles`` (per port, the cycles of the transfers), ``data`` (per
        port, the words received), ``reads`` (bank reads issued), ``cycles`` (cycle after the last
        response). Raises RuntimeError when the patterns end before every response is taken.
    """
    n = len(requests)
    offer = np.asarray(offer, dtype=bool)
    ready = np.asarray(ready, dtype=bool)
    bank = _Bank(n, [int(x) for x in mem])
    hold = [False] * n
    nxt = [0] * n
    req_c = [[] for _ in range(n)]
    resp_c = [[] for _ in range(n)]
    got = [[] for _ in range(n)]
    total = sum(len(r) for r in requests)
    done = 0
    for t in range(offer.shape[1]):
        req = {}
        for i in range(n):
            valid = nxt[i] < len(requests[i]) and (hold[i] or bool(offer[i, t]))
            if valid and not bank.pend[i]:
                req[i] = requests[i][nxt[i]]
                req_c[i].append(t)
                nxt[i] += 1
            hold[i] = valid and i not in req
        taken = [i for i in range(n) if bank.have[i] and ready[i, t]]
        for i in taken:
            resp_c[i].append(t)
            got[i].append(bank.pdata[i])
        done += len(taken)
        bank.step(req, taken)
        if done == total:
            return {"req_cycles": req_c, "resp_cycles": resp_c, "data": got,
                    "reads": bank.reads, "cycles": t + 1}
    raise RuntimeError(f"patterns of {offer.shape[1]} cycles end with {total - done} responses "
                       f"not taken")


def _drain_step(st, rp, mem, depth, rdy):
    """One cycle of ``ColourBuffer``'s drain (the rule of :func:`drain_trace` and
    :func:`cluster_trace`): the next state, the next read-port words, the transfer on ``o``
    (``(colour, addr, value)`` or None) and whether the colour is done."""
    s = dict(st)
    advance = (not st["ovalid"]) or rdy
    sent = (st["colour"], st["oaddr"], st["odata"]) if st["ovalid"] and rdy else None
    done = st["active"] and ((st["ovalid"] and rdy and st["last"]) or st["count"] == 0)
    new_rp = list(rp)
    if advance:
        new_rp[st["colour"]] = mem[st["colour"]][st["raddr"] % depth]
    if st["active"] and advance:
        s.update(ovalid=st["pending"], oaddr=st["paddr"], odata=rp[st["colour"]],
                 last=st["pending"] and st["paddr"] == st["count"] - 1)
        if st["raddr"] < st["count"]:
            s.update(pending=True, paddr=st["raddr"], raddr=st["raddr"] + 1)
        else:
            s.update(pending=False)
    if done:
        s.update(active=False, ovalid=False, pending=False)
    return s, new_rp, sent, done


def drain_trace(colours, depth, writes, closes, ready):
    """Cycle-exact behaviour of ``hw.barista.outbuf.ColourBuffer``.

    Parameters
    ----------
    colours, depth : int
        Banks and entries per bank.
    writes : dict
        ``{cycle: (colour, addr, value)}``: the write stream's transfers (it is always ready).
    closes : list of (cycle, colour, count)
        Close requests, each offered from its cycle on and held until taken (in order).
    ready : bool sequence
        ``o.ready`` per cycle.

    Returns
    -------
    dict
        ``out``: ``[(cycle, colour, addr, value)]`` transfers of ``o``; ``freed``:
        ``[(cycle, colour)]``; ``closed``: cycles the closes were taken.
    """
    mem = [[0] * depth for _ in range(colours)]
    rp = [0] * colours
    st = dict(active=False, colour=0, count=0, raddr=0, pending=False, paddr=0, ovalid=False,
              oaddr=0, odata=0, last=False)
    out, freed, closed = [], [], []
    queue = list(closes)
    for t, rdy in enumerate(ready):
        s, new_rp, sent, done = _drain_step(st, rp, mem, depth, rdy)
        if sent:
            out.append((t,) + sent)
        if done:
            freed.append((t, st["colour"]))
        close = queue[0] if queue and queue[0][0] <= t else None
        if close is not None and not st["active"]:
            queue.pop(0)
            closed.append(t)
            s.update(active=True, colour=close[1], count=close[2], raddr=0, pending=False,
                     ovalid=False, last=False)
        if t in writes:
            c, a, v = writes[t]
            mem[c][a] = v
        st, rp = s, new_rp
    return {"out": out, "freed": freed, "closed": closed}


def cluster_layout(w_shape, a_shape, config, stride=1, padding=0, tile_size=None):
    """Where a layer lives in ``hw.barista.cluster.BaristaCluster`` and what it asks of it.

    Pixel ``(y, x)``'s channel chunk ``j`` is at ``(y*W + x)*nc + j``, filter ``k``'s tap ``(r, s)``
    chunk ``j`` at ``fbase + ((k*R + r)*R + s)*nc + j`` with ``fbase = H*W*nc``. Returns a dict
    (``K, C, R, H, W, nc, out_h, out_w, n_tasks, tile_size, fbase, chunks``); raises ValueError
    naming the parameter when the cluster cannot run the layer. ``tile_size`` defaults to one
    output row (at least ``units_per_cluster`` tasks, at most one colour).
    """
    K, C, R, S = w_shape
    C2, H, W = a_shape
    if C2 != C:
        raise ValueError(f"channel mismatch: weights have C={C}, activations have C={C2}")
    if R != S:
        raise ValueError(f"the cluster runs square kernels, not {R}x{S}")
    if not 1 <= R <= 15 or not 1 <= stride <= 15:
        raise ValueError(f"kernel {R} and stride {stride} must be in 1..15")
    if not 0 <= padding < R:
        raise ValueError(f"padding must be in 0..{R - 1} (kernel - 1), not {padding!r}")
    if not (1 <= H <= 255 and 1 <= W <= 255):
        raise ValueError(f"map {H}x{W}: height and width must be in 1..255")
    ho, wo = conv_output_shape(H, W, R, S, stride, padding)
    nc = -(-C // config.chunk)
    fbase = H * W * nc
    chunks = fbase + K * R * R * nc
    if chunks > config.input_buffer_chunks:
        raise ValueError(f"layer needs {chunks} chunks (map {fbase}, filters {chunks - fbase}); "
                         f"input_buffer_chunks={config.input_buffer_chunks}")
    n_tasks = K * ho * wo
    if n_tasks >= 1 << 16:
        raise ValueError(f"{n_tasks} tasks (filters x positions): at most 65535")
    U, E = config.units_per_cluster, config.output_buffer_entries
    if tile_size is None:
        tile_size = min(E, max(U, wo))
    if not max(1, U) <= tile_size <= E:
        raise ValueError(f"tile_size must be in {U}..{E} (units_per_cluster.."
                         f"output_buffer_entries), not {tile_size!r}")
    return {"K": K, "C": C, "R": R, "H": H, "W": W, "nc": nc, "out_h": ho, "out_w": wo,
            "n_tasks": n_tasks, "tile_size": int(tile_size), "fbase": fbase, "chunks": chunks}


class _Bank:
    """One ``ChunkFetch`` bank, cycle by cycle: the one stepping rule of :func:`fetch_trace`
    and :func:`cluster_trace`."""

    def __init__(self, n_ports, mem):
        self.n, self.mem = n_ports, mem
        self.pend = [False] * n_ports
        self.have = [False] * n_ports
        self.paddr = [0] * n_ports
        self.pdata = [0] * n_ports
        self.bus_valid, self.bus_addr, self.rr, self.reads = False, 0, 0, 0

    def step(self, req, taken):
        """``req``: {port: addr} offered this cycle; ``taken``: ports whose response is taken."""
        n = self.n
        pend, have = list(self.pend), list(self.have)
        cand = []
        for i in range(n):
            wait = self.pend[i] and not self.have[i]
            hit = self.bus_valid and self.paddr[i] == self.bus_addr
            cand.append(wait and not hit)
            if wait and hit:
                have[i], self.pdata[i] = True, self.mem[self.bus_addr]
        for i, addr in req.items():
            if not self.pend[i]:
                pend[i], self.paddr[i] = True, addr
        for i in taken:
            pend[i] = have[i] = False
        order = [i for i in range(self.rr, n) if cand[i]] + [i for i in range(self.rr) if cand[i]]
        if order:
            sel = order[0]
            self.bus_valid, self.bus_addr = True, self.paddr[sel]
            self.reads += 1
            self.rr = 0 if sel == n - 1 else sel + 1
        else:
            self.bus_valid = False
        self.pend, self.have = pend, have


def _bank_words(w, a, lay, cfg):
    """The mask of every chunk the cluster stores (values do not change the timing), per bank:
    chunk ``i`` of :func:`cluster_layout`'s address space is word ``i // banks`` of bank
    ``i mod banks``."""
    K, C, R, H, W, nc, fbase = (lay[k] for k in ("K", "C", "R", "H", "W", "nc", "fbase"))
    ch, B = cfg.chunk, cfg.banks

    def masks(v):                               # v[..., C] -> [..., nc] masks
        b = np.zeros(v.shape[:-1] + (nc * ch,), dtype=bool)
        b[..., :C] = v != 0
        b = b.reshape(v.shape[:-1] + (nc, ch))
        return (b.astype(object) * (np.array([1 << i for i in range(ch)], dtype=object))).sum(-1)
    mem = [0] * cfg.input_buffer_chunks
    am = masks(a.transpose(1, 2, 0))            # [H, W, nc]
    for y in range(H):
        for x in range(W):
            for j in range(nc):
                mem[(y * W + x) * nc + j] = int(am[y, x, j])
    wm = masks(w.transpose(0, 2, 3, 1))         # [K, R, R, nc]
    for k in range(K):
        for r in range(R):
            for s in range(R):
                for j in range(nc):
                    mem[fbase + ((k * R + r) * R + s) * nc + j] = int(wm[k, r, s, j])
    return [[mem[wd * B + b] for wd in range(cfg.input_buffer_chunks // B)] for b in range(B)]


def cluster_trace(w, a, config, stride=1, padding=0, tile_size=None, ready=None,
                  result_latency=2, grants_per_cycle=None, fin_latency=0, max_cycles=10 ** 6):
    """Cycle-exact behaviour of ``hw.barista.cluster.BaristaCluster`` on one layer.

    Parameters
    ----------
    w, a : int arrays ``[K,C,R,R]``, ``[C,H,W]``
    config : BaristaConfig-like
    ready : bool sequence or None
        ``o.ready`` in each cycle, cycle 0 being the one after ``start`` (None: always ready).
    result_latency : int
        The compute unit's result latency (``hw.sparten.cu.ComputeUnit.result_latency``: cycles
        from a task's last join beat to its result).
    grants_per_cycle : int or None
        The dispatcher's grants per cycle at most (``BaristaCluster.grants_per_cycle``; None:
        every unit).
    fin_latency : int
        Cycles from a unit's last request of a task to its ``fin`` at the dispatcher, 0 or 1
        (``BaristaCluster.fin_latency``; ``BaristaCluster.latencies()`` gives both keywords).

    Returns
    -------
    dict
        ``cycles`` (the RTL's ``cycles`` counter at ``done``), ``out`` (``[(colour, addr, value)]``
        in drain order), ``out_cycles``, ``reads``, ``requests``, ``grants`` (per task:
        ``(cycle, unit)``), ``unit_busy`` (join cycles per unit), ``layout``
        (:func:`cluster_layout`) and ``values`` (per task, in task order).
    """
    from .conv import conv2d_dense
    w = check_int_array(w, bits=None, name="weights")
    a = check_int_array(a, bits=None, name="activations")
    lay = cluster_layout(w.shape, a.shape, config, stride, padding, tile_size)
    K, C, R, H, W, nc = (lay[k] for k in ("K", "C", "R", "H", "W", "nc"))
    ho, wo, ntask, tsize, fbase = (lay[k] for k in ("out_h", "out_w", "n_tasks", "tile_size",
                                                    "fbase"))
    cfg = config
    n, B, D, ncol = cfg.units_per_cluster, cfg.banks, cfg.private_chunks, cfg.colours
    depth_o = cfg.output_buffer_entries
    M, ch = cfg.matches_per_cycle, cfg.chunk
    acc = cfg.acc_width
    P = ho * wo

    banks = [_Bank(2 * n, words) for words in _bank_words(w, a, lay, cfg)]
    out_ref = conv2d_dense(a, w, stride, padding, acc_bits=64).reshape(K * P)
    half = 1 << (acc - 1)
    values = [int((v + half) % (1 << acc) - half) for v in out_ref]

    # Dispatcher state (hw/barista/dispatch.py, colour_free).
    dsp = dict(nxt=0, cur_off=0, cur_slot=0, opened=0, rest=ntask, size=min(ntask, tsize),
               open_slot=0, room=0, pend=0, now=0)
    ubusy, ts = [False] * n, [0] * n
    if fin_latency not in (0, 1):
        raise ValueError(f"fin_latency must be 0 or 1, not {fin_latency!r}")
    fin_reg = [False] * n               # the fetchers' fin of the cycle before
    free = [True] * ncol

    def inc(s):
        return 0 if s == ncol - 1 else s + 1

    # Units.
    U = [dict(active=False, first=False, a_addr=0, w_addr=0, a_row=0, w_row=0, r=0, r_hi=0,
              s=0, s_lo=0, s_hi=0, j=0, slot=0, off=0, q=[], left=0, res_at=None, res=None,
              inflight=False, rv=False, rslot=0, roff=0, rval=0) for _ in range(n)]
    busy = [0] * n
    # Output side.
    wcnt = [0] * ncol
    cslot, ctile, cl_start = 0, 0, 0
    obm = [[0] * depth_o for _ in range(ncol)]
    orp = [0] * ncol
    ob = dict(active=False, colour=0, count=0, raddr=0, pending=False, paddr=0, ovalid=False,
              oaddr=0, odata=0, last=False)
    out, out_cycles, grants = [], [], [None] * ntask
    requests = 0
    row_a, row_w, fstride = W * nc, R * nc, R * R * nc

    for t in range(max_cycles):
        rdy = True if ready is None else bool(ready[t]) if t < len(ready) else None
        if rdy is None:
            raise RuntimeError(f"the ready pattern ({len(ready)} cycles) ended before done")
        # -- combinational -------------------------------------------------------------------
        req = [dict() for _ in range(B)]
        taken = [[] for _ in range(B)]
        fin = [False] * n
        issue_any = 0
        xfer_info = [None] * n
        for i, u in enumerate(U):
            ba, bw = u["a_addr"] % B, u["w_addr"] % B
            last = u["j"] == nc - 1 and u["s"] == u["s_hi"] and u["r"] == u["r_hi"]
            issue = (u["active"] and len(u["q"]) < D and not banks[ba].pend[2 * i]
                     and not banks[bw].pend[2 * i + 1])
            u["issue"] = issue
            if issue:
                req[ba][2 * i] = u["a_addr"] // B
                req[bw][2 * i + 1] = u["w_addr"] // B
                u["new"] = dict(ba=ba, bw=bw, first=u["first"], last=last, slot=u["slot"],
                                off=u["off"], task=u["task"], a=u["a_addr"], w=u["w_addr"])
                fin[i] = last
                issue_any += 1
            if u["q"]:
                h = u["q"][0]
                offer = (banks[h["ba"]].have[2 * i] and banks[h["bw"]].have[2 * i + 1]
                         and (not h["last"] or not (u["inflight"] or u["rv"])))
                if offer and u["left"] <= 1:
                    taken[h["ba"]].append(2 * i)
                    taken[h["bw"]].append(2 * i + 1)
                    both = banks[h["ba"]].pdata[2 * i] & banks[h["bw"]].pdata[2 * i + 1]
                    m_ = bin(both).count("1")
                    xfer_info[i] = (h, max(1, -(-m_ // M)))
        # Dispatcher.
        # (registered tile state: at most one tile opens, its tasks count two cycles later)
        opening = [False] * ncol
        open_now = dsp["rest"] > 0 and free[dsp["open_slot"]]
        if open_now:
            opening[dsp["open_slot"]] = True
        avail = min(dsp["room"], grants_per_cycle or n)
        fin_now, fin = fin, (fin_reg if fin_latency else fin)
        fin_reg = fin_now
        waiting = [not ubusy[i] or fin[i] for i in range(n)]
        ts_eff = [dsp["now"] if fin[i] else ts[i] for i in range(n)]
        grant = [False] * n
        total = 0
        for i in range(n):
            rank = sum(1 for k in range(n) if k != i and waiting[k]
                       and (ts_eff[k] < ts_eff[i] if k > i else ts_eff[k] <= ts_eff[i]))
            if waiting[i] and rank < avail:
                grant[i] = True
                total += 1
                task = dsp["nxt"] + rank
                off = dsp["cur_off"] + rank
                slot = inc(dsp["cur_slot"]) if off >= tsize else dsp["cur_slot"]
                U[i]["grant"] = (task, slot, off - tsize if off >= tsize else off)
                grants[task] = (t, i)
        # Merge into the output buffer.
        wsel = next((i for i in range(n) if U[i]["rv"]), None)
        # Close and drain.
        all_closed = cl_start >= ntask
        rest = ntask - cl_start
        ccount = min(rest, tsize)
        close_valid = not all_closed and ctile < dsp["opened"] and wcnt[cslot] == ccount
        close_taken = close_valid and not ob["active"]
        done_run = all_closed and not ob["active"]
        # -- sequential ----------------------------------------------------------------------
        for b in range(B):
            banks[b].step(req[b], taken[b])
        requests += 2 * issue_any
        for i, u in enumerate(U):
            if u["left"] > 0:
                busy[i] += 1
            if xfer_info[i] is not None:
                h, cost = xfer_info[i]
                u["q"].pop(0)
                u["left"] = cost
                if h["last"]:
                    u["inflight"] = True
                    u["res_at"] = t + cost + result_latency
                    u["res"] = (h["slot"], h["off"], values[h["task"]])
            elif u["left"] > 0:
                u["left"] -= 1
            if u["res_at"] == t:                # res.valid now: the register fills
                u["rv"], u["inflight"] = True, False
                u["rslot"], u["roff"], u["rval"] = u["res"]
                u["res_at"] = None
            if wsel == i:
                u["rv"] = False
            if u["issue"]:
                u["q"].append(u["new"])
                u["first"] = False
                if u["j"] == nc - 1:
                    u["j"] = 0
                    if u["s"] == u["s_hi"]:
                        u["s"] = u["s_lo"]
                        u["r"] += 1
                        u["a_row"] += row_a
                        u["w_row"] += row_w
                        u["a_addr"], u["w_addr"] = u["a_row"], u["w_row"]
                        if u["new"]["last"]:
                            u["active"] = False
                    else:
                        u["s"] += 1
                        u["a_addr"] += 1
                        u["w_addr"] += 1
                else:
                    u["j"] += 1
                    u["a_addr"] += 1
                    u["w_addr"] += 1
            if grant[i]:
                task, slot, off = u["grant"]
                k, p = divmod(task, P)
                y, x = divmod(p, wo)
                iy0, ix0 = y * stride - padding, x * stride - padding
                r_lo, r_hi = max(0, -iy0), min(R - 1, H - 1 - iy0)
                s_lo, s_hi = max(0, -ix0), min(R - 1, W - 1 - ix0)
                arow = ((iy0 + r_lo) * W + ix0 + s_lo) * nc
                wrow = fbase + k * fstride + (r_lo * R + s_lo) * nc
                u.update(active=True, first=True, j=0, r=r_lo, r_hi=r_hi, s=s_lo, s_lo=s_lo,
                         s_hi=s_hi, a_row=arow, a_addr=arow, w_row=wrow, w_addr=wrow, slot=slot,
                         off=off, task=task)
        # Dispatcher registers.
        for i in range(n):
            if fin[i] and not grant[i]:
                ts[i] = dsp["now"]
            ubusy[i] = grant[i] or (ubusy[i] and not fin[i])
        off_next = dsp["cur_off"] + total
        if off_next >= tsize:
            dsp["cur_off"], dsp["cur_slot"] = off_next - tsize, inc(dsp["cur_slot"])
        else:
            dsp["cur_off"] = off_next
        dsp.update(nxt=dsp["nxt"] + total, now=dsp["now"] + 1,
                   room=dsp["room"] + dsp["pend"] - total,
                   pend=dsp["size"] if open_now else 0)
        if open_now:
            rest = dsp["rest"] - dsp["size"]
            dsp.update(opened=dsp["opened"] + 1, rest=rest, size=min(rest, tsize),
                       open_slot=inc(dsp["open_slot"]))
        # Colours and tiles.
        wcol = U[wsel]["rslot"] if wsel is not None else None
        for k in range(ncol):
            if opening[k]:
                wcnt[k] = 0
            elif wcol == k:
                wcnt[k] += 1
        # The output buffer (hw/barista/outbuf.py; the rules of drain_trace).
        s, new_rp, sent, done = _drain_step(ob, orp, obm, depth_o, rdy)
        if sent:
            out.append(sent)
            out_cycles.append(t)
        if done:
            free[ob["colour"]] = True
        for k in range(ncol):
            if opening[k]:
                free[k] = done and ob["colour"] == k
        if close_taken:
            s.update(active=True, colour=cslot, count=ccount, raddr=0, pending=False,
                     ovalid=False, last=False)
            ctile, cl_start, cslot = ctile + 1, cl_start + tsize, inc(cslot)
        if wsel is not None:
            u = U[wsel]
            obm[u["rslot"]][u["roff"]] = u["rval"]
        ob, orp = s, new_rp
        if done_run:
            reads = sum(b.reads for b in banks)
            return {"cycles": t + 1, "out": out, "out_cycles": out_cycles, "reads": reads,
                    "requests": requests, "grants": grants, "unit_busy": busy, "layout": lay,
                    "values": values}
    raise RuntimeError(f"the cluster trace did not finish in {max_cycles} cycles")


def engine_filters(w, n_clusters):
    """The filters of each cluster of ``hw.barista.engine.BaristaEngine``: the layer model's
    deal (:func:`cluster_filters`, longest processing time on the filters' non-zeros). Raises
    ValueError when a cluster would get none."""
    w = np.asarray(w)
    if w.shape[0] < n_clusters:
        raise ValueError(f"{w.shape[0]} filters for {n_clusters} clusters: every cluster needs "
                         f"at least one")
    nnz = (w != 0).reshape(w.shape[0], -1).sum(axis=1)
    return [[int(k) for k in f] for f in cluster_filters(nnz, n_clusters)]


def engine_trace(w, a, config, stride=1, padding=0, tile_size=None, ready=None,
                 result_latency=2, grants_per_cycle=None, fin_latency=0):
    """Cycle-exact behaviour of ``hw.barista.engine.BaristaEngine``: every cluster runs
    :func:`cluster_trace` on its filters (:func:`engine_filters`) with its own output ``ready``
    pattern (``ready[c]``, or None). Returns ``{"filters", "clusters" (the traces), "cycles"
    (the slowest cluster's)}``."""
    filters = engine_filters(w, config.n_clusters)
    w = np.asarray(w)
    traces = [cluster_trace(w[f], a, config, stride, padding, tile_size,
                            None if ready is None else ready[c], result_latency,
                            grants_per_cycle, fin_latency)
              for c, f in enumerate(filters)]
    return {"filters": filters, "clusters": traces,
            "cycles": max(t["cycles"] for t in traces)}
