"""golden/sparten_plan.py: tiles fit the config, partial sums and halos add up to the whole layer
exactly (golden and torch), per-tile cycles and bytes, one-line errors."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from golden.conv import conv2d_dense
from golden.plan import PlanError
from golden.sparsemap import encode_activations, encode_filters
from golden.sparten_model import layer_cycles
from golden.sparten_plan import plan_layer, stored_bytes, tile_perm, tile_tensors, tiling
from hw.sparten.config import PAPER, SMALL
from hw.sparten.layer import SparTenLayer
from hw.sparten.memmap import plan_layer as hw_plan_layer

torch.set_num_threads(1)

#: (K, C, H, W, R, S, stride, padding) on SMALL (chunk 8, 4 units): each needs the blocks named.
LAYERS = [
    # K groups (5x5 filters of 9 chunks: 2 rounds per bank), 2 C blocks (C > max_channels),
    # 3 row blocks (the 17x17 map with its padding is more than the activation memory)
    ((12, 136, 17, 17, 5, 5, 2, 2), {"k": 2, "c": 2, "y": 3, "x": 1}),
    # rows and columns cut (one 3-channel-chunk row of 70 positions fills the memory), stride 1
    ((5, 20, 70, 70, 3, 3, 1, 1), None),
    # padding as large as the kernel (materialised), non-square map and kernel
    ((6, 5, 9, 7, 3, 2, 1, 3), None),
    # FC, 3000 inputs: C blocks only (max_channels)
    ((10, 3000, 1, 1, 1, 1, 1, 0), {"k": 1, "c": 24, "y": 1, "x": 1}),
    # fits in one tile: hardware padding
    ((6, 10, 5, 5, 3, 3, 2, 1), {"k": 1, "c": 1, "y": 1, "x": 1}),
]


def _rand(rng, shape, density):
    v = rng.integers(-128, 128, size=shape)
    return np.where(rng.random(shape) < density, v, 0).astype(np.int8)


def _torch(a, w, stride, padding):
    return F.conv2d(torch.from_numpy(a).double()[None], torch.from_numpy(w).double(),
                    stride=stride, padding=padding)[0].to(torch.int64).numpy()


def _assemble(plan, w, a, stride):
    """The layer from its tiles, each tile computed as its own small layer."""
    out = np.zeros((plan.layer["K"], plan.layer["Ho"], plan.layer["Wo"]), dtype=np.int64)
    for t in plan.tiles:
        c = t.coords
        w_t, a_t, pad = tile_tensors(w, a, c)
        out[c["k"][0]:c["k"][1], c["oy"][0]:c["oy"][1], c["ox"][0]:c["ox"][1]] += \
            conv2d_dense(a_t, w_t, stride, pad)
    return out


@pytest.mark.parametrize("shape,blocks", LAYERS, ids=[str(s) for s, _ in LAYERS])
def test_tiles_fit_and_add_up(shape, blocks, seed):
    K, C, H, W, R, S, stride, padding = shape
    rng = np.random.default_rng(seed)
    w, a = _rand(rng, (K, C, R, S), 0.4), _rand(rng, (C, H, W), 0.5)
    plan = plan_layer(SMALL, w, a, stride, padding, balance="gbh",
                      pipeline=SparTenLayer.latency_of(SMALL))
    if blocks is not None:
        assert plan.layer["blocks"] == blocks
    assert plan.psum == ("host" if plan.layer["blocks"]["c"] > 1 else "none")
    n_out = 0
    for t in plan.tiles:
        w_t, a_t, pad = tile_tensors(w, a, t.coords)
        # the hardware's own limits (hw/sparten/memmap.py raises on any overflow)
        hw_plan_layer(w_t, a_t, SMALL, stride, pad, tile_perm(w_t, SMALL, "gbh"))
        assert t.cycles == layer_cycles(w_t, a_t, SMALL, stride, pad,
                                        perm=tile_perm(w_t, SMALL, "gbh"),
                                        pipeline=SparTenLayer.latency_of(SMALL))["cycles"]
        if t.coords["last_cblock"]:
            n_out += w_t.shape[0] * (t.coords["oy"][1] - t.coords["oy"][0]) * \
                (t.coords["ox"][1] - t.coords["ox"][0])
    assert n_out == K * plan.layer["Ho"] * plan.layer["Wo"]      # every output exactly once
    out = _assemble(plan, w, a, stride)
    np.testing.assert_array_equal(out, conv2d_dense(a, w, stride, padding, acc_bits=64))
    np.testing.assert_array_equal(out, _torch(a, w, stride, padding))
    assert plan.cycles == sum(t.cycles for t in plan.tiles)


def test_bytes_as_stored(seed):
    """Traffic per tile against golden's SparseMap encoder: mask bytes + one byte per non-zero."""
    rng = np.random.default_rng(seed)
    (K, C, H, W, R, S, stride, padding), _ = LAYERS[0]
    w, a = _rand(rng, (K, C, R, S), 0.3), _rand(rng, (C, H, W), 0.6)
    plan = plan_layer(SMALL, w, a, stride, padding, pipeline=SparTenLayer.latency_of(SMALL))

    def sm_bytes(sm):
        chunks = [c for _, v in sm.vectors() for c in v]
        return len(chunks) * SMALL.chunk // 8 + sum(len(c.values) for c in chunks)
    for t in plan.tiles:
        c = t.coords
        w_t, _, _ = tile_tensors(w, a, c)
        real = a[c["c"][0]:c["c"][1], max(0, c["iy"][0]):min(H, c["iy"][1]),
                 max(0, c["ix"][0]):min(W, c["ix"][1])]
        assert t.traffic["weights"] == sm_bytes(encode_filters(w_t, SMALL.chunk))
        assert t.traffic["activations"] == sm_bytes(encode_activations(real, SMALL.chunk))
        res = w_t.shape[0] * (c["oy"][1] - c["oy"][0]) * (c["ox"][1] - c["ox"][0]) * 4
        assert (t.traffic["psums_out"], t.traffic["outputs"]) == \
            ((0, res) if c["last_cblock"] else (res, 0))
    d = plan.to_dict(8)
    assert d["bytes_moved"] == sum(d["traffic"].values()) and d["bound_cycles"] >= d["cycles"]
    # 4-bit values: half a byte per non-zero, rounded up per chunk
    assert stored_bytes(np.array([[1, 0, 2, 3, 0, 0, 0, 0, 5]]), 8, 4) == 2 * 1 + 2 + 1


def test_paper_vgg_tiles():
    """VGG-16 shapes on the paper's config: conv5_1 fits in one tile, bigger maps are cut."""
    assert tiling(PAPER, 512, 512, 14, 14, 3, 3, 1, 1)[1] == {"k": 1, "c": 1, "y": 1, "x": 1}
    coords, blocks = tiling(PAPER, 512, 256, 28, 28, 3, 3, 1, 1)
    assert blocks["k"] * blocks["y"] * blocks["x"] > 1 and blocks["c"] == 1
    coords, blocks = tiling(PAPER, 4096, 25088, 1, 1, 1, 1)          # fc6 as 1x1 on 1x1
    assert blocks["c"] > 1 and all(c["c"][1] - c["c"][0] <= PAPER.max_channels for c in coords)


@pytest.mark.parametrize("cfg,shape,words", [
    (SMALL, (4, 8, 7, 7, 7, 7, 1, 0), "max_kernel = 5"),
    (SMALL, (4, 8, 9, 9, 3, 3, 3, 0), "max_stride = 2"),
    (dataclasses.replace(SMALL, weight_depth=8), (4, 8, 9, 9, 3, 3, 1, 1),
     "R*S*1 = 9 words of a unit's filter bank even with C blocked to one chunk; weight_depth = 8"),
    (dataclasses.replace(SMALL, act_depth=20), (4, 8, 9, 9, 5, 5, 1, 1),
     "R*S*1 = 25 activation words even with C blocked to one chunk; act_depth = 20"),
])
def test_one_line_errors(cfg, shape, words):
    with pytest.raises(PlanError) as e:
        tiling(cfg, *shape)
    assert words in str(e.value) and "\n" not in str(e.value)
