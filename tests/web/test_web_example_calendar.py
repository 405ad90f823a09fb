"""The example clinic's refill calendar, as `openidds web serve --example` serves it: its refills booked by the
virtual clinic, so the current week and the coming ones show booked refills beside the few due and not booked; the
week and a day looked at in Debian's Chromium (screenshots in the folder the run prints)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from openidds.clinic.examples import EXAMPLE_CUTOFF
from openidds.web import Role
from openidds.web.accounts import users_table
from openidds.web.app import create_app

from .conftest import ChromiumPages, log_in_as, serving, user_name

NOW = dt.datetime.combine(EXAMPLE_CUTOFF, dt.time(9))
THIS_WEEK, NEXT_WEEK = "2025-W27", "2025-W28"


@pytest.fixture(scope="module")
def staffed(example: Engine, role_hashes: dict[Role, str]) -> Engine:
    """The example with the test users, one per role."""
    with example.begin() as conn:
        conn.execute(insert(users_table), [{"name": user_name(role), "role": role.value, "password_hash": hashed,
                                            "failed_logins": 0, "created_at": NOW}
                                           for role, hashed in role_hashes.items()])
    return example


@pytest.fixture
def client(staffed: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(staffed, today=EXAMPLE_CUTOFF, clock=lambda: NOW)) as test_client:
        yield test_client


@pytest.fixture
def served(staffed: Engine) -> Iterator[str]:
    """The example served on its clinic day (overrides the test clinic's app of conftest)."""
    with serving(create_app(staffed, today=EXAMPLE_CUTOFF, clock=lambda: NOW)) as base:
        yield base


def test_the_examples_current_week_shows_its_booked_refill_and_the_overdue_one_unbooked(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    week = client.get("/api/calendar").json()
    assert week["label"] == THIS_WEEK and week["days"][0] == EXAMPLE_CUTOFF.isoformat()
    assert [(a["patient_id"], a["starts_at"], a["clinician"]) for a in week["appointments"]] == [
        ("S00190", "2025-07-01T14:30:00Z", "RN Elm (synthetic)")]
    assert [(r["patient_id"], r["days_left"]) for r in week["due_unbooked"]] == [("S00117", -17)]
    page = client.get("/calendar").text
    assert "VIRTUAL-02/S00190" in page and "booked by RN Elm (synthetic)" in page
    assert '<option value="RN Elm (synthetic)" selected>' in page, "a move keeps the example's clinician"


def test_the_next_week_is_a_working_clinics_week(client: TestClient) -> None:
    """Refills booked on its working days, at the clinic and at home, and one due that week not booked yet."""
    log_in_as(client, Role.DATA_MANAGER)
    week = client.get("/api/calendar", params={"week": NEXT_WEEK}).json()
    booked = week["appointments"]
    assert len(booked) == 4 and {a["place"] for a in booked} == {"clinic", "home"}
    assert {dt.date.fromisoformat(a["starts_at"][:10]).weekday() for a in booked} <= {0, 1, 2, 3, 4}
    assert [r["patient_id"] for r in week["due_unbooked"]] == ["S00117", "S00191"]
    day = client.get("/api/calendar", params={"day": "2025-07-09"}).json()
    assert [(a["patient_id"], a["starts_at"][11:16]) for a in day["appointments"]] == [("S00125", "08:30"),
                                                                                     ("S00126", "13:30")]


def test_the_examples_calendar_in_chromium(chromium_page: ChromiumPages) -> None:
    page = chromium_page(Role.NURSE, height=1100)
    page.goto(chromium_page.base + "/calendar")
    week = page.locator("#appointments")
    assert "VIRTUAL-02/S00190" in week.inner_text() and "RN Elm (synthetic)" in week.inner_text()
    assert "VIRTUAL-01/S00117" in page.locator("#due").inner_text()
    chromium_page.shot(page, "example-calendar-1-this-week")
    page.get_by_role("link", name="next →").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == f"Refill calendar, week {NEXT_WEEK}"
    assert page.locator("article.appointment").count() == 4 and page.locator("article.place-home").count() >= 1
    chromium_page.shot(page, "example-calendar-2-next-week")
    page.get_by_role("link", name="Wed 09 Jul").click()
    page.wait_for_load_state()
    assert page.locator("article.appointment").count() == 2
    chromium_page.shot(page, "example-calendar-3-day")
    assert chromium_page.page_errors == [] and chromium_page.console_errors == []
