"""The researcher's view on SQLite and PostgreSQL: patients and timelines under the research export's IDs and
date shifts (the same mapping as `openidds registry export research` with the server's seed), no name, real ID or
real date anywhere, and no write action reachable."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from openidds.clinic import models as m
from openidds.clinic import patients, research_tables, unit_of_work
from openidds.clinic.deidentify import research_keys
from openidds.clinic.time_zone import set_zone
from openidds.clinic.timeline import patient_timeline
from openidds.web import Role
from openidds.web.app import create_app
from openidds.web.routes import all_routes

from .conftest import NOW, RESEARCH_SEED, TODAY, log_in_as, url_of

IDENTIFIERS = ("Wang", "Zhang", "Liu", "MRN001", "MRN002", "NGP100001", "1960-04-02", "CJFH", "P001", "P002", "P003")


def _real_dates(engine: Engine, site: str, patient_id: str) -> set[str]:
    """Every date a clinician's timeline of the patient shows."""
    return {e.on.isoformat() for e in patient_timeline(engine, site, patient_id, identifiers=True).entries}


def test_the_researcher_sees_the_research_export_ids_and_shifted_dates(client: TestClient, clinic: Engine) -> None:
    log_in_as(client, Role.RESEARCHER)
    rows = client.get("/api/research/patients").json()
    assert rows == client.get("/api/research/patients").json()  # stable across requests
    export = research_tables(clinic, RESEARCH_SEED)["patients"]
    assert sorted(r["research_id"] for r in rows) == sorted(export["research_id"])
    keys = research_keys([(p.site, p.patient_id) for p in patients(clinic)], RESEARCH_SEED)
    p001 = keys[("CJFH", "P001")]
    assert p001.shift != dt.timedelta(0)
    row = next(r for r in rows if r["research_id"] == p001.research_id)
    assert row["first_implant"] == (dt.date(2022, 9, 1) + p001.shift).isoformat()
    assert set(row) == {"research_id", "sex", "cancer_type", "first_implant", "implants", "status", "status_date"}

    timeline = client.get(f"/api/research/patients/{p001.research_id}").json()
    real = patient_timeline(clinic, "CJFH", "P001", identifiers=False)
    assert [e["on"] for e in timeline["entries"]] == [(e.on + p001.shift).isoformat() for e in real.entries]
    assert [e["kind"] for e in timeline["entries"]] == [e.kind.value for e in real.entries]


def test_no_name_real_id_or_real_date_reaches_a_researcher(client: TestClient, clinic: Engine) -> None:
    log_in_as(client, Role.RESEARCHER)
    keys = research_keys([(p.site, p.patient_id) for p in patients(clinic)], RESEARCH_SEED)
    rows = {r["research_id"]: r for r in client.get("/api/research/patients").json()}
    assert len(rows) == len(keys) == 3
    listing = [client.get("/research/patients"), client.get("/api/research/patients")]
    for (site, patient_id), pseudonym in keys.items():
        real = _real_dates(clinic, site, patient_id)
        row = rows[pseudonym.research_id]
        assert {row["first_implant"], row["status_date"]}.isdisjoint(real)
        pages = [client.get(f"/research/patients/{pseudonym.research_id}"),
                 client.get(f"/api/research/patients/{pseudonym.research_id}")]
        for page in pages:
            assert page.status_code == 200
            shown = set(re.findall(r"\d{4}-\d{2}-\d{2}", page.text))
            assert shown and shown.isdisjoint(real), (page.url, shown & real)
        for page in pages + listing:
            for identifier in IDENTIFIERS:
                assert identifier not in page.text, (page.url, identifier)
    for path in ("/patients", "/api/patients", "/patients/CJFH/P001", "/api/patients/CJFH/P001",
                 "/patients/CJFH/P001/records", "/api/patients/CJFH/P001/records"):
        assert client.get(path).status_code == 403


def test_a_researcher_reaches_no_write_action(client: TestClient) -> None:
    token = log_in_as(client, Role.RESEARCHER)
    # building the report (page or API) reads the registry's records and writes none: only its build's state
    not_writes = {"/login", "/logout", "/report", "/api/report/jobs"}
    writes = [route for route in all_routes() if route.methods & {"POST", "PUT", "DELETE"}
              and route.path not in not_writes]
    assert writes
    for route in writes:
        path = url_of(route, kind="visits")
        for method in sorted(route.methods & {"POST", "PUT", "DELETE"}):
            response = client.request(method, path, headers={"X-CSRF-Token": token}, data={"csrf_token": token})
            assert response.status_code == 403, (method, path, response.text[:200])


def test_without_a_research_seed_the_researcher_is_told_whom_to_ask(clinic: Engine) -> None:
    with TestClient(create_app(clinic, today=TODAY, clock=lambda: NOW)) as client:
        log_in_as(client, Role.RESEARCHER)
        response = client.get("/api/research/patients")
        assert response.status_code == 503 and response.json()["field"] == "--research-seed"
        assert "--research-seed" in client.get("/research/patients").text


def test_an_unknown_research_id_is_404(client: TestClient) -> None:
    log_in_as(client, Role.RESEARCHER)
    assert client.get("/api/research/patients/R999999").status_code == 404


def _summer_date_shifted_into_winter(shift: dt.timedelta) -> dt.date:
    """A real date in Stockholm's summer time (UTC+2) whose shifted date is in its winter time (UTC+1)."""
    stockholm = ZoneInfo("Europe/Stockholm")
    for n in range(365):
        real = dt.date(2023, 1, 1) + dt.timedelta(days=n)
        offsets = [dt.datetime.combine(d, dt.time(12), stockholm).utcoffset() for d in (real, real + shift)]
        if offsets == [dt.timedelta(hours=2), dt.timedelta(hours=1)]:
            return real
    raise AssertionError(f"no summer date moves into winter by {shift}")


def test_the_researchers_timeline_is_dated_in_the_clinic_zone_by_the_shifted_moment(client: TestClient,
                                                                                     clinic: Engine) -> None:
    set_zone(clinic, "Europe/Stockholm", "admin-1", NOW, "test")
    p001 = research_keys([(p.site, p.patient_id) for p in patients(clinic)], RESEARCH_SEED)[("CJFH", "P001")]
    real_day = _summer_date_shifted_into_winter(p001.shift)
    at = dt.datetime.combine(real_day, dt.time(22, 30))  # UTC: 00:30 the next day in summer, 23:30 in winter
    with unit_of_work(clinic, "test") as session:
        implant_id = session.scalars(select(m.Implant.id).join(m.Patient).where(m.Patient.patient_code == "P001")
                                     ).one()
        session.add(m.PumpEvent(implant_id=implant_id, seq=4, at=at, kind="alarm", reason="test log",
                                data={"alarm": "low_battery", "severity": "non-critical"}))
    log_in_as(client, Role.RESEARCHER)
    timeline = client.get(f"/api/research/patients/{p001.research_id}").json()
    [shown] = [e["on"] for e in timeline["entries"] if "low_battery" in e["summary"]]
    assert shown == (real_day + p001.shift).isoformat(), "the shifted moment, 23:30 in winter time: not the next day"
    page = client.get(f"/research/patients/{p001.research_id}").text
    assert f"<time>{shown}</time>" in page and "Dates of the clinic's time zone, Europe/Stockholm" in page
    clinician = patient_timeline(clinic, "CJFH", "P001", identifiers=False, zone=ZoneInfo("Europe/Stockholm"))
    [real_shown] = [e.on for e in clinician.entries if "low_battery" in e.summary]
    assert real_shown == real_day + dt.timedelta(days=1), "the clinicians see the real local day, after midnight"
