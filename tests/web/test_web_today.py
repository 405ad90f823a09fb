"""Today and the calendar's refills due, paged, with counts by day and what sets each date (reservoir or a drug's
stability), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from openidds.web import Role
from openidds.web.calendar import calendar_for
from openidds.web.errors import InputRefused
from openidds.web.today import TodayPages

from .conftest import TODAY, log_in_as


def test_today_pages_each_list_and_counts_the_refills_by_day(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    whole = client.get("/api/today").json()
    assert [(r["patient_id"], r["next_refill_due"], r["due_reason"], r["stability_drug"], r["reservoir_due"],
             r["stability_due"]) for r in whole["refills_due"]] == [
        ("P001", "2023-04-20", "reservoir", "bupivacaine", "2023-04-20", "2023-05-15"),
        ("P003", "2023-06-18", "stability", "morphine", "2023-07-01", "2023-06-18")]
    assert whole["refills_by_day"] == {"overdue": 2, "total": 2, "by_day": []}
    assert whole["refills_page"] == {"page": 1, "per_page": 50, "total": 2}
    first, second = (client.get("/api/today", params={"per_page": 1, "refills_page": n}).json() for n in (1, 2))
    assert [r["patient_id"] for r in first["refills_due"]] == ["P001"]
    assert [r["patient_id"] for r in second["refills_due"]] == ["P003"]
    assert second["refills_page"] == {"page": 2, "per_page": 1, "total": 2}
    assert len(second["open_alarms"]) == 1 and second["alarms_page"]["page"] == 1  # each list pages on its own
    beyond = client.get("/api/today", params={"alarms_page": 3}).json()
    assert beyond["open_alarms"] == [] and beyond["alarms_page"]["total"] == 1


def test_today_page_shows_the_counts_the_reason_and_a_pager(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    page = client.get("/today", params={"per_page": 1}).text
    assert "Overdue" in page and "stability of morphine" not in page  # P001, due by its reservoir, comes first
    assert 'href="/today?alarms_page=1&amp;follow_ups_page=1&amp;per_page=1&amp;refills_page=2#refills"' in page
    assert "rows 1–1 of 2 (page 1 of 2)" in page
    second = client.get("/today", params={"per_page": 1, "refills_page": 2}).text
    assert "stability of morphine" in second and "2023-07-01" in second and "2023-06-18" in second


def test_bad_page_numbers_are_refused(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    for path, params in [("/api/today", {"refills_page": 0}), ("/api/today", {"per_page": 501}),
                         ("/api/calendar", {"page": 0}), ("/api/today", {"alarms_page": "two"}),
                         ("/api/today", {"alarms_page": 10**18})]:
        response = client.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)


def test_the_calendar_pages_the_unbooked_refills_with_their_counts(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    week = client.get("/api/calendar", params={"per_page": 1, "page": 2}).json()
    assert [(r["patient_id"], r["due_reason"]) for r in week["due_unbooked"]] == [("P003", "stability")]
    assert week["due_unbooked_page"] == {"page": 2, "per_page": 1, "total": 2}
    assert week["due_unbooked_by_day"]["overdue"] == 2
    page = client.get("/calendar", params={"per_page": 1, "page": 2}).text
    assert "stability of morphine (reservoir 2023-07-01)" in page
    assert 'href="/calendar?week=2023-W28&amp;page=1#due"' in page


def test_the_services_refuse_bad_pages_themselves(clinic: Engine) -> None:
    with pytest.raises(InputRefused, match="alarms_page=0: expected a page number from 1 to 100000"):
        TodayPages(alarms=0)
    with pytest.raises(InputRefused, match="per_page=501: expected 1 to 500 rows per page"):
        calendar_for(clinic, Role.NURSE, TODAY, per_page=501)
