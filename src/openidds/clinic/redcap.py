"""REDCap in and out: a data dictionary generated from the registry mapping, the registry as a project's records
export (flat CSV, raw values; whole, or de-identified for research), and the import of such an export with its
data dictionary.

Mapping. The record ID is the patient ID; the ``patients`` form carries ``site``. Each kind of record is one
instrument named like the kind (``visits``, ``refills``, ...), repeating except ``patients`` and ``exits``.
Field names are the registry column names, prefixed by the instrument's prefix unless they start with it
(``implant_date``, ``implant_serial_number``, ``refill_drug``, ``prog_drug``); multi-choice fields are
checkboxes exported as ``name___code``. REDCap date-times carry no zone: they are read as UTC, as the
dictionary's field note says. Longitudinal exports (``redcap_event_name``) are read the same way: each row
gives one record per instrument with data in it. The records export written here is classic (no events): per
patient one row of the non-repeating instruments, then one row per repeating instance; its columns follow the
dictionary, each form's ``<form>_complete`` right after that form's last field, as REDCap's own exports place it.
The research records export has its own dictionary (:func:`research_data_dictionary`), which declares exactly
its columns and values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from openidds.clinic import store
from openidds.clinic.csv_io import csv_rows
from openidds.clinic.database import sessions
from openidds.clinic.deidentify import AGE_TOP, AGE_TOP_NOTE, deidentified_records, research_field
from openidds.clinic.errors import RegistryError
from openidds.clinic.fields import PUMP_SERIAL, SPECS, Field, RecordSpec
from openidds.clinic.findings import Finding
from openidds.clinic.importer import Batch, parse_rows
from openidds.clinic.values import MULTI_SEPARATOR, cell_text
from openidds.formula_cells import neutralised

PREFIX = {"patients": "", "screening_trials": "trial", "implants": "implant", "visits": "visit",
          "complications": "comp", "exits": "exit", "programs": "prog", "refills": "refill", "alarms": "alarm",
          "boluses": "bolus"}
RECORD_ID = "record_id"
SITE = "site"
HEADER = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
          "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
          "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
          "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
          "Matrix Ranking?", "Field Annotation"]
_API_KEYS = dict(zip(["field_name", "form_name", "section_header", "field_type", "field_label",
                      "select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number",
                      "text_validation_min", "text_validation_max", "identifier", "branching_logic",
                      "required_field", "custom_alignment", "question_number", "matrix_group_name",
                      "matrix_ranking", "field_annotation"], HEADER, strict=True))
REPEAT_INSTRUMENT = "redcap_repeat_instrument"
REPEAT_INSTANCE = "redcap_repeat_instance"
_NUMBERS = {"Text Validation Min", "Text Validation Max"}
"""Dictionary columns that hold numbers (a minimum of -1 is a number, not formula text to neutralise)."""
_META = {RECORD_ID, "redcap_event_name", REPEAT_INSTRUMENT, REPEAT_INSTANCE, "redcap_data_access_group",
         "redcap_survey_identifier"}
COMPLETE = "2"
"""The ``<form>_complete`` status written for each instrument a row carries: REDCap's raw code of "Complete"
(the registry's records have passed its checks)."""


def redcap_name(spec: RecordSpec, name: str) -> str:
    """The REDCap variable of registry column ``name`` of ``spec``."""
    prefix = PREFIX[spec.name]
    return name if not prefix or name.startswith(prefix + "_") else f"{prefix}_{name}"


def _columns(spec: RecordSpec) -> list[tuple[str, Field | None]]:
    extra: list[tuple[str, Field | None]] = [(SITE, None)] if spec.name == "patients" else []
    if spec.parent == "implant":
        extra.append((PUMP_SERIAL, None))
    return extra + [(f.name, f) for f in spec.fields]


Kept = set[tuple[str, str]]
"""The (record kind, registry column) pairs an export carries."""


def _mapped(keep: Kept) -> list[tuple[RecordSpec, str, Field | None]]:
    """The mapping's columns in dictionary order, as (kind, registry column, field), those in ``keep``."""
    return [(spec, name, f) for spec in SPECS.values() for name, f in _columns(spec) if (spec.name, name) in keep]


_WHOLE: Kept = {(spec.name, name) for spec in SPECS.values() for name, _ in _columns(spec)}
"""The whole registry's columns."""
_RESEARCH: Kept = {(spec.name, f.name) for spec in SPECS.values() for f in spec.fields if research_field(f)}
"""The research export's columns: no site, pump serial, identifier or free text."""
_AGE = ("patients", "age_at_implant_years")


def variables() -> dict[str, tuple[RecordSpec, str]]:
    """Every REDCap variable of the mapping, to its record kind and registry column."""
    return {redcap_name(spec, name): (spec, name) for spec in SPECS.values() for name, _ in _columns(spec)}


def _label(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _dictionary_row(spec: RecordSpec, name: str, f: Field | None) -> dict[str, str]:
    row = dict.fromkeys(HEADER, "")
    row.update({"Variable / Field Name": redcap_name(spec, name), "Form Name": spec.name, "Field Type": "text"})
    if f is None:
        label = "Site code" if name == SITE else "Pump serial number (when the patient has had several pumps)"
        row.update({"Field Label": label, "Required Field?": "y" if name == SITE else ""})
        return row
    row["Field Label"] = f.label + (f" ({f.unit})" if f.unit else "")
    row["Identifier?"] = "y" if f.identifier else ""
    row["Required Field?"] = "y" if f.required else ""
    if f.kind in ("choice", "multi"):
        row["Field Type"] = "dropdown" if f.kind == "choice" else "checkbox"
        row["Choices, Calculations, OR Slider Labels"] = " | ".join(f"{c}, {_label(c)}" for c in f.choices)
    elif f.kind == "bool":
        row["Field Type"] = "yesno"
    elif f.kind in ("int", "float"):
        row["Text Validation Type OR Show Slider Number"] = "integer" if f.kind == "int" else "number"
        row["Text Validation Min"] = "" if f.minimum is None else f"{f.minimum:g}"
        row["Text Validation Max"] = "" if f.maximum is None else f"{f.maximum:g}"
    elif f.kind == "date":
        row["Text Validation Type OR Show Slider Number"] = "date_ymd"
    elif f.kind == "datetime":
        row["Text Validation Type OR Show Slider Number"] = "datetime_seconds_ymd"
        row["Field Note"] = "UTC"
    return row


def _research_row(spec: RecordSpec, name: str, f: Field | None) -> dict[str, str]:
    """A research dictionary row: the age at first implant is top-coded at 90, which means 90 or older."""
    row = _dictionary_row(spec, name, f)
    if (spec.name, name) == _AGE:
        row.update({"Field Label": "Age at first implant (a)", "Text Validation Max": str(AGE_TOP),
                    "Field Note": AGE_TOP_NOTE})
    return row


def _dictionary_csv(record_label: str, rows: Iterable[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    first = dict.fromkeys(HEADER, "")
    first.update({"Variable / Field Name": RECORD_ID, "Form Name": "patients", "Field Type": "text",
                  "Field Label": record_label})
    writer.writerow(first)
    for row in rows:
        writer.writerow({k: v if k in _NUMBERS else neutralised(v) for k, v in row.items()})
    return out.getvalue()


def data_dictionary() -> str:
    """The REDCap data dictionary CSV of the whole registry (upload it to start a project)."""
    return _dictionary_csv("Patient ID (registry patient_id)",
                           (_dictionary_row(spec, name, f) for spec, name, f in _mapped(_WHOLE)))


def research_data_dictionary() -> str:
    """The REDCap data dictionary CSV of :func:`research_redcap_records` (a project for the de-identified
    records): the research variables only, the age at first implant an integer up to 90 (90 or older)."""
    return _dictionary_csv("Research ID (the research export's)",
                           (_research_row(spec, name, f) for spec, name, f in _mapped(_RESEARCH)))


def repeating_instruments() -> list[str]:
    """Instruments to enable as repeating in the project."""
    return [spec.name for spec in SPECS.values() if spec.repeating]


Rows = list[tuple[int, dict[str, str]]]


def _table(path: Path, encoding: str | None) -> tuple[list[str], Rows, list[Finding]]:
    """The header of a CSV file, its rows (numbered from 2) as header -> cell with short rows padded with '',
    and a finding for each row with more cells than the header."""
    reader = csv_rows(path, encoding)
    header = next(reader, [])
    rows: Rows = []
    findings: list[Finding] = []
    for line, cells in enumerate(reader, start=2):
        if len(cells) > len(header):
            findings.append(Finding("row-width", path.name, f"{len(cells)} cells, expected at most {len(header)}",
                                    f"{path.name}:{line}"))
        rows.append((line, dict(zip(header, [*cells, *[""] * (len(header) - len(cells))], strict=False))))
    return header, rows, findings


def _empty(path: Path, what: str) -> Finding:
    return Finding("empty-file", what, "the file has no header row", f"{path.name}:1")


def _read_dictionary(path: Path, encoding: str | None) -> tuple[dict[str, dict[str, str]], list[Finding]]:
    header, table, findings = _table(path, encoding)
    if not header:
        return {}, [_empty(path, "data dictionary")]
    rows = [(line, {_API_KEYS.get(k, k): v.strip() for k, v in row.items()}) for line, row in table]
    known = variables()
    fields: dict[str, dict[str, str]] = {}
    for line, row in rows:
        name, kind = row.get("Variable / Field Name", ""), row.get("Field Type", "")
        location = f"{path.name}:{line}"
        if name == RECORD_ID or kind == "descriptive":
            continue
        if name not in known:
            findings.append(Finding("unmapped-field", name, "not in the registry's REDCap mapping (generate the "
                                    "dictionary with `openidds registry export redcap-dictionary DICTIONARY.csv`)",
                                    location))
            continue
        spec, column = known[name]
        if row.get("Form Name") != spec.name:
            findings.append(Finding("form", name, f"form {row.get('Form Name')!r}, expected {spec.name!r}", location))
        f = spec.field(column) if column in spec.columns else None
        if f is not None and f.choices:
            choices = row.get("Choices, Calculations, OR Slider Labels", "")
            codes = [c.split(",", 1)[0].strip() for c in choices.split("|")]
            bad = [c for c in codes if c and c not in f.choices]
            if bad:
                findings.append(Finding("choice-codes", name, f"choice codes {bad} are not registry codes "
                                        f"({', '.join(f.choices)})", location))
        fields[name] = row
    return fields, findings


def read_redcap(dictionary: Path, records: Path, encoding: str | None = None) -> Batch:
    """Parse a REDCap records export (raw, flat CSV) with its data dictionary into registry records;
    ``encoding`` is for files without a byte-order mark (default UTF-8)."""
    fields, findings = _read_dictionary(dictionary, encoding)
    batch = Batch(findings=findings)
    known = variables()
    header, rows, wide = _table(records, encoding)
    batch.findings += wide
    if not header:
        batch.findings.append(_empty(records, "records"))
        return batch
    forms = {spec.name for spec in SPECS.values()}
    repeating = repeating_instruments()
    for line, row in rows:
        instrument = row.get(REPEAT_INSTRUMENT, "")
        if instrument and instrument not in repeating:
            batch.findings.append(Finding("repeat-instrument", instrument, "a repeating instrument of the mapping ("
                                          + ", ".join(repeating) + ")", f"{records.name}:{line}"))
    for column in header:
        base = column.split("___", 1)[0]
        if column in _META or (column.endswith("_complete") and column[:-9] in forms):
            continue
        if base not in fields:
            batch.findings.append(Finding("unknown-column", column, "not a variable of the data dictionary",
                                          f"{records.name}:1"))
    if batch.findings:
        return batch
    sites = {row.get(RECORD_ID, ""): row.get(SITE, "") for _, row in rows if row.get(SITE)}
    per_spec: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for line, row in rows:
        record_id = row.get(RECORD_ID, "")
        repeat = row.get(REPEAT_INSTRUMENT) or None
        cells_by_spec: dict[str, dict[str, str]] = {}
        for column, value in row.items():
            if column in _META or not value:
                continue
            name, _, code = column.partition("___")
            if name not in known:
                continue
            spec, target = known[name]
            if repeat is not None and spec.name != repeat:
                continue
            cells = cells_by_spec.setdefault(spec.name, {})
            if code:
                if value == "1":
                    cells[target] = MULTI_SEPARATOR.join(filter(None, [cells.get(target, ""), code]))
            else:
                cells[target] = value
        for spec_name, cells in cells_by_spec.items():
            if not any(cells.get(k) for k in cells if k != SITE):
                continue
            cells = {k: v for k, v in cells.items() if k != SITE}
            spec = SPECS[spec_name]
            for f in spec.fields:
                cells.setdefault(f.name, "")
                if f.kind == "datetime" and cells[f.name] and cells[f.name][-1] != "Z" and "+" not in cells[f.name]:
                    cells[f.name] = cells[f.name].replace(" ", "T") + "Z"
            cells.update({"site": sites.get(record_id, ""), "patient_id": record_id})
            per_spec.setdefault(spec_name, []).append((f"{records.name}:{line}", cells))
    for spec_name, items in per_spec.items():
        batch.extend(parse_rows(SPECS[spec_name], items))
    return batch


def write_dictionary(path: Path, research: bool = False) -> Path:
    """Write :func:`data_dictionary` (``research``: :func:`research_data_dictionary`) to ``path``."""
    path.write_text(research_data_dictionary() if research else data_dictionary(), encoding="utf-8")
    return path


PatientRecords = list[tuple[RecordSpec, dict[str, Any]]]
"""One patient's records: per record its kind and its values by registry column (``site``, ``pump_serial``
included where the export has them)."""


Column = tuple[str, RecordSpec, str | None, Field | None, str]
"""A records export column: REDCap column, kind, registry column (``None``: the form's ``_complete``), field,
checkbox code."""


def _records_header(keep: Kept) -> list[Column]:
    """The export's data columns in dictionary order, for the registry columns in ``keep``: each checkbox
    expanded to one column per choice, each form's ``<form>_complete`` right after its last field."""
    out: list[Column] = []
    for spec, name, f in _mapped(keep):
        if out and out[-1][1] is not spec:
            out.append((f"{out[-1][1].name}_complete", out[-1][1], None, None, ""))
        variable = redcap_name(spec, name)
        codes = f.choices if f is not None and f.kind == "multi" else ("",)
        out += [(f"{variable}___{code}" if code else variable, spec, name, f, code) for code in codes]
    if out:
        out.append((f"{out[-1][1].name}_complete", out[-1][1], None, None, ""))
    return out


def _raw(f: Field | None, value: Any, code: str) -> str:
    """A value as REDCap's raw export writes it: a checkbox ``1``/``0``, a date-time without zone (UTC)."""
    if code:
        return "1" if value and code in value else "0"
    if value is None or f is None:
        return "" if value is None else str(value)
    if f.kind == "datetime":
        return str(value.isoformat(sep=" "))
    return cell_text(f, value)


def _instance_order(spec: RecordSpec, values: dict[str, Any]) -> list[str]:
    return [cell_text(spec.field(k), values.get(k)) for k in spec.key]


def _cell(column: Column, carried: dict[str, dict[str, Any]]) -> str:
    """The cell of ``column`` in a row carrying the records ``carried`` (by kind); formula-like text neutralised,
    numbers not (-0.262 stays a number)."""
    _, spec, name, f, code = column
    if spec.name not in carried:
        return ""
    if name is None:
        return COMPLETE
    cell = _raw(f, carried[spec.name].get(name), code)
    return neutralised(cell) if f is None or f.kind == "text" else cell


def _records_csv(patients: Iterable[tuple[str, PatientRecords]], keep: Kept) -> str:
    """The flat records export of ``patients`` (record ID and records each), with the columns in ``keep``."""
    columns = _records_header(keep)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([RECORD_ID, REPEAT_INSTRUMENT, REPEAT_INSTANCE, *(c[0] for c in columns)])

    def row(record_id: str, instrument: str, instance: str, carried: dict[str, dict[str, Any]]) -> None:
        writer.writerow([neutralised(record_id), instrument, instance, *(_cell(c, carried) for c in columns)])

    for record_id, records in patients:
        row(record_id, "", "", {spec.name: values for spec, values in records if not spec.repeating})
        repeated = sorted(((spec, _instance_order(spec, values), values) for spec, values in records
                           if spec.repeating), key=lambda item: (list(SPECS).index(item[0].name), item[1]))
        numbers: dict[str, int] = {}
        for spec, _, values in repeated:
            numbers[spec.name] = numbers.get(spec.name, 0) + 1
            row(record_id, spec.name, str(numbers[spec.name]), {spec.name: values})
    return out.getvalue()


def redcap_records(engine: Engine) -> str:
    """The whole registry as a REDCap records export (flat CSV, raw values) of the :func:`data_dictionary`
    project, which :func:`read_redcap` imports back to the same records. The record ID is the patient ID, so a
    patient ID used at two sites is refused (a REDCap project has one record per ID)."""
    with sessions(engine)() as session:
        snapshot = store.load(session)
    serials = {(r.patient, r.get("implant_date")): r.get("serial_number") for r in snapshot.records
               if r.spec.name == "implants"}
    by_patient = snapshot.by_patient()
    sites: dict[str, str] = {}
    for site, patient_id in sorted(by_patient):
        if sites.setdefault(patient_id, site) != site:
            raise RegistryError("patient_id", patient_id, f"a patient ID used at one site only (sites "
                                f"{sites[patient_id]} and {site}): a REDCap record ID names one patient; "
                                "export each site's registry on its own")
    patients: list[tuple[str, PatientRecords]] = []
    for (site, patient_id), records in sorted(by_patient.items()):
        rows: PatientRecords = []
        for r in records:
            extra: dict[str, Any] = {SITE: site} if r.spec.name == "patients" else {}
            if r.spec.parent == "implant":
                extra[PUMP_SERIAL] = serials.get((r.patient, r.implant_date))
            rows.append((r.spec, {**extra, **r.values}))
        patients.append((patient_id, rows))
    return _records_csv(patients, _WHOLE)


def research_redcap_records(engine: Engine, seed: int, max_shift_days: int = 180) -> str:
    """The de-identified research export (:mod:`openidds.clinic.deidentify`, same seed, same research IDs and
    date shifts) as a REDCap records export of the :func:`research_data_dictionary` project: the record ID is the
    research ID; the site, the pump serial, identifier and free-text fields are left out; the age at first
    implant is top-coded (90 means 90 or older)."""
    return _records_csv(sorted(deidentified_records(engine, seed, max_shift_days).items()), _RESEARCH)
