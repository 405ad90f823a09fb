"""What escalation asks the transports to send: notifications (an outbox of intents), each with the key that makes
it unique per alarm, tier, recipient and channel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

from openidds.escalation.channels import Channel
from openidds.escalation.priority import Priority


class Audience(str, Enum):
    """Staff are asked to acknowledge; a patient or caregiver is told what they can do (a refill appointment)."""

    STAFF = "staff"
    PATIENT = "patient"


class DeliveryStatus(str, Enum):
    """Where a notification is: waiting in the outbox, accepted by its transport, refused by it, or withdrawn
    unsent because someone acknowledged (or the alarm closed) first."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Contact:
    """A patient's or caregiver's address on one channel."""

    channel: Channel
    address: str


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one recipient by one channel: written to the outbox once, sent by the dispatcher.

    ``key`` is the idempotency key (alarm, tier, recipient, channel): the outbox holds at most one row per key,
    and the transports pass it on (an e-mail's Message-ID, a webhook's ``idempotency_key``) so a receiver can
    drop a message sent twice after a crash."""

    key: str
    alarm_id: int
    tier: int
    audience: Audience
    recipient: str
    channel: Channel
    address: str
    priority: Priority
    created_at: dt.datetime
    subject: str
    body: str


def staff_key(alarm_id: int, tier: int, person: str, channel: Channel) -> str:
    return f"alarm-{alarm_id}/tier-{tier}/{person}/{channel.value}"


def patient_key(alarm_id: int, contact: Contact) -> str:
    return f"alarm-{alarm_id}/patient/{contact.address}/{contact.channel.value}"
