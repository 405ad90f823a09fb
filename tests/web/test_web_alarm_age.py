"""An alarm's age on Today, the alarm board and the API, on SQLite and PostgreSQL: whole days from its raising to
the clinic's now (the app's fixed clinic day at the clock's time), never negative; an alarm raised after that now
(a pump log dated ahead, or a clinic day fixed before the alarm) is a data error shown as such, with no age."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from openidds.clinic import models as m
from openidds.clinic.alarms import sync_alarms
from openidds.clinic.database import unit_of_work
from openidds.clinic.open_alarms import age_days
from openidds.web import Role

from .conftest import NOW, TODAY, log_in_as

AHEAD = dt.datetime.combine(TODAY + dt.timedelta(days=2), dt.time(7, 0))
"""When the imported pump log says CJFH/P003's alarm was raised: two days after the clinic's now."""
DATA_ERROR = "raised after now: a data error"


def _alarm_logged_at(engine: Engine, patient: str, at: dt.datetime) -> None:
    """A low-reservoir alarm at ``at`` in the imported event log of the patient's pump, synced into the clinic's
    alarm record."""
    with unit_of_work(engine, "test") as session:
        implant_id = session.scalars(select(m.Implant.id).join(m.Patient).where(m.Patient.patient_code == patient)
                                     .order_by(m.Implant.implant_date.desc())).first()
        session.add(m.PumpEvent(implant_id=implant_id, seq=1, at=at, kind="alarm", reason="test log",
                                data={"alarm": "low_reservoir", "severity": "non-critical"}))
    sync_alarms(engine, "test")


def _age_cell(row: str) -> str:
    found = re.search(r'<td class="age">(.*?)</td>', row, re.S)
    assert found, row
    return found.group(1)


def test_the_age_counts_whole_days_and_is_none_after_now() -> None:
    assert age_days(NOW - dt.timedelta(hours=1), NOW) == 0
    assert age_days(NOW - dt.timedelta(days=2, minutes=1), NOW) == 2
    assert age_days(NOW, NOW) == 0
    assert age_days(NOW + dt.timedelta(minutes=1), NOW) is None


def test_an_alarm_from_after_the_clinic_day_is_a_data_error_never_a_negative_age(client: TestClient,
                                                                                 clinic: Engine) -> None:
    _alarm_logged_at(clinic, "P003", AHEAD)
    log_in_as(client, Role.NURSE)
    today = client.get("/today").text
    alarms = today[today.index('<section id="alarms">'):]
    row = alarms[alarms.index("CJFH/P003</a>"):]
    row = row[:row.index("</tr>")]
    assert DATA_ERROR in _age_cell(row)
    board = client.get("/alarms").text
    row = board[board.index("CJFH/P003</a>"):]
    row = row[:row.index("</tr>")]
    assert DATA_ERROR in _age_cell(row) and "waited" not in row
    api = client.get("/api/today").json()
    ages = {(a["patient_id"], a["alarm"]): a["age_days"] for a in api["open_alarms"]}
    assert ages[("P003", "low_reservoir")] is None
    assert all(age is None or age >= 0 for age in ages.values())
    assert "since" in api["open_alarms"][0] and api["open_alarms"][0]["since"].endswith("Z")  # the API stays UTC
