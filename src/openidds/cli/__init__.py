"""The `openidds` command: one typer sub-app per package, each in its own module."""

import typer

from openidds.cli import alarms, cohort, dose, program, pump, refill, registry, report, stats, web

app = typer.Typer(
    help="OpenIDDS: intrathecal drug delivery system model. Not a medical device.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(pump.app, name="pump")
app.add_typer(dose.app, name="dose")
app.add_typer(stats.app, name="stats")
app.add_typer(program.app, name="program")
app.add_typer(refill.app, name="refill")
app.add_typer(registry.app, name="registry")
app.add_typer(report.app, name="report")
app.add_typer(cohort.app, name="cohort")
app.add_typer(web.app, name="web")
app.add_typer(alarms.app, name="alarms")


def main() -> None:
    """Entry point of the `openidds` console script."""
    app()


__all__ = ["app", "main"]
