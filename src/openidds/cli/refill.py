"""`openidds refill plan`: when the next refill is due, and how much to put in, for a pump state file."""

import json
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from openidds.cli.program import current_forecast, fail, forecast_lines, library_from, open_pump, when
from openidds.errors import OpenIDDSError
from openidds.programmer import FillPlan, Policy, ProgrammerError, forecast, plain_decimal, plan_fill, stability
from openidds.pump.ticks import SECONDS_PER_DAY, TICKS_PER_ML, exact

app = typer.Typer(help="Refill planning: due dates and fill volumes. Not a medical device.", no_args_is_help=True)


@app.callback()
def refill() -> None:
    """Refill planning: due dates and fill volumes. Not a medical device."""


@app.command()
def plan(
    state_path: Annotated[Path, typer.Argument(help="The pump state file (see docs/programmer.md).")],
    at: Annotated[str | None, typer.Option(
        "--at", help="When the refill happens (default: the last journal entry).")] = None,
    target_days: Annotated[int | None, typer.Option("--target-days", help="Wanted days to the next refill.")] = None,
    volume_ml: Annotated[str | None, typer.Option("--volume-ml", help="Plan this fill volume instead (mL).")] = None,
    accuracy: Annotated[str | None, typer.Option("--accuracy-percent", help="Override the pump's accuracy margin.")] = None,
    library: Annotated[Path | None, typer.Option("--library", help="A clinic drug-library JSON file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Now: when the pump's present fill is due. Then: the fill for a refill at --at (same solution and
    therapy), its due date and alarm date, never above the reservoir's capacity."""
    try:
        state, pump, at_s = open_pump(state_path, at)
        pump.advance(at_s)
        policy = Policy() if accuracy is None else Policy(accuracy_percent=exact("--accuracy-percent", accuracy))
        drugs = library_from(library)
        now = current_forecast(pump, at_s, policy, drugs)
        if pump.solution is None:
            raise ProgrammerError("state", str(state_path), "a pump that has been filled (refill it first)")
        fresh = stability(pump.solution, drugs, at_s, frozenset())
        if volume_ml is not None:
            if target_days is not None:
                raise ProgrammerError("--volume-ml/--target-days", (volume_ml, target_days), "one of the two")
            proposed = _fixed(pump, at_s, volume_ml, fresh, policy)
        else:
            proposed = plan_fill(pump.spec, pump.therapy, at_s, stability=fresh, accuracy=policy.accuracy(pump.spec),
                                 target_days=target_days)
    except OpenIDDSError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps({"at": state.when(at_s).isoformat(), "now": now.to_dict(), "plan": proposed.to_dict(),
                               "plan_due": None if proposed.forecast.due_s is None
                               else state.when(proposed.forecast.due_s).isoformat()}, indent=2))
        return
    console = Console(width=max(Console().width, 120))
    console.print(f"[bold]Refill plan[/bold] for {state_path} at {when(state, at_s)}: "
                  f"{pump.solution.describe()}, {pump.therapy.program.describe() if pump.therapy else 'not programmed'}",
                  highlight=False)
    console.print("[bold]Present fill[/bold]")
    for line in forecast_lines(state, now):
        console.print(f"  {line}", markup=False, highlight=False)
    console.print(f"[bold]Refill now with {plain_decimal(proposed.volume_ml)} mL[/bold] "
                  f"(room {plain_decimal(proposed.room_ml)} mL)")
    for reason in proposed.reasons:
        console.print(f"  {reason}", markup=False, highlight=False)
    for line in forecast_lines(state, proposed.forecast):
        console.print(f"  {line}", markup=False, highlight=False)


def _fixed(pump, at_s: int, volume_ml: str, fresh, policy: Policy) -> FillPlan:
    """The forecast for a given fill volume, refused above the reservoir's room."""
    spec = pump.spec
    room = spec.capacity_ticks - spec.residual_ticks
    volume = exact("--volume-ml", volume_ml)
    if volume <= 0 or volume * TICKS_PER_ML > room:
        room_ml = plain_decimal(Fraction(room, TICKS_PER_ML))
        raise ProgrammerError("--volume-ml", volume_ml, f"a volume above 0 and at most {room_ml}"
                              f" mL: a {spec.reservoir_ml} mL reservoir keeps {spec.model.residual_ml} mL")
    outlook = forecast(spec, pump.therapy, spec.residual_ticks + int(volume * TICKS_PER_ML), at_s, stability=fresh,
                       accuracy=policy.accuracy(spec))
    days = "" if outlook.due_s is None else f"; lasts {(outlook.due_s - at_s) / SECONDS_PER_DAY:.1f} days"
    return FillPlan(volume, Fraction(room, TICKS_PER_ML), outlook, None, (f"{plain_decimal(volume)} mL as entered{days}",))
