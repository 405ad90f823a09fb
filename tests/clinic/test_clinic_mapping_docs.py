"""The documented mapping (docs/registry.md) lists every column of every kind of record with its REDCap name."""

from __future__ import annotations

from pathlib import Path

from openidds.clinic import SPECS
from openidds.clinic.redcap import redcap_name

DOC = Path(__file__).resolve().parents[2] / "docs" / "registry.md"


def test_every_mapped_column_is_documented_with_its_redcap_variable():
    text = DOC.read_text(encoding="utf-8")
    missing = [f"{spec.name}.{f.name}" for spec in SPECS.values() for f in spec.fields
               if f"| `{f.name}` | `{redcap_name(spec, f.name)}` | {f.kind} |" not in text]
    assert missing == []
    assert all(f"`{spec.name}.csv`" in text for spec in SPECS.values())
