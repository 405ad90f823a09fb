"""Generate the bundled example registry: made-up patients written as the registry's CSV import files.

    python -m openidds.clinic.examples.generate [--out DIR] [--patients N] [--seed S]

Without options it rewrites ``src/openidds/clinic/examples/registry/`` byte for byte. Every patient is
synthetic: the shapes (survival, pain scores, opioid doses, complications, exits) loosely follow the seed
studies (193-patient review, 1,403-patient product registry, 96-patient review; see docs/report.md), but no
value comes from a real person. Draws use only ``random.Random.random()``, whose sequence for a given seed
Python keeps across versions, turned into normal, log-normal and categorical draws by exact formulas; values
are rounded before they are written, so other Python versions regenerate identical files (barring a draw
within a floating-point ulp of a rounding boundary). The data cut-off is ``EXAMPLE_CUTOFF``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

from openidds.clinic.examples import EXAMPLE_CUTOFF as CUTOFF
from openidds.clinic.examples import EXAMPLE_FOLDER as FOLDER
from openidds.clinic.fields import SPECS, reference_columns
from openidds.months import DAYS_PER_MONTH

SEED = 20251122
PATIENTS = 180
FIRST_IMPLANT = dt.date(2021, 1, 4)
LAST_IMPLANT = dt.date(2024, 12, 20)
SITES = {"SYNTH-A": 0.6, "SYNTH-B": 0.4}
VISIT_DAYS = (14, 30, 91, 182, 365, 547, 730, 912, 1095, 1277, 1460)
_NORMAL = NormalDist()

CANCERS = {"lung": 0.33, "colorectal": 0.17, "pancreas": 0.12, "breast": 0.08, "liver": 0.05, "stomach": 0.05,
           "esophagus": 0.04, "prostate": 0.04, "cervix": 0.03, "head_and_neck": 0.03, "other": 0.06}
PAIN_LOCATIONS = {"lumbosacral": 0.42, "abdomen": 0.31, "back": 0.27, "lower_extremity": 0.2, "perineal": 0.07,
                  "chest": 0.07, "head_and_neck": 0.05, "upper_extremity": 0.02}
METASTASES = {"bone": 0.64, "liver": 0.35, "lung": 0.25, "lymph_nodes": 0.3, "peritoneum": 0.12}
EARLY = {"postdural_puncture_headache": 0.5, "fever": 0.2, "urinary_retention": 0.15, "constipation": 0.15}
WOUND = {"infection": 0.55, "wound_healing": 0.25, "csf_leak": 0.2}
WOUND_ACTIONS = {"infection": {"explant": 0.4, "reoperation": 0.35, "medical": 0.25},
                 "wound_healing": {"explant": 0.7, "reoperation": 0.3},
                 "csf_leak": {"medical": 0.7, "reoperation": 0.3}}
SEVERE_MEDICAL = {"overdose": 0.6, "bleeding": 0.4}
DEVICE = {"catheter_occlusion": 0.35, "catheter_migration": 0.3, "pump_malfunction": 0.2, "granuloma": 0.15}
OTHER_EXITS = {"transfer_of_care": 0.35, "lost_to_follow_up": 0.35, "therapy_stopped": 0.15,
               "withdrew_consent": 0.1, "site_closure": 0.05}
SATISFACTION = {"very_satisfied": 0.3, "satisfied": 0.45, "neutral": 0.08, "dissatisfied": 0.12,
                "very_dissatisfied": 0.05}
DISSATISFIED = ("dissatisfied", "very_dissatisfied")
DISSATISFACTION_REASONS = {"poor_pain_control": 0.5, "refill_burden": 0.25, "short_survival": 0.25}
OPIOID_COURSE = {"stopped": 0.32, "reduced": 0.5, "unchanged": 0.13, "increased": 0.05}


class Draw:
    """Random draws built on ``random.Random.random()`` alone (the one sequence Python keeps stable)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def unit(self) -> float:
        return min(max(self._rng.random(), 1e-12), 1 - 1e-12)

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self._rng.random()

    def chance(self, p: float) -> bool:
        return self._rng.random() < p

    def integer(self, low: int, high: int) -> int:
        """An integer from ``low`` to ``high`` inclusive."""
        return low + min(int(self._rng.random() * (high - low + 1)), high - low)

    def normal(self, mean: float, sd: float) -> float:
        return mean + sd * _NORMAL.inv_cdf(self.unit())

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * _NORMAL.inv_cdf(self.unit()))

    def exponential(self, mean: float) -> float:
        return -mean * math.log(self.unit())

    def choice(self, weights: Mapping[str, float]) -> str:
        u = self._rng.random() * sum(weights.values())
        for name, weight in weights.items():
            u -= weight
            if u < 0:
                return name
        return name

    def subset(self, shares: Mapping[str, float]) -> list[str]:
        return [name for name, p in shares.items() if self.chance(p)]


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _bool(value: bool) -> str:
    return "1" if value else "0"


@dataclass
class Patient:
    """One made-up patient's records, as CSV rows keyed by column name; days count from the first implant."""

    site: str
    patient_id: str
    t0: dt.date
    rows: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def add(self, kind: str, /, **values: object) -> dict[str, str]:
        row = {"site": self.site, "patient_id": self.patient_id}
        row.update({k: "" if v is None else str(v) for k, v in values.items()})
        self.rows.setdefault(kind, []).append(row)
        return row

    def day(self, offset: int) -> str:
        return (self.t0 + dt.timedelta(days=offset)).isoformat()

    def at(self, offset: int, clock: str) -> str:
        return f"{self.day(offset)}T{clock}:00Z"


@dataclass(frozen=True)
class Baseline:
    """What the follow-up needs from the baseline: the patient row (its last contact is filled in at the end),
    the NRS, the systemic opioids (OME mg/day), the EQ-5D (index, VAS) if recorded, and the ECOG grade."""

    patient: dict[str, str]
    nrs: int
    ome_mg_per_day: int
    eq5d: tuple[float, int] | None
    ecog: int


def _baseline(p: Patient, d: Draw) -> Baseline:
    """Patient row, screening trials and the baseline visit; returns what the follow-up needs."""
    age = round(_clip(d.normal(61, 11), 28, 89))
    metastatic = d.chance(0.62)
    sites = d.subset(METASTASES) if metastatic else []
    if metastatic and not sites:
        sites = ["bone"]
    locations = d.subset(PAIN_LOCATIONS) or [d.choice(PAIN_LOCATIONS)]
    adl = round(_clip(d.normal(67, 24), 10, 100) / 5) * 5
    baseline_day = -d.integer(1, 14)
    patient = p.add(
        "patients", age_at_implant_years=age, sex="female" if d.chance(0.52) else "male",
        enrolled_on=p.day(baseline_day), cancer_type=d.choice(CANCERS),
        cancer_diagnosis_date=p.day(-round(_clip(d.lognormal(24, 1.0), 1, 240) * DAYS_PER_MONTH)),
        metastasis_sites=";".join(sites) or "none", prior_surgery=_bool(d.chance(0.51)),
        prior_chemoradiotherapy=_bool(d.chance(0.67)), prior_immunotherapy=_bool(d.chance(0.31)),
        prior_pain_procedure=_bool(d.chance(0.07)),
        pain_onset_date=p.day(baseline_day - round(_clip(d.lognormal(6, 1.2), 0.5, 120) * DAYS_PER_MONTH)),
        pain_locations=";".join(locations), bmi_kg_per_m2=f"{_clip(d.normal(20.7, 3.1), 14.3, 31.0):.1f}",
        adl_score=adl, ecog=d.choice({"1": 0.15, "2": 0.35, "3": 0.38, "4": 0.12}),
        wheelchair_or_cart=_bool(d.chance(0.55)), pressure_sores=_bool(d.chance(0.24)),
        skin_compromising_lines=_bool(d.chance(0.29)),
        adjuvant_drugs=";".join(d.subset({"nsaid": 0.2, "anticonvulsant": 0.12, "antidepressant": 0.08,
                                          "corticosteroid": 0.06})) or "none",
        implant_reason=d.choice({"inadequate_relief": 0.88, "intolerable_side_effects": 0.06, "both": 0.06}),
        insurance=d.choice({"public": 0.8, "private": 0.12, "self_pay": 0.05, "mixed": 0.03}),
        last_contact_date=None)
    trials = 2 if d.chance(0.1) else 1 if d.chance(0.85) else 0
    first_trial = baseline_day - d.integer(2, 10) - 7 * (trials - 1)
    for number in range(1, trials + 1):
        drug = d.choice({"morphine": 0.75, "hydromorphone": 0.25})
        p.add("screening_trials", trial_number=number, trial_date=p.day(first_trial + 7 * (number - 1)), drug=drug,
              dose_mg="0.2" if drug == "morphine" else "0.04", route="intrathecal",
              response="positive" if number == trials else d.choice({"equivocal": 0.6, "negative": 0.4}))
    nrs = round(_clip(d.normal(7.4, 1.3), 4, 10))
    on_opioid = d.chance(0.85)
    ome = int(round(_clip(d.lognormal(290, 1.0), 30, 3000), -1)) if on_opioid else 0
    eq5d = d.chance(0.45)
    index = round(_clip(d.normal(0.38, 0.2), -0.2, 0.95), 3)
    vas = round(_clip(d.normal(38, 15), 0, 100))
    p.add("visits", visit_date=p.day(baseline_day), visit_type="baseline", nrs=nrs,
          eq5d_version="5L" if eq5d else None, eq5d_vas=vas if eq5d else None,
          eq5d_index=f"{index:.3f}" if eq5d else None, systemic_opioid=_bool(on_opioid), ome_mg_per_day=ome)
    return Baseline(patient, nrs, ome, (index, vas) if eq5d else None, int(patient["ecog"]))


def _implant(p: Patient, d: Draw, day: int, kind: str, serial: str, reservoir: int) -> dict[str, str]:
    postop = round(_clip(d.normal(6, 3), 1, 30))
    return p.add("implants", implant_date=p.day(day), kind=kind, device_model=f"Synthetic pump {reservoir} mL",
                 reservoir_ml=reservoir, serial_number=serial,
                 insertion_level=d.choice({"L2/3": 0.6, "L3/4": 0.4}),
                 catheter_tip_level=d.choice({"T6": 0.2, "T7": 0.25, "T8": 0.25, "T9": 0.15, "T10": 0.15}),
                 operation_minutes=round(_clip(d.normal(125 if kind == "initial" else 80, 25), 40, 240)),
                 total_stay_days=postop + round(_clip(d.normal(5, 3), 0, 20)), postop_stay_days=postop,
                 explant_date=None, explant_reason=None)


def _course(d: Draw, ecog: int, admin: int) -> tuple[int, int, bool, str | None]:
    """Death day, end of follow-up (days), died, and the reason of a non-death exit (None if followed)."""
    if d.chance(0.01):
        death = d.integer(1, 2)
    elif d.chance(0.1):
        death = math.ceil(d.lognormal(420, 0.7))
    else:
        death = math.ceil(d.lognormal(100 * math.exp(-0.25 * (ecog - 2.5)), 0.95))
    leaves = d.chance(0.1)
    exit_day = d.integer(20, max(20, min(death, admin) - 1)) if leaves else None
    end = min(death, admin, exit_day or death)
    reason = d.choice(OTHER_EXITS) if leaves and end == exit_day and exit_day < death else None
    return death, end, end == death and death <= admin, reason


def _complications(p: Patient, d: Draw, end: int, implant: dict[str, str], reservoir: int) -> tuple[int, bool]:
    """Complications in onset order with their surgery; returns the end of follow-up and whether an explant
    ended it (a patient whose pump is explanted leaves the registry on that day)."""
    events: list[tuple[int, str]] = []
    if d.chance(0.1):
        events.append((d.integer(1, 5), d.choice(EARLY)))
    if d.chance(0.03):
        events.append((d.integer(5, 45), d.choice(WOUND)))
    if d.chance(0.025):
        events.append((d.integer(1, 20), d.choice(SEVERE_MEDICAL)))
    device_day = math.ceil(d.exponential(6000))
    events.append((device_day, d.choice(DEVICE)))
    serial = implant["serial_number"]
    for day, kind in sorted(events):
        if day >= end:
            continue
        surgery = day + d.integer(1, 5)
        if kind in EARLY:
            grade, action = (1, "none") if d.chance(0.5) else (2, "medical")
            healed = day + d.integer(2, 10)
        elif kind in SEVERE_MEDICAL:
            grade, action, healed = 3, "medical", day + d.integer(2, 14)
        elif kind in WOUND:
            grade, action = 3, d.choice(WOUND_ACTIONS[kind])
            grade = 2 if action == "medical" and kind == "csf_leak" and d.chance(0.5) else grade
            healed = surgery if action == "explant" else surgery + d.integer(7, 30)
        elif kind == "granuloma" and d.chance(0.5):
            grade, action, healed = 2, "medical", day + d.integer(30, 90)
        else:
            grade, action = 3, "reoperation" if kind == "pump_malfunction" else "revision"
            healed = surgery
        if action in ("revision", "reoperation", "explant") and surgery >= end:
            action = "medical"  # the surgery would fall after the end of follow-up
        p.add("complications", kind=kind, onset_date=p.day(day), grade=grade, action=action,
              resolved_date=p.day(healed) if healed < end else None, note="synthetic example")
        if action == "explant":
            implant["explant_date"], implant["explant_reason"] = p.day(surgery), kind
            return surgery, True
        if kind in DEVICE and action in ("revision", "reoperation"):
            replaced = kind == "pump_malfunction"
            if replaced:
                serial = f"{serial}R"
            _implant(p, d, surgery, "replacement" if replaced else "revision", serial, reservoir)
    return end, False


def _pump(p: Patient, d: Draw, end: int, reservoir: int) -> None:
    """Programs (start, titration at one month) and a refill every few weeks until the end of follow-up; each
    refill after the first fill records the residual the pump should hold and the (slightly different) volume
    withdrawn."""
    drug = d.choice({"morphine": 0.62, "hydromorphone": 0.28, "morphine+bupivacaine": 0.1})
    opioid = "hydromorphone" if drug == "hydromorphone" else "morphine"
    start = (_clip(d.lognormal(0.13, 0.6), 0.02, 1.0) if opioid == "hydromorphone"
             else _clip(d.lognormal(0.8, 0.6), 0.1, 5.0))
    titrated = start * d.normal(1.25, 0.1)
    interval = int(d.choice({"42": 0.2, "56": 0.3, "70": 0.3, "84": 0.2}))
    fill = reservoir - 2
    concentration = math.ceil(titrated * interval / (fill - 3) * 2) / 2
    doses = [(0, start), (30, titrated)] if end > 30 else [(0, start)]
    for day, dose in doses:
        p.add("programs", started_at=p.at(day, "10:00"), drug=opioid, concentration_mg_per_ml=f"{concentration:g}",
              daily_dose_mg_per_day=f"{dose:.3f}", mode="continuous")
        if drug == "morphine+bupivacaine":
            p.add("programs", started_at=p.at(day, "10:00"), drug="bupivacaine", concentration_mg_per_ml="5",
                  daily_dose_mg_per_day="2.000" if day == 0 else "3.000", mode="continuous")

    def used_ml(since: int, until: int) -> float:
        return sum(dose / concentration * max(0, min(until, limit) - max(since, begin))
                   for (begin, dose), limit in zip(doses, [*(b for b, _ in doses[1:]), until], strict=True))

    for day in range(0, end, interval):
        expected = withdrawn = None
        if day:
            residual = fill - used_ml(day - interval, day)
            expected = f"{residual:.1f}"
            withdrawn = f"{max(0.0, residual + _clip(d.normal(0, 0.25), -0.8, 0.8)):.1f}"
        p.add("refills", refilled_at=p.at(day, "11:30"), drug=opioid, concentration_mg_per_ml=f"{concentration:g}",
              volume_added_ml=fill, expected_residual_ml=expected, withdrawn_residual_ml=withdrawn,
              next_refill_due=p.day(day + interval))


def _follow_up(p: Patient, d: Draw, end: int, base: Baseline) -> None:
    """Visits at about 2 weeks, 1, 3, 6 and 12 months, then every 6 months, while followed (10% missed): NRS
    with the patient's own fall from baseline, EQ-5D if recorded at baseline, opioids, satisfaction and, when
    dissatisfied, its reason."""
    fall = d.normal(4.3, 2.0)
    course = d.choice(OPIOID_COURSE) if base.ome_mg_per_day else None
    factor = (0.0 if course in (None, "stopped") else 1.0 if course == "unchanged"
              else d.uniform(0.15, 0.6) if course == "reduced" else d.uniform(1.1, 1.5))
    answer = d.choice(SATISFACTION)
    respondent = "family" if d.chance(0.55) else "patient"
    for scheduled in VISIT_DAYS:
        day = scheduled + d.integer(-7, 7)
        if day >= end or not d.chance(0.9):
            continue
        phone = scheduled > 182 and d.chance(0.3)
        weight = 1.0 if scheduled <= 91 else 0.92 if scheduled <= 182 else 0.88
        nrs = round(_clip(base.nrs - fall * weight + d.normal(0, 0.9), 0, 10))
        eq5d = base.eq5d if not phone else None
        index = f"{_clip(eq5d[0] + d.normal(0.1, 0.12), -0.2, 1.0):.3f}" if eq5d else None
        vas = round(_clip(eq5d[1] + d.normal(12, 12), 0, 100)) if eq5d else None
        ome = int(round(base.ome_mg_per_day * factor, -1))
        p.add("visits", visit_date=p.day(day), visit_type="telephone" if phone else "follow_up", nrs=nrs,
              eq5d_version="5L" if eq5d else None, eq5d_vas=vas, eq5d_index=index,
              systemic_opioid=_bool(ome > 0), ome_mg_per_day=ome, opioid_change=course, satisfaction=answer,
              satisfaction_respondent=respondent)
    if answer in DISSATISFIED:
        reason = d.choice(DISSATISFACTION_REASONS)  # drawn last, so every other value stays as it was
        for row in p.rows.get("visits", []):
            if row.get("satisfaction"):
                row["dissatisfaction_reason"] = reason


def _patient(index: int, seed: int) -> Patient:
    d = Draw(seed * 100_003 + index)
    site = d.choice(SITES)
    t0 = FIRST_IMPLANT + dt.timedelta(days=d.integer(0, (LAST_IMPLANT - FIRST_IMPLANT).days))
    p = Patient(site, f"S{index:04d}", t0)
    base = _baseline(p, d)
    reservoir = 40 if d.chance(0.7) else 20
    implant = _implant(p, d, 0, "initial", f"SYN{index:05d}", reservoir)
    admin = (CUTOFF - t0).days
    death, end, died, reason = _course(d, base.ecog, admin)
    end, explanted = _complications(p, d, end, implant, reservoir)
    if died and not explanted:
        p.add("exits", exit_date=p.day(death), reason="death", death_date=p.day(death),
              cause_of_death="disease progression (synthetic)")
    elif explanted:
        p.add("exits", exit_date=p.day(end), reason="explant", death_date=None, cause_of_death=None)
    elif reason is not None:
        p.add("exits", exit_date=p.day(end), reason=reason, death_date=None, cause_of_death=None)
    else:
        base.patient["last_contact_date"] = p.day(end - d.integer(0, 21))
    _pump(p, d, end, reservoir)
    _follow_up(p, d, end, base)
    return p


def tables(patients: int = PATIENTS, seed: int = SEED) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each kind of record's CSV header and rows, in the mapping's column order, patients in ID order."""
    cohort = [_patient(i, seed) for i in range(1, patients + 1)]
    out = {}
    for kind, spec in SPECS.items():
        rows = [row for p in cohort for row in p.rows.get(kind, [])]
        if not rows:
            continue
        used = {name for row in rows for name in row}
        header = [c for c in (*reference_columns(spec), *spec.columns) if c in used]
        out[kind] = header, [[row.get(c, "") for c in header] for row in rows]
    return out


def write(folder: Path = FOLDER, patients: int = PATIENTS, seed: int = SEED) -> list[Path]:
    """Write one ``KIND.csv`` per kind of record into ``folder`` (UTF-8, ``\\n`` line ends); same seed, same bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, (header, rows) in tables(patients, seed).items():
        path = folder / f"{kind}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic example registry as CSV import files.")
    parser.add_argument("--out", type=Path, default=FOLDER, help="folder (default: the bundled example)")
    parser.add_argument("--patients", type=int, default=PATIENTS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    for path in write(args.out, args.patients, args.seed):
        print(f"{path}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
