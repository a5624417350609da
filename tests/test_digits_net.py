"""The digits CNN: pruning, quantisation and the exact integer model (golden/digits_net.py).

The default models are trained once and cached in build/digits_net (about 10 s each on a fresh
clone); the determinism test trains a tiny configuration twice in a temporary folder.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from golden import digits_net as dn

TINY = {"epochs": 2, "finetune_epochs": 1, "prune_steps": 1, "channels": [4, 8, 8]}


@pytest.fixture(scope="module", params=dn.VARIANTS)
def net(request):
    return dn.build(request.param)


@pytest.fixture(scope="module")
def data():
    return dn.load_data()


def _reference_logits(net, images):
    """Independent integer model: torch conv2d in float64 (exact below 2**53) + our own rounding."""
    a = torch.tensor(images, dtype=torch.float64)
    for layer in net.convs:
        acc = F.conv2d(a, torch.tensor(layer.weight, dtype=torch.float64), stride=layer.stride,
                       padding=layer.padding).numpy().astype(np.int64)
        assert np.abs(acc).max() < 2 ** 31
        q = (acc * layer.multiplier + (1 << (layer.shift - 1))) // (1 << layer.shift)  # floor
        a = torch.tensor(np.maximum(np.clip(q, -128, 127), 0), dtype=torch.float64)
    flat = a.reshape(a.shape[0], -1).numpy().astype(np.int64)
    return flat @ net.fc.weight.T


def test_int_model_equals_independent_reference(net, data):
    _, _, xte, _ = data
    imgs = xte[:60]
    np.testing.assert_array_equal(dn.int_forward_batch(net, imgs), _reference_logits(net, imgs))


def test_trace_shapes_and_int8_ranges(net, data):
    trace = dn.int_forward_trace(net, data[2][0])
    assert [t.shape for t in trace] == [(16, 8, 8), (32, 4, 4), (32, 2, 2), (10,)]
    for t in trace[:3]:
        assert t.min() >= 0 and t.max() <= 127  # after ReLU, saturated to int8
    for layer in net.layers:
        assert layer.weight.min() >= -127 and layer.weight.max() <= 127


def test_accuracy_float_and_int8(net, data):
    _, _, xte, yte = data
    acc, _ = dn.int_accuracy(net, xte, yte)
    assert net.info["n_test"] == len(yte) == 450
    assert net.info["float_pruned_accuracy"] >= 0.93
    assert acc >= 0.93
    assert abs(acc - net.info["float_pruned_accuracy"]) <= 0.02


def test_sparsity_targets(net):
    hp = net.info["hparams"]
    for layer in net.layers:
        if layer.name == "fc" and net.variant == "2:4":
            groups = (layer.weight.reshape(layer.weight.shape[0], -1, 4) != 0).sum(-1)
            assert groups.max() <= 2
        else:
            # quantisation may round a tiny weight to zero, never the other way round; the kept
            # count is rounded to a whole weight
            slack = 0.5 / layer.weight.size + 1e-12
            assert layer.density <= 1 - hp["sparsity"][layer.name] + slack, layer.name
            assert layer.density >= 1 - hp["sparsity"][layer.name] - 0.02, layer.name
    assert 0.7 <= net.weight_sparsity <= 0.9


def test_2to4_classifier_is_valid_nm(data):
    nm = pytest.importorskip("golden.nm")
    nm.check_nm(dn.build("2:4").fc.weight, 2, 4)


def test_cache_reload_is_identical(tmp_path):
    a = dn.build("unstructured", TINY, cache_dir=tmp_path)
    path = dn.cache_path("unstructured", TINY, tmp_path)
    assert path.exists()
    b = dn.build("unstructured", TINY, cache_dir=tmp_path)
    for la, lb in zip(a.layers, b.layers):
        np.testing.assert_array_equal(la.weight, lb.weight)
        assert (la.multiplier, la.shift, la.stride, la.padding) == \
               (lb.multiplier, lb.shift, lb.stride, lb.padding)
    assert a.info == b.info
    # training is deterministic: a forced retrain gives the same integers
    c = dn.build("unstructured", TINY, cache_dir=tmp_path, retrain=True)
    for la, lc in zip(a.layers, c.layers):
        np.testing.assert_array_equal(la.weight, lc.weight)
    assert dn.cache_path("unstructured", {**TINY, "seed": 1}, tmp_path) != path
    assert dn.cache_path("2:4", TINY, tmp_path) != path


def test_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        dn.build("3:4")
    with pytest.raises(ValueError, match="no_such"):
        dn.build("unstructured", {"no_such": 1})
    with pytest.raises(ValueError, match="sparsity"):
        dn.prune_magnitude(np.ones(4), 1.0)
    with pytest.raises(ValueError, match="multiple"):
        dn.prune_nm(np.ones((2, 6)))
    with pytest.raises(ValueError, match="positive"):
        dn.requant_params(0.0)


def test_pruning_masks():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 16))
    m = dn.prune_magnitude(w, 0.75)
    assert m.sum() == 32
    assert np.abs(w[m]).min() >= np.abs(w[~m]).max()
    m24 = dn.prune_nm(w, 2, 4)
    g = m24.reshape(8, 4, 4)
    assert (g.sum(-1) == 2).all()
    aw = np.abs(w).reshape(8, 4, 4)
    assert (np.where(g, aw, np.inf).min(-1) >= np.where(g, -np.inf, aw).max(-1)).all()


@pytest.mark.parametrize("real", [1e-4, 0.0123, 0.5, 0.9999])
def test_requant_params(real):
    mult, shift = dn.requant_params(real)
    assert 2 ** 14 <= mult < 2 ** 15
    assert 1 <= shift <= 31
    assert abs(mult / 2 ** shift - real) <= real * 2 ** -14


def test_float_logits_reproduce_training_accuracy(net, data):
    _, _, xte, yte = data
    acc = float(np.mean(np.argmax(dn.float_logits(net, xte), axis=1) == yte))
    assert acc == pytest.approx(net.info["float_pruned_accuracy"], abs=1e-6)


def test_training_independent_of_thread_count(tmp_path, variant="unstructured"):
    """``make e2e``'s figures regenerate exactly: training gives the same bits whatever thread
    count the caller's torch runs with (training fixes its own, and deterministic algorithms)."""
    old = torch.get_num_threads()
    nets = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            nets.append(dn.build(variant, TINY, cache_dir=tmp_path / str(threads), retrain=True))
            assert torch.get_num_threads() == threads, "training must restore the thread count"
    finally:
        torch.set_num_threads(old)
    a, b = nets
    for la, lb in zip(a.layers, b.layers):
        np.testing.assert_array_equal(la.weight, lb.weight)
        assert (la.multiplier, la.shift) == (lb.multiplier, lb.shift)
    for name in a.float_weights:
        assert a.float_weights[name].tobytes() == b.float_weights[name].tobytes(), name
    drop = ("train_seconds",)
    assert {k: v for k, v in a.info.items() if k not in drop} == \
        {k: v for k, v in b.info.items() if k not in drop}
