"""The report page on SQLite and PostgreSQL: a build of the study report runs outside the request (the page and
the API answer at once; its state is polled), a failed build shows its error and a lost one (its process ended)
is reported failed; the report is viewed as HTML under its own narrow CSP and its PDF downloaded, each an entry of
the audit trail; who may build it."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, insert, select

from openidds.clinic import analysis_dataset, connect, init_registry
from openidds.clinic.audit import AuditAction, audit_entries
from openidds.outcomes.report import study_report
from openidds.web import Role
from openidds.web.accounts import sessions_table, users_table
from openidds.web.app import create_app
from openidds.web.report_jobs import STALE_AFTER, jobs_table, start_build

from .conftest import NOW, TODAY, log_in_as, user_name

IDENTIFIERS = ("Wang", "Zhang", "Liu", "MRN001", "NGP100001", "1960-04-02", "P001", "P002", "P003")


def _finished(client: TestClient, job_id: int) -> dict[str, Any]:
    """The build's state once it is done or failed (polled as the page polls it)."""
    deadline = time.monotonic() + 300  # a guard against a build that never ends, not a measure
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/report/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"build {job_id} still {job['state']}")


def _job_id(html: str) -> int:
    found = re.search(r'hx-get="/report/jobs/(\d+)"', html)
    assert found, html
    return int(found.group(1))


def test_a_researcher_builds_views_and_downloads_the_report(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.RESEARCHER)
    assert 'hx-post="/report"' in client.get("/report").text
    expected = study_report(analysis_dataset(clinic))
    started = client.post("/report", data={"csrf_token": token})
    assert started.status_code == 200 and 'id="report-job"' in started.text
    job_id = _job_id(started.text)  # the page polls the build while it is queued or running
    job = _finished(client, job_id)
    sha = expected.dataset_sha256
    assert (job["state"], job["dataset_sha256"], job["error"]) == ("done", sha, None)
    assert (job["requested_by"], job["requested_at"]) == (user_name(Role.RESEARCHER), NOW.isoformat() + "Z")
    done = client.get(f"/report/jobs/{job_id}").text
    assert 'data-state="done"' in done and "hx-get" not in done and expected.title in done
    assert client.get("/report").text.count(expected.title) == 1  # the page shows the newest build
    links = re.findall(r'href="((?:/api)?/report/[0-9a-f]{64}/report\.(?:html|pdf))"', done)
    assert links == [f"/report/{sha}/report.html", f"/api/report/{sha}/report.pdf"]
    page = client.get(links[0])
    assert page.status_code == 200 and page.text == expected.html()
    assert page.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    pdf = client.get(links[1])
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content == expected.pdf()
    assert "attachment" in pdf.headers["content-disposition"]
    for text in (done, page.text):
        for identifier in IDENTIFIERS:
            assert identifier not in text
    viewed, downloaded = reversed(audit_entries(clinic, AuditAction.EXPORT, limit=5))
    assert [(e.user_name, e.after["kind"], e.after["files"][0]["sha256"]) for e in (viewed, downloaded)] == [
        (user_name(Role.RESEARCHER), "report-html", hashlib.sha256(page.content).hexdigest()),
        (user_name(Role.RESEARCHER), "report-pdf", hashlib.sha256(pdf.content).hexdigest())]
    assert downloaded.after["files"][0]["name"] == f"report-{sha[:12]}.pdf" and downloaded.source == "web app: report"


def test_htmx_gets_only_the_build_part_and_the_api_answers_at_once(client: TestClient) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    part = client.post("/report", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert part.status_code == 200 and 'id="report-job"' in part.text and "<html" not in part.text
    _finished(client, _job_id(part.text))
    started = client.post("/api/report/jobs", headers={"X-CSRF-Token": token})
    assert started.status_code == 202 and started.json()["state"] in ("queued", "running")
    assert _finished(client, started.json()["id"])["state"] == "done"


def test_one_build_at_a_time_and_a_lost_build_is_reported_failed(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.PHYSICIAN)
    with clinic.begin() as conn:  # a build another worker holds and is running now
        held = conn.execute(insert(jobs_table).values(requested_by="data_manager-1", requested_at=NOW, state="running",
                                                      started_at=NOW, heartbeat_at=NOW).returning(jobs_table.c.id))
        held_id = held.scalar_one()
    started = client.post("/api/report/jobs", headers={"X-CSRF-Token": token}).json()
    assert (started["id"], started["state"], started["requested_by"]) == (held_id, "running", "data_manager-1")
    with clinic.begin() as conn:  # its process ended: no heartbeat for longer than STALE_AFTER
        conn.execute(jobs_table.update().values(heartbeat_at=NOW - STALE_AFTER - dt.timedelta(seconds=1)))
    lost = client.get(f"/api/report/jobs/{held_id}").json()
    assert lost["state"] == "failed" and "stopped without finishing" in lost["error"]
    assert "build the report again" in lost["error"] and lost["finished_at"] == NOW.isoformat() + "Z"
    page = client.get(f"/report/jobs/{held_id}").text
    assert 'data-state="failed"' in page and "stopped without finishing" in page and "hx-get" not in page
    again = client.post("/api/report/jobs", headers={"X-CSRF-Token": token}).json()
    assert again["id"] != held_id and _finished(client, again["id"])["state"] == "done"
    with clinic.connect() as conn:
        assert [row.state for row in conn.execute(select(jobs_table).order_by(jobs_table.c.id))] == ["failed", "done"]


def test_a_registry_the_report_refuses_gives_a_failed_build_with_the_reason(db_url: str,
                                                                             role_hashes: dict[Role, str]) -> None:
    empty = connect(db_url)
    init_registry(empty)
    with empty.begin() as conn:
        for table in (jobs_table, sessions_table, users_table):
            conn.execute(delete(table))
        conn.execute(insert(users_table), [{"name": user_name(Role.DATA_MANAGER), "role": "data_manager",
                                            "password_hash": role_hashes[Role.DATA_MANAGER], "failed_logins": 0,
                                            "created_at": NOW}])
    with TestClient(create_app(empty, today=TODAY, clock=lambda: NOW)) as client:
        token = log_in_as(client, Role.DATA_MANAGER)
        started = client.post("/report", data={"csrf_token": token}, headers={"HX-Request": "true"})
        job = _finished(client, _job_id(started.text))
        assert job["state"] == "failed" and job["dataset_sha256"] is None and "implant" in job["error"]
        page = client.get("/report").text
        assert "The report could not be built" in page and job["error"] in page.replace("&#39;", "'")
    empty.dispose()


def test_a_report_of_another_dataset_or_an_unknown_build_is_refused_with_what_to_do(client: TestClient) -> None:
    log_in_as(client, Role.PHYSICIAN)
    response = client.get(f"/api/report/{'0' * 64}/report.pdf")
    assert response.status_code == 404 and "build the report again" in response.text
    unknown = client.get("/api/report/jobs/999")
    assert unknown.status_code == 404 and "build the report" in unknown.json()["message"]


def test_nurses_and_administrators_build_no_report(client: TestClient) -> None:
    for role in (Role.NURSE, Role.ADMINISTRATOR):
        token = log_in_as(client, role)
        assert client.get("/report").status_code == 403
        assert client.post("/report", data={"csrf_token": token}).status_code == 403
        assert client.post("/api/report/jobs", headers={"X-CSRF-Token": token}).status_code == 403


def test_two_requests_at_once_start_one_build(clinic: Engine) -> None:
    barrier = threading.Barrier(2)
    started: list[int] = []

    def ask() -> None:
        barrier.wait()
        started.append(start_build(clinic, user_name(Role.PHYSICIAN), Role.PHYSICIAN, lambda: NOW).id)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 2 and started[0] == started[1]
    with TestClient(create_app(clinic, today=TODAY, clock=lambda: NOW)) as client:
        log_in_as(client, Role.PHYSICIAN)
        assert _finished(client, started[0])["state"] == "done"
    with clinic.connect() as conn:
        assert conn.execute(select(func.count()).select_from(jobs_table)).scalar_one() == 1


def test_a_report_name_that_is_no_sha256_is_refused_before_any_work(client: TestClient) -> None:
    log_in_as(client, Role.DATA_MANAGER)
    for name in ("0" * 17, "A" * 64, "g" * 64):
        refused = client.get(f"/api/report/{name}/report.pdf")
        assert refused.status_code == 422 and refused.json()["field"] == "dataset_sha256"
