"""`openidds registry`: the clinic registry (init, import, export, check, patients, refills-due, sync-alarms, audit,
set-time-zone)."""

from __future__ import annotations

import datetime as dt
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from openidds.cli.errors import fail
from openidds.cli.output import console
from openidds.cli.registry_access import Db, acting_user, registry_engine
from openidds.cli.state_files import KeyFileOption
from openidds.cli.tables import label_table
from openidds.errors import OpenIDDSError
from openidds.wall_clock import utc_now

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from openidds.clinic import Finding
    from openidds.clinic.models import AuditEntry

app = typer.Typer(help="The clinic registry: patients, implants, pump histories, imports and exports.",
                  no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
Today = Annotated[str | None, typer.Option("--today", help="Reference date YYYY-MM-DD (default: today).")]


class ImportFormat(str, Enum):
    csv = "csv"
    redcap = "redcap"
    pump_log = "pump-log"
    pump_state = "pump-state"


class ExportFormat(str, Enum):
    analysis = "analysis"
    fhir = "fhir"
    redcap_dictionary = "redcap-dictionary"
    redcap = "redcap"
    research = "research"
    research_redcap = "research-redcap"
    research_redcap_dictionary = "research-redcap-dictionary"
    template = "template"


def _date(option: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise OpenIDDSError(option, text, "a date as YYYY-MM-DD") from None


def _today(text: str | None) -> dt.date:
    return dt.date.today() if text is None else _date("--today", text)


def _findings_table(findings: list[Finding], title: str) -> Table:
    located = any(f.location for f in findings)
    table = Table(title=title, show_lines=False)
    for column in ("where", "severity", "rule", "record", "problem")[0 if located else 1:]:
        table.add_column(column, overflow="fold")
    for f in findings:
        style = "red" if f.severity == "error" else "yellow"
        cells = [f"[{style}]{f.severity}[/]", f.rule, f.record, f.message]
        table.add_row(*([f.location] if located else []), *cells)
    return table


@app.command()
def init(db: Db = None, as_json: AsJson = False) -> None:
    """Create the registry (or upgrade it to the newest schema)."""
    from openidds.clinic import init_registry
    from openidds.clinic.database import masked

    try:
        engine = registry_engine(db, ready=False)
        revision = init_registry(engine)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    shown = masked(db) if db else engine.url.database
    if as_json:
        typer.echo(json.dumps({"db": shown, "revision": revision}))
    else:
        console().print(f"registry [bold]{shown}[/] ready at schema revision {revision}", highlight=False)


def _import_pump_state(engine: Engine, paths: list[Path], patient: str | None, implant_date: str | None, who: str,
                       key_file: Path | None) -> dict[str, Any]:
    """A programmer's state file (checked against the clinic's state key) stored for the patient's implant."""
    from openidds.cli.state_files import read_state
    from openidds.clinic.pump_states import put_pump_state

    if patient is None or "/" not in patient or len(paths) != 1:
        raise OpenIDDSError("pump-state", [str(p) for p in paths], "one STATE.json with --patient SITE/ID")
    site, pid = patient.split("/", 1)
    state = read_state(paths[0], key_file)
    outcome = put_pump_state(engine, site, pid, state, who, source=paths[0].name,
                             implant_date=None if implant_date is None else _date("--implant-date", implant_date))
    return {outcome.value: {"pump_states": 1}}


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="CSV files or folders; for redcap: DICTIONARY RECORDS; "
                                                     "for pump-log: the JSON log; for pump-state: the "
                                                     "programmer's state file.", exists=True)],
    db: Db = None,
    fmt: Annotated[ImportFormat, typer.Option("--format", help="Input format.")] = ImportFormat.csv,
    kind: Annotated[str | None, typer.Option(help="Record kind of the CSV files (default: from file names).")] = None,
    patient: Annotated[str | None, typer.Option(help="pump-log, pump-state: SITE/PATIENT_ID of the pump's "
                                                     "patient.")] = None,
    implant_date: Annotated[str | None, typer.Option(help="pump-log: implant date YYYY-MM-DD (pump-state: default "
                                                          "the pump in place).")] = None,
    key_file: KeyFileOption = None,
    user: Annotated[str | None, typer.Option(help="Who is importing (audit trail).")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="Text encoding of files without a byte-order mark, e.g. latin-1 (default: UTF-8).")] = None,
    escalation_policy: Annotated[Path | None, typer.Option(
        "--escalation-policy", envvar="OPENIDDS_ESCALATION_POLICY",
        help="Install this escalation policy (.toml or .json, docs/escalation.md) as the registry's current one "
             "first, as `openidds alarms install-policy` does; with a policy installed, each new open alarm an "
             "import derives (pump logs, alarm records) is escalated; `openidds alarms escalate` sends the "
             "notifications.")] = None,
    as_json: AsJson = False,
) -> None:
    """Import records: all or nothing, checked row by row, and idempotent (re-importing adds nothing)."""
    from openidds.clinic import Finding, ImportRejected, import_batch, import_pump_log, read_paths, read_redcap
    from openidds.clinic.escalation_policies import current as current_policy
    from openidds.clinic.escalations import escalation_count

    try:
        engine = registry_engine(db)
        who = acting_user(user)
        escalations_before = escalation_count(engine)
        if escalation_policy is not None:
            from openidds.clinic.escalation_policies import file_source, install_file
            from openidds.clinic.escalations import read_policy

            install_file(engine, read_policy(escalation_policy, "--escalation-policy"), who,
                         utc_now(), file_source(escalation_policy))
        if fmt is ImportFormat.pump_log:
            if patient is None or "/" not in patient or implant_date is None or len(paths) != 1:
                raise OpenIDDSError("pump-log", paths, "one LOG.json with --patient SITE/ID and --implant-date")
            site, pid = patient.split("/", 1)
            added = import_pump_log(engine, paths[0], site, pid, _date("--implant-date", implant_date), who,
                                    encoding=encoding)
            result: dict[str, Any] = {"inserted": {"pump_events": added}}
        elif fmt is ImportFormat.pump_state:
            result = _import_pump_state(engine, paths, patient, implant_date, who, key_file)
        else:
            if fmt is ImportFormat.redcap:
                if len(paths) != 2:
                    raise OpenIDDSError("redcap", paths, "two files: DICTIONARY.csv RECORDS.csv")
                batch = read_redcap(paths[0], paths[1], encoding)
            else:
                batch = read_paths(paths, kind, encoding)
            source = ", ".join(p.name for p in paths)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console(), disable=as_json, transient=True) as bar:
                task = bar.add_task(f"checking {len(batch.records)} records", total=None)

                def report(kind_name: str, done: int, total: int) -> None:
                    bar.update(task, description=f"writing {kind_name}", completed=done, total=total)

                result = import_batch(engine, batch, who, source, progress=report).to_dict()
    except ImportRejected as exc:
        if as_json:
            typer.echo(json.dumps({"error": str(exc), "findings": [f.to_dict() for f in exc.findings]}))
        else:
            console().print(_findings_table(exc.findings, f"{len(exc.findings)} errors: nothing was written"))
        raise typer.Exit(1) from None
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    escalating = current_policy(engine) is not None
    if escalating:
        result["escalations_started"] = escalation_count(engine) - escalations_before
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = label_table("import", ("records", "inserted", "updated", "unchanged"))
    for name in dict.fromkeys([*result.get("inserted", {}), *result.get("updated", {})]):
        table.add_row(name, *(str(result.get(k, {}).get(name, 0)) for k in ("inserted", "updated", "unchanged")))
    console().print(table)
    if escalating:
        started = result["escalations_started"]
        console().print(f"{started} escalation{'' if started == 1 else 's'} started (one per new open alarm); "
                        "`openidds alarms escalate` sends their notifications.")
    warnings = [Finding(**w) for w in result.get("warnings", [])]
    if warnings:
        console().print(_findings_table(warnings, f"{len(warnings)} warnings: imported as given, check them"))


_EXPORT_SOURCE = "openidds registry export"
"""The audit trail's source of an export the command writes."""


def _write_export(what: ExportFormat, output: Path, db: str | None, seed: int | None) -> tuple[list[Path], Engine]:
    """Write the export that reads the registry; the files written and the registry they came from."""
    from openidds.clinic import analysis_dataset, fhir_bundle, write_dataset, write_research_export
    from openidds.clinic.redcap import redcap_records, research_redcap_records

    engine = registry_engine(db)
    if what is ExportFormat.analysis:
        return [write_dataset(analysis_dataset(engine), output)], engine
    if what is ExportFormat.fhir:
        # fhir.resources types json() as str | bytes; it gives bytes only when asked with return_bytes=True.
        output.write_text(fhir_bundle(engine).json(indent=2), encoding="utf-8")  # type: ignore[arg-type]
        return [output], engine
    if what is ExportFormat.redcap:
        output.write_text(redcap_records(engine), encoding="utf-8")
        return [output], engine
    if seed is None:
        raise OpenIDDSError("--seed", None, f"an integer seed for the {what.value} export")
    if what is ExportFormat.research_redcap:
        output.write_text(research_redcap_records(engine, seed), encoding="utf-8")
        return [output], engine
    return write_research_export(engine, output, seed), engine


@app.command()
def export(
    what: Annotated[ExportFormat, typer.Argument(help="analysis (.csv or .parquet), fhir (.json), "
                                                     "redcap-dictionary (.csv), redcap (records, .csv), research "
                                                     "(folder), research-redcap (records, .csv), "
                                                     "research-redcap-dictionary (.csv), template (folder)")],
    output: Annotated[Path, typer.Argument(help="Output file or folder.")],
    db: Db = None,
    seed: Annotated[int | None, typer.Option(help="research, research-redcap: seed of IDs and date shifts (keep it "
                                                  "secret).")] = None,
    user: Annotated[str | None, typer.Option(help="Who exports (audit trail).")] = None,
    as_json: AsJson = False,
) -> None:
    """Export the analysis dataset, a FHIR R4 Bundle, a REDCap dictionary or records, a de-identified set (CSV
    files or REDCap records) or CSV templates. Every export of registry data is an entry of the audit trail."""
    from openidds.clinic import write_template
    from openidds.clinic.audit import ExportedFile, record_export
    from openidds.clinic.redcap import write_dictionary

    try:
        written: list[Path]
        if what in (ExportFormat.redcap_dictionary, ExportFormat.research_redcap_dictionary):
            written = [write_dictionary(output, research=what is ExportFormat.research_redcap_dictionary)]
        elif what is ExportFormat.template:
            written = write_template(output)
        else:
            who = acting_user(user)
            written, engine = _write_export(what, output, db, seed)
            record_export(engine, who, utc_now(), what.value,
                          [ExportedFile.of(p.name, p.read_bytes()) for p in written], _EXPORT_SOURCE)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps({"written": [str(p) for p in written]}))
    else:
        for path in written:
            console().print(f"wrote {path}")


@app.command()
def audit(
    db: Db = None,
    action: Annotated[str | None, typer.Option(help="Only this action: insert, update, delete, export.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest entries.")] = 20,
    as_json: AsJson = False,
) -> None:
    """The newest entries of the audit trail, newest first: who, when (UTC), what and where from; an export's
    entry names its kind and each file's size and SHA-256."""
    from openidds.clinic.audit import AuditAction, audit_entries

    try:
        wanted = None
        if action is not None:
            try:
                wanted = AuditAction(action)
            except ValueError:
                raise OpenIDDSError("--action", action, "one of " + ", ".join(a.value for a in AuditAction)) from None
        entries = audit_entries(registry_engine(db), wanted, limit)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    rows = [{"id": e.id, "at": e.at.isoformat(), "user": e.user_name, "action": e.action, "table": e.table_name,
             "record_id": e.record_id, "before": e.before, "after": e.after, "source": e.source} for e in entries]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} newest audit entries")
    for column in ("id", "at (UTC)", "user", "action", "what", "source"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(str(e.id), e.at.isoformat(sep=" ", timespec="seconds"), e.user_name, e.action, _what(e),
                      e.source or "")
    console().print(table)


def _what(entry: AuditEntry) -> str:
    """An entry's object: an export's kind and files (name, size, SHA-256), else the table and record id."""
    from openidds.clinic.audit import AuditAction

    if entry.action == AuditAction.EXPORT.value and entry.after:
        files = "; ".join(f"{f['name']} {f['size_bytes']} B sha256 {f['sha256']}" for f in entry.after["files"])
        return f"{entry.after['kind']}: {files}"
    return f"{entry.table_name} #{entry.record_id}"


@app.command()
def check(db: Db = None, today: Today = None, as_json: AsJson = False) -> None:
    """Run the data-quality rules on the whole registry; exit code 1 if any error is found."""
    from openidds.clinic import check_registry

    try:
        findings = check_registry(registry_engine(db), _today(today))
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    errors = sum(f.severity == "error" for f in findings)
    if as_json:
        typer.echo(json.dumps({"errors": errors, "warnings": len(findings) - errors,
                               "findings": [f.to_dict() for f in findings]}))
    elif findings:
        console().print(_findings_table(findings, f"{errors} errors, {len(findings) - errors} warnings"))
    else:
        console().print("[green]no findings[/]")
    if errors:
        raise typer.Exit(1)


@app.command("patients")
def patients_(db: Db = None, site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
              as_json: AsJson = False) -> None:
    """List the patients with their first implant and follow-up status."""
    from openidds.clinic import patients

    try:
        rows = patients(registry_engine(db), site)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows]))
        return
    table = Table(title=f"{len(rows)} patients")
    for column in ("site", "patient", "sex", "cancer", "first implant", "implants", "status", "since"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.site, r.patient_id, r.sex, r.cancer_type or "", str(r.first_implant or ""), str(r.implants),
                      r.status, str(r.status_date or ""))
    console().print(table)


@app.command("refills-due")
def refills_due_(db: Db = None, days: Annotated[int, typer.Option(min=0, help="Horizon in days.")] = 14,
                 today: Today = None, as_json: AsJson = False) -> None:
    """Pumps in place whose next refill is due within DAYS (overdue ones first)."""
    from openidds.clinic import refills_due

    try:
        day = _today(today)
        rows = refills_due(registry_engine(db), day, days)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows]))
        return
    table = Table(title=f"{len(rows)} refills due by {day + dt.timedelta(days=days)}")
    for column in ("due", "days left", "due by", "site", "patient", "pump serial", "implanted", "last refill"):
        table.add_column(column)
    for r in rows:
        style = "red" if r.days_left < 0 else ""
        table.add_row(f"[{style}]{r.next_refill_due}[/]" if style else str(r.next_refill_due), str(r.days_left),
                      r.due_by, r.site, r.patient_id, r.pump_serial or "", str(r.implant_date),
                      str(r.last_refill_at))
    console().print(table)


@app.command("sync-alarms")
def sync_alarms_(db: Db = None,
                 user: Annotated[str | None, typer.Option(help="Who runs it (audit trail).")] = None,
                 as_json: AsJson = False) -> None:
    """Bring the clinic's alarm record in step with the stored pump logs and alarm records (for those imported
    before the record existed); running it again changes nothing."""
    from openidds.clinic.alarms import sync_alarms

    try:
        done = sync_alarms(registry_engine(db), acting_user(user), source="openidds registry sync-alarms")
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps({"added": done.added, "closed": done.closed}))
    else:
        console().print(f"{done.added} alarms added to the alarm record, {done.closed} closed")


@app.command("set-time-zone")
def set_time_zone(zone: Annotated[str, typer.Argument(help="An IANA time zone name, such as Europe/Stockholm.")],
                  db: Db = None,
                  user: Annotated[str | None, typer.Option(help="Who sets it (audit trail).")] = None,
                  as_json: AsJson = False) -> None:
    """Set the clinic's time zone: the web app shows times and reads the times staff type in it, and the clinic's
    day is its date there (the registry keeps UTC)."""
    from openidds.clinic.time_zone import set_zone

    try:
        done = set_zone(registry_engine(db), zone, acting_user(user), utc_now(), "openidds registry set-time-zone")
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps({"time_zone": done.name, "version": done.version}))
    else:
        console().print(f"the clinic's time zone is {done.name}", highlight=False)
