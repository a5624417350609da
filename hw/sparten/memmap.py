"""Memory images and descriptor of a layer run on :class:`hw.sparten.layer.SparTenLayer`.

Pure Python/NumPy (no simulator): the testbench and ``sim/run_sparten.py`` use it to turn a layer
(``w[K,C,R,S]``, ``a[C,H,W]`` or its SparseMap, stride, padding, slot table) into the descriptor
fields and the list of memory writes the layer top's ``load`` port takes. The layouts are the ones
the hardware declares, so the bits are packed in one place.
"""

import numpy as np
from amaranth import Shape

from golden.conv import conv_output_shape
from golden.sparsemap import SparseMap, check_int_array

from .layer import TARGET_ACT, TARGET_TABLE, TARGET_WEIGHT

__all__ = ["LayerPlan", "plan_layer", "pack_chunk", "unpack_chunk", "chunks_of_activations",
           "pack_load", "pack_loads", "pack_desc"]


def pack_chunk(mask, values, config):
    """The integer of a stored chunk word: ``mask | values[i] << (chunk + i*value_width)``."""
    vw, n = config.value_width, config.chunk
    word = int(mask)
    lim = (1 << vw) - 1
    for i, v in enumerate(values):
        word |= (int(v) & lim) << (n + i * vw)
    return word


def unpack_chunk(word, config):
    """Inverse of :func:`pack_chunk`: ``(mask, values int64[popcount])`` (unused slots must be 0)."""
    vw, n = config.value_width, config.chunk
    word = int(word)
    mask = word & ((1 << n) - 1)
    k = bin(mask).count("1")
    vals = []
    for i in range(n):
        v = (word >> (n + i * vw)) & ((1 << vw) - 1)
        if v >> (vw - 1):
            v -= 1 << vw
        if i >= k and v:
            raise ValueError(f"chunk word has a non-zero value in unused slot {i}")
        vals.append(v)
    return mask, np.array(vals[:k], dtype=np.int64)


def _dense_chunks(x_cn, config):
    """Chunk words of rows ``x_cn[V, C]`` (V vectors) -> list of ints, ``nc`` per vector."""
    n = config.chunk
    V, C = x_cn.shape
    nc = -(-C // n)
    pad = np.zeros((V, nc * n), dtype=np.int64)
    pad[:, :C] = x_cn
    out = []
    for row in pad.reshape(V * nc, n):
        nz = np.flatnonzero(row)
        mask = 0
        for i in nz:
            mask |= 1 << int(i)
        out.append(pack_chunk(mask, row[nz], config))
    return out


def chunks_of_activations(a, config):
    """Activation memory image of ``a`` (dense ``[C,H,W]`` or a SparseMap of it): words in address
    order ``(y*W + x)*nc + j``."""
    if isinstance(a, SparseMap):
        if a.chunk != config.chunk:
            raise ValueError(f"activation SparseMap has chunk={a.chunk}, the engine {config.chunk}")
        a = a.decode()
    a = check_int_array(a, bits=config.value_width, name="activations")
    C, H, W = a.shape
    return _dense_chunks(a.transpose(1, 2, 0).reshape(H * W, C), config)


class LayerPlan:
    """Everything a run needs: ``desc`` (descriptor fields), ``loads`` (``(target, unit, addr,
    word)`` tuples), the slot ``table`` and the output shape."""

    def __init__(self, desc, loads, table, out_shape):
        self.desc = desc
        self.loads = loads
        self.table = table
        self.out_shape = out_shape


def plan_layer(w, a, config, stride=1, padding=0, table=None, relu=False, sparse_out=False,
               multiplier=1, shift=0):
    """Check a layer against ``config`` and build its descriptor and memory images.

    Parameters
    ----------
    w : int array ``[K,C,R,S]``
    a : int array ``[C,H,W]`` or SparseMap of it
    table : int array ``[rounds*n_units]`` or None
        Slot -> channel table (golden/sparten_model.slot_table); None: identity.

    Raises
    ------
    ValueError
        Naming the first size that exceeds the config (memory depth, channels, kernel...).
    """
    from golden.sparten_model import slot_table

    cfg = config
    w = check_int_array(w, bits=cfg.value_width, name="weights")
    if isinstance(a, SparseMap):
        a_dense = a.decode()
    else:
        a_dense = check_int_array(a, bits=cfg.value_width, name="activations")
    if w.ndim != 4:
        raise ValueError(f"weights must be [K,C,R,S], not shape {w.shape}")
    if a_dense.ndim != 3:
        raise ValueError(f"activations must be [C,H,W], not shape {a_dense.shape}")
    K, C, R, S = w.shape
    C2, H, W = a_dense.shape
    if C != C2:
        raise ValueError(f"channel mismatch: weights have C={C}, activations have C={C2}")
    for name, v in (("stride", stride), ("padding", padding)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an int, not {v!r}")
    if not 1 <= stride <= cfg.max_stride:
        raise ValueError(f"stride={stride} outside 1..max_stride={cfg.max_stride}")
    if not 0 <= padding < max(R, S) or padding > cfg.max_kernel:
        raise ValueError(f"padding={padding} must be in 0..{max(R, S) - 1} (less than the kernel)")
    Ho, Wo = conv_output_shape(H, W, R, S, stride, padding)
    n = cfg.n_units
    table = slot_table(K, n, table if table is None or cfg.permute else None)
    if not cfg.permute and not np.array_equal(table, slot_table(K, n)):
        raise ValueError("this config has permute=False: only the identity slot order is possible")
    rounds = len(table) // n
    nc = -(-C // cfg.chunk)
    P = Ho * Wo
    limits = [
        ("H", H, cfg.max_size), ("W", W, cfg.max_size), ("R", R, cfg.max_kernel),
        ("S", S, cfg.max_kernel), ("K", K, cfg.max_channels), ("C", C, cfg.max_channels),
        ("H*W*ceil(C/chunk) activation words", H * W * nc, cfg.act_depth),
        ("rounds*R*S*ceil(C/chunk) filter words per unit", rounds * R * S * nc, cfg.weight_depth),
        ("rounds*Ho*Wo output words per unit", rounds * P, cfg.out_depth),
        ("C*R*S (reduction length)", C * R * S, cfg.max_reduction),
    ]
    for what, v, hi in limits:
        if v > hi:
            raise ValueError(f"layer needs {what} = {v}, the config allows at most {hi}")
    desc = {
        "H": H, "W": W, "Ho": Ho, "Wo": Wo, "R": R, "S": S, "stride": stride, "pad": padding,
        "nc": nc, "K": K, "rounds": rounds, "P": P, "w_round": R * S * nc,
        "step_x": stride * nc, "step_y": stride * W * nc, "tap_y": W * nc,
        "base0": -(padding * W + padding) * nc,
        "sparse_out": int(sparse_out), "relu": int(relu), "multiplier": multiplier, "shift": shift,
    }
    loads = []
    for addr, word in enumerate(chunks_of_activations(a_dense, cfg)):
        loads.append((TARGET_ACT, 0, addr, word))
    # Filter banks: unit u, round q holds the filter of slot q*n+u (zeros for an idle slot).
    wt = w.transpose(0, 2, 3, 1).reshape(K, R * S, C)                 # [k][tap][c]
    zero_filter = [0] * (R * S * nc)
    words = {k: _dense_chunks(wt[k], cfg) for k in range(K)}
    for slot, k in enumerate(table):
        q, u = divmod(slot, n)
        src = words[int(k)] if k >= 0 else zero_filter
        for i, word in enumerate(src):
            loads.append((TARGET_WEIGHT, u, q * R * S * nc + i, word))
    if cfg.permute:
        ubits = max(1, (n - 1).bit_length())
        for slot, k in enumerate(table):
            if k >= 0:
                q, u = divmod(slot, n)
                loads.append((TARGET_TABLE, 0, int(k), u | ((q * P) << ubits)))
    return LayerPlan(desc, loads, table, (K, Ho, Wo))


def pack_load(config, target, unit, addr, word):
    """The integer payload of one ``load`` beat (field offsets from :func:`load_layout`)."""
    return pack_loads(config, [(target, unit, addr, word)])[0]


def pack_loads(config, loads):
    """:func:`pack_load` of every ``(target, unit, addr, word)`` in ``loads`` (the layout is
    read once: building it costs more than packing a beat, and a paper-sized layer has tens of
    thousands of beats)."""
    from .layer import load_layout
    lay = load_layout(config)
    fields = [(name, lay[name].offset, 1 << lay[name].width)
              for name in ("target", "unit", "addr", "data")]
    out = []
    for ld in loads:
        beat = 0
        for (name, off, lim), v in zip(fields, ld):
            v = int(v)
            if not 0 <= v < lim:
                raise ValueError(f"load field {name}={v} does not fit {lim.bit_length() - 1} bits")
            beat |= v << off
        out.append(beat)
    return out


def pack_desc(config, desc):
    """The integer of the ``desc`` port for a dict of descriptor fields (signed fields wrapped)."""
    from .layer import descriptor_layout
    lay = descriptor_layout(config)
    out = 0
    for name, f in lay:
        v = int(desc[name])
        w = f.width
        sgn = Shape.cast(f.shape).signed
        lo = -(1 << (w - 1)) if sgn else 0
        hi = (1 << (w - 1)) - 1 if sgn else (1 << w) - 1
        if not lo <= v <= hi:
            raise ValueError(f"layer descriptor field {name}={v} does not fit the config "
                             f"({lo}..{hi})")
        out |= (v & ((1 << w) - 1)) << f.offset
    return out
