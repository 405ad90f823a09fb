"""The clinic's time zone in the web app, on SQLite and PostgreSQL: the administrator's page and API (default UTC,
an unknown zone 422, a stale edit 409, other roles 403); the calendar reads a booked time as local time, stores
UTC, shows it local again and refuses the times the clocks skip or pass twice; Today's date is the clinic's date;
the alarm board shows local times; the .ics feed keeps UTC stamps; the JSON keeps UTC with a Z."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import time_zone
from openidds.clinic.models import RefillAppointment
from openidds.web import Role
from openidds.web.app import create_app

from .conftest import NOW, log_in_as, user_name

NURSE = user_name(Role.NURSE)
ADMIN = user_name(Role.ADMINISTRATOR)
STOCKHOLM = "Europe/Stockholm"
BOOKING = {"site": "CJFH", "patient_id": "P003", "date": "2023-07-12", "time": "09:30", "place": "clinic",
           "clinician": NURSE}


def _set(clinic: Engine, name: str = STOCKHOLM) -> None:
    time_zone.set_zone(clinic, name, ADMIN, NOW, "test")


def _book(client: TestClient, token: str, **change: str) -> int:
    response = client.post("/api/appointments", headers={"X-CSRF-Token": token}, data=BOOKING | change)
    assert response.status_code == 201, response.text
    appointment_id: int = response.json()["id"]
    return appointment_id


def _stored_start(clinic: Engine, appointment_id: int) -> dt.datetime:
    with Session(clinic) as session:
        starts_at: dt.datetime = session.scalars(select(RefillAppointment.starts_at)
                                                 .where(RefillAppointment.id == appointment_id)).one()
    return starts_at


def test_the_administrator_sets_the_zone_on_its_page_a_stale_edit_is_409(client: TestClient) -> None:
    token = log_in_as(client, Role.ADMINISTRATOR)
    page = client.get("/settings/time-zone").text
    assert "The clinic's time zone is <strong>UTC</strong>: the default, as none has been set" in page
    assert "times in UTC" in page
    response = client.post("/settings/time-zone", data={"csrf_token": token, "time_zone": "Europe/Stokholm",
                                                        "based_on": "0"})
    assert response.status_code == 422
    assert 'value="Europe/Stokholm"' in response.text and "an IANA time zone name such as Europe/Stockholm" in (
        response.text)
    response = client.post("/settings/time-zone", data={"csrf_token": token, "time_zone": STOCKHOLM, "based_on": "0"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/settings/time-zone?saved=true"
    page = client.get("/settings/time-zone?saved=true").text
    assert f"set by {ADMIN} at 2023-07-10 11:00 ({STOCKHOLM})" in page and f"times in {STOCKHOLM}" in page
    stale = client.post("/settings/time-zone", data={"csrf_token": token, "time_zone": "Asia/Shanghai",
                                                     "based_on": "0"})
    assert stale.status_code == 409 and f"{STOCKHOLM} (version 1, set by {ADMIN} at 2023-07-10 09:00 UTC)" in (
        stale.text)
    assert client.get("/api/settings/time-zone").json() == {
        "time_zone": STOCKHOLM, "version": 1, "default": False, "changed_at": "2023-07-10T09:00:00Z",
        "changed_by": ADMIN, "escalation_policy_time_zone": None}
    response = client.put("/api/settings/time-zone", headers={"X-CSRF-Token": token},
                          json={"time_zone": "Asia/Shanghai", "based_on": 1})
    assert response.status_code == 200 and response.json()["version"] == 2
    response = client.put("/api/settings/time-zone", headers={"X-CSRF-Token": token},
                          json={"time_zone": "Asia/Tokyo", "based_on": 1})
    assert response.status_code == 409 and "Asia/Shanghai (version 2" in response.json()["message"]
    response = client.put("/api/settings/time-zone", headers={"X-CSRF-Token": token},
                          json={"time_zone": "Nowhere/Atlantis", "based_on": 2})
    assert response.status_code == 422 and response.json()["field"] == "time_zone"


@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN, Role.DATA_MANAGER, Role.RESEARCHER])
def test_only_an_administrator_sets_the_zone(client: TestClient, clinic: Engine, role: Role) -> None:
    token = log_in_as(client, role)
    assert client.get("/settings/time-zone").status_code == 403
    response = client.put("/api/settings/time-zone", headers={"X-CSRF-Token": token},
                          json={"time_zone": STOCKHOLM, "based_on": 0})
    assert response.status_code == 403
    assert time_zone.current(clinic).is_default


def test_a_booking_is_read_in_local_time_stored_utc_and_shown_local(client: TestClient, clinic: Engine) -> None:
    _set(clinic)
    token = log_in_as(client, Role.NURSE)
    summer = _book(client, token)  # 09:30 in July: CEST, UTC+2
    assert _stored_start(clinic, summer) == dt.datetime(2023, 7, 12, 7, 30)
    week = client.get("/api/calendar").json()
    assert week["time_zone"] == STOCKHOLM
    assert [(a["starts_at"], a["booked_at"]) for a in week["appointments"]] == [
        ("2023-07-12T07:30:00Z", "2023-07-10T09:00:00Z")]
    page = client.get("/calendar?day=2023-07-12").text
    assert "<strong>09:30–10:00</strong>" in page and f"Days and times in {STOCKHOLM}" in page
    assert f"booked by {NURSE}, 2023-07-10 11:00" in page and f'aria-label="Time ({STOCKHOLM})"' in page

    move = BOOKING | {"version": "1", "date": "2023-12-01", "time": "09:00"}  # winter: CET, UTC+1
    response = client.post(f"/api/appointments/{summer}/move", headers={"X-CSRF-Token": token}, data=move)
    assert response.status_code == 204, response.text
    assert _stored_start(clinic, summer) == dt.datetime(2023, 12, 1, 8, 0)
    assert "<strong>09:00–09:30</strong>" in client.get("/calendar?day=2023-12-01").text

    move = BOOKING | {"version": "2", "time": "07:00Z"}  # a time with an offset names its moment
    assert client.post(f"/api/appointments/{summer}/move", headers={"X-CSRF-Token": token},
                       data=move).status_code == 204
    assert _stored_start(clinic, summer) == dt.datetime(2023, 7, 12, 7, 0)


def test_a_local_day_spans_its_own_utc_hours(client: TestClient, clinic: Engine) -> None:
    _set(clinic)
    token = log_in_as(client, Role.NURSE)
    late = _book(client, token, date="2023-07-13", time="00:30")  # Stockholm's 13 July, still the 12th in UTC
    assert _stored_start(clinic, late) == dt.datetime(2023, 7, 12, 22, 30)
    assert [a["id"] for a in client.get("/api/calendar", params={"day": "2023-07-13"}).json()["appointments"]] == [
        late]
    assert client.get("/api/calendar", params={"day": "2023-07-12"}).json()["appointments"] == []


@pytest.mark.parametrize(("day", "said"), [("2023-03-26", "the clocks skip it that day"),
                                           ("2023-10-29", "the clocks pass it twice that day")])
def test_a_time_the_clocks_skip_or_repeat_is_refused(client: TestClient, clinic: Engine, day: str, said: str) -> None:
    _set(clinic)
    token = log_in_as(client, Role.NURSE)
    response = client.post("/api/appointments", headers={"X-CSRF-Token": token},
                           data=BOOKING | {"date": day, "time": "02:30"})
    assert response.status_code == 422
    refusal = response.json()
    assert (refusal["field"], refusal["value"]) == ("time", f"{day} 02:30") and said in refusal["message"]
    assert client.get("/api/calendar", params={"day": day}).json()["appointments"] == []


def test_the_feed_keeps_utc_stamps(client: TestClient, clinic: Engine) -> None:
    _set(clinic)
    token = log_in_as(client, Role.NURSE)
    _book(client, token)
    assert client.post("/me/calendar-feed", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    address = next(part.split('"')[0] for part in client.get("/me").text.split('value="')[1:]
                   if part.split('"')[0].endswith(".ics"))
    body = client.get(address).text
    assert "DTSTART:20230712T073000Z" in body and "TZID" not in body
    [event] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert event["DTSTART"].dt.astimezone(time_zone.zone_named(STOCKHOLM)).hour == 9


def test_the_alarm_board_and_today_show_local_times(client: TestClient, clinic: Engine) -> None:
    log_in_as(client, Role.NURSE)
    [alarm] = [a for a in client.get("/api/alarms").json()["alarms"] if a["alarm"] == "empty_reservoir"]
    since = dt.datetime.fromisoformat(alarm["since"].removesuffix("Z"))
    _set(clinic, "Asia/Shanghai")  # UTC+8, no daylight saving
    local = (since + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    board = client.get("/alarms").text
    assert f"<td class=\"when\">{local}</td>" in board and "Raised (Asia/Shanghai)" in board
    today = client.get("/today").text
    assert f"<td>{local}</td>" in today and "The clinic's day and times in Asia/Shanghai" in today
    assert client.get("/api/alarms").json()["alarms"][0]["since"].endswith("Z")  # the JSON stays UTC


@pytest.fixture
def late_evening(clinic: Engine) -> Iterator[TestClient]:
    """The app with the wall clock at 22:30 UTC on 10 July 2023 and no fixed clinic day."""
    app = create_app(clinic, today=None, clock=lambda: dt.datetime(2023, 7, 10, 22, 30))
    with TestClient(app) as test_client:
        yield test_client


def test_today_is_the_clinic_date(late_evening: TestClient, clinic: Engine) -> None:
    log_in_as(late_evening, Role.NURSE)
    assert late_evening.get("/api/today").json()["today"] == "2023-07-10"  # UTC, the default
    _set(clinic, "Asia/Shanghai")  # 06:30 on the 11th there
    assert late_evening.get("/api/today").json()["today"] == "2023-07-11"
    assert "<h1>Today, 2023-07-11</h1>" in late_evening.get("/today").text
    assert late_evening.get("/api/calendar").json()["label"] == "2023-W28"
    _set(clinic, "America/Los_Angeles")  # 15:30 on the 10th there
    assert late_evening.get("/api/today").json()["today"] == "2023-07-10"


def test_the_timeline_dates_a_timed_event_by_its_local_day(client: TestClient, clinic: Engine) -> None:
    log_in_as(client, Role.NURSE)

    def refill_days() -> list[str]:
        entries = client.get("/api/patients/CJFH/P001").json()["entries"]
        return [e["on"] for e in entries if e["kind"] == "refill"][:1]

    assert refill_days() == ["2022-10-01"]  # refilled at 09:00 UTC
    _set(clinic, "Pacific/Honolulu")  # UTC-10: 23:00 the day before
    assert refill_days() == ["2022-09-30"]
    page = client.get("/patients/CJFH/P001").text
    assert "<time>2022-09-30</time><span class=\"kind\">refill</span>" in page
    assert "Dates of the clinic's time zone, Pacific/Honolulu" in page
