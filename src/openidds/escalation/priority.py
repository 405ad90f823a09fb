"""Alarm priorities after IEC 60601-1-8 (high, medium, low) and how a pump alarm's severity maps onto them."""

from __future__ import annotations

from enum import Enum

from openidds.pump.alarms import Severity


class Priority(str, Enum):
    """How urgently someone must act: IEC 60601-1-8's three alarm priorities."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for high, 1 for medium, 2 for low (sorting puts the most urgent first)."""
        return _RANK[self]

    @classmethod
    def of_severity(cls, severity: Severity) -> Priority:
        """A pump alarm's priority: a critical alarm (therapy stopped or about to stop) is high, a non-critical one
        (needs attention) medium."""
        return cls.HIGH if severity is Severity.CRITICAL else cls.MEDIUM


_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}
