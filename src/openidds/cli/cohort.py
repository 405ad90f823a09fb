"""`openidds cohort`: virtual cohorts of synthetic patients run through the pump, programmer and registry."""

from __future__ import annotations

import io
import json
from functools import partial
from pathlib import Path

import typer
from rich.table import Table

from openidds.cli.errors import fail
from openidds.cli.output import console, write_atomic
from openidds.errors import OpenIDDSError

#: How many refused rows an import error shows.
FINDINGS_SHOWN = 10
#: The formats ``cohort validate --figure`` draws, by the file's ending.
FIGURE_FORMATS = ("png", "svg", "pdf")

app = typer.Typer(help="Virtual cohorts: synthetic patients run through the pump, programmer and registry, "
                       "to reproduce a published study.", no_args_is_help=True)


@app.command("run")
def run(
    study: str = typer.Argument(..., help="A bundled study (seed000, seed002, seed003) or a study file (TOML)."),
    seed: int = typer.Option(..., min=0, help="Random seed: the same seed gives the same registry."),
    db: str = typer.Option(..., help="A new registry: an SQLite file not there yet, or an empty database URL."),
    patients: int | None = typer.Option(None, min=1, help="Number of patients (default: the study's)."),
    params: str | None = typer.Option(None, help="Parameter file (JSON; default: the study's bundled one)."),
) -> None:
    """Simulate one replicate of STUDY into a new registry, then say how to report it."""
    from openidds.clinic import ImportRejected
    from openidds.cohort.params import load_params
    from openidds.cohort.simulate import simulate
    from openidds.cohort.study import load_study

    try:
        chosen = load_study(study)
        summary = simulate(chosen, load_params(params or chosen.id), seed, db, patients)
    except ImportRejected as error:
        err = console(stderr=True)
        for finding in error.findings[:FINDINGS_SHOWN]:
            err.print(f"{finding.location}: {finding.record}: {finding.message}", markup=False, highlight=False)
        raise fail(error, next_step="the model wrote a row the registry refuses: report it with the command "
                                    "and seed") from None
    except OpenIDDSError as error:
        raise fail(error) from None
    out = console()
    table = Table(title=f"Synthetic cohort {summary.study} (seed {summary.seed}): virtual patients, not study data")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for label, value in (("patients", summary.patients), ("deaths", summary.deaths), ("explants", summary.explants),
                         ("refills", summary.refills), ("flagged refill discrepancies", summary.flagged_refills),
                         ("pump events", summary.pump_events), ("pump-years simulated", summary.pump_years)):
        table.add_row(label, str(value))
    out.print(table)
    title = f"Synthetic cohort {summary.study}, seed {summary.seed}: virtual patients, not study results"
    out.print(f"Registry: {db}", markup=False, highlight=False)
    out.print(f'next: openidds report --db {db} --title "{title}"', markup=False, highlight=False)
    out.print(f"check: openidds registry check --db {db} --today {chosen.design.follow_up_end.isoformat()}",
              markup=False, highlight=False)


@app.command("validate")
def validate(
    study: str = typer.Argument(..., help="A bundled study (seed000, seed002, seed003) or a study file (TOML)."),
    replicates: int = typer.Option(200, min=1, help="Number of replicates."),
    seed: int = typer.Option(1, min=0, help="Random seed: replicate i gets child i of SeedSequence(seed)."),
    params: str | None = typer.Option(None, help="Parameter file (JSON; default: the study's bundled one)."),
    workers: int | None = typer.Option(None, min=1, help="Local worker processes (default: one per core)."),
    scheduler: str | None = typer.Option(None, help="A Dask scheduler (tcp://host:port) to run the replicates on."),
    figure: Path | None = typer.Option(None, help="Also draw the comparison as a figure (PNG, SVG or PDF)."),
    pump_logs: bool = typer.Option(False, "--pump-logs", help="Also store every pump's log in each replicate's "
                                   "registry, as `cohort run` does (no target reads them: without this they are "
                                   "simulated, not stored)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Run replicates of STUDY and compare every target with the published value and interval."""
    from openidds.cohort.params import load_params
    from openidds.cohort.replicates import run_replicates
    from openidds.cohort.simulate import simulate
    from openidds.cohort.study import load_study
    from openidds.cohort.validation import compare
    from openidds.cohort.validation import figure as draw

    try:
        figure_format = None if figure is None else _figure_format(figure)
        chosen = load_study(study)
        measured = run_replicates(partial(simulate, pump_logs=pump_logs), chosen, load_params(params or chosen.id),
                                  seed, replicates, scheduler=scheduler, workers=workers)
        validation = compare(chosen, measured)
        if figure is not None:
            buffer = io.BytesIO()
            draw(validation).savefig(buffer, format=figure_format)
            try:
                write_atomic(figure, buffer.getvalue())
            except OSError as exc:
                raise OpenIDDSError("--figure", str(figure), f"a file that can be written ({exc.strerror})") from None
    except OpenIDDSError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps(validation.to_dict() | {"pump_logs_stored": pump_logs}, indent=1, default=str))
        return
    table = Table(title=f"Synthetic cohort {chosen.id}: {replicates} replicates (seed {seed}) against the "
                        "published numbers")
    for name in validation.HEADER:
        table.add_column(name)
    for row in validation.rows():
        table.add_row(*row)
    console().print(table)
    console().print("Each replicate's registry holds every record the report reads" + (
        " and every pump's log." if pump_logs else "; the pumps' logs, which no target reads, were simulated but "
        "not stored (--pump-logs stores them)."), markup=False, highlight=False)
    if figure is not None:
        console().print(f"Figure: {figure}", markup=False, highlight=False)


def _figure_format(figure: Path) -> str:
    """The format of the validation's figure file, checked before any replicate runs."""
    fmt = figure.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        endings = ", ".join(f".{f}" for f in FIGURE_FORMATS[:-1]) + f" or .{FIGURE_FORMATS[-1]}"
        raise OpenIDDSError("--figure", str(figure), f"a file ending in {endings} (the figure's format)")
    if not figure.parent.is_dir():
        raise OpenIDDSError("--figure", str(figure), f"a path in a folder that exists (there is no folder "
                            f"{figure.parent})")
    return fmt


@app.command("calibrate")
def calibrate(
    study: str = typer.Argument(..., help="A bundled study (seed000, seed002, seed003) or a study file (TOML)."),
    out: Path | None = typer.Option(None, help="Where to write the fitted parameter file (JSON; default: "
                                               "STUDY-calibrated.json here). An existing file is replaced."),
    budget: int = typer.Option(150, min=1, help="Most evaluations of the distance (each one draws a virtual "
                                                "cohort)."),
    seed: int = typer.Option(1, min=0, help="Seed of the virtual cohort every evaluation draws (common random "
                                            "numbers): the same seed, budget and date give the same file."),
    patients: int | None = typer.Option(None, min=1, help="Patients in that cohort (default: five per study "
                                                          "patient)."),
    cohorts: int = typer.Option(1, min=1, help="Cohorts each evaluation draws (from spawned seeds); the distance "
                                               "is taken on the targets' means over them."),
    params: str | None = typer.Option(None, help="Starting parameter file (JSON; default: the study's bundled one)."),
    parameter: list[str] | None = typer.Option(None, help="Fit only this free parameter (repeat for more; default: "
                                                          "every one that informs a fit target); the others keep "
                                                          "the starting file's values."),
    on: str | None = typer.Option(None, "--date", help="Date written into the provenance (YYYY-MM-DD; default: "
                                                       "today, UTC)."),
) -> None:
    """Fit the model's parameters to STUDY's fit targets on the patient-course model; write them with provenance."""
    import datetime as dt

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from openidds.cli.output import write_atomic
    from openidds.cohort.calibrate import calibrate as fit
    from openidds.cohort.params import load_params, params_text
    from openidds.cohort.study import load_study

    try:
        day = dt.datetime.now(dt.UTC).date() if on is None else dt.date.fromisoformat(on)
    except ValueError:
        raise fail(OpenIDDSError("date", on, "a date as YYYY-MM-DD")) from None
    command = " ".join(["openidds cohort calibrate", study, f"--budget {budget}", f"--seed {seed}",
                        *([f"--patients {patients}"] if patients is not None else []),
                        *([f"--cohorts {cohorts}"] if cohorts != 1 else []),
                        *([f"--params {params}"] if params is not None else []),
                        *(f"--parameter {name}" for name in parameter or ()), f"--date {day.isoformat()}"])
    try:
        chosen = load_study(study)
        start = load_params(params or chosen.id)
        target = out or Path(f"{chosen.id}-calibrated.json")
        if not target.parent.is_dir():
            raise OpenIDDSError("--out", str(target), f"a path in a folder that exists (there is no folder "
                                f"{target.parent}): the fitted file is written there when the fit ends")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console(stderr=True), transient=True) as bar:
            task = bar.add_task("calibrating", total=budget)

            def report(evaluations: int, best: float) -> None:
                bar.update(task, completed=evaluations, description=f"calibrating (best distance {best:.3f})")

            result = fit(chosen, start, seed=seed, budget=budget, on=day, patients=patients, cohorts=cohorts,
                         parameters=parameter, command=command, progress=report)
        try:
            write_atomic(target, params_text(result.params).encode("utf-8"))
        except OSError as error:
            raise OpenIDDSError("--out", str(target), f"a file that can be written ({error.strerror})") from None
    except OpenIDDSError as error:
        raise fail(error) from None
    record = result.calibration
    each = (f"{record.patients_per_evaluation} synthetic patients each" if cohorts == 1 else
            f"{cohorts} cohorts of {record.patients_per_evaluation} synthetic patients each")
    table = Table(title=f"Calibration of {chosen.id} to its fit targets ({record.evaluations} evaluations, {each}, "
                        f"seed {seed})")
    for name in ("fit target", "published", "half-width", "model before", "model after"):
        table.add_column(name)
    for t in result.targets:
        table.add_row(t.name, f"{t.value:g}", f"{t.half_width:.3g}", f"{result.before[t.name]:.3g}",
                      f"{result.after[t.name]:.3g}")
    parameters = Table(title="Free parameters")
    for name in ("parameter", "bounds", "start", "fitted"):
        parameters.add_column(name)
    for name, p in record.parameters.items():
        parameters.add_row(name, f"{p.low:g}–{p.high:g}", f"{p.start:.4g}", f"{p.fitted:.4g}")
    screen = console()
    screen.print(table)
    screen.print(parameters)
    for name, reason in record.not_fitted.items():
        screen.print(f"not fitted: {name}: {reason}", markup=False, highlight=False)
    screen.print(f"distance {record.distance_before:.3f} -> {record.distance_after:.3f} ({record.distance})",
                 markup=False, highlight=False)
    screen.print(f"Parameters: {target}", markup=False, highlight=False)
    screen.print(f"next: openidds cohort validate {study} --params {target}", markup=False, highlight=False)
