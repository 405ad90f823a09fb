"""Importing records: parse and check every row, then write all of them in one transaction, or nothing.

The importer is shared by the CSV and REDCap readers, which hand it rows of text keyed by the column names of
:mod:`openidds.clinic.fields`. It

1. parses each cell (types, ranges, choices);
2. refuses duplicates of a natural key within the input;
3. links each row to its patient, and each pump row to the implant in place at its time;
4. checks each record merged with its stored version (consistency across fields, required fields) and the
   dates in order per patient, over the database records merged with the input;
5. writes only if no error was found: new records by bulk INSERT, changed ones by versioned UPDATE, identical
   ones not at all (so importing the same file twice adds nothing), with an audit entry for every change.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from openidds.clinic import alarms, audit, bulk, consistency, locking, models, rules, store
from openidds.clinic.checks import WARNING
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ImportRejected, RegistryError
from openidds.clinic.fields import PUMP_SERIAL, SPECS, Field, RecordSpec, reference_columns
from openidds.clinic.findings import Finding
from openidds.clinic.record import PatientKey, Record
from openidds.clinic.refill_status import implants_of, refresh_refill_status
from openidds.clinic.values import check_length, column_length, parser
from openidds.formula_cells import FORMULA_STARTS, is_formula

Progress = Callable[[str, int, int], None]
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
"""A site code or patient ID: letters, digits, ``_.-``, never a formula start (=, +, -, @)."""
ORDER = ("patients", "exits", "implants", "screening_trials", "visits", "complications", "programs", "refills",
         "alarms", "boluses")
_BATCH = 2000


@dataclass
class ImportSummary:
    """What an import changed, per kind of record."""

    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    warnings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "warnings": [f.to_dict() for f in self.warnings]}


@dataclass
class Batch:
    """Parsed records ready to import, with the errors found while reading them."""

    records: list[Record] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def extend(self, other: Batch) -> None:
        self.records += other.records
        self.findings += other.findings


def header_findings(spec: RecordSpec, columns: Iterable[str], location: str) -> list[Finding]:
    """Unknown, duplicated or missing key columns of a file of ``spec`` records (other required columns may be
    left out of a file that updates stored records; a new record without them is refused row by row)."""
    known = set(spec.columns) | set(reference_columns(spec))
    columns = list(columns)
    out = [Finding("unknown-column", spec.name, f"column {c!r} is not in the {spec.name} mapping "
                   "(units belong in the column name, e.g. dose_mg_per_day)", location)
           for c in columns if c not in known]
    out += [Finding("missing-column", spec.name, f"key column {c!r} is missing", location)
            for c in ("site", "patient_id", *spec.key) if c not in columns]
    out += [Finding("duplicate-column", spec.name, f"column {c!r} appears twice", location)
            for c in sorted({c for c in columns if columns.count(c) > 1})]
    return out


#: The most characters of a site code and of a patient ID (their columns' lengths).
CODE_LENGTHS = {"site": column_length(models.Site.__table__.c.code),
                "patient_id": column_length(models.Patient.__table__.c.patient_code)}


@functools.lru_cache(maxsize=65536)
def _valid_code(value: str, name: str) -> bool:
    limit = CODE_LENGTHS[name]
    return CODE.match(value) is not None and (limit is None or len(value) <= limit)


def _row_parsers(spec: RecordSpec, columns: Iterable[str]) -> tuple[tuple[str, Any, bool], ...]:
    present = set(columns)
    return tuple((f.name, parser(f), f.required) for f in spec.fields if f.name in present)


def parse_row(spec: RecordSpec, cells: Mapping[str, str | None], location: str) -> tuple[Record | None, list[Finding]]:
    """One row of text into a record, or the findings that stop it. Rules across a record's fields run later,
    on the record merged with the stored one, so a file may update a few columns."""
    errors: list[Finding] = []
    site, code = (cells.get("site") or "").strip(), (cells.get("patient_id") or "").strip()
    for name, value in (("site", site), ("patient_id", code)):
        if not _valid_code(value, name):
            label = f"{spec.label.lower()} {site}/{code}"
            try:
                check_length(name, value, CODE_LENGTHS[name])
            except RegistryError as exc:
                errors.append(Finding("reference", label, str(exc), location))
                continue
            errors.append(Finding("reference", label, f"{name}={value!r}: expected letters, digits, '_', '.' or '-', "
                                  "starting with a letter or digit",
                                  location))
    values: dict[str, Any] = {}
    for name, parse, required in _row_parsers(spec, cells):
        try:
            value = values[name] = parse(cells[name])
        except RegistryError as exc:
            errors.append(Finding("value", f"{spec.label.lower()} {site}/{code}", str(exc), location))
            continue
        if value is None and required:
            errors.append(Finding("required", f"{spec.label.lower()} {site}/{code}", f"{name} is required",
                                  location))
    if errors:
        return None, errors
    record = Record(spec, (site, code), values, location=location)
    if spec.parent == "implant":
        record.extra[PUMP_SERIAL] = (cells.get(PUMP_SERIAL) or "").strip() or None
    return record, []


def parse_rows(spec: RecordSpec, rows: Iterable[tuple[str, Mapping[str, str | None]]]) -> Batch:
    """Parse many rows of one kind (rows of text keyed by column name), in their order."""
    batch = Batch()
    header: tuple[str, ...] | None = None
    run: list[tuple[str, list[str | None]]] = []
    for location, cells in rows:
        columns = tuple(cells)
        if columns != header:
            if run:
                batch.extend(parse_table(spec, header or (), run))
            header, run = columns, []
        run.append((location, list(cells.values())))
    if run:
        batch.extend(parse_table(spec, header or (), run))
    return batch


class _Refused:
    """A cell text its parser refused (the message is made again, row by row, by :func:`parse_row`)."""


_REFUSED = _Refused()


def _parsed_column(f: Field, parse: Callable[[str | None], Any], texts: Sequence[str | None]) -> tuple[list[Any], bool]:
    """The values of one column and whether any cell was refused or required and empty; each distinct text is
    parsed once (codes, levels and dates repeat), except for multi-choice cells, whose lists are mutable."""
    def attempt(text: str | None) -> Any:
        try:
            return parse(text)
        except RegistryError:
            return _REFUSED

    if f.kind == "multi":
        values = [attempt(text) for text in texts]
        outcomes: Iterable[Any] = values
    else:
        memo = {text: attempt(text) for text in set(texts)}
        values = list(map(memo.__getitem__, texts))
        outcomes = memo.values()
    bad = any(v is _REFUSED or (v is None and f.required) for v in outcomes)
    return values, bad


def parse_table(spec: RecordSpec, header: Iterable[str], rows: Sequence[tuple[str, Sequence[str | None]]]) -> Batch:
    """Parse rows of one kind given as lists of cells under ``header``: column by column, each distinct text
    once. A row with any refused cell is parsed again by :func:`parse_row`, which makes its findings, so the
    report is the same as parsing row by row."""
    header = tuple(header)
    index = {name: i for i, name in enumerate(header)}
    fields = [f for f in spec.fields if f.name in index]
    columns = list(zip(*(cells for _, cells in rows), strict=True)) if rows else [()] * len(header)
    values: list[list[Any]] = []
    any_bad = False
    for f in fields:
        column, bad = _parsed_column(f, parser(f), columns[index[f.name]])
        values.append(column)
        any_bad = any_bad or bad
    names = [f.name for f in fields]
    n = len(rows)
    sites = [(c or "").strip() for c in columns[index["site"]]] if "site" in index else [""] * n
    codes = [(c or "").strip() for c in columns[index["patient_id"]]] if "patient_id" in index else [""] * n
    pumps = spec.parent == "implant"
    serials = [(c or "").strip() or None for c in columns[index[PUMP_SERIAL]]] \
        if pumps and PUMP_SERIAL in index else [None] * n
    required = [i for i, f in enumerate(fields) if f.required]
    codes_valid = all(_valid_code(s, "site") for s in set(sites)) \
        and all(_valid_code(c, "patient_id") for c in set(codes))
    batch = Batch(findings=_formula_warnings(spec, fields, values, rows, sites, codes))
    rows_of_values = zip(*values, strict=True) if values else ((),) * n
    for location_cells, row, site, code, serial in zip(rows, rows_of_values, sites, codes, serials, strict=True):
        if (not codes_valid and not (_valid_code(site, "site") and _valid_code(code, "patient_id"))) \
                or (any_bad and (_REFUSED in row or any(row[i] is None for i in required))):
            location, cells = location_cells
            record, found = parse_row(spec, dict(zip(header, cells, strict=True)), location)
            batch.findings += found
            if record is not None:
                batch.records.append(record)
            continue
        record = Record(spec, (site, code), dict(zip(names, row, strict=True)), location=location_cells[0])
        if pumps:
            record.extra[PUMP_SERIAL] = serial
        batch.records.append(record)
    return batch


def _formula_warnings(spec: RecordSpec, fields: Sequence[Field], values: Sequence[Sequence[Any]],
                      rows: Sequence[tuple[str, Sequence[str | None]]], sites: Sequence[str],
                      codes: Sequence[str]) -> list[Finding]:
    """A warning for each text cell a spreadsheet would run as a formula (kept as given; neutralised on export)."""
    out = []
    for f, column in zip(fields, values, strict=True):
        if f.kind != "text":
            continue
        for i, value in enumerate(column):
            if is_formula(value):
                out.append(Finding("formula-text", f"{spec.label.lower()} {sites[i]}/{codes[i]}",
                                   f"{f.name}={value!r} starts with one of {' '.join(map(repr, FORMULA_STARTS))}: "
                                   "a spreadsheet would run it as a formula; it is stored as given and exported "
                                   "with a leading ' (check the source file)", rows[i][0], severity=WARNING))
    return out


def _derived(record: Record) -> dict[str, Any]:
    if record.spec.name == "refills":
        w, e = record.get("withdrawn_residual_ml"), record.get("expected_residual_ml")
        return {"discrepancy_ml": None if w is None or e is None else round(w - e, 6)}
    return {}


def _event_day(record: Record) -> dt.date:
    """The day of a pump record's event (each pump record kind names its event time)."""
    if record.spec.event_time is None:
        raise RegistryError("record", record.label, "a pump record, whose kind names its event time")
    value = record.get(record.spec.event_time)
    return value.date() if isinstance(value, dt.datetime) else value


class _Plan:
    """The merged view of database and input, and the checks on it."""

    def __init__(self, snapshot: store.Snapshot, batch: Batch) -> None:
        self.snapshot = snapshot
        self.findings = list(batch.findings)
        self.existing: dict[tuple[Any, ...], Record] = {r.key: r for r in snapshot.records}
        self.incoming: dict[tuple[Any, ...], Record] = {}
        self.patients = {r.patient for r in snapshot.records if r.spec.name == "patients"}
        self.patients |= {r.patient for r in batch.records if r.spec.name == "patients"}
        implants: dict[PatientKey, dict[Any, Record]] = {}
        for record in [*snapshot.records, *batch.records]:
            if record.spec.name == "implants":
                own = implants.setdefault(record.patient, {})
                old = own.get(record.get("implant_date"))
                own[record.get("implant_date")] = record if old is None else Record(
                    record.spec, record.patient, {**old.values, **record.values}, location=record.location)
        self.implants = {p: list(d.values()) for p, d in implants.items()}
        rank = {name: i for i, name in enumerate(ORDER)}
        for record in sorted(batch.records, key=lambda r: rank[r.spec.name]):
            self._link(record)

    def _link(self, record: Record) -> None:
        if record.spec.name != "patients" and record.patient not in self.patients:
            self.findings.append(Finding("unknown-patient", record.label, f"patient {record.patient[0]}/"
                                         f"{record.patient[1]} is neither in the registry nor in this import",
                                         record.location))
            return
        if record.spec.parent == "implant":
            serial = record.extra.get(PUMP_SERIAL)
            implant = rules.implant_for(self.implants.get(record.patient, []), _event_day(record), serial)
            if implant is None:
                pump = f" with serial {serial}" if serial else ""
                self.findings.append(Finding("no-implant", record.label, f"no implant{pump} on or before "
                                             f"{_event_day(record).isoformat()}", record.location))
                return
            record.implant_date = implant.get("implant_date")
        if record.spec.name == "complications":
            implant = rules.implant_for(self.implants.get(record.patient, []), record.get("onset_date"), None)
            record.extra["implant_date"] = implant.get("implant_date") if implant else None
        key = record.key
        earlier = self.incoming.get(key)
        if earlier is not None:
            self.findings.append(Finding("duplicate", record.label, f"duplicate of {earlier.location}",
                                         record.location))
            return
        self.incoming[key] = record

    def merged(self) -> dict[PatientKey, list[Record]]:
        out: dict[PatientKey, list[Record]] = {}
        for key, record in self.existing.items():
            if key not in self.incoming:
                out.setdefault(record.patient, []).append(record)
        for key, record in self.incoming.items():
            old = self.existing.get(key)
            if old is not None:
                record = Record(record.spec, record.patient, {**old.values, **record.values},
                                implant_date=record.implant_date, location=record.location, extra=record.extra)
            out.setdefault(record.patient, []).append(record)
        return out

    def check(self) -> None:
        """Rules on each incoming record merged with its stored version, then dates in order per patient."""
        touched = {r.patient for r in self.incoming.values()}
        merged = self.merged()
        for patient in sorted(touched):
            self.findings += rules.change_findings(merged.get(patient, []))


def _patients_touched(batch: Batch) -> set[PatientKey]:
    return {r.patient for r in batch.records}


def import_batch(engine: Engine, batch: Batch, user: str, source: str,
                 progress: Progress | None = None) -> ImportSummary:
    """Check ``batch`` against the registry and write it in one transaction; raise :class:`ImportRejected`
    with every finding, writing nothing, if any row is wrong. The records the checks read are locked first
    (:mod:`openidds.clinic.locking`), so a concurrent change to the same patients waits for this one."""
    with bulk.collector_paused(), unit_of_work(engine, user, source=source) as session:
        locking.begin_write(session.connection())
        ids = store.patient_ids_for(session, _patients_touched(batch))
        snapshot = locking.locked_snapshot(session, ids.values())
        plan = _Plan(snapshot, batch)
        plan.check()
        consistency.mark_checked(session)
        findings = sorted(plan.findings, key=_location_order)
        if any(f.severity != WARNING for f in findings):
            raise ImportRejected(source, findings)
        writer = _Writer(session, snapshot, user, source, progress)
        summary = writer.write(plan.incoming, plan.existing)
        summary.warnings = findings
        return summary


def _location_order(finding: Finding) -> tuple[str, int, str]:
    name, _, line = finding.location.rpartition(":")
    return (name, int(line), finding.message) if line.isdigit() else (finding.location, 0, finding.message)


class _Writer:
    def __init__(self, session: Any, snapshot: store.Snapshot, user: str, source: str,
                 progress: Progress | None) -> None:
        self.session = session
        self.snapshot = snapshot
        self.user = user
        self.source = source
        self.progress = progress
        self.at = audit.now_utc(session.info)
        self.summary = ImportSummary()
        self.implants_of: dict[PatientKey, dict[dt.date, int]] = {}
        for (patient, day), implant_id in snapshot.implant_ids.items():
            self.implants_of.setdefault(patient, {})[day] = implant_id

    def write(self, incoming: dict[tuple[Any, ...], Record], existing: dict[tuple[Any, ...], Record]) -> ImportSummary:
        self.total = len(incoming)
        self.done = 0
        by_kind: dict[str, list[tuple[tuple[Any, ...], Record]]] = {}
        for key, record in incoming.items():
            by_kind.setdefault(record.spec.name, []).append((key, record))
        pumps_filled: set[int] = set()  # implants whose programs or refills change: their refill status too
        patients: set[int] = set()  # patients whose implants or exit change: which of their implants is in place
        for kind in ORDER:
            items = by_kind.get(kind, [])
            if kind == "implants":
                items.sort(key=lambda item: (item[1].patient, item[1].get("implant_date")))
            records = [record for _, record in items]
            new = [record for key, record in items if key not in existing]
            changed = [(existing[key], record) for key, record in items if key in existing]
            self._insert(SPECS[kind], new)
            self._update(SPECS[kind], changed)
            if kind in ("programs", "refills"):
                pumps_filled |= {self.snapshot.implant_ids[(r.patient, r.implant_date)] for r in records}
            if kind in ("implants", "exits"):
                patients |= {self.snapshot.patient_ids[r.patient] for r in records}
            if kind == "alarms" and records:
                alarms.derive_alarms(self.session, {self.snapshot.implant_ids[(r.patient, r.implant_date)]
                                                    for r in records})
            self.done += len(changed)
            if self.progress is not None and changed:
                self.progress(kind, self.done, self.total)
        conn = self.session.connection()
        if pumps_filled or patients:
            refresh_refill_status(conn, pumps_filled | implants_of(conn, patients))
        return self.summary

    def _site_id(self, code: str) -> int:
        if code not in self.snapshot.site_ids:
            site = models.Site(code=code)
            self.session.add(site)
            self.session.flush()
            self.snapshot.site_ids[code] = site.id
        return self.snapshot.site_ids[code]

    def _parents(self, spec: RecordSpec, records: list[Record]) -> dict[str, list[Any]]:
        """The parent-id columns of new records (and a patient's code, and the implant a new one replaces)."""
        ids = self.snapshot
        if spec.name == "patients":
            return {"site_id": [self._site_id(r.patient[0]) for r in records],
                    "patient_code": [r.patient[1] for r in records]}
        if spec.parent == "implant":
            return {"implant_id": [ids.implant_ids[(r.patient, r.implant_date)] for r in records]}
        out: dict[str, list[int | None]] = {"patient_id": [ids.patient_ids[r.patient] for r in records]}
        if spec.name == "complications":
            out["implant_id"] = [None if r.extra.get("implant_date") is None
                                 else ids.implant_ids[(r.patient, r.extra["implant_date"])] for r in records]
        if spec.name == "implants":
            out["replaces_implant_id"] = [self._replaced(r) for r in records]
        return out

    def _replaced(self, implant: Record) -> int | None:
        own = self.implants_of.get(implant.patient, {})
        earlier = [d for d in own if d < implant.get("implant_date")]
        return own[max(earlier)] if earlier else None

    def _insert(self, spec: RecordSpec, records: list[Record]) -> None:
        if not records:
            return
        table = bulk.table_of(spec.model)
        conn = self.session.connection()
        key_columns = _db_key_columns(spec)
        waves = _implant_waves(records) if spec.name == "implants" else [records]
        for wave in waves:
            for start in range(0, len(wave), _BATCH):
                chunk = wave[start:start + _BATCH]
                columns = {**self._parents(spec, chunk), **_value_columns([r.values for r in chunk], spec.columns)}
                if spec.name == "refills":
                    columns["discrepancy_ml"] = [_derived(r)["discrepancy_ml"] for r in chunk]
                ids = bulk.insert_columns_with_ids(conn, table, columns, {"version": 1}, key_columns)
                for record, record_id in zip(chunk, ids, strict=True):
                    record.db_id = record_id
                    if spec.name == "patients":
                        self.snapshot.patient_ids[record.patient] = record_id
                    elif spec.name == "implants":
                        day = record.get("implant_date")
                        self.snapshot.implant_ids[(record.patient, day)] = record_id
                        self.implants_of.setdefault(record.patient, {})[day] = record_id
                audit.write_inserts(conn, self.user, self.at, table.name,
                                    {"id": ids, **columns, "version": [1] * len(chunk)}, self.source)
                self.done += len(chunk)
                if self.progress is not None:
                    self.progress(spec.name, self.done, self.total)
        self.summary.inserted[spec.name] = self.summary.inserted.get(spec.name, 0) + len(records)

    def _update(self, spec: RecordSpec, pairs: list[tuple[Record, Record]]) -> None:
        changed = 0
        for old, new in pairs:
            values = {**new.values, **_derived(Record(spec, new.patient, {**old.values, **new.values}))}
            diff = {k: v for k, v in values.items() if (old.values.get(k) if k in old.values else
                                                      old.extra.get(k)) != v}
            if not diff:
                continue
            obj = self.session.get(spec.model, old.db_id)
            for name, value in diff.items():
                setattr(obj, name, value)
            changed += 1
        if not pairs:
            return
        self.session.flush()
        self.summary.updated[spec.name] = changed
        self.summary.unchanged[spec.name] = len(pairs) - changed


def _value_columns(values: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """The records' values column by column (``None`` where a record has no value), transposed at once when
    every record has the same fields (rows of one file)."""
    fields = {tuple(v) for v in values}
    if len(fields) != 1:
        return {name: [v.get(name) for v in values] for name in names}
    transposed = dict(zip(fields.pop(), map(list, zip(*(v.values() for v in values), strict=True)), strict=True))
    return {name: transposed.get(name) or [None] * len(values) for name in names}


def _db_key_columns(spec: RecordSpec) -> tuple[str, ...]:
    """The columns that identify a stored record: its parent's id and its natural key."""
    if spec.name == "patients":
        return ("site_id", "patient_code")
    return ("implant_id" if spec.parent == "implant" else "patient_id", *spec.key)


def _implant_waves(records: list[Record]) -> list[list[Record]]:
    """Implants grouped so that each patient's earlier implant is written before the one that replaces it."""
    waves: list[list[Record]] = []
    seen: dict[PatientKey, int] = {}
    for record in records:
        n = seen.get(record.patient, 0)
        seen[record.patient] = n + 1
        if n == len(waves):
            waves.append([])
        waves[n].append(record)
    return waves
