"""The patient page's plot: the programmed daily dose of each drug (left axis, mg/day) and the NRS at each visit
(right axis, 0-10) over time, with the refill discrepancies (mL) and their limits in a small panel below, drawn by
matplotlib as SVG on the server (no display, no pyplot state). The same series gives the same bytes (fixed SVG
hash salt, no date), so the image can be cached and compared.

The layout is fixed (:data:`_MARGINS`, with room above the axes for as many legend rows as the plot has), not
computed by matplotlib's constrained layout at every draw, which took a fifth of a draw's CPU time: the figure
is always the same size with the same labels, and what varies (the width of the dose axis's numbers, the legend's
rows) is placed by matplotlib's own axis-label and legend placement, the saved image cropped to its content."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict

from matplotlib import dates as mdates
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from starlette.responses import Response

from openidds.clinic.patient_series import DoseStep, PatientSeries
from openidds.outcomes.figures import render

PLOT_VERSION = 2
"""Changed whenever the drawing changes, so a browser's cached plot (its ETag) is not reused."""
_DOSE_COLOURS = ("#1b6ca8", "#2e8b57", "#8e44ad", "#d68910", "#555555")
_NRS_COLOUR = "#c0392b"
_FLAGGED = "#c0392b"
_WIDTH_IN, _HEIGHT_IN = 9.0, 4.6
_MARGINS = {"left": 0.089, "right": 0.943, "bottom": 0.103, "hspace": 0.104}
"""The axes' place in the figure (fractions of its width and height), as constrained layout placed them."""
_LEGEND_COLUMNS = 4
_TOP_UNDER_ONE_LEGEND_ROW = 0.872
"""The top of the upper axes under a legend of one row (below the title)."""
_LEGEND_ROW = 0.034
"""The height of each further legend row (8-point text), as a fraction of the figure's height."""
DRAWN_KEPT = 64
"""How many plots a server process keeps drawn, by ETag (each some 60 kB), for the next browser that asks."""
_drawn: OrderedDict[str, bytes] = OrderedDict()
_drawn_lock = threading.Lock()


def _wall(at: dt.datetime | dt.date) -> dt.datetime:
    """A moment's wall time where it was written (the clinic's zone), or a date's midnight."""
    return at.replace(tzinfo=None) if isinstance(at, dt.datetime) else dt.datetime.combine(at, dt.time())


def _day(at: dt.datetime | dt.date) -> float:
    """A moment's wall time as matplotlib's date number (days), the x of every mark."""
    return float(mdates.date2num(_wall(at)))


def _span(series: PatientSeries) -> tuple[dt.datetime, dt.datetime]:
    """The time axis: from the first to the last record, never shorter than a week."""
    moments = [_wall(s.start) for s in series.doses] + [_wall(d.at) for d in series.discrepancies]
    moments += [_wall(p.on) for p in series.pain]
    first = min(moments)
    last = max([*moments, _wall(series.through or first)])
    if last - first < dt.timedelta(days=7):
        last = first + dt.timedelta(days=7)
    return first, last


def _doses(ax: Axes, series: PatientSeries, last: dt.datetime) -> list[Artist]:
    """Each drug's steps: solid for a continuous program, dashed for a flex or periodic one (its worst 24 hours),
    joined where one step follows another; returns the legend's handles."""
    handles: list[Artist] = []
    for colour, drug in zip(_DOSE_COLOURS * 4, series.drugs, strict=False):
        steps: list[DoseStep] = [s for s in series.doses if s.drug == drug]
        previous: DoseStep | None = None
        for step in steps:
            end = _wall(step.end) if step.end else last
            ax.plot([_day(step.start), _day(end)], [step.dose_mg_per_day] * 2, color=colour, linewidth=2,
                    linestyle="-" if step.continuous else "--")
            if previous is not None and previous.end == step.start:
                ax.plot([_day(step.start)] * 2, [previous.dose_mg_per_day, step.dose_mg_per_day], color=colour,
                        linewidth=1)
            previous = step
        handles.append(Line2D([], [], color=colour, linewidth=2, label=f"{drug} (mg/day)"))
    if any(not s.continuous for s in series.doses):
        handles.append(Line2D([], [], color="#555555", linewidth=2, linestyle="--",
                              label="flex or periodic: worst 24 h"))
    return handles


def _nrs(ax: Axes, series: PatientSeries) -> list[Artist]:
    twin = ax.twinx()
    twin.set_ylim(-0.3, 10.3)
    twin.set_yticks(range(0, 11, 2))
    twin.set_ylabel("NRS pain score (0-10)", color=_NRS_COLOUR)
    twin.tick_params(axis="y", colors=_NRS_COLOUR)
    if not series.pain:
        return []
    (line,) = twin.plot([_day(p.on) for p in series.pain], [p.nrs for p in series.pain], color=_NRS_COLOUR,
                        marker="o", linewidth=1.2, label="NRS at a visit")
    return [line]


def _discrepancies(ax: Axes, series: PatientSeries, last: dt.datetime) -> list[Artist]:
    """Each refill's discrepancy (red over its limit, ringed where the trend is flagged) and the limits, drawn on
    from each refill to the next (a replacement pump may have another); returns the legend's handles."""
    points = series.discrepancies
    ax.axhline(0, color="#999999", linewidth=0.8)
    if points:
        ats = [_day(p.at) for p in [*points, points[-1]]]
        ats[-1] = _day(last)
        limits = [p.limit_ml for p in [*points, points[-1]]]
        handles: list[Artist] = []
        handles += ax.step(ats, limits, where="post", color="#555555", linestyle=":", linewidth=1,
                           label="discrepancy limit (± mL)")
        ax.step(ats, [-x for x in limits], where="post", color="#555555", linestyle=":", linewidth=1)
        for flagged, label in ((False, "within the limit"), (True, "over the limit")):
            chosen = [p for p in points if p.flagged == flagged]
            if chosen:
                handles.append(ax.scatter([_day(p.at) for p in chosen], [p.discrepancy_ml for p in chosen], s=22,
                                          zorder=3, color=_FLAGGED if flagged else "#1b6ca8",
                                          label=f"discrepancy {label}"))
        trend = [p for p in points if p.trend]
        if trend:
            handles.append(ax.scatter([_day(p.at) for p in trend], [p.discrepancy_ml for p in trend], s=90,
                                      facecolors="none", edgecolors=_FLAGGED, linewidths=1.2, zorder=4,
                                      label="discrepancy trend flagged"))
        top = max(max(abs(p.discrepancy_ml) for p in points), max(limits)) * 1.3
        ax.set_ylim(-top, top)
    else:
        handles = []
        ax.text(0.5, 0.5, "no refill with both residuals recorded", transform=ax.transAxes, ha="center",
                va="center", fontsize=8, color="#555555")
    ax.set_ylabel("refill\ndiscrepancy (mL)", fontsize=8)
    return handles


def patient_figure(series: PatientSeries) -> Figure:
    """The figure of ``series``; a patient with nothing to draw gets a figure that says so."""
    if series.empty:
        figure = Figure(figsize=(_WIDTH_IN, 1.0))
        figure.text(0.5, 0.5, series.summary(), ha="center", va="center", fontsize=10)
        return figure
    figure = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    first, last = _span(series)
    handles = _doses(top, series, last)
    if not series.doses:
        top.text(0.5, 0.5, "no pump program recorded", transform=top.transAxes, ha="center", va="center",
                 fontsize=9, color="#555555")
    top.set_ylabel("programmed daily dose (mg/day)")
    top.set_ylim(bottom=0, top=max([s.dose_mg_per_day for s in series.doses] + [0.1]) * 1.15)
    handles += _nrs(top, series)
    if not series.pain:
        top.text(0.5, 0.9, "no NRS recorded", transform=top.transAxes, ha="center", fontsize=9, color=_NRS_COLOUR)
    handles += _discrepancies(bottom, series, last)
    top.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=_LEGEND_COLUMNS, fontsize=8,
               frameon=False)
    rows = max(1, -(-len(handles) // _LEGEND_COLUMNS))
    figure.subplots_adjust(top=_TOP_UNDER_ONE_LEGEND_ROW - (rows - 1) * _LEGEND_ROW, **_MARGINS)
    top.grid(axis="x", alpha=0.3)
    figure.suptitle(f"{series.label}: programmed dose and pain", fontsize=11)
    margin = (last - first) * 0.02
    bottom.set_xlim(_day(first - margin), _day(last + margin))
    locator = mdates.AutoDateLocator(maxticks=10)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    bottom.set_xlabel(f"date (time zone {series.zone})")
    bottom.grid(axis="x", alpha=0.3)
    return figure


def patient_svg(series: PatientSeries) -> bytes:
    """The plot of ``series`` as SVG bytes; identical series give identical bytes."""
    return render(patient_figure(series), "svg")


def _svg_tagged(tag: str, series: PatientSeries) -> bytes:
    """The plot of ``series`` (whose digest is ``tag``): drawn, or as drawn for the same tag before; the
    :data:`DRAWN_KEPT` plots asked for last are kept."""
    with _drawn_lock:
        if tag in _drawn:
            _drawn.move_to_end(tag)
            return _drawn[tag]
    svg = patient_svg(series)
    with _drawn_lock:
        _drawn[tag] = svg
        while len(_drawn) > DRAWN_KEPT:
            _drawn.popitem(last=False)
    return svg


def plot_response(series: PatientSeries, if_none_match: str | None) -> Response:
    """The plot as an ``image/svg+xml`` answer whose ETag is the series' digest: a browser holding the same plot
    gets 304, and another asking for a plot this process drew lately gets its bytes: neither is drawn again."""
    digest = json.dumps([PLOT_VERSION, series.to_dict()], sort_keys=True).encode()
    tag = f'"{hashlib.sha256(digest).hexdigest()[:32]}"'
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if if_none_match == tag:
        return Response(status_code=304, headers=headers)
    return Response(_svg_tagged(tag, series), media_type="image/svg+xml", headers=headers)
