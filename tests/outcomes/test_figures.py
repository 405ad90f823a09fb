"""Figures: deterministic bytes in PNG and SVG, from real fits of the shipped datasets."""

import numpy as np
import pytest

from openidds.errors import OpenIDDSError
from openidds.outcomes import cumulative_incidence, kaplan_meier, paired_comparison
from openidds.outcomes.figures import (
    HEADROOM,
    cumulative_incidence_figure,
    kaplan_meier_figure,
    month_ticks,
    paired_figure,
    render,
)

PRE = [8, 7, 9, 6, 8, 7, 10, 9, 8, 7, 6, 9, 8, 7, 8, 9, 7, 8, 6, 9]
POST = [4, 5, 6, 6, 3, 4, 5, 7, 8, 3, 4, 5, 2, 7, 4, 6, 5, 3, 6, 4]


def _km(aml):
    fits = {str(g): kaplan_meier(rows.time, rows.status) for g, rows in aml.groupby("x")}
    return kaplan_meier_figure(fits, risk_times=[0, 40, 80, 120, 160], time_label="Weeks")


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_same_data_gives_identical_files(aml, bmt, fmt):
    cif = {"TRM": cumulative_incidence(bmt.ftime, bmt.status, 1),
           "Relapse": cumulative_incidence(bmt.ftime, bmt.status, 2)}
    for build in (lambda: _km(aml), lambda: cumulative_incidence_figure(cif),
                  lambda: paired_figure(PRE, POST, paired_comparison(PRE, POST))):
        assert render(build(), fmt) == render(build(), fmt)


def test_formats_and_content(aml):
    png = render(_km(aml), "png")
    svg = render(_km(aml), "svg").decode()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert svg.lstrip().startswith("<?xml") and "<dc:date>" not in svg
    other = render(kaplan_meier_figure({"all": kaplan_meier(aml.time, aml.status)}, risk_times=[0, 50]), "svg")
    assert other.decode() != svg


def test_numbers_at_risk_are_drawn(aml):
    figure = _km(aml)
    table = figure.axes[1]
    drawn = [t.get_text() for t in table.texts]
    assert drawn[:5] == ["11", "3", "1", "1", "1"] and drawn[5:] == ["12", "2", "0", "0", "0"]


def test_bad_requests_refused(aml):
    with pytest.raises(OpenIDDSError, match="format"):
        render(_km(aml), "pdf")
    with pytest.raises(OpenIDDSError, match="at least one"):
        kaplan_meier_figure({}, risk_times=[0])


@pytest.mark.parametrize(("last", "ticks"), [
    (12, [0, 3, 6, 9, 12]), (10.5, [0, 3, 6, 9]), (0.4, [0, 3]), (24, [0, 3, 6, 9, 12, 15, 18, 21, 24]),
    (28.9, [0, 6, 12, 18, 24]), (48, [0, 6, 12, 18, 24, 30, 36, 42, 48]), (100, [0, 24, 48, 72, 96]),
    (400, [0, 60, 120, 180, 240, 300, 360]),
])
def test_month_ticks_fall_on_3_6_and_12_months(last, ticks):
    assert month_ticks(last) == ticks


def test_month_ticks_refuse_a_bad_request():
    with pytest.raises(OpenIDDSError, match="last_month"):
        month_ticks(float("nan"))
    with pytest.raises(OpenIDDSError, match="max_ticks"):
        month_ticks(12, max_ticks=1)


def _rare():
    """A cause with a low incidence: 5 events among 100 patients, 20 competing deaths, the rest censored."""
    status = np.zeros(100, dtype=int)
    status[[3, 10, 20, 30, 40]] = 1
    status[50:70] = 2
    return {"Complication": cumulative_incidence(np.arange(1.0, 101.0), status, 1)}


def test_incidence_axis_fits_the_curves_with_headroom():
    fits = _rare()
    fit = fits["Complication"]
    ax = cumulative_incidence_figure(fits).axes[0]
    highest = max(float(fit.incidence.max()), float(np.nanmax(fit.upper)))
    bottom, top = ax.get_ylim()
    assert bottom == 0 and highest * HEADROOM <= top < highest * HEADROOM + 0.05 + 1e-9
    assert round(top / 0.05, 9) == round(top / 0.05) and top < 0.5
    assert cumulative_incidence_figure(fits, y_max=1.0).axes[0].get_ylim() == (0.0, 1.0)


def test_incidence_axis_ends_at_time_max_with_the_chosen_ticks(bmt):
    fits = {"TRM": cumulative_incidence(bmt.ftime, bmt.status, 1),
            "Relapse": cumulative_incidence(bmt.ftime, bmt.status, 2)}
    figure = cumulative_incidence_figure(fits, time_max=12, time_ticks=month_ticks(12))
    panels, tables = figure.axes[0::2], figure.axes[1::2]
    assert [ax.get_title() for ax in panels] == ["TRM", "Relapse"]  # one panel per cause: bands never overlap
    shown = [f.upper[(f.time <= 12) & ~np.isnan(f.upper)] for f in fits.values()]
    for ax, table, fit in zip(panels, tables, fits.values(), strict=True):
        assert ax.get_xlim() == (0.0, 12.0)
        assert list(ax.get_xticks()) == [0, 3, 6, 9, 12]
        assert ax.get_ylim()[1] >= HEADROOM * max(float(s.max()) for s in shown)
        assert len(ax.get_lines()) == 1
        assert [t.get_text() for t in table.texts] == [str(n) for n in fit.at([0, 3, 6, 9, 12]).n_risk]


@pytest.mark.parametrize(("options", "field"), [({"y_max": 0}, "y_max"), ({"y_max": 1.5}, "y_max"),
                                                ({"time_max": 0}, "time_max"), ({"time_max": -3}, "time_max")])
def test_bad_axis_options_refused(options, field):
    with pytest.raises(OpenIDDSError, match=field):
        cumulative_incidence_figure(_rare(), **options)
