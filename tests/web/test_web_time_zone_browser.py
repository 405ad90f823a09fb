"""In a real browser: an administrator sets the clinic's time zone to Europe/Stockholm on its page, then a nurse
books a refill at 09:00 local time and sees it at 09:00, stored at 07:00 UTC (summer time). Screenshots are saved
(their folder is printed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import time_zone
from openidds.clinic.models import RefillAppointment
from openidds.web import Role

from .conftest import CHROMIUM, browser_log_in

STOCKHOLM = "Europe/Stockholm"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refill_booked_at_local_nine_is_shown_at_nine_and_stored_utc(clinic: Engine, served: str,
                                                                       shots: Path) -> None:
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg: problems.append(msg.text)  # the refused zone's 422 is expected
                    if msg.type == "error" and "status of 422" not in msg.text else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            browser_log_in(page, served, Role.ADMINISTRATOR)
            page.get_by_role("link", name="Time zone").click()
            page.wait_for_load_state()
            assert "the default, as none has been set" in page.locator("#zone-current").inner_text()
            page.get_by_label("Time zone (IANA name)").fill("Europe/Stokholm")
            page.get_by_role("button", name="Save").click()
            page.wait_for_load_state()
            assert "an IANA time zone name" in page.locator("#error-time_zone").inner_text()
            page.screenshot(path=shots / "60-admin-time-zone-refused.png", full_page=True)
            page.get_by_label("Time zone (IANA name)").fill(STOCKHOLM)
            page.get_by_role("button", name="Save").click()
            page.wait_for_load_state()
            assert STOCKHOLM in page.locator("#zone-current").inner_text()
            assert page.locator("#clinic-zone").inner_text() == f"times in {STOCKHOLM}"
            page.screenshot(path=shots / "61-admin-time-zone-saved.png", full_page=True)
            page.get_by_role("button", name="Log out").click()
            page.wait_for_load_state()

            browser_log_in(page, served, Role.NURSE)
            page.get_by_role("link", name="Calendar").click()
            page.wait_for_load_state()
            assert STOCKHOLM in page.locator("#zone-note").inner_text()
            due = page.locator("#due tbody tr", has_text="CJFH/P003")
            due.get_by_label("Date").fill("2023-07-12")
            due.get_by_label(f"Time ({STOCKHOLM})").fill("09:00")
            due.get_by_role("button", name="Book").click()
            page.wait_for_load_state()
            booked = page.locator("#appointments article.appointment")
            assert booked.count() == 1 and "09:00–09:30" in booked.inner_text()
            booked.locator("summary").click()
            assert booked.get_by_label(f"Time ({STOCKHOLM})").input_value() == "09:00"
            page.screenshot(path=shots / "62-nurse-calendar-local-time.png", full_page=True)
        finally:
            browser.close()
    with Session(clinic) as session:
        stored = session.scalars(select(RefillAppointment.starts_at)).one()
    assert stored == dt.datetime(2023, 7, 12, 7, 0)  # 09:00 CEST is 07:00 UTC
    assert time_zone.current(clinic).name == STOCKHOLM
    assert problems == []
