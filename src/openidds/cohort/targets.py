"""Measuring a study's targets on a registry, through the same path as ``openidds report --db``.

The registry gives the analysis dataset (:func:`openidds.clinic.analysis_dataset`), the dataset gives the study
report (:func:`openidds.outcomes.report.study_report`), and each target is read from the report's ``results``
(the estimates ``report.json`` holds). A target the report does not estimate yet is listed by
:func:`unmeasured` with the reason; :func:`measure` never leaves a target out silently. A measurable target
whose estimate does not exist in this registry (a median survival not reached, a section the dataset cannot
fill) is measured as NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from openidds.clinic import analysis_dataset, connect, require_current
from openidds.cohort.study import FollowUpCounted, Metric, Study
from openidds.errors import OpenIDDSError
from openidds.outcomes.report import study_report

Results = Mapping[str, Any]
"""The report's results by section key (``{section.key: section.results}``)."""

REPORT_TITLE = "Synthetic virtual cohort (simulated patients, not study results)"
_MONTH = 12.0  # the 1-year incidences are read at 12 months
_EXACT = "exact Clopper-Pearson"


class _Missing(Exception):
    """The report holds no estimate at this place (the target is measured as NaN)."""


def _at(results: Results, *path: str | int) -> Any:
    node: Any = results
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            raise _Missing from None
    if node is None:
        raise _Missing
    return node


def _number(results: Results, *path: str | int) -> float:
    return float(_at(results, *path))


def _value(*path: str | int, scale: float = 1.0) -> Callable[[Results], float]:
    return lambda r: _number(r, *path) * scale


def _patients(node: Mapping[str, Any], of_all: bool) -> int:
    """A share's denominator: the patients with a value, or every patient (those without one too)."""
    return int(node["n"]) + (int(node["n_missing"]) if of_all else 0)


def _yes(variable: str, of_all: bool = False) -> Callable[[Results], float]:
    """Share of patients with a yes/no baseline characteristic: of the patients with a value, or of every patient
    when ``of_all`` (as when the paper divides by its whole cohort)."""
    def read(r: Results) -> float:
        node = _at(r, "cohort", "baseline", variable)
        total = _patients(node, of_all)
        return node["yes"] / total if total else math.nan
    return read


def _level(section: str, variable: str, *levels: str | int, of_all: bool = False,
           others: bool = False) -> Callable[[Results], float]:
    """Share of patients in the given levels of a categorical variable (``others``: in any other level). The
    denominator is the patients with a value, or every patient when ``of_all`` (as when the paper divides by
    its whole cohort)."""
    def read(r: Results) -> float:
        node = _at(r, section, variable) if section == "therapy" else _at(r, "cohort", "baseline", variable)
        counts = dict(zip(node["levels"], node["counts"], strict=True))
        chosen = sum(k for level, k in counts.items() if (level in levels) != others)
        total = _patients(node, of_all)
        return chosen / total if total else math.nan
    return read


def _listed(variable: str, item: str | None = None) -> Callable[[Results], float]:
    """Share of patients with an item of a list-valued characteristic (``None``: with any item)."""
    def read(r: Results) -> float:
        node = _at(r, "cohort", "baseline", variable)
        k = node["any"] if item is None else node["counts"].get(item, 0)
        return k / node["n"]
    return read


def _describe(variable: str, statistic: str, section: str = "cohort", scale: float = 1.0) -> Callable[[Results], float]:
    path = ("cohort", "baseline", variable) if section == "cohort" else (section, variable)
    return lambda r: _number(r, *path, statistic) * scale


def _improved(endpoint: str) -> Callable[[Results], float]:
    def read(r: Results) -> float:
        for estimate in _at(r, "pain", endpoint, "improved"):
            if str(estimate["method"]).startswith(_EXACT):
                return float(estimate["estimate"])
        raise _Missing
    return read


def _incidence(label: str) -> Callable[[Results], float]:
    def read(r: Results) -> float:
        for row in _at(r, "complications", "cumulative_incidence", label, "incidence_at"):
            if row["time"] == _MONTH:
                return float(row["incidence"])
        raise _Missing
    return read


def _per_patient(*path: str) -> Callable[[Results], float]:
    """A count of patients in the complications section over the cohort's size."""
    return lambda r: _number(r, "complications", *path) / _number(r, "complications", "n")


def _exits(*reasons: str, others: bool = False) -> Callable[[Results], float]:
    def read(r: Results) -> float:
        node = _at(r, "exits", "reasons")
        counts = dict(zip(node["levels"], node["counts"], strict=True))
        return sum(k for reason, k in counts.items() if (reason in reasons) != others) / node["n"]
    return read


def _os_median(r: Results, study: Study) -> float:
    """Seed 000's Kaplan–Meier median, or seed 003's median of observed months to death or last contact over the
    patients it counts as followed up (those reached by telephone, when the study counts them so)."""
    if study.target("os_median_months").metric is Metric.KM_MEDIAN:
        return _number(r, "survival", "median", "time")
    if study.design.follow_up_counted is FollowUpCounted.TELEPHONE_CONTACT:
        return _number(r, "flow", "telephone_contacted_death_or_last_contact_months", "median")
    return _number(r, "cohort", "follow_up", "death_or_last_contact_months", "median")


_FOLLOW_UP_RATE = {FollowUpCounted.PAIN_PAIRS: "follow_up_rate",
                   FollowUpCounted.TELEPHONE_CONTACT: "telephone_contact_rate"}


def _follow_up_rate(r: Results, study: Study) -> float:
    """The share followed up, as the study counts them (its design's ``follow_up_counted``)."""
    return _number(r, "flow", _FOLLOW_UP_RATE[study.design.follow_up_counted])


def _deaths_after_discharge(r: Results) -> float:
    return _number(r, "cohort", "deaths") - _number(r, "complications", "in_hospital_deaths")


_SEVERE = "Severe complication (grade ≥ 3)"
_EXIT_EXPLANT = ("explant", "therapy_stopped")
_MEASURES: dict[str, Callable[[Results], float]] = {
    # pain: last follow-up NRS against baseline, in patients with both (seed 000 and 003)
    "nrs_change_mean": _value("pain", "last_nrs", "t_test", "mean_difference"),
    "nrs_change_sd": _value("pain", "last_nrs", "t_test", "sd_difference"),
    "nrs_change_p_value": _value("pain", "last_nrs", "t_test", "p_value"),
    "nrs_baseline_mean": _value("pain", "last_nrs", "before_mean"),
    "nrs_baseline_sd": _value("pain", "last_nrs", "before_sd"),
    "nrs_follow_up_mean": _value("pain", "last_nrs", "after_mean"),
    "nrs_follow_up_sd": _value("pain", "last_nrs", "after_sd"),
    "nrs_pairs_count": _value("pain", "last_nrs", "n_pairs"),
    "nrs_improved_proportion": _improved("last_nrs"),
    # seed 002's patient-reported outcomes at 6 and 12 months
    "pain_6m_pairs_count": _value("pain", "nrs_6m", "n_pairs"),
    "pain_6m_p_value": _value("pain", "nrs_6m", "t_test", "p_value"),
    "pain_12m_pairs_count": _value("pain", "nrs_12m", "n_pairs"),
    "pain_12m_p_value": _value("pain", "nrs_12m", "t_test", "p_value"),
    "eq5d_6m_pairs_count": _value("pain", "eq5d_index_6m", "n_pairs"),
    "eq5d_6m_p_value": _value("pain", "eq5d_index_6m", "t_test", "p_value"),
    # complications and reoperations
    "adverse_events_count": _value("complications", "adverse_events", "events"),
    "adverse_event_patients_proportion": _per_patient("adverse_events", "patients"),
    "complication_any_cif_1y": _incidence("Any complication"),
    "complication_severe_cif_1y": _incidence(_SEVERE),
    "reoperation_patients_proportion": _per_patient("reoperations", "patients"),
    "reoperation_cif_1y": _incidence("Reoperation, revision or explant"),
    "infection_surgery_proportion": _per_patient("infection_requiring_surgery", "patients"),
    "pdph_proportion": _per_patient("adverse_events", "by_kind", "postdural_puncture_headache", "patients"),
    "fever_proportion": _per_patient("adverse_events", "by_kind", "fever", "patients"),
    "urinary_retention_proportion": _per_patient("adverse_events", "by_kind", "urinary_retention", "patients"),
    "early_death_proportion": _per_patient("in_hospital_deaths"),
    "wound_healing_explant_proportion": _per_patient("reoperations", "by_reason", "wound_healing"),
    # exits from follow-up (seed 002)
    "exit_death_proportion": _exits("death"),
    "exit_explant_or_stopped_proportion": _exits(*_EXIT_EXPLANT),
    "exit_other_proportion": _exits("death", *_EXIT_EXPLANT, others=True),
    "exits_count": _value("exits", "exited"),
    # follow-up, opioids, satisfaction, deaths (seed 003)
    "opioid_stopped_proportion": _value("opioids", "stopped_last", "estimate"),
    "opioid_below_100_mg_proportion": _value("opioids", "below_100_mg_ome", "estimate"),
    "opioid_stopped_or_reduced_proportion": _value("opioids", "stopped_or_reduced", "estimate"),
    "satisfied_proportion": _value("satisfaction", "satisfied", "estimate"),
    "deaths_after_discharge_count": _deaths_after_discharge,
    # baseline (Table 1 and the cohort description)
    "age_mean": _describe("age_at_implant_years", "mean"),
    "age_sd": _describe("age_at_implant_years", "sd"),
    "age_minimum": _describe("age_at_implant_years", "minimum"),
    "age_maximum": _describe("age_at_implant_years", "maximum"),
    "female_proportion": _level("cohort", "sex", "female"),
    "bmi_mean": _describe("bmi_kg_per_m2", "mean"),
    "bmi_sd": _describe("bmi_kg_per_m2", "sd"),
    "bmi_minimum": _describe("bmi_kg_per_m2", "minimum"),
    "bmi_maximum": _describe("bmi_kg_per_m2", "maximum"),
    "adl_mean": _describe("adl_score", "mean"),
    "adl_sd": _describe("adl_score", "sd"),
    "wheelchair_proportion": _yes("wheelchair_or_cart"),
    "adl_below_60_proportion": _yes("adl_below_60"),
    "pressure_sores_proportion": _yes("pressure_sores"),
    "skin_line_proportion": _yes("skin_compromising_lines"),
    "implants_2021_proportion": _level("therapy", "implant_year", 2021),
    "implants_2022_proportion": _level("therapy", "implant_year", 2022),
    "implants_2023_proportion": _level("therapy", "implant_year", 2023),
    "cancer_lung_proportion": _level("cohort", "cancer_type", "lung"),
    "cancer_colorectal_proportion": _level("cohort", "cancer_type", "colorectal"),
    "cancer_pancreatic_proportion": _level("cohort", "cancer_type", "pancreas"),
    "cancer_breast_proportion": _level("cohort", "cancer_type", "breast"),
    "cancer_liver_proportion": _level("cohort", "cancer_type", "liver"),
    "cancer_duration_median_months": _describe("cancer_duration_months", "median"),
    "metastasis_proportion": _listed("metastasis_sites"),
    "metastasis_bone_proportion": _listed("metastasis_sites", "bone"),
    "metastasis_liver_proportion": _listed("metastasis_sites", "liver"),
    "metastasis_lung_proportion": _listed("metastasis_sites", "lung"),
    "prior_chemoradiotherapy_proportion": _yes("prior_chemoradiotherapy"),
    "prior_immunotherapy_proportion": _yes("prior_immunotherapy"),
    "prior_surgery_proportion": _yes("prior_surgery"),
    "pain_lumbosacral_proportion": _listed("pain_locations", "lumbosacral"),
    "pain_abdomen_proportion": _listed("pain_locations", "abdomen"),
    "pain_back_proportion": _listed("pain_locations", "back"),
    "pain_lower_extremity_proportion": _listed("pain_locations", "lower_extremity"),
    "pain_perineal_proportion": _listed("pain_locations", "perineal"),
    "pain_chest_proportion": _listed("pain_locations", "chest"),
    "pain_head_neck_proportion": _listed("pain_locations", "head_and_neck"),
    "pain_upper_extremity_proportion": _listed("pain_locations", "upper_extremity"),
    "pain_duration_median_months": _describe("pain_duration_months", "median"),
    "systemic_opioid_proportion": _yes("baseline_systemic_opioid"),
    "ome_median_mg_per_day": _describe("baseline_ome_mg_per_day", "median"),
    "ome_over_200_proportion": _yes("baseline_ome_above_200", of_all=True),
    "ome_over_500_proportion": _yes("baseline_ome_above_500", of_all=True),
    "adjuvant_drug_proportion": _listed("adjuvant_drugs"),
    "prior_procedure_proportion": _yes("prior_pain_procedure"),
    "reason_inadequate_control_proportion": _level("cohort", "implant_reason", "inadequate_relief", "both"),
    "reason_opioid_intolerance_proportion": _level("cohort", "implant_reason", "intolerable_side_effects"),
    "hospital_cost_cny_mean": _describe("hospital_charge", "mean"),
    "hospital_cost_cny_sd": _describe("hospital_charge", "sd"),
    "own_expense_cny_mean": _describe("out_of_pocket_cost", "mean"),
    "own_expense_cny_sd": _describe("out_of_pocket_cost", "sd"),
    # therapy and operation (Table 2)
    "itt_none_proportion": _level("therapy", "screening_trials", "0"),
    "itt_once_proportion": _level("therapy", "screening_trials", "1"),
    "itt_twice_proportion": _level("therapy", "screening_trials", "2 or more"),
    "itt_morphine_proportion": _level("therapy", "trial_drug", "morphine", of_all=True),
    "itt_hydromorphone_proportion": _level("therapy", "trial_drug", "hydromorphone", of_all=True),
    "itt_bupivacaine_proportion": _level("therapy", "trial_drug", "bupivacaine", of_all=True),
    "itt_morphine_dose_mg_mean": _describe("trial_dose_morphine", "mean", "therapy"),
    "itt_hydromorphone_dose_mg_mean": _describe("trial_dose_hydromorphone", "mean", "therapy"),
    "surgical_duration_hours_mean": _describe("operation_minutes", "mean", "therapy", scale=1 / 60),
    "surgical_duration_hours_sd": _describe("operation_minutes", "sd", "therapy", scale=1 / 60),
    "insertion_l2_l3_proportion": _level("therapy", "insertion_level", "L2/3"),
    "insertion_l3_l4_proportion": _level("therapy", "insertion_level", "L3/4"),
    "insertion_other_proportion": _level("therapy", "insertion_level", "L2/3", "L3/4", others=True),
    "catheter_tip_t1_t5_proportion": _level("therapy", "catheter_tip_level", "T1–T5"),
    "catheter_tip_t6_t9_proportion": _level("therapy", "catheter_tip_level", "T6–T9"),
    "catheter_tip_below_t10_proportion": _level("therapy", "catheter_tip_level", "T10 and below"),
    "idds_morphine_proportion": _level("therapy", "start_drug", "morphine"),
    "idds_hydromorphone_proportion": _level("therapy", "start_drug", "hydromorphone"),
    "idds_bupivacaine_proportion": _level("therapy", "start_drug", "bupivacaine"),
    "idds_bupivacaine_morphine_proportion": _level("therapy", "start_drug", "bupivacaine+morphine"),
    "idds_morphine_start_dose_mg_per_day_mean": _describe("start_dose_morphine", "mean", "therapy"),
    "idds_hydromorphone_start_dose_mg_per_day_mean": _describe("start_dose_hydromorphone", "mean", "therapy"),
    "hospital_stay_days_mean": _describe("total_stay_days", "mean", "therapy"),
    "hospital_stay_days_sd": _describe("total_stay_days", "sd", "therapy"),
    "postoperative_stay_days_mean": _describe("postop_stay_days", "mean", "therapy"),
    "postoperative_stay_days_sd": _describe("postop_stay_days", "sd", "therapy"),
}
_BY_DESIGN: dict[str, Callable[[Results, Study], float]] = {"os_median_months": _os_median,
                                                             "follow_up_complete_proportion": _follow_up_rate}
"""Targets whose measure depends on the study's design (its endpoint definitions)."""

NOT_MEASURABLE_YET: dict[str, str] = {
    "underweight_proportion": "the paper does not state its BMI threshold and the report gives no underweight share",
    "prior_cancer_treatment_proportion": "the report counts surgery, chemoradiotherapy and immunotherapy one by one, "
                                         "not patients with any of them",
    "pain_before_cancer_proportion": "the report does not compare pain onset with cancer diagnosis",
    "catheter_moved_upward_proportion": "the registry does not record the direction the catheter was advanced",
    "catheter_tip_t6_proportion": "the report groups catheter tips by segment (T1–T5, T6–T9, T10 and below), "
                                  "not by vertebra",
}


@dataclass(frozen=True)
class Unmeasured:
    """A target the report does not estimate yet, and why."""

    target: str
    reason: str


def unmeasured(study: Study) -> tuple[Unmeasured, ...]:
    """The study's targets that :func:`measure` cannot measure yet, each with its reason."""
    out = []
    for target in study.targets:
        if target.name in NOT_MEASURABLE_YET:
            out.append(Unmeasured(target.name, NOT_MEASURABLE_YET[target.name]))
        elif target.name not in _MEASURES and target.name not in _BY_DESIGN:
            out.append(Unmeasured(target.name, "no measure of this name: the report's results do not define it"))
    return tuple(out)


def measure_results(study: Study, results: Results) -> dict[str, float]:
    """Every measurable target of ``study`` read from the report's results (NaN where it holds no estimate)."""
    skipped = {u.target for u in unmeasured(study)}
    out: dict[str, float] = {}
    for target in study.targets:
        if target.name in skipped:
            continue
        try:
            if target.name in _BY_DESIGN:
                value = _BY_DESIGN[target.name](results, study)
            else:
                value = _MEASURES[target.name](results)
        except (_Missing, ZeroDivisionError):
            value = math.nan
        out[target.name] = float(value)
    return out


def report_results(source: Engine | str) -> dict[str, Any]:
    """The study report's results by section key, from a registry (an engine, or a path or URL)."""
    engine = connect(source) if isinstance(source, str) else source
    try:
        require_current(engine)
        frame = analysis_dataset(engine)
    finally:
        if isinstance(source, str):
            engine.dispose()
    if frame.empty:
        raise OpenIDDSError("registry", str(source), "a registry with at least one implanted patient")
    report = study_report(frame, title=REPORT_TITLE, figures=False)
    return {section["key"]: section["results"] for section in report.to_dict()["sections"]}


def measure(study: Study, source: Engine | str) -> dict[str, float]:
    """Every measurable target of ``study`` on the registry ``source``; :func:`unmeasured` lists the others."""
    return measure_results(study, report_results(source))
