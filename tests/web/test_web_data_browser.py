"""Data entry, import and exports in Debian's Chromium: two users in two browser contexts edit the same visit and
the second save shows the 409 with who changed it and when; a bad value is shown beside its field; the data
manager's refused import shows its report (the report page: test_web_report_browser.py). Screenshots of each page
are saved in the folder the run prints."""

from __future__ import annotations

import pytest

from openidds.web import Role

from .conftest import GOOD, ChromiumPages, user_name


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_two_users_edit_the_same_visit_and_the_second_gets_409(served: str, chromium_page: ChromiumPages) -> None:
    nurse, physician = chromium_page(Role.NURSE), chromium_page(Role.PHYSICIAN)
    for page in (nurse, physician):
        page.goto(served + "/patients/CJFH/P001")
        page.get_by_role("link", name="Enter visits, complications or exit").click()
        page.get_by_role("link", name="visit CJFH/P001 2022-10-01 follow_up").click()
        page.wait_for_load_state()
    chromium_page.shot(nurse, "09-visit-form")

    physician.get_by_label("Pain NRS (0-10)").fill("4")
    physician.get_by_role("button", name="Save").click()
    physician.wait_for_url(served + "/patients/CJFH/P001/records")
    assert "version 2" in physician.locator("#visits").inner_text()
    chromium_page.shot(physician, "10-records-after-save")

    nurse.get_by_label("Pain NRS (0-10)").fill("2")
    nurse.get_by_role("button", name="Save").click()
    nurse.wait_for_load_state()
    stale = nurse.locator("#stale").inner_text()
    assert "changed by someone else" in stale and f"changed by {user_name(Role.PHYSICIAN)} at" in stale
    chromium_page.shot(nurse, "11-visit-409")

    nurse.get_by_role("link", name="Reload the record").click()
    nurse.wait_for_load_state()
    assert nurse.get_by_label("Pain NRS (0-10)").input_value() == "4"
    nurse.get_by_label("Pain NRS (0-10)").fill("12")
    nurse.get_by_role("button", name="Save").click()
    nurse.wait_for_load_state()
    assert nurse.locator("#e-nrs").inner_text() == "nrs=12: expected a value from 0 to 10"
    chromium_page.shot(nurse, "12-visit-bad-value")
    assert chromium_page.page_errors == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_import_and_exports_pages(chromium_page: ChromiumPages) -> None:
    manager = chromium_page(Role.DATA_MANAGER)
    manager.get_by_role("link", name="Import").click()
    manager.locator("#files").set_input_files(sorted((GOOD.parent / "bad").glob("*.csv")))
    manager.get_by_role("button", name="Import").click()
    manager.wait_for_load_state()
    assert "nothing was written" in manager.locator("#refused").inner_text()
    assert manager.locator("#findings tbody tr").count() > 5
    chromium_page.shot(manager, "13-import-refused")
    manager.get_by_role("link", name="Exports").click()
    manager.wait_for_load_state()
    chromium_page.shot(manager, "14-exports")
    assert chromium_page.page_errors == []
