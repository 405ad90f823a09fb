"""A finding: one problem with one record, from an import or a data-quality check."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Finding:
    """``rule`` broken by ``record`` (e.g. ``visit SITE/P001 2024-03-01``), found at ``location`` (file:line)."""

    rule: str
    record: str
    message: str
    location: str = ""
    severity: str = "error"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)
