"""Memory images and descriptor of a layer run on :class:`hw.sparten.layer.SparTenLayer`.

Pure Python/NumPy (no simulator): the testbench and ``sim/run_sparten.py`` use it to turn a layer
(``w[K,C,R,S]``, ``a[C,H,W]`` or its SparseMap, stride, padding, slot table) into the descriptor
fields and the list of memory writes the layer top's ``load`` port takes. The layouts are the ones
the hardware declares, so the bits are packed in one place.
"""

import functools
import types

import numpy as np

from golden.conv import conv_output_shape
from golden.sparsemap import SparseMap, check_int_array
from hw.common.pack import Packer, pack_fields, unpack_fields

from .cu import chunk_word, counter_layout
from .layer_layouts import TARGET_ACT, TARGET_TABLE, TARGET_WEIGHT
from .output import acc_layout
from .output import chunk_layout as out_chunk_layout

__all__ = ["LayerPlan", "plan_layer", "packers", "pack_chunk", "unpack_chunk", "chunk_rows",
           "pack_chunks", "unpack_chunks", "chunks_of_activations", "pack_load", "pack_loads",
           "pack_desc", "chain_loads", "unit_counters"]


@functools.lru_cache(maxsize=32)
def packers(config):
    """The :class:`hw.common.pack.Packer` of every layout the host side of ``config`` fills:
    ``chunk`` (a stored chunk word), ``load``, ``desc``, ``table``, ``acc`` (an ``o_acc`` beat),
    ``out_chunk`` (an ``o_chunk`` beat) and ``counters`` (the ``ctr`` port)."""
    from .layer_layouts import descriptor_layout, load_layout, table_layout
    return types.SimpleNamespace(
        chunk=Packer(chunk_word(config), "chunk word"),
        load=Packer(load_layout(config), "load beat"),
        desc=Packer(descriptor_layout(config), "layer descriptor"),
        table=Packer(table_layout(config), "channel table entry"),
        acc=Packer(acc_layout(config), "accumulator beat"),
        out_chunk=Packer(out_chunk_layout(config), "output chunk beat"),
        counters=Packer(counter_layout(), "unit counters"),
    )


def pack_chunk(mask, values, config):
    """The integer of a stored chunk word (:func:`hw.sparten.cu.chunk_word`): ``mask`` and the
    packed non-zero ``values`` (slot 0 first; unused slots 0)."""
    return packers(config).chunk.pack(mask=int(mask), values=[int(v) for v in values])


def unpack_chunk(word, config):
    """Inverse of :func:`pack_chunk`: ``(mask, values int64[popcount])`` (unused slots must be 0)."""
    f = packers(config).chunk.unpack(word)
    k = bin(f["mask"]).count("1")
    if any(f["values"][k:]):
        raise ValueError(f"chunk word has a non-zero value in unused slot "
                         f"{k + next(i for i, v in enumerate(f['values'][k:]) if v)}")
    return f["mask"], np.array(f["values"][:k], dtype=np.int64)


def chunk_rows(x_vc, config):
    """Rows ``x_vc[V, C]`` cut into chunks: ``int64[V * nc, chunk]`` (a partial last chunk zero
    padded), ``nc = ceil(C / chunk)`` chunks per row."""
    n = config.chunk
    x_vc = np.asarray(x_vc, dtype=np.int64)
    V, C = x_vc.shape
    nc = -(-C // n)
    pad = np.zeros((V, nc * n), dtype=np.int64)
    pad[:, :C] = x_vc
    return pad.reshape(V * nc, n)


def pack_chunks(rows, config, last=None):
    """SparseMap-encode dense chunk rows ``[N, chunk]`` in one go: stored chunk words, or with
    ``last`` (an int array ``[N]``) ``o_chunk`` beats (:func:`hw.sparten.output.chunk_layout`)."""
    rows = np.asarray(rows, dtype=np.int64)
    nz = rows != 0
    # the non-zeros of each row in position order, then zeros: a stable sort on "is zero"
    packed = np.take_along_axis(rows, np.argsort(~nz, axis=1, kind="stable"), axis=1)
    layout = chunk_word(config) if last is None else out_chunk_layout(config)

    def value_of(path):
        if path[0] == "mask":
            return nz.astype(np.uint8)
        return packed[:, path[1]] if path[0] == "values" else np.asarray(last)
    return pack_fields(layout, len(rows), value_of, check=True, what="chunk")


def unpack_chunks(beats, config, layout=None):
    """Inverse of :func:`pack_chunks`: ``(rows int64[N, chunk], last int64[N] or None)`` of stored
    chunk words (``layout=None``) or of ``o_chunk`` beats (``layout=chunk_layout(config)``).
    A non-zero value in a slot past the mask's popcount raises ``ValueError``."""
    layout = layout or chunk_word(config)
    n = config.chunk
    f = unpack_fields(layout, beats, bits=[("mask",)])
    mask = f[("mask",)].astype(bool)
    vals = np.stack([f[("values", i)] for i in range(n)], axis=1) if len(beats) else \
        np.zeros((0, n), np.int64)
    k = mask.sum(axis=1)
    if (vals[np.arange(n)[None, :] >= k[:, None]] != 0).any():
        raise ValueError("chunk beat has a non-zero value in an unused slot")
    slot = np.cumsum(mask, axis=1) - 1
    rows = np.where(mask, np.take_along_axis(vals, np.maximum(slot, 0), axis=1), 0)
    return rows, f.get(("last",))


def _dense_chunks(x_cn, config):
    """Chunk words of rows ``x_cn[V, C]`` (V vectors) -> list of ints, ``nc`` per vector."""
    return pack_chunks(chunk_rows(x_cn, config), config)


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
    w, a_dense = _layer_operands(w, a, cfg, stride, padding)
    K, C, R, S = w.shape
    _, H, W = a_dense.shape
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
    loads = [(TARGET_ACT, 0, addr, word)
             for addr, word in enumerate(chunks_of_activations(a_dense, cfg))]
    loads += _filter_loads(w, table, cfg, P)
    return LayerPlan(desc, loads, table, (K, Ho, Wo))


def _layer_operands(w, a, cfg, stride, padding):
    """``(w[K,C,R,S], a[C,H,W])`` as int arrays in the config's value range, with stride and
    padding checked against them and the config; ValueError naming the first that is not."""
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
    if C != a_dense.shape[0]:
        raise ValueError(f"channel mismatch: weights have C={C}, activations have "
                         f"C={a_dense.shape[0]}")
    for name, v in (("stride", stride), ("padding", padding)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an int, not {v!r}")
    if not 1 <= stride <= cfg.max_stride:
        raise ValueError(f"stride={stride} outside 1..max_stride={cfg.max_stride}")
    if not 0 <= padding < max(R, S) or padding > cfg.max_kernel:
        raise ValueError(f"padding={padding} must be in 0..{max(R, S) - 1} (less than the kernel)")
    return w, a_dense


def _filter_loads(w, table, cfg, P):
    """The filter banks' and the permutation table's load beats: unit ``u``, round ``q`` holds
    the filter of slot ``q*n+u`` (zeros for an idle slot); with ``permute``, each filter's table
    entry names its unit and output base."""
    K, C, R, S = w.shape
    n, nc = cfg.n_units, -(-C // cfg.chunk)
    per_filter = R * S * nc
    wt = w.transpose(0, 2, 3, 1).reshape(K, R * S, C)                 # [k][tap][c]
    zero_filter = [0] * per_filter
    flat = _dense_chunks(wt.reshape(K * R * S, C), cfg)
    words = {k: flat[k * per_filter:(k + 1) * per_filter] for k in range(K)}
    loads = []
    for slot, k in enumerate(table):
        q, u = divmod(slot, n)
        src = words[int(k)] if k >= 0 else zero_filter
        for i, word in enumerate(src):
            loads.append((TARGET_WEIGHT, u, q * per_filter + i, word))
    if cfg.permute:
        entry = packers(cfg).table
        for slot, k in enumerate(table):
            if k >= 0:
                q, u = divmod(slot, n)
                loads.append((TARGET_TABLE, 0, int(k), entry.pack(unit=u, base=q * P)))
    return loads


def pack_load(config, target, unit, addr, word):
    """The integer payload of one ``load`` beat (:func:`hw.sparten.layer.load_layout`)."""
    return packers(config).load.pack(target=target, unit=unit, addr=addr, data=word)


def pack_loads(config, loads):
    """:func:`pack_load` of every ``(target, unit, addr, word)`` in ``loads``."""
    return packers(config).load.pack_rows(("target", "unit", "addr", "data"), loads)


def pack_desc(config, desc):
    """The integer of the ``desc`` port for a dict of descriptor fields (signed fields wrapped);
    a value the config's field cannot hold raises ``ValueError`` naming it."""
    from .layer_layouts import descriptor_layout
    p = packers(config).desc
    missing = [name for name, _ in descriptor_layout(config) if name not in desc]
    if missing:
        raise ValueError(f"layer descriptor lacks field {missing[0]!r}")
    return p.pack({name: int(v) for name, v in desc.items()})


def chain_loads(config, out_beats):
    """Load beats writing ``o_chunk`` beats of one layer, as the RTL emitted them, into the
    activation memory of the next (address = beat index): a layer fed by the previous one."""
    p = packers(config)
    words = []
    for b in out_beats:
        f = p.out_chunk.unpack(b, nested=False)
        words.append(p.chunk.pack(mask=f["mask"], values=f["values"]))
    return pack_loads(config, [(TARGET_ACT, 0, a, w) for a, w in enumerate(words)])


def unit_counters(config, value):
    """``[busy, matched, stall]`` of one value of the layer's ``ctr`` port."""
    f = packers(config).counters.unpack(value)
    return [f["busy"], f["matched"], f["stall"]]
