"""The header in a real Chromium at the browser tests' width (1280 px): every role's nav sits on one line beside who
is logged in, on a patient's pump page as on its home page; a pump page's own links (the patient's timeline,
programming and refill) are a bar of their own under it, on one line too."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine

from openidds.web import Role

from .conftest import ChromiumPages

PUMP_PAGE = "/patients/CJFH/P003/program"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", list(Role))
def test_every_role_s_nav_fits_on_one_line(pumped: Engine, served: str, chromium_page: ChromiumPages,
                                           role: Role) -> None:
    page = chromium_page(role)
    for where in ("/", PUMP_PAGE):
        answer = page.goto(served + where)
        assert answer is not None
        if answer.status != 200:
            assert where == PUMP_PAGE and answer.status == 403
            continue
        chromium_page.shot(page, f"nav-{role.value}{where.replace('/', '-')}", full_page=False)
        header = page.locator("header").bounding_box()
        assert header is not None and header["height"] < 50, f"{role.value} on {where}: header {header}"
        assert _lines(page, "header nav a, header .who, header button") == 1, f"{role.value} on {where}"
        if where == PUMP_PAGE:
            assert _lines(page, "nav.patient-bar a") == 1
            bar = page.locator("nav.patient-bar").inner_text()
            assert bar.split() == ["CJFH/P003", "Timeline", "Programming", "Refill"]


def _lines(page: Page, selector: str) -> int:
    """How many lines the elements matched stand on (their distinct middles, to the pixel)."""
    boxes = [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]
    assert boxes and all(boxes)
    return len({round(box["y"] + box["height"] / 2) for box in boxes if box})
