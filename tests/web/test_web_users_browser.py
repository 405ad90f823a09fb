"""In a real browser: an administrator adds a nurse with a generated password (a mismatched typed password refused
beside its field first), then disables the nurse; the page shows each user's last log-in. Screenshots are saved
(their folder is printed)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine

from openidds.wall_clock import utc_now
from openidds.web import Role
from openidds.web.accounts import log_in, one_user

from .conftest import ChromiumPages, user_name


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_administrator_adds_and_disables_a_user(clinic: Engine, served: str, chromium_page: ChromiumPages) -> None:
    page = chromium_page(Role.ADMINISTRATOR, height=1000)
    page.get_by_role("link", name="Users").click()
    page.wait_for_load_state()
    last_log_in = page.locator("th").filter(has_text="Last log-in (UTC)")
    assert last_log_in.count() == 1
    column = len(last_log_in.locator("xpath=preceding-sibling::th").all()) + 1
    admin_cell = page.locator(f'tr[data-name="{user_name(Role.ADMINISTRATOR)}"] td:nth-child({column})')
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", admin_cell.inner_text())
    assert page.locator(f'tr[data-name="{user_name(Role.PHYSICIAN)}"] td:nth-child({column})').inner_text() == "never"
    page.get_by_label("Name", exact=True).fill("nia-2")
    page.locator("form.add-user select[name=role]").select_option("nurse")
    page.get_by_label("Initial password").fill("a nurse passphrase")
    page.get_by_label("The same again").fill("another passphrase")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_load_state()
    assert "the same password" in page.locator("#error-password_again").inner_text()
    assert page.get_by_label("The same again").get_attribute("aria-invalid") == "true"
    chromium_page.shot(page, "20-admin-add-user-refused")
    page.get_by_label("Generate a password instead").check()
    page.get_by_role("button", name="Add user").click()
    page.wait_for_load_state()
    generated = page.locator("#generated code").inner_text()
    chromium_page.shot(page, "21-admin-user-added")
    assert log_in(clinic, "nia-2", generated, utc_now()).user.role == Role.NURSE
    page.locator('tr[data-name="nia-2"]').get_by_role("button", name="Disable").click()
    page.wait_for_load_state()
    assert page.locator('tr[data-name="nia-2"]').get_by_role("button", name="Enable").is_visible()
    chromium_page.shot(page, "22-admin-user-disabled")
    assert one_user(clinic, "nia-2", utc_now()).disabled
    assert chromium_page.page_errors == []
