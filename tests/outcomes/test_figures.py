"""Figures: deterministic bytes in PNG and SVG, from real fits of the shipped datasets."""

import pytest

from openidds.errors import OpenIDDSError
from openidds.outcomes import cumulative_incidence, kaplan_meier, paired_comparison
from openidds.outcomes.figures import cumulative_incidence_figure, kaplan_meier_figure, paired_figure, render

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
