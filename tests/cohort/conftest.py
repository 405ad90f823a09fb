"""Fixtures of the cohort tests."""

import pytest

from openidds.cohort.params import Params, load_params


@pytest.fixture(scope="module")
def params() -> Params:
    """Seed 000's bundled parameters."""
    return load_params("seed000")
