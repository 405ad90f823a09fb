"""In a real browser: a nurse opens a patient page and the plot's image loads (an SVG the browser decodes), with
its text alternative and the plotted values beside it; a researcher's de-identified page loads its plot too, its
timeline dated in the clinic's time zone and its plot in UTC, each said.
Screenshots are saved (their folder is printed)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from openidds.clinic import patients
from openidds.clinic.deidentify import research_keys
from openidds.clinic.time_zone import set_zone
from openidds.wall_clock import utc_now
from openidds.web import Role

from .conftest import RESEARCH_SEED, ChromiumPages

LOADED = "img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_patient_page_loads_its_plot(clinic: Engine, chromium_page: ChromiumPages) -> None:
    page = chromium_page(Role.NURSE, height=1100)
    page.goto(chromium_page.base + "/patients/CJFH/P001")
    plot = page.locator("#patient-plot img")
    plot.wait_for()
    page.wait_for_function(f"({LOADED})(document.querySelector('#patient-plot img'))")
    assert plot.evaluate("img => img.naturalWidth") > 600
    alt = plot.get_attribute("alt")
    assert alt is not None and alt.startswith("Dose and NRS of CJFH/P001")
    page.get_by_text("The plotted values").click()
    assert page.get_by_role("cell", name="2022-12-08 08:30").is_visible()
    chromium_page.shot(page, "patient-plot-nurse")
    chromium_page.shot(page, "patient-plot-nurse-top", full_page=False)
    keys = research_keys([(p.site, p.patient_id) for p in patients(clinic)], RESEARCH_SEED)
    research = chromium_page(Role.RESEARCHER)
    research.goto(f"{chromium_page.base}/research/patients/{keys[('CJFH', 'P001')].research_id}")
    research.wait_for_function(f"({LOADED})(document.querySelector('#patient-plot img'))")
    chromium_page.shot(research, "patient-plot-researcher", full_page=False)
    set_zone(clinic, "Europe/Stockholm", "admin-1", utc_now(), "test")
    research.reload()
    note = research.locator("#timeline-zone").inner_text()
    assert "Dates of the clinic's time zone, Europe/Stockholm" in note and "plot's times are in UTC" in note
    assert "Times in the time zone UTC" in research.locator("#patient-plot figcaption").inner_text()
    chromium_page.shot(research, "patient-researcher-stockholm")
    assert not chromium_page.page_errors and not chromium_page.console_errors
