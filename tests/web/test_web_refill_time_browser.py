"""In a real browser: with the clinic in Europe/Stockholm, a nurse opens CJFH/P003's refill page and reads its times
in local time, the zone named on the page (the pump read at 11:00, stored 09:00 UTC). Screenshots are saved (their
folder is printed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from openidds.clinic import time_zone
from openidds.web import Role

from .conftest import NOW, ChromiumPages, user_name


@pytest.fixture
def served_clock() -> Callable[[], dt.datetime]:
    """The app's clock fixed at NOW (09:00 UTC): the refill page reads the pump at that moment."""
    return lambda: NOW


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_nurse_reads_the_refill_page_in_the_clinics_local_time(pumped: Engine, served: str,
                                                                 chromium_page: ChromiumPages) -> None:
    time_zone.set_zone(pumped, "Europe/Stockholm", user_name(Role.ADMINISTRATOR), NOW, "test")
    page = chromium_page(Role.NURSE, height=1100)
    page.goto(served + "/patients/CJFH/P003/refill")
    page.wait_for_load_state()
    assert page.locator("#zone-note").inner_text() == "Times in the clinic's time zone, Europe/Stockholm."
    assert page.locator("#clinic-zone").inner_text() == "times in Europe/Stockholm"
    assert "read at 2023-07-10 11:00" in page.locator("dl.pump").inner_text()
    assert page.locator("table.trend td.when").first.inner_text() == "2023-03-20 11:00"  # winter time: UTC+1
    chromium_page.shot(page, "30-nurse-refill-local-times")
    assert chromium_page.page_errors == [] and chromium_page.console_errors == []
