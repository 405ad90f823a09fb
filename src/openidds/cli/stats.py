"""`openidds stats`: the study analyses on a CSV or Parquet analysis dataset.

`km` and `cif` find their time and status columns themselves in R's time/status datasets and in the
registry's analysis export (see :mod:`openidds.cli.endpoints`). Rows in error messages are 1-based data rows
of the file (the header is not counted). The statistics libraries are imported when a command runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from openidds.cli.endpoints import Endpoint, TimeUnit, resolve
from openidds.cli.errors import choose, fail
from openidds.cli.output import console
from openidds.cli.tables import label_table, read_table
from openidds.errors import OpenIDDSError
from openidds.months import DAYS_PER_MONTH

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

app = typer.Typer(help="Outcome statistics with R's defaults (KM, cumulative incidence, paired scores, Table 1).",
                  no_args_is_help=True)

FILE = typer.Argument(..., help="Analysis dataset: .csv or .parquet, e.g. `openidds registry export analysis`'s.",
                      exists=True, dir_okay=False, readable=True)
JSON = typer.Option(False, "--json", help="Print every estimate, its CI and its method as JSON.")
CONF_LEVEL = typer.Option(0.95, "--conf-level", help="Confidence level of every interval.")
ENCODING = typer.Option(None, "--encoding", help="Encoding of a CSV file without a byte-order mark (default: "
                                                  "UTF-8), e.g. latin-1.")
PLOT = typer.Option(None, "--plot", help="Also write the figure to PLOT.png and PLOT.svg (deterministic).")
TIME = typer.Option(None, "--time", help="Column of follow-up times (default: found in the file).")
STATUS = typer.Option(None, "--status", help="Column of status codes (default: the time column's).")
ENDPOINT = typer.Option(None, "--endpoint", help="An endpoint of the registry's analysis export by name: os, "
                                                 "complication, severe_complication, reoperation, exit...")
UNIT = typer.Option(TimeUnit.days, "--unit", help=f"Time unit of the output: days, or months of "
                                                  f"{DAYS_PER_MONTH:g} days (365.25 / 12); times in the file are days.")
ONE_YEAR = {TimeUnit.days: 365.0, TimeUnit.months: 12.0}
MAX_FOLLOW_UP_DAYS = 36_525.0
"""The longest follow-up time a dataset may hold: a century of days (a larger time is a typing error)."""
NICE_DAY_STEPS = (7, 14, 30, 60, 90, 180, 365, 730, 1461)
MAX_TICKS = 9
MAX_DIGITS = 12
"""The most decimals a table shows (past a float's precision; a larger --digits would only print noise)."""


def _code(text: str) -> object:
    """A status code typed on the command line: an integer or number if it reads as one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _fmt(value: float, digits: int) -> str:
    return "NA" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _ci(lower: float, upper: float, digits: int) -> str:
    return f"{_fmt(lower, digits)}–{_fmt(upper, digits)}"


def _run(action: Callable[[], None], as_json: bool) -> None:
    try:
        action()
    except OpenIDDSError as err:
        raise fail(err, as_json) from None


def _save(stem: Path | None, build: Callable[[], Figure]) -> None:
    """Build the figure only when asked, and write STEM.png and STEM.svg (a STEM given as ``km.png`` or
    ``km.svg`` is read as ``km``)."""
    if stem is None:
        return
    from openidds.outcomes.figures import FORMATS, render

    if stem.suffix.lstrip(".") in FORMATS:
        stem = stem.with_suffix("")

    if not stem.parent.is_dir():
        raise OpenIDDSError("--plot", str(stem), f"a path in a folder that exists (there is no folder {stem.parent})")
    figure = build()
    for fmt in FORMATS:
        path = stem.with_name(f"{stem.name}.{fmt}")
        try:
            path.write_bytes(render(figure, fmt))
        except OSError as exc:
            raise OpenIDDSError("--plot", str(path), f"a file that can be written ({exc.strerror})") from None


def _columns(frame: pd.DataFrame, *names: str) -> None:
    """Refuse a column the file does not have, naming the nearest one."""
    for name in names:
        choose("column", name, frame.columns)


def time_ticks(last: float, unit: TimeUnit) -> list[float]:
    """Readable ticks from 0 to ``last``: 3, 6, 12 or 24-monthly in months; in days, the smallest of a week,
    two weeks, a month, two months, a quarter, half a year, a year, two or four years giving at most 9."""
    if unit is TimeUnit.months:
        from openidds.outcomes.figures import month_ticks

        return month_ticks(last, MAX_TICKS)
    step = next((s for s in NICE_DAY_STEPS if last / s <= MAX_TICKS - 1), None)
    step = step or NICE_DAY_STEPS[-1] * math.ceil(last / (NICE_DAY_STEPS[-1] * (MAX_TICKS - 1)))
    return [float(step * i) for i in range(int(last // step) + 1)]


def _timed(frame: pd.DataFrame, endpoint: Endpoint, unit: TimeUnit) -> pd.DataFrame:
    """The data with the endpoint's times in ``unit`` (checked as columns first)."""
    _columns(frame, endpoint.time, endpoint.status)
    import pandas as pd

    from openidds.outcomes._checks import at_most

    column = frame[endpoint.time]
    at_most(column, endpoint.time, MAX_FOLLOW_UP_DAYS, f"follow-up times of at most {MAX_FOLLOW_UP_DAYS:,.0f} days "
            "(100 years): times in the file are days")
    if unit is TimeUnit.days or not pd.api.types.is_numeric_dtype(column):
        return frame  # a column that is not numbers is refused by the analysis, naming its rows
    return frame.assign(**{endpoint.time: column * unit.from_days(1.0)})


def _unit_note(unit: TimeUnit) -> str:
    return f"Times in months of {DAYS_PER_MONTH:g} days." if unit is TimeUnit.months else "Times in days."


def _emit(payload: dict[str, object]) -> None:
    typer.echo(json.dumps(payload, indent=2, allow_nan=False))


def _groups(frame: pd.DataFrame, group: str | None) -> list[tuple[object, pd.DataFrame]]:
    from openidds.outcomes import group_levels

    if group is None:
        return [("All", frame)]
    _columns(frame, group)
    column = frame[group]
    _, labels = group_levels(column, group)
    return [(label, frame[column == label]) for label in labels]


@app.command()
def km(
    file: Path = FILE,
    time: str | None = TIME,
    status: str | None = STATUS,
    endpoint: str | None = ENDPOINT,
    unit: TimeUnit = UNIT,
    event: str = typer.Option("1", help="Status code of an event (death)."),
    censored: str = typer.Option("0", help="Status code of a censored row."),
    group: str | None = typer.Option(None, help="Column to split by; adds the log-rank test."),
    conf_type: str = typer.Option("log", help="CI transform: log (R's default), log-log or plain."),
    conf_level: float = CONF_LEVEL,
    at: list[float] = typer.Option([], "--at", help="Times to read the curve at (repeatable)."),
    digits: int = typer.Option(3, min=0, max=MAX_DIGITS, help="Decimals shown for probabilities."),
    plot: Path | None = PLOT,
    encoding: str | None = ENCODING,
    as_json: bool = JSON,
) -> None:
    """Kaplan–Meier survival: median with CI, survival and number at risk at chosen times, log-rank.

    Default columns: time/status, or os_days/death from the registry's analysis export (--endpoint: another)."""

    def action() -> None:
        from openidds.outcomes import kaplan_meier, logrank
        from openidds.outcomes.figures import kaplan_meier_figure

        raw = read_table(file, encoding=encoding)
        chosen = resolve(list(raw.columns), time, status, endpoint, preferred=("os",))
        frame = _timed(raw, chosen, unit)
        t, s = chosen.time, chosen.status
        fits = [(label, kaplan_meier(rows[t], rows[s], event=_code(event), censored=_code(censored),
                                     conf_type=conf_type, conf_level=conf_level, time_column=t,
                                     status_column=s)) for label, rows in _groups(frame, group)]
        test = (logrank(frame[t], frame[s], frame[group], event=_code(event), censored=_code(censored),
                        time_column=t, status_column=s, group_column=group)
                if group and len(fits) > 1 else None)
        last = max(float(fit.time[-1]) for _, fit in fits if len(fit.time))
        risk_times = time_ticks(last, unit)
        _save(plot, lambda: kaplan_meier_figure({str(label): fit for label, fit in fits}, risk_times=risk_times,
                                                time_label=chosen.time_label(unit), title=chosen.title))
        if as_json:
            _emit({"file": str(file), "analysis": "kaplan_meier", "endpoint": chosen.name or None, "time": t,
                   "status": s, "unit": unit.value, "group": group,
                   "fits": [{"group": str(label), **fit.to_dict(at)} for label, fit in fits],
                   "logrank": test.to_dict() if test else None})
            return
        out = console()
        summary = label_table(f"Kaplan–Meier: {chosen.title} ({t} / {s}, {unit.value})",
                              ("group", "n", "events", "median", f"{conf_level:.0%} CI"))
        for label, fit in fits:
            q = fit.median
            summary.add_row(str(label), str(fit.n), str(fit.events), _fmt(q.time, 2), _ci(q.lower, q.upper, 2))
        out.print(summary)
        if at:
            table = label_table("Survival at chosen times",
                                ("group", "time", "at risk", "S(t)", "SE", f"{conf_level:.0%} CI"))
            for label, fit in fits:
                r = fit.at(at)
                for i in range(len(at)):
                    table.add_row(str(label), f"{r.time[i]:g}", str(r.n_risk[i]), _fmt(r.survival[i], digits),
                                  _fmt(r.std_err[i], digits + 1), _ci(r.lower[i], r.upper[i], digits))
            out.print(table)
        if test:
            out.print(f"Log-rank: chi-square {test.statistic:.2f}, df {test.df}, p = {test.p_value:.3g}")
        out.print(f"Method: {fits[0][1].method.describe()}. {_unit_note(unit)}", highlight=False)

    _run(action, as_json)


@app.command()
def cif(
    file: Path = FILE,
    time: str | None = TIME,
    status: str | None = STATUS,
    endpoint: str | None = ENDPOINT,
    unit: TimeUnit = UNIT,
    cause: str = typer.Option("1", help="Status code of the event of interest."),
    censored: str = typer.Option("0", help="Status code of a censored row."),
    competing: list[str] = typer.Option([], "--competing",
                                        help="Competing status codes (repeatable); default: every other code."),
    group: str | None = typer.Option(None, help="Column to split by; adds Gray's test."),
    variance: str = typer.Option("delta", help="delta (= R survfit) or aalen (= cmprsk)."),
    conf_type: str = typer.Option("log", help="CI transform: log (R survfit's default), log-log or plain."),
    conf_level: float = CONF_LEVEL,
    at: list[float] = typer.Option([], "--at", help="Times to read the incidence at, events on the day count "
                                                    "(default: 1 year, 365 days or 12 months)."),
    digits: int = typer.Option(3, min=0, max=MAX_DIGITS, help="Decimals shown for probabilities."),
    plot: Path | None = PLOT,
    encoding: str | None = ENCODING,
    as_json: bool = JSON,
) -> None:
    """Cumulative incidence with competing risks (Aalen–Johansen) at chosen times, Gray's test between groups.

    Default columns: time/status, or complication_days/complication_status from the analysis export."""

    def action() -> None:
        from openidds.outcomes import cumulative_incidence, gray_test
        from openidds.outcomes.cumulative_incidence import require_cause
        from openidds.outcomes.figures import cumulative_incidence_figure

        raw = read_table(file, encoding=encoding)
        chosen = resolve(list(raw.columns), time, status, endpoint,
                         preferred=("complication", "severe_complication", "reoperation"))
        frame = _timed(raw, chosen, unit)
        t, s = chosen.time, chosen.status
        times = list(at) or [ONE_YEAR[unit]]
        code, no_event, others = _code(cause), _code(censored), [_code(c) for c in competing] or None
        require_cause(frame[s], code, no_event, others, status_column=s)
        fits = [(label, cumulative_incidence(rows[t], rows[s], code, censored=no_event, competing=others,
                                             variance=variance, conf_type=conf_type, conf_level=conf_level,
                                             time_column=t, status_column=s))
                for label, rows in _groups(frame, group)]
        test = (gray_test(frame[t], frame[s], frame[group], code, censored=no_event, competing=others,
                          time_column=t, status_column=s, group_column=group)
                if group and len(fits) > 1 else None)
        what = chosen.title if chosen.name else f"{s} = {cause}"
        last = max((float(fit.time[-1]) for _, fit in fits if len(fit.time)), default=0.0)
        _save(plot, lambda: cumulative_incidence_figure(
            {str(label): fit for label, fit in fits}, time_label=chosen.time_label(unit),
            title=f"Cumulative incidence: {what}", time_ticks=time_ticks(last, unit) if last > 0 else None))
        if as_json:
            _emit({"file": str(file), "analysis": "cumulative_incidence", "endpoint": chosen.name or None,
                   "time": t, "status": s, "unit": unit.value, "group": group,
                   "fits": [{"group": str(label), **fit.to_dict(times)} for label, fit in fits],
                   "gray": test.to_dict() if test else None})
            return
        out = console()
        table = label_table(f"Cumulative incidence: {what} ({t} / {s}, {unit.value})",
                            ("group", "n", "time", "at risk", "events", "incidence", "SE", f"{conf_level:.0%} CI"))
        for label, fit in fits:
            r = fit.at(times)
            for i in range(len(times)):
                table.add_row(str(label), str(fit.n), f"{r.time[i]:g}", str(r.n_risk[i]), str(r.n_event[i]),
                              _fmt(r.incidence[i], digits), _fmt(r.std_err[i], digits + 1),
                              _ci(r.lower[i], r.upper[i], digits))
        out.print(table)
        if test:
            out.print(f"Gray's test: chi-square {test.statistic:.2f}, df {test.df}, p = {test.p_value:.3g}")
        out.print(f"Method: {fits[0][1].method.describe()}. {_unit_note(unit)}", highlight=False)

    _run(action, as_json)


@app.command()
def paired(
    file: Path = FILE,
    before: str = typer.Option(..., help="Column of the baseline score."),
    after: list[str] = typer.Option(..., "--after", help="Column(s) of follow-up scores (repeatable)."),
    better: str = typer.Option("lower", help="Direction of improvement: lower (pain) or higher (EQ-5D)."),
    conf_level: float = CONF_LEVEL,
    digits: int = typer.Option(2, min=0, max=MAX_DIGITS, help="Decimals shown."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the first comparison's figure to PLOT.png/.svg."),
    encoding: str | None = ENCODING,
    as_json: bool = JSON,
) -> None:
    """Paired comparison of a score against baseline: paired t, Wilcoxon signed-rank (V), share improved."""

    def action() -> None:
        from openidds.outcomes import paired_comparison
        from openidds.outcomes.figures import paired_figure

        frame = read_table(file, encoding=encoding)
        _columns(frame, before, *after)
        results = [paired_comparison(frame[before], frame[column], better=better, conf_level=conf_level,
                                     before_column=before, after_column=column) for column in after]
        _save(plot, lambda: paired_figure(frame[before].tolist(), frame[after[0]].tolist(), results[0],
                                          labels=(before, after[0]),
                                          score_label=before))
        if as_json:
            _emit({"file": str(file), "analysis": "paired", "comparisons": [r.to_dict() for r in results]})
            return
        table = Table(title=f"Paired comparison against {before} (complete pairs)")
        table.add_column("")
        for r in results:
            table.add_column(r.after_column, justify="right")
        pct = [(r.improved_exact, r.improved_wilson) for r in results]
        rows = [
            ("pairs (excluded)", [f"{r.n_pairs} ({r.n_excluded})" for r in results]),
            (f"{before}, mean ± SD", [f"{r.before_mean:.{digits}f} ± {r.before_sd:.{digits}f}" for r in results]),
            ("follow-up, mean ± SD", [f"{r.after_mean:.{digits}f} ± {r.after_sd:.{digits}f}" for r in results]),
            (f"mean {before} − follow-up ({conf_level:.0%} CI)",
             [f"{_fmt(r.t_test.mean_difference, digits)} ({_ci(r.t_test.lower, r.t_test.upper, digits)})"
              for r in results]),
            ("paired t (df), p",
             [f"{r.t_test.statistic:.2f} ({r.t_test.df}), {r.t_test.p_value:.3g}" for r in results]),
            ("Wilcoxon V, p", [f"{r.signed_rank.statistic_v:g}, {r.signed_rank.p_value:.3g}" for r in results]),
            ("improved, n/N (%)", [f"{e.successes}/{e.n} ({100 * e.estimate:.1f}%)" for e, _ in pct]),
            ("  exact CI (%)", [_ci(100 * e.lower, 100 * e.upper, 1) for e, _ in pct]),
            ("  Wilson CI (%)", [_ci(100 * w.lower, 100 * w.upper, 1) for _, w in pct]),
        ]
        for name, cells in rows:
            table.add_row(name, *cells)
        out = console()
        out.print(table)
        out.print(f"Method: {results[0].t_test.method}; Wilcoxon: {results[0].signed_rank.method}; "
                      f"improved = after {'<' if better == 'lower' else '>'} before, Clopper-Pearson and Wilson CIs",
                      highlight=False)

    _run(action, as_json)


@app.command(name="describe")
def describe_command(
    file: Path = FILE,
    continuous: list[str] = typer.Option([], "--continuous", help="Numeric column (repeatable)."),
    categorical: list[str] = typer.Option([], "--categorical", help="Categorical column (repeatable)."),
    by: str | None = typer.Option(None, help="Column to split by."),
    digits: int = typer.Option(1, min=0, max=MAX_DIGITS, help="Decimals shown."),
    encoding: str | None = ENCODING,
    as_json: bool = JSON,
) -> None:
    """Table 1: mean ± SD and median (IQR, R type 7) for numbers, n (%) for categories; missing counted."""

    def action() -> None:
        from openidds.outcomes import describe
        from openidds.outcomes.describe import Categorical, Continuous

        if not continuous and not categorical:
            raise OpenIDDSError("columns", "none", "at least one --continuous or --categorical column")
        frame = read_table(file, encoding=encoding)
        _columns(frame, *continuous, *categorical, *([by] if by else []))
        table = describe(frame, continuous=continuous, categorical=categorical, by=by)
        if as_json:
            _emit({"file": str(file), "analysis": "describe", **table.to_dict()})
            return
        out = Table(title="Descriptive statistics" + (f" by {by}" if by else ""))
        out.add_column("variable")
        for i, g in enumerate(table.groups):
            first = table.summaries[0][i]
            out.add_column(f"{g} (n = {first.n + first.n_missing})", justify="right")
        for per_group in table.summaries:
            first = per_group[0]
            counted = [s for s in per_group if isinstance(s, Categorical)]
            numbers = [s for s in per_group if isinstance(s, Continuous)]
            if isinstance(first, Categorical):
                out.add_row(first.variable, *[""] * len(per_group))
                for level in first.levels:
                    out.add_row(f"  {level}", *[s.n_percent(level, digits) for s in counted])
            else:
                out.add_row(f"{first.variable}, mean ± SD", *[s.mean_sd(digits) for s in numbers])
                out.add_row(f"{first.variable}, median (IQR)", *[s.median_iqr(digits) for s in numbers])
            missing = [s.n_missing for s in per_group]
            if any(missing):
                out.add_row("  missing", *[str(m) for m in missing])
        console().print(out)
        console().print("Values are mean ± SD, median (IQR, R type-7 quartiles) or n (%); % of non-missing rows.",
                      highlight=False)

    _run(action, as_json)

