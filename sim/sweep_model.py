"""The workloads of a sweep and the cycle-model task of one point.

Kept apart from the other tasks (:mod:`sim.sweep_work`) because the text of this module is part of
the cache key of every model result (:data:`sim.sweep.SOURCES`): a change to synthesis or RTL-check
code does not invalidate the models. Like every task, :func:`model_task` is a plain function of
plain data, run on a Dask worker; it catches nothing (an exception is the point's error).

Workloads
---------
A workload is a dict with one of three shapes (the spec's ``[[workload]]`` tables, see
:mod:`sim.sweep`):

* ``{"network": "vgg16", "size": None, "layers": None}``: the 13 VGG-16 conv layers of
  ``make bench`` (:data:`sim.bench_sparten.VGG16`, the same seeded tensors), optionally spatially
  reduced to ``size`` x ``size`` or cut to some ``layers``;
* ``{"network": "eureka_gemm"}``: the EUREKA bench's GEMM (:data:`sim.bench_eureka.M` x
  :data:`~sim.bench_eureka.K` at its headline density, one output column);
* ``{"layer": {c, k, h, w, r, s, stride, padding, d_w, d_a}}``: one conv layer of uniformly random
  weights and activations;
* ``{"gemm": {m, k, n, d_w, d_a}}``: ``D[m,n] = W[m,k] x A[k,n]``, run on SparTen as a 1x1 conv
  on a ``1 x n`` map.

Every layer is a conv ``w[K,C,R,S]`` on ``a[C,H,W]``; EUREKA runs it as the GEMM
``W[K, C*R*S] x A[C*R*S, Ho*Wo]`` (:func:`golden.eureka.conv2d_gemm`: its cycles depend on the
weights and the column count only). ``structure = "nm:N:M"`` makes the weights N:M-structured
(``d_w`` is then N/M); ``prune_nm = true`` lets an unstructured workload run the ``nm:N:M`` modes by
keeping the N largest magnitudes of every group (this changes the network, and the result says so).
"""

import time

import numpy as np

from golden.balance import METHODS

__all__ = ["layers_of", "layer_arrays", "model_task", "config_of", "NETWORKS", "POINT_FIELDS"]

#: Named networks a workload may give (``network = NAME``); what each is, for ``--help``.
NETWORKS = {
    "vgg16": "the 13 VGG-16 conv layers of make bench (Han et al. 2015 weight densities)",
    "eureka_gemm": "the EUREKA bench GEMM W[128x2304] at d_w 0.2, one column",
}

#: Point fields that are not config fields: the sparsity mode / balancing / column order a point
#: runs, per engine, with their accepted values (the default is the first).
POINT_FIELDS = {
    # balance.METHODS runs from no balancing to the best; a sweep's default is the best
    "sparten": {"method": tuple(reversed(METHODS))},
    "eureka": {"mode": None, "order": ("natural", "balanced")},   # mode: see hw.eureka.config
}



# -- workloads ----------------------------------------------------------------------------------


def layers_of(workload):
    """The layers of a workload: a list of dicts ``{"name", ...}`` that :func:`layer_arrays`
    turns into tensors (cheap: no tensor is made here)."""
    if "network" in workload:
        net = workload["network"]
        if net == "vgg16":
            from .bench_sparten import VGG16
            names = [row[0] for row in VGG16]
            keep = workload.get("layers") or names
            return [{"name": n, "vgg16": n, "size": workload.get("size")} for n in keep]
        if net == "eureka_gemm":
            from .bench_eureka import HEADLINE_DENSITY, K, M
            return [{"name": "gemm", "gemm": {"m": M, "k": K, "n": 1, "d_w": HEADLINE_DENSITY,
                                              "d_a": 1.0}, "seed": workload.get("seed", 0)}]
        raise ValueError(f"network must be one of {sorted(NETWORKS)!r}, not {net!r}")
    extra = {k: workload[k] for k in ("seed", "structure") if k in workload}
    if "layer" in workload:
        return [{"name": workload.get("name", "layer"), "layer": dict(workload["layer"]), **extra}]
    if "gemm" in workload:
        return [{"name": workload.get("name", "gemm"), "gemm": dict(workload["gemm"]), **extra}]
    if "layers" in workload:     # a LAYERS.json list: each entry a layer or gemm dict
        out = []
        for i, ly in enumerate(workload["layers"]):
            kind = "gemm" if "m" in ly else "layer"
            out.append({"name": ly.get("name", f"layer{i}"), kind: dict(ly), **extra,
                        "seed": [workload.get("seed", 0), i]})
        return out
    raise ValueError("a workload needs 'network', 'layer', 'gemm' or 'layers'")


def _values(rng, shape, density, signed):
    mag = rng.integers(1, 128, size=shape)
    vals = np.where(rng.random(shape) < 0.5, -mag, mag) if signed else mag
    return np.where(rng.random(shape) < density, vals, 0).astype(np.int8)


def _nm_weights(rng, shape, n, m):
    """Weights with exactly ``n`` non-zeros in every group of ``m`` along the reduction axis."""
    K, rest = shape[0], int(np.prod(shape[1:]))
    pad = (-rest) % m
    keep = np.argsort(rng.random((K, (rest + pad) // m, m)), axis=-1) < n
    w = _values(rng, keep.shape, 1.0, True) * keep
    return w.reshape(K, -1)[:, :rest].reshape(shape).astype(np.int8)


def layer_arrays(layer):
    """``(w[K,C,R,S], a[C,H,W], stride, padding)`` of one layer of :func:`layers_of`."""
    if "vgg16" in layer:
        from .bench_sparten import layer_tensors
        w, a = layer_tensors(layer["vgg16"], layer.get("size"))
        return w, a, 1, 1
    seed = layer.get("seed", 0)
    rng = np.random.default_rng([2016, *np.atleast_1d(seed).tolist()])
    if "gemm" in layer:
        g = layer["gemm"]
        wshape, ashape, stride, padding = (g["m"], g["k"], 1, 1), (g["k"], 1, g["n"]), 1, 0
        d_w, d_a = g["d_w"], g.get("d_a", 1.0)
    else:
        g = layer["layer"]
        r, s = g.get("r", 3), g.get("s", g.get("r", 3))
        wshape = (g["k"], g["c"], r, s)
        ashape = (g["c"], g["h"], g.get("w", g["h"]))
        stride, padding = g.get("stride", 1), g.get("padding", 0)
        d_w, d_a = g["d_w"], g.get("d_a", 1.0)
    structure = layer.get("structure", "unstructured")
    if structure == "unstructured":
        w = _values(rng, wshape, d_w, True)
    else:
        from hw.eureka.config import parse_mode
        _, n, m = parse_mode(structure)
        w = _nm_weights(rng, wshape, n, m)
    a = _values(rng, ashape, d_a, False)
    return w, a, stride, padding


def _prune_nm(w2, n, m):
    """Keep the ``n`` largest magnitudes of every ``m`` consecutive weights of each row."""
    M, K = w2.shape
    pad = (-K) % m
    g = np.pad(w2, ((0, 0), (0, pad))).reshape(M, -1, m)
    order = np.argsort(-np.abs(g), axis=-1, kind="stable")
    keep = np.zeros(g.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :n], True, axis=-1)
    return (g * keep).reshape(M, -1)[:, :K]


# -- tasks --------------------------------------------------------------------------------------


def config_of(engine, config):
    if engine == "sparten":
        from hw.sparten.config import SparTenConfig
        return SparTenConfig.from_dict(config)
    from hw.eureka.config import EurekaConfig
    return EurekaConfig.from_dict(config)


def model_task(engine, config, point, workload):
    """Cycle model of one point on a whole workload.

    Returns ``{"cycles", "dense_cycles", "dense_macs", "layers": [...], "seconds", ...}``:
    ``dense_cycles`` is the dense baseline of the same multipliers (SparTen: the same units
    without skipping; EUREKA: the dense core of the same R x L), ``dense_macs`` the MACs of the
    dense layer (the work, the same for every config).
    """
    t0 = time.monotonic()
    cfg = config_of(engine, config)
    rows = []
    for layer in layers_of(workload):
        w, a, stride, padding = layer_arrays(layer)
        K, C, R, S = w.shape
        from golden.conv import conv_output_shape
        ho, wo = conv_output_shape(a.shape[1], a.shape[2], R, S, stride, padding)
        row = {"name": layer["name"], "dense_macs": int(K * C * R * S * ho * wo)}
        if engine == "sparten":
            from golden import balance
            from golden.sparten_model import layer_cycles
            from hw.sparten.layer import SparTenLayer
            perm = balance.assign(w, cfg.n_units, point["method"], chunk=cfg.chunk)
            r = layer_cycles(w, a, cfg, stride=stride, padding=padding, perm=perm,
                             pipeline=SparTenLayer.latency_of(cfg))
            row.update(cycles=int(r["cycles"]), dense_cycles=int(r["dense_cycles"]),
                       onesided_cycles=int(r["onesided_cycles"]),
                       matched_macs=int(r["matched_macs"]))
        else:
            from golden import eureka as ge
            # the weight operand of golden.eureka.conv2d_gemm; the cycles need only it and the
            # column count (building the im2col activations would cost GBs on VGG-16's conv1)
            w2 = w.reshape(K, C * R * S)
            mode = point["mode"]
            if mode.startswith("nm:") and workload.get("prune_nm"):
                from hw.eureka.config import parse_mode
                _, n, m = parse_mode(mode)
                w2 = _prune_nm(w2, n, m)
            cm = ge.cycle_model(w2, ho * wo, mode, cfg, permute=point.get("order") == "balanced")
            row.update(cycles=int(cm["cycles"]), dense_cycles=int(cm["dense_cycles"]),
                       macs=int(cm["macs"]), displaced=int(cm["displaced"]))
        rows.append(row)
    out = {k: sum(r[k] for r in rows) for k in ("cycles", "dense_cycles", "dense_macs")}
    if engine == "sparten":
        out["onesided_cycles"] = sum(r["onesided_cycles"] for r in rows)
    out["layers"] = rows
    out["seconds"] = round(time.monotonic() - t0, 3)
    return out
