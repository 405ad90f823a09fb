"""The refill, programming and users pages show their times in the clinic's time zone, named on the page, on
SQLite and PostgreSQL (Europe/Stockholm: UTC+1 in March, UTC+2 in summer); their JSON API keeps UTC."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from openidds.clinic import time_zone
from openidds.web import Role
from openidds.web.accounts import LOCK_OUT_DURATION, log_in
from openidds.web.errors import LoginRefused

from .conftest import NOW, log_in_as, user_name

STOCKHOLM = "Europe/Stockholm"
REFILL = "/patients/CJFH/P003/refill"
PROGRAM = "/patients/CJFH/P003/program"


def _in_stockholm(clinic: Engine) -> None:
    time_zone.set_zone(clinic, STOCKHOLM, user_name(Role.ADMINISTRATOR), NOW, "test")


def test_the_refill_page_shows_local_times_and_the_api_utc(pumped: Engine, client: TestClient) -> None:
    _in_stockholm(pumped)
    log_in_as(client, Role.NURSE)
    view = client.get("/api" + REFILL).json()
    assert view["history"][0]["refilled_at"] == "2023-03-20T10:00"  # UTC
    assert view["observation"]["until"] == "2023-06-01T08:35"
    assert view["pump"]["at"] == "2023-07-10T09:00:00"
    page = client.get(REFILL).text
    assert "Times in the clinic's time zone, Europe/Stockholm." in page
    assert "read at <span class=\"when\">2023-07-10 11:00</span>" in page  # 09:00 UTC, summer time
    assert '<td class="when">2023-03-20 11:00</td>' in page  # 10:00 UTC, winter time
    assert "(until 2023-06-01 10:35) was signed off by RN Fill" in page
    assert "2023-07-10T09:00" not in page and "2023-03-20T10:00" not in page


def test_the_programming_page_shows_local_times_and_the_api_utc(pumped: Engine, client: TestClient) -> None:
    _in_stockholm(pumped)
    token = log_in_as(client, Role.NURSE)
    proposed = client.post("/api" + PROGRAM + "/proposals", json={"dose": "2.4 mg/day", "concentration": "20 mg/mL",
                                                         "note": "pain NRS 7 at rest"}, headers={"X-CSRF-Token": token})
    assert proposed.status_code == 201, proposed.text
    view = client.get("/api" + PROGRAM).json()
    assert view["proposals"][0]["proposed_at"] == "2023-07-10T09:00:00"
    logged = [dt.datetime.fromisoformat(line["at"]) for line in view["log"]]
    page = client.get(PROGRAM).text
    assert "Times in the clinic's time zone, Europe/Stockholm." in page
    assert f"by {user_name(Role.NURSE)} at 2023-07-10 11:00</h3>" in page
    assert "<th>when (Europe/Stockholm)</th>" in page
    for at in logged:
        assert f'<td class="when">{(at + dt.timedelta(hours=2)):%Y-%m-%d %H:%M}</td>' in page  # all in summer


def test_the_users_page_shows_the_lock_out_end_in_local_time(clinic: Engine, client: TestClient) -> None:
    _in_stockholm(clinic)
    nurse = user_name(Role.NURSE)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            log_in(clinic, nurse, "wrong passphrase 99", NOW)
    log_in_as(client, Role.ADMINISTRATOR)
    page = client.get("/users").text
    local_end = NOW + LOCK_OUT_DURATION + dt.timedelta(hours=2)
    assert "<th>Locked until (Europe/Stockholm)</th>" in page
    assert f'<td class="when">{local_end:%Y-%m-%d %H:%M}</td>' in page and "UTC</td>" not in page
