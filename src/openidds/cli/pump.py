"""`openidds pump`: run the pump model on a scenario and print its timeline."""

from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import typer
from rich.table import Table

from openidds.cli.errors import fail
from openidds.cli.output import console
from openidds.cli.state_files import KeyFileOption, parse_at, read_state
from openidds.cli.tables import label_table
from openidds.errors import OpenIDDSError
from openidds.text_files import read_text

app = typer.Typer(help="The implanted pump model.", no_args_is_help=True)

_BUNDLED = files("openidds.pump").joinpath("scenarios")
_JSON_HELP = ("Print the pump's log in the wire format (docs/wire.md) with the totals, alarms and refusals as "
              "its summary: a file `openidds registry import --format pump-log` reads.")
_STYLES = {"critical": "bold red", "non-critical": "yellow", "refused": "bold magenta", "denied": "dim",
           "fault": "cyan"}


def _bundled_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in _BUNDLED.iterdir() if p.name.endswith(".toml"))


@app.command()
def demo(
    json_out: bool = typer.Option(False, "--json", help=_JSON_HELP),
    every_delivery: bool = typer.Option(False, "--every-delivery", help="List each delivery segment."),
) -> None:
    """90 days of therapy after implant: deliveries, patient boluses, alarms, refills."""
    _simulate_text(_BUNDLED.joinpath("demo_90_days.toml").read_text(encoding="utf-8"), "demo_90_days", json_out,
                   every_delivery)


@app.command()
def simulate(
    scenario: str = typer.Argument(..., help="A scenario TOML file, or the name of a bundled scenario."),
    json_out: bool = typer.Option(False, "--json", help=_JSON_HELP),
    every_delivery: bool = typer.Option(False, "--every-delivery", help="List each delivery segment."),
    encoding: str | None = typer.Option(None, "--encoding", help="Encoding of a scenario file without a "
                                        "byte-order mark (default: UTF-8), e.g. latin-1."),
) -> None:
    """Run a scenario file (docs/scenarios.md) and print its timeline."""
    path = Path(scenario)
    if path.is_file():
        try:
            text = read_text(path, encoding)
        except OpenIDDSError as error:
            raise fail(error) from None
    elif scenario in _bundled_names():
        text = _BUNDLED.joinpath(f"{scenario}.toml").read_text(encoding="utf-8")
    else:
        raise fail(OpenIDDSError("scenario", scenario,
                                 f"a TOML file or one of the bundled scenarios {_bundled_names()}"))
    _simulate_text(text, scenario, json_out, every_delivery)


@app.command("log")
def state_log(
    state_path: Path = typer.Argument(..., help="A pump state file (docs/programmer.md)."),
    at: str | None = typer.Option(None, "--at", help="Run the pump on to this local time (default: the last "
                                  "journal entry)."),
    key_file: KeyFileOption = None,
) -> None:
    """Print the pump log of a programmer state file in the wire format (docs/wire.md): a file that
    `openidds registry import --format pump-log` reads."""
    try:
        state = read_state(state_path, key_file)
        typer.echo(state.pump_log(parse_at(state, at)).model_dump_json(indent=1))
    except OpenIDDSError as error:
        raise fail(error) from None


@app.command("scenarios")
def list_scenarios() -> None:
    """List the bundled scenarios."""
    for name in _bundled_names():
        typer.echo(name)


def _simulate_text(text: str, source: str, json_out: bool, every_delivery: bool) -> None:
    from openidds.pump.scenario import load_scenario, run_scenario
    from openidds.pump.timeline import summary, timeline
    from openidds.pump.wire import export_log

    try:
        run = run_scenario(load_scenario(text, source=source))
    except OpenIDDSError as error:
        raise fail(error) from None
    if json_out:
        typer.echo(export_log(run.pump.log, run.scenario.start, summary(run)).model_dump_json(indent=1))
        return
    out = console()
    out.print(f"[bold]{run.scenario.title}[/bold]")
    if run.scenario.description:
        out.print(run.scenario.description.strip(), style="dim")
    table = Table(show_lines=False, header_style="bold")
    table.add_column("when", no_wrap=True)
    table.add_column("what", no_wrap=True)
    table.add_column("detail")
    for row in timeline(run, every_delivery=every_delivery):
        table.add_row(f"{row.when:%a %d %b %Y %H:%M}", row.kind, row.text, style=_STYLES.get(row.severity, ""))
    out.print(table)
    result = summary(run)
    totals = label_table("Totals", ("drug", "delivered (pump's count)", "to CSF", "to tissue", "withdrawn",
                                    "in reservoir", "in catheter"), header_style="bold")
    for drug, mg in result["drugs_mg"].items():
        totals.add_row(drug, *(f"{Decimal(mg[k]):.3f} mg" for k in (
            "pumped_nominal", "to_csf", "to_tissue", "withdrawn", "in_reservoir", "in_catheter")))
    out.print(totals)
    out.print(f"Active alarms: {', '.join(result['active_alarms']) or 'none'}; "
                  f"refused commands: {len(result['refusals'])}.")

