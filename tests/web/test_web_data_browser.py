"""Data entry, import and exports in Debian's Chromium: two users in two browser contexts edit the same visit and
the second save shows the 409 with who changed it and when; a bad value is shown beside its field; the data
manager's refused import shows its report (the report page: test_web_report_browser.py). Screenshots of each page
are saved in the folder the run prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from openidds.web import Role

from .conftest import CHROMIUM, GOOD, browser_log_in, user_name


def _page(browser: Browser, problems: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return page


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_two_users_edit_the_same_visit_and_the_second_gets_409(served: str, shots: Path) -> None:
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            nurse, physician = _page(browser, problems), _page(browser, problems)
            browser_log_in(nurse, served, Role.NURSE)
            browser_log_in(physician, served, Role.PHYSICIAN)
            for page in (nurse, physician):
                page.goto(served + "/patients/CJFH/P001")
                page.get_by_role("link", name="Enter visits, complications or exit").click()
                page.get_by_role("link", name="visit CJFH/P001 2022-10-01 follow_up").click()
                page.wait_for_load_state()
            nurse.screenshot(path=shots / "09-visit-form.png", full_page=True)

            physician.get_by_label("Pain NRS (0-10)").fill("4")
            physician.get_by_role("button", name="Save").click()
            physician.wait_for_url(served + "/patients/CJFH/P001/records")
            assert "version 2" in physician.locator("#visits").inner_text()
            physician.screenshot(path=shots / "10-records-after-save.png", full_page=True)

            nurse.get_by_label("Pain NRS (0-10)").fill("2")
            nurse.get_by_role("button", name="Save").click()
            nurse.wait_for_load_state()
            stale = nurse.locator("#stale").inner_text()
            assert "changed by someone else" in stale and f"changed by {user_name(Role.PHYSICIAN)} at" in stale
            nurse.screenshot(path=shots / "11-visit-409.png", full_page=True)

            nurse.get_by_role("link", name="Reload the record").click()
            nurse.wait_for_load_state()
            assert nurse.get_by_label("Pain NRS (0-10)").input_value() == "4"
            nurse.get_by_label("Pain NRS (0-10)").fill("12")
            nurse.get_by_role("button", name="Save").click()
            nurse.wait_for_load_state()
            assert nurse.locator("#e-nrs").inner_text() == "nrs=12: expected a value from 0 to 10"
            nurse.screenshot(path=shots / "12-visit-bad-value.png", full_page=True)
        finally:
            browser.close()
    assert problems == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_import_and_exports_pages(served: str, shots: Path) -> None:
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            manager = _page(browser, problems)
            browser_log_in(manager, served, Role.DATA_MANAGER)
            manager.get_by_role("link", name="Import").click()
            manager.locator("#files").set_input_files(sorted((GOOD.parent / "bad").glob("*.csv")))
            manager.get_by_role("button", name="Import").click()
            manager.wait_for_load_state()
            assert "nothing was written" in manager.locator("#refused").inner_text()
            assert manager.locator("#findings tbody tr").count() > 5
            manager.screenshot(path=shots / "13-import-refused.png", full_page=True)
            manager.get_by_role("link", name="Exports").click()
            manager.wait_for_load_state()
            manager.screenshot(path=shots / "14-exports.png", full_page=True)
        finally:
            browser.close()
    assert problems == []
