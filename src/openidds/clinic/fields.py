"""The documented mapping: for each kind of record, the columns an import file carries and their rules.

One declaration drives the CSV importer, the REDCap importer and dictionary, the value checks and the
documentation. Every row names its patient by ``site`` and ``patient_id``; rows about a pump also carry the
event time and may give ``pump_serial``, and the importer links them to the implant in place at that time.
"""

from __future__ import annotations

from dataclasses import dataclass

from openidds.clinic import models
from openidds.clinic import vocabulary as v

LEVEL_PATTERN = r"^[CTLS][0-9]{1,2}(/[0-9]{1,2})?$"


@dataclass(frozen=True)
class Field:
    """One column: its value type, limits and meaning.

    ``kind`` is one of int, float, date, datetime, bool, text, choice, multi (several choices, ``;``-separated
    in CSV, ``name___code`` checkboxes in REDCap). Datetimes need an offset or ``Z``; they are stored in UTC.
    """

    name: str
    kind: str
    label: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    identifier: bool = False
    unit: str | None = None


@dataclass(frozen=True)
class RecordSpec:
    """A kind of record: its table, parent (``patient`` or ``implant``), natural key and fields."""

    name: str
    model: type[models.Base]
    parent: str | None
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    label: str
    event_time: str | None = None
    repeating: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _choice(name: str, label: str, choices: tuple[str, ...], required: bool = False) -> Field:
    return Field(name, "choice", label, required=required, choices=choices)


def _multi(name: str, label: str, choices: tuple[str, ...]) -> Field:
    return Field(name, "multi", label, choices=choices)


def _bool(name: str, label: str) -> Field:
    return Field(name, "bool", label)


def _ml(name: str, label: str, required: bool = False) -> Field:
    return Field(name, "float", label, required=required, minimum=0, maximum=60, unit="mL")


PATIENT = RecordSpec("patients", models.Patient, None, (), label="Patient and baseline", repeating=False, fields=(
    Field("mrn", "text", "Medical record number", identifier=True),
    Field("given_name", "text", "Given name", identifier=True),
    Field("family_name", "text", "Family name", identifier=True),
    Field("postal_code", "text", "Postal code", identifier=True),
    Field("birth_date", "date", "Birth date", identifier=True),
    Field("age_at_implant_years", "int", "Age at first implant (when no birth date)", minimum=0, maximum=120,
          unit="a"),
    _choice("sex", "Sex", v.SEX, required=True),
    Field("enrolled_on", "date", "Registry enrolment date"),
    _choice("cancer_type", "Primary cancer", v.CANCER_TYPES),
    Field("cancer_diagnosis_date", "date", "Cancer diagnosis date"),
    Field("cancer_duration_months", "float", "Cancer duration at implant (when no diagnosis date)", minimum=0,
          maximum=1200, unit="mo"),
    _multi("metastasis_sites", "Metastasis sites", v.METASTASIS_SITES),
    _bool("prior_surgery", "Prior cancer surgery"),
    _bool("prior_chemoradiotherapy", "Prior chemo- or radiotherapy"),
    _bool("prior_immunotherapy", "Prior immunotherapy"),
    _bool("prior_pain_procedure", "Prior interventional pain procedure"),
    Field("pain_onset_date", "date", "Pain onset date"),
    Field("pain_duration_months", "float", "Pain duration at implant (when no onset date)", minimum=0,
          maximum=1200, unit="mo"),
    _multi("pain_locations", "Pain locations", v.PAIN_LOCATIONS),
    Field("bmi_kg_per_m2", "float", "Body mass index", minimum=8, maximum=80, unit="kg/m2"),
    Field("adl_score", "int", "Activities of daily living score (Barthel, 0-100)", minimum=0, maximum=100),
    Field("ecog", "int", "ECOG performance status", minimum=0, maximum=5),
    Field("karnofsky", "int", "Karnofsky performance status", minimum=0, maximum=100),
    _bool("wheelchair_or_cart", "Admitted by wheelchair or cart"),
    _bool("pressure_sores", "Pressure sores"),
    _bool("skin_compromising_lines", "Skin-compromising indwelling lines"),
    _multi("adjuvant_drugs", "Adjuvant drugs", v.ADJUVANT_DRUGS),
    _choice("implant_reason", "Reason for the implant", v.IMPLANT_REASONS),
    _choice("insurance", "Insurance", v.INSURANCE),
    Field("hospital_charge", "float", "Total hospital charge", minimum=0),
    Field("out_of_pocket_cost", "float", "Cost paid by the patient", minimum=0),
    Field("currency", "text", "Currency (ISO 4217)", pattern=r"^[A-Z]{3}$"),
    Field("last_contact_date", "date", "Last contact date"),
))

TRIAL = RecordSpec("screening_trials", models.ScreeningTrial, "patient", ("trial_number",), label="Screening trial",
                   fields=(
    Field("trial_number", "int", "Trial number (1 = first)", required=True, minimum=1, maximum=10),
    Field("trial_date", "date", "Trial date"),
    _choice("drug", "Trial drug", v.DRUGS),
    Field("dose_mg", "float", "Trial dose", minimum=0, maximum=100, unit="mg"),
    _choice("route", "Trial route", v.TRIAL_ROUTES),
    _choice("response", "Response", v.TRIAL_RESPONSES),
))

IMPLANT = RecordSpec("implants", models.Implant, "patient", ("implant_date",), label="Implant", fields=(
    Field("implant_date", "date", "Implant date", required=True),
    _choice("kind", "Initial implant, replacement or revision", v.IMPLANT_KINDS, required=True),
    Field("device_model", "text", "Pump model"),
    Field("reservoir_ml", "float", "Reservoir size", minimum=1, maximum=60, unit="mL"),
    Field("serial_number", "text", "Pump serial number", identifier=True),
    Field("udi", "text", "UDI (human-readable form)", identifier=True),
    Field("insertion_level", "text", "Catheter insertion level (e.g. L2/3)", pattern=LEVEL_PATTERN),
    Field("catheter_tip_level", "text", "Catheter tip level (e.g. T6)", pattern=LEVEL_PATTERN),
    Field("operation_minutes", "int", "Operation time", minimum=1, maximum=1440, unit="min"),
    Field("total_stay_days", "int", "Total length of stay", minimum=0, maximum=365, unit="d"),
    Field("postop_stay_days", "int", "Postoperative length of stay", minimum=0, maximum=365, unit="d"),
    Field("explant_date", "date", "Explant date"),
    _choice("explant_reason", "Explant reason", v.EXPLANT_REASONS),
))

PROGRAM = RecordSpec("programs", models.PumpProgram, "implant", ("started_at", "drug"), label="Pump program",
                     event_time="started_at", fields=(
    Field("started_at", "datetime", "Program start", required=True),
    _choice("drug", "Drug", v.DRUGS, required=True),
    Field("concentration_mg_per_ml", "float", "Concentration", required=True, minimum=1e-6, maximum=100,
          unit="mg/mL"),
    Field("daily_dose_mg_per_day", "float", "Daily dose", required=True, minimum=0, maximum=1000, unit="mg/d"),
    _choice("mode", "Program mode", v.PROGRAM_MODES),
    Field("bolus_dose_mg", "float", "Patient bolus dose", minimum=0, maximum=100, unit="mg"),
    Field("bolus_lockout_minutes", "int", "Bolus lockout", minimum=0, maximum=1440, unit="min"),
    Field("max_boluses_per_day", "int", "Maximum boluses per day", minimum=0, maximum=48),
))

BOLUS = RecordSpec("boluses", models.Bolus, "implant", ("at",), label="Patient bolus", event_time="at", fields=(
    Field("at", "datetime", "Bolus time", required=True),
    _choice("drug", "Drug", v.DRUGS),
    Field("dose_mg", "float", "Bolus dose", minimum=0, maximum=100, unit="mg"),
    Field("delivered", "bool", "Delivered (0 = refused)", required=True),
    Field("reason", "text", "Reason given by the pump"),
))

REFILL = RecordSpec("refills", models.Refill, "implant", ("refilled_at",), label="Refill", event_time="refilled_at",
                    fields=(
    Field("refilled_at", "datetime", "Refill time", required=True),
    _choice("drug", "Drug", v.DRUGS),
    Field("concentration_mg_per_ml", "float", "Concentration", minimum=1e-6, maximum=100, unit="mg/mL"),
    _ml("volume_added_ml", "Volume filled", required=True),
    _ml("expected_residual_ml", "Expected residual volume"),
    _ml("withdrawn_residual_ml", "Withdrawn residual volume"),
    Field("next_refill_due", "date", "Next refill due"),
))

ALARM = RecordSpec("alarms", models.PumpAlarm, "implant", ("at", "code"), label="Alarm or fault", event_time="at",
                   fields=(
    Field("at", "datetime", "Alarm time", required=True),
    Field("code", "text", "Alarm code (e.g. low_reservoir, motor_stall)", required=True, pattern=r"^[a-z0-9_]+$"),
    _choice("kind", "Alarm or fault", v.ALARM_KINDS, required=True),
    _choice("severity", "Severity", v.ALARM_SEVERITIES),
    _choice("source", "Logged by", v.ALARM_SOURCES),
    Field("description", "text", "Description"),
    Field("resolved_at", "datetime", "Resolved at"),
))

VISIT = RecordSpec("visits", models.Visit, "patient", ("visit_date", "visit_type"), label="Visit", fields=(
    Field("visit_date", "date", "Visit date", required=True),
    _choice("visit_type", "Visit type", v.VISIT_TYPES, required=True),
    Field("nrs", "int", "Pain NRS (0-10)", minimum=0, maximum=10),
    _choice("eq5d_version", "EQ-5D version", v.EQ5D_VERSIONS),
    *(Field(f"eq5d_{dim}", "int", f"EQ-5D {dim.replace('_', ' ')} level", minimum=1, maximum=5)
      for dim in ("mobility", "self_care", "usual_activities", "pain_discomfort", "anxiety_depression")),
    Field("eq5d_vas", "int", "EQ VAS (0-100)", minimum=0, maximum=100),
    Field("eq5d_index", "float", "EQ-5D index value", minimum=-1, maximum=1),
    _bool("systemic_opioid", "On systemic opioids"),
    Field("ome_mg_per_day", "float", "Systemic opioids as oral morphine equivalents", minimum=0, maximum=100000,
          unit="mg/d"),
    _choice("opioid_change", "Systemic opioid since implant", v.OPIOID_CHANGES),
    _choice("satisfaction", "Satisfaction with the therapy", v.SATISFACTION),
    _choice("satisfaction_respondent", "Satisfaction reported by", v.RESPONDENTS),
    _choice("dissatisfaction_reason", "Main reason for dissatisfaction", v.DISSATISFACTION_REASONS),
))

COMPLICATION = RecordSpec("complications", models.Complication, "patient", ("kind", "onset_date"),
                          label="Complication", fields=(
    _choice("kind", "Complication", v.COMPLICATION_KINDS, required=True),
    Field("onset_date", "date", "Onset date", required=True),
    Field("grade", "int", "Grade (1 mild .. 5 death, CTCAE-style)", required=True, minimum=1, maximum=5),
    _choice("action", "Resulting action", v.COMPLICATION_ACTIONS, required=True),
    Field("resolved_date", "date", "Resolved date"),
    Field("note", "text", "Note"),
))

EXIT = RecordSpec("exits", models.Exit, "patient", (), label="Exit", repeating=False, fields=(
    Field("exit_date", "date", "Exit date (end of follow-up)", required=True),
    _choice("reason", "Exit reason", v.EXIT_REASONS, required=True),
    Field("death_date", "date", "Death date"),
    Field("cause_of_death", "text", "Cause of death"),
))

SPECS: dict[str, RecordSpec] = {s.name: s for s in (PATIENT, TRIAL, IMPLANT, VISIT, COMPLICATION, EXIT, PROGRAM,
                                                     REFILL, ALARM, BOLUS)}
REFERENCE_COLUMNS = ("site", "patient_id")
PUMP_SERIAL = "pump_serial"


def reference_columns(spec: RecordSpec) -> tuple[str, ...]:
    """The columns naming a row's patient (and pump) besides the spec's own fields."""
    return REFERENCE_COLUMNS + ((PUMP_SERIAL,) if spec.parent == "implant" else ())
