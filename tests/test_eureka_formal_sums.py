"""Formal check (SymbiYosys BMC) of the core with the moved-sum form its default does not build:
the 2 x 2 core of ``tests/test_formal_eureka.py`` (whose ``moved_sum="auto"`` resolves to
``"tree"``, checked there) with ``moved_sum="accumulate"``, against its transaction-level reference,
for any input."""

import dataclasses

import pytest

from hw.eureka.core import EurekaCore
from test_formal_eureka import CORE, DEPTH, CoreSpec, assert_formal

pytestmark = pytest.mark.formal


def test_core_moved_sum_accumulate():
    # the moved sums added in the accumulate: same outputs as the reference for any beats
    assert CORE.moved_sum_resolved == "tree"          # the other form is test_formal_eureka's
    cfg = dataclasses.replace(CORE, moved_sum="accumulate")
    assert_formal(CoreSpec(EurekaCore(cfg)), "eureka_core_moved_accumulate", depth=DEPTH)
