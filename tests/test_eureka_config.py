import dataclasses

import pytest

from hw.common.config import ConfigError
from hw.eureka.config import EurekaConfig, parse_mode


def test_defaults_and_derived():
    c = EurekaConfig()
    assert (c.rows, c.lanes, c.group, c.value_width, c.acc_width) == (8, 32, 8, 8, 32)
    assert c.variant == "eureka" and c.has_mux and c.has_suds
    assert c.sel_width == 3 and c.window == 256 and c.macs == 256
    assert "nm:2:4" in c.supported_modes and "nm:4:8" in c.supported_modes
    assert "suds" in c.supported_modes and "unstructured-nosuds" in c.supported_modes


def test_round_trip():
    c = EurekaConfig(rows=4, lanes=4, group=4, modes=("dense", "nm:2:4", "suds"))
    assert EurekaConfig.from_dict(c.to_dict()) == c


def test_baselines_same_rxl():
    c = EurekaConfig(rows=4, lanes=8)
    d, a = c.dense_baseline(), c.ampere24_baseline()
    assert (d.rows, d.lanes, d.group, d.variant) == (4, 8, 1, "dense")
    assert d.supported_modes == ("dense",) and not d.has_mux and not d.has_suds
    assert (a.rows, a.lanes, a.group, a.variant) == (4, 8, 4, "ampere24")
    assert a.supported_modes == ("dense", "nm:2:4") and a.has_mux and not a.has_suds


def test_nm_needs_m_dividing_g():
    c = EurekaConfig(rows=4, lanes=4, group=4)
    assert "nm:2:8" not in c.supported_modes
    with pytest.raises(ConfigError, match=r"modes: 'nm:2:8'.*group 4"):
        EurekaConfig(rows=4, lanes=4, group=4, modes=("nm:2:8",))
    with pytest.raises(ValueError, match="not supported"):
        c.dense_baseline().check_mode("suds")


@pytest.mark.parametrize("field,value,match", [
    ("rows", 0, r"rows must be in 1\.\.64, not 0"),
    ("lanes", 300, r"lanes must be in 1\.\.256, not 300"),
    ("group", 6, r"group must be a power of two in 1\.\.16, not 6"),
    ("group", 1, r"group must be a power of two in 2\.\.16 for variant 'eureka', not 1"),
    ("variant", "sparta", r"variant must be one of .*not 'sparta'"),
    ("acc_width", 16, r"acc_width must be in 23\.\.64, not 16"),
    ("value_width", True, r"value_width must be an integer, not True"),
    ("modes", ["dense"], r"modes must be a tuple"),
    ("modes", ("dense", "dense"), r"must not repeat"),
])
def test_bad_fields_named(field, value, match):
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(EurekaConfig(), **{field: value})


def test_variant_group_rules():
    with pytest.raises(ConfigError, match="group must be 1 for variant 'dense'"):
        EurekaConfig(variant="dense", group=4)
    with pytest.raises(ConfigError, match="group must be 4 for variant 'ampere24'"):
        EurekaConfig(variant="ampere24", group=8)
    with pytest.raises(ConfigError, match="'suds' is not supported by variant 'ampere24'"):
        EurekaConfig(variant="ampere24", group=4, modes=("suds",))


def test_parse_mode():
    assert parse_mode("nm:2:4") == ("nm", 2, 4)
    assert parse_mode("suds") == ("suds", None, None)
    for bad in ("nm:4:2", "nm:x:4", "sparse", 3):
        with pytest.raises(ValueError, match="mode"):
            parse_mode(bad)


def test_presets_resolve(tmp_path):
    import json

    from hw.common.config import ConfigError
    from hw.eureka.config import PAPER, PRESETS, SMALL, resolve
    assert resolve("small") is SMALL and resolve("paper") is PAPER and set(PRESETS) == {"small", "paper"}
    assert (PAPER.rows, PAPER.lanes, PAPER.group) == (8, 32, 8)
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"config": dataclasses.replace(SMALL, rows=2).to_dict()}))
    assert resolve(f).rows == 2
    with pytest.raises(ConfigError, match="'small'"):
        resolve("huge")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(tmp_path / "missing.json")
    f.write_text(json.dumps({"rows": 0}))
    with pytest.raises(ConfigError, match="rows"):
        resolve(f)


# -- SUDS area options (issue 11 item 1) -----------------------------------------------------------


@pytest.mark.parametrize("kw,match", [
    ({"steer": "middle"}, r"steer must be one of .*not 'middle'"),
    ({"steer": "after", "disp_budget": 3}, r"disp_budget must divide lanes \(8\) or be 0, not 3"),
    ({"steer": "after", "disp_budget": 9}, r"disp_budget must be in 0\.\.8, not 9"),
    ({"steer": "after", "disp_budget": -1}, r"disp_budget must be in 0\.\.8, not -1"),
    ({"steer": "before", "disp_budget": 2}, r"disp_budget 2 needs steer='after'"),
])
def test_suds_options_validated(kw, match):
    with pytest.raises(ConfigError, match=match):
        EurekaConfig(rows=4, lanes=8, **kw)


def test_suds_options_derived_and_baselines():
    c = EurekaConfig(rows=4, lanes=8, steer="after", disp_budget=2)
    assert c.segment == 4
    assert EurekaConfig(rows=4, lanes=8, steer="after", disp_budget=0).segment == 1
    assert EurekaConfig.from_dict(c.to_dict()) == c
    # the baselines have no SUDS path, so they drop the SUDS options
    for b in (c.dense_baseline(), c.ampere24_baseline()):
        assert (b.steer, b.disp_budget) == ("before", 0)


def test_select_validated_and_kept_by_baselines():
    with pytest.raises(ConfigError, match=r"select must be one of \['mux', 'onehot'\], not 'tree'"):
        EurekaConfig(rows=4, lanes=8, select="tree")
    c = EurekaConfig(rows=4, lanes=8, select="mux")
    assert EurekaConfig().select == "onehot" and EurekaConfig.from_dict(c.to_dict()) == c
    # the 2:4 baseline's select is written the same way as the core it is compared with
    assert c.ampere24_baseline().select == "mux"
    assert EurekaConfig().ampere24_baseline().select == "onehot"


# -- independent lanes (issue 11 item 2) -------------------------------------------------------


@pytest.mark.parametrize("kw,match", [
    ({"lane_sync": "async"},
     r"lane_sync must be one of \['independent', 'lockstep'\], not 'async'"),
    ({"lane_sync": "independent"}, r"lane_sync 'independent' needs disp_budget=0 .*not 1"),
    ({"lane_sync": "independent", "disp_budget": 0, "variant": "ampere24", "group": 4},
     r"lane_sync 'independent' needs variant 'eureka'.*not 'ampere24'"),
])
def test_lane_sync_validated(kw, match):
    with pytest.raises(ConfigError, match=match):
        EurekaConfig(rows=4, lanes=8, **kw)


def test_lane_sync_derived_and_baselines():
    from hw.eureka.config import EurekaGemmConfig
    c = EurekaConfig(rows=4, lanes=8, lane_sync="independent", disp_budget=0)
    assert c.independent and not EurekaConfig().independent
    assert EurekaConfig.from_dict(c.to_dict()) == c
    assert not c.dense_baseline().independent and not c.ampere24_baseline().independent
    with pytest.raises(ConfigError, match="core.lane_sync must be 'lockstep' for the preload top"):
        EurekaGemmConfig(core=c)


# -- trees shared between rows (issue 11 item 1) ------------------------------------------------


@pytest.mark.parametrize("kw,match", [
    ({"tree_share": 3}, r"tree_share must be in 1\.\.2, not 3"),
    ({"tree_share": True}, r"tree_share must be an integer, not True"),
    ({"tree_share": 2, "rows": 3}, r"tree_share 2 needs rows to be a multiple of it .*not 3"),
    ({"tree_share": 2, "variant": "ampere24", "group": 4},
     r"tree_share 2 needs variant 'eureka' .*not 'ampere24'"),
    ({"tree_share": 2, "lane_sync": "independent", "disp_budget": 0},
     r"tree_share 2 needs lane_sync 'lockstep' .*not 'independent'"),
    ({"tree_share": 2, "steer": "before", "disp_budget": 0},
     r"tree_share 2 needs steer='after' with SUDS .*not 'before'"),
])
def test_tree_share_validated(kw, match):
    with pytest.raises(ConfigError, match=match):
        EurekaConfig(**{"rows": 4, "lanes": 8, **kw})


def test_tree_share_derived_and_baselines():
    from hw.eureka.config import EurekaGemmConfig
    c = EurekaConfig(rows=4, lanes=8, tree_share=2)
    assert (c.issue_interval, EurekaConfig().issue_interval) == (2, 1)
    assert EurekaConfig.from_dict(c.to_dict()) == c
    assert c.dense_baseline().tree_share == c.ampere24_baseline().tree_share == 1
    # steer is irrelevant without SUDS
    assert EurekaConfig(rows=4, lanes=8, tree_share=2, modes=("dense",), steer="before",
                        disp_budget=0).issue_interval == 2
    with pytest.raises(ConfigError, match="core.tree_share must be 1 for the preload top"):
        EurekaGemmConfig(core=c)


def test_moved_sum_validated():
    c = EurekaConfig(rows=4, lanes=8, moved_sum="tree")
    assert EurekaConfig.from_dict(c.to_dict()) == c
    assert c.dense_baseline().moved_sum_resolved == "accumulate"
    with pytest.raises(ConfigError, match=r"moved_sum must be one of \['accumulate', 'auto', "
                                          r"'tree'\]"):
        EurekaConfig(rows=4, lanes=8, moved_sum="adder")
    for kw in ({"disp_budget": 2}, {"disp_budget": 0}, {"tree_share": 2}):
        with pytest.raises(ConfigError, match="moved_sum 'tree' needs disp_budget=1 and "
                                              "tree_share=1"):
            EurekaConfig(rows=4, lanes=8, moved_sum="tree", **kw)
    with pytest.raises(ConfigError, match="moved_sum 'tree' needs the 'suds' mode"):
        EurekaConfig(rows=4, lanes=8, moved_sum="tree", modes=("dense", "nm:2:4"))


def test_moved_sum_auto_resolves_where_the_tree_form_applies():
    # "auto" (the default) is the tree form with SUDS, D=1 and a tree per row, else accumulate;
    # the resolved form is in the repr and the sidecar dict, and decides equality
    d = EurekaConfig()
    assert (d.moved_sum, d.moved_sum_resolved) == ("auto", "tree")
    assert "moved_sum_resolved='tree'" in repr(d) and d.to_dict()["moved_sum_resolved"] == "tree"
    assert d == dataclasses.replace(d, moved_sum="tree") != dataclasses.replace(
        d, moved_sum="accumulate")
    assert EurekaConfig.from_dict(d.to_dict()) == d
    for kw in ({"disp_budget": 0}, {"disp_budget": 2}, {"steer": "before", "disp_budget": 0},
               {"tree_share": 2}, {"modes": ("dense", "nm:2:4")},
               {"lane_sync": "independent", "disp_budget": 0}):
        assert dataclasses.replace(d, **kw).moved_sum_resolved == "accumulate", kw
    for base in (d.dense_baseline(), d.ampere24_baseline()):
        assert base.moved_sum_resolved == "accumulate"
    with pytest.raises(ConfigError, match="moved_sum_resolved 'accumulate' does not match"):
        EurekaConfig.from_dict({**d.to_dict(), "moved_sum_resolved": "accumulate"})
    # a dict without the derived entry (a plain field dict) is accepted
    plain = {k: v for k, v in d.to_dict().items() if k != "moved_sum_resolved"}
    assert EurekaConfig.from_dict(plain) == d
