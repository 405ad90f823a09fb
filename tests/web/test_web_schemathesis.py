"""The API under schemathesis, on SQLite and PostgreSQL: every operation of the app's own OpenAPI schema
(``/openapi.json``), with generated parameters and bodies, called as every role (session cookie and the
session's ``X-CSRF-Token``) and without a session: never a 5xx, and every answer's status, content type,
headers and body as the schema documents them. A new API route is covered once it is in the schema."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from openidds.web import Role
from openidds.web.context import SESSION_COOKIE

from .conftest import EXAMPLE_PATH_VALUES, log_in_as

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
MAX_EXAMPLES = 12
"""Generated cases per operation (each called as every role and without a session): bounded for CI time."""


@dataclass(frozen=True)
class Caller:
    """Who calls: a role's live session (cookie and CSRF token), or nobody (no session)."""

    role: Role | None
    cookies: dict[str, str]
    headers: dict[str, str]


@pytest.fixture
def callers(client: TestClient) -> list[Caller]:
    out = [Caller(None, {}, {})]
    for role in Role:
        csrf = log_in_as(client, role)
        out.append(Caller(role, {SESSION_COOKIE: client.cookies[SESSION_COOKIE]}, {"X-CSRF-Token": csrf}))
    client.cookies.clear()
    return out


def call_as_everyone(case: schemathesis.Case, callers: list[Caller]) -> None:
    for caller in callers:
        try:
            case.call_and_validate(headers=caller.headers, cookies=caller.cookies, checks=CHECKS)
        except Exception as exc:
            exc.add_note(f"called as {caller.role.value if caller.role else 'nobody (no session)'}")
            raise


def test_api_answers_as_documented(client: TestClient, callers: list[Caller]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/today", "/api/patients", "/api/me"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: schemathesis.Case) -> None:
            call_as_everyone(case, callers)

        answers_as_documented()
        if operation.path_parameters:  # and once on a record the test clinic holds (generated ones are unknown)
            call_as_everyone(operation.Case(path_parameters={p.name: EXAMPLE_PATH_VALUES.get(p.name, "1")
                                                             for p in operation.path_parameters}), callers)


def test_a_path_that_names_no_patient_code_is_refused_with_422(client: TestClient) -> None:
    """A NUL byte (which PostgreSQL refuses in text) or a formula start never reaches the registry."""
    log_in_as(client, Role.NURSE)
    for path in ("/api/patients/%00/P001", "/api/patients/CJFH/=1+1"):
        refusal = client.get(path).json()
        assert refusal["error"] == "InputRefused" and refusal["field"] in {"site", "patient_id"}, refusal
        assert "pattern" in refusal["expected"]
    assert client.get("/patients/CJFH/%00").status_code == 422
