"""The refill calendar on SQLite and PostgreSQL: refills due and booked appointments by week and day; book, move
and cancel audited, a stale change 409, roles 403; each clinician's iCalendar feed checked against RFC 5545 (and
parsed by the icalendar library), reachable without a log-in by its secret address only."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import appointments
from openidds.clinic.models import AuditEntry
from openidds.web import Role
from openidds.web.ics import fold

from .conftest import NOW, log_in_as, user_name

NURSE = user_name(Role.NURSE)
BOOKING = {"site": "CJFH", "patient_id": "P003", "date": "2023-07-12", "time": "09:30", "place": "home",
           "clinician": NURSE}


def _week(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/api/calendar", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _book(client: TestClient, token: str, **change: str) -> int:
    response = client.post("/api/appointments", headers={"X-CSRF-Token": token}, data=BOOKING | change)
    assert response.status_code == 201, response.text
    appointment_id: int = response.json()["id"]
    return appointment_id


def test_the_week_shows_the_overdue_refill_unbooked_then_booked(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.NURSE)
    week = _week(client)
    assert week["label"] == "2023-W28" and week["days"][0] == "2023-07-10" and week["appointments"] == []
    assert [(r["patient_id"], r["next_refill_due"], r["days_left"]) for r in week["due_unbooked"]] == [
        ("P001", "2023-04-20", -81), ("P003", "2023-06-18", -22)]
    assert NURSE in week["clinicians"] and user_name(Role.DATA_MANAGER) not in week["clinicians"]

    response = client.post("/calendar/appointments", data=BOOKING | {"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/calendar?week=2023-W28"
    week = _week(client, week="2023-W28")
    assert [r["patient_id"] for r in week["due_unbooked"]] == ["P001"]
    [booked] = week["appointments"]
    assert (booked["patient_id"], booked["starts_at"], booked["ends_at"], booked["place"], booked["clinician"],
            booked["booked_by"], booked["booked_at"]) == ("P003", "2023-07-12T09:30:00Z", "2023-07-12T10:00:00Z",
                                                          "home", NURSE, NURSE, "2023-07-10T09:00:00Z")
    assert [a["id"] for a in _week(client, day="2023-07-12")["appointments"]] == [booked["id"]]
    assert _week(client, day="2023-07-11")["appointments"] == []
    page = client.get("/calendar?week=2023-W28").text
    assert "CJFH/P003" in page and "home visit" in page and "Liu" not in page
    with Session(clinic) as s:
        [entry] = s.execute(select(AuditEntry.user_name, AuditEntry.at, AuditEntry.action, AuditEntry.source)
                            .where(AuditEntry.table_name == "refill_appointments")).all()
    assert tuple(entry) == (NURSE, NOW, "insert", "refill calendar: book")

    response = client.post("/api/appointments", headers={"X-CSRF-Token": token}, data=BOOKING)
    assert response.status_code == 422 and "move it instead" in response.json()["message"]


def test_move_and_cancel_with_a_stale_version_refused(client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    appointment_id = _book(client, token)
    move = BOOKING | {"version": "1", "date": "2023-07-13", "time": "14:00", "place": "clinic",
                      "clinician": user_name(Role.PHYSICIAN)}
    response = client.post(f"/api/appointments/{appointment_id}/move", headers={"X-CSRF-Token": token}, data=move)
    assert response.status_code == 204, response.text
    [moved] = _week(client)["appointments"]
    assert (moved["starts_at"], moved["place"], moved["clinician"], moved["version"]) == (
        "2023-07-13T14:00:00Z", "clinic", user_name(Role.PHYSICIAN), 2)

    physician = log_in_as(client, Role.PHYSICIAN)
    response = client.post(f"/api/appointments/{appointment_id}/cancel", headers={"X-CSRF-Token": physician},
                           data={"version": "1"})
    assert response.status_code == 409 and f"{NURSE} at 2023-07-10 09:00 UTC changed it" in response.json()["message"]
    response = client.post(f"/calendar/appointments/{appointment_id}/cancel", data={"version": "2",
                                                                                     "csrf_token": physician},
                           follow_redirects=False)
    assert response.status_code == 303
    week = _week(client)
    assert week["appointments"] == [] and [r["patient_id"] for r in week["due_unbooked"]] == ["P001", "P003"]
    response = client.post(f"/api/appointments/{appointment_id}/move", headers={"X-CSRF-Token": physician},
                           data=move | {"version": "3"})
    assert response.status_code == 409 and "cancelled by physician-1" in response.json()["message"]


def test_a_move_keeps_a_clinician_who_is_no_user_and_refuses_another(client: TestClient, clinic: Engine) -> None:
    """A booking loaded from a file names a clinician with no account: the move form offers that clinician, a move
    that keeps them is done, and one to another name that may not be booked is refused, nothing changed."""
    visiting = "RN Visiting (from a file)"
    [appointment_id] = appointments.book_all(clinic, [appointments.Booking(
        "CJFH", "P003", dt.datetime(2023, 7, 12, 9, 30), 30, appointments.VisitPlace.HOME, visiting, "bookings file",
        NOW)], "bookings file")
    token = log_in_as(client, Role.NURSE)
    page = client.get("/calendar?week=2023-W28").text
    assert f'<option value="{visiting}" selected>{visiting}</option>' in page
    keep = BOOKING | {"version": "1", "date": "2023-07-13", "time": "14:00", "place": "clinic", "clinician": visiting}
    response = client.post(f"/api/appointments/{appointment_id}/move", headers={"X-CSRF-Token": token}, data=keep)
    assert response.status_code == 204, response.text
    response = client.post(f"/api/appointments/{appointment_id}/move", headers={"X-CSRF-Token": token},
                           data=keep | {"version": "2", "time": "15:00", "clinician": "RN Nobody"})
    assert response.status_code == 422 and response.json()["field"] == "clinician"
    assert visiting in response.json()["message"] and NURSE in response.json()["message"]
    [moved] = _week(client)["appointments"]
    assert (moved["starts_at"], moved["clinician"], moved["version"]) == ("2023-07-13T14:00:00Z", visiting, 2)


@pytest.mark.parametrize(("change", "field"), [({"place": "car park"}, "place"), ({"clinician": "researcher-1"},
                                                                                   "clinician"),
                                              ({"duration_minutes": "0"}, "duration_minutes"),
                                              ({"patient_id": "P002"}, "patient")])
def test_bad_booking_is_422_naming_the_field(client: TestClient, change: dict[str, str], field: str) -> None:
    token = log_in_as(client, Role.PHYSICIAN)
    response = client.post("/api/appointments", headers={"X-CSRF-Token": token}, data=BOOKING | change)
    assert response.status_code == 422 and response.json()["field"] == field, response.text


def test_a_bad_week_or_day_is_422(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    assert client.get("/api/calendar", params={"week": "2023-W99"}).json()["field"] == "week"
    assert client.get("/api/calendar", params={"day": "10/07/2023"}).status_code == 422


@pytest.mark.parametrize("role", [Role.DATA_MANAGER, Role.RESEARCHER, Role.ADMINISTRATOR])
def test_booking_is_refused_to_a_role_that_does_not_refill(client: TestClient, clinic: Engine, role: Role) -> None:
    appointment_id = _book(client, log_in_as(client, Role.NURSE))
    token = log_in_as(client, role)
    for path, data in (("/api/appointments", BOOKING), ("/calendar/appointments", BOOKING),
                       (f"/api/appointments/{appointment_id}/move", BOOKING | {"version": "1"}),
                       (f"/calendar/appointments/{appointment_id}/move", BOOKING | {"version": "1"}),
                       (f"/api/appointments/{appointment_id}/cancel", {"version": "1"}),
                       (f"/calendar/appointments/{appointment_id}/cancel", {"version": "1"}),
                       ("/me/calendar-feed", {})):
        response = client.post(path, headers={"X-CSRF-Token": token}, data=data, follow_redirects=False)
        assert response.status_code == 403, (path, response.text)


def _feed_url(client: TestClient, token: str) -> str:
    assert client.post("/me/calendar-feed", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    found = re.search(r'value="(http[^"]+\.ics)"', client.get("/me").text)
    assert found, "the feed's address is on the user's page"
    return found.group(1)


def _check_rfc_5545_lines(body: bytes) -> list[str]:
    """The content lines of an iCalendar body after checking CRLF endings and 75-octet folding (RFC 5545 3.1)."""
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    physical = body.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in physical), max(physical, key=len)
    return body.decode().replace("\r\n ", "").split("\r\n")[:-1]


def test_the_feed_lists_the_clinicians_refills_without_names_and_a_wrong_token_is_404(client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    appointment_id = _book(client, token)
    other = _book(client, token, patient_id="P001", clinician=user_name(Role.PHYSICIAN), date="2023-07-14")
    url = _feed_url(client, token)
    client.cookies.clear()  # a calendar app has no session
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    lines = _check_rfc_5545_lines(response.content)
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"] and lines[-1] == "END:VCALENDAR"
    events = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [f"refill-appointment-{appointment_id}@testserver"]
    [event] = events
    assert event["DTSTART"].dt == dt.datetime(2023, 7, 12, 9, 30, tzinfo=dt.UTC)
    assert event["DTEND"].dt == dt.datetime(2023, 7, 12, 10, 0, tzinfo=dt.UTC)
    assert event["DTSTAMP"].dt == NOW.replace(tzinfo=dt.UTC)
    assert (str(event["SUMMARY"]), str(event["LOCATION"]), str(event["STATUS"])) == (
        "Pump refill CJFH/P003 (home visit)", "Home visit", "CONFIRMED")
    for identifier in ("Liu", "Zhang", "MRN", "NGP", "1960"):
        assert identifier not in response.text
    assert f"refill-appointment-{other}" not in response.text  # the physician's refill is in their own feed

    assert client.get(url.replace(".ics", "x.ics")).status_code == 404
    assert client.get("/calendar/feed/nothing.ics").status_code == 404
    token = log_in_as(client, Role.NURSE)
    new_url = _feed_url(client, token)
    assert new_url != url and client.get(url).status_code == 404 and client.get(new_url).status_code == 200


def test_a_cancelled_refill_stays_in_the_feed_as_cancelled(client: TestClient) -> None:
    token = log_in_as(client, Role.NURSE)
    appointment_id = _book(client, token)
    assert client.post(f"/api/appointments/{appointment_id}/cancel", headers={"X-CSRF-Token": token},
                       data={"version": "1"}).status_code == 204
    [event] = icalendar.Calendar.from_ical(client.get(_feed_url(client, token)).content).walk("VEVENT")
    assert (str(event["STATUS"]), event["SEQUENCE"]) == ("CANCELLED", 1)


def test_folding_keeps_utf8_characters_whole_and_unfolds_to_the_line() -> None:
    line = "SUMMARY:" + "Pumpe auffüllen – Hausbesuch, Zürich; " * 6
    folded = fold(line).encode()
    pieces = folded.split(b"\r\n")[:-1]
    assert all(len(p) <= 75 for p in pieces) and all(p.startswith(b" ") for p in pieces[1:])
    assert folded.decode().replace("\r\n ", "").removesuffix("\r\n") == line
