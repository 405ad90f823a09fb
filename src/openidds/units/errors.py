"""The units package's exception."""

from openidds.errors import OpenIDDSError


class UnitsError(OpenIDDSError):
    """A quantity or unit that is ambiguous, malformed or of the wrong dimension."""
