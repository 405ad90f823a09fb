"""On PostgreSQL, a registry connection keeps the statements psycopg prepared on it across the rollback that ends
each read (openidds.clinic.pg_connection), on the real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, insert, select, text

from openidds.clinic import connect
from openidds.clinic import models as m
from openidds.clinic.pg_connection import StatementKeepingConnection

PATIENTS_OF_SITE = select(m.Patient.patient_code).where(m.Patient.site_id == 1).order_by(m.Patient.patient_code)
THRESHOLD = 5
"""psycopg's ``prepare_threshold``: a statement run this many times on a connection is prepared at the next run."""


@pytest.fixture
def engine(clean_pg_url: str) -> Iterator[Engine]:
    engine = connect(clean_pg_url)
    with engine.begin() as conn:
        conn.execute(insert(m.Site).values(id=1, code="S1", name="Site one"))
    yield engine
    engine.dispose()


def prepared(conn: Connection) -> list[str]:
    """The statements prepared in the connection's database session."""
    return list(conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars())


def backend_pid(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_statement_run_in_separate_reads_is_prepared_once_and_kept(engine: Engine) -> None:
    pids = set()
    for _ in range(THRESHOLD + 2):
        with engine.connect() as conn:  # each block ends with a rollback
            assert conn.execute(PATIENTS_OF_SITE).scalars().all() == []
            pids.add(backend_pid(conn))
    assert len(pids) == 1, "the pool handed out one connection"
    with engine.connect() as conn:
        assert isinstance(conn.connection.dbapi_connection, StatementKeepingConnection)
        statements = [s for s in prepared(conn) if "FROM patients" in s]
    assert len(statements) == 1, statements


def test_a_failed_transaction_rolls_back_and_keeps_the_statements(engine: Engine) -> None:
    for _ in range(THRESHOLD + 1):
        with engine.connect() as conn:
            conn.execute(PATIENTS_OF_SITE).all()
    with engine.connect() as conn, pytest.raises(Exception, match="division by zero"):
        conn.execute(text("SELECT 1 / 0"))
    with engine.connect() as conn:
        assert any("FROM patients" in s for s in prepared(conn))
        conn.execute(insert(m.Patient).values(site_id=1, patient_code="P1", sex="female"))
        conn.rollback()
        assert conn.execute(PATIENTS_OF_SITE).all() == [], "the insert was rolled back"
        conn.execute(insert(m.Patient).values(site_id=1, patient_code="P2", sex="female"))
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(PATIENTS_OF_SITE).scalars().all() == ["P2"], "a prepared read sees the committed row"


def test_dropping_a_table_still_forgets_the_statements(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE scratch (n integer)"))
        for _ in range(THRESHOLD + 1):
            conn.execute(text("SELECT n FROM scratch")).all()
        assert any("FROM scratch" in s for s in prepared(conn))
        conn.execute(text("DROP TABLE scratch"))
        assert prepared(conn) == []
