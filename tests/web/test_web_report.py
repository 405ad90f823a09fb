"""The report page on SQLite and PostgreSQL: the study report of the registry built in the request (as a whole
page, or the htmx part), viewed as HTML under its own narrow CSP, its PDF downloaded; who may build it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from openidds.clinic import analysis_dataset
from openidds.outcomes.report import study_report
from openidds.web import Role

from .conftest import log_in_as

IDENTIFIERS = ("Wang", "Zhang", "Liu", "MRN001", "NGP100001", "1960-04-02", "P001", "P002", "P003")


def test_a_researcher_builds_views_and_downloads_the_report(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.RESEARCHER)
    assert 'hx-post="/report"' in client.get("/report").text
    expected = study_report(analysis_dataset(clinic))
    built = client.post("/report", data={"csrf_token": token})
    assert built.status_code == 200 and expected.title in built.text
    links = re.findall(r'href="((?:/api)?/report/[0-9a-f]{64}/report\.(?:html|pdf))"', built.text)
    sha = expected.dataset_sha256
    assert links == [f"/report/{sha}/report.html", f"/api/report/{sha}/report.pdf"]
    page = client.get(links[0])
    assert page.status_code == 200 and page.text == expected.html()
    assert page.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    pdf = client.get(links[1])
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content == expected.pdf()
    assert "attachment" in pdf.headers["content-disposition"]
    for text in (built.text, page.text):
        for identifier in IDENTIFIERS:
            assert identifier not in text


def test_htmx_gets_only_the_built_part(client: TestClient) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    part = client.post("/report", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert part.status_code == 200 and 'id="built"' in part.text and "<html" not in part.text


def test_a_report_of_another_dataset_is_refused_with_what_to_do(client: TestClient) -> None:
    log_in_as(client, Role.PHYSICIAN)
    response = client.get(f"/api/report/{'0' * 64}/report.pdf")
    assert response.status_code == 404 and "build the report again" in response.text


def test_nurses_and_administrators_build_no_report(client: TestClient) -> None:
    for role in (Role.NURSE, Role.ADMINISTRATOR):
        token = log_in_as(client, role)
        assert client.get("/report").status_code == 403
        assert client.post("/report", data={"csrf_token": token}).status_code == 403
