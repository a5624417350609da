"""The cycle steps of BARISTA's RTL blocks behind :mod:`golden.barista_trace`'s traces: a bank
with its request/response ports (:class:`Bank`, ``hw.barista.fetch.ChunkFetch``), a cycle of the
coloured output buffer's drain (:func:`drain_step`, ``hw.barista.outbuf.ColourBuffer``), the
banks' contents (:func:`bank_words`) and a whole cluster's registers (:class:`ClusterRun`,
``hw.barista.cluster.BaristaCluster``). Pure Python, nothing imported from ``hw/``.
"""

import numpy as np

__all__ = ["Bank", "ClusterRun", "bank_words", "drain_step"]


def drain_step(st, rp, mem, depth, rdy):
    """One cycle of ``ColourBuffer``'s drain (the rule of
    :func:`~golden.barista_trace.drain_trace` and :func:`~golden.barista_trace.cluster_trace`):
    the next state, the next read-port words, the transfer on ``o`` (``(colour, addr, value)`` or
    None) and whether the colour is done."""
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


class Bank:
    """One ``ChunkFetch`` bank, cycle by cycle: the one stepping rule of
    :func:`~golden.barista_trace.fetch_trace` and :func:`~golden.barista_trace.cluster_trace`."""

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


def bank_words(w, a, lay, cfg):
    """The mask of every chunk the cluster stores (values do not change the timing), per bank:
    chunk ``i`` of :func:`~golden.barista_trace.cluster_layout`'s address space is word
    ``i // banks`` of bank ``i mod banks``."""
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


class ClusterRun:
    """The registers of :func:`~golden.barista_trace.cluster_trace`'s cluster (checked operands
    ``w``, ``a`` and their :func:`~golden.barista_trace.cluster_layout` ``lay``), stepped a cycle
    at a time."""

    def __init__(self, w, a, lay, config, stride, padding, result_latency, grants_per_cycle,
                 fin_latency):
        from .conv import conv2d_dense
        self.lay = lay
        self.K, self.C, self.R, self.H, self.W, self.nc = (
            lay[k] for k in ("K", "C", "R", "H", "W", "nc"))
        self.ho, self.wo, self.ntask, self.tsize, self.fbase = (
            lay[k] for k in ("out_h", "out_w", "n_tasks", "tile_size", "fbase"))
        cfg = config
        self.stride, self.padding, self.result_latency = stride, padding, result_latency
        self.grants_per_cycle, self.fin_latency = grants_per_cycle, fin_latency
        n, self.B, self.D, ncol = cfg.units_per_cluster, cfg.banks, cfg.private_chunks, cfg.colours
        self.n, self.ncol = n, ncol
        self.depth_o = depth_o = cfg.output_buffer_entries
        self.M = cfg.matches_per_cycle
        acc = cfg.acc_width
        self.P = self.ho * self.wo

        self.banks = [Bank(2 * n, words) for words in bank_words(w, a, lay, cfg)]
        out_ref = conv2d_dense(a, w, stride, padding, acc_bits=64).reshape(self.K * self.P)
        half = 1 << (acc - 1)
        self.values = [int((v + half) % (1 << acc) - half) for v in out_ref]

        # Dispatcher state (hw/barista/dispatch.py, colour_free).
        self.dsp = dict(nxt=0, cur_off=0, cur_slot=0, opened=0, rest=self.ntask,
                        size=min(self.ntask, self.tsize), open_slot=0, room=0, pend=0, now=0)
        self.ubusy, self.ts = [False] * n, [0] * n
        if fin_latency not in (0, 1):
            raise ValueError(f"fin_latency must be 0 or 1, not {fin_latency!r}")
        self.fin_reg = [False] * n          # the fetchers' fin of the cycle before
        self.free = [True] * ncol
        # Units.
        self.U = [dict(active=False, first=False, a_addr=0, w_addr=0, a_row=0, w_row=0, r=0,
                       r_hi=0, s=0, s_lo=0, s_hi=0, j=0, slot=0, off=0, q=[], left=0,
                       res_at=None, res=None, inflight=False, rv=False, rslot=0, roff=0,
                       rval=0) for _ in range(n)]
        self.busy = [0] * n
        # Output side.
        self.wcnt = [0] * ncol
        self.cslot, self.ctile, self.cl_start = 0, 0, 0
        self.obm = [[0] * depth_o for _ in range(ncol)]
        self.orp = [0] * ncol
        self.ob = dict(active=False, colour=0, count=0, raddr=0, pending=False, paddr=0,
                       ovalid=False, oaddr=0, odata=0, last=False)
        self.out, self.out_cycles, self.grants = [], [], [None] * self.ntask
        self.requests = 0
        self.row_a, self.row_w = self.W * self.nc, self.R * self.nc
        self.fstride = self.R * self.R * self.nc

    def inc(self, s):
        """The colour after ``s``."""
        return 0 if s == self.ncol - 1 else s + 1

    def cycle(self, t, rdy):
        """Cycle ``t`` with ``o.ready`` = ``rdy``; True when the run is done in it."""
        # -- combinational -------------------------------------------------------------------
        req, taken, fin, issue_any, xfer_info = self._requests()
        opening, open_now, fin, grant, total = self._dispatch(t, fin)
        # Merge into the output buffer.
        wsel = next((i for i in range(self.n) if self.U[i]["rv"]), None)
        # Close and drain.
        all_closed = self.cl_start >= self.ntask
        rest = self.ntask - self.cl_start
        ccount = min(rest, self.tsize)
        close_valid = (not all_closed and self.ctile < self.dsp["opened"]
                       and self.wcnt[self.cslot] == ccount)
        close_taken = close_valid and not self.ob["active"]
        done_run = all_closed and not self.ob["active"]
        # -- sequential ----------------------------------------------------------------------
        for b in range(self.B):
            self.banks[b].step(req[b], taken[b])
        self.requests += 2 * issue_any
        for i, u in enumerate(self.U):
            self._unit_step(t, i, u, xfer_info[i], wsel, grant[i])
        self._dispatch_step(fin, grant, total, open_now)
        self._output_step(t, rdy, opening, wsel, close_taken, ccount)
        return done_run

    def result(self, t):
        """The trace, the run having ended in cycle ``t``."""
        reads = sum(b.reads for b in self.banks)
        return {"cycles": t + 1, "out": self.out, "out_cycles": self.out_cycles,
                "reads": reads, "requests": self.requests, "grants": self.grants,
                "unit_busy": self.busy, "layout": self.lay, "values": self.values}

    def _requests(self):
        """The units' pair requests and queue heads' transfers of this cycle."""
        B, D, nc, banks = self.B, self.D, self.nc, self.banks
        req = [dict() for _ in range(B)]
        taken = [[] for _ in range(B)]
        fin = [False] * self.n
        issue_any = 0
        xfer_info = [None] * self.n
        for i, u in enumerate(self.U):
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
                    xfer_info[i] = (h, max(1, -(-m_ // self.M)))
        return req, taken, fin, issue_any, xfer_info

    def _dispatch(self, t, fin):
        """The dispatcher's tile opening and grants in cycle ``t``, the fetchers' ``fin`` of
        this cycle being ``fin``; returns the ``fin`` it sees (after ``fin_latency``)."""
        n, dsp, tsize = self.n, self.dsp, self.tsize
        # (registered tile state: at most one tile opens, its tasks count two cycles later)
        opening = [False] * self.ncol
        open_now = dsp["rest"] > 0 and self.free[dsp["open_slot"]]
        if open_now:
            opening[dsp["open_slot"]] = True
        avail = min(dsp["room"], self.grants_per_cycle or n)
        fin_now, fin = fin, (self.fin_reg if self.fin_latency else fin)
        self.fin_reg = fin_now
        waiting = [not self.ubusy[i] or fin[i] for i in range(n)]
        ts_eff = [dsp["now"] if fin[i] else self.ts[i] for i in range(n)]
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
                slot = self.inc(dsp["cur_slot"]) if off >= tsize else dsp["cur_slot"]
                self.U[i]["grant"] = (task, slot, off - tsize if off >= tsize else off)
                self.grants[task] = (t, i)
        return opening, open_now, fin, grant, total

    def _unit_step(self, t, i, u, xfer, wsel, granted):
        """Unit ``i``'s registers at the end of cycle ``t``: its compute unit, result
        register and walk."""
        if u["left"] > 0:
            self.busy[i] += 1
        if xfer is not None:
            h, cost = xfer
            u["q"].pop(0)
            u["left"] = cost
            if h["last"]:
                u["inflight"] = True
                u["res_at"] = t + cost + self.result_latency
                u["res"] = (h["slot"], h["off"], self.values[h["task"]])
        elif u["left"] > 0:
            u["left"] -= 1
        if u["res_at"] == t:                # res.valid now: the register fills
            u["rv"], u["inflight"] = True, False
            u["rslot"], u["roff"], u["rval"] = u["res"]
            u["res_at"] = None
        if wsel == i:
            u["rv"] = False
        if u["issue"]:
            self._walk_step(u)
        if granted:
            self._take(u)

    def _walk_step(self, u):
        """A unit's queue write and next pair after a request."""
        u["q"].append(u["new"])
        u["first"] = False
        if u["j"] == self.nc - 1:
            u["j"] = 0
            if u["s"] == u["s_hi"]:
                u["s"] = u["s_lo"]
                u["r"] += 1
                u["a_row"] += self.row_a
                u["w_row"] += self.row_w
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

    def _take(self, u):
        """A granted unit's walk of its task (valid taps and first-tap addresses)."""
        R, H, W, nc = self.R, self.H, self.W, self.nc
        task, slot, off = u["grant"]
        k, p = divmod(task, self.P)
        y, x = divmod(p, self.wo)
        iy0, ix0 = y * self.stride - self.padding, x * self.stride - self.padding
        r_lo, r_hi = max(0, -iy0), min(R - 1, H - 1 - iy0)
        s_lo, s_hi = max(0, -ix0), min(R - 1, W - 1 - ix0)
        arow = ((iy0 + r_lo) * W + ix0 + s_lo) * nc
        wrow = self.fbase + k * self.fstride + (r_lo * R + s_lo) * nc
        u.update(active=True, first=True, j=0, r=r_lo, r_hi=r_hi, s=s_lo, s_lo=s_lo,
                 s_hi=s_hi, a_row=arow, a_addr=arow, w_row=wrow, w_addr=wrow, slot=slot,
                 off=off, task=task)

    def _dispatch_step(self, fin, grant, total, open_now):
        """The dispatcher's registers at the end of the cycle."""
        dsp, tsize = self.dsp, self.tsize
        for i in range(self.n):
            if fin[i] and not grant[i]:
                self.ts[i] = dsp["now"]
            self.ubusy[i] = grant[i] or (self.ubusy[i] and not fin[i])
        off_next = dsp["cur_off"] + total
        if off_next >= tsize:
            dsp["cur_off"], dsp["cur_slot"] = off_next - tsize, self.inc(dsp["cur_slot"])
        else:
            dsp["cur_off"] = off_next
        dsp.update(nxt=dsp["nxt"] + total, now=dsp["now"] + 1,
                   room=dsp["room"] + dsp["pend"] - total,
                   pend=dsp["size"] if open_now else 0)
        if open_now:
            rest = dsp["rest"] - dsp["size"]
            dsp.update(opened=dsp["opened"] + 1, rest=rest, size=min(rest, tsize),
                       open_slot=self.inc(dsp["open_slot"]))

    def _output_step(self, t, rdy, opening, wsel, close_taken, ccount):
        """The colours' counts, the tiles' closing and the output buffer at the end of
        cycle ``t``."""
        wcol = self.U[wsel]["rslot"] if wsel is not None else None
        for k in range(self.ncol):
            if opening[k]:
                self.wcnt[k] = 0
            elif wcol == k:
                self.wcnt[k] += 1
        # The output buffer (hw/barista/outbuf.py; the rules of drain_trace).
        ob = self.ob
        s, new_rp, sent, done = drain_step(ob, self.orp, self.obm, self.depth_o, rdy)
        if sent:
            self.out.append(sent)
            self.out_cycles.append(t)
        if done:
            self.free[ob["colour"]] = True
        for k in range(self.ncol):
            if opening[k]:
                self.free[k] = done and ob["colour"] == k
        if close_taken:
            s.update(active=True, colour=self.cslot, count=ccount, raddr=0, pending=False,
                     ovalid=False, last=False)
            self.ctile, self.cl_start = self.ctile + 1, self.cl_start + self.tsize
            self.cslot = self.inc(self.cslot)
        if wsel is not None:
            u = self.U[wsel]
            self.obm[u["rslot"]][u["roff"]] = u["rval"]
        self.ob, self.orp = s, new_rp
