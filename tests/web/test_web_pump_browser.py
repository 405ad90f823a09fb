"""End to end in Debian's Chromium (Playwright): a nurse refills CJFH/P003's pump with a flagged discrepancy (the
acknowledgement asked for beside its field, the soft finding overridden, the checklist ticked) and proposes a
dose change; a physician reviews it beside the present program and confirms it. Screenshots of each step are
saved in the folder the run prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine

from openidds.clinic.pump_states import read_pump_state
from openidds.programmer import CHECKLIST
from openidds.web import Role

from .conftest import NOW, ChromiumPages, browser_log_in, fill_refill

REFILL_PAGE = "/patients/CJFH/P003/refill"
PROGRAM_PAGE = "/patients/CJFH/P003/program"


@pytest.fixture
def served_clock() -> Callable[[], dt.datetime]:
    """The app's clock fixed at NOW: the refill page's expected residual is the pump's estimate at that moment."""
    return lambda: NOW


def _refill(page: Page, base: str, chromium: ChromiumPages) -> None:
    page.goto(base + REFILL_PAGE)
    assert "Expected residual: 16.0" in page.locator("form.refill").inner_text()
    fill_refill(page, withdrawn_ml="13", concentration="20 mg/mL")
    assert "FLAGGED" in page.locator("#discrepancy").inner_text()
    assert "what was found about the flagged discrepancy" in page.locator(".field-error").inner_text()
    chromium.shot(page, "pump-1-nurse-refill-flagged")

    page.get_by_label("If flagged: what was found").fill("pocket checked: no swelling; patient alert")
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state()
    assert "morphine.compounded" in page.locator("table.findings").inner_text()
    page.get_by_label("Why accept morphine.compounded").fill("compounded by the hospital pharmacy, record seen")
    for _, text in CHECKLIST:
        page.get_by_label(text).check()
    chromium.shot(page, "pump-2-nurse-refill-review")
    page.get_by_role("button", name="Complete the refill").click()
    page.wait_for_load_state()
    assert page.url == base + REFILL_PAGE
    assert "Observe the patient for signs of overdose until" in page.locator("section.observation").inner_text()
    assert "over the limit: investigate" in page.locator("table.trend").inner_text()
    chromium.shot(page, "pump-3-nurse-refill-done")


def _propose(page: Page, base: str, chromium: ChromiumPages) -> None:
    page.get_by_role("link", name="Programming").click()
    page.wait_for_load_state()
    assert page.url == base + PROGRAM_PAGE
    page.get_by_label("Daily dose").fill("2.4 mg/day")
    page.get_by_label("Concentration of that drug in the pump (first entry)").fill("20 mg/mL")
    page.get_by_label("Why", exact=True).fill("pain NRS 7 at rest")
    page.get_by_role("button", name="Propose").click()
    page.wait_for_load_state()
    proposal = page.locator("section.proposal")
    assert "2 mg/day → 2.4 mg/day" in proposal.inner_text() and "a nurse may not confirm" in proposal.inner_text()
    assert page.get_by_role("button", name="Confirm and send to the pump").count() == 0
    chromium.shot(page, "pump-4-nurse-proposal")


def _confirm(page: Page, base: str, chromium: ChromiumPages) -> None:
    page.goto(base + PROGRAM_PAGE)
    proposal = page.locator("section.proposal")
    assert "by nurse-1" in proposal.inner_text() and "morphine.compounded" in proposal.inner_text()
    page.get_by_role("button", name="Confirm and send to the pump").click()
    page.wait_for_load_state()
    assert "concentration_again" in page.locator(".field-error").first.inner_text()
    chromium.shot(page, "pump-5-physician-confirm-refused")
    page.get_by_label("morphine concentration in the pump, entered again").fill("20 mg/mL")
    page.get_by_label("Why accept morphine.compounded").fill("compounded by the hospital pharmacy, record seen")
    page.get_by_role("button", name="Confirm and send to the pump").click()
    page.wait_for_load_state()
    assert page.url == base + PROGRAM_PAGE
    assert "2.4 mg/day" in page.locator("table.doses").inner_text()
    assert "last changed by physician-1" in page.locator("dl.pump").inner_text()
    assert page.locator("section.proposal").count() == 0
    chromium.shot(page, "pump-6-physician-confirmed")


def test_nurse_refills_and_proposes_physician_confirms(pumped: Engine, served: str,
                                                       chromium_page: ChromiumPages) -> None:
    page = chromium_page(Role.NURSE)
    _refill(page, served, chromium_page)
    _propose(page, served, chromium_page)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    browser_log_in(page, served, Role.PHYSICIAN)
    _confirm(page, served, chromium_page)
    stored = read_pump_state(pumped, "CJFH", "P003")
    assert stored is not None and [e.command.name for e in stored.state.journal] == ["refill", "refill", "set_therapy"]
    assert [p for p in chromium_page.console_errors + chromium_page.page_errors if "422" not in p] == []
