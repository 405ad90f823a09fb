"""Data-quality rules over a whole registry (``openidds registry check``), after the Kahn framework used by
OHDSI's Data Quality Dashboard: conformance and plausibility (the import rules, re-run on stored data),
completeness, consistency and uniqueness. Each finding names the record it concerns."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, select

from openidds.clinic import models, rules, store
from openidds.clinic.audit_chain import verify_audit_chain
from openidds.clinic.database import sessions
from openidds.clinic.findings import Finding
from openidds.clinic.queries import ImplantFacts, active_implant
from openidds.clinic.record import Record
from openidds.clinic.refill_status import DueReason

WARNING = "warning"


@dataclass(frozen=True)
class RefillDueOn:
    """An implant's next refill date as Today shows it: the earlier of the reservoir's and the solution's stability
    date (``refill_status``)."""

    due_on: dt.date
    reason: DueReason
    stability_drug: str | None

    @property
    def reason_text(self) -> str:
        return "the reservoir" if self.reason is DueReason.RESERVOIR else f"the stability of {self.stability_drug}"


def _w(rule: str, record: Record, message: str) -> Finding:
    return Finding(rule, record.label, message, severity=WARNING)


def _patient_checks(records: list[Record], today: dt.date, due: Mapping[int, RefillDueOn]) -> list[Finding]:
    kinds: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        kinds[record.spec.name].append(record)
    out: list[Finding] = []
    patient = next(iter(kinds["patients"]), None)
    if patient is None:
        return out
    implants = sorted(kinds["implants"], key=lambda r: r.get("implant_date"))
    exit_ = next(iter(kinds["exits"]), None)
    if not implants:
        out.append(_w("no-implant", patient, "patient without an implant record"))
    baseline = [r for r in kinds["visits"] if r.get("visit_type") == "baseline" and r.get("nrs") is not None]
    if implants and not baseline:
        out.append(_w("baseline-nrs", patient, "no baseline visit with an NRS before the implant"))
    if implants and not any(r.get("visit_type") != "baseline" and r.get("nrs") is not None for r in kinds["visits"]):
        out.append(_w("follow-up-nrs", patient, "no follow-up NRS after the implant"))
    for implant in implants:
        if not implant.get("serial_number") and not implant.get("udi"):
            out.append(_w("device-identifier", implant, "implant without serial number or UDI"))
    explanted = [i for i in implants if i.get("explant_date")]
    if exit_ is not None and exit_.get("reason") == "explant" and not explanted:
        out.append(Finding("exit-explant", exit_.label, "exit reason explant but no implant has an explant date"))
    for c in kinds["complications"]:
        if c.get("action") == "explant" and not any(i.get("explant_date") and i.get("explant_date") >= c.get(
                "onset_date") for i in implants):
            out.append(Finding("complication-explant", c.label, "led to explant but no explant date on or after it"))
        if c.get("grade") == 5 and (exit_ is None or exit_.get("death_date") is None):
            out.append(Finding("complication-death", c.label, "grade 5 (death) but no death recorded in the exit"))
    reservoir = {i.get("implant_date"): i.get("reservoir_ml") for i in implants}
    for refill in kinds["refills"]:
        size = reservoir.get(refill.implant_date)
        w, e = refill.get("withdrawn_residual_ml"), refill.get("expected_residual_ml")
        limit = rules.refill_discrepancy_limit(size)
        if w is not None and e is not None and abs(w - e) > limit:
            out.append(_w("refill-discrepancy", refill, f"withdrawn {w:g} mL vs expected {e:g} mL: discrepancy "
                          f"{w - e:+g} mL exceeds {limit:g} mL for a {size or 20:g} mL pump (investigate)"))
    active_id = active_implant((ImplantFacts(i.db_id, i.get("implant_date"), i.get("explant_date"),
                                             i.extra.get("replaces_implant_id")) for i in implants
                                if i.db_id is not None), exit_ is not None)
    current = next((i for i in implants if i.db_id == active_id), None)
    status = None if current is None or current.db_id is None else due.get(current.db_id)
    if current is not None and status is not None and status.due_on < today:
        out.append(_w("refill-overdue", current, f"refill was due {status.due_on.isoformat()} by {status.reason_text} "
                      f"({(today - status.due_on).days} days ago) and no later refill is recorded"))
    if explanted and exit_ is None and all(i.get("explant_date") for i in implants):
        out.append(_w("explant-without-exit", explanted[-1], "every implant explanted but no exit recorded"))
    return out


def check_registry(engine: Engine, today: dt.date) -> list[Finding]:
    """Every data-quality finding of the registry, errors first; ``today`` dates the overdue-refill rule (the
    refill date Today shows: the reservoir's or the solution's stability, whichever comes first). A break
    in the audit trail's hash chain (an entry changed, deleted or written outside the registry) is an error."""
    with sessions(engine)() as session:
        snapshot = store.load(session)
        r = models.RefillStatus
        due = {implant_id: RefillDueOn(due_on, DueReason(reason), drug) for implant_id, due_on, reason, drug
               in session.execute(select(r.implant_id, r.due_on, r.due_reason, r.stability_drug))
               if due_on is not None and reason is not None}
    out: list[Finding] = []
    serials: dict[str, list[Record]] = defaultdict(list)
    for records in snapshot.by_patient().values():
        for record in records:
            out += rules.record_findings(record)
            if record.spec.name == "implants" and record.get("serial_number"):
                serials[record.get("serial_number")].append(record)
        out += rules.patient_findings(records)
        out += _patient_checks(records, today, due)
    for serial, implants in serials.items():
        if len({i.patient for i in implants}) > 1:
            out += [Finding("duplicate-serial", i.label, f"serial {serial} is also recorded for another patient")
                    for i in implants]
    out += verify_audit_chain(engine).findings
    return sorted(out, key=lambda f: (f.severity != "error", f.record, f.rule))
