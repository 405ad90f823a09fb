"""Every route of the app (``all_routes()``, every method) tried by every role, on SQLite and PostgreSQL. Who may
reach a route is read from the permission the route declares (``needs(Permission.X)``), so a new route is
covered without editing this file: a role without the permission gets 403 with the refusal object (field
``role``), a role with it anything but 403 (and never a 5xx); without a session the API answers 401 and a page
sends the browser to the log-in page; a write (POST, PUT) without the session's CSRF token is refused with 403."""

from __future__ import annotations

import httpx
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from openidds.web import Role
from openidds.web.context import checks_csrf, needs_session, permissions_of, reads_form_token
from openidds.web.roles import may
from openidds.web.routes import all_routes

from .conftest import log_in_as, password, url_of, user_name

ROUTES = [(route, method) for route in all_routes() for method in sorted(route.methods)]
WRITES = {"POST", "PUT", "DELETE"}


def call(client: TestClient, route: APIRoute, method: str, csrf: str | None) -> httpx.Response:
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    return client.request(method, url_of(route), headers=headers, follow_redirects=False)  # other parameters
    # get "1": the role is checked before the record is looked up, so an unknown record answers 404 or 422


def is_api(route: APIRoute) -> bool:
    return route.path.startswith("/api/")


def allowed_roles(route: APIRoute) -> set[Role]:
    return {role for role in Role if all(may(role, permission) for permission in permissions_of(route))}


def refused_by(response: httpx.Response, route: APIRoute, field: str, value: str | None) -> str | None:
    """Why ``response`` is not the 403 refusal of ``field`` (None: it is)."""
    if response.status_code != 403:
        return f"status {response.status_code}, expected 403"
    if is_api(route):
        body = response.json()
        if set(body) != {"error", "field", "value", "expected", "message"} or (body["field"], body["value"]) \
                != (field, value):
            return f"refusal {body}, expected field {field!r} value {value!r}"
    return None


def test_the_routes_declare_who_may_reach_them() -> None:
    """The declarations the other tests read: every route but the log-in form's needs a session, every POST
    but the log-in checks the session's CSRF token, only the user's own pages are open to every role (a new
    route must declare its permission), and the pages of a family declare what its API does."""
    public = {(route.path, method) for route, method in ROUTES if not needs_session(route)}
    assert public == {("/login", "GET"), ("/login", "POST"), ("/calendar/feed/{token}.ics", "GET")}  # the feed's
    # secret address is its key
    assert all(checks_csrf(route) for route, method in ROUTES if method in WRITES and route.path != "/login")
    open_to_every_role = {route.path for route, _ in ROUTES if needs_session(route) and not permissions_of(route)}
    assert open_to_every_role == {"/", "/me", "/api/me", "/logout"}, "declare needs(Permission.X) on a new route"
    declared = {route.path: permissions_of(route) for route, _ in ROUTES}
    assert declared["/today"] == declared["/api/today"] != frozenset()
    assert declared["/patients"] == declared["/api/patients"] == declared["/api/patients/{site}/{patient_id}"]
    assert declared["/users"] == declared["/api/users"] and declared["/me"] == frozenset()


def test_every_route_by_every_role(client: TestClient) -> None:
    wrong: list[str] = []
    for role in Role:
        csrf = log_in_as(client, role)
        for route, method in ROUTES:
            if not needs_session(route):
                continue
            response = call(client, route, method, csrf if method in WRITES else None)
            where = f"{role.value} {method} {route.path}"
            if response.status_code >= 500:
                wrong.append(f"{where}: {response.status_code} {response.text[:200]}")
            elif role not in allowed_roles(route):
                why = refused_by(response, route, "role", role.value)
                wrong += [f"{where}: {why}"] if why else []
            elif response.status_code == 403:
                wrong.append(f"{where}: refused although the route's permissions {permissions_of(route)} allow it: "
                             f"{response.text[:200]}")
            if client.get("/api/me").status_code == 401:  # the call ended the session (log-out)
                csrf = log_in_as(client, role)
    assert not wrong, "\n".join(wrong)


def test_without_a_session_the_api_answers_401_and_pages_go_to_log_in(client: TestClient) -> None:
    wrong: list[str] = []
    for route, method in ROUTES:
        if not needs_session(route):
            continue
        response = call(client, route, method, None)
        if is_api(route):
            ok = response.status_code == 401 and response.json()["field"] == "session"
        else:
            ok = response.status_code == 303 and response.headers["location"] == "/login"
        wrong += [] if ok else [f"{method} {route.path}: {response.status_code} {response.text[:200]}"]
    assert not wrong, "\n".join(wrong)


def test_every_write_without_the_csrf_token_is_refused(client: TestClient) -> None:
    writes = [(route, method) for route, method in ROUTES if method in WRITES and checks_csrf(route)]
    assert {method for _, method in writes} == {"POST", "PUT"}
    wrong: list[str] = []
    for route, method in writes:
        role = next(iter(sorted(allowed_roles(route))))
        log_in_as(client, role)
        for token in (None, "not-this-sessions-token"):
            response = call(client, route, method, token)
            why = refused_by(response, route, "csrf_token", None if token is None else "<not this session's>")
            wrong += [f"{method} {route.path} with token {token!r}: {why}"] if why else []
        if reads_form_token(route):
            in_form = client.request(method, url_of(route), data={"csrf_token": "not-this-sessions-token"},
                                     follow_redirects=False)
            why = refused_by(in_form, route, "csrf_token", "<not this session's>")
            wrong += [f"{method} {route.path} with the form field's token: {why}"] if why else []
    assert not wrong, "\n".join(wrong)


def test_a_log_in_without_the_forms_token_is_refused(client: TestClient) -> None:
    assert client.get("/login").status_code == 200  # the form, and its token's cookie
    response = client.post("/login", data={"name": user_name(Role.NURSE), "password": password(Role.NURSE),
                                           "csrf_token": "not-the-forms-token"}, follow_redirects=False)
    assert response.status_code == 403 and "openidds_session" not in response.headers.get("set-cookie", "")
