"""The clinic's time zone as a web worker holds it (ZoneCache), on SQLite and PostgreSQL: read once, then again
only after its maximum age or at once after this process's own change; another process's change (a second worker,
the command line) shows once the held zone is older than the maximum age."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, update

from openidds.clinic import models, time_zone
from openidds.clinic.database import unit_of_work
from openidds.clinic.time_zone import ZONE_MAX_AGE_S, ZoneCache
from openidds.web import Role

from .conftest import NOW, log_in_as, user_name

ADMIN = user_name(Role.ADMINISTRATOR)


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.s = 100.0

    def __call__(self) -> float:
        return self.s


def _reads(engine: Engine) -> list[str]:
    """The statements that read the clinic's settings row, as they run."""
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if "FROM clinic_settings" in statement:
            seen.append(statement)

    return seen


def _changed_elsewhere(engine: Engine, name: str) -> None:
    """The setting changed by another process: the row written without this process's :func:`set_zone`."""
    with unit_of_work(engine, "other worker", "test") as session:
        session.execute(update(models.ClinicSetting).values(time_zone=name))


def test_a_worker_reads_the_zone_once_per_max_age_and_at_once_after_its_own_change(clinic: Engine) -> None:
    ticks, reads = Ticks(), _reads(clinic)
    cache = ZoneCache(clinic, ticks=ticks)
    assert cache.current().name == "UTC" and cache.current().is_default
    assert len(reads) == 1
    time_zone.set_zone(clinic, "Europe/Stockholm", ADMIN, NOW, "test")
    assert cache.current().name == "Europe/Stockholm"  # this process's change: read at once
    ticks.s += ZONE_MAX_AGE_S - 0.1
    _changed_elsewhere(clinic, "Asia/Shanghai")
    reads.clear()
    assert cache.current().name == "Europe/Stockholm"  # another process's change, within the maximum age
    assert reads == []
    ticks.s += 0.1
    assert cache.current().name == "Asia/Shanghai"  # the held zone is as old as the maximum age: read again
    assert len(reads) == 1


def test_today_shows_the_zone_the_administrator_just_set_and_reads_it_once(client: TestClient,
                                                                          clinic: Engine) -> None:
    log_in_as(client, Role.NURSE)
    assert "times in UTC" in client.get("/today").text
    reads = _reads(clinic)
    for _ in range(3):
        assert "times in UTC" in client.get("/today").text
    assert reads == []  # held: no statement per request
    token = log_in_as(client, Role.ADMINISTRATOR)
    response = client.post("/settings/time-zone", data={"csrf_token": token, "time_zone": "Europe/Stockholm",
                                                        "based_on": "0"}, follow_redirects=False)
    assert response.status_code == 303
    log_in_as(client, Role.NURSE)
    assert "times in Europe/Stockholm" in client.get("/today").text
