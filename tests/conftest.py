"""Settings every test shares, and the registry databases: every database test runs on SQLite and on a real
PostgreSQL 15 server.

The PostgreSQL server is the one named by ``OPENIDDS_TEST_PG_URL`` (its user needs CREATEDB), or a throwaway
cluster (:func:`tests.pg_cluster.throwaway_server`) that lives for the session: it is stopped at the session's end,
and also when the run is stopped by a timeout's SIGTERM or a Ctrl-C; the next run stops one left by a run killed
outright. If it cannot start, the tests fail with the server's own message: they are never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, make_url, text
from tests.pg_cluster import throwaway_server

from openidds.clinic import connect, init_registry
from openidds.clinic.examples import load_example
from openidds.clinic.models import Base

settings.register_profile("openidds", deadline=None)
settings.load_profile("openidds")
"""No per-example deadline: the suite runs on shared machines, and time is measured in benchmarks/, never asserted
in a test."""


@pytest.fixture(autouse=True)
def _state_key_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clinic's state key (which signs programmer state files) lives in a temporary folder, never in the
    home directory of whoever runs the tests."""
    path = tmp_path_factory.getbasetemp() / "state.key"
    monkeypatch.setenv("OPENIDDS_STATE_KEY_FILE", str(path))
    return path


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server URL (psycopg 3) whose user may create databases."""
    given = os.environ.get("OPENIDDS_TEST_PG_URL")
    if given:
        yield given
        return
    with throwaway_server() as url:
        yield url


@pytest.fixture
def fresh_pg_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    name = f"openidds_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_registry_url(pg_server_url: str) -> Iterator[str]:
    """One PostgreSQL database migrated by ``init_registry`` for the session (creating a database per test
    costs half a second; emptying the tables costs a few milliseconds)."""
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    name = f"openidds_registry_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    engine = connect(url)
    init_registry(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def clean_pg_url(pg_registry_url: str) -> str:
    """The session's PostgreSQL registry with every table emptied and its id sequences restarted."""
    engine = create_engine(pg_registry_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg_registry_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A registry database URL, once per backend (SQLite empty, PostgreSQL already migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return request.getfixturevalue("clean_pg_url")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The example registry with its pump logs, pump states and refill appointments, as `openidds web serve
    --example` loads it (a module's own ``example`` fixture may stand in for it)."""
    engine = connect(str(tmp_path_factory.mktemp("example") / "example.sqlite"))
    load_example(engine)
    yield engine
    engine.dispose()
