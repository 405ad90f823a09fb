"""How every `openidds` command ends on bad input: one message on stderr (or JSON on stdout), exit code 2."""

import difflib
import json
from collections.abc import Iterable

import typer

from openidds.cli.output import console
from openidds.errors import OpenIDDSError

EXIT_REFUSED = 2


def fail(error: OpenIDDSError, as_json: bool = False, next_step: str = "") -> typer.Exit:
    """Print the error (field, value, what was expected) and return the exit to raise (code 2).

    An error that lists several ``problems`` (a drug library or medication file) prints each on its own
    line; ``next_step`` says how to go on when the message alone does not. With ``as_json`` the error is a
    JSON object on stdout, so a script reads it like any answer.
    """
    problems = getattr(error, "problems", ())
    if as_json:
        typer.echo(json.dumps({"error": str(error), "field": error.field, "value": error.value,
                               "expected": error.expected, "problems": [str(p) for p in problems],
                               "next_step": next_step or None}, default=str))
        return typer.Exit(code=EXIT_REFUSED)
    err = console(stderr=True)
    headline = f"{error.field}={error.value!r}: {len(problems)} problem(s)" if problems else str(error)
    err.print(f"error: {headline}", markup=False, highlight=False)
    for problem in problems:
        err.print(f"  {problem}", markup=False, highlight=False)
    if next_step:
        err.print(f"next: {next_step}", markup=False, highlight=False)
    return typer.Exit(code=EXIT_REFUSED)


def nearest(value: str, options: Iterable[str]) -> str:
    """' (did you mean X?)' for the option closest to a mistyped ``value``, or '' when none is close."""
    close = difflib.get_close_matches(value, [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def choose(field: str, value: str, options: Iterable[str]) -> str:
    """``value`` if it is one of ``options``; else an error naming them all and the nearest one."""
    known = [str(o) for o in options]
    if value not in known:
        raise OpenIDDSError(field, value, f"one of {', '.join(known)}{nearest(value, known)}" if known
                            else "nothing: there is none to name here")
    return value
