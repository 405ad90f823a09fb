"""Acknowledgement models for the tests of escalation runs."""

from __future__ import annotations

from typing import Any

from openidds.escalation import Responders, StaffRole


def uniform(share: float, median_minutes: float, failures: float = 0.0,
            refill_after_hours: tuple[float, float] | None = None) -> Responders:
    """Everyone answers alike: ``share`` acknowledge after a delay of median ``median_minutes`` (IQR as much); with
    ``refill_after_hours`` (after a low reservoir, after an empty one), the refill visits an acknowledgement leads
    to."""
    delay = {"median_minutes": median_minutes, "iqr_minutes": median_minutes}
    answer = {"acknowledge_share": share, "office": delay, "night": delay}
    data: dict[str, Any] = {
        "office_hours": {"start": "08:00", "end": "18:00"},
        "roles": {role.value: {"high": answer, "medium": answer, "low": answer, "source": "test"}
                  for role in StaffRole},
        "delivery_failures": {"email": failures, "webhook": failures, "board": failures, "source": "test"}}
    if refill_after_hours is not None:
        low, empty = refill_after_hours
        data["refill_visits"] = {"after_low_reservoir_hours": low, "after_empty_reservoir_hours": empty,
                                 "source": "test"}
    return Responders.model_validate(data)
