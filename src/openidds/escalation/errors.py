"""The escalation package's refusals."""

from openidds.errors import OpenIDDSError


class EscalationError(OpenIDDSError):
    """A refused escalation step: an unknown alarm, an acknowledgement of a closed alarm, a mismatched duplicate."""


class PolicyError(EscalationError):
    """A policy file or value the escalation cannot work with (an empty rota, a zero timeout, an uncovered hour)."""


class ResponderError(EscalationError):
    """An acknowledgement model (how people on call answer, for a simulated run) that cannot be used."""
