"""The research export's row order says nothing about the registry's: rows are ordered by research ID."""

from __future__ import annotations

import datetime as dt

from scipy.stats import spearmanr

from openidds.clinic import SPECS, import_batch, research_tables
from openidds.clinic.importer import parse_rows

N = 200


def _cohort(engine) -> None:
    """``N`` patients whose BMI rises with their patient ID (the hidden key), each with an implant and a visit."""
    patients, implants, visits = [], [], []
    for k in range(N):
        cells = {"site": "S1", "patient_id": f"P{k:04d}"}
        patients.append((f"p:{k}", {**cells, "sex": "female", "age_at_implant_years": "60",
                                    "bmi_kg_per_m2": f"{10 + k * 0.3:.1f}"}))
        day = dt.date(2023, 1, 1) + dt.timedelta(days=k)
        implants.append((f"i:{k}", {**cells, "implant_date": day.isoformat(), "kind": "initial"}))
        visits.append((f"v:{k}", {**cells, "visit_date": (day + dt.timedelta(days=30)).isoformat(),
                                  "visit_type": "follow_up", "nrs": "3"}))
    batch = parse_rows(SPECS["patients"], patients)
    batch.extend(parse_rows(SPECS["implants"], implants))
    batch.extend(parse_rows(SPECS["visits"], visits))
    import_batch(engine, batch, "setup", "cohort")


def test_no_table_of_the_research_export_follows_the_registry_order(engine):
    _cohort(engine)
    for seed in (1, 2, 3):
        tables = research_tables(engine, seed=seed)
        hidden = dict(zip(tables["patients"]["research_id"], tables["patients"]["bmi_kg_per_m2"], strict=True))
        for name in ("patients", "implants", "visits"):
            table = tables[name]
            assert list(table["research_id"]) == sorted(table["research_id"])
            rank = [hidden[r] for r in table["research_id"]]
            assert rank != sorted(rank) and rank != sorted(rank, reverse=True)
            rho = spearmanr(range(len(rank)), rank).statistic
            assert abs(rho) < 0.25, (seed, name, rho)
