"""The escalation package's refusals, and the one translation of a pydantic validation error into one of them."""

from typing import Any, TypeVar

from pydantic import ValidationError

from openidds.errors import OpenIDDSError


class EscalationError(OpenIDDSError):
    """A refused escalation step: an unknown alarm, an acknowledgement of a closed alarm, a mismatched duplicate."""


class PolicyError(EscalationError):
    """A policy file or value the escalation cannot work with (an empty rota, a zero timeout, an uncovered hour)."""


class ResponderError(EscalationError):
    """An acknowledgement model (how people on call answer, for a simulated run) that cannot be used."""


E = TypeVar("E", bound=OpenIDDSError)


def validation_refusal(exc: ValidationError, error: type[E], root: str) -> E:
    """The first problem of ``exc`` as an ``error``: a refusal a validator raised as is; else the field's path
    (``tiers[1].timeout_minutes.high``; ``root`` when the document as a whole is wrong), the value given (None when
    missing, ``<dict>`` for a block) and what was expected, in the project's words."""
    first = exc.errors()[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, error):
        return cause
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
                    if part != "[key]").lstrip(".")
    given = None if first["type"] == "missing" else first.get("input")
    shown = given if isinstance(given, str | int | float | bool | None) else f"<{type(given).__name__}>"
    return error(field or root, shown, _expected(first, cause))


def _expected(error: Any, cause: object) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "value_error" and cause is not None:
        return str(cause)
    if kind == "enum":
        return f"one of {error['ctx']['expected']}"
    if kind == "less_than_equal":
        return f"a number at most {_plain(error['ctx']['le'])}"
    if kind == "greater_than":
        return f"a number greater than {_plain(error['ctx']['gt'])}"
    if kind == "extra_forbidden":
        return "no such setting (a misspelt name?)"
    if kind == "missing":
        return "a value: this setting is required"
    return message[0].lower() + message[1:]


def _plain(bound: float) -> str:
    """A bound as written in a file: 0, not 0.0."""
    return f"{bound:g}"
