"""Exports and the report in Debian's Chromium: the data manager downloads the REDCap records and sees the download
in the page's list of recent exports; a researcher finds a lost build reported failed, builds the report (the page
follows the build while it runs, htmx polling), views it and downloads the PDF. Screenshots of each page are saved
in the folder the run prints."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, insert

from openidds.clinic.redcap import redcap_records
from openidds.web import Role
from openidds.web.report_jobs import STALE_AFTER, jobs_table

from .conftest import ChromiumPages, user_name


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_redcap_download_and_a_report_built_outside_the_request(clinic: Engine, chromium_page: ChromiumPages) -> None:
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - STALE_AFTER - dt.timedelta(minutes=5)
    with clinic.begin() as conn:  # a build whose server process ended before it finished
        conn.execute(insert(jobs_table).values(requested_by=user_name(Role.DATA_MANAGER), requested_at=long_ago,
                                               state="running", started_at=long_ago, heartbeat_at=long_ago))
    manager = chromium_page(Role.DATA_MANAGER, accept_downloads=True)
    manager.get_by_role("link", name="Exports").click()
    manager.wait_for_load_state()
    assert manager.locator("#recent-exports").inner_text() == "No export yet."
    with manager.expect_download() as download:
        manager.get_by_role("link", name="redcap", exact=True).click()
    saved = chromium_page.shots / "redcap-records.csv"
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8") == redcap_records(clinic)
    manager.reload()
    recent = manager.locator("#recent-exports tbody tr")
    assert recent.count() == 1 and "redcap-records.csv" in recent.inner_text()
    assert user_name(Role.DATA_MANAGER) in recent.inner_text()
    chromium_page.shot(manager, "20-exports-recent")

    researcher = chromium_page(Role.RESEARCHER, accept_downloads=True)
    researcher.get_by_role("link", name="Report").click()
    researcher.wait_for_load_state()
    assert "stopped without finishing" in researcher.locator("#refused").inner_text()
    chromium_page.shot(researcher, "21-report-lost-build")
    researcher.get_by_role("button", name="Build the report").click()
    researcher.locator('#report-job[data-state="queued"], #report-job[data-state="running"], '
                       '#report-job[data-state="done"]').wait_for(timeout=60_000)
    chromium_page.shot(researcher, "22-report-building")
    researcher.locator('#report-job[data-state="done"]').wait_for(timeout=300_000)
    assert researcher.locator("#built table tbody tr").count() > 5
    chromium_page.shot(researcher, "23-report-built")
    with researcher.expect_popup() as popup:
        researcher.get_by_role("link", name="View the report").click()
    report = popup.value
    report.wait_for_load_state()
    assert report.locator("h1").count() == 1 and report.locator("figure img").count() >= 1
    chromium_page.shot(report, "24-report-view", full_page=False)
    with researcher.expect_download() as pdf:
        researcher.get_by_role("link", name="Download the PDF").click()
    saved = chromium_page.shots / "report.pdf"
    pdf.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert chromium_page.page_errors == []
