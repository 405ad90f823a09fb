"""Notifications by webhook (a hospital paging system): an HTTP POST of the notification as JSON, with its
idempotency key in the body and in an ``Idempotency-Key`` header. Any answer but 2xx is a failure."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from openidds.clinic.escalations import DeliveryFailed
from openidds.escalation import Notification
from openidds.escalation.policy import WebhookSettings


def payload(note: Notification) -> dict[str, object]:
    """The JSON body a webhook receives."""
    return {"idempotency_key": note.key, "alarm_id": note.alarm_id, "tier": note.tier,
            "priority": note.priority.value, "recipient": note.recipient, "audience": note.audience.value,
            "created_at": note.created_at.isoformat() + "Z", "subject": note.subject, "body": note.body}


class WebhookSender:
    """POSTs each notification to its address (the recipient's webhook URL)."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings

    def __call__(self, note: Notification) -> None:
        request = urllib.request.Request(note.address, data=json.dumps(payload(note)).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Idempotency-Key": note.key})
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"webhook {note.address}: HTTP {exc.code} {exc.reason}") from exc
        except OSError as exc:  # URLError: refused, unknown host; TimeoutError: no answer in time
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(f"webhook {note.address}: {type(reason).__name__}: {reason}") from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"webhook {note.address}: HTTP {status}")
