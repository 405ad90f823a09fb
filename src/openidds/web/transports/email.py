"""Notifications by e-mail over SMTP (smtplib): one message per notification, its Message-ID made from the
notification's idempotency key (a SHA-256 of it: the key may hold an address) so a mail system can drop a
repeat."""

from __future__ import annotations

import hashlib
import smtplib
from email.message import EmailMessage

from openidds.clinic.escalations import DeliveryFailed
from openidds.escalation import Notification
from openidds.escalation.policy import EmailSettings

KEY_HEADER = "X-OpenIDDS-Idempotency-Key"


def message_id(key: str) -> str:
    """The Message-ID of the notification ``key``: the same for every send of it."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@openidds.invalid>"


class EmailSender:
    """Sends each notification to its address through the clinic's SMTP server."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    def message(self, note: Notification) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = note.address
        msg["Subject"] = note.subject
        msg["Message-ID"] = message_id(note.key)
        msg[KEY_HEADER] = note.key
        msg.set_content(note.body)
        return msg

    def __call__(self, note: Notification) -> None:
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                smtp.send_message(self.message(note))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP {s.host}:{s.port}: {type(exc).__name__}: {exc}") from exc
