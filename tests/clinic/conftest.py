"""Registry test fixtures: the ``db_url`` fixture (tests/conftest.py) runs each database test on SQLite and on
a real PostgreSQL 15 server; ``engine`` opens it initialised."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from openidds.clinic import connect, init_registry

DATA = Path(__file__).resolve().parents[1] / "data" / "clinic"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An initialised, empty registry on each backend (``init_registry`` is a no-op when already at head)."""
    eng = connect(db_url)
    init_registry(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def data_dir() -> Path:
    return DATA
