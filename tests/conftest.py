"""Shared pytest fixtures.

Seeds are deterministic: every randomised test takes ``seed`` (default 1, or ``SEED=n`` in the
environment) and names it in its failure message; rerun with ``SEED=n`` to reproduce.
"""

import os

import pytest


@pytest.fixture
def seed():
    return int(os.environ.get("SEED", "1"))


def pytest_report_header(config):
    return f"sparse-hw: SEED={os.environ.get('SEED', '1')} WAVES={os.environ.get('WAVES', '0')}"
