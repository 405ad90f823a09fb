"""Running a typer app in-process as the CLI tests do: exit codes are returned, any other exception re-raised."""

import typer
from click.testing import Result
from typer.testing import CliRunner

_runner = CliRunner()


def invoke(app: typer.Typer, *args: object, stdin: str | None = None) -> Result:
    """The result of ``app args``; an exception other than the command's own exit is raised, not swallowed."""
    result = _runner.invoke(app, [str(a) for a in args], input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result
