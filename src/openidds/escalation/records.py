"""An escalation as a flat record of plain values (what the registry stores, one column each) and back."""

from __future__ import annotations

from typing import Any

from openidds.escalation.channels import Channel
from openidds.escalation.machine import Escalation, Phase
from openidds.escalation.notification import Contact, DeliveryStatus
from openidds.escalation.priority import Priority


def to_record(state: Escalation) -> dict[str, Any]:
    """``state`` as plain values: enums as their values, deliveries and contacts as JSON-ready lists."""
    return {
        "alarm_id": state.alarm_id, "alarm_kind": state.kind, "priority": state.priority.value,
        "raised_at": state.raised_at, "phase": state.phase.value, "tier": state.tier, "due_at": state.due_at,
        "deliveries": [[key, status.value] for key, status in state.deliveries],
        "patient_contacts": [[c.channel.value, c.address] for c in state.patient_contacts],
        "patient_due_at": state.patient_due_at, "acknowledged_by": state.acknowledged_by,
        "acknowledged_at": state.acknowledged_at, "closed_at": state.closed_at, "closed_reason": state.closed_reason,
        "next_due_at": state.next_due,
    }


def from_record(record: Any) -> Escalation:
    """The escalation a record written by :func:`to_record` holds (a mapping, or an object with its attributes)."""
    get = record.__getitem__ if isinstance(record, dict) else lambda name: getattr(record, name)
    return Escalation(
        alarm_id=get("alarm_id"), kind=get("alarm_kind"), priority=Priority(get("priority")),
        raised_at=get("raised_at"), phase=Phase(get("phase")), tier=get("tier"), due_at=get("due_at"),
        deliveries=tuple((key, DeliveryStatus(status)) for key, status in get("deliveries")),
        patient_contacts=tuple(Contact(Channel(channel), address) for channel, address in get("patient_contacts")),
        patient_due_at=get("patient_due_at"), acknowledged_by=get("acknowledged_by"),
        acknowledged_at=get("acknowledged_at"), closed_at=get("closed_at"), closed_reason=get("closed_reason"),
    )
