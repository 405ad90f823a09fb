"""Errors of the clinic registry, all subclasses of the project's one base class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openidds.errors import OpenIDDSError

if TYPE_CHECKING:
    from openidds.clinic.findings import Finding


class RegistryError(OpenIDDSError):
    """A registry operation refused: the message names the field, the value and what was expected."""


class ConcurrentUpdateError(RegistryError):
    """Another user saved the same record since it was read (optimistic locking): reload and apply again."""


class ImportRejected(RegistryError):
    """An import found errors and wrote nothing; ``findings`` lists every error (and warning) row by row."""

    def __init__(self, source: str, findings: list[Finding]) -> None:
        self.findings = findings
        errors = sum(f.severity == "error" for f in findings)
        super().__init__("import", source, f"a file without errors ({errors} errors found, nothing written)")


class RuleViolation(RegistryError):
    """A change through the registry's write API broke a cross-record rule and wrote nothing; the message names the
    first error's record and rule, ``findings`` lists them all."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        first = findings[0]
        more = f"; {len(findings) - 1} more errors" if len(findings) > 1 else ""
        super().__init__("record", first.record, f"a change that keeps rule {first.rule} ({first.message}; changed "
                         f"record: {first.location}){more}; "
                         "nothing was written: correct the dates or values and save again")


class UnknownRecord(RegistryError):
    """A record asked for by its key is not in the registry."""
