"""In a real browser, on a registry that escalates its alarms: a nurse sees a caregiver's alarm arrive on the board
with her unread badge and who has it, acknowledges it, and the escalation stops (a dispatcher pass long after the
first tier's timeout pages nobody else). Screenshots are saved (their folder is printed)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from tests.escalation.policies import installed

from openidds.clinic import escalations
from openidds.clinic.alarms import AlarmSource, report_alarm
from openidds.pump.alarms import AlarmKind
from openidds.web import Role
from openidds.web.transports import senders

from .conftest import ChromiumPages, board_policy, user_name

POLICY = board_policy()


@pytest.fixture
def clinic(clinic: Engine) -> Engine:
    """The test clinic, escalating its alarms under a policy that pages its nurse, then its physician."""
    return installed(clinic, POLICY)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_nurse_acknowledges_an_escalating_alarm_and_the_escalation_stops(clinic: Engine, served: str,
                                                                          chromium_page: ChromiumPages) -> None:
    now = _utc_now()
    alarm_id = report_alarm(clinic, "CJFH", "P003", AlarmKind.MOTOR_STALL, now - dt.timedelta(minutes=5),
                            AlarmSource.CAREGIVER_REPORT, "two tones from the pump", user_name(Role.NURSE), now)
    escalations.dispatch_once(clinic, lambda p: senders(p, clinic), _utc_now)
    page = chromium_page(Role.NURSE)
    assert page.locator("nav .badge").inner_text() == "1"  # on the page after log-in
    page.get_by_role("link", name="Alarms").click()
    page.wait_for_load_state()
    assert page.locator("nav .badge").count() == 0  # the board shows the alarm: its message is read
    row = page.locator(f"#alarm-{alarm_id}")
    escalation = row.locator("td.escalation").inner_text()
    assert "delivered, tier 1 of 3" in escalation and f"held by {user_name(Role.NURSE)}" in escalation
    chromium_page.shot(page, "10-nurse-escalating-alarm")
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    escalation = page.locator(f"#alarm-{alarm_id} td.escalation").inner_text()
    assert "acknowledged, tier 1 of 3" in escalation
    chromium_page.shot(page, "11-nurse-escalation-acknowledged")
    assert chromium_page.console_errors + chromium_page.page_errors == []
    later = _utc_now() + dt.timedelta(hours=2)  # long past the nurse's 10 minutes
    summary = escalations.dispatch_once(clinic, lambda p: senders(p, clinic), lambda: later)
    assert (summary.advanced, summary.delivered) == (0, 0)
    assert {n.tier for n in escalations.outbox(clinic, alarm_id)} == {0}
