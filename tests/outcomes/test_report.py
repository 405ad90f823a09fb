"""The study report: section order, numbers equal to the estimators, omitted sections, refusals, identical bytes."""

import base64
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from tests.outcomes.synthetic_cohort import synthetic_cohort

from openidds.errors import OpenIDDSError
from openidds.months import DAYS_PER_MONTH
from openidds.outcomes import DataError, cumulative_incidence, describe_categorical, kaplan_meier, paired_comparison
from openidds.outcomes.figures import HEADROOM
from openidds.outcomes.report import COLUMNS, Paragraph, ReportFigure, Row, Table, study_report
from openidds.outcomes.report._format import ci, p_is, pct, pct_ci, pval
from openidds.outcomes.report.events import complications_section
from openidds.outcomes.report.pdf import BOTTOM_IN, HEIGHT_IN, _Pages
from openidds.outcomes.report.study import _canonical, _sortable

ORDER = ["summary", "flow", "cohort", "therapy", "pain", "opioids", "satisfaction", "survival", "complications",
         "exits", "data"]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return synthetic_cohort(193, seed=3)


@pytest.fixture(scope="module")
def report(cohort):
    return study_report(cohort)


@pytest.fixture(scope="module")
def files(report):
    return report.files()


@pytest.fixture(scope="module")
def text(files) -> str:
    """The HTML as plain text, tags removed, entities and no-break spaces resolved."""
    html = files["report.html"].decode("utf-8")
    return unescape(re.sub(r"<[^>]+>", " ", html)).replace("\u00a0", " ")


def test_same_data_in_any_row_order_gives_identical_files(cohort, files):
    shuffled = cohort.sample(frac=1.0, random_state=7).reset_index(drop=True)
    again = study_report(shuffled).files()
    assert list(again) == list(files)
    for name in files:
        assert again[name] == files[name], name


def _every_column_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical order by its definition: site, patient, then every contract column."""
    keys = ["site", "patient_id"]
    keys += [c.name for c in COLUMNS if c.name in frame and c.name not in keys]
    return frame.sort_values(keys, kind="mergesort", na_position="last", key=_sortable)


@pytest.mark.parametrize("repeated", [0, 5])
def test_the_canonical_order_is_by_site_patient_then_every_column(cohort, repeated):
    """One row per patient is ordered by site and patient alone; rows repeating a patient (5 patients twice,
    their copies changed in a contract column) by every column after them, as the definition says."""
    copies = cohort.head(repeated).assign(age_at_implant_years=lambda f: f["age_at_implant_years"] - 1)
    frame = pd.concat([cohort, copies]).sample(frac=1.0, random_state=3).reset_index(drop=True)
    ordered = _canonical(frame)
    pd.testing.assert_frame_equal(ordered, _every_column_order(frame))
    assert list(ordered.index) == list(_every_column_order(frame).index)


def test_files_are_the_report_each_figure_as_png_and_svg_and_each_table_as_csv(report, files):
    stems = [f.stem for f in report.figures]
    assert stems == ["figure-1-nrs-before-after", "figure-2-nrs-trajectory", "figure-3-overall-survival",
                     "figure-4-cumulative-incidence"]
    expected = {"report.html", "report.pdf", "report.json"}
    expected |= {f"figures/{s}.{x}" for s in stems for x in ("png", "svg")}
    expected |= {f"tables/table-{t.number:02d}.csv" for t in report.tables}
    assert set(files) == expected and list(files) == sorted(files)
    for figure in report.figures:
        assert files[f"figures/{figure.stem}.png"].startswith(b"\x89PNG\r\n\x1a\n")
        svg = files[f"figures/{figure.stem}.svg"].decode()
        assert svg.lstrip().startswith("<?xml") and "<dc:date>" not in svg


def test_pdf_has_no_dates_and_holds_every_figure(report, files):
    pdf = files["report.pdf"]
    assert pdf.startswith(b"%PDF-") and b"/CreationDate" not in pdf and b"/ModDate" not in pdf
    assert b"/Title (Intrathecal drug delivery for cancer pain: results)" in pdf
    assert pdf.count(b"/Subtype /Image") >= len(report.figures)
    assert len(re.findall(rb"/Type /Page\b", pdf)) >= 4


def test_sections_follow_a_results_section(report, files):
    assert [s.key for s in report.sections] == ORDER
    html = files["report.html"].decode()
    positions = [html.index(f'<section id="{key}">') for key in ORDER]
    assert positions == sorted(positions)
    assert [t.number for t in report.tables] == list(range(1, len(report.tables) + 1))
    assert html.index("Table 1.") < html.index("Figure 1.") < html.index("Figure 2.") < html.index("Figure 3.")


def test_html_is_self_contained_and_shows_the_svg_figures(report, files):
    html = files["report.html"].decode()
    assert "<script" not in html and "<link" not in html and "@import" not in html
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == len(report.figures)
    for source, figure in zip(sources, report.figures, strict=True):
        prefix = "data:image/svg+xml;base64,"
        assert source.startswith(prefix) and base64.b64decode(source[len(prefix):]) == figure.svg


def test_survival_numbers_are_the_kaplan_meier_estimates(cohort, report, text):
    fit = kaplan_meier(cohort.os_days / DAYS_PER_MONTH, cohort.death)
    section = report.sections[ORDER.index("survival")]
    assert section.results == fit.to_dict([3, 6, 12])
    median = fit.median
    assert f"Median overall survival from implant was {median.time:.2f} months (95% CI " \
           f"{ci(median.lower, median.upper)})" in text
    at = fit.at([3, 6, 12])
    for t, n, s, lo, up in zip(at.time, at.n_risk, at.survival, at.lower, at.upper, strict=True):
        assert f"{t:g} {n} {at.n_event[list(at.time).index(t)]} {pct(s)} {pct_ci(lo, up)}" in " ".join(text.split())
    assert "Greenwood variance, log 95% CI" in text


def test_one_year_incidence_with_death_competing(cohort, report, text):
    section = report.sections[ORDER.index("complications")]
    incidence = section.results["cumulative_incidence"]
    for prefix, label in (("complication", "Any complication"), ("severe_complication", "Severe complication "
                                                                                         "(grade ≥ 3)"),
                          ("reoperation", "Reoperation, revision or explant")):
        fit = cumulative_incidence(cohort[f"{prefix}_days"] / DAYS_PER_MONTH, cohort[f"{prefix}_status"], 1,
                                   competing=[2])
        assert incidence[label] == fit.to_dict([12])
        at = fit.at([12])
        assert f"{label.lower()} {pct(at.incidence[0])} (95% CI {pct_ci(at.lower[0], at.upper[0])})" in text
    assert "delta method" in text and "events on day 365 count" in text


def test_pain_before_and_after_is_the_paired_comparison(cohort, report, text):
    ordered = cohort.sort_values(["site", "patient_id"])  # the report's row order: sums add up in that order
    expected = paired_comparison(ordered.baseline_nrs, ordered.last_nrs, before_column="baseline_nrs",
                                 after_column="last_nrs")
    results = report.sections[ORDER.index("pain")].results
    assert results["last_nrs"] == expected.to_dict()
    t, share = expected.t_test, expected.improved_exact
    assert f"a mean fall of {t.mean_difference:.2f} points" in text
    assert f"paired t = {t.statistic:.2f}, df {t.df}, {p_is(t.p_value)}" in text
    assert f"The NRS fell in {share.successes} of {expected.n_pairs} patients ({pct(share.estimate)}; 95% CI " \
           f"{pct_ci(share.lower, share.upper)} exact Clopper–Pearson" in text
    missing_6m = int((cohort.baseline_nrs.isna() | cohort.nrs_6m.isna()).sum())
    six = paired_comparison(cohort.baseline_nrs, cohort.nrs_6m)
    assert f"Pain NRS 6 months {six.n_pairs} {missing_6m} " in " ".join(text.split())
    assert results["eq5d_index_6m"]["better"] == "higher"


def test_table_one_counts_and_missing_values(cohort, report, text):
    table = report.sections[ORDER.index("cohort")].tables[0]
    rows = {r.cells[0]: r.cells[1:] for r in table.rows}
    assert rows["Age at implant, years, mean ± SD"][1] == str(int(cohort.age_at_implant_years.isna().sum())) == "2"
    sex = describe_categorical(cohort.sex, "sex")
    for level, count in zip(sex.levels, sex.counts, strict=True):
        assert rows[level][0] == f"{count} ({pct(count / len(cohort))})"
    start = [r.cells[0] for r in table.rows].index("Cancer type, n (%)") + 1
    cancers = [r.cells[0] for r in table.rows[start:start + cohort.cancer_type.nunique()]]
    assert set(cancers) == set(cohort.cancer_type)
    counts = cohort.cancer_type.value_counts()
    assert [counts[c] for c in cancers] == sorted(counts.values, reverse=True)
    assert rows["ECOG performance status"] == ("not recorded", "column ecog absent")
    assert "Not recorded (column absent from the dataset): ecog." in text
    assert report.warnings == ("column ecog (ECOG performance status; Table 1) is not in the dataset, so it is "
                               "reported as not recorded",)


def test_satisfaction_opioids_and_exits_count_every_patient(cohort, report):
    satisfaction = report.sections[ORDER.index("satisfaction")].results
    answered = cohort.satisfaction.dropna()
    assert satisfaction["satisfied"]["successes"] == int(answered.isin(["very_satisfied", "satisfied"]).sum())
    assert satisfaction["satisfaction"]["n_missing"] == int(cohort.satisfaction.isna().sum())
    opioids = report.sections[ORDER.index("opioids")].results
    assert opioids["systemic_opioid_stopped"]["successes"] == int(cohort.systemic_opioid_stopped.sum())
    assert opioids["systemic_opioid_stopped"]["n"] == len(cohort)
    ordered = cohort.sort_values(["site", "patient_id"])
    ome = paired_comparison(ordered.baseline_ome_mg_per_day, ordered.last_ome_mg_per_day,
                            before_column="baseline_ome_mg_per_day", after_column="last_ome_mg_per_day")
    assert opioids["last_ome_mg_per_day"] == ome.to_dict()
    exits = report.sections[ORDER.index("exits")].results
    assert exits["exited"] + exits["followed"] == len(cohort)
    assert exits["reasons"]["counts"][0] == int(cohort.death.sum())


def test_a_section_without_its_columns_is_omitted_with_a_note():
    frame = synthetic_cohort(40, seed=1).drop(columns=["satisfaction", "satisfaction_respondent",
                                                       "dissatisfaction_reason", "baseline_ome_mg_per_day",
                                                       "last_ome_mg_per_day", "systemic_opioid_stopped",
                                                       "last_opioid_change",
                                                       "severe_complication_days", "severe_complication_status",
                                                       "reoperation_days", "reoperation_status"])
    built = study_report(frame)
    by_key = {s.key: s for s in built.sections}
    assert by_key["satisfaction"].omitted == "Omitted: the dataset has no satisfaction column."
    assert by_key["opioids"].omitted == ("Omitted: the dataset has no baseline_ome_mg_per_day, last_ome_mg_per_day, "
                                         "systemic_opioid_stopped, last_opioid_change columns.")
    assert not by_key["opioids"].blocks
    incidence = by_key["complications"]
    assert list(incidence.results["cumulative_incidence"]) == ["Any complication"]
    assert "severe_complication_days, severe_complication_status" in incidence.tables[-1].notes[-1]
    assert incidence.results["not_recorded"] == ["severe_complication_days", "severe_complication_status",
                                                 "reoperation_days", "reoperation_status"]
    assert len(built.warnings) == 12 and all("is not in the dataset" in w for w in built.warnings)
    contract = {r.cells[0]: r.cells[3:] for r in built.tables[-1].rows}
    assert contract["satisfaction"] == ("absent", "—") and "os_days" not in contract
    assert contract["baseline_eq5d_index"] == ("present", f"{frame.baseline_eq5d_index.isna().sum()} "
                                                          f"({pct(frame.baseline_eq5d_index.isna().mean())})")
    assert "os_days" in by_key["data"].results["complete"] and "os_days" in built.tables[-1].notes[1]
    html = built.html()
    assert "Omitted: the dataset has no satisfaction column." in html


def test_the_smallest_dataset_reports_what_it_cannot_test():
    frame = pd.DataFrame({"os_days": [30, 200, 400], "death": [1, 0, 1], "baseline_nrs": [8, 7, 9],
                          "nrs_6m": [np.nan, 3, np.nan], "last_nrs": [8, 7, 9]})
    built = study_report(frame)
    pain = built.sections[ORDER.index("pain")]
    assert pain.results["nrs_6m"] == {"n_pairs": 1, "reason": "not tested: 1 patient with both values (2 needed)"}
    assert pain.results["last_nrs"]["reason"] == "not tested: no patient's value changed"
    assert [f.slug for f in pain.figures] == ["nrs-trajectory"]  # no before/after figure without a tested pair
    assert [s.key for s in built.sections if s.omitted] == ["opioids", "satisfaction", "exits"]
    assert built.sections[ORDER.index("cohort")].results["deaths"] == 2
    baseline_only = study_report(frame[["os_days", "death", "baseline_nrs"]]).sections[ORDER.index("pain")]
    assert baseline_only.omitted == ("Omitted: the dataset has no last_nrs, nrs_3m, nrs_6m, nrs_12m, "
                                     "baseline_eq5d_index, eq5d_index_3m, eq5d_index_6m, eq5d_index_12m columns.")


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("baseline_nrs", 11, "values from 0 to 10"),
    ("death", 2, "one of 0, 1"),
    ("complication_status", 3, "one of 0, 1, 2"),
    ("satisfaction", "happy", "'very_satisfied'"),
    ("os_days", -1, ">= 0"),
])
def test_a_bad_value_is_refused_naming_column_and_row(column, value, expected):
    frame = synthetic_cohort(30, seed=2)
    frame.index = pd.RangeIndex(1, 31)
    frame[column] = frame[column].astype(object)
    frame.loc[5, column] = value
    with pytest.raises(DataError, match=expected) as refused:
        study_report(frame)
    assert refused.value.column == column and refused.value.rows == [5]


def test_bad_requests_are_refused():
    frame = synthetic_cohort(20, seed=4)
    with pytest.raises(OpenIDDSError, match="os_days"):
        study_report(frame.drop(columns=["os_days"]))
    with pytest.raises(OpenIDDSError, match="no rows"):
        study_report(frame.iloc[:0])
    with pytest.raises(OpenIDDSError, match="cif_variance"):
        study_report(frame, cif_variance="greenwood")
    stray = frame.copy()
    stray.loc[stray.exit_status == 0, "exit_reason"] = "death"
    with pytest.raises(DataError, match="exit_status is 0"):
        study_report(stray)


def test_options_reach_the_estimators():
    frame = synthetic_cohort(60, seed=5)
    built = study_report(frame, km_conf_type="log-log", cif_variance="aalen", cif_conf_type="log-log")
    assert built.sections[ORDER.index("survival")].results["method"]["conf_type"] == "log-log"
    method = built.sections[ORDER.index("complications")].results["cumulative_incidence"]["Any complication"][
        "method"]
    assert (method["variance"], method["conf_type"]) == ("aalen", "log-log")


def test_the_contract_names_each_column_once():
    names = [c.name for c in COLUMNS]
    assert len(names) == len(set(names))
    assert {c.name for c in COLUMNS if c.required} == {"os_days", "death"}
    assert set(synthetic_cohort(5).columns) - {"patient_id"} == set(names) - {"ecog"}


@pytest.mark.parametrize(("p", "shown"), [(1.331e-06, "< 0.0001"), (0.0007, "0.0007"), (0.0026, "0.0026"),
                                          (0.0312, "0.031"), (0.254, "0.25"), (float("nan"), "NA")])
def test_p_values_print_to_two_figures(p, shown):
    assert pval(p) == shown


def test_intervals_with_a_negative_limit_use_to():
    assert ci(-4.36, -3.80) == "-4.36 to -3.80" and ci(0.5, 1.25) == "0.50–1.25"


def test_a_median_follow_up_that_is_not_reached_is_said_in_words():
    """Two early censorings among 20 patients who otherwise all die: the reverse KM never reaches one half."""
    frame = pd.DataFrame({"os_days": [1, 2, *range(10, 190, 10)], "death": [0, 0, *[1] * 18]})
    cohort = study_report(frame).sections[ORDER.index("cohort")]
    assert cohort.results["follow_up"]["reverse_kaplan_meier"]["median"]["time"] is None
    text = cohort.blocks[0].text
    months = np.array([1, 2]) / DAYS_PER_MONTH
    assert (f"The 2 patients alive at their last contact were followed for a median of {np.median(months):.2f} "
            f"months (IQR {np.percentile(months, 25):.2f}–{np.percentile(months, 75):.2f})") in text
    assert "The reverse Kaplan–Meier median of potential follow-up (deaths censored) is not reached" in text
    assert "NA months" not in text


def test_the_incidence_figure_covers_the_first_year_on_a_fitted_axis(cohort):
    drawn = []

    def keep(draw, slug, caption):
        drawn.append(draw())
        return ReportFigure(slug, caption, b"", b"")

    complications_section(cohort, cohort.os_days.to_numpy(float), cohort.death.to_numpy(), "delta", "log", keep)
    ax = drawn[0].axes[0]
    assert ax.get_xlim() == (0.0, 12.0) and list(ax.get_xticks()) == [0, 3, 6, 9, 12]
    highest = 0.0
    for prefix in ("complication", "severe_complication", "reoperation"):
        fit = cumulative_incidence(cohort[f"{prefix}_days"] / DAYS_PER_MONTH, cohort[f"{prefix}_status"], 1,
                                   competing=[2])
        highest = max(highest, float(np.nanmax(fit.upper[fit.time <= 12])))
    assert HEADROOM * highest <= ax.get_ylim()[1] < HEADROOM * highest + 0.05 + 1e-9 < 1


def test_a_heading_moves_to_the_next_page_with_the_table_it_introduces():
    table = Table("Column contract", ("Column", "Missing"), tuple(Row((f"c{i}", "0")) for i in range(12)))
    pages = _Pages()
    pages.y = HEIGHT_IN - BOTTOM_IN - 2.0  # 2 inches left: room for a heading, not for the table
    pages.heading("8. Data completeness", keep=pages.start_height(table))
    assert len(pages.pages) == 2 and [t.get_text() for t in pages.pages[1].texts] == ["8. Data completeness"]
    short = _Pages()
    short.y = HEIGHT_IN - BOTTOM_IN - 2.0
    short.heading("4. Satisfaction", keep=short.start_height(Paragraph("Text.")))
    assert len(short.pages) == 1


def test_a_figure_that_does_not_fit_floats_to_the_next_page_while_text_fills_this_one(report):
    figure = report.figures[0]
    pages = _Pages()
    pages.y = HEIGHT_IN - BOTTOM_IN - 1.0  # 1 inch left: room for text, not for the figure
    pages.image(figure)
    pages.text("The paragraph after the figure.")
    assert len(pages.pages) == 1 and pages.floating == [figure]
    assert [t.get_text() for t in pages.pages[0].texts] == ["The paragraph after the figure."]
    pages.finish()
    assert len(pages.pages) == 2 and pages.floating == [] and len(pages.pages[1].axes) == 1
    assert figure.title.startswith(pages.pages[1].texts[0].get_text())  # the caption, wrapped

