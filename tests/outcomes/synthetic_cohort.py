"""A seeded synthetic analysis dataset in the clinic registry's columns (made-up patients, for tests only).

Shapes follow the seed studies loosely: median survival about 3.5 months, NRS about 7.4 falling by about 4,
a 1-year complication incidence of roughly 15%, most exits through death. Some values are left missing.
"""

import numpy as np
import pandas as pd

CANCERS = ("lung", "breast", "colorectal", "pancreas", "prostate", "liver", "other")
EXIT_OTHER = ("explant", "therapy_stopped", "transfer_of_care", "lost_to_follow_up", "site_closure")
KINDS = ("postdural_puncture_headache", "fever", "infection", "catheter_migration")
TIPS = ("T4", "T6", "T8", "T9/10", "T11", "L1")
SITES = ("bone", "liver", "lung")


def _first(event: np.ndarray, death: np.ndarray, end: np.ndarray, died: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days and status (1 event, 2 death first, 0 censored) of an event that may come before the end of follow-up."""
    hit = event <= end
    days = np.where(hit, event, end)
    status = np.where(hit, 1, np.where(died, 2, 0))
    return days.astype(np.int64), status.astype(np.int64)


def synthetic_cohort(n: int = 193, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    death_day = np.ceil(rng.exponential(155.0, n)).astype(np.int64)
    censor_day = rng.integers(30, 1100, n)
    died = death_day <= censor_day
    end = np.where(died, death_day, censor_day)
    complication = np.ceil(rng.exponential(1900.0, n))
    severe = np.ceil(rng.exponential(6000.0, n))
    reoperation = np.ceil(rng.exponential(7000.0, n))
    complication = np.minimum.reduce([complication, severe, reoperation])
    severe = np.minimum(severe, reoperation)
    baseline_nrs = np.clip(np.round(rng.normal(7.4, 1.6, n)), 3, 10)

    def follow(day: int, share: float) -> np.ndarray:
        return (end >= day) & (rng.random(n) < share)

    def score(after: np.ndarray, fall: float) -> np.ndarray:
        value = np.clip(np.round(baseline_nrs - rng.normal(fall, 2.1, n)), 0, 10)
        return np.where(after, value, np.nan)

    eq5d = np.clip(rng.normal(0.42, 0.2, n), -0.5, 1.0).round(3)
    ome = np.round(np.exp(rng.normal(np.log(290), 0.8, n)))
    seen = follow(14, 0.96)
    stopped = seen & (rng.random(n) < 0.3)
    exit_other = ~died & (rng.random(n) < 0.3)
    frame = pd.DataFrame({
        "site": np.where(rng.random(n) < 0.6, "A", "B"),
        "patient_id": [f"P{i:04d}" for i in range(1, n + 1)],
        "sex": rng.choice(["female", "male"], n, p=[0.55, 0.45]),
        "age_at_implant_years": np.clip(np.round(rng.normal(59, 12, n)), 18, 93),
        "cancer_type": rng.choice(CANCERS, n, p=[0.3, 0.15, 0.15, 0.15, 0.1, 0.05, 0.1]),
        "bmi_kg_per_m2": np.where(rng.random(n) < 0.05, np.nan, np.clip(rng.normal(22, 3.5, n), 14, 40).round(1)),
        "adl_score": np.clip(np.round(rng.normal(65, 20, n) / 5) * 5, 0, 100),
        "implant_reason": rng.choice(["inadequate_relief", "intolerable_side_effects", "both"], n, p=[0.85, 0.1, 0.05]),
        "reservoir_ml": rng.choice([20.0, 40.0], n),
        "baseline_nrs": baseline_nrs,
        "baseline_ome_mg_per_day": ome,
        "baseline_eq5d_index": np.where(rng.random(n) < 0.5, eq5d, np.nan),
        "last_nrs": score(seen, 4.1),
        "os_days": end,
        "death": died.astype(np.int64),
        "nrs_6m": score(follow(182, 0.7), 3.6),
        "nrs_12m": score(follow(365, 0.7), 3.4),
        "eq5d_index_6m": np.where(follow(182, 0.4), np.clip(eq5d + rng.normal(0.08, 0.15, n), -0.5, 1).round(3),
                                  np.nan),
        "eq5d_index_12m": np.where(follow(365, 0.4), np.clip(eq5d + rng.normal(0.06, 0.15, n), -0.5, 1).round(3),
                                   np.nan),
        "last_ome_mg_per_day": np.where(seen, np.where(stopped, 0.0, np.round(ome * rng.uniform(0.1, 1.1, n))), np.nan),
        "systemic_opioid_stopped": stopped.astype(np.int64),
        "screening_trials": rng.choice([0, 1, 2], n, p=[0.18, 0.7, 0.12]),
        "satisfaction": np.where(seen, rng.choice(["very_satisfied", "satisfied", "neutral", "dissatisfied"], n,
                                                  p=[0.35, 0.4, 0.15, 0.1]), None),
        "satisfaction_respondent": np.where(seen, rng.choice(["patient", "family"], n, p=[0.4, 0.6]), None),
        "infection_requiring_surgery": (rng.random(n) < 0.03).astype(np.int64),
        "exit_days": end,
        "exit_status": (died | exit_other).astype(np.int64),
        "exit_reason": np.where(died, "death", np.where(exit_other, rng.choice(EXIT_OTHER, n), None)),
    })
    for prefix, day in (("complication", complication), ("severe_complication", severe),
                        ("reoperation", reoperation)):
        frame[f"{prefix}_days"], frame[f"{prefix}_status"] = _first(day, death_day, end, died)
    frame.loc[frame.index[:2], "age_at_implant_years"] = np.nan
    _add_registry_lists(frame, rng)
    return frame


def _listed(rng: np.random.Generator, codes: tuple[str, ...], p: float, n: int) -> list[str]:
    return [";".join(c for c in codes if rng.random() < p) or "none" for _ in range(n)]


def _add_registry_lists(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """The Table 1 and Table 2 columns, the 3-month scores and the event lists of the registry's dataset."""
    n = len(frame)
    for name, p in (("wheelchair_or_cart", 0.55), ("pressure_sores", 0.24), ("skin_compromising_lines", 0.29),
                    ("prior_surgery", 0.5), ("prior_chemoradiotherapy", 0.67), ("prior_immunotherapy", 0.3),
                    ("prior_pain_procedure", 0.07), ("baseline_systemic_opioid", 0.7)):
        frame[name] = (rng.random(n) < p).astype(np.int64)
    frame["metastasis_sites"] = _listed(rng, SITES, 0.4, n)
    frame["pain_locations"] = _listed(rng, ("lumbosacral", "abdomen", "back"), 0.4, n)
    frame["adjuvant_drugs"] = _listed(rng, ("nsaid", "anticonvulsant"), 0.2, n)
    frame.loc[frame.index[2:4], "metastasis_sites"] = None
    frame["cancer_duration_months"] = np.round(rng.exponential(24.0, n), 1)
    frame["pain_duration_months"] = np.round(rng.exponential(6.0, n), 1)
    frame["insurance"] = rng.choice(["public", "private"], n, p=[0.8, 0.2])
    frame["hospital_charge"] = np.round(rng.normal(150000, 10000, n))
    frame["out_of_pocket_cost"] = np.round(rng.uniform(10000, 80000, n))
    frame["currency"] = "CNY"
    frame["implant_year"] = rng.choice([2021, 2022, 2023], n)
    frame["trial_drug"] = np.where(frame["screening_trials"] > 0, rng.choice(["morphine", "hydromorphone"], n), None)
    frame["trial_dose_mg"] = np.where(frame["trial_drug"] == "morphine", 0.2, np.where(
        frame["trial_drug"] == "hydromorphone", 0.04, np.nan))
    frame["insertion_level"] = rng.choice(["L2/3", "L3/4", "L1/2"], n, p=[0.57, 0.31, 0.12])
    frame["catheter_tip_level"] = rng.choice(TIPS, n)
    frame["operation_minutes"] = np.round(rng.normal(140, 40, n)).clip(30)
    frame["postop_stay_days"] = rng.integers(1, 12, n)
    frame["total_stay_days"] = frame["postop_stay_days"] + rng.integers(0, 8, n)
    frame["start_drug"] = rng.choice(["morphine", "hydromorphone", "bupivacaine+morphine"], n, p=[0.6, 0.3, 0.1])
    frame["start_doses_mg_per_day"] = [{"morphine": "morphine:1", "hydromorphone": "hydromorphone:0.2"}.get(
        d, "bupivacaine:2;morphine:1.5") for d in frame["start_drug"]]
    frame["nrs_3m"] = np.where(frame["os_days"] >= 91, np.clip(frame["baseline_nrs"] - 4, 0, 10), np.nan)
    frame["eq5d_index_3m"] = np.where(frame["baseline_eq5d_index"].notna() & (frame["os_days"] >= 91),
                                      np.clip(frame["baseline_eq5d_index"] + 0.1, -1, 1).round(3), np.nan)
    frame["last_opioid_change"] = np.where(frame["systemic_opioid_stopped"] == 1, "stopped", np.where(
        frame["last_nrs"].notna(), rng.choice(["reduced", "unchanged", "increased"], n, p=[0.7, 0.2, 0.1]), None))
    unhappy = frame["satisfaction"].isin(["dissatisfied", "very_dissatisfied"]).to_numpy()
    frame["dissatisfaction_reason"] = np.where(unhappy, rng.choice(["poor_pain_control", "refill_burden",
                                                                    "short_survival"], n), None)
    events = []
    for days, status, severe, kind in zip(frame["complication_days"], frame["complication_status"],
                                          frame["severe_complication_days"] == frame["complication_days"],
                                          rng.choice(KINDS, n), strict=True):
        events.append(f"{days}:{kind}:{3 if severe else 2}:medical" if status == 1 else "none")
    frame["complications"] = events
    frame["reoperations"] = [f"{d}:infection" if s == 1 else "none" for d, s in
                             zip(frame["reoperation_days"], frame["reoperation_status"], strict=True)]
    frame["telephone_contacts"] = 0  # followed in clinic: no telephone visit
