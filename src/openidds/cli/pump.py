"""`openidds pump`: run the pump model."""

import typer

app = typer.Typer(help="The implanted pump model.", no_args_is_help=True)
