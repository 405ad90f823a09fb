"""`openidds program`: the clinician programmer and the patient's bolus device, on a pump state file.

The state file (docs/programmer.md) holds the pump's description and the journal of the commands it
accepted; every command here rebuilds the pump by replaying the journal, runs one session, and writes
the file back (the session log too, refusals included). Nothing is sent without ``--confirm``.
"""

import json
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from openidds.cli._session_options import (
    ConfirmOption,
    JsonOption,
    LibraryOption,
    SessionOptions,
    with_session_options,
)
from openidds.cli.errors import choose, fail
from openidds.cli.output import console as output_console
from openidds.cli.state_files import (
    KeyFileOption,
    forecast_lines,
    library_from,
    open_pump,
    read_state,
    when,
    write_state,
)
from openidds.errors import OpenIDDSError
from openidds.state_key import ensure_key

if TYPE_CHECKING:
    from openidds.drugs import DrugLibrary
    from openidds.programmer import Policy, ProgrammingSession, PumpState, RefillWorkflow, Review, TherapyOrder
    from openidds.pump import Pump
    from openidds.units import Quantity

app = typer.Typer(help="Clinician programmer and patient bolus device on a pump state file. Not a medical device.",
                  no_args_is_help=True)

StatePath = Annotated[Path, typer.Argument(help="The pump state file (JSON, see docs/programmer.md).")]
PROGRAM_OPTIONS = "--dose/--flex/--periodic/--stop"
AtOption = Annotated[str, typer.Option("--at", help="Local date-time of the session, e.g. 2026-02-01T09:00.")]


def _open_session(path: Path, at: str, key_file: Path | None) -> "tuple[PumpState, Pump, int]":
    """``open_pump`` for a session, which adds to the journal: a time before its last entry is refused."""
    from openidds.programmer import ProgrammerError

    state, pump, at_s = open_pump(path, at, key_file)
    if at_s < state.last_s():
        raise ProgrammerError("--at", at, f"a time at or after the last journal entry ({when(state, state.last_s())})")
    return state, pump, at_s


def save_session(path: Path, state: "PumpState", session: "ProgrammingSession", key_file: Path | None,
                 command=None, note: str = "") -> "PumpState":
    lines = [e.to_dict() | {"session": f"{session.clinician}@{session.at_s}"} for e in session.log]
    state = state.with_session(lines, command, note)
    write_state(path, state, key_file)
    return state


def next_step(error: OpenIDDSError) -> str:
    """How to go on after a session's refusal, in this command's options ('' when the message says it all)."""
    from openidds.programmer import SessionRefused

    if not isinstance(error, SessionRefused):
        return ""
    if error.field == "discrepancy":
        return ("investigate the flagged residual (what it suggests is shown above), then run the refill again "
                "with --ack-discrepancy 'what was found' (recorded in the session log with your name)")
    if error.field == "override" and error.findings:
        lines = ["confirm each soft finding with --override 'ID=why' (recorded with your name):"]
        lines += [f"  --override '{f.id}=...'  {f.reason}" for f in error.findings]
        return "\n".join(lines)
    return ""


# ---------------------------------------------------------------------- orders from options


def _split(text: str, field: str) -> tuple[str, str]:
    from openidds.programmer import ProgrammerError

    if "=" not in text:
        raise ProgrammerError(field, text, "'name=value'")
    name, value = text.split("=", 1)
    return name.strip(), value.strip()


def build_order(pump: "Pump", options: SessionOptions, library: "DrugLibrary") -> "TherapyOrder | None":
    """The order from the command-line options; None when no dose option is given (keep the therapy)."""
    from openidds.programmer import (
        BolusOrder,
        ContinuousDose,
        FlexDose,
        ProgrammerError,
        StoppedDose,
        TherapyOrder,
        present_bolus_order,
    )
    from openidds.programmer.order_entry import flex_step_from_text, periodic_from_text
    from openidds.programmer.orders import DoseProgram, dose
    from openidds.units import MASS

    given = (("--dose", options.dose), ("--flex", options.flex), ("--periodic", options.periodic),
             ("--stop", options.stop))
    chosen = [name for name, value in given if value]
    if len(chosen) > 1:
        raise ProgrammerError("program", chosen, "one of --dose, --flex, --periodic, --stop")
    if not chosen:
        if options.bolus or options.no_bolus or options.max_24h:
            raise ProgrammerError(PROGRAM_OPTIONS, None, "the program, entered again with the bolus change")
        return None
    solution = pump.solution
    if solution is None:
        raise ProgrammerError("pump", "empty", "a filled pump: refill before programming")
    drug = options.drug
    if drug is None:
        if len(solution.drugs) != 1:
            raise ProgrammerError("--drug", None, f"the drug whose dose sets the rate: one of {solution.drugs}")
        drug = solution.drugs[0]
    choose("--drug", drug, solution.drugs)
    program: DoseProgram
    if options.stop:
        program = StoppedDose()
    elif options.dose:
        program = ContinuousDose(dose(options.dose, "dose"))
    elif options.periodic:
        program = periodic_from_text(options.periodic, "--periodic")
    else:
        program = FlexDose(tuple(flex_step_from_text(i, text, f"--flex[{i}]")
                                 for i, text in enumerate(options.flex or [])))
    patient: BolusOrder | None
    if options.bolus:
        patient = BolusOrder(dose(options.bolus, "patient_bolus.dose", MASS), options.bolus_duration_min * 60,
                             options.lockout_min * 60, options.max_boluses)
    else:
        patient = None if options.no_bolus else present_bolus_order(pump, drug, library)
    limits = {}
    for i, text in enumerate(options.max_24h or []):
        limited, amount = _split(text, f"--max-24h[{i}]")
        limits[limited] = dose(amount, f"max_per_24h.{limited}", MASS)
    return TherapyOrder(drug, program, patient, limits)


def _open_order(path: Path, at: str, options: SessionOptions,
                key_file: Path | None) -> "tuple[PumpState, Pump, int, DrugLibrary, TherapyOrder | None]":
    """What `set` and `refill` start with: the state, the pump at ``--at``, the drug library and the order."""
    state, pump, at_s = _open_session(path, at, key_file)
    library = library_from(options.library)
    return state, pump, at_s, library, build_order(pump, options, library)


def policy_from(max_increase: str) -> "Policy":
    from openidds.programmer import Policy, ProgrammerError

    try:
        value = Fraction(max_increase)
    except (ValueError, ZeroDivisionError):
        raise ProgrammerError("--max-increase", max_increase, "a percentage such as 30") from None
    return Policy(max_increase_percent=value)


def apply_overrides(actor: "ProgrammingSession | RefillWorkflow", review: "Review", overrides: list[str] | None,
                    who: str) -> None:
    """Confirm the soft findings named by ``--override ID=why``; a mistyped ID is refused with the nearest."""
    for i, text in enumerate(overrides or []):
        finding, why = _split(text, f"--override[{i}]")
        choose(f"--override[{i}]", finding, [f.id for f in review.soft])
        actor.override(finding, who, why)


# ---------------------------------------------------------------------- output


def _q(q: "Quantity | None") -> str:
    from openidds.units import format_quantity

    return "—" if q is None else format_quantity(q, places=3)


def print_review(console: Console, state: "PumpState", review: "Review") -> None:
    from openidds.programmer import describe_therapy
    from openidds.pump.ticks import decimal_text

    table = Table(title="Review: old and new", header_style="bold")
    for column in ("drug", "concentration", "daily dose", "change", "patient bolus", "per 24 h",
                   "24-h limit", "worst 24 h"):
        table.add_column(column)
    for r in review.rows:
        change = "new" if r.change_percent is None else f"{decimal_text(r.change_percent, 1)} %"
        table.add_row(r.drug, f"{_q(r.concentration_old)} → {_q(r.concentration_new)}",
                      f"{_q(r.daily_old)} → {_q(r.daily_new)}", change, f"{_q(r.bolus_old)} → {_q(r.bolus_new)}",
                      f"{r.boluses_old or '—'} → {r.boluses_new or '—'}",
                      f"{_q(r.max_24h_old)} → {_q(r.max_24h_new)}",
                      _q(r.worst_24h_new))
    if review.rows:
        console.print(table)
    console.print(f"program: {describe_therapy(review.therapy)}", highlight=False)
    for c in review.conversions:
        console.print(f"  {c.describe()}", style="yellow" if c.rounded else "", highlight=False)
    styles = {"hard": "bold red", "soft": "yellow", "info": "dim"}
    for f in review.findings:
        mark = " [R]" if f.unverified else ""
        console.print(f"  {f.level.value:4} {f.id}: {f.reason}{mark}", style=styles[f.level.value], markup=False,
                      highlight=False)
    if review.old_forecast is not None:
        console.print("before:", highlight=False)
        for line in forecast_lines(state, review.old_forecast):
            console.print(f"  {line}", markup=False, highlight=False)
    console.print("after:", highlight=False)
    for line in forecast_lines(state, review.new_forecast):
        console.print(f"  {line}", markup=False, highlight=False)
    if review.relies_on_unverified:
        console.print("This review relies on at least one unverified [R] number.", style="yellow", markup=False)


def _not_sent(console: Console, review: "Review") -> None:
    soft = [f.id for f in review.soft]
    hint = f" and --override ID=why for {', '.join(soft)}" if soft else ""
    console.print(f"Not sent: review only. Add --confirm{hint} to send.", style="bold")


# ---------------------------------------------------------------------- commands


@app.command()
def init(
    state_path: StatePath,
    start: Annotated[str, typer.Option("--start", help="Implant date-time: t = 0 on the pump clock.")],
    reservoir_ml: Annotated[int, typer.Option("--reservoir-ml")] = 20,
    low_reservoir_ml: Annotated[str, typer.Option("--low-reservoir-ml")] = "2",
    catheter_length_cm: Annotated[int, typer.Option("--catheter-length-cm")] = 80,
    catheter_volume_ml: Annotated[str, typer.Option("--catheter-volume-ml")] = "0.16",
    tip: Annotated[str, typer.Option("--tip", help="Catheter tip level, e.g. T10.")] = "T10",
    key_file: KeyFileOption = None,
) -> None:
    """Create a pump state file for a newly implanted pump (refuses to overwrite)."""
    from openidds.programmer import ProgrammerError
    from openidds.programmer.state_file import new_state
    from openidds.pump import Catheter

    try:
        if state_path.exists():
            raise ProgrammerError("state", str(state_path), "a new file (it exists; nothing was changed)")
        try:
            start_at = datetime.fromisoformat(start)
        except ValueError:
            raise ProgrammerError("--start", start, "an ISO local date-time such as 2026-01-05T08:00") from None
        raw = {"start": start_at.isoformat(), "pump": {
            "reservoir_ml": reservoir_ml, "low_reservoir_ml": low_reservoir_ml,
            "catheter": {"length_cm": catheter_length_cm, "volume_ml": catheter_volume_ml, "tip_level": tip}}}
        state = new_state(raw, "options")
        Catheter(catheter_length_cm, catheter_volume_ml, tip)
        ensure_key(key_file)
        write_state(state_path, state, key_file)
    except OpenIDDSError as error:
        raise fail(error) from None
    typer.echo(f"created {state_path}: {state.pump.model} {reservoir_ml} mL, implanted {start_at.isoformat()}")


@app.command()
def show(state_path: StatePath, at: Annotated[str | None, typer.Option("--at")] = None,
         library: LibraryOption = None, as_json: JsonOption = False, key_file: KeyFileOption = None) -> None:
    """Interrogate the pump (on a copy: nothing is written) and show therapy, reservoir, alarms,
    the bolus device and the refill forecast."""
    from openidds.programmer import PatientBolusDevice, Policy, present_doses, present_forecast
    from openidds.pump.ticks import decimal_text, ticks_to_ml

    try:
        state, pump, at_s = open_pump(state_path, at, key_file)
        pump.advance(at_s)
        screen = PatientBolusDevice(pump).screen(at_s)
        drugs = library_from(library)
        fc = present_forecast(pump, at_s, Policy(), drugs)
    except OpenIDDSError as error:
        raise fail(error) from None
    doses = [{"drug": drug, "daily": _q(f.daily), "bolus": _q(f.bolus), "boluses_per_24h": f.boluses,
              "max_24h": _q(f.max_24h)} for drug, f in present_doses(pump, drugs)]
    result = {
        "at": state.when(at_s).isoformat(), "at_s": at_s,
        "program": pump.therapy.program.describe() if pump.therapy else "not programmed",
        "solution": pump.solution.describe() if pump.solution else "empty",
        "reservoir_ml": decimal_text(ticks_to_ml(pump.reservoir_estimated_ticks), 3),
        "delivering": pump.delivering, "alarms": [a.to_dict() for a in pump.alarms], "doses": doses,
        "bolus_device": screen.to_dict(), "forecast": fc.to_dict(),
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    console = output_console()
    console.print(f"[bold]{state.pump.model} {state.pump.reservoir_ml} mL[/bold] at {when(state, at_s)}")
    console.print(f"program: {result['program']}; solution: {result['solution']}; reservoir "
                  f"{result['reservoir_ml']} mL (estimated); now: {pump.delivering}", highlight=False)
    for d in doses:
        console.print(f"  {d['drug']}: {d['daily']} basal, bolus {d['bolus']} x {d['boluses_per_24h'] or 0}/24 h, "
                      f"24-h limit {d['max_24h']}", highlight=False)
    for a in pump.alarms:
        console.print(f"  ALARM {a.kind.value} ({a.severity.value}) since {when(state, a.at_s)}: {a.reason}",
                      style="bold red" if a.severity.value == "critical" else "yellow", markup=False)
    next_at = "" if screen.next_allowed_s is None else f", next at {when(state, screen.next_allowed_s)}"
    console.print(f"bolus device: {screen.message}; {screen.left_in_24h} left in 24 h{next_at}", highlight=False)
    for line in forecast_lines(state, fc):
        console.print(line, markup=False, highlight=False)


@app.command("set")
@with_session_options
def set_therapy(
    state_path: StatePath, at: AtOption,
    clinician: Annotated[str, typer.Option("--clinician", help="Who programs (recorded).")],
    key_file: KeyFileOption = None, *, options: SessionOptions,
) -> None:
    """A programming session: enter doses in drug units, review old and new, confirm, send."""
    from openidds.programmer import ProgrammerError, ProgrammingSession

    session = None
    try:
        state, pump, at_s, drugs, order = _open_order(state_path, at, options, key_file)
        if order is None:
            raise ProgrammerError(PROGRAM_OPTIONS, None, "the new program")
        session = ProgrammingSession(pump, at_s, clinician, library=drugs, policy=policy_from(options.max_increase))
        review = session.edit(order)
        _finish(state_path, state, session, review, options, clinician, key_file)
    except OpenIDDSError as error:
        if session is not None:
            save_session(state_path, state, session, key_file)
        raise fail(error, options.as_json, next_step(error)) from None


def _finish(state_path: Path, state: "PumpState", session, review: "Review", options: SessionOptions, who: str,
            key_file: Path | None, workflow: "RefillWorkflow | None" = None) -> None:
    from openidds.programmer import describe_therapy
    from openidds.pump.ticks import decimal_text

    actor = workflow or session
    apply_overrides(actor, review, options.override, who)
    sent = None
    bridge = None
    if options.confirm:
        actor.confirm(who)
        if workflow is not None:
            record = workflow.transmit()
            bridge = record.bridge
            sent = {"withdrawn_ml": decimal_text(record.report.withdrawn_ml, 6),
                    "observe_until": when(state, record.observe_until_s),
                    "bridge": None if bridge is None else bridge.to_dict()}
        else:
            session.transmit()
            sent = {"program": describe_therapy(review.therapy)}
        save_session(state_path, state, session, key_file, session.sent)
    else:
        session.abandon("review only: not confirmed")
        save_session(state_path, state, session, key_file)
    if options.as_json:
        typer.echo(json.dumps({"review": review.to_dict(), "sent": sent,
                               "session_log": [e.to_dict() for e in session.log]}, indent=2))
        return
    console = output_console()
    print_review(console, state, review)
    if sent is None:
        _not_sent(console, review)
    else:
        console.print(f"Sent at {when(state, session.at_s)}.", style="bold green")
        if workflow is not None:
            console.print(f"Observe the patient until {sent['observe_until']}.", style="bold")
            if bridge is not None:
                console.print(f"Bridge bolus: {'; '.join(bridge.reasons + bridge.warnings)}", markup=False,
                              highlight=False)


@app.command()
@with_session_options
def refill(
    state_path: StatePath, at: AtOption,
    nurse: Annotated[str, typer.Option("--nurse", help="Who refills (recorded).")],
    prescribed: Annotated[list[str], typer.Option("--prescribed", help="Prescription 'drug=25 mg/mL' (repeatable).")],
    prescriber: Annotated[str, typer.Option("--prescriber", help="Who prescribed.")],
    conc: Annotated[list[str], typer.Option("--concentration", help="Concentration on the syringe 'drug=25 mg/mL'.")],
    conc_again: Annotated[list[str], typer.Option("--concentration-again", help="The same, entered again.")],
    volume_ml: Annotated[str, typer.Option("--volume-ml", help="Volume injected into the reservoir (mL).")],
    withdrawn_ml: Annotated[str | None, typer.Option(
        "--withdrawn-ml",
        help="Residual withdrawn and measured (mL); default: the simulated pump's true residual.")] = None,
    ack_discrepancy: Annotated[str | None, typer.Option(
        "--ack-discrepancy", help="Why a flagged discrepancy is accepted.")] = None,
    checklist: Annotated[bool, typer.Option(
        "--checklist-done", help="Every pocket-fill checklist item was done.")] = False,
    key_file: KeyFileOption = None, *, options: SessionOptions,
) -> None:
    """The refill workflow: withdraw and compare, check the fill, review, checklist, send, observe."""
    from openidds.programmer import CHECKLIST, Prescription, RefillWorkflow
    from openidds.units import CONCENTRATION, parse_quantity

    session = None
    try:
        state, pump, at_s, drugs, order = _open_order(state_path, at, options, key_file)
        prescription = {}
        for i, text in enumerate(prescribed):
            drug, amount = _split(text, f"--prescribed[{i}]")
            prescription[drug] = parse_quantity(amount, CONCENTRATION, f"prescription.{drug}")
        workflow = RefillWorkflow(pump, at_s, nurse, Prescription(prescription, prescriber), library=drugs,
                                  policy=policy_from(options.max_increase))
        session = workflow.session
        discrepancy = workflow.withdraw_simulated() if withdrawn_ml is None else workflow.withdraw(withdrawn_ml)
        if ack_discrepancy and workflow.needs_acknowledgement:
            workflow.acknowledge_discrepancy(nurse, ack_discrepancy)
        review = workflow.fill(dict(_split(t, f"--concentration[{i}]") for i, t in enumerate(conc)),
                               dict(_split(t, f"--concentration-again[{i}]") for i, t in enumerate(conc_again)),
                               volume_ml, order)
        if checklist:
            workflow.confirm_checklist(nurse, [item for item, _ in CHECKLIST])
        if not options.as_json:
            output_console().print(f"residual: {discrepancy.describe()}", markup=False, highlight=False)
            if workflow.trend is not None and workflow.trend.flagged:
                output_console().print("discrepancy TREND flagged across refills", style="bold red")
        _finish(state_path, state, session, review, options, nurse, key_file, workflow)
    except OpenIDDSError as error:
        if session is not None:
            save_session(state_path, state, session, key_file)
        raise fail(error, options.as_json, next_step(error)) from None


@app.command()
def bolus(
    state_path: StatePath, at: AtOption,
    clinician: Annotated[str, typer.Option("--clinician")],
    kind: Annotated[str, typer.Option("--kind", help="priming (after implant or revision) or bridge (after a "
                                                     "concentration change).")],
    confirm: ConfirmOption = False, as_json: JsonOption = False, key_file: KeyFileOption = None,
) -> None:
    """Calculate a priming or bridge bolus from the catheter and tubing volumes; --confirm sends it."""
    from openidds.programmer import ProgrammingSession, plain_decimal, plan_bolus
    from openidds.pump import BolusKind

    session = None
    try:
        state, pump, at_s = _open_session(state_path, at, key_file)
        plan = plan_bolus(pump, BolusKind(choose("--kind", kind, (BolusKind.PRIMING.value, BolusKind.BRIDGE.value))))
        if confirm:
            session = ProgrammingSession(pump, at_s, clinician)
            session.transmit_bolus(plan)
            save_session(state_path, state, session, key_file, session.sent, f"{kind} bolus by {clinician}")
    except OpenIDDSError as error:
        if session is not None:
            save_session(state_path, state, session, key_file)
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps({"plan": plan.to_dict(), "sent": confirm}, indent=2))
        return
    console = output_console()
    console.print(f"[bold]{kind} bolus[/bold]: {plain_decimal(plan.volume_ml)} mL over {plan.duration_s // 60} min"
                  f" ({'feasible' if plan.feasible else 'NOT feasible'})")
    for line in plan.reasons + plan.warnings:
        console.print(f"  {line}", markup=False, highlight=False)
    console.print("Sent." if confirm else "Not sent: add --confirm to send.", style="bold")


@app.command()
def patient(state_path: StatePath, at: AtOption,
            press: Annotated[bool, typer.Option("--press", help="Press the bolus button.")] = False,
            as_json: JsonOption = False, key_file: KeyFileOption = None) -> None:
    """The patient's bolus device: what it shows, or a press of its button (the only thing it can do)."""
    from openidds.programmer import PatientBolusDevice
    from openidds.pump import RequestPatientBolus

    try:
        state, pump, at_s = _open_session(state_path, at, key_file)
        device = PatientBolusDevice(pump)
        if press:
            screen = device.press(at_s)
            state = state.with_sent(at_s, RequestPatientBolus(), "patient", screen.message, "patient pressed")
            write_state(state_path, state, key_file)
        else:
            screen = device.screen(at_s)
    except OpenIDDSError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(screen.to_dict(), indent=2))
        return
    next_at = "" if screen.next_allowed_s is None else f"; next allowed {when(state, screen.next_allowed_s)}"
    typer.echo(f"{screen.message}; {screen.left_in_24h} left in the last 24 h{next_at}")


@app.command("revise-catheter")
def revise_catheter(
    state_path: StatePath, at: AtOption, clinician: Annotated[str, typer.Option("--clinician")],
    length_cm: Annotated[int, typer.Option("--length-cm")], volume_ml: Annotated[str, typer.Option("--volume-ml")],
    tip: Annotated[str, typer.Option("--tip")], key_file: KeyFileOption = None,
) -> None:
    """Record a surgical catheter revision (the new catheter is unprimed: a priming bolus follows)."""
    from openidds.pump import Catheter, ReviseCatheter

    try:
        state, _, at_s = _open_session(state_path, at, key_file)
        command = ReviseCatheter(Catheter(length_cm, volume_ml, tip))
        reason = f"catheter revised: {length_cm} cm, {volume_ml} mL, tip {tip}"
        state = state.with_sent(at_s, command, clinician, reason, f"revision by {clinician}")
        state.replay()
        write_state(state_path, state, key_file)
    except OpenIDDSError as error:
        raise fail(error) from None
    typer.echo("catheter revised; prime it: openidds program bolus --kind priming ...")


@app.command()
def log(state_path: StatePath, as_json: JsonOption = False, key_file: KeyFileOption = None) -> None:
    """The session log: every session step, refusal, override and confirmation."""
    try:
        state = read_state(state_path, key_file)
    except OpenIDDSError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(list(state.sessions), indent=2))
        return
    table = Table(header_style="bold")
    for column in ("when", "kind", "who", "reason"):
        table.add_column(column)
    for line in state.sessions:
        table.add_row(when(state, line["at_s"]), line["kind"], line["who"], line["reason"],
                      style="bold red" if line["kind"] == "refused" else "")
    output_console().print(table)
