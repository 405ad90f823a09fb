"""FHIR R4 export: a ``collection`` Bundle built and validated with ``fhir.resources`` (R4B models), then checked
against our own value rules, which the models do not enforce (code bindings, value ranges, references).

Codes (sources in docs/registry.md): pain NRS LOINC 72514-3; EQ-5D-5L index SNOMED 736534008; EQ VAS SNOMED
736535009; intrathecal route SNOMED 72607000; palliative intent SNOMED 363676003; procedures as CPT code values
only (62362 pump implant, 62365 explant [R], 95991 refill). Drugs are sent as text: no RxNorm code for them could
be verified [R].
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import Engine

from openidds.clinic import store
from openidds.clinic.database import sessions
from openidds.clinic.errors import RegistryError
from openidds.clinic.findings import Finding
from openidds.clinic.record import Record

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
PATIENT_ID_SYSTEM = "urn:openidds:patient:"
NRS_LOINC = "72514-3"
EQ5D_INDEX = "736534008"
EQ_VAS = "736535009"
INTRATHECAL = "72607000"
PALLIATIVE = "363676003"
CPT_IMPLANT, CPT_EXPLANT, CPT_REFILL = "62362", "62365", "95991"
RATE_UNITS = {"mg/d"}
GENDERS = {"female", "male", "other", "unknown"}
_SURVEY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}


def _id(*parts: Any) -> str:
    text = "-".join(str(p) for p in parts)
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)[:64]


def _when(value: Any) -> str:
    return value.isoformat() + "Z" if isinstance(value, dt.datetime) else value.isoformat()


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def full_url(resource: dict[str, Any]) -> str:
    """The resource's stable ``urn:uuid`` inside the bundle (a UUID5 of its type and id)."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"openidds/{resource['resourceType']}/{resource['id']}"))


def _ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": full_url(resource)}


def _patient_resources(records: list[Record]) -> list[dict[str, Any]]:
    kinds: dict[str, list[Record]] = {}
    for record in records:
        kinds.setdefault(record.spec.name, []).append(record)
    patient = kinds["patients"][0]
    site, code = patient.patient
    pid = _id("pat", site, code)
    exit_ = next(iter(kinds.get("exits", [])), None)
    pat: dict[str, Any] = {"resourceType": "Patient", "id": pid, "gender": patient.get("sex"),
                           "identifier": [{"system": PATIENT_ID_SYSTEM + site, "value": code}]}
    if patient.get("birth_date"):
        pat["birthDate"] = patient.get("birth_date").isoformat()
    if exit_ is not None and exit_.get("death_date"):
        pat["deceasedDateTime"] = exit_.get("death_date").isoformat()
    out = [pat]
    subject = _ref(pat)
    if patient.get("cancer_type"):
        condition = {"resourceType": "Condition", "id": _id("cancer", site, code), "subject": subject,
                     "code": {"text": f"{patient.get('cancer_type')} cancer"}}
        if patient.get("cancer_diagnosis_date"):
            condition["onsetDateTime"] = patient.get("cancer_diagnosis_date").isoformat()
        out.append(condition)
    devices: dict[dt.date | None, dict[str, Any]] = {}  # keyed like Record.implant_date
    for implant in sorted(kinds.get("implants", []), key=lambda r: r.get("implant_date")):
        day = implant.get("implant_date")
        device: dict[str, Any] = {"resourceType": "Device", "id": _id("pump", site, code, day), "patient": subject,
                                  "status": "inactive" if implant.get("explant_date") else "active",
                                  "type": {"text": "Implantable intrathecal infusion pump"}}
        if implant.get("serial_number"):
            device["serialNumber"] = implant.get("serial_number")
        if implant.get("udi"):
            device["udiCarrier"] = [{"carrierHRF": implant.get("udi")}]
        if implant.get("device_model"):
            device["deviceName"] = [{"name": implant.get("device_model"), "type": "model-name"}]
        devices[day] = device
        out.append(device)
        out.append({"resourceType": "Procedure", "id": _id("implant", site, code, day), "status": "completed",
                    "subject": subject, "performedDateTime": day.isoformat(),
                    "code": _coding(CPT, CPT_IMPLANT, "Intrathecal pump implant"),
                    "focalDevice": [{"manipulated": _ref(device)}]})
        if implant.get("explant_date"):
            out.append({"resourceType": "Procedure", "id": _id("explant", site, code, day), "status": "completed",
                        "subject": subject, "performedDateTime": implant.get("explant_date").isoformat(),
                        "code": _coding(CPT, CPT_EXPLANT, "Intrathecal pump explant"),
                        "focalDevice": [{"manipulated": _ref(device)}]})
    for refill in kinds.get("refills", []):
        out.append({"resourceType": "Procedure", "id": _id("refill", site, code, refill.get("refilled_at")),
                    "status": "completed", "subject": subject, "performedDateTime": _when(refill.get("refilled_at")),
                    "code": _coding(CPT, CPT_REFILL, "Intrathecal pump refill"),
                    "focalDevice": [{"manipulated": _ref(devices[refill.implant_date])}]})
    for program in kinds.get("programs", []):
        out.append({
            "resourceType": "MedicationRequest", "id": _id("rx", site, code, program.get("started_at"),
                                                           program.get("drug")),
            "status": "active" if devices[program.implant_date]["status"] == "active" else "completed",
            "intent": "order", "subject": subject, "authoredOn": _when(program.get("started_at")),
            "medicationCodeableConcept": {"text": program.get("drug")},
            "extension": [{"url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-procedure-intent",
                           "valueCodeableConcept": _coding(SNOMED, PALLIATIVE, "Palliative - procedure intent")}],
            "dosageInstruction": [{
                "route": _coding(SNOMED, INTRATHECAL, "Intrathecal route"),
                "doseAndRate": [{"rateQuantity": {"value": program.get("daily_dose_mg_per_day"), "unit": "mg/d",
                                                  "system": UCUM, "code": "mg/d"}}]}]})
    for visit in kinds.get("visits", []):
        day = visit.get("visit_date").isoformat()
        for field, system, concept, display, key in (
                ("nrs", LOINC, NRS_LOINC, "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                 "valueInteger"),
                ("eq5d_index", SNOMED, EQ5D_INDEX, "EuroQol five dimension five level index value", "valueQuantity"),
                ("eq5d_vas", SNOMED, EQ_VAS, "EuroQol visual analogue score", "valueInteger")):
            value = visit.get(field)
            if value is None or (field == "eq5d_index" and visit.get("eq5d_version") != "5L"):
                continue
            out.append({"resourceType": "Observation", "id": _id(field, site, code, day, visit.get("visit_type")),
                        "status": "final", "category": [_SURVEY], "code": _coding(system, concept, display),
                        "subject": subject, "effectiveDateTime": day,
                        key: {"value": value} if key == "valueQuantity" else value})
    for complication in kinds.get("complications", []):
        grade = complication.get("grade")
        event: dict[str, Any] = {
            "resourceType": "AdverseEvent", "id": _id("ae", site, code, complication.get("kind"),
                                                      complication.get("onset_date")),
            "actuality": "actual", "subject": subject, "date": complication.get("onset_date").isoformat(),
            "event": {"text": complication.get("kind").replace("_", " ")},
            "severity": _coding("http://terminology.hl7.org/CodeSystem/adverse-event-severity",
                                {1: "mild", 2: "moderate"}.get(grade, "severe"),
                                {1: "Mild", 2: "Moderate"}.get(grade, "Severe"))}
        if complication.extra.get("implant_id") is not None:
            suspect = next((d for day, d in sorted(devices.items(), reverse=True)
                            if complication.get("onset_date") >= day), None)
            if suspect is not None:
                event["suspectEntity"] = [{"instance": _ref(suspect)}]
        out.append(event)
    return out


def value_findings(bundle: dict[str, Any]) -> list[Finding]:
    """Our value rules on a bundle: bindings, ranges and references that fhir.resources does not check."""
    found: list[Finding] = []
    ids = {e["fullUrl"] for e in bundle["entry"]}

    def bad(resource: dict[str, Any], message: str) -> None:
        found.append(Finding("fhir-value", f"{resource['resourceType']}/{resource['id']}", message))

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["reference"]] if isinstance(node.get("reference"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for entry in bundle["entry"]:
        r = entry["resource"]
        kind = r["resourceType"]
        for target in refs(r):
            if target not in ids:
                bad(r, f"reference {target} is not in the bundle")
        if kind == "Patient" and r.get("gender") not in GENDERS:
            bad(r, f"gender={r.get('gender')!r}: expected one of {sorted(GENDERS)}")
        if kind == "Observation":
            code = r["code"]["coding"][0]["code"]
            value = r.get("valueInteger", r.get("valueQuantity", {}).get("value"))
            limits = {NRS_LOINC: (0, 10), EQ_VAS: (0, 100), EQ5D_INDEX: (-1, 1)}.get(code)
            if limits is None:
                bad(r, f"code {code} is not an exported observation code")
            elif value is None or not limits[0] <= value <= limits[1]:
                bad(r, f"value={value!r}: expected {limits[0]} to {limits[1]} for code {code}")
            if r.get("status") != "final":
                bad(r, f"status={r.get('status')!r}: expected final")
        if kind == "MedicationRequest":
            dosage = r["dosageInstruction"][0]
            if dosage["route"]["coding"][0]["code"] != INTRATHECAL:
                bad(r, "route is not intrathecal (SNOMED 72607000)")
            rate = dosage["doseAndRate"][0]["rateQuantity"]
            if rate["code"] not in RATE_UNITS or rate["system"] != UCUM or rate["value"] < 0:
                bad(r, f"rate {rate}: expected a non-negative UCUM mg/d quantity")
            if r.get("status") not in {"active", "completed", "stopped", "on-hold"}:
                bad(r, f"status={r.get('status')!r}")
        if kind == "Procedure" and r.get("status") != "completed":
            bad(r, f"status={r.get('status')!r}: expected completed")
    return found


def fhir_bundle(engine: Engine) -> Bundle:
    """The whole registry as a FHIR R4 collection Bundle, validated by the R4B models and our value rules;
    raises :class:`RegistryError` listing the broken rules. ``.json()`` gives the document."""
    with sessions(engine)() as session:
        snapshot = store.load(session)
    resources = [r for records in snapshot.by_patient().values()
                 if any(x.spec.name == "patients" for x in records) for r in _patient_resources(records)]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": full_url(r), "resource": r} for r in resources]}
    validated = Bundle.parse_obj(bundle)
    checked = value_findings(bundle)
    if checked:
        raise RegistryError("FHIR bundle", f"{len(checked)} value errors",
                            "values within our rules: " + "; ".join(f"{f.record}: {f.message}" for f in checked[:5]))
    return validated
