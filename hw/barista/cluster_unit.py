"""One unit of a BARISTA cluster (:class:`~.cluster.BaristaCluster`): its fetcher (the task's walk,
the pair requests on its bank ports and its private queue) and its feeder (the queue's head into
its SparTen compute unit, and the result register the cluster's merge writes from).

The rules are the cluster's (its module docstring); these are the parts of its elaboration that
are built once per unit, on the elaboration's shared names (``ctx``, from
:meth:`~.cluster.BaristaCluster._blocks` and the steps after it).
"""

import dataclasses

from amaranth import Cat, Mux, Signal, signed, unsigned
from amaranth.lib import data

from .dispatch import TaskDispatch


__all__ = ["FetcherRegs", "UnitQueue", "fetcher", "feeder"]


@dataclasses.dataclass
class FetcherRegs:
    """A unit's fetcher registers: the walk of its current task."""
    active: Signal      # a task is being requested
    first: Signal       # the next pair is the task's first
    a_addr: Signal      # the next pair's activation address
    w_addr: Signal      # the next pair's filter address
    a_row: Signal       # the activation address of the current tap row's first valid tap
    w_row: Signal       # the filter address of the current tap row's first valid tap
    r_cur: Signal       # the current tap (r, s), its row's bounds and the last row
    r_hi: Signal
    s_cur: Signal
    s_lo: Signal
    s_hi: Signal
    j: Signal           # the channel chunk
    t_slot: Signal      # the result's colour and place in the tile
    t_off: Signal

    @classmethod
    def create(cls, i, aw, kw, cbits, oaw):
        """Unit ``i``'s registers: ``aw``-bit addresses, ``kw``-bit taps, ``cbits``-bit colours
        and ``oaw``-bit offsets."""
        def sig(shape, name):
            return Signal(shape, name=f"{name}{i}")
        return cls(active=sig(1, "active"), first=sig(1, "first"),
                   a_addr=sig(aw + 1, "a_addr"), w_addr=sig(aw + 1, "w_addr"),
                   a_row=sig(aw + 1, "a_row"), w_row=sig(aw + 1, "w_row"),
                   r_cur=sig(kw, "r"), r_hi=sig(kw, "r_hi"), s_cur=sig(kw, "s"),
                   s_lo=sig(kw, "s_lo"), s_hi=sig(kw, "s_hi"), j=sig(aw, "j"),
                   t_slot=sig(cbits, "t_slot"), t_off=sig(oaw, "t_off"))


@dataclasses.dataclass
class UnitQueue:
    """What a unit's fetcher hands its feeder: the private queue and this cycle's request."""
    regs: FetcherRegs
    qlay: data.StructLayout     # a queue entry: banks, framing and the result's place
    q: list                     # the entries
    q_wp: Signal
    q_rp: Signal
    q_n: Signal
    qa: list                    # the unit's response ports, activation and filter, per bank
    qw: list
    issue: Signal               # a pair is requested this cycle
    last: Signal                # the pair to request is the task's last
    fin: Signal                 # the dispatcher's ``fin`` register
    new: Signal                 # the entry the request writes


def fetcher(m, ctx, i):
    """Unit ``i``'s fetcher: its task's walk, the pair requests and its private queue; returns
    the :class:`UnitQueue` for its :func:`feeder`."""
    B, D, bank_of, banks = ctx.B, ctx.D, ctx.bank_of, ctx.banks
    d, word_of = ctx.d, ctx.word_of
    pa = [f.req[2 * i] for f in banks]          # activation ports
    pw = [f.req[2 * i + 1] for f in banks]      # filter ports
    qa = [f.resp[2 * i] for f in banks]
    qw = [f.resp[2 * i + 1] for f in banks]
    r = FetcherRegs.create(i, ctx.aw, ctx.kernel_width, ctx.cbits, ctx.oaw)

    # Private queue of requested pairs: banks, framing and the result's place.
    qlay = data.StructLayout({"ba": unsigned(max(1, ctx.bb)), "bw": unsigned(max(1, ctx.bb)),
                              "first": 1, "last": 1, "slot": unsigned(ctx.cbits),
                              "off": unsigned(ctx.oaw)})
    q = [Signal(qlay, name=f"q{i}_{e}") for e in range(D)]
    q_wp = Signal(range(D), name=f"q_wp{i}")
    q_rp = Signal(range(D), name=f"q_rp{i}")
    q_n = Signal(range(D + 1), name=f"q_n{i}")

    ba, bw = bank_of(r.a_addr), bank_of(r.w_addr)
    a_free = Signal(name=f"a_free{i}")
    w_free = Signal(name=f"w_free{i}")
    for b in range(B):
        with m.If(ba == b):
            m.d.comb += a_free.eq(pa[b].ready)
        with m.If(bw == b):
            m.d.comb += w_free.eq(pw[b].ready)
    last = Signal(name=f"last{i}")
    m.d.comb += last.eq((r.j == d.nc - 1) & (r.s_cur == r.s_hi) & (r.r_cur == r.r_hi))
    issue = Signal(name=f"issue{i}")
    # Both ports' ready depend only on their state (ChunkFetch), so offering the pair
    # only when both are free makes no loop.
    m.d.comb += issue.eq(r.active & (q_n < D) & a_free & w_free)
    for b in range(B):
        m.d.comb += [pa[b].valid.eq(issue & (ba == b)), pa[b].payload.eq(word_of(r.a_addr)),
                     pw[b].valid.eq(issue & (bw == b)), pw[b].payload.eq(word_of(r.w_addr))]
    ctx.n_req.append(issue)
    # ``fin`` reaches the dispatcher through a register (``fin_latency``): the bank
    # ready -> issue path ends there, not in the dispatcher's next-state selects.
    fin = Signal(name=f"fin{i}")
    m.d.sync += fin.eq(issue & last)
    ctx.fins.append(fin)
    new = Signal(qlay, name=f"q_new{i}")
    m.d.comb += [new.ba.eq(ba), new.bw.eq(bw), new.first.eq(r.first), new.last.eq(last),
                 new.slot.eq(r.t_slot), new.off.eq(r.t_off)]
    u = UnitQueue(regs=r, qlay=qlay, q=q, q_wp=q_wp, q_rp=q_rp, q_n=q_n, qa=qa, qw=qw,
                  issue=issue, last=last, fin=fin, new=new)
    _walk(m, ctx, i, u)
    return u


def _walk(m, ctx, i, u):
    """Unit ``i``'s walk: its queue write and next pair on a request, the granted task's walk
    while idle."""
    D, d, disp, row_a, row_w = ctx.D, ctx.d, ctx.disp, ctx.row_a, ctx.row_w
    r, q, q_wp = u.regs, u.q, u.q_wp
    with m.If(u.issue):
        for e in range(D):
            with m.If(q_wp == e):
                m.d.sync += q[e].eq(u.new)
        m.d.sync += [q_wp.eq(Mux(q_wp == D - 1, 0, q_wp + 1)), r.first.eq(0)]
        with m.If(r.j == d.nc - 1):
            m.d.sync += r.j.eq(0)
            with m.If(r.s_cur == r.s_hi):
                m.d.sync += [r.s_cur.eq(r.s_lo), r.r_cur.eq(r.r_cur + 1),
                             r.a_row.eq(r.a_row + row_a), r.w_row.eq(r.w_row + row_w),
                             r.a_addr.eq(r.a_row + row_a), r.w_addr.eq(r.w_row + row_w)]
                with m.If(u.last):
                    m.d.sync += r.active.eq(0)
            with m.Else():
                m.d.sync += [r.s_cur.eq(r.s_cur + 1), r.a_addr.eq(r.a_addr + 1),
                             r.w_addr.eq(r.w_addr + 1)]
        with m.Else():
            m.d.sync += [r.j.eq(r.j + 1), r.a_addr.eq(r.a_addr + 1), r.w_addr.eq(r.w_addr + 1)]
    # The granted task is the cursor's head (one grant per cycle). An idle unit (its last
    # request was in an earlier cycle) takes the head's walk whether it is granted or not (its
    # fetcher state is dead until it is), so the ranking's grant only sets ``active``.
    hd = ctx.hd
    gr_lo, gr_hi, gs_lo, gs_hi = (hd[k] for k in ctx.taps)
    with m.If(~r.active):
        m.d.sync += [r.first.eq(1), r.j.eq(0), r.r_cur.eq(gr_lo), r.r_hi.eq(gr_hi),
                     r.s_cur.eq(gs_lo), r.s_lo.eq(gs_lo), r.s_hi.eq(gs_hi),
                     r.a_row.eq(hd["arow"]), r.a_addr.eq(hd["arow"]), r.w_row.eq(hd["wrow"]),
                     r.w_addr.eq(hd["wrow"]), r.t_slot.eq(disp.slot[i]),
                     r.t_off.eq(disp.offset[i])]
    with m.If(disp.grant[i]):
        m.d.sync += r.active.eq(1)


def feeder(m, ctx, i, cu, u, start):
    """Unit ``i``'s queue head (:class:`UnitQueue` ``u``) into its compute unit ``cu`` and its
    result register; ``start`` resets the unit."""
    B, D, cbits, oaw = ctx.B, ctx.D, ctx.cbits, ctx.oaw
    q, q_n, q_rp, q_wp, qa, qw = u.q, u.q_n, u.q_rp, u.q_wp, u.qa, u.qw
    # The head pair to the compute unit, once both chunks have arrived. The head entry
    # (``q[q_rp]``) is a register with one-hot bank selects, kept a cycle ahead, so the
    # chunk select in front of the join starts at flip-flops (issue 11).
    head = Signal(u.qlay, name=f"head{i}")
    hsa, hsw = Signal(B, name=f"hsa{i}"), Signal(B, name=f"hsw{i}")
    va, vw_ = Signal(name=f"va{i}"), Signal(name=f"vw{i}")
    da, dw = Signal(ctx.cw, name=f"da{i}"), Signal(ctx.cw, name=f"dw{i}")
    m.d.comb += [va.eq(Cat(qa[b].valid & hsa[b] for b in range(B)).any()),
                 vw_.eq(Cat(qw[b].valid & hsw[b] for b in range(B)).any()),
                 da.eq(TaskDispatch.and_or(m, [p.payload for p in qa], hsa, f"da_{i}")),
                 dw.eq(TaskDispatch.and_or(m, [p.payload for p in qw], hsw, f"dw_{i}"))]
    inflight = Signal(name=f"inflight{i}")       # last chunk handed, result not back
    rv = Signal(name=f"rv{i}")                   # result register full
    rslot = Signal(cbits, name=f"rslot{i}")
    roff = Signal(oaw, name=f"roff{i}")
    rval = Signal(signed(ctx.cfg.acc_width), name=f"rval{i}")
    offer = Signal(name=f"offer{i}")
    m.d.comb += offer.eq((q_n > 0) & va & vw_ & (~head.last | ~(inflight | rv)))
    xfer = Signal(name=f"xfer{i}")
    m.d.comb += [cu.i.valid.eq(offer), cu.i.payload.act.eq(da), cu.i.payload.wgt.eq(dw),
                 cu.i.payload.first.eq(head.first), cu.i.payload.last.eq(head.last),
                 cu.i.payload.out_addr.eq(Cat(head.off, head.slot)),
                 cu.clear.eq(start), cu.others_busy.eq(0),
                 xfer.eq(offer & cu.i.ready)]
    for b in range(B):
        m.d.comb += [qa[b].ready.eq(xfer & hsa[b]), qw[b].ready.eq(xfer & hsw[b])]
    rp1 = Signal(range(D), name=f"q_rp1_{i}")
    after, hnext = Signal(u.qlay, name=f"after{i}"), Signal(u.qlay, name=f"hnext{i}")
    m.d.comb += rp1.eq(Mux(q_rp == D - 1, 0, q_rp + 1))
    for e in range(D):
        with m.If(rp1 == e):
            m.d.comb += after.eq(q[e])
    with m.If(u.issue & (q_wp == Mux(xfer, rp1, q_rp))):
        m.d.comb += hnext.eq(u.new)
    with m.Elif(xfer):
        m.d.comb += hnext.eq(after)
    with m.Else():
        m.d.comb += hnext.eq(head)
    m.d.sync += [head.eq(hnext), hsa.eq(Cat(hnext.ba == b for b in range(B))),
                 hsw.eq(Cat(hnext.bw == b for b in range(B)))]
    with m.If(xfer):
        m.d.sync += q_rp.eq(rp1)
        with m.If(head.last):
            m.d.sync += inflight.eq(1)
    m.d.sync += q_n.eq(q_n + u.issue - xfer)

    # Result register; written into the output buffer by the cluster's merge.
    with m.If(cu.res.valid):
        m.d.sync += [rv.eq(1), inflight.eq(0), roff.eq(cu.res.addr[:oaw]),
                     rslot.eq(cu.res.addr[oaw:oaw + cbits]), rval.eq(cu.res.value)]
    w = Signal(name=f"wsel{i}")
    ctx.wsel.append(w)
    with m.If(w):
        m.d.sync += rv.eq(0)
    ctx.res_v.append(rv)
    ctx.res_slot.append(rslot)
    ctx.res_off.append(roff)
    ctx.res_val.append(rval)
    with m.If(start):
        m.d.sync += [u.regs.active.eq(0), q_n.eq(0), q_wp.eq(0), q_rp.eq(0), inflight.eq(0),
                     rv.eq(0), u.fin.eq(0)]
