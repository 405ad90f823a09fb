"""`openidds report`: the study report (HTML, PDF, figures as PNG and SVG, tables as CSV) from an analysis dataset
or a registry. A contract column the dataset lacks is named on stderr as a warning line.

``--example`` imports the bundled example registry (``openidds.clinic.examples``: a seeded virtual clinic of
synthetic patients) into a temporary SQLite file and reports it as ``--db`` would. The report is built in memory
first; files are written only once every byte is ready, each through a temporary file renamed into place, so a
refused dataset leaves the output folder as it was.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import typer
from rich.markup import escape
from rich.table import Table

from openidds.cli.errors import fail
from openidds.cli.output import console
from openidds.cli.output import write_files as _write
from openidds.cli.registry_access import registry_engine
from openidds.cli.tables import read_table
from openidds.errors import OpenIDDSError

if TYPE_CHECKING:
    import pandas as pd

    from openidds.outcomes.report import StudyReport

app = typer.Typer(help="Write the study report (HTML, PDF, figures) of an analysis dataset or a clinic registry.",
                  context_settings={"allow_interspersed_args": True})

DEFAULT_TITLE = "Intrathecal drug delivery for cancer pain: results"
EXAMPLE_TITLE = "Example report from a virtual clinic (synthetic patients, not study results)"
SYNTHETIC_TITLE = "Report of a simulated cohort (synthetic virtual patients, not study results)"


def _read_registry(db: str) -> pd.DataFrame:
    """The analysis dataset of an existing registry at the newest schema (a missing file is refused, not made)."""
    from openidds.clinic import analysis_dataset

    engine = registry_engine(db)
    try:
        return analysis_dataset(engine)
    finally:
        engine.dispose()


def _example() -> pd.DataFrame:
    """The bundled example registry imported into a fresh SQLite file, then read back as ``--db`` reads (its
    records only: the analysis dataset reads no pump log)."""
    from openidds.clinic import connect
    from openidds.clinic.examples import load_example

    with tempfile.TemporaryDirectory(prefix="openidds-example-") as folder:
        db = str(Path(folder) / "example.sqlite")
        engine = connect(db)
        try:
            load_example(engine, pump_logs=False)
        finally:
            engine.dispose()
        return _read_registry(db)


def _dataset(dataset: Path | None, db: str | None, example: bool) -> pd.DataFrame:
    """The analysis dataset, rows labelled 1.. as data rows (so an error names the file's row)."""
    import pandas as pd
    given = [name for name, value in (("DATASET", dataset), ("--db", db), ("--example", example)) if value]
    if len(given) != 1:
        raise OpenIDDSError("input", " and ".join(given) or "none",
                            "exactly one of a DATASET file, --db URL of a clinic registry or --example")
    if dataset is not None:
        return read_table(dataset, "dataset")
    frame = _read_registry(db) if db is not None else _example()
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _default_title(frame: pd.DataFrame, example: bool) -> str:
    from openidds.cohort.clinic_run import synthetic_sites

    if example:
        return EXAMPLE_TITLE
    return SYNTHETIC_TITLE if "site" in frame and synthetic_sites(frame["site"]) else DEFAULT_TITLE


class FileSummary(TypedDict):
    bytes: int
    sha256: str


class SectionSummary(TypedDict):
    key: str
    title: str
    omitted: str | None
    tables: list[str]
    figures: list[str]


class ReportSummary(TypedDict):
    """What ``--json`` prints and the tables show: the folder, the cohort, the files written, the sections."""

    out: str
    n_patients: int
    dataset_sha256: str
    warnings: list[str]
    files: dict[str, FileSummary]
    sections: list[SectionSummary]


def _summary(report: StudyReport, out: Path, files: dict[str, bytes]) -> ReportSummary:
    return {
        "out": str(out.resolve()), "n_patients": report.n_patients, "dataset_sha256": report.dataset_sha256,
        "warnings": list(report.warnings),
        "files": {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                  for name, data in files.items()},
        "sections": [{"key": s.key, "title": s.title, "omitted": s.omitted,
                      "tables": [t.title for t in s.tables], "figures": [f.stem for f in s.figures]}
                     for s in report.sections],
    }


def _print(summary: ReportSummary) -> None:
    screen = console()
    sections = Table(title=f"Study report: {summary['n_patients']} patients")
    for name in ("#", "section", "content"):
        sections.add_column(name)
    for i, s in enumerate(summary["sections"], start=1):
        content = s["omitted"] or "; ".join([*s["tables"], *s["figures"]])
        sections.add_row(str(i), s["title"], content)
    screen.print(sections)
    files = Table(title=f"Written to {summary['out']}")
    for name in ("file", "bytes", "sha256"):
        files.add_column(name, justify="right" if name == "bytes" else "left")
    for name, info in summary["files"].items():
        files.add_row(name, str(info["bytes"]), info["sha256"][:16])
    screen.print(files)
    folder = Path(summary["out"])
    screen.print(f"Report:  {folder / 'report.html'}\nPDF:     {folder / 'report.pdf'}\n"
                 f"Figures: {folder / 'figures'}\nTables:  {folder / 'tables'}", highlight=False, soft_wrap=True)


@app.callback(invoke_without_command=True)
def report(
    dataset: Path | None = typer.Argument(None, help="Analysis dataset (.csv or .parquet), one row per implanted "
                                                     "patient.", exists=True, dir_okay=False, readable=True),
    out: Path = typer.Option(..., "--out", help="Folder for report.html, report.pdf, report.json, figures/ and "
                                                "tables/.", file_okay=False),
    db: str | None = typer.Option(None, "--db", help="Build the dataset from this clinic registry (path or URL) "
                                                     "instead of reading DATASET."),
    example: bool = typer.Option(False, "--example", help="Report the bundled example registry (a virtual clinic "
                                                          "of synthetic patients): it is imported into a temporary "
                                                          "SQLite registry first."),
    title: str | None = typer.Option(None, help=f"Report title (default: '{DEFAULT_TITLE}'; with --example "
                                                f"'{EXAMPLE_TITLE}'; when every site is a virtual clinic's, "
                                                f"VIRTUAL-..., '{SYNTHETIC_TITLE}')."),
    km_conf_type: str = typer.Option("log", help="Kaplan–Meier CI transform: log (R's default), log-log, plain."),
    cif_variance: str = typer.Option("delta", help="Cumulative-incidence variance: delta (= R survfit) or aalen "
                                                   "(= cmprsk)."),
    cif_conf_type: str = typer.Option("log", help="Cumulative-incidence CI transform: log, log-log (tidycmprsk), "
                                                  "plain."),
    as_json: bool = typer.Option(False, "--json", help="Print the files written and the sections as JSON."),
) -> None:
    """Write the report: HTML and PDF in the order of a results section, each figure as PNG and SVG."""
    from openidds.outcomes.report import study_report

    try:
        frame = _dataset(dataset, db, example)
        title = _default_title(frame, example) if title is None else title
        built = study_report(frame, title=title, km_conf_type=km_conf_type, cif_variance=cif_variance,
                             cif_conf_type=cif_conf_type)
        files = built.files()
    except OpenIDDSError as error:
        raise fail(error, as_json) from None
    _write(out, files)
    warn = console(stderr=True)
    for line in built.warnings:
        warn.print(f"[yellow]warning:[/yellow] {escape(line)}", highlight=False, soft_wrap=True)
    summary = _summary(built, out, files)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print(summary)
