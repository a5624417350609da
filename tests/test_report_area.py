"""report/area.py: an area.json design round-trips through AreaDesign, and the strict reader
rejects a missing field, an unknown one and a design listed twice with one-line errors."""

import dataclasses

import pytest

from report.area import AreaDesign, read_area_designs
from report.schema import ReportError, write_json


def _design(**kw):
    base = dict(design="eureka_core", engine="eureka", role="engine", description="core",
                config={"rows": 8}, library="sky130", corner="tt", area_um2=1000.0, cells=10,
                critical_path_ns=4.0, fmax_mhz=250.0, logic_depth=20, memory_macro_bits=0,
                blocks={"select muxes": {"value": 1000.0, "share": 1.0}}, errors=[])
    return AreaDesign(**{**base, **kw})


def test_area_design_round_trips(tmp_path):
    d = _design(luts=12)
    write_json(tmp_path / "area.json", {"designs": [d, _design(design="eureka_dense",
                                                                 area_um2=None, cells=7)]})
    back = read_area_designs(tmp_path / "area.json")
    assert back["eureka_core"] == d and back["eureka_core"].logic_area == (1000.0, "µm²")
    assert back["eureka_dense"].logic_area == (7, "cells")


def test_reader_rejects_other_shapes(tmp_path):
    doc = dataclasses.asdict(_design())
    del doc["critical_path_ns"]
    write_json(tmp_path / "area.json", {"designs": [doc]})
    with pytest.raises(ReportError, match="eureka_core: missing field 'critical_path_ns'"):
        read_area_designs(tmp_path / "area.json")
    write_json(tmp_path / "area.json", {"designs": [{**dataclasses.asdict(_design()),
                                                     "area": 1.0}]})
    with pytest.raises(ReportError, match="unknown field 'area'"):
        read_area_designs(tmp_path / "area.json")
    write_json(tmp_path / "area.json", {"designs": [_design(), _design()]})
    with pytest.raises(ReportError, match="'eureka_core' listed twice"):
        read_area_designs(tmp_path / "area.json")
    write_json(tmp_path / "area.json", {"tops": []})
    with pytest.raises(ReportError, match="missing field 'designs'"):
        read_area_designs(tmp_path / "area.json")
