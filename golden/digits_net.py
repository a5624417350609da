"""A small pruned, int8-quantised CNN on scikit-learn's bundled digits, and its exact integer model.

This is the network the end-to-end demo (``sparse-hw e2e``) runs on the RTL. It is trained with
PyTorch on the CPU, pruned, quantised and then frozen into a :class:`QuantNet`: int8 weights plus a
per-layer integer requantisation (multiplier, shift). :func:`int_forward` is the golden integer model
(pure NumPy through :mod:`golden.conv` and :mod:`golden.quant`); the hardware must reproduce its logits
bit for bit.

Network (PyTorch layouts, no biases so that every layer is a plain convolution)::

    input  [1, 8, 8]   int8 = the data set's pixel values 0..16 (input scale 1/16, exact)
    conv1  1 -> 16, 3x3, stride 1, pad 1 -> [16, 8, 8]   requantise -> ReLU      (SparTen)
    conv2 16 -> 32, 3x3, stride 2, pad 1 -> [32, 4, 4]   requantise -> ReLU      (SparTen)
    conv3 32 -> 32, 3x3, stride 2, pad 1 -> [32, 2, 2]   requantise -> ReLU      (SparTen)
    fc    128 -> 10 (flatten in PyTorch order c, y, x)   int32 logits            (EUREKA GEMM)

Pruning: unstructured magnitude pruning per layer with fine-tuning, in a few steps up to the target
sparsity of :data:`DEFAULT_HPARAMS` (``variant="unstructured"``); the ``"2:4"`` variant prunes the
classifier to 2:4 along its input dimension instead (the layer EUREKA/Ampere run in N:M mode), the
convolutions stay unstructured.

Quantisation *(ours, the usual post-training scheme)*: weights symmetric per layer,
``w_q = round(w / s_w)`` in -127..127 with ``s_w = max|w| / 127`` (pruned zeros stay zero);
activations after ReLU in 0..127 with a scale calibrated on the training split (a high percentile of
the float activations); requantisation ``a_out = relu(requantize(acc, M, shift))`` with
``M / 2**shift ~= s_in * s_w / s_out`` and round half up, saturating to int8.

The trained and quantised model is cached in ``build/digits_net/<key>.npz`` where ``key`` hashes the
hyperparameters, the variant and :data:`MODEL_VERSION`; repeated runs load it instead of training.
"""

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_HPARAMS", "MODEL_VERSION", "VARIANTS", "QuantLayer", "QuantNet", "load_data",
           "build", "int_forward", "int_forward_trace", "float_logits", "int_forward_batch", "int_accuracy", "requant_params",
           "prune_magnitude", "prune_nm", "cache_path"]

#: Bump when training, pruning or quantisation code changes meaning (invalidates the cache).
MODEL_VERSION = 2

VARIANTS = ("unstructured", "2:4")

DEFAULT_HPARAMS = {
    "seed": 0,
    "test_size": 0.25,          # held-out split of the 1797 images (stratified)
    "channels": [16, 32, 32],
    "strides": [1, 2, 2],
    "epochs": 30,               # dense training
    "finetune_epochs": 6,       # after each pruning step
    "prune_steps": 4,           # sparsity ramps linearly to the target in this many steps
    "batch": 64,
    "lr": 3e-3,
    # Target weight sparsity per layer (fraction of zeros). conv1 has only 9 weights per filter,
    # so it is pruned less; the bulk of the weights (conv2, conv3) is pruned to 80-85%.
    "sparsity": {"conv1": 0.5, "conv2": 0.8, "conv3": 0.85, "fc": 0.8},
    "act_percentile": 99.99,    # activation scale calibration
    "mult_bits": 15,            # requantisation multiplier in [2**(mult_bits-1), 2**mult_bits)
}


@dataclasses.dataclass(frozen=True)
class QuantLayer:
    """One layer of the integer network.

    Members
    -------
    name : str
    kind : str
        ``"conv"`` (weights ``[K, C, R, S]``) or ``"fc"`` (weights ``[K, C]``).
    weight : np.ndarray
        int8 values held in int64.
    stride, padding : int
    multiplier, shift : int or None
        Integer requantisation of the accumulator (``None`` for the classifier, whose int32
        accumulators are the logits).
    relu : bool
    """
    name: str
    kind: str
    weight: np.ndarray
    stride: int = 1
    padding: int = 0
    multiplier: int | None = None
    shift: int | None = None
    relu: bool = False

    @property
    def density(self):
        return float(np.count_nonzero(self.weight)) / self.weight.size

    @property
    def requant(self):
        """``(multiplier, shift)`` or ``None``."""
        return None if self.multiplier is None else (self.multiplier, self.shift)


@dataclasses.dataclass(frozen=True)
class QuantNet:
    """The frozen int8 network plus what is known about how it was made.

    Members
    -------
    layers : tuple of QuantLayer
        Convolutions first, classifier last.
    variant : str
        ``"unstructured"`` or ``"2:4"``.
    info : dict
        JSON-able facts: hyperparameters, float accuracies (dense and pruned), training seconds,
        scales, per-layer weight sparsity, cache key.
    float_weights : dict
        The pruned float weights (``{layer name: float32 array}``) before quantisation, for the
        float accuracy on any subset of images (:func:`float_logits`).
    """
    layers: tuple
    variant: str
    info: dict
    float_weights: dict = dataclasses.field(default_factory=dict, compare=False)

    @property
    def convs(self):
        return [l for l in self.layers if l.kind == "conv"]

    @property
    def fc(self):
        return self.layers[-1]

    @property
    def weight_sparsity(self):
        """Overall fraction of zero weights (all layers)."""
        total = sum(l.weight.size for l in self.layers)
        nz = sum(int(np.count_nonzero(l.weight)) for l in self.layers)
        return 1.0 - nz / total


# ---------------------------------------------------------------------------------------------
# data

def load_data(seed=0, test_size=0.25):
    """Digits split into train/test: ``(x_train, y_train, x_test, y_test)``.

    ``x`` is int64 ``[N, 1, 8, 8]`` with the data set's pixel values 0..16 (the int8 network input);
    the float network sees ``x / 16``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.astype(np.int64)[:, None, :, :]
    if x.min() < 0 or x.max() > 16 or not np.array_equal(x, d.images[:, None]):
        raise ValueError("scikit-learn digits are expected to be integers 0..16")
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    return xtr, ytr, xte, yte


INPUT_SCALE = 1.0 / 16.0


# ---------------------------------------------------------------------------------------------
# pruning helpers (NumPy, usable on any weight array)

def prune_magnitude(w, sparsity):
    """Mask keeping the largest-magnitude ``1 - sparsity`` fraction of ``w`` (ties: lower index).

    Returns a bool array of ``w``'s shape. Deterministic: a stable sort on ``-|w|``.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
    flat = np.abs(np.asarray(w, dtype=np.float64)).ravel()
    keep = int(round(flat.size * (1.0 - sparsity)))
    order = np.argsort(-flat, kind="stable")
    mask = np.zeros(flat.size, dtype=bool)
    mask[order[:keep]] = True
    return mask.reshape(np.shape(w))


def prune_nm(w, n=2, m=4):
    """Mask keeping the ``n`` largest-magnitude weights of every group of ``m`` along the last axis."""
    w = np.asarray(w, dtype=np.float64)
    if w.shape[-1] % m:
        raise ValueError(f"last dimension {w.shape[-1]} is not a multiple of m={m}")
    g = np.abs(w).reshape(-1, m)
    order = np.argsort(-g, axis=1, kind="stable")[:, :n]
    mask = np.zeros_like(g, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask.reshape(w.shape)


def requant_params(real_multiplier, mult_bits=15):
    """Integer ``(multiplier, shift)`` with ``multiplier / 2**shift ~= real_multiplier``.

    The multiplier is normalised into ``[2**(mult_bits-1), 2**mult_bits)`` for the most precision;
    ``shift`` must land in 1..31 (ValueError otherwise: the scales are unusable).
    """
    if not real_multiplier > 0:
        raise ValueError(f"requantisation multiplier must be positive, got {real_multiplier!r}")
    shift = 0
    m = real_multiplier
    while m < 2 ** (mult_bits - 1):
        m *= 2
        shift += 1
    while m >= 2 ** mult_bits:
        m /= 2
        shift -= 1
    mult = int(round(m))
    if mult == 2 ** mult_bits:
        mult //= 2
        shift -= 1
    if not 1 <= shift <= 31:
        raise ValueError(f"requantisation shift {shift} outside 1..31 for multiplier "
                         f"{real_multiplier!r}")
    return mult, shift


# ---------------------------------------------------------------------------------------------
# integer reference model

def int_forward(net, image):
    """Logits (int64 ``[10]``) of one int8 image ``[1, 8, 8]`` through the golden integer model.

    Every convolution is :func:`golden.conv.conv2d_dense` (exact, int32 accumulators checked),
    followed by :func:`golden.quant.requantize` to int8 and ReLU; the classifier is
    :func:`golden.conv.fc` on the flattened map (PyTorch order c, y, x).
    """
    acts = int_forward_trace(net, image)
    return acts[-1]


def int_forward_trace(net, image):
    """Every layer's output for one image: int8 maps after each conv, then the int64 logits."""
    from golden.conv import conv2d_dense, fc, relu
    from golden.quant import requantize

    a = np.asarray(image, dtype=np.int64)
    out = []
    for layer in net.layers:
        if layer.kind == "conv":
            acc = conv2d_dense(a, layer.weight, stride=layer.stride, padding=layer.padding)
            a = requantize(acc, layer.multiplier, layer.shift)
            if layer.relu:
                a = relu(a)
            out.append(np.asarray(a, dtype=np.int64))
        else:
            out.append(np.asarray(fc(a.reshape(-1), layer.weight), dtype=np.int64))
    return out


def int_forward_batch(net, images):
    """Logits ``[N, 10]`` for int8 images ``[N, 1, 8, 8]`` (loops :func:`int_forward`)."""
    return np.stack([int_forward(net, im) for im in images])


def float_logits(net, images):
    """Logits ``[N, 10]`` of the pruned float network (before quantisation) for int images.

    Same architecture as the integer model, in float64 PyTorch; inputs are ``images / 16``.
    """
    import torch
    import torch.nn.functional as F

    if not net.float_weights:
        raise ValueError("this QuantNet carries no float weights")
    with torch.no_grad():
        h = torch.tensor(np.asarray(images), dtype=torch.float64) * INPUT_SCALE
        for layer in net.convs:
            w = torch.tensor(net.float_weights[layer.name], dtype=torch.float64)
            h = F.relu(F.conv2d(h, w, stride=layer.stride, padding=layer.padding))
        w = torch.tensor(net.float_weights[net.fc.name], dtype=torch.float64)
        return (h.reshape(h.shape[0], -1) @ w.T).numpy()


def int_accuracy(net, images, labels):
    logits = int_forward_batch(net, images)
    return float(np.mean(np.argmax(logits, axis=1) == labels)), logits


# ---------------------------------------------------------------------------------------------
# training

def _hparams(hparams):
    hp = json.loads(json.dumps(DEFAULT_HPARAMS))
    for k, v in (hparams or {}).items():
        if k not in hp:
            raise ValueError(f"unknown hyperparameter {k!r}; known: {sorted(hp)}")
        hp[k] = v
    if len(hp["channels"]) != 3 or len(hp["strides"]) != 3:
        raise ValueError("channels and strides must have 3 entries (three conv layers)")
    return hp


def cache_key(variant, hparams=None):
    hp = _hparams(hparams)
    blob = json.dumps({"v": MODEL_VERSION, "variant": variant, "hp": hp}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_path(variant, hparams=None, cache_dir=None):
    if cache_dir is None:
        root = Path(os.environ.get("SPARSE_HW_BUILD", Path(__file__).resolve().parents[1] / "build"))
        cache_dir = root / "digits_net"
    tag = variant.replace(":", "of")
    return Path(cache_dir) / f"{tag}-{cache_key(variant, hparams)}.npz"


def _torch_net(hp):
    import torch.nn as nn

    c1, c2, c3 = hp["channels"]
    s1, s2, s3 = hp["strides"]
    size = 8
    for s in (s1, s2, s3):
        size = (size + 2 - 3) // s + 1
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, stride=s1, padding=1, bias=False), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, stride=s2, padding=1, bias=False), nn.ReLU(),
        nn.Conv2d(c2, c3, 3, stride=s3, padding=1, bias=False), nn.ReLU(),
        nn.Flatten(), nn.Linear(c3 * size * size, 10, bias=False))


LAYER_NAMES = ("conv1", "conv2", "conv3", "fc")


def _weighted(model):
    import torch.nn as nn

    mods = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    return dict(zip(LAYER_NAMES, mods))


def _train(model, masks, xtr, ytr, epochs, hp, gen):
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    lossf = torch.nn.CrossEntropyLoss()
    mods = _weighted(model)
    n = len(xtr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, hp["batch"]):
            idx = perm[i:i + hp["batch"]]
            opt.zero_grad()
            loss = lossf(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            if masks:
                with torch.no_grad():
                    for name, m in masks.items():
                        mods[name].weight.mul_(m)
    model.eval()


def _float_accuracy(model, x, y):
    import torch

    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def _train_and_quantise(variant, hp, log):
    import torch

    t0 = time.monotonic()
    xtr_i, ytr, xte_i, yte = load_data(hp["seed"], hp["test_size"])
    # Reproducible figures: one thread (a float reduction split over threads may round
    # differently) and deterministic kernels, whatever the caller set; both restored below.
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(hp["seed"])
        gen = torch.Generator().manual_seed(hp["seed"])
        xtr = torch.tensor(xtr_i, dtype=torch.float32) * INPUT_SCALE
        xte = torch.tensor(xte_i, dtype=torch.float32) * INPUT_SCALE
        ytr_t, yte_t = torch.tensor(ytr), torch.tensor(yte)
        model = _torch_net(hp)
        log(f"digits_net[{variant}]: training dense model ({hp['epochs']} epochs)")
        _train(model, None, xtr, ytr_t, hp["epochs"], hp, gen)
        acc_dense = _float_accuracy(model, xte, yte_t)
        mods = _weighted(model)
        _prune_and_finetune(model, mods, variant, hp, (xtr, ytr_t, xte, yte_t), gen, log)
        acc_pruned = _float_accuracy(model, xte, yte_t)
        float_weights = {name: mod.weight.detach().numpy().astype(np.float32).copy()
                         for name, mod in mods.items()}
        wq, sw = _fake_quantise(mods)
        acc_fakeq = _float_accuracy(model, xte, yte_t)
        act_scales = _activation_scales(model, xtr, hp)
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)

    layers = _quant_layers(wq, sw, act_scales, hp)
    info = {
        "hparams": hp, "variant": variant, "model_version": MODEL_VERSION,
        "float_dense_accuracy": acc_dense, "float_pruned_accuracy": acc_pruned,
        "float_fakequant_accuracy": acc_fakeq,
        "train_seconds": round(time.monotonic() - t0, 2),
        "weight_scales": sw, "act_scales": act_scales,
        "n_train": int(len(xtr_i)), "n_test": int(len(xte_i)),
        "key": cache_key(variant, hp),
    }
    return QuantNet(layers, variant, info, float_weights)


def _prune_and_finetune(model, mods, variant, hp, data, gen, log):
    """``prune_steps`` rounds of magnitude pruning (the classifier at 2:4 from the first round in
    the ``2:4`` variant: the structure is fixed, fine-tuning recovers), each fine-tuned."""
    import torch

    xtr, ytr_t, xte, yte_t = data
    masks = {}
    for step in range(1, hp["prune_steps"] + 1):
        frac = step / hp["prune_steps"]
        for name, mod in mods.items():
            w = mod.weight.detach().numpy()
            if name == "fc" and variant == "2:4":
                mask = prune_nm(w, 2, 4)
            else:
                mask = prune_magnitude(w, hp["sparsity"][name] * frac)
            masks[name] = torch.tensor(mask, dtype=torch.float32)
            with torch.no_grad():
                mod.weight.mul_(masks[name])
        _train(model, masks, xtr, ytr_t, hp["finetune_epochs"], hp, gen)
        log(f"digits_net[{variant}]: pruning step {step}/{hp['prune_steps']}: test accuracy "
            f"{_float_accuracy(model, xte, yte_t):.4f}")


def _fake_quantise(mods):
    """Per layer, int8 weights at the scale max|w| / 127, put back in place as floats (so that
    the calibration sees what the integer network computes): ``(int weights, scales)``."""
    import torch

    wq, sw = {}, {}
    for name, mod in mods.items():
        w = mod.weight.detach().numpy().astype(np.float64)
        s = float(np.max(np.abs(w))) / 127.0
        q = np.clip(np.round(w / s), -127, 127).astype(np.int64)
        wq[name], sw[name] = q, s
        with torch.no_grad():
            mod.weight.copy_(torch.tensor(q * s, dtype=torch.float32))
    return wq, sw


def _activation_scales(model, xtr, hp):
    """Output scale of each conv layer: the ``act_percentile`` percentile of its ReLU outputs on
    the training split, over 127."""
    import torch

    act_scales = []
    with torch.no_grad():
        h = xtr
        for i in range(3):
            h = model[2 * i + 1](model[2 * i](h))
            act_scales.append(float(np.percentile(h.numpy(), hp["act_percentile"])) / 127.0)
    return act_scales


def _quant_layers(wq, sw, act_scales, hp):
    """The integer layers: each conv requantises from its input scale times its weight scale to
    its output scale (ReLU on), the classifier keeps its int32 logits."""
    layers = []
    s_in = INPUT_SCALE
    for i, name in enumerate(LAYER_NAMES[:3]):
        mult, shift = requant_params(s_in * sw[name] / act_scales[i], hp["mult_bits"])
        layers.append(QuantLayer(name, "conv", wq[name], stride=hp["strides"][i], padding=1,
                                 multiplier=mult, shift=shift, relu=True))
        s_in = act_scales[i]
    layers.append(QuantLayer("fc", "fc", wq["fc"]))
    return tuple(layers)


# ---------------------------------------------------------------------------------------------
# cache

def _save(net, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{l.name}.weight": l.weight.astype(np.int8) for l in net.layers}
    arrays.update({f"{k}.float_weight": v for k, v in net.float_weights.items()})
    meta = {"variant": net.variant, "info": net.info,
            "layers": [{"name": l.name, "kind": l.kind, "stride": l.stride, "padding": l.padding,
                        "multiplier": l.multiplier, "shift": l.shift, "relu": l.relu}
                       for l in net.layers]}
    tmp = path.with_name(path.stem + f".tmp{os.getpid()}.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
    tmp.replace(path)


def _load(path):
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        layers = tuple(QuantLayer(weight=z[f"{d['name']}.weight"].astype(np.int64), **d)
                       for d in meta["layers"])
        fw = {d["name"]: z[f"{d['name']}.float_weight"] for d in meta["layers"]}
    return QuantNet(layers, meta["variant"], meta["info"], fw)


def build(variant="unstructured", hparams=None, cache_dir=None, log=None, retrain=False):
    """The quantised network of ``variant``, from the cache or trained now (seconds).

    Parameters
    ----------
    variant : str
        ``"unstructured"`` (every layer unstructured-sparse) or ``"2:4"`` (classifier 2:4).
    hparams : dict or None
        Overrides of :data:`DEFAULT_HPARAMS` (part of the cache key).
    cache_dir : path or None
        Default ``build/digits_net`` (or ``$SPARSE_HW_BUILD/digits_net``).
    log : callable or None
        Progress lines (e.g. ``print``); silent by default.
    retrain : bool
        Ignore a cached model.

    Returns
    -------
    QuantNet
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    hp = _hparams(hparams)
    log = log or (lambda *_: None)
    path = cache_path(variant, hp, cache_dir)
    if path.exists() and not retrain:
        net = _load(path)
        log(f"digits_net[{variant}]: loaded {path}")
        return net
    net = _train_and_quantise(variant, hp, log)
    _save(net, path)
    log(f"digits_net[{variant}]: trained in {net.info['train_seconds']} s, cached {path}")
    return net
