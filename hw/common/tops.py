"""Tops of hw/common that ``sparse-hw verilog`` emits."""

import dataclasses

from ..top import Top  # noqa: F401

TOPS = []


def _sparten_dense_macs():
    # Like-for-like area baselines of SparTen (synth/area.py pairs them): a dense MAC array of as
    # many MACs, widths and chunk as the registered SparTen engine top (layer), and one dense MAC
    # unit at the chunk of the registered compute-unit top (per-unit comparison at paper size).
    from ..sparten import tops as sparten_tops
    from ..sparten.config import SparTenConfig
    from ..sparten.dense_baseline import DenseMacArray, DenseMacConfig
    engine = next((t.config for t in sparten_tops.TOPS if t.role == "engine"), SparTenConfig())
    unit = next((t.config for t in sparten_tops.TOPS if t.name == "sparten_cu"), SparTenConfig())
    array = DenseMacConfig.like(engine)
    one = DenseMacConfig.like(dataclasses.replace(unit, n_units=1))
    cluster = next((t.config for t in sparten_tops.TOPS if t.name == "sparten_cluster"), None)
    return [
        Top("sparten_dense_mac", array, DenseMacArray, engine="sparten", role="dense-baseline",
            description=f"dense MAC array, {array.n_units} MACs, chunk {array.chunk} (as the "
                        "SparTen engine top)"),
        Top("sparten_dense_unit", one, DenseMacArray, engine="sparten", role="dense-baseline",
            description=f"one dense MAC unit, chunk {one.chunk} (as the SparTen compute unit)"),
    ] + ([] if cluster is None else [
        Top("sparten_dense_array", DenseMacConfig.like(cluster), DenseMacArray, engine="sparten",
            role="dense-baseline",
            description=f"dense MAC array, {cluster.n_units} MACs, chunk {cluster.chunk} (as the "
                        "paper-sized SparTen cluster)"),
    ])


TOPS.extend(_sparten_dense_macs())


def _innerjoin():
    # SparTen's inner-join front end at the paper's chunk size, one match per cycle.
    from .innerjoin import InnerJoin, InnerJoinConfig
    cfg = InnerJoinConfig(chunk=128, matches_per_cycle=1)
    return Top("innerjoin128", cfg, lambda c: InnerJoin(c.chunk, c.matches_per_cycle),
               engine="common", role="block",
               description="inner join of two 128-bit chunk masks, one match per cycle")


TOPS.append(_innerjoin())
