"""The alarm board on SQLite and PostgreSQL: what it lists, acknowledge, assign and resolve audited with who and
when, a stale action refused with 409, each write refused with 403 to a role that may not act, bad input 422."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.escalation.policies import installed

from openidds.clinic import escalations
from openidds.clinic.models import AuditEntry, ClinicAlarm
from openidds.clinic.time_zone import set_zone
from openidds.web import Role
from openidds.web.app import create_app
from openidds.web.transports import senders

from .conftest import NOW, RESEARCH_SEED, TODAY, ChromiumPages, board_policy, log_in_as, user_name

ACTING = {Role.NURSE, Role.PHYSICIAN}


def _board(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/api/alarms", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _the_alarm(client: TestClient) -> dict[str, Any]:
    [alarm] = _board(client)["alarms"]
    return alarm


def test_the_board_lists_the_open_alarm_by_priority_with_its_source(client: TestClient) -> None:
    log_in_as(client, Role.DATA_MANAGER)
    alarm = _the_alarm(client)
    assert (alarm["site"], alarm["patient_id"], alarm["alarm"], alarm["priority"], alarm["state"], alarm["source"],
            alarm["age_days"]) == ("CJFH", "P001", "empty_reservoir", "high", "open", "pump log", 20)
    resolved = _board(client, state="resolved")["alarms"]  # the cleared low reservoir, closed with its reason
    assert [(a["alarm"], a["resolution"], a["resolved_at"]) for a in resolved] == [
        ("low_reservoir", "cleared_by_pump", "2023-06-02T08:00:00Z")]
    page = client.get("/alarms").text
    assert "empty_reservoir" in page and "Acknowledge" not in page  # a data manager sees, does not act


def test_a_nurse_acknowledges_assigns_and_a_physician_resolves_each_audited(client: TestClient,
                                                                            clinic: Engine) -> None:
    token = log_in_as(client, Role.NURSE)
    alarm = _the_alarm(client)
    response = client.post(f"/alarms/{alarm['id']}/acknowledge", data={"csrf_token": token, "version": 1},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/alarms"
    response = client.post(f"/api/alarms/{alarm['id']}/assign", headers={"X-CSRF-Token": token},
                           data={"version": 2, "assigned_to": user_name(Role.PHYSICIAN)})
    assert response.status_code == 204, response.text
    mine = _board(client, assigned_to=user_name(Role.PHYSICIAN), state="acknowledged")["alarms"]
    assert [(a["acknowledged_by"], a["acknowledged_at"], a["assigned_to"], a["assigned_by"]) for a in mine] == [
        (user_name(Role.NURSE), "2023-07-10T09:00:00Z", user_name(Role.PHYSICIAN), user_name(Role.NURSE))]

    token = log_in_as(client, Role.PHYSICIAN)
    response = client.post(f"/api/alarms/{alarm['id']}/resolve", headers={"X-CSRF-Token": token},
                           data={"version": 3, "resolution": "refilled", "note": "emergency refill"})
    assert response.status_code == 204, response.text
    assert _board(client)["alarms"] == []
    assert client.get("/api/today").json()["open_alarms"] == []
    with Session(clinic) as s:
        entries = s.execute(select(AuditEntry.user_name, AuditEntry.at, AuditEntry.source, AuditEntry.after)
                            .where(AuditEntry.table_name == "clinic_alarms", AuditEntry.record_id == alarm["id"],
                                   AuditEntry.action == "update").order_by(AuditEntry.id)).all()
    assert [(who, at, source) for who, at, source, _ in entries] == [
        (user_name(Role.NURSE), NOW, "alarm board: acknowledge"), (user_name(Role.NURSE), NOW, "alarm board: assign"),
        (user_name(Role.PHYSICIAN), NOW, "alarm board: resolve")]
    assert entries[-1].after["resolution_note"] == "emergency refill"


def test_an_action_from_a_stale_page_is_409_saying_who_changed_it(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.PHYSICIAN)
    seen = _the_alarm(client)  # the physician's page shows version 1
    nurse = log_in_as(client, Role.NURSE)
    assert client.post(f"/api/alarms/{seen['id']}/resolve", headers={"X-CSRF-Token": nurse},
                       data={"version": 1, "resolution": "patient_seen"}).status_code == 204
    token = log_in_as(client, Role.PHYSICIAN)
    for path, data in ((f"/api/alarms/{seen['id']}/acknowledge", {"version": 1}),
                       (f"/api/alarms/{seen['id']}/assign", {"version": 1, "assigned_to": user_name(Role.NURSE)})):
        response = client.post(path, headers={"X-CSRF-Token": token}, data=data)
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "StaleEdit"
        assert f"{user_name(Role.NURSE)} at 2023-07-10 09:00 UTC changed it" in response.json()["message"]
    page = client.post(f"/alarms/{seen['id']}/acknowledge", data={"csrf_token": token, "version": 1})
    assert page.status_code == 409 and "reload the alarm board" in page.text
    with Session(clinic) as s:
        row = s.get(ClinicAlarm, seen["id"])
        assert row is not None and (row.state, row.resolved_by, row.acknowledged_by) == (
            "resolved", user_name(Role.NURSE), None)


@pytest.mark.parametrize("role", sorted(set(Role) - ACTING, key=lambda r: r.value))
def test_every_alarm_write_is_refused_to_a_role_that_may_not_act(client: TestClient, clinic: Engine,
                                                                 role: Role) -> None:
    log_in_as(client, Role.NURSE)
    alarm_id = _the_alarm(client)["id"]
    token = log_in_as(client, role)
    writes = [(f"/alarms/{alarm_id}/acknowledge", {"version": 1}), (f"/api/alarms/{alarm_id}/acknowledge",
                                                                   {"version": 1}),
              (f"/alarms/{alarm_id}/assign", {"version": 1, "assigned_to": user_name(Role.NURSE)}),
              (f"/api/alarms/{alarm_id}/assign", {"version": 1, "assigned_to": user_name(Role.NURSE)}),
              (f"/alarms/{alarm_id}/resolve", {"version": 1, "resolution": "refilled"}),
              (f"/api/alarms/{alarm_id}/resolve", {"version": 1, "resolution": "refilled"}),
              ("/alarms/report", _REPORT), ("/api/alarms", _REPORT)]
    for path, data in writes:
        response = client.post(path, headers={"X-CSRF-Token": token}, data=data, follow_redirects=False)
        assert response.status_code == 403, (path, response.text)
    with Session(clinic) as s:
        row = s.get(ClinicAlarm, alarm_id)
        assert row is not None and row.version == 1
        assert s.scalar(select(ClinicAlarm.id).where(ClinicAlarm.source == "caregiver report")) is None


_REPORT = {"site": "CJFH", "patient_id": "P001", "kind": "low_reservoir", "heard_at": "2023-07-09T21:30",
           "source": "caregiver report", "detail": "one tone, twice"}


def test_a_caregiver_report_goes_on_the_board(client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    response = client.post("/api/alarms", headers={"X-CSRF-Token": token}, data=_REPORT)
    assert response.status_code == 201, response.text
    listed = {a["id"]: a for a in _board(client)["alarms"]}
    report = listed[response.json()["id"]]
    assert (report["alarm"], report["priority"], report["source"], report["since"], report["detail"]) == (
        "low_reservoir", "medium", "caregiver report", "2023-07-09T21:30:00Z", "one tone, twice")
    assert [a["priority"] for a in listed.values()] == ["high", "medium"]  # highest priority first
    with_offset = client.post("/api/alarms", headers={"X-CSRF-Token": token},
                              data=_REPORT | {"heard_at": "2023-07-09T23:30+02:00", "source": "patient report"})
    assert with_offset.json()["id"] == response.json()["id"]  # the same moment: the same alarm


def test_a_reported_alarm_is_heard_in_the_clinics_time_zone(client: TestClient, clinic: Engine) -> None:
    set_zone(clinic, "Europe/Stockholm", "admin", NOW, "test")
    token = log_in_as(client, Role.NURSE)
    assert "Heard at (Europe/Stockholm)" in client.get("/alarms").text
    response = client.post("/api/alarms", headers={"X-CSRF-Token": token}, data=_REPORT)  # 21:30 in Stockholm
    assert response.status_code == 201, response.text
    listed = {a["id"]: a for a in _board(client)["alarms"]}
    assert listed[response.json()["id"]]["since"] == "2023-07-09T19:30:00Z"  # CEST, UTC+2
    skipped = client.post("/api/alarms", headers={"X-CSRF-Token": token},
                          data=_REPORT | {"heard_at": "2023-03-26T02:30"})  # the clocks skip 02:00-03:00
    assert skipped.status_code == 422 and skipped.json()["field"] == "heard_at", skipped.text


@pytest.mark.parametrize(("path", "data", "field"), [
    ("assign", {"version": 1, "assigned_to": "researcher-1"}, "assigned_to"),
    ("assign", {"version": 1, "assigned_to": "nobody"}, "assigned_to"),
    ("resolve", {"version": 1, "resolution": "other", "note": " "}, "note"),
    ("resolve", {"version": 1, "resolution": "cleared_by_pump"}, "resolution"),
])
def test_bad_input_is_422_naming_the_field(client: TestClient, path: str, data: dict[str, Any], field: str) -> None:
    token = log_in_as(client, Role.NURSE)
    alarm_id = _the_alarm(client)["id"]
    response = client.post(f"/api/alarms/{alarm_id}/{path}", headers={"X-CSRF-Token": token}, data=data)
    assert response.status_code == 422 and response.json()["field"] == field, response.text
    assert _the_alarm(client)["version"] == 1


def test_an_unknown_filter_or_alarm_is_refused(client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    response = client.get("/api/alarms", params={"state": "sleeping"})
    assert response.status_code == 422 and response.json()["field"] == "state"
    for name in ("\x00", "x" * 121):  # PostgreSQL refuses a NUL in a text parameter: refused before the query
        response = client.get("/api/alarms", params={"assigned_to": name})
        assert response.status_code == 422 and response.json()["field"] == "assigned_to", response.text
    response = client.post("/api/alarms/999999/acknowledge", headers={"X-CSRF-Token": token}, data={"version": 1})
    assert response.status_code == 404
    response = client.post("/api/alarms", headers={"X-CSRF-Token": token}, data=_REPORT | {"patient_id": "P999"})
    assert response.status_code == 404 and "a patient in the registry" in response.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_nurse_acknowledges_an_alarm_and_books_a_refill_in_chromium(served: str,
                                                                      chromium_page: ChromiumPages) -> None:
    """In a real browser: the nurse sees the pump's alarm on the board and acknowledges it; the calendar shows
    the refills due, one is booked from it and shows in the week; the nurse makes a calendar feed."""
    page = chromium_page(Role.NURSE)
    page.get_by_role("link", name="Alarms").click()
    page.wait_for_load_state()
    row = page.locator("#alarm-board tbody tr")
    assert row.count() == 1 and "empty_reservoir" in row.inner_text() and "high" in row.inner_text()
    chromium_page.shot(page, "6-nurse-alarm-board")
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert page.url == served + "/alarms"
    state = page.locator("#alarm-board tbody tr td.state").inner_text()
    assert "acknowledged" in state and f"acknowledged by {user_name(Role.NURSE)}" in state
    assert page.locator("#alarm-board").get_by_role("button", name="Acknowledge").count() == 0
    chromium_page.shot(page, "7-nurse-alarm-acknowledged")

    page.get_by_role("link", name="Calendar").click()
    page.wait_for_load_state()
    due = page.locator("#due tbody tr", has_text="CJFH/P003")
    assert "2023-06-18" in due.inner_text() and "overdue" in due.inner_text()
    due.get_by_label("Date").fill("2023-07-12")
    due.get_by_label("Time (UTC)").fill("10:00")
    due.get_by_role("button", name="Book").click()
    page.wait_for_load_state()
    assert page.url == served + "/calendar?week=2023-W28"
    booked = page.locator("#appointments article.appointment")
    assert booked.count() == 1 and "CJFH/P003" in booked.inner_text() and "10:00" in booked.inner_text()
    assert "CJFH/P001" in page.locator("#due").inner_text()  # still due, not booked
    assert "CJFH/P003" not in page.locator("#due").inner_text()
    chromium_page.shot(page, "8-nurse-calendar-week")

    page.goto(served + "/me")
    page.get_by_role("button", name="Make a feed address").click()
    page.wait_for_load_state()
    assert page.get_by_label("Feed address").input_value().endswith(".ics")
    chromium_page.shot(page, "9-nurse-me-feed")
    assert chromium_page.console_errors + chromium_page.page_errors == []


def test_an_escalating_board_shows_who_has_the_alarm_and_acknowledging_stops_it(clinic: Engine) -> None:
    policy = board_policy()
    engine = installed(clinic, policy)
    with TestClient(create_app(engine, today=TODAY, clock=lambda: NOW, research_seed=RESEARCH_SEED)) as client:
        token = log_in_as(client, Role.NURSE)
        response = client.post("/api/alarms", headers={"X-CSRF-Token": token},
                               data={"site": "CJFH", "patient_id": "P003", "kind": "motor_stall",
                                     "heard_at": "2023-07-10T08:30:00", "source": "caregiver report"})
        assert response.status_code == 201, response.text
        alarm_id = response.json()["id"]
        escalations.dispatch_once(engine, lambda p: senders(p, engine), lambda: NOW)
        [shown] = [a for a in _board(client)["alarms"] if a["id"] == alarm_id]
        assert shown["escalation"] == {"phase": "delivered", "tier": 0, "tiers": 3,
                                       "holders": [user_name(Role.NURSE)], "waited_minutes": 0}
        badge = 'aria-label="1 unread alarm messages">1</span>'
        assert badge in client.get("/today").text  # on every page
        page = client.get("/alarms").text  # opening the board reads its message
        assert badge not in page and "held by nurse-1" in page and "delivered, tier 1 of 3" in page
        assert "unread alarm messages" not in client.get("/today").text

        response = client.post(f"/api/alarms/{alarm_id}/acknowledge", headers={"X-CSRF-Token": token},
                               data={"version": shown["version"]})
        assert response.status_code == 204, response.text
        later = NOW + dt.timedelta(hours=2)  # long past the nurse's 10 minutes
        summary = escalations.dispatch_once(engine, lambda p: senders(p, engine), lambda: later)
        assert (summary.advanced, summary.delivered) == (0, 0)
        assert {n.tier for n in escalations.outbox(engine, alarm_id)} == {0}
        [shown] = [a for a in _board(client, state="acknowledged")["alarms"] if a["id"] == alarm_id]
        assert shown["escalation"]["phase"] == "acknowledged"
        assert shown["escalation"]["holders"] == [user_name(Role.NURSE)]


def test_a_board_without_a_policy_escalates_nothing(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    assert [a["escalation"] for a in _board(client)["alarms"]] == [None]
    assert "not escalated" in client.get("/alarms").text
