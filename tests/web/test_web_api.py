"""The JSON API and pages on SQLite and PostgreSQL: what Today lists, a patient's timeline, names hidden from
researchers (tests/web/test_web_research.py), every route tried by every role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from openidds.clinic import analysis_dataset
from openidds.outcomes.report import study_report
from openidds.web import Role
from openidds.web.report_jobs import jobs_table
from openidds.web.routes import all_routes

from .conftest import NOW, log_in_as, password, user_name

CLINICAL = {Role.PHYSICIAN, Role.NURSE, Role.DATA_MANAGER}
EVERYONE = set(Role)
CARE = {Role.PHYSICIAN, Role.NURSE}
REPORTERS = {Role.PHYSICIAN, Role.DATA_MANAGER, Role.RESEARCHER}
ROUTES = {
    "/today": CLINICAL, "/today/sections": CLINICAL, "/api/today": CLINICAL,
    "/today/findings": {Role.DATA_MANAGER}, "/api/today/findings": {Role.DATA_MANAGER},
    "/patients": CLINICAL, "/api/patients": CLINICAL,
    "/patients/CJFH/P001": CLINICAL, "/api/patients/CJFH/P001": CLINICAL,
    "/patients/CJFH/P001/plot.svg": CLINICAL, "/api/patients/CJFH/P001/series": CLINICAL,
    "/patients/CJFH/P001/records": CLINICAL, "/api/patients/CJFH/P001/records": CLINICAL,
    "/patients/CJFH/P001/records/visits/new": CARE, "/patients/CJFH/P001/records/visits/1": CARE,
    "/research/patients": {Role.RESEARCHER}, "/api/research/patients": {Role.RESEARCHER},
    "/research/patients/R000001": {Role.RESEARCHER}, "/api/research/patients/R000001": {Role.RESEARCHER},
    "/research/patients/R000001/plot.svg": {Role.RESEARCHER},
    "/import": {Role.DATA_MANAGER}, "/report": REPORTERS, "/report/SHA/report.html": REPORTERS,
    "/api/report/SHA/report.pdf": REPORTERS, "/report/jobs/1": REPORTERS, "/api/report/jobs/1": REPORTERS,
    "/exports": {Role.DATA_MANAGER, Role.RESEARCHER},
    "/api/exports/analysis": {Role.DATA_MANAGER}, "/api/exports/research": {Role.DATA_MANAGER, Role.RESEARCHER},
    "/users": {Role.ADMINISTRATOR}, "/api/users": {Role.ADMINISTRATOR},
    "/me": EVERYONE, "/api/me": EVERYONE,
    "/alarms": CLINICAL, "/api/alarms": CLINICAL, "/calendar": CLINICAL, "/api/calendar": CLINICAL,
    "/patients/CJFH/P001/program": CARE, "/api/patients/CJFH/P001/program": CARE,
    "/patients/CJFH/P001/refill": CARE, "/api/patients/CJFH/P001/refill": CARE,
    "/settings/escalation": {Role.PHYSICIAN, Role.ADMINISTRATOR},
    "/api/settings/escalation-policy": {Role.PHYSICIAN, Role.ADMINISTRATOR},
    "/settings/time-zone": {Role.ADMINISTRATOR}, "/api/settings/time-zone": {Role.ADMINISTRATOR},
}
"""Every GET route and the roles that may open it (written out here, not read from the app's table)."""


def test_every_get_route_is_in_the_role_matrix(client: TestClient) -> None:
    open_to_all = {"/", "/login", "/calendar/feed/{token}.ics"}  # the feed's secret address is its key
    served = {route.path for route in all_routes() if "GET" in route.methods and route.path not in open_to_all}
    patterns = (("CJFH/P001", "{site}/{patient_id}"), ("visits/1", "{kind}/{record_id}"), ("visits/new", "{kind}/new"),
                ("R000001", "{research_id}"), ("exports/analysis", "exports/{kind}"),
                ("exports/research", "exports/{kind}"), ("SHA", "{dataset_sha256}"), ("jobs/1", "jobs/{job_id}"))
    paths = set()
    for path in ROUTES:
        for given, pattern in patterns:
            path = path.replace(given, pattern)
        paths.add(path)
    assert served == paths


def test_every_route_by_every_role(client: TestClient, clinic: Engine) -> None:
    report = study_report(analysis_dataset(clinic), figures=False).dataset_sha256  # the report of the registry
    with clinic.begin() as conn:  # build 1, done: the report of the registry
        conn.execute(insert(jobs_table).values(id=1, requested_by="test", requested_at=NOW, state="done",
                                               heartbeat_at=NOW, finished_at=NOW, dataset_sha256=report))
    for role in Role:
        log_in_as(client, role)
        for path, allowed in ROUTES.items():
            response = client.get(path.replace("SHA", report), follow_redirects=False)
            expected = 200 if role in allowed else 403
            assert response.status_code == expected, (role, path, response.text[:300])
            if expected == 403 and path.startswith("/api/"):
                assert response.json()["field"] == "role" and response.json()["value"] == role.value


def test_without_a_session_pages_go_to_log_in_and_the_api_answers_401(client: TestClient) -> None:
    for path in ROUTES:
        response = client.get(path, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401 and response.json()["field"] == "session"
        else:
            assert response.status_code == 303 and response.headers["location"] == "/login"


def test_a_partial_update_after_the_session_ended_sends_the_whole_page_to_log_in(client: TestClient) -> None:
    response = client.get("/today/sections", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.headers["hx-redirect"] == "/login" and response.text == ""


def test_home_sends_each_role_to_its_first_page(client: TestClient) -> None:
    homes = {Role.NURSE: "/today", Role.DATA_MANAGER: "/today", Role.PHYSICIAN: "/today",
             Role.RESEARCHER: "/research/patients", Role.ADMINISTRATOR: "/users"}
    for role, home in homes.items():
        log_in_as(client, role)
        assert client.get("/", follow_redirects=False).headers["location"] == home


def test_today_lists_refills_alarms_and_follow_ups(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    today = client.get("/api/today").json()
    assert today["today"] == "2023-07-10"
    refills = {(r["patient_id"], r["next_refill_due"], r["days_left"]) for r in today["refills_due"]}
    assert ("P003", "2023-06-18", -22) in refills
    assert all(r["patient_id"] != "P002" for r in today["refills_due"])  # P002 has left follow-up
    assert [(a["patient_id"], a["alarm"], a["severity"], a["source"], a["age_days"]) for a in today["open_alarms"]] \
        == [("P001", "empty_reservoir", "critical", "pump log", 20)]
    assert [(f["patient_id"], f["target"], f["days_left"]) for f in today["follow_ups_due"]] \
        == [("P003", "2023-07-16", 6)]
    page = client.get("/today").text
    assert "CJFH/P003" in page and "empty_reservoir" in page and "2023-07-16" in page
    assert "stability of morphine" in page


def test_data_manager_sees_the_data_quality_findings_on_their_own_page(client: TestClient) -> None:
    log_in_as(client, Role.DATA_MANAGER)
    findings = client.get("/api/today/findings").json()
    overdue = sorted(f["record"] for f in findings if f["rule"] == "refill-overdue")
    assert overdue == ["implant CJFH/P001 2022-09-01", "implant CJFH/P003 2023-01-20"]
    assert 'href="/today/findings"' in client.get("/today").text
    assert "refill-overdue" in client.get("/today/findings").text
    log_in_as(client, Role.NURSE)
    assert client.get("/api/today/findings").status_code == 403
    assert 'href="/today/findings"' not in client.get("/today").text


def test_patient_timeline_shows_refill_discrepancy_and_names_to_a_nurse(client: TestClient) -> None:
    log_in_as(client, Role.NURSE)
    timeline = client.get("/api/patients/CJFH/P001").json()
    assert timeline["identifiers"]["given_name"] == "Li" and timeline["identifiers"]["family_name"] == "Wang"
    kinds = [e["kind"] for e in timeline["entries"]]
    assert {"visit", "implant", "refill", "alarm"} <= set(kinds)
    over = [e for e in timeline["entries"] if e["kind"] == "refill" and e["flagged"]]
    assert [e["on"] for e in over] == ["2022-12-08"]
    assert "discrepancy -3 mL (over the 2 mL limit" in over[0]["summary"]
    assert [e["on"] for e in timeline["entries"]] == sorted(e["on"] for e in timeline["entries"])
    page = client.get("/patients/CJFH/P001").text
    assert "Wang" in page and "MRN001" in page


@pytest.mark.parametrize("path", ["/api/patients/CJFH/P999", "/patients/NOPE/P001"])
def test_unknown_patient_is_404(client: TestClient, path: str) -> None:
    log_in_as(client, Role.PHYSICIAN)
    response = client.get(path)
    assert response.status_code == 404 and "a patient in the registry" in response.text


def test_pages_carry_security_headers_and_session_cookie_flags(client: TestClient) -> None:
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
    token = client.cookies["openidds_login_csrf"]
    login = client.post("/login", data={"name": user_name(Role.NURSE), "password": password(Role.NURSE),
                                        "csrf_token": token}, follow_redirects=False)
    cookie = login.headers["set-cookie"].lower()
    assert "openidds_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_openapi_documents_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/today", "/api/patients", "/api/patients/{site}/{patient_id}", "/api/me", "/api/users"} <= set(paths)
