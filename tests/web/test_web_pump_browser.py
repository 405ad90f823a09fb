"""End to end in Debian's Chromium (Playwright): a nurse refills CJFH/P003's pump with a flagged discrepancy (the
acknowledgement asked for beside its field, the soft finding overridden, the checklist ticked) and proposes a
dose change; a physician reviews it beside the present program and confirms it. Screenshots of each step are
saved in the folder the run prints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import Engine
from tests.clinic.pump_state_builders import first_filled

from openidds.clinic.pump_states import put_pump_state, read_pump_state
from openidds.programmer import CHECKLIST
from openidds.web import Role

from .conftest import CHROMIUM, browser_log_in

REFILL_PAGE = "/patients/CJFH/P003/refill"
PROGRAM_PAGE = "/patients/CJFH/P003/program"


@pytest.fixture
def pumped(clinic: Engine) -> Engine:
    put_pump_state(clinic, "CJFH", "P003", first_filled(dt.datetime(2023, 6, 1, 8, 0)), "RN Import")
    return clinic


def _refill(page: Page, base: str, folder: Path) -> None:
    page.goto(base + REFILL_PAGE)
    assert "Expected residual: 16.0" in page.locator("form.refill").inner_text()
    page.get_by_label("Withdrawn (mL)").fill("13")
    page.get_by_label("Prescribed by").fill("Dr B")
    page.get_by_label("morphine prescribed").fill("20 mg/mL")
    page.get_by_label("morphine on the syringe", exact=True).fill("20 mg/mL")
    page.get_by_label("morphine on the syringe, again").fill("20 mg/mL")
    page.get_by_label("Volume injected into the reservoir (mL)").fill("20")
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state()
    assert "FLAGGED" in page.locator("#discrepancy").inner_text()
    assert "what was found about the flagged discrepancy" in page.locator(".field-error").inner_text()
    page.screenshot(path=folder / "pump-1-nurse-refill-flagged.png", full_page=True)

    page.get_by_label("If flagged: what was found").fill("pocket checked: no swelling; patient alert")
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state()
    assert "morphine.compounded" in page.locator("table.findings").inner_text()
    page.get_by_label("Why accept morphine.compounded").fill("compounded by the hospital pharmacy, record seen")
    for _, text in CHECKLIST:
        page.get_by_label(text).check()
    page.screenshot(path=folder / "pump-2-nurse-refill-review.png", full_page=True)
    page.get_by_role("button", name="Complete the refill").click()
    page.wait_for_load_state()
    assert page.url == base + REFILL_PAGE
    assert "Observe the patient for signs of overdose until" in page.locator("section.observation").inner_text()
    assert "over the limit: investigate" in page.locator("table.trend").inner_text()
    page.screenshot(path=folder / "pump-3-nurse-refill-done.png", full_page=True)


def _propose(page: Page, base: str, folder: Path) -> None:
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
    page.screenshot(path=folder / "pump-4-nurse-proposal.png", full_page=True)


def _confirm(page: Page, base: str, folder: Path) -> None:
    page.goto(base + PROGRAM_PAGE)
    proposal = page.locator("section.proposal")
    assert "by nurse-1" in proposal.inner_text() and "morphine.compounded" in proposal.inner_text()
    page.get_by_role("button", name="Confirm and send to the pump").click()
    page.wait_for_load_state()
    assert "concentration_again" in page.locator(".field-error").first.inner_text()
    page.screenshot(path=folder / "pump-5-physician-confirm-refused.png", full_page=True)
    page.get_by_label("morphine concentration in the pump, entered again").fill("20 mg/mL")
    page.get_by_label("Why accept morphine.compounded").fill("compounded by the hospital pharmacy, record seen")
    page.get_by_role("button", name="Confirm and send to the pump").click()
    page.wait_for_load_state()
    assert page.url == base + PROGRAM_PAGE
    assert "2.4 mg/day" in page.locator("table.doses").inner_text()
    assert "last changed by physician-1" in page.locator("dl.pump").inner_text()
    assert page.locator("section.proposal").count() == 0
    page.screenshot(path=folder / "pump-6-physician-confirmed.png", full_page=True)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_nurse_refills_and_proposes_physician_confirms(pumped: Engine, served: str, shots: Path) -> None:
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            browser_log_in(page, served, Role.NURSE)
            _refill(page, served, shots)
            _propose(page, served, shots)
            page.get_by_role("button", name="Log out").click()
            page.wait_for_load_state()
            browser_log_in(page, served, Role.PHYSICIAN)
            _confirm(page, served, shots)
        finally:
            browser.close()
    stored = read_pump_state(pumped, "CJFH", "P003")
    assert stored is not None and [e.command.name for e in stored.state.journal] == ["refill", "refill", "set_therapy"]
    assert [p for p in problems if "422" not in p] == []
