"""The patient page's plot on SQLite and PostgreSQL: the SVG at its own route (deterministic, cached by its ETag),
the series under the API's patients resource, the page's image with its text alternative, a patient with nothing
to plot, the clinic's time zone, and the researcher's plot on shifted dates."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import OrderedDict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from openidds.clinic import models as m
from openidds.clinic import patients, time_zone, unit_of_work
from openidds.clinic.deidentify import research_keys
from openidds.clinic.patient_series import PatientSeries
from openidds.web import Role, patient_plot

from .conftest import NOW, RESEARCH_SEED, TODAY, log_in_as

SVG = "{http://www.w3.org/2000/svg}svg"


def _add_bare_patient(engine: Engine) -> None:
    """CJFH/P004: a patient with a record and nothing else yet."""
    with unit_of_work(engine, "test") as session:
        site_id = session.scalars(select(m.Site.id).where(m.Site.code == "CJFH")).one()
        session.add(m.Patient(site_id=site_id, patient_code="P004", sex="female", age_at_implant_years=50))


def test_the_plot_is_a_deterministic_svg_cached_by_its_etag(client: TestClient, clinic: Engine,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[PatientSeries] = []

    def counted(series: PatientSeries) -> bytes:
        drawn.append(series)
        return patient_plot.render(patient_plot.patient_figure(series), "svg")

    monkeypatch.setattr(patient_plot, "patient_svg", counted)
    monkeypatch.setattr(patient_plot, "_drawn", OrderedDict())
    log_in_as(client, Role.NURSE)
    first = client.get("/patients/CJFH/P001/plot.svg")
    assert first.status_code == 200 and first.headers["content-type"] == "image/svg+xml"
    assert ET.fromstring(first.content).tag == SVG
    again = client.get("/patients/CJFH/P001/plot.svg")  # another browser, without the ETag: the bytes kept
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert len(drawn) == 1
    assert counted(drawn[0]) == first.content, "drawn again, the same bytes"
    unchanged = client.get("/patients/CJFH/P001/plot.svg", headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    other = client.get("/patients/CJFH/P003/plot.svg")
    assert other.status_code == 200 and other.headers["etag"] != first.headers["etag"]
    assert other.content != first.content


def test_the_series_under_the_patients_resource(client: TestClient) -> None:
    log_in_as(client, Role.PHYSICIAN)
    series = client.get("/api/patients/CJFH/P001/series").json()
    assert series["label"] == "CJFH/P001" and series["zone"] == "UTC"
    assert series["through"].startswith(TODAY.isoformat())  # no exit: the open program runs to the clinic's day
    assert [(s["drug"], s["start"][:16], s["dose_mg_per_day"], s["continuous"]) for s in series["doses"]] == [
        ("morphine", "2022-09-01T10:00", 1.0, True), ("bupivacaine", "2022-10-01T09:00", 2.0, True),
        ("morphine", "2022-10-01T09:00", 1.5, True)]
    assert [(p["on"], p["nrs"]) for p in series["pain"]] == [("2022-08-25", 8), ("2022-10-01", 3), ("2023-03-01", 4)]
    # 12.0 mL expected, 9.0 withdrawn on its 40 mL pump: 3 mL over the 2 mL limit
    assert [(d["discrepancy_ml"], d["limit_ml"], d["flagged"]) for d in series["discrepancies"]] == [
        (-0.5, 2.0, False), (-3.0, 2.0, True), (0.2, 2.0, False)]
    p003 = client.get("/api/patients/CJFH/P003/series").json()
    assert [(s["dose_mg_per_day"], s["continuous"], s["end"]) for s in p003["doses"]] == [(2.0, False, None)]
    assert client.get("/api/patients/CJFH/P404/series").status_code == 404


def test_times_are_the_clinics(client: TestClient, clinic: Engine) -> None:
    time_zone.set_zone(clinic, "Asia/Shanghai", "admin-1", NOW, "test")
    log_in_as(client, Role.NURSE)
    series = client.get("/api/patients/CJFH/P001/series").json()
    assert series["zone"] == "Asia/Shanghai"
    assert series["doses"][0]["start"] == "2022-09-01T10:00:00Z"  # the API's times are UTC...
    page = client.get("/patients/CJFH/P001").text
    assert "<td>morphine</td><td>2022-09-01 18:00</td>" in page  # ...the page's are the clinic's
    assert "Times in the time zone\n  Asia/Shanghai" in page


def test_the_page_shows_the_plot_with_its_values_in_text(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    page = client.get("/patients/CJFH/P001").text
    assert '<img src="/patients/CJFH/P001/plot.svg" alt="Dose and NRS of CJFH/P001 (times in UTC): morphine mg/day: ' \
           '1 from 2022-09-01, 1.5 from 2022-10-01. bupivacaine mg/day: 2 from 2022-10-01. NRS: 8 on 2022-08-25, ' \
           '3 on 2022-10-01, 4 on 2023-03-01. Refill discrepancies (mL): -0.5 on 2022-10-01, -3 on 2022-12-08 ' \
           '(over the limit), +0.2 on 2023-02-14.">' in page
    values = page[page.index("The plotted values"):page.index('<h2>Timeline</h2>')]
    assert "<td>2022-12-08 08:30</td><td>-3</td><td>2</td>" in values  # refilled at 09:30+01:00
    assert "over the limit" in values and "in effect" in values


def test_a_patient_with_nothing_to_plot_gets_a_sentence(client: TestClient, clinic: Engine) -> None:
    _add_bare_patient(clinic)
    log_in_as(client, Role.NURSE)
    page = client.get("/patients/CJFH/P004").text
    assert "plot.svg" not in page
    assert ('<p class="note" id="plot-none">No pump program, NRS or refill discrepancy recorded for CJFH/P004.</p>'
            in page)
    svg = client.get("/patients/CJFH/P004/plot.svg")  # the address still answers: an image that says so
    assert svg.status_code == 200 and ET.fromstring(svg.content).tag == SVG


def test_the_researcher_gets_the_plot_on_shifted_dates(client: TestClient, clinic: Engine) -> None:
    keys = research_keys([(p.site, p.patient_id) for p in patients(clinic)], RESEARCH_SEED)
    p001 = keys[("CJFH", "P001")]
    log_in_as(client, Role.RESEARCHER)
    assert client.get("/patients/CJFH/P001/plot.svg").status_code == 403
    page = client.get(f"/research/patients/{p001.research_id}").text
    assert f'<img src="/research/patients/{p001.research_id}/plot.svg" alt="Dose and NRS of {p001.research_id} ' in page
    shifted = (dt.date(2022, 9, 1) + p001.shift).isoformat()
    assert f"morphine mg/day: 1 from {shifted}" in page
    assert "CJFH" not in page and "P001" not in page and "2022-09-01" not in page
    svg = client.get(f"/research/patients/{p001.research_id}/plot.svg")
    assert svg.status_code == 200 and ET.fromstring(svg.content).tag == SVG
    assert client.get("/research/patients/R999999/plot.svg").status_code == 404
