"""The transports against real receivers on the loopback interface: e-mail to an aiosmtpd server, webhooks to an
http.server receiver, the board in the registry. A refused connection and a timeout are recorded and
escalate (ESC-FAIL-1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine

from openidds.clinic import escalations
from openidds.escalation import (
    AlarmRaised,
    Audience,
    Channel,
    Notification,
    Phase,
    Policy,
    Priority,
    advance,
    policy_from,
    raise_alarm,
)
from openidds.web.transports import (
    BoardSender,
    EmailSender,
    WebhookSender,
    mark_read,
    messages,
    senders,
    unread_count,
)
from openidds.web.transports.email import KEY_HEADER, message_id

from .policies import example_data, installed
from .receivers import Hooks, free_port, smtp_server, webhook_receiver

NOON = dt.datetime(2026, 12, 1, 11, 0)
STALL = AlarmRaised(5, "motor_stall", Priority.HIGH)


def _policy(smtp_port: int, webhook_url: str, timeout_s: float = 2.0) -> Policy:
    data: dict[str, Any] = example_data()
    data["transports"]["email"].update(port=smtp_port, timeout_s=timeout_s)
    data["transports"]["webhook"]["timeout_s"] = timeout_s
    for person in ("dr_oncall", "lead"):
        data["people"][person]["webhook"] = f"{webhook_url}/page/{person}"
    return policy_from(data)


def test_each_tier_reaches_real_receivers_once(engine: Engine) -> None:
    hooks = Hooks()
    with smtp_server() as (port, mailbox), webhook_receiver(hooks) as url:
        policy = _policy(port, url)
        escalations.raise_alarm(installed(engine, policy), STALL, NOON)
        escalations.dispatch_once(engine, lambda p: senders(p, engine), lambda: NOON)
        assert unread_count(engine, "nurse_day") == 1
        assert [m["To"] for m in mailbox.messages] == ["nurse.day@clinic.example"]
        assert mailbox.messages[0][KEY_HEADER] == "alarm-5/tier-0/nurse_day/email"
        assert "[HIGH] pump alarm motor_stall" in mailbox.messages[0]["Subject"]
        later = NOON + dt.timedelta(minutes=10)
        for _ in range(2):  # a second pass sends nothing again
            escalations.dispatch_once(engine, lambda p: senders(p, engine), lambda: later)
        assert [h["path"] for h in hooks.received] == ["/page/dr_oncall"]
        assert hooks.received[0]["key"] == hooks.received[0]["body"]["idempotency_key"] == \
            "alarm-5/tier-1/dr_oncall/webhook"
        assert [m["To"] for m in mailbox.messages] == ["nurse.day@clinic.example", "dr.oncall@clinic.example"]
        assert unread_count(engine, "dr_oncall") == 1
    assert mark_read(engine, "nurse_day", later) == 1
    assert unread_count(engine, "nurse_day") == 0
    assert escalations.escalation(engine, 5).phase is Phase.DELIVERED  # reading is not acknowledging


def test_a_refused_connection_and_a_timeout_escalate(engine: Engine) -> None:
    hooks = Hooks(delay_s=1.5)
    with webhook_receiver(hooks) as url:
        policy = _policy(free_port(), url, timeout_s=0.5)  # nothing listens on the SMTP port; the pager is slow
        send = senders(policy, engine)
        send[Channel.BOARD] = send[Channel.EMAIL]  # the board down too: only failing channels at tiers 0 and 1
        escalations.raise_alarm(installed(engine, policy), STALL, NOON)
        summary = escalations.dispatch_once(engine, lambda _: send, lambda: NOON)
    assert summary.delivered == 0
    state = escalations.escalation(engine, 5)
    assert (state.tier, state.phase) == (2, Phase.EXHAUSTED)
    errors = {r.channel: r.last_error or "" for r in escalations.outbox(engine, 5) if r.tier == 1}
    assert "ConnectionRefusedError" in errors["email"]
    assert "timed out" in errors["webhook"]


def test_an_error_answer_from_a_webhook_is_a_failure() -> None:
    hooks = Hooks(status=503)
    with webhook_receiver(hooks) as url:
        policy = _policy(free_port(), url)
        note = _first_webhook(policy)
        with pytest.raises(escalations.DeliveryFailed, match="HTTP 503"):
            WebhookSender(policy.transports.webhook)(note)


def test_an_email_carries_its_key_and_a_message_id_made_from_it() -> None:
    policy = _policy(free_port(), "http://127.0.0.1:1")
    assert policy.transports.email is not None
    note = _first_webhook(policy)
    message = EmailSender(policy.transports.email).message(note)
    assert message["Message-ID"] == message_id(note.key) == EmailSender(policy.transports.email).message(note)[
        "Message-ID"]
    assert message["Message-ID"].endswith("@openidds.invalid>") and message[KEY_HEADER] == note.key


def _first_webhook(policy: Policy) -> Notification:
    state = raise_alarm(STALL, policy, NOON).escalation
    return next(n for n in advance(state, policy, NOON + dt.timedelta(minutes=10)).outbox
                if n.channel is Channel.WEBHOOK)


def test_reading_the_board_marks_only_the_messages_of_the_alarms_shown(engine: Engine) -> None:
    board = BoardSender(engine)
    for alarm_id in (5, 6):
        board(Notification(f"alarm-{alarm_id}/tier-0/nurse_day/board", alarm_id, 0, Audience.STAFF, "nurse_day",
                           Channel.BOARD, "nurse_day", Priority.HIGH, NOON, "subject", "body"))
    assert unread_count(engine, "nurse_day") == 2
    assert mark_read(engine, "nurse_day", NOON, alarm_ids=[5, 99]) == 1
    assert unread_count(engine, "nurse_day") == 1
    assert [m.alarm_id for m in messages(engine, "nurse_day") if m.read_at is None] == [6]
