"""The study report: every section in the order of a results section, rendered to HTML, PDF and figure files."""

import csv
import dataclasses
import difflib
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from openidds.errors import OpenIDDSError
from openidds.formula_cells import neutralised_row
from openidds.months import DAYS_PER_MONTH
from openidds.outcomes import _checks
from openidds.outcomes._confint import CONF_TYPES
from openidds.outcomes._frozen import jsonable
from openidds.outcomes.cumulative_incidence import VARIANCES
from openidds.outcomes.figures import render
from openidds.outcomes.kaplan_meier import kaplan_meier
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report import columns
from openidds.outcomes.report.cohort import cohort_section
from openidds.outcomes.report.document import FigureMaker, ReportFigure, Row, Section, Table
from openidds.outcomes.report.events import complications_section, exits_section, survival_section
from openidds.outcomes.report.flow import flow_section, summary_section
from openidds.outcomes.report.html import render_html
from openidds.outcomes.report.pdf import render_pdf
from openidds.outcomes.report.scores import opioid_section, pain_section, satisfaction_section
from openidds.outcomes.report.therapy import therapy_section

FIGURE_DPI = 200
_SECTION_OF = {"cohort": "Table 1", "therapy": "Table 2", "pain": "Pain and quality of life",
               "opioids": "Opioid reduction", "satisfaction": "Satisfaction", "survival": "Overall survival",
               "complications": "Complications", "exits": "Exits", "flow": "Patients and follow-up"}


@dataclass(frozen=True)
class StudyReport:
    """The report's content; ``html()``, ``pdf()`` and ``files()`` give the same bytes for the same data."""

    title: str
    n_patients: int
    dataset_sha256: str
    settings: dict
    sections: tuple[Section, ...]
    warnings: tuple[str, ...] = ()

    @property
    def figures(self) -> tuple[ReportFigure, ...]:
        return tuple(f for s in self.sections for f in s.figures)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(t for s in self.sections for t in s.tables)

    @property
    def meta(self) -> str:
        """The line under the title: cohort size, interval level, time unit and the input's fingerprint."""
        s = self.settings
        return (f"{self.n_patients} implanted patients. All intervals {s['conf_level']:.0%}. Times from the first "
                f"implant; months = days / {s['days_per_month']:g}. Dataset SHA-256 {self.dataset_sha256[:16]}…. "
                "Made by openidds report; the same data gives the same report.")

    def html(self) -> str:
        return render_html(self)

    def pdf(self) -> bytes:
        return render_pdf(self)

    def files(self) -> dict[str, bytes]:
        """Relative path → bytes: ``report.html``, ``report.pdf``, ``report.json``, each figure as PNG and SVG and
        each table as ``tables/table-<nn>.csv``."""
        out = {"report.html": self.html().encode("utf-8"), "report.pdf": self.pdf(),
               "report.json": (json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n")
               .encode("utf-8")}
        for figure in self.figures:
            out[f"figures/{figure.stem}.png"] = figure.png
            out[f"figures/{figure.stem}.svg"] = figure.svg
        for table in self.tables:
            out[f"tables/table-{table.number:02d}.csv"] = table_csv(table)
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        """Every section's estimates with their methods, the settings and the input's fingerprint (JSON-ready)."""
        return jsonable({
            "title": self.title, "n_patients": self.n_patients, "dataset_sha256": self.dataset_sha256,
            "settings": self.settings, "warnings": list(self.warnings),
            "sections": [{"key": s.key, "title": s.title, "omitted": s.omitted, "results": s.results,
                          "tables": [t.title for t in s.tables], "figures": [f.stem for f in s.figures]}
                         for s in self.sections],
        })


def table_csv(table: Table) -> bytes:
    """A table as UTF-8 CSV: its title, header and rows (a level-1 row's label indented by two spaces); a cell a
    spreadsheet would run as a formula (``-0.26 (-0.34 to -0.18)``) gets a leading quote
    (:mod:`openidds.formula_cells`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(neutralised_row([table.title]))
    writer.writerow(neutralised_row(table.header))
    for row in table.rows:
        cells = [*row.cells, *([""] * (len(table.header) - len(row.cells)))]
        writer.writerow(neutralised_row([("  " * row.level + cells[0]).replace("\u00a0", " "),
                                         *(c.replace("\u00a0", " ") for c in cells[1:])]))
    return buffer.getvalue().encode("utf-8")


def missing_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """A warning for each contract column the dataset lacks (its endpoint is shown as not recorded or left
    out), naming a column of the dataset that looks like a misspelling of it."""
    unknown = [str(c) for c in frame.columns if c not in columns.BY_NAME]
    out = []
    for column in columns.COLUMNS:
        if column.name in frame.columns:
            continue
        near = difflib.get_close_matches(column.name, unknown, n=1, cutoff=0.8)
        hint = f"; the dataset has '{near[0]}': rename it to {column.name} if that is the same thing" if near else ""
        out.append(f"column {column.name} ({column.label}; {_SECTION_OF[column.section]}) is not in the dataset, "
                   f"so it is reported as not recorded{hint}")
    return tuple(out)


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the contract's columns (in contract order) as CSV: which data the report was made from."""
    used = [c.name for c in columns.COLUMNS if c.name in frame.columns]
    text = frame[used].to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order whatever order they came in (by site and patient, then every contract column). When site
    and patient tell every row apart (one row per patient), the columns after them never decide and are not
    compared."""
    keys = [k for k in ("site", "patient_id") if k in frame.columns]
    if not keys or pd.DataFrame({k: _sortable(frame[k]) for k in keys}).duplicated().any():
        keys += [c.name for c in columns.COLUMNS if c.name in frame.columns and c.name not in keys]
    return frame.sort_values(keys, kind="mergesort", na_position="last", key=_sortable)


def _sortable(values: pd.Series) -> pd.Series:
    return values if values.dtype.kind in "biuf" else values.astype(str).where(values.notna(), None)


def _make_figure(draw: Callable[[], Figure], slug: str, caption: str) -> ReportFigure:
    figure = draw()
    with rc_context({"savefig.dpi": FIGURE_DPI}):
        return ReportFigure(slug, caption, render(figure, "png"), render(figure, "svg"), FIGURE_DPI)


def _no_figure(draw: Callable[[], Figure], slug: str, caption: str) -> None:
    """A report without figures: nothing is drawn."""


def _numbered(sections: list[Section]) -> tuple[Section, ...]:
    tables = figures = 0
    out = []
    for section in sections:
        blocks = []
        for block in section.blocks:
            if isinstance(block, Table):
                tables += 1
                block = dataclasses.replace(block, number=tables)
            elif isinstance(block, ReportFigure):
                figures += 1
                block = dataclasses.replace(block, number=figures)
            blocks.append(block)
        out.append(dataclasses.replace(section, blocks=tuple(blocks)))
    return tuple(out)


def _completeness(frame: pd.DataFrame) -> Section:
    """The contract columns that are absent or have missing values; the complete ones are named in a note."""
    rows, complete = [], []
    for column in columns.COLUMNS:
        present = column.name in frame.columns
        missing = int(frame[column.name].isna().sum()) if present else None
        if missing == 0:
            complete.append(column.name)
            continue
        rows.append(Row((column.name, column.label, _SECTION_OF[column.section],
                         ("required" if column.required else "present") if present else "absent",
                         "—" if missing is None else f"{missing} ({fmt.pct(missing / len(frame))})")))
    notes = (f"{len(frame)} rows, one per implanted patient. Times are whole days from the first implant.",
             f"Complete (no missing value): {', '.join(complete) or 'none'}.",
             "A row of Table 1 or 2 whose column is absent reads 'not recorded'; a section whose columns are all "
             "absent is omitted with a note; missing values are counted in each table and left out of its "
             "percentages and tests.")
    table = Table("Contract columns absent or with missing values", ("Column", "Meaning", "Used in",
                                                                     "In the dataset", "Missing, n (%)"),
                  tuple(rows), notes)
    return Section("data", "Data completeness", (table,), results={"complete": complete})


def study_report(frame: pd.DataFrame, *, title: str = "Intrathecal drug delivery for cancer pain: results",
                 km_conf_type: str = "log", cif_variance: str = "delta", cif_conf_type: str = "log",
                 figures: bool = True) -> StudyReport:
    """The results section of an IDDS study from its analysis dataset (see docs/report.md for the columns).

    Sections, in order: summary; flow of patients and follow-up rate; cohort, follow-up and Table 1; therapy
    and operation (Table 2); pain NRS and EQ-5D against baseline, responders; opioid reduction; satisfaction;
    overall survival (Kaplan–Meier); mortality, complications by kind and grade, reoperations, 1-year
    cumulative incidences with death competing; exits from follow-up; data completeness. Intervals are 95%.
    The dataset is checked against the column contract first; a bad value raises ``DataError`` naming its
    column and rows. ``warnings`` names each contract column the dataset lacks. ``figures=False`` draws no
    figure (the same results, tables and text, for a caller that only reads the results).
    """
    for name, value, allowed in (("km_conf_type", km_conf_type, CONF_TYPES), ("cif_conf_type", cif_conf_type,
                                                                                CONF_TYPES),
                                 ("cif_variance", cif_variance, VARIANCES)):
        if value not in allowed:
            raise OpenIDDSError(name, value, f"one of {', '.join(allowed)}")
    if not isinstance(frame, pd.DataFrame):
        raise OpenIDDSError("frame", type(frame).__name__, "a pandas DataFrame (one row per implanted patient)")
    columns.check(frame)
    data = _canonical(frame)
    os_days = _checks.numeric(data["os_days"], "os_days")
    os_months = os_days / DAYS_PER_MONTH
    death = _checks.codes(data["death"], "death", {0: 0, 1: 1})
    fit = kaplan_meier(os_months, death, conf_type=km_conf_type, time_column="os_days", status_column="death")
    make_figure: FigureMaker = _make_figure if figures else _no_figure
    parts = [
        flow_section(data, os_days, death),
        cohort_section(data, os_months, death),
        therapy_section(data),
        pain_section(data, make_figure),
        opioid_section(data),
        satisfaction_section(data),
        survival_section(os_months, fit, make_figure),
        complications_section(data, os_days, death, cif_variance, cif_conf_type, make_figure),
        exits_section(data),
        _completeness(data),
    ]
    sections = [summary_section({s.key: s for s in parts}), *parts]
    settings = {"conf_level": 0.95, "km_conf_type": km_conf_type, "cif_variance": cif_variance,
                "cif_conf_type": cif_conf_type, "days_per_month": DAYS_PER_MONTH}
    return StudyReport(title, len(data), fingerprint(data), settings, _numbered(sections), missing_columns(data))
