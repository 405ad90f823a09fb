"""CSV files in and out: one file per kind of record, named after it (``patients.csv``, ``visits.csv``, ...)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import Engine

from openidds.clinic import bulk, store
from openidds.clinic.database import sessions
from openidds.clinic.errors import RegistryError
from openidds.clinic.fields import SPECS, RecordSpec, reference_columns
from openidds.clinic.findings import Finding
from openidds.clinic.importer import Batch, header_findings, parse_table
from openidds.clinic.values import cell_text
from openidds.formula_cells import neutralised, neutralised_row
from openidds.text_files import read_text


def kind_of(path: Path) -> str | None:
    """The record kind a file holds, from its name (``visits.csv`` holds visits)."""
    return path.stem if path.stem in SPECS else None


def csv_rows(path: Path, encoding: str | None = None) -> Iterator[list[str]]:
    """The rows of the CSV file at ``path``, decoded by :func:`openidds.text_files.read_text`; a row the csv
    module cannot read (a cell over its field limit, a stray quote) is refused with the file and line."""
    reader = csv.reader(io.StringIO(read_text(path, encoding), newline=""), strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise RegistryError(f"{path.name} line {reader.line_num}", str(exc),
                            f"CSV cells of at most {csv.field_size_limit()} characters, quotes paired; "
                            "fix the row or export the file again") from None


def read_csv(path: Path, spec: RecordSpec, encoding: str | None = None) -> Batch:
    """Parse one CSV file of ``spec`` records; a bad header stops the file with its findings."""
    reader = csv_rows(path, encoding)
    header = next(reader, None)
    if header is None:
        return Batch(findings=[Finding("empty-file", spec.name, "the file has no header row", f"{path.name}:1")])
    header = [h.strip() for h in header]
    found = header_findings(spec, header, f"{path.name}:1")
    if found:
        return Batch(findings=found)
    width = len(header)
    name = path.name
    rows: list[tuple[str, list[str]]] = []
    bad: list[Finding] = []
    for line, cells in enumerate(reader, start=2):
        if not "".join(cells).strip():
            continue
        if len(cells) != width:
            bad.append(Finding("row-width", spec.name, f"{len(cells)} cells, expected {width}", f"{name}:{line}"))
            continue
        rows.append((f"{name}:{line}", cells))
    batch = parse_table(spec, header, rows)
    batch.findings = bad + batch.findings
    return batch


def read_paths(paths: Iterable[Path], kind: str | None = None, encoding: str | None = None) -> Batch:
    """Parse CSV files and directories of them (each file's kind from its name unless ``kind`` is given);
    ``encoding`` is for files without a byte-order mark (default UTF-8)."""
    batch = Batch()
    files: list[Path] = []
    for path in paths:
        found = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        if not found:
            batch.findings.append(Finding("empty-folder", path.name, "a folder holding CSV files named "
                                          "patients.csv, visits.csv, ... (it holds none)", f"{path.name}/"))
        files += found
    with bulk.collector_paused():
        for path in files:
            name = kind or kind_of(path)
            if name is None or name not in SPECS:
                batch.findings.append(Finding("unknown-file", path.name, "file name must be one of "
                                              + ", ".join(f"{k}.csv" for k in SPECS), f"{path.name}:0"))
                continue
            batch.extend(read_csv(path, SPECS[name], encoding))
    return batch


def write_records(engine: Engine, directory: Path) -> list[Path]:
    """Every record of the registry as the CSV files the import reads (one per kind with records, named after it,
    rows by patient), each value written as the import reads it back; a pump record names its implant's serial.
    Text a spreadsheet would run as a formula is neutralised (:mod:`openidds.formula_cells`)."""
    with sessions(engine)() as session:
        snapshot = store.load(session)
    serials = {(r.patient, r.get("implant_date")): r.get("serial_number") for r in snapshot.records
               if r.spec.name == "implants"}
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for spec in SPECS.values():
        records = sorted((r for r in snapshot.records if r.spec is spec),
                         key=lambda r: (r.patient, [cell_text(spec.field(k), r.get(k)) for k in spec.key]))
        if not records:
            continue
        path = directory / f"{spec.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(neutralised_row([*reference_columns(spec), *spec.columns]))
            for r in records:
                pump = [serials.get((r.patient, r.implant_date)) or ""] if spec.parent == "implant" else []
                cells = [neutralised(text) if f.kind == "text" else text  # numbers stay numbers: -0.262
                         for f in spec.fields for text in [cell_text(f, r.get(f.name))]]
                writer.writerow([*neutralised_row([*r.patient, *pump]), *cells])
        out.append(path)
    return out


def write_template(directory: Path) -> list[Path]:
    """Empty CSV files with the mapped header of every kind: the starting point of a clinic's import."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for spec in SPECS.values():
        path = directory / f"{spec.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(neutralised_row([*reference_columns(spec), *spec.columns]))
        out.append(path)
    return out
