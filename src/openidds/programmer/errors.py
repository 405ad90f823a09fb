"""The programmer's exceptions."""

from openidds.errors import OpenIDDSError


class ProgrammerError(OpenIDDSError):
    """Programmer input that cannot be honoured (a malformed order, a step out of order)."""


class SessionRefused(ProgrammerError):
    """The session refused a step; the refusal is in the session log and nothing reached the pump.

    ``findings`` lists every hard finding when a plan was refused (the message names the first), or the soft
    findings still unconfirmed when a confirmation was refused.
    """

    def __init__(self, field: str, value: object, expected: str, findings: tuple = ()) -> None:
        self.findings = findings
        super().__init__(field, value, expected)
