"""Escalation test fixtures: a registry on SQLite and on PostgreSQL (``db_url``, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from openidds.clinic import connect, init_registry


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An initialised, empty registry on each backend."""
    eng = connect(db_url)
    init_registry(eng)
    yield eng
    eng.dispose()
