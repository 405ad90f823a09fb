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


class UnknownRecord(RegistryError):
    """A record asked for by its key is not in the registry."""
