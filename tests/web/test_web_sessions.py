"""Log-in, log-out, CSRF refusal, lock-out after 5 failed log-ins and the audit of user changes, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic.audit_chain import verify_audit_chain
from openidds.clinic.models import AuditEntry
from openidds.web import AccountError, LoginRefused, Role
from openidds.web.accounts import (
    LOCK_OUT_AUTHOR,
    LOCK_OUT_DURATION,
    MAX_FAILED_LOGINS,
    SESSION_LIFETIME,
    add_user,
    log_in,
    session_user,
    unlock,
    users,
    users_table,
)

from .conftest import NOW, form_token, log_in_as, password, user_name
from .conftest import log_in as post_log_in


def audit_entries(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_log_in_form_refuses_a_token_not_from_this_browser(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"name": user_name(Role.NURSE), "password": password(Role.NURSE),
                                           "csrf_token": "made-up"}, follow_redirects=False)
    assert response.status_code == 403
    assert "openidds_session" not in client.cookies


def test_log_out_ends_the_session_on_the_server(client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    session_cookie = client.cookies["openidds_session"]
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    client.cookies.set("openidds_session", session_cookie)  # a copy of the cookie kept after log-out
    assert client.get("/api/me").status_code == 401


def test_the_csrf_token_also_comes_as_a_header(client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    assert client.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False).status_code == 303


def test_wrong_password_and_unknown_name_get_the_same_answer(client: TestClient) -> None:
    wrong = post_log_in(client, user_name(Role.NURSE), "not the password")
    unknown = post_log_in(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = "expected a user&#39;s name with their password"
    assert message in wrong.text and message in unknown.text


def test_five_failed_log_ins_lock_the_account_until_an_administrator_unlocks_it(client: TestClient,
                                                                               clinic: Engine) -> None:
    """The client's clock stands still at NOW, inside the 15 minutes of the lock-out."""
    name = user_name(Role.NURSE)
    for attempt in range(1, MAX_FAILED_LOGINS + 1):
        response = post_log_in(client, name, f"guess {attempt}")
        assert response.status_code == 401
    assert "locked after 5 failed log-ins in a row, until 09:15 UTC" in response.text
    right = post_log_in(client, name, password(Role.NURSE))
    assert right.status_code == 401 and "locked" in right.text and "openidds_session" not in client.cookies
    assert [(u.failed_logins, u.locked_until) for u in users(clinic, NOW) if u.name == name] == [
        (MAX_FAILED_LOGINS, (NOW + LOCK_OUT_DURATION).replace(tzinfo=dt.UTC))]
    unlock(clinic, name, NOW, "admin-1")
    assert post_log_in(client, name, password(Role.NURSE)).status_code == 303


def test_a_success_resets_the_failure_count(clinic: Engine) -> None:
    name = user_name(Role.NURSE)
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginRefused):
            log_in(clinic, name, "wrong", NOW)
    log_in(clinic, name, password(Role.NURSE), NOW)
    with clinic.connect() as conn:
        assert conn.execute(select(users_table.c.failed_logins).where(users_table.c.name == name)).scalar_one() == 0


def test_a_lock_out_leaves_the_user_s_live_sessions_alone(clinic: Engine) -> None:
    """Guessing at a clinician's name must not throw them out of their shift."""
    name = user_name(Role.NURSE)
    live = log_in(clinic, name, password(Role.NURSE), NOW)
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(LoginRefused):
            log_in(clinic, name, "wrong", NOW)
    assert session_user(clinic, live.token, NOW) == live.user


def test_a_lock_out_ends_after_its_duration_and_the_count_starts_again(clinic: Engine) -> None:
    name = user_name(Role.NURSE)
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(LoginRefused):
            log_in(clinic, name, "wrong", NOW)
    last_minute = NOW + LOCK_OUT_DURATION - dt.timedelta(seconds=1)
    with pytest.raises(LoginRefused, match="until 09:15 UTC"):
        log_in(clinic, name, password(Role.NURSE), last_minute)
    ended = NOW + LOCK_OUT_DURATION
    assert [u.locked_until for u in users(clinic, ended) if u.name == name] == [None]
    with pytest.raises(LoginRefused, match="name or password"):
        log_in(clinic, name, "wrong again", ended)
    assert [u.failed_logins for u in users(clinic, ended) if u.name == name] == [1]
    assert log_in(clinic, name, password(Role.NURSE), ended).user.name == name
    assert [(u.failed_logins, u.locked_until) for u in users(clinic, ended) if u.name == name] == [(0, None)]


def test_a_session_expires(clinic: Engine) -> None:
    login = log_in(clinic, user_name(Role.PHYSICIAN), password(Role.PHYSICIAN), NOW)
    assert session_user(clinic, login.token, NOW + SESSION_LIFETIME - dt.timedelta(seconds=1)) == login.user
    assert session_user(clinic, login.token, NOW + SESSION_LIFETIME) is None


def test_passwords_are_stored_as_argon2_hashes_only(clinic: Engine) -> None:
    with clinic.connect() as conn:
        stored = conn.execute(select(users_table.c.password_hash)).scalars().all()
    assert len(stored) == len(Role) and all(h.startswith("$argon2id$") for h in stored)
    assert not any(password(role) in h for h in stored for role in Role)


@pytest.mark.parametrize(("name", "secret", "field"), [
    ("", "long enough password", "name"), (" padded", "long enough password", "name"),
    ("x" * 121, "long enough password", "name"), ("new-user", "too short", "password"),
    ("new-user", " " * 12, "password"), (user_name(Role.NURSE), "long enough password", "name"),
])
def test_add_user_refuses_bad_input(clinic: Engine, name: str, secret: str, field: str) -> None:
    with pytest.raises(AccountError) as refused:
        add_user(clinic, name, Role.NURSE, secret, NOW, "admin-1")
    assert refused.value.field == field and "expected" in str(refused.value)
    assert secret not in str(refused.value)


def test_unlock_refuses_an_unknown_name(clinic: Engine) -> None:
    with pytest.raises(AccountError, match="existing user"):
        unlock(clinic, "nobody", NOW, "admin-1")


def test_log_in_page_shows_the_refusal_and_keeps_the_name(client: TestClient) -> None:
    response = post_log_in(client, user_name(Role.NURSE), "wrong")
    assert 'value="nurse-1"' in response.text and form_token(response.text)


def test_an_added_user_logs_in_with_their_password(clinic: Engine) -> None:
    added = add_user(clinic, "second-nurse", Role.NURSE, "a long enough passphrase", NOW, "admin-1")
    assert (added.name, added.role, added.locked_until) == ("second-nurse", Role.NURSE, None)
    assert log_in(clinic, "second-nurse", "a long enough passphrase", NOW).user.role == Role.NURSE


def test_user_changes_are_audited_without_the_hash_and_keep_the_chain_whole(client: TestClient,
                                                                           clinic: Engine) -> None:
    add_user(clinic, "second-nurse", Role.NURSE, "a long enough passphrase", NOW, "admin-1")
    for attempt in range(MAX_FAILED_LOGINS):
        post_log_in(client, "second-nurse", f"guess {attempt}")
    unlock(clinic, "second-nurse", NOW, "admin-1")
    entries = audit_entries(clinic)
    web = [(e.user_name, e.action, e.before, e.after) for e in entries if e.table_name == "web_users"]
    assert [(who, action) for who, action, _, _ in web] == [("admin-1", "insert"), (LOCK_OUT_AUTHOR, "update"),
                                                           ("admin-1", "update")]
    assert web[0][3]["name"] == "second-nurse" and web[0][3]["role"] == "nurse"
    assert not any("argon2" in str(e.before) + str(e.after) for e in entries)
    assert web[2][2]["failed_logins"] == MAX_FAILED_LOGINS and web[2][3]["locked_at"] is None
    assert verify_audit_chain(clinic).findings == []
