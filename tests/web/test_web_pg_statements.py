"""On PostgreSQL, the statements of a page asked for again are prepared once on the connection that serves them and
kept between requests (openidds.clinic.pg_connection), and the page is the same."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.web.conftest import log_in_as

from openidds.web import Role

REQUESTS = 7
"""More than psycopg's ``prepare_threshold`` (5) on one connection."""


def prepared_statements(engine: Engine) -> set[str]:
    """The statements prepared on every connection the engine's pool holds (all checked out at once, so each is
    asked once)."""
    with ExitStack() as stack:
        connections = [stack.enter_context(engine.connect()) for _ in range(engine.pool.checkedin())]  # type: ignore[attr-defined]
        return {statement for conn in connections
                for statement in conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars()}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_today_page_statements_are_prepared_and_kept_between_requests(client: TestClient,
                                                                          clinic: Engine) -> None:
    log_in_as(client, Role.NURSE)
    pages = [client.get("/api/today") for _ in range(REQUESTS)]
    assert {page.status_code for page in pages} == {200}
    assert all(page.json() == pages[0].json() for page in pages), "a prepared statement answers the same"
    kept = prepared_statements(clinic)
    assert any("refill_status" in statement for statement in kept), kept
