"""Escalation's transports, as adapters: e-mail (SMTP), webhook (HTTP POST) and the web app's alarm board. Each
is a sender (:data:`openidds.clinic.escalations.Sender`) that raises ``DeliveryFailed`` when it cannot deliver, so
the failure is recorded and escalates rather than being lost."""

from __future__ import annotations

from sqlalchemy import Engine

from openidds.clinic.escalations import DeliveryFailed, Sender
from openidds.escalation import Channel, Notification, Policy
from openidds.web.transports.board import BoardSender, mark_read, messages, unread_count
from openidds.web.transports.email import EmailSender
from openidds.web.transports.webhook import WebhookSender


def _unconfigured(note: Notification) -> None:
    raise DeliveryFailed(f"{note.channel.value}: no transport settings in the policy")


def senders(policy: Policy, engine: Engine) -> dict[Channel, Sender]:
    """A sender for every channel, set up from the policy's ``[transports]`` (the board writes to ``engine``)."""
    email = policy.transports.email
    return {Channel.EMAIL: EmailSender(email) if email is not None else _unconfigured,
            Channel.WEBHOOK: WebhookSender(policy.transports.webhook), Channel.BOARD: BoardSender(engine)}


__all__ = ["BoardSender", "EmailSender", "WebhookSender", "mark_read", "messages", "senders", "unread_count"]
