"""User administration on the users page and its API, on SQLite and PostgreSQL: an administrator adds a user
(typed or generated password), changes a role, unlocks, disables and enables; each change is audited with the
administrator, refused beside its field when bad, 409 when stale; nobody else may."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openidds.clinic.audit_chain import verify_audit_chain
from openidds.clinic.models import AuditEntry
from openidds.clinic.time_zone import set_zone
from openidds.web import Role
from openidds.web.accounts import LOCK_OUT_DURATION, log_in, names_who_may, one_user, sessions_table, users_table
from openidds.web.errors import LoginRefused
from openidds.web.roles import Permission

from .conftest import NOW, log_in_as, password, user_name

ADMIN = user_name(Role.ADMINISTRATOR)
NURSE = user_name(Role.NURSE)


def _version(client: TestClient, name: str) -> int:
    [found] = [u for u in client.get("/api/users").json() if u["name"] == name]
    version: int = found["version"]
    return version


def _audit(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.table_name == "web_users")
                                    .order_by(AuditEntry.id)))


def test_the_form_adds_a_user_with_a_typed_password_and_refuses_bad_values_beside_their_field(
        client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.ADMINISTRATOR)
    form = {"csrf_token": token, "name": "nia-2", "role": "nurse", "password": "nurse passphrase 2",
            "password_again": "nurse passphrase 3"}
    refused = client.post("/users", data=form)
    assert refused.status_code == 422
    assert re.search(r'id="error-password_again"[^>]*>password_again=.*the same password', refused.text)
    assert 'value="nia-2"' in refused.text and "nurse passphrase" not in refused.text
    short = client.post("/users", data={**form, "password": "short", "password_again": "short"})
    assert short.status_code == 422 and 'id="error-password"' in short.text and "at least 12 characters" in short.text
    taken = client.post("/users", data={**form, "name": NURSE, "password_again": "nurse passphrase 2"})
    assert taken.status_code == 422 and 'id="error-name"' in taken.text
    role = client.post("/users", data={**form, "role": "surgeon", "password_again": "nurse passphrase 2"})
    assert role.status_code == 422 and 'id="error-role"' in role.text
    added = client.post("/users", data={**form, "password_again": "nurse passphrase 2"})
    assert added.status_code == 200 and "User nia-2 added" in added.text and 'id="generated"' not in added.text
    assert log_in(clinic, "nia-2", "nurse passphrase 2", NOW).user.role == Role.NURSE
    [entry] = [e for e in _audit(clinic) if e.action == "insert"]
    assert (entry.user_name, entry.source, entry.after["role"]) == (ADMIN, "users page", "nurse")
    assert "password" not in str(entry.after)


def test_the_form_generates_a_password_shown_once(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.ADMINISTRATOR)
    both = client.post("/users", data={"csrf_token": token, "name": "rex", "role": "researcher", "generate": "true",
                                       "password": "typed passphrase 1", "password_again": "typed passphrase 1"})
    assert both.status_code == 422 and "not both" in both.text
    added = client.post("/users", data={"csrf_token": token, "name": "rex", "role": "researcher", "generate": "true"})
    shown = re.search(r'id="generated".*<code>([^<]+)</code>', added.text)
    assert added.status_code == 200 and shown
    assert log_in(clinic, "rex", shown.group(1), NOW).user.name == "rex"
    assert shown.group(1) not in client.get("/users").text


def test_role_disable_enable_and_unlock_from_the_page(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.ADMINISTRATOR)
    nurse = TestClient(client.app)
    log_in_as(nurse, Role.NURSE)
    assert nurse.get("/today").status_code == 200
    changed = client.post(f"/users/{NURSE}/role", data={"csrf_token": token, "role": "physician",
                                                          "version": _version(client, NURSE)},
                          follow_redirects=False)
    assert changed.status_code == 303 and one_user(clinic, NURSE, NOW).role == Role.PHYSICIAN
    disabled = client.post(f"/users/{NURSE}/disable", data={"csrf_token": token, "version": _version(client, NURSE)},
                           follow_redirects=False)
    assert disabled.status_code == 303 and one_user(clinic, NURSE, NOW).disabled
    assert nurse.get("/today", follow_redirects=False).status_code in (303, 401)
    with clinic.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sessions_table)
                            .join(users_table).where(users_table.c.name == NURSE)).scalar_one() == 0
    with pytest.raises(LoginRefused, match="an enabled account"):
        log_in(clinic, NURSE, password(Role.NURSE), NOW)
    assert "disabled" in client.get("/users").text
    assert NURSE not in names_who_may(clinic, Permission.BOOK_REFILLS)  # no longer booked nor assigned alarms
    enabled = client.post(f"/users/{NURSE}/enable", data={"csrf_token": token, "version": _version(client, NURSE)},
                          follow_redirects=False)
    assert enabled.status_code == 303
    for _ in range(5):
        with pytest.raises(LoginRefused, match=r"name or password|account"):
            log_in(clinic, NURSE, "wrong passphrase 99", NOW)
    assert one_user(clinic, NURSE, NOW).locked_until == (NOW + LOCK_OUT_DURATION).replace(tzinfo=dt.UTC)
    locked = {u["name"]: u["locked_until"] for u in client.get("/api/users").json()}
    assert locked[NURSE] == f"{(NOW + LOCK_OUT_DURATION).isoformat()}Z", "the API writes times in UTC, zone marked"
    unlocked = client.post(f"/users/{NURSE}/unlock", data={"csrf_token": token, "version": _version(client, NURSE)},
                           follow_redirects=False)
    assert unlocked.status_code == 303 and one_user(clinic, NURSE, NOW).locked_until is None
    assert log_in(clinic, NURSE, password(Role.NURSE), NOW).user.role == Role.PHYSICIAN
    entries = [(e.user_name, e.source, e.after) for e in _audit(clinic) if e.source == "users page"]
    assert entries == [(ADMIN, "users page", {"role": "physician"}),
                       (ADMIN, "users page", {"disabled_at": NOW.isoformat()}),
                       (ADMIN, "users page", {"disabled_at": None}),
                       (ADMIN, "users page", {"failed_logins": 0, "locked_at": None})]
    assert verify_audit_chain(clinic).findings == []


def test_a_stale_edit_gets_409_and_a_refusal_is_shown_beside_the_row(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.ADMINISTRATOR)
    seen = _version(client, NURSE)
    assert client.post(f"/users/{NURSE}/disable", data={"csrf_token": token, "version": seen},
                       follow_redirects=False).status_code == 303
    stale = client.post(f"/users/{NURSE}/role", data={"csrf_token": token, "role": "physician", "version": seen})
    assert stale.status_code == 409 and "changed since the page was loaded" in stale.text
    assert one_user(clinic, NURSE, NOW).role == Role.NURSE
    myself = client.post(f"/users/{ADMIN}/disable", data={"csrf_token": token, "version": _version(client, ADMIN)})
    assert myself.status_code == 422 and "cannot disable or demote themselves" in myself.text
    assert re.search(rf'data-name="{ADMIN}".*?class="field-error"', myself.text, re.S)
    no_token = client.post(f"/users/{NURSE}/enable", data={"version": _version(client, NURSE)})
    assert no_token.status_code == 403 and one_user(clinic, NURSE, NOW).disabled


def test_the_api_does_the_same(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.ADMINISTRATOR)
    headers = {"X-CSRF-Token": token}
    added = client.post("/api/users", json={"name": "dm-2", "role": "data_manager"}, headers=headers)
    assert added.status_code == 200, added.text
    generated = added.json()["generated_password"]
    assert len(generated) >= 12 and log_in(clinic, "dm-2", generated, NOW).user.name == "dm-2"
    typed = client.post("/api/users", json={"name": "dm-3", "role": "nurse", "password": "typed passphrase 3"},
                        headers=headers)
    assert typed.status_code == 200 and typed.json()["generated_password"] is None
    assert client.post("/api/users", json={"name": " x", "role": "nurse"}, headers=headers).status_code == 422
    assert client.post("/api/users", json={"name": "dm-4", "role": "nurse", "password": "short"},
                       headers=headers).status_code == 422
    assert client.post("/api/users", json={"name": "dm-4", "role": "nurse"}).status_code == 403
    version = added.json()["user"]["version"]
    role = client.post("/api/users/dm-2/role", json={"role": "nurse", "version": version}, headers=headers)
    assert role.status_code == 200 and role.json()["role"] == "nurse" and role.json()["version"] == version + 1
    assert client.post("/api/users/dm-2/disable", json={"version": version}, headers=headers).status_code == 409
    disabled = client.post("/api/users/dm-2/disable", json={"version": version + 1}, headers=headers)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    enabled = client.post("/api/users/dm-2/enable", json={"version": version + 2}, headers=headers)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    unlocked = client.post("/api/users/dm-2/unlock", json={"version": version + 3}, headers=headers)
    assert unlocked.status_code == 200
    demote = client.post(f"/api/users/{ADMIN}/role", json={"role": "nurse", "version": _version(client, ADMIN)},
                         headers=headers)
    assert demote.status_code == 422 and "cannot disable or demote themselves" in demote.text
    unknown = client.post("/api/users/nobody/enable", json={"version": 1}, headers=headers)
    assert unknown.status_code == 422 and "existing user" in unknown.text
    assert {e.source for e in _audit(clinic)} == {"users API"}


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMINISTRATOR])
def test_only_administrators_manage_users(client: TestClient, clinic: Engine, role: Role) -> None:
    token = log_in_as(client, role)
    assert client.post("/api/users", json={"name": "z-1", "role": "nurse"},
                       headers={"X-CSRF-Token": token}).status_code == 403
    assert client.post(f"/users/{NURSE}/disable", data={"csrf_token": token, "version": 1}).status_code == 403
    assert not one_user(clinic, NURSE, NOW).disabled


def _row(page: str, name: str) -> str:
    found = re.search(rf'<tr id="user-\d+" data-name="{re.escape(name)}">(.*?)</tr>', page, re.DOTALL)
    assert found, page
    return found.group(1)


def test_the_page_shows_each_users_last_log_in_in_the_clinic_zone_and_a_failed_one_changes_nothing(
        client: TestClient, clinic: Engine) -> None:
    set_zone(clinic, "Europe/Stockholm", ADMIN, NOW, "test")  # UTC+2 in July
    two_days_ago = NOW - dt.timedelta(days=2)
    version = one_user(clinic, NURSE, NOW).version
    log_in(clinic, NURSE, password(Role.NURSE), two_days_ago)
    with pytest.raises(LoginRefused, match="name or password"):
        log_in(clinic, NURSE, "wrong passphrase 99", NOW)
    nurse = one_user(clinic, NURSE, NOW)
    assert (nurse.last_login_at, nurse.version) == (two_days_ago.replace(tzinfo=dt.UTC), version), \
        "a log-in is no administrative change"
    log_in_as(client, Role.ADMINISTRATOR)  # the app's clock: NOW, 09:00 UTC
    page = client.get("/users").text
    assert "<th>Last log-in (Europe/Stockholm)</th>" in page
    assert '<td class="when">2023-07-10 11:00</td>' in _row(page, ADMIN)
    assert '<td class="when">2023-07-08 11:00</td>' in _row(page, NURSE)
    assert '<td class="when">never</td>' in _row(page, user_name(Role.PHYSICIAN))
    listed = {u["name"]: u["last_login_at"] for u in client.get("/api/users").json()}
    assert (listed[ADMIN], listed[NURSE], listed[user_name(Role.PHYSICIAN)]) == (
        f"{NOW.isoformat()}Z", f"{two_days_ago.isoformat()}Z", None)
