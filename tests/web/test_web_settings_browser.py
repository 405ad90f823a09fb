"""In a real browser: a physician changes the first tier's timeout on the escalation settings page (a zero refused
beside its field first); a nurse sees her unread badge go up when an alarm reaches her and down once she opens the
board. Screenshots are saved (their folder is printed)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from tests.escalation.policies import installed

from openidds.clinic import escalation_policies, escalations
from openidds.clinic.alarms import AlarmSource, report_alarm
from openidds.pump.alarms import AlarmKind
from openidds.web import Role
from openidds.web.transports import senders

from .conftest import ChromiumPages, board_policy, user_name


@pytest.fixture
def clinic(clinic: Engine) -> Engine:
    """The test clinic, escalating under version 1 of a policy that pages its nurse, then its physician."""
    return installed(clinic, board_policy())


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_physician_changes_the_first_tiers_timeout(clinic: Engine, chromium_page: ChromiumPages) -> None:
    page = chromium_page(Role.PHYSICIAN, height=1100)
    page.get_by_role("link", name="Settings").click()
    page.wait_for_load_state()
    timeout = page.get_by_label("tier 1 high timeout (minutes)")
    assert timeout.input_value() == "10"
    timeout.fill("0")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_load_state()
    beside = page.locator("#tier-1 .field-error")
    assert "a timeout of zero would escalate at once" in beside.inner_text()
    assert page.get_by_label("tier 1 high timeout (minutes)").get_attribute("aria-invalid") == "true"
    chromium_page.shot(page, "12-physician-settings-refused")
    page.get_by_label("tier 1 high timeout (minutes)").fill("15")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_load_state()
    assert "Version 2 saved" in page.locator("main").inner_text()
    assert page.get_by_label("tier 1 high timeout (minutes)").input_value() == "15"
    chromium_page.shot(page, "13-physician-settings-saved")
    problems = chromium_page.console_errors + chromium_page.page_errors
    assert [p for p in problems if "422" not in p] == []  # the refused form's page answers 422
    version = escalation_policies.current(clinic)
    assert version is not None and version.number == 2 and version.installed_by == user_name(Role.PHYSICIAN)
    assert version.policy.tiers[0].timeout_minutes.high == 15


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_nurse_sees_the_badge_go_up_and_down(clinic: Engine, chromium_page: ChromiumPages) -> None:
    nurse = user_name(Role.NURSE)
    page = chromium_page(Role.NURSE)
    badge = page.locator("nav .badge")
    assert badge.count() == 0
    now = _utc_now()
    alarm_id = report_alarm(clinic, "CJFH", "P003", AlarmKind.MOTOR_STALL, now - dt.timedelta(minutes=2),
                            AlarmSource.CAREGIVER_REPORT, "two tones", nurse, now)
    escalations.dispatch_once(clinic, lambda policy: senders(policy, clinic), _utc_now)
    page.get_by_role("link", name="Calendar").click()  # any page: the badge is on each
    page.wait_for_load_state()
    assert badge.inner_text() == "1"
    chromium_page.shot(page, "14-nurse-badge-up")
    page.get_by_role("link", name="Alarms").click()
    page.wait_for_load_state()
    assert badge.count() == 0
    assert "tier 1 of 3" in page.locator(f"#alarm-{alarm_id} td.escalation").inner_text()
    chromium_page.shot(page, "15-nurse-board-read")
    page.get_by_role("link", name="Today").click()
    page.wait_for_load_state()
    assert badge.count() == 0
    assert chromium_page.console_errors + chromium_page.page_errors == []
