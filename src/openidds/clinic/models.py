"""SQLAlchemy 2 models of the registry: one table per thing a clinic records.

Every table but the audit log carries a ``version`` column used as SQLAlchemy's ``version_id_col``: an UPDATE
names the version it read, so a second user saving a stale copy fails instead of overwriting (optimistic
locking). Datetimes are stored as naive UTC; dates as dates.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _iso(value: Any) -> str:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {value!r}")


JSON_ENCODER = json.JSONEncoder(default=_iso, separators=(",", ":"))


class JSONText(TypeDecorator[Any]):
    """JSON stored as text, with dates and datetimes written as ISO 8601 (same on SQLite and PostgreSQL)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else JSON_ENCODER.encode(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable names for migrations)."""

    metadata = MetaData(naming_convention=NAMING)


class _Versioned:
    """Primary key and optimistic-locking version shared by every registry record."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


def _patient_fk() -> Mapped[int]:
    """The owning patient (indexed by the table's natural-key unique constraint, which starts with it)."""
    return mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), nullable=False)


def _implant_fk() -> Mapped[int]:
    """The owning implant (indexed by the table's natural-key unique constraint, which starts with it)."""
    return mapped_column(ForeignKey("implants.id", ondelete="CASCADE"), nullable=False)


class Site(_Versioned, Base):
    __tablename__ = "sites"
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))


class Patient(_Versioned, Base):
    """A patient from screening to exit, with the baseline characteristics recorded at implant."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("site_id", "patient_code"),)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    patient_code: Mapped[str] = mapped_column(String(60))
    mrn: Mapped[str | None] = mapped_column(String(60))
    given_name: Mapped[str | None] = mapped_column(String(120))
    family_name: Mapped[str | None] = mapped_column(String(120))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    age_at_implant_years: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(10))
    enrolled_on: Mapped[dt.date | None] = mapped_column(Date)
    cancer_type: Mapped[str | None] = mapped_column(String(40))
    cancer_diagnosis_date: Mapped[dt.date | None] = mapped_column(Date)
    cancer_duration_months: Mapped[float | None] = mapped_column(Float)
    metastasis_sites: Mapped[list[str] | None] = mapped_column(JSON)
    prior_surgery: Mapped[bool | None] = mapped_column(Boolean)
    prior_chemoradiotherapy: Mapped[bool | None] = mapped_column(Boolean)
    prior_immunotherapy: Mapped[bool | None] = mapped_column(Boolean)
    prior_pain_procedure: Mapped[bool | None] = mapped_column(Boolean)
    pain_onset_date: Mapped[dt.date | None] = mapped_column(Date)
    pain_duration_months: Mapped[float | None] = mapped_column(Float)
    pain_locations: Mapped[list[str] | None] = mapped_column(JSON)
    bmi_kg_per_m2: Mapped[float | None] = mapped_column(Float)
    adl_score: Mapped[int | None] = mapped_column(Integer)
    ecog: Mapped[int | None] = mapped_column(Integer)
    karnofsky: Mapped[int | None] = mapped_column(Integer)
    wheelchair_or_cart: Mapped[bool | None] = mapped_column(Boolean)
    pressure_sores: Mapped[bool | None] = mapped_column(Boolean)
    skin_compromising_lines: Mapped[bool | None] = mapped_column(Boolean)
    adjuvant_drugs: Mapped[list[str] | None] = mapped_column(JSON)
    implant_reason: Mapped[str | None] = mapped_column(String(40))
    insurance: Mapped[str | None] = mapped_column(String(20))
    hospital_charge: Mapped[float | None] = mapped_column(Float)
    out_of_pocket_cost: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    last_contact_date: Mapped[dt.date | None] = mapped_column(Date)

    site: Mapped[Site] = relationship()
    implants: Mapped[list[Implant]] = relationship(back_populates="patient", order_by="Implant.implant_date")


class ScreeningTrial(_Versioned, Base):
    """An intrathecal (or epidural) screening trial before the implant."""

    __tablename__ = "screening_trials"
    __table_args__ = (UniqueConstraint("patient_id", "trial_number"),)
    patient_id: Mapped[int] = _patient_fk()
    trial_number: Mapped[int] = mapped_column(Integer)
    trial_date: Mapped[dt.date | None] = mapped_column(Date)
    drug: Mapped[str | None] = mapped_column(String(30))
    dose_mg: Mapped[float | None] = mapped_column(Float)
    route: Mapped[str | None] = mapped_column(String(20))
    response: Mapped[str | None] = mapped_column(String(20))


class Implant(_Versioned, Base):
    """One implanted pump system; a replacement or revision is a new record linked to the one it follows."""

    __tablename__ = "implants"
    __table_args__ = (UniqueConstraint("patient_id", "implant_date"),)
    patient_id: Mapped[int] = _patient_fk()
    implant_date: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20), default="initial")
    replaces_implant_id: Mapped[int | None] = mapped_column(ForeignKey("implants.id"))
    device_model: Mapped[str | None] = mapped_column(String(80))
    reservoir_ml: Mapped[float | None] = mapped_column(Float)
    serial_number: Mapped[str | None] = mapped_column(String(80), index=True)
    udi: Mapped[str | None] = mapped_column(String(255))
    insertion_level: Mapped[str | None] = mapped_column(String(10))
    catheter_tip_level: Mapped[str | None] = mapped_column(String(10))
    operation_minutes: Mapped[int | None] = mapped_column(Integer)
    total_stay_days: Mapped[int | None] = mapped_column(Integer)
    postop_stay_days: Mapped[int | None] = mapped_column(Integer)
    explant_date: Mapped[dt.date | None] = mapped_column(Date)
    explant_reason: Mapped[str | None] = mapped_column(String(40))

    patient: Mapped[Patient] = relationship(back_populates="implants")


class PumpProgram(_Versioned, Base):
    """A drug in the pump's program from ``started_at`` (an admixture is one row per drug)."""

    __tablename__ = "pump_programs"
    __table_args__ = (UniqueConstraint("implant_id", "started_at", "drug"),)
    implant_id: Mapped[int] = _implant_fk()
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    drug: Mapped[str] = mapped_column(String(30))
    concentration_mg_per_ml: Mapped[float] = mapped_column(Float)
    daily_dose_mg_per_day: Mapped[float] = mapped_column(Float)
    mode: Mapped[str | None] = mapped_column(String(20))
    bolus_dose_mg: Mapped[float | None] = mapped_column(Float)
    bolus_lockout_minutes: Mapped[int | None] = mapped_column(Integer)
    max_boluses_per_day: Mapped[int | None] = mapped_column(Integer)


class Bolus(_Versioned, Base):
    """A patient-requested bolus, delivered or refused."""

    __tablename__ = "boluses"
    __table_args__ = (UniqueConstraint("implant_id", "at"),)
    implant_id: Mapped[int] = _implant_fk()
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    drug: Mapped[str | None] = mapped_column(String(30))
    dose_mg: Mapped[float | None] = mapped_column(Float)
    delivered: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)


class Refill(_Versioned, Base):
    """A reservoir refill with the expected and withdrawn residual volumes and the next due date."""

    __tablename__ = "refills"
    __table_args__ = (UniqueConstraint("implant_id", "refilled_at"),)
    implant_id: Mapped[int] = _implant_fk()
    refilled_at: Mapped[dt.datetime] = mapped_column(DateTime)
    drug: Mapped[str | None] = mapped_column(String(30))
    concentration_mg_per_ml: Mapped[float | None] = mapped_column(Float)
    volume_added_ml: Mapped[float] = mapped_column(Float)
    expected_residual_ml: Mapped[float | None] = mapped_column(Float)
    withdrawn_residual_ml: Mapped[float | None] = mapped_column(Float)
    discrepancy_ml: Mapped[float | None] = mapped_column(Float)
    next_refill_due: Mapped[dt.date | None] = mapped_column(Date)


class RefillStatus(Base):
    """Derived, one row per implant: its latest refill, the next refill date that refill set (the reservoir's),
    the stability date of the solution it filled and the drug that sets it, the earlier of the two dates
    (``due_on``) with which one it is (``due_reason``, a :class:`openidds.clinic.refill_status.DueReason` value),
    and whether the implant is its patient's pump in place (``in_place``).

    Kept in step with ``refills``, ``pump_programs``, ``implants`` and ``exits`` in the same transaction (by the
    importer and by a flush hook, :func:`openidds.clinic.refill_status.refresh_refill_status`), so the refills-due
    list is one range of one index; not versioned or audited because it is computed, never edited.
    """

    __tablename__ = "refill_status"
    __table_args__ = (Index("ix_refill_status_in_place_due_on", "in_place", "due_on"),)
    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id", ondelete="CASCADE"), primary_key=True)
    last_refill_at: Mapped[dt.datetime] = mapped_column(DateTime)
    next_refill_due: Mapped[dt.date | None] = mapped_column(Date)
    stability_due: Mapped[dt.date | None] = mapped_column(Date)
    stability_drug: Mapped[str | None] = mapped_column(String(30))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    due_reason: Mapped[str | None] = mapped_column(String(20))
    in_place: Mapped[bool] = mapped_column(Boolean, server_default=false())


class PumpAlarm(_Versioned, Base):
    """An alarm or fault from the pump or programmer log."""

    __tablename__ = "pump_alarms"
    __table_args__ = (UniqueConstraint("implant_id", "at", "code"),)
    implant_id: Mapped[int] = _implant_fk()
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    code: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class PumpEvent(_Versioned, Base):
    """One entry of a pump's own event log, stored as the pump wrote it."""

    __tablename__ = "pump_events"
    __table_args__ = (UniqueConstraint("implant_id", "seq"),)
    implant_id: Mapped[int] = _implant_fk()
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ClinicAlarm(_Versioned, Base):
    """One alarm the clinic knows, however often it was seen (pump log, interrogation, a patient's or
    caregiver's report): its IEC 60601-1-8 priority, its state, and who acknowledged, was assigned and resolved
    it, and when (see :mod:`openidds.clinic.alarms`). User fields hold web user names, as the audit trail does."""

    __tablename__ = "clinic_alarms"
    __table_args__ = (UniqueConstraint("implant_id", "kind", "raised_at"), Index("ix_clinic_alarms_state", "state"))
    implant_id: Mapped[int] = _implant_fk()
    kind: Mapped[str] = mapped_column(String(60))
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime)
    severity: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    assigned_to: Mapped[str | None] = mapped_column(String(120))
    assigned_by: Mapped[str | None] = mapped_column(String(120))
    assigned_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolution: Mapped[str | None] = mapped_column(String(30))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class RefillAppointment(_Versioned, Base):
    """A booked refill visit: the implant, when (naive UTC) and for how long, at the clinic or at home, the
    clinician who does it, who booked it and when, and who cancelled it (a cancelled one stays, for the feed)."""

    __tablename__ = "refill_appointments"
    __table_args__ = (Index("ix_refill_appointments_starts_at", "starts_at"),
                      Index("ix_refill_appointments_clinician", "clinician"))
    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    place: Mapped[str] = mapped_column(String(10))
    clinician: Mapped[str] = mapped_column(String(120))
    booked_by: Mapped[str] = mapped_column(String(120))
    booked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(120))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Visit(_Versioned, Base):
    """A baseline or follow-up assessment: pain, quality of life, systemic opioids, satisfaction."""

    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("patient_id", "visit_date", "visit_type"),)
    patient_id: Mapped[int] = _patient_fk()
    visit_date: Mapped[dt.date] = mapped_column(Date)
    visit_type: Mapped[str] = mapped_column(String(20))
    nrs: Mapped[int | None] = mapped_column(Integer)
    eq5d_version: Mapped[str | None] = mapped_column(String(2))
    eq5d_mobility: Mapped[int | None] = mapped_column(Integer)
    eq5d_self_care: Mapped[int | None] = mapped_column(Integer)
    eq5d_usual_activities: Mapped[int | None] = mapped_column(Integer)
    eq5d_pain_discomfort: Mapped[int | None] = mapped_column(Integer)
    eq5d_anxiety_depression: Mapped[int | None] = mapped_column(Integer)
    eq5d_vas: Mapped[int | None] = mapped_column(Integer)
    eq5d_index: Mapped[float | None] = mapped_column(Float)
    systemic_opioid: Mapped[bool | None] = mapped_column(Boolean)
    ome_mg_per_day: Mapped[float | None] = mapped_column(Float)
    opioid_change: Mapped[str | None] = mapped_column(String(20))
    satisfaction: Mapped[str | None] = mapped_column(String(20))
    satisfaction_respondent: Mapped[str | None] = mapped_column(String(10))
    dissatisfaction_reason: Mapped[str | None] = mapped_column(String(20))


class Complication(_Versioned, Base):
    """An adverse event with its grade (see ``vocabulary.SEVERITY_GRADES``) and the action it led to."""

    __tablename__ = "complications"
    __table_args__ = (UniqueConstraint("patient_id", "kind", "onset_date"),)
    patient_id: Mapped[int] = _patient_fk()
    implant_id: Mapped[int | None] = mapped_column(ForeignKey("implants.id"))
    kind: Mapped[str] = mapped_column(String(40))
    onset_date: Mapped[dt.date] = mapped_column(Date)
    grade: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    resolved_date: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)


class Exit(_Versioned, Base):
    """The end of a patient's registry follow-up."""

    __tablename__ = "exits"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), unique=True)
    exit_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(30))
    death_date: Mapped[dt.date | None] = mapped_column(Date)
    cause_of_death: Mapped[str | None] = mapped_column(Text)


class ImplantPumpState(_Versioned, Base):
    """The programmer's state of an implant's pump: the content of a pump state file (format
    ``openidds-pump-state/3`` without its checksum: the pump's description, the journal of the commands it
    accepted and every session log line). The web app programs and refills this pump; the row's ``version``
    makes a change made from a stale view fail."""

    __tablename__ = "pump_states"
    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id", ondelete="CASCADE"), unique=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONText)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(120))


class ProgramProposal(_Versioned, Base):
    """A therapy change proposed for an implant's pump, waiting for a clinician's confirmation: the order as
    entered, the pump state version it was made against, who proposed it and when, and how it was closed."""

    __tablename__ = "program_proposals"
    __table_args__ = (Index("ix_program_proposals_implant_status", "implant_id", "status"),)
    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id", ondelete="CASCADE"))
    state_version: Mapped[int] = mapped_column(Integer)
    therapy_order: Mapped[dict[str, Any]] = mapped_column(JSONText)
    proposed_by: Mapped[str] = mapped_column(String(120))
    proposed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))
    closed_by: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closing_note: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who changed what, when, with the values before and after; written in the change's own transaction."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_record", "table_name", "record_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    user_name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(10))
    table_name: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONText)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONText)
    source: Mapped[str | None] = mapped_column(String(255))


class EscalationState(_Versioned, Base):
    """Where one alarm's escalation stands (:mod:`openidds.escalation`), one row per alarm id.

    ``next_due_at`` is when the dispatcher must look at it again (a tier's timeout, the end of quiet hours);
    ``deliveries`` holds the current tier's notification keys and their status.
    """

    __tablename__ = "escalations"
    alarm_id: Mapped[int] = mapped_column(Integer, unique=True)
    alarm_kind: Mapped[str] = mapped_column(String(60))
    priority: Mapped[str] = mapped_column(String(10))
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime)
    phase: Mapped[str] = mapped_column(String(20))
    tier: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    deliveries: Mapped[list[list[str]]] = mapped_column(JSONText)
    patient_contacts: Mapped[list[list[str]]] = mapped_column(JSONText)
    patient_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    next_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    policy_version: Mapped[int | None] = mapped_column(ForeignKey("escalation_policies.number"))
    """The policy version it escalates under, kept from its raising to its end (none: raised before policies
    were stored in the registry; it follows the current version)."""


class EscalationPolicyVersion(_Versioned, Base):
    """One version of the clinic's escalation policy (:class:`openidds.escalation.Policy`, as the values of its
    file), numbered from 1; the highest number is the current policy. A version is never changed: an edit
    installs the next one."""

    __tablename__ = "escalation_policies"
    number: Mapped[int] = mapped_column(Integer, unique=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONText)
    installed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    installed_by: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(255))


class ClinicSetting(_Versioned, Base):
    """The clinic's settings: one row (id 1), absent until a setting is first made. ``time_zone``: the IANA zone
    its staff read and enter times in (:mod:`openidds.clinic.time_zone`; every stored time stays naive UTC)."""

    __tablename__ = "clinic_settings"
    time_zone: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    changed_by: Mapped[str] = mapped_column(String(120))


class OutboxMessage(_Versioned, Base):
    """A notification escalation decided to send, written in the same transaction as that decision; the
    dispatcher claims it (``claimed_until``), sends it, and marks it delivered or failed. One row per
    ``idempotency_key`` (alarm, tier, recipient, channel), so a tier is never notified twice."""

    __tablename__ = "escalation_outbox"
    __table_args__ = (Index("ix_escalation_outbox_status", "status", "claimed_until"),)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    alarm_id: Mapped[int] = mapped_column(Integer, index=True)
    tier: Mapped[int] = mapped_column(Integer)
    audience: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(255))
    priority: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class EscalationLogEntry(Base):
    """One step of an escalation and why (raised, notified, delivered, failed, escalated, acknowledged...)."""

    __tablename__ = "escalation_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    who: Mapped[str | None] = mapped_column(String(120))


class BoardMessage(_Versioned, Base):
    """A notification on the web app's alarm board for one user, unread until they open it."""

    __tablename__ = "board_messages"
    __table_args__ = (Index("ix_board_messages_unread", "user_name", "read_at"),)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    user_name: Mapped[str] = mapped_column(String(120))
    alarm_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
