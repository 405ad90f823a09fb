"""A registry record in memory, from a file row or from the database, keyed by its natural key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from openidds.clinic.fields import RecordSpec

PatientKey = tuple[str, str]


@dataclass
class Record:
    """One record: its kind, patient (site, patient_id), implant date for pump records, and field values."""

    spec: RecordSpec
    patient: PatientKey
    values: dict[str, Any]
    implant_date: dt.date | None = None
    location: str = ""
    db_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.spec.name, self.patient, self.implant_date, tuple(map(self.values.get, self.spec.key)))

    @property
    def label(self) -> str:
        parts = [self.spec.label.lower(), f"{self.patient[0]}/{self.patient[1]}"]
        if self.implant_date is not None:
            parts.append(f"implant {self.implant_date.isoformat()}")
        parts += [v.isoformat() if isinstance(v, dt.date) else str(v)
                  for v in (self.values.get(k) for k in self.spec.key)]
        return " ".join(parts)

    def get(self, name: str) -> Any:
        return self.values.get(name)
