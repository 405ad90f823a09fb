"""The options `openidds program set` and `openidds program refill` share, declared once."""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ConfirmOption = Annotated[bool, typer.Option("--confirm", help="Confirm the review and send the command.")]
LibraryOption = Annotated[Path | None, typer.Option("--library", help="A clinic drug-library JSON file.")]


@dataclass(frozen=True)
class SessionOptions:
    """The new program and patient bolus, and how the session is reviewed and sent (field order = option order)."""

    dose: Annotated[str | None, typer.Option("--dose", help="Continuous daily dose, e.g. '3 mg/day'.")] = None
    flex: Annotated[list[str] | None, typer.Option(
        "--flex", help="A flex step 'HH:MM=3 mg/day' or 'HH:MM=3 mg/day@sat/sun' (repeatable).")] = None
    periodic: Annotated[str | None, typer.Option(
        "--periodic", help="A periodic dose '0.5 mg over 30 min every 6 h', the week's first at Monday 00:00 on "
                           "the pump clock, or 'from 02:00' / 'from wed 02:00' added.")] = None
    stop: Annotated[bool, typer.Option("--stop", help="Program the stopped mode.")] = False
    drug: Annotated[str | None, typer.Option(
        "--drug", help="Drug whose dose sets the rate (default: the only one).")] = None
    bolus: Annotated[str | None, typer.Option("--bolus", help="Patient bolus dose, e.g. '0.3 mg'.")] = None
    no_bolus: Annotated[bool, typer.Option("--no-bolus", help="Remove the patient bolus.")] = False
    bolus_duration_min: Annotated[int, typer.Option(
        "--bolus-duration-min", help="Patient bolus duration (min).")] = 10
    lockout_min: Annotated[int, typer.Option("--lockout-min", help="Lockout after each patient bolus (min).")] = 120
    max_boluses: Annotated[int, typer.Option("--max-boluses", help="Patient boluses allowed in any 24 h.")] = 4
    max_24h: Annotated[list[str] | None, typer.Option(
        "--max-24h",
        help="24-hour limit 'drug=6 mg' (repeatable; default: worst case plus the pump's headroom).")] = None
    override: Annotated[list[str] | None, typer.Option(
        "--override", help="Confirm a soft finding: 'ID=why' (repeatable); the clinician is recorded as who.")] = None
    confirm: ConfirmOption = False
    max_increase: Annotated[str, typer.Option(
        "--max-increase", help="Clinic cap on a dose rise per session (%).")] = "30"
    library: LibraryOption = None
    as_json: JsonOption = False


def with_session_options(command: Callable[..., None]) -> Callable[..., None]:
    """Append the fields of SessionOptions to ``command``'s own parameters; it receives them as ``options``.

    Typer reads the combined signature, so the command line is the same as with every option written out.
    """
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "options"]
    shared = list(inspect.signature(SessionOptions).parameters.values())
    signature = inspect.Signature(own + shared, return_annotation=None)

    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        options = SessionOptions(**{p.name: values.pop(p.name) for p in shared})
        command(**values, options=options)

    # inspect.signature, and so typer, reads a function's __signature__, an attribute typeshed does not declare.
    run.__dict__["__signature__"] = signature
    run.__annotations__ = {p.name: p.annotation for p in own + shared} | {"return": None}
    return run
