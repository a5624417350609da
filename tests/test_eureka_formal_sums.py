"""Formal check (SymbiYosys BMC) of the core with ``moved_sum="tree"``: the 2 x 2 core of
``tests/test_formal_eureka.py`` against its transaction-level reference, for any input."""

import dataclasses

import pytest

from hw.eureka.core import EurekaCore
from test_formal_eureka import CORE, DEPTH, CoreSpec, assert_formal

pytestmark = pytest.mark.formal


def test_core_moved_sum_tree():
    # the moved sums added after the row trees: same outputs as the reference for any beats
    assert_formal(CoreSpec(EurekaCore(dataclasses.replace(CORE, moved_sum="tree"))),
                  "eureka_core_moved_tree", depth=DEPTH)
