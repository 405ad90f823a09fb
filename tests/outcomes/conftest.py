"""Shared fixtures: the public validation datasets in tests/data and a check at R's printed precision."""

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv")


@pytest.fixture(scope="session")
def aml() -> pd.DataFrame:
    return load("aml")


@pytest.fixture(scope="session")
def lung() -> pd.DataFrame:
    return load("lung")


@pytest.fixture(scope="session")
def veteran() -> pd.DataFrame:
    return load("veteran")


@pytest.fixture(scope="session")
def bmt() -> pd.DataFrame:
    return load("bmt")


@pytest.fixture(scope="session")
def printed():
    """``printed(value, "0.0916")``: True when value shows as the reference at R's printed precision."""
    return _printed


def _printed(value: float, reference: str) -> bool:
    """True when ``value`` shows as ``reference`` at the precision R printed it ("0.0916", "1.331e-06", "45")."""
    ref = Decimal(reference)
    exponent = ref.as_tuple().exponent
    quantum = Decimal(1).scaleb(exponent)
    return Decimal(repr(float(value))).quantize(quantum) == ref.quantize(quantum)
