"""End to end in a real browser: Debian's Chromium driven by Playwright against the app served by uvicorn on
the loopback interface. A nurse logs in, sees the due refill on Today, opens the patient and logs out; a
refresh of the Today lists without a session takes the page to log in; a researcher sees no names.
Screenshots of each page are saved (their folder is printed) to be looked at."""

from __future__ import annotations

import pytest

from openidds.web import Role

from .conftest import ChromiumPages, browser_log_in


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_nurse_and_researcher_in_chromium(served: str, chromium_page: ChromiumPages) -> None:
    page = chromium_page(Role.NURSE)
    assert page.url == served + "/today"
    refills = page.locator("#refills")
    assert "CJFH/P003" in refills.inner_text() and "2023-06-18" in refills.inner_text()
    assert "empty_reservoir" in page.locator("#alarms").inner_text()
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx loaded under the CSP
    chromium_page.shot(page, "1-nurse-today")

    refills.get_by_role("link", name="CJFH/P003").click()
    page.wait_for_load_state()
    assert page.url == served + "/patients/CJFH/P003"
    assert page.locator("dl.identifiers").inner_text().count("Liu") == 1
    assert "refill" in page.locator("ol.timeline").inner_text()
    chromium_page.shot(page, "2-nurse-patient")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    assert page.url == served + "/login"
    page.goto(served + "/today")
    assert page.url == served + "/login"  # the session ended on the server

    browser_log_in(page, served, Role.NURSE)
    page.context.clear_cookies()  # the session is gone when the Today lists next refresh
    page.evaluate("htmx.ajax('GET', '/today/sections', '#today-sections')")
    page.wait_for_url(served + "/login")

    browser_log_in(page, served, Role.RESEARCHER)
    assert page.url == served + "/research/patients"
    assert page.get_by_role("link", name="Today").count() == 0
    assert "CJFH" not in page.content()
    chromium_page.shot(page, "3-researcher-patients")
    page.get_by_role("link", name="R000001").click()
    page.wait_for_load_state()
    text = page.locator("body").inner_text()
    assert "De-identified view" in text and "implant" in text
    for identifier in ("Wang", "Zhang", "MRN001", "MRN002", "NGP100001", "1960-04-02", "CJFH"):
        assert identifier not in page.content()
    chromium_page.shot(page, "4-researcher-patient")
    page.goto(served + "/today")
    assert "Not allowed" in page.locator("h1").inner_text()
    chromium_page.shot(page, "5-researcher-today-refused")
    problems = chromium_page.console_errors + chromium_page.page_errors
    assert [p for p in problems if "403" not in p] == []
