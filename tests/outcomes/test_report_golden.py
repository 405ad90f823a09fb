"""Each new number of the report against a hand computation on six patients (the arithmetic is in the comments)."""

import pandas as pd
import pytest

from openidds.months import DAYS_PER_MONTH
from openidds.outcomes import DataError
from openidds.outcomes.report import study_report
from openidds.outcomes.report.study import table_csv
from openidds.outcomes.report.therapy import tip_group

NAN = float("nan")


@pytest.fixture(scope="module")
def six() -> pd.DataFrame:
    """P1 dies on day 10 in hospital; P2–P4 are analysed; P5 is lost to follow-up; P6 has no baseline NRS."""
    frame = pd.DataFrame({
        "patient_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
        "os_days": [10, 200, 400, 100, 50, 300], "death": [1, 1, 0, 1, 0, 0],
        "exit_status": [1, 1, 0, 1, 1, 0],
        "exit_reason": ["death", "death", None, "death", "lost_to_follow_up", None],
        "exit_days": [10, 200, 400, 100, 50, 300],
        "baseline_nrs": [8, 8, 6, 10, 5, NAN], "last_nrs": [NAN, 4, 5, 7, NAN, 3],
        "baseline_ome_mg_per_day": [300, 200, 0, 120, 50, NAN], "last_ome_mg_per_day": [NAN, 100, 0, 30, NAN, 80],
        "last_opioid_change": [None, "reduced", "stopped", "stopped", None, "unchanged"],
        "complications": ["2:postdural_puncture_headache:2:medical;5:fever:1:none", "45:infection:3:explant", "none",
                          "10:fever:2:medical;200:catheter_migration:3:revision", None, "none"],
        "reoperations": ["none", "45:infection", "none", "200:catheter_migration;250:replacement", None, "none"],
        "postop_stay_days": [12, 3, 5, 4, 2, NAN],
        "satisfaction": [None, "satisfied", "dissatisfied", "very_satisfied", None, "very_dissatisfied"],
        "satisfaction_respondent": [None, "patient", "family", "family", None, "patient"],
        "dissatisfaction_reason": [None, None, "refill_burden", None, None, "poor_pain_control"],
        "adl_score": [50, 70, 59, 80, NAN, 60], "wheelchair_or_cart": [1, 0, 1, NAN, 0, 0],
        "metastasis_sites": ["bone;liver", "none", "bone", None, "liver", "none"],
        "cancer_duration_months": [24, 12, 48, 6, 36, NAN],
        "hospital_charge": [100, 200, 300, NAN, NAN, NAN], "currency": ["CNY"] * 6,
        "catheter_tip_level": ["T4", "T6", "T9/10", "T10", "L1", "C7"],
        "screening_trials": [0, 1, 1, 2, 3, 1],
        "start_doses_mg_per_day": ["morphine:1", "bupivacaine:4;morphine:2", "hydromorphone:0.2", "morphine:3", None,
                                   "hydromorphone:0.4"],
        "implant_year": [2021, 2021, 2022, 2023, 2023, 2023],
    })
    frame.index = pd.RangeIndex(1, 7)
    return frame


@pytest.fixture(scope="module")
def built(six):
    return study_report(six)


def _section(built, key):
    return next(s for s in built.sections if s.key == key)


def _rows(table) -> dict[str, tuple[str, ...]]:
    return {r.cells[0]: r.cells[1:] for r in table.rows}


def test_flow_counts_each_patient_left_out_once_and_the_follow_up_rate(built):
    flow = _section(built, "flow")
    # analysed: P2, P3, P4 (baseline and last NRS) = 3 of 6 = 50.0%
    assert flow.results["analysed"] == 3 and flow.results["follow_up_rate"] == 0.5
    assert flow.results["left_out"] == {"died within 30 days of the implant": 1, "no baseline NRS": 1,
                                        "follow-up ended without a follow-up NRS: lost to follow up": 1}
    assert "a follow-up rate of 50.0%" in flow.blocks[0].text


def test_responders_count_falls_of_30_and_50_percent_and_2_points(built):
    responders = _section(built, "pain").results["responders"]["last_nrs"]
    # falls: P2 8→4 (4, 50%), P3 6→5 (1, 17%), P4 10→7 (3, 30%)
    assert [responders[k]["successes"] for k in ("fall_30_percent", "fall_50_percent", "fall_2_points")] == [2, 1, 2]
    assert all(r["n"] == 3 for r in responders.values())
    trajectory = _section(built, "pain").results["trajectory"]
    assert trajectory["labels"] == ["Baseline", "Last follow-up"] and trajectory["n"] == [5, 4]
    assert trajectory["mean"] == [pytest.approx(37 / 5), pytest.approx(19 / 4)]


def test_opioid_reduction_stopped_reduced_and_below_100_mg(built):
    results = _section(built, "opioids").results
    # % reduction where baseline > 0 and a last value: P2 200→100 = 50%, P4 120→30 = 75%; type-7 quartiles
    assert results["ome_reduction_percent"] == {"median": 62.5, "q1": 56.25, "q3": 68.75, "n": 2}
    assert (results["below_100_mg_ome"]["successes"], results["below_100_mg_ome"]["n"]) == (3, 4)  # 0, 30, 80
    assert (results["stopped_last"]["successes"], results["stopped_or_reduced"]["successes"]) == (2, 3)
    assert results["stopped_or_reduced"]["n"] == 4
    rows = _rows(_section(built, "opioids").tables[0])
    assert rows["Reduction of systemic OME, % of baseline, median (IQR)"] == ("62 (56–69)", "4")


def test_complications_as_events_and_patients_early_late_and_by_grade(built):
    section = _section(built, "complications")
    adverse = section.results["adverse_events"]
    # 5 events in P1 (2), P2 (1), P4 (2); P5 has no record, so n = 5
    assert (adverse["events"], adverse["patients"], adverse["n"], adverse["unrecorded"]) == (5, 3, 5, 1)
    assert adverse["early"] == {"events": 3, "patients": 2}  # days 2, 5 (P1) and 10 (P4)
    assert adverse["by_kind"]["fever"] == {"events": 2, "patients": 2}
    assert adverse["by_grade"] == {1: {"events": 1, "patients": 1}, 2: {"events": 2, "patients": 2},
                                   3: {"events": 2, "patients": 2}, 4: {"events": 0, "patients": 0},
                                   5: {"events": 0, "patients": 0}}
    rows = _rows(section.tables[0])
    assert rows["All complications"] == ("5", "3 (60.0%)", "3 / 2", "2 / 2", "2 / 2")
    assert "5 adverse events were recorded in 3 of 5 patients (60.0%)" in section.blocks[1].text
    reoperations = section.results["reoperations"]
    assert (reoperations["events"], reoperations["patients"], reoperations["n"]) == (3, 2, 5)
    assert reoperations["by_reason"] == {"catheter_migration": 1, "infection": 1, "replacement": 1}


def test_thirty_day_and_in_hospital_mortality(built):
    results = _section(built, "complications").results
    # P1 died on day 10, before discharge on day 12; P6 has no recorded stay
    assert (results["died_within_30_days"], results["in_hospital_deaths"], results["n_with_stay"]) == (1, 1, 5)


def test_satisfaction_by_respondent_and_reasons_for_dissatisfaction(built):
    results = _section(built, "satisfaction").results
    assert (results["satisfied"]["successes"], results["satisfied"]["n"]) == (2, 4)
    by = results["satisfied_by_respondent"]
    assert [(by[who]["successes"], by[who]["n"]) for who in ("patient", "family")] == [(1, 2), (1, 2)]
    assert results["dissatisfaction_reason"]["counts"] == [1, 1, 0, 0]  # poor control, refill burden


def test_table_one_thresholds_flags_lists_durations_and_costs(built):
    results = _section(built, "cohort").results["baseline"]
    assert results["adl_below_60"] == {"yes": 2, "n": 5, "n_missing": 1}  # 50 and 59
    assert results["baseline_ome_above_200"]["yes"] == 1 and results["baseline_ome_above_500"]["yes"] == 0
    assert results["wheelchair_or_cart"] == {"yes": 2, "n": 5, "n_missing": 1}
    assert results["metastasis_sites"] == {"any": 3, "n": 5, "n_missing": 1, "counts": {"bone": 2, "liver": 2}}
    rows = _rows(_section(built, "cohort").tables[0])
    assert rows["Cancer diagnosis to implant, months, median (IQR)"] == ("24.0 (12.0–36.0)", "1")
    assert rows["Total hospital charge, CNY, mean ± SD"] == ("200\u00a0±\u00a0100", "3")  # no-break spaces
    assert rows["Metastasis sites: any, n (%)"] == ("3 (60.0%)", "1")
    assert rows["ECOG performance status"] == ("not recorded", "column ecog absent")


def test_follow_up_is_the_survivors_observation_time(built):
    follow = _section(built, "cohort").results["follow_up"]["survivors_observation_months"]
    # survivors P3, P5, P6: 400, 50, 300 days; median 300 d, quartiles 175 d and 350 d
    assert follow["median"] == pytest.approx(300 / 30.4375) and follow["q1"] == pytest.approx(175 / 30.4375)
    assert "followed for a median of 9.86 months (IQR 5.75–11.50)" in _section(built, "cohort").blocks[0].text


def test_table_two_tip_groups_trials_doses_and_years(built):
    results = _section(built, "therapy").results
    assert dict(zip(results["catheter_tip_level"]["levels"], results["catheter_tip_level"]["counts"],
                    strict=True)) == {"cervical": 1, "T1–T5": 1, "T6–T9": 2, "T10 and below": 2, "other": 0}
    assert results["screening_trials"]["counts"] == [1, 3, 2]  # 0, 1, 2 or more
    assert results["start_dose_morphine"]["mean"] == 2.0 and results["start_dose_morphine"]["sd"] == 1.0
    assert results["start_dose_hydromorphone"]["n"] == 2
    assert results["implant_year"]["counts"] == [2, 1, 3]
    assert [tip_group(level) for level in ("T5", "T5/6", "T10/11", "S1", "X")] == \
        ["T1–T5", "T1–T5", "T10 and below", "T10 and below", "other"]


def test_summary_paragraph_and_csv_tables(built):
    summary = built.sections[0].blocks[0].text
    assert summary.startswith("6 patients were implanted; 3 died during follow-up. 3 had a baseline and a follow-up "
                              "pain score (follow-up rate 50.0%).")
    assert "5 adverse events occurred in 3 patients. 1 died within 30 days of the implant." in summary
    flow = _section(built, "flow").tables[0]
    lines = table_csv(flow).decode().splitlines()
    assert lines[:3] == [f'"{flow.title}"' if "," in flow.title else flow.title, "Patients,n", "Implanted,6"]
    assert "  died within 30 days of the implant,1" in lines


def test_a_misspelled_column_is_named_in_a_warning(six):
    warnings = study_report(six.rename(columns={"postop_stay_days": "postop_stay_day"})).warnings
    hit = [w for w in warnings if w.startswith("column postop_stay_days ")]
    assert hit == ["column postop_stay_days (Post-operative stay, days; Table 2) is not in the dataset, so it is "
                   "reported as not recorded; the dataset has 'postop_stay_day': rename it to postop_stay_days if "
                   "that is the same thing"]


def test_a_malformed_list_is_refused_naming_column_and_row(six):
    bad = six.copy()
    bad.loc[3, "complications"] = "day3:fever:2:medical"
    with pytest.raises(DataError, match="complications") as refused:
        study_report(bad)
    assert refused.value.rows == [3]


def test_csv_tables_never_hold_a_cell_a_spreadsheet_would_run(built):
    """Every table's CSV quotes a cell that starts like a formula (a negative difference such as '-0.26 (...)'),
    per OWASP's CSV-injection rule; other cells are written as they are."""
    import csv
    import io

    from openidds.outcomes.report.document import Row, Table

    for table in built.tables:
        for row in csv.reader(io.StringIO(table_csv(table).decode())):
            assert not [cell for cell in row if cell.startswith(("=", "+", "-", "@", "\t", "\r"))], table.title
    made = Table("EQ-5D", ("Outcome", "Baseline − follow-up"), (Row(("EQ-5D index", "-0.26 (-0.34 to -0.18)")),
                                                                Row(("=cmd", "0.10"))), number=9)
    assert table_csv(made).decode().splitlines()[2:] == ["EQ-5D index,'-0.26 (-0.34 to -0.18)", "'=cmd,0.10"]


def test_the_patients_reached_by_telephone_and_their_time_to_death_or_last_contact(six):
    """A study that follows by telephone: P2, P3 and P6 reached (3 of 6 = 50.0%); their days to death or last
    contact 200, 400, 300: median 300 days = 9.86 months, IQR 250–350 days (R type 7)."""
    flow = _section(study_report(six.assign(telephone_contacts=[0, 2, 1, 0, 0, 3])), "flow")
    assert (flow.results["telephone_contacted"], flow.results["telephone_contact_rate"]) == (3, 0.5)
    months = flow.results["telephone_contacted_death_or_last_contact_months"]
    assert (months["median"], months["q1"], months["q3"]) == pytest.approx(
        (300 / DAYS_PER_MONTH, 250 / DAYS_PER_MONTH, 350 / DAYS_PER_MONTH))
    assert "3 were reached by telephone at least once after the implant, a telephone follow-up rate of 50.0%" \
        in flow.blocks[0].text
    assert _rows(flow.tables[0])["Reached by telephone at least once after the implant"] == ("3",)
    assert flow.results["follow_up_rate"] == 0.5  # the analysed patients' rate is still given


def test_no_telephone_contact_adds_nothing_to_the_flow(built, six):
    flow, without = _section(study_report(six.assign(telephone_contacts=0)), "flow"), _section(built, "flow")
    assert flow.results == without.results and flow.blocks[0].text == without.blocks[0].text
