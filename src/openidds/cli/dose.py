"""`openidds dose`: oral morphine equivalents, intrathecal starting doses and the drug library.

The drug library is imported when a command runs, so `--help` does not pay for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from openidds.cli.errors import choose, fail
from openidds.cli.output import console
from openidds.errors import OpenIDDSError

if TYPE_CHECKING:
    from openidds.drugs import DrugEntry, DrugLibrary, LimitCheck, Medication, OmeResult, Reason, StartProposal
    from openidds.units import Quantity

app = typer.Typer(
    help="Oral morphine equivalents (OME), intrathecal starting doses and the drug library. Not a medical device.",
    no_args_is_help=True,
)

MedOption = Annotated[
    list[str] | None,
    typer.Option("--med", help="One medication line, repeatable: 'oxycodone PO 40 mg/day', 'fentanyl TD 25 mcg/h'."),
]
FileOption = Annotated[
    Path | None, typer.Option("--file", help="Medication list: .csv (header opioid,route,dose) or .json.")
]
TableOption = Annotated[str | None, typer.Option(
    "--table", help="OME table, e.g. cdc-2016 (default: the newest shipped; a name not shipped is refused with "
                    "the list).")]
LibraryOption = Annotated[Path | None, typer.Option("--library", help="A clinic drug-library JSON file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _shown(quantity: Quantity) -> str:
    from openidds.units import format_quantity

    return format_quantity(quantity, places=3)


def _read(path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise OpenIDDSError(field, str(path), f"a readable file ({error.strerror})") from None


def _medications(meds: list[str] | None, file: Path | None) -> tuple[Medication, ...]:
    from openidds.drugs import medications_from_csv, medications_from_json, parse_medication

    lines = tuple(parse_medication(text, f"--med[{i}]") for i, text in enumerate(meds or []))
    if file is not None:
        text = _read(file, "--file")
        if file.suffix.lower() == ".csv":
            lines += medications_from_csv(text)
        elif file.suffix.lower() == ".json":
            lines += medications_from_json(text)
        else:
            raise OpenIDDSError("--file", str(file), "a .csv or .json medication list")
    if not lines:
        raise OpenIDDSError("--med/--file", "", "at least one medication line, e.g. --med 'oxycodone PO 40 mg/day'")
    return lines


def _table(name: str | None) -> str:
    """The OME table named by ``--table`` (default: the newest shipped); a mistyped name suggests the nearest."""
    from openidds.drugs import DEFAULT_OME_TABLE, OME_TABLES

    return DEFAULT_OME_TABLE if name is None else choose("--table", name, OME_TABLES)


def _library(path: Path | None) -> DrugLibrary:
    from openidds.drugs import default_library, load_library

    return default_library() if path is None else load_library(_read(path, "--library"), str(path))


def _reason_json(reason: Reason) -> dict[str, Any]:
    return {"text": reason.text, "source": reason.source, "status": reason.status.value if reason.status else None}


def _check_json(check: LimitCheck) -> dict[str, Any]:
    def limit(item: Any) -> dict[str, Any] | None:
        return None if item is None else {"value": str(item.value), "status": item.status.value, "source": item.source}

    return {"drug": check.drug, "kind": check.kind.value, "quantity": str(check.quantity),
            "outcome": check.outcome.value, "soft": limit(check.soft), "hard": limit(check.hard),
            "reason": check.reason}


def _ome_json(result: OmeResult) -> dict[str, Any]:
    return {
        "table": result.table,
        "version": result.version,
        "total": str(result.total),
        "total_display": _shown(result.total),
        "relies_on_unverified": result.relies_on_unverified,
        "warnings": list(result.warnings),
        "lines": [
            {
                "opioid": line.medication.opioid,
                "route": line.medication.route.value,
                "dose": str(line.medication.dose),
                "factor": str(line.factor),
                "factor_per": str(line.factor_unit),
                "band": line.band,
                "ome": str(line.ome),
                "status": line.rule.status.value,
                "source": line.rule.source,
                "citation": line.source.citation,
                "locator": line.source.locator,
                "note": line.rule.note,
                "warnings": list(line.warnings),
            }
            for line in result.lines
        ],
    }


def _ome_table(result: OmeResult) -> Table:
    table = Table(title=f"Oral morphine equivalents ({result.table}, version {result.version})")
    for column in ("Medication", "Factor", "OME", "Source"):
        table.add_column(column, justify="right" if column in ("Factor", "OME") else "left")
    for line in result.lines:
        factor = f"× {float(line.factor):g} per {line.factor_unit}" + (f"\n{line.band}" if line.band else "")
        table.add_row(str(line.medication), factor, _shown(line.ome), f"[{line.rule.status.value}] {line.rule.source}")
    table.add_section()
    table.add_row("[bold]Total[/bold]", "", f"[bold]{_shown(result.total)}[/bold]", "")
    return table


def _print_warnings(console: Console, title: str, items: list[str], style: str) -> None:
    if items:
        console.print(f"[{style}]{title}[/{style}]")
        for item in items:
            console.print(f"  • {item}", markup=False, highlight=False)


@app.command("ome")
def ome_command(
    med: MedOption = None, file: FileOption = None, table: TableOption = None, as_json: JsonOption = False
) -> None:
    """Total daily oral morphine equivalent of a medication list, line by line with sources."""
    from openidds.drugs import calculate_ome

    try:
        result = calculate_ome(_medications(med, file), _table(table))
    except OpenIDDSError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps(_ome_json(result), indent=2))
        return
    out = console()
    out.print(_ome_table(result))
    _print_warnings(out, "Warnings", list(result.warnings), "yellow")
    if result.relies_on_unverified:
        out.print("[yellow]Uses at least one unverified [R] factor.[/yellow]")


def _proposal_json(proposal: StartProposal, result: OmeResult | None) -> dict[str, Any]:
    return {
        "drug": proposal.drug,
        "dose": str(proposal.dose),
        "dose_display": _shown(proposal.dose),
        "ome": str(proposal.ome),
        "ratio": proposal.ratio_name,
        "observed_range": [str(q) for q in proposal.observed_range],
        "reduction_percent": proposal.reduction_percent,
        "opioid_naive": proposal.opioid_naive,
        "exceeds_soft_limit": proposal.exceeds_soft_limit,
        "exceeds_hard_limit": proposal.exceeds_hard_limit,
        "relies_on_unverified": proposal.relies_on_unverified,
        "reasons": [_reason_json(r) for r in proposal.reasons],
        "warnings": [_reason_json(r) for r in proposal.warnings],
        "checks": [_check_json(c) for c in proposal.checks],
        "notes": [_reason_json(r) for r in proposal.notes],
        "ome_detail": None if result is None else _ome_json(result),
    }


def _print_proposal(console: Console, proposal: StartProposal) -> None:
    from openidds.drugs import Outcome

    low, high = proposal.observed_range
    flag = "red" if proposal.exceeds_hard_limit else "yellow" if proposal.exceeds_soft_limit else "green"
    console.print(
        f"[bold {flag}]Proposed intrathecal {proposal.drug}: {_shown(proposal.dose)}[/bold {flag}]"
        f"  (ratio {proposal.ratio_name}; the observed 75-150:1 range, same adjustments:"
        f" {_shown(low)} to {_shown(high)})"
    )
    _print_warnings(console, "How it was computed", [str(r) for r in proposal.reasons], "bold")
    _print_warnings(console, "Check before use", [str(r) for r in proposal.warnings], "yellow")
    for check in proposal.checks:
        style = {Outcome.ABOVE_HARD: "bold red", Outcome.ABOVE_SOFT: "yellow"}.get(check.outcome, "green")
        word = {Outcome.ABOVE_HARD: "ABOVE HARD LIMIT", Outcome.ABOVE_SOFT: "above soft limit",
                Outcome.NO_LIMIT: "no sourced limit"}.get(check.outcome, "within limits")
        console.print(f"[{style}]Library limit: {word}[/{style}]")
        console.print(f"  {check.reason}", markup=False, highlight=False)
    _print_warnings(console, "Outcomes and safety (sources)", [str(r) for r in proposal.notes], "dim")
    if proposal.relies_on_unverified:
        console.print("[yellow]This proposal uses at least one unverified [R] number; say so when you use it."
                      "[/yellow]")


@app.command("start")
def start_command(
    med: MedOption = None,
    file: FileOption = None,
    ome: Annotated[str | None, typer.Option("--ome", help="Total OME instead of a list, e.g. '240 mg/day'.")] = None,
    table: TableOption = None,
    ratio: Annotated[str, typer.Option("--ratio", help="'100:1' (default), '300:1' or a ratio in 75-150:1.")] = "100:1",
    drug: Annotated[str, typer.Option("--drug", help="The intrathecal drug: morphine or hydromorphone.")] = "morphine",
    frail: Annotated[bool, typer.Option("--frail", help="Reduce by 25 % (sourced range 25-50 %).")] = False,
    reduction: Annotated[int | None, typer.Option("--reduction", help="Reduction in percent: 0 or 25-50.")] = None,
    opioid_naive: Annotated[
        bool | None, typer.Option("--opioid-naive/--opioid-tolerant", help="Default: decided from the OME.")
    ] = None,
    library: LibraryOption = None,
    as_json: JsonOption = False,
) -> None:
    """Propose an intrathecal starting dose from a medication list or a total OME."""
    from openidds.drugs import calculate_ome, propose_start
    from openidds.drugs.intrathecal import PROPOSABLE_DRUGS
    from openidds.units import MASS_RATE, parse_quantity

    try:
        choose("--drug", drug, PROPOSABLE_DRUGS)
        result: OmeResult | None = None
        if ome is None:
            result = calculate_ome(_medications(med, file), _table(table))
            basis: OmeResult | Quantity = result
        elif med or file:
            raise OpenIDDSError("--ome", ome, "either --ome or a medication list (--med/--file), not both")
        else:
            basis = parse_quantity(ome, MASS_RATE, "--ome")
        proposal = propose_start(
            basis, ratio=ratio, drug=drug, frail=frail, reduction_percent=reduction,
            opioid_naive=opioid_naive, library=_library(library),
        )
    except OpenIDDSError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps(_proposal_json(proposal, result), indent=2))
        return
    out = console()
    if result is not None:
        out.print(_ome_table(result))
        _print_warnings(out, "OME warnings", list(result.warnings), "yellow")
    _print_proposal(out, proposal)


def _entry_json(entry: DrugEntry) -> dict[str, Any]:
    return entry.model_dump(mode="json", exclude_none=True)


def _entry_table(entry: DrugEntry) -> Table:
    table = Table(title=f"{entry.name} (dose unit {entry.dose_unit})")
    for column in ("Item", "Value", "Status / source", "Note"):
        table.add_column(column)
    rows: list[tuple[str, str, Any]] = [("concentration", str(c.value), c) for c in entry.concentrations]
    for kind in ("concentration", "per_day", "per_bolus"):
        pair = getattr(entry.limits, kind)
        for level in ("soft", "hard"):
            limit = getattr(pair, level)
            rows.append((f"{level} limit {kind}", str(limit.value) if limit else "—", limit))
    for name in ("starting_dose", "trial_dose"):
        span = getattr(entry, name)
        rows.append((name.replace("_", " "), f"{span.low} to {span.high}" if span else "—", span))
    rows.append(("stability", f"{entry.stability.days} days" if entry.stability else "—", entry.stability))
    rows += [(f"label {model}", "on-label" if label.on_label else "off-label", label)
             for model, label in entry.labeling.items()]
    if entry.withdrawal:
        rows.append(("withdrawal", entry.withdrawal.text, entry.withdrawal))
    rows += [("note", note.text, note) for note in entry.notes]
    for item, value, sourced in rows:
        table.add_row(item, value, sourced.tag if sourced else "not sourced", sourced.note if sourced else "")
    return table


@app.command("library")
def library_command(
    drug: Annotated[str | None, typer.Argument(help="One drug; all drugs if omitted.")] = None,
    library: LibraryOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the drug library with the [V]/[R] status and source of every number."""
    try:
        chosen = _library(library)
        entries = (chosen.drug(choose("drug", drug, chosen.names)),) if drug else chosen.drugs
    except OpenIDDSError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps({"library": chosen.library, "version": chosen.version,
                               "drugs": [_entry_json(e) for e in entries]}, indent=2))
        return
    out = console()
    out.print(f"[bold]{chosen.library} {chosen.version}[/bold]: [V] verified in source, [R] unverified")
    for entry in entries:
        out.print(_entry_table(entry))
