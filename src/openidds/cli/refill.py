"""`openidds refill plan`: when the next refill is due, and how much to put in, for a pump state file."""

import json
from pathlib import Path
from typing import Annotated

import typer

from openidds.cli.errors import fail
from openidds.cli.output import console
from openidds.cli.state_files import KeyFileOption, forecast_lines, library_from, open_pump, when
from openidds.errors import OpenIDDSError

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
    accuracy: Annotated[str | None, typer.Option(
        "--accuracy-percent", help="Override the pump's accuracy margin.")] = None,
    library: Annotated[Path | None, typer.Option("--library", help="A clinic drug-library JSON file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    key_file: KeyFileOption = None,
) -> None:
    """Now: when the pump's present fill is due. Then: the fill for a refill at --at (same solution and
    therapy), its due date and alarm date, never above the reservoir's capacity."""
    from openidds.programmer import Policy, ProgrammerError, plain_decimal, plan_fill, present_forecast, stability
    from openidds.pump.ticks import exact

    try:
        state, pump, at_s = open_pump(state_path, at, key_file)
        pump.advance(at_s)
        policy = Policy() if accuracy is None else Policy(accuracy_percent=exact("--accuracy-percent", accuracy))
        drugs = library_from(library)
        now = present_forecast(pump, at_s, policy, drugs)
        if pump.solution is None:
            raise ProgrammerError("state", str(state_path), "a pump that has been filled (refill it first)")
        fresh = stability(pump.solution, drugs, at_s, frozenset())
        volume = None if volume_ml is None else exact("--volume-ml", volume_ml)
        proposed = plan_fill(pump.spec, pump.therapy, at_s, stability=fresh, accuracy=policy.accuracy(pump.spec),
                             target_days=target_days, volume_ml=volume)
    except OpenIDDSError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps({"at": state.when(at_s).isoformat(), "now": now.to_dict(), "plan": proposed.to_dict(),
                               "plan_due": None if proposed.forecast.due_s is None
                               else state.when(proposed.forecast.due_s).isoformat()}, indent=2))
        return
    out = console()
    program = pump.therapy.program.describe() if pump.therapy else "not programmed"
    out.print(f"[bold]Refill plan[/bold] for {state_path} at {when(state, at_s)}: {pump.solution.describe()}, "
              f"{program}", highlight=False)
    out.print("[bold]Present fill[/bold]")
    for line in forecast_lines(state, now):
        out.print(f"  {line}", markup=False, highlight=False)
    out.print(f"[bold]Refill now with {plain_decimal(proposed.volume_ml)} mL[/bold] "
                  f"(room {plain_decimal(proposed.room_ml)} mL)")
    for reason in proposed.reasons:
        out.print(f"  {reason}", markup=False, highlight=False)
    for line in forecast_lines(state, proposed.forecast):
        out.print(f"  {line}", markup=False, highlight=False)
