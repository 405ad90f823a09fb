"""`openidds alarms`: check and install the clinic's escalation policy, escalate its alarms (the dispatcher), raise
one by hand, acknowledge, show one; simulate escalation over a virtual clinic."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from openidds.cli.errors import fail
from openidds.cli.output import console
from openidds.cli.registry_access import Db, acting_user, registry_engine
from openidds.errors import OpenIDDSError
from openidds.wall_clock import utc_now

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from openidds.cohort.escalation_run import EscalationRun
    from openidds.escalation import Escalation, Policy

app = typer.Typer(help="Escalate alarms until someone acknowledges them (see docs/escalation.md).",
                  no_args_is_help=True)
PolicyFile = Annotated[Path, typer.Option("--policy", help="The clinic's escalation policy (.toml or .json).")]
InstallPolicy = Annotated[Path | None, typer.Option(
    "--policy", help="Install this escalation policy file (.toml or .json) first: it becomes the registry's current "
                     "version unless that is the same policy already. Without it: the registry's current version.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
AlarmId = Annotated[int, typer.Argument(help="The alarm's id in the clinic's alarm record.")]
By = Annotated[str | None, typer.Option("--user", help="Who acts (audit trail; default: $OPENIDDS_USER, else the "
                                                         "login name).")]


def _policy(path: Path) -> Policy:
    from openidds.clinic.escalations import read_policy

    return read_policy(path)


def _install(engine: Engine, path: Path | None, by: str | None) -> None:
    """Install the policy file at ``path`` as the registry's current version (nothing when ``path`` is None or
    the current version is that policy already)."""
    from openidds.clinic.escalation_policies import file_source, install_file

    if path is not None:
        install_file(engine, _policy(path), acting_user(by), utc_now(), file_source(path))


def _state(state: Escalation) -> dict[str, object]:
    from openidds.escalation import to_record

    record = to_record(state)
    return {k: v.isoformat() + "Z" if isinstance(v, dt.datetime) else v for k, v in record.items()}


@app.command("check")
def check(
    policy: PolicyFile,
    at: Annotated[str | None, typer.Option("--at", help="A UTC time, ISO 8601 (2026-12-01T02:00); default: "
                                                        "now.")] = None,
    as_json: AsJson = False,
) -> None:
    """Check a policy file, and show each tier with who is on call at --at and whether quiet hours hold
    medium and low alarms then."""
    try:
        rules = _policy(policy)
        when = utc_now() if at is None else _parse_utc(at)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    quiet_until = rules.quiet_until(when)
    tiers = [{"tier": i, "role": t.role.value, "on_call": list(rules.on_call(t.role, when)),
              "channels": [c.value for c in t.channels],
              "timeout_minutes": t.timeout_minutes.model_dump()} for i, t in enumerate(rules.tiers)]
    if as_json:
        typer.echo(json.dumps({"at": when.isoformat() + "Z", "timezone": rules.timezone, "tiers": tiers,
                               "quiet_until": None if quiet_until is None else quiet_until.isoformat() + "Z"}))
        return
    table = Table("tier", "role", "on call", "channels", "timeout (min) high / medium / low")
    for i, tier in enumerate(rules.tiers):
        minutes = tier.timeout_minutes
        table.add_row(str(i + 1), tier.role.value, ", ".join(rules.on_call(tier.role, when)),
                      ", ".join(c.value for c in tier.channels), f"{minutes.high} / {minutes.medium} / {minutes.low}")
    quiet = (f"quiet hours until {quiet_until:%Y-%m-%d %H:%M} UTC: medium and low alarms wait, high ones do not"
             if quiet_until else "not in quiet hours")
    console().print(f"policy OK; at {when:%Y-%m-%d %H:%M} UTC ({rules.timezone}), {quiet}", highlight=False)
    console().print(table)


def _parse_utc(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        raise OpenIDDSError("--at", text, "a UTC time in ISO 8601, such as 2026-12-01T02:00") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


@app.command("install-policy")
def install_policy(
    policy: Annotated[Path, typer.Argument(help="The clinic's escalation policy (.toml or .json).")],
    db: Db = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Install a policy file as the registry's current escalation policy (a new version, unless the current one is
    that same policy). New alarms escalate under it; an alarm already escalating keeps the version it started
    with."""
    from openidds.clinic.escalation_policies import current

    try:
        engine = registry_engine(db)
        _install(engine, policy, by)
        version = current(engine)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    assert version is not None  # just installed
    if as_json:
        typer.echo(json.dumps({k: v for k, v in version.to_dict().items() if k != "policy"}))
    else:
        console().print(f"escalation policy version {version.number} is current (installed by "
                        f"{version.installed_by} at {version.installed_at:%Y-%m-%d %H:%M} UTC from {version.source})",
                        highlight=False)


@app.command("escalate")
def escalate(
    policy: InstallPolicy = None,
    db: Db = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then stop (else: a pass every --every seconds "
                                                      "until interrupted).")] = False,
    every_s: Annotated[float, typer.Option("--every", min=1.0, help="Seconds between passes.")] = 30.0,
    as_json: AsJson = False,
) -> None:
    """The dispatcher: advance every escalation that is due (each under the policy version it started with), send
    what is queued through the current version's transports, record how it went."""
    from openidds.clinic.escalations import dispatch_once
    from openidds.web.transports import senders

    try:
        engine = registry_engine(db)
        _install(engine, policy, None)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    while True:
        try:
            summary = dispatch_once(engine, lambda rules: senders(rules, engine), utc_now)
        except OpenIDDSError as exc:  # the database busy or unreachable for a moment: the next pass tries again
            if once:
                raise fail(exc, as_json) from None
            console(stderr=True).print(f"error: {exc} (next pass in {every_s:g} s)", markup=False, highlight=False)
            time.sleep(every_s)
            continue
        if as_json:
            typer.echo(json.dumps({"at": utc_now().isoformat() + "Z", "advanced": summary.advanced,
                                   "delivered": summary.delivered, "failed": summary.failed}))
        else:
            console().print(f"{utc_now():%Y-%m-%d %H:%M:%S} UTC: {summary.advanced} escalation(s) advanced, "
                            f"{summary.delivered} notification(s) delivered, {summary.failed} failed", highlight=False)
        if once:
            return
        time.sleep(every_s)


@app.command("raise")
def raise_(
    alarm_id: AlarmId,
    kind: Annotated[str, typer.Option("--kind", help="What the alarm is (a pump alarm code: low_reservoir, ...).")],
    priority: Annotated[str, typer.Option("--priority", help="high, medium or low (IEC 60601-1-8).")],
    policy: InstallPolicy = None,
    contact: Annotated[list[str] | None, typer.Option(
        "--contact", help="A patient's or caregiver's address as CHANNEL:ADDRESS (email:carer@home.example); "
                          "repeat for several.")] = None,
    db: Db = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Start escalating an alarm (one reported by telephone, say) under the registry's current policy; an alarm id
    already escalating is merged."""
    from openidds.cli.errors import choose
    from openidds.clinic.escalations import raise_alarm
    from openidds.escalation import AlarmRaised, Channel, Contact, Priority

    try:
        contacts = []
        for text in contact or []:
            channel, _, address = text.partition(":")
            if not address:
                raise OpenIDDSError("--contact", text, "CHANNEL:ADDRESS, such as email:carer@home.example")
            contacts.append(Contact(Channel(choose("--contact channel", channel, [c.value for c in Channel])),
                                    address))
        level = Priority(choose("--priority", priority, [p.value for p in Priority]))
        engine = registry_engine(db)
        _install(engine, policy, by)
        state = raise_alarm(engine, AlarmRaised(alarm_id, kind, level, tuple(contacts)), utc_now(),
                            acting_user(by))
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    _show(state, as_json)


@app.command("ack")
def ack(alarm_id: AlarmId, db: Db = None, by: By = None, as_json: AsJson = False) -> None:
    """Acknowledge an alarm: its escalation stops."""
    from openidds.clinic.escalations import acknowledge

    try:
        state = acknowledge(registry_engine(db), alarm_id, acting_user(by), utc_now())
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    _show(state, as_json)


@app.command("show")
def show(alarm_id: AlarmId, db: Db = None, as_json: AsJson = False) -> None:
    """An alarm's escalation: where it stands, and everything that happened to it."""
    from openidds.clinic.escalations import escalation, escalation_log

    try:
        engine = registry_engine(db)
        state, log = escalation(engine, alarm_id), escalation_log(engine, alarm_id)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps({"escalation": _state(state), "log": [
            {"at": e.at.isoformat() + "Z", "kind": e.kind.value, "reason": e.reason, "who": e.who} for e in log]}))
        return
    _show(state, False)
    table = Table("at (UTC)", "what", "who", "why")
    for entry in log:
        table.add_row(f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.kind.value, entry.who or "", entry.reason)
    console().print(table)


def _show(state: Escalation, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_state(state)))
        return
    due = f", next step at {state.next_due:%Y-%m-%d %H:%M} UTC" if state.next_due else ""
    who = f", acknowledged by {state.acknowledged_by}" if state.acknowledged_by else ""
    console().print(f"alarm {state.alarm_id} ({state.priority.value} {state.kind}): {state.phase.value} at tier "
                    f"{state.tier + 1}{who}{due}", highlight=False)


@app.command("simulate")
def simulate(
    policy: PolicyFile,
    clinic: Annotated[str, typer.Option("--clinic", help="A bundled virtual clinic (example, remote) or a clinic file "
                                                         "(.toml, docs/cohort.md).")] = "example",
    responders: Annotated[str, typer.Option(
        "--responders", help="How the people on call answer: a bundled model (example) or a model file (.toml, "
                             "docs/escalation.md).")] = "example",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the simulated answers and failures.")] = 1,
    replicates: Annotated[int, typer.Option("--replicates", min=1, help="Runs over the clinic's alarms, each "
                                                                        "answered anew, pooled.")] = 100,
    every_s: Annotated[float, typer.Option("--every", min=1.0, help="Seconds between the dispatcher's "
                                                                    "passes.")] = 30.0,
    out: Annotated[Path | None, typer.Option("--out", help="A folder for the figures (time-to-acknowledge.png; "
                                                           "empty-reservoirs.png when the responders model states "
                                                           "refill visits), the outcome of every alarm (alarms.csv) "
                                                           "and each replicate's empty reservoirs "
                                                           "(empty-reservoirs.csv).")] = None,
    refill_visits: Annotated[bool, typer.Option(
        "--refill-visits/--no-refill-visits",
        help="Play the refill visits the responders model states (an acknowledged low- or empty-reservoir alarm "
             "leads to one); without: the clinic's reservoirs run empty whatever the answer.")] = True,
    as_json: AsJson = False,
) -> None:
    """Escalate every alarm of a virtual clinic under a policy, answered by simulated people on a simulated
    clock: the time to acknowledgement by priority and the escalations per 100 pump-months; with the refill visits
    acknowledged reservoir alarms lead to, the empty reservoirs against no escalation."""
    import tempfile

    from openidds.clinic.database import connect
    from openidds.cohort.escalation_run import load_responders, load_virtual_clinic, run_replicates

    try:
        rules = _policy(policy)
        model = load_responders(responders)
        if not refill_visits:
            model = model.model_copy(update={"refill_visits": None})
        model.check_roles(tuple(t.role for t in rules.tiers))
        with tempfile.TemporaryDirectory(prefix="openidds-clinic-") as folder:
            registry = Path(folder) / "registry.sqlite"
            engine = connect(registry)
            try:
                day = load_virtual_clinic(engine, clinic)
            finally:
                engine.dispose()
            run = run_replicates(registry, rules, model, seed, replicates, day, dt.timedelta(seconds=every_s))
        written = [] if out is None else _write_run(run, rules, out)
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps({**run.summary(), "written": [str(p) for p in written]}))
        return
    _print_run(run)
    for path in written:
        console().print(f"wrote {path}", highlight=False)


def _write_run(run: EscalationRun, rules: Policy, out: Path) -> list[Path]:
    """The run's figure and its table of alarms, into the folder ``out``."""
    import csv
    import io

    from openidds.cli.output import write_atomic
    from openidds.cohort.escalation_figure import empty_reservoir_figure, time_to_acknowledge_figure
    from openidds.outcomes.figures import render

    def write_table(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        write_atomic(path, text.getvalue().encode("utf-8"))

    out.mkdir(parents=True, exist_ok=True)
    figure, table = out / "time-to-acknowledge.png", out / "alarms.csv"
    write_atomic(figure, render(time_to_acknowledge_figure(run, rules), "png"))
    write_table(table, *run.table())
    if run.refill_visits is None:
        return [figure, table]
    empty_figure, empty_table = out / "empty-reservoirs.png", out / "empty-reservoirs.csv"
    write_atomic(empty_figure, render(empty_reservoir_figure(run), "png"))
    write_table(empty_table, *run.empty_reservoir_table())
    return [figure, table, empty_figure, empty_table]


def _print_run(run: EscalationRun) -> None:
    from openidds.cohort.escalation_run import Ending

    def minutes(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f}"

    delays = Table("priority", "alarms", "acknowledged", "median (min)", "IQR (min)", "95th percentile (min)",
                   title="Time from the alarm to its acknowledgement")
    for d in run.delays():
        delays.add_row(d.priority.value, str(d.alarms), str(d.acknowledged), minutes(d.median),
                       "–" if d.q1 is None else f"{minutes(d.q1)} – {minutes(d.q3)}", minutes(d.p95))
    console().print(delays)
    total = len(run.raised) or 1
    summary = Table("", "alarms", "share", title=f"Escalation over the clinic: {len(run.raised)} alarm escalations "
                    f"({run.replicates} replicates, seed {run.seed}, a dispatcher pass every "
                    f"{run.pass_interval.total_seconds():g} s)")
    for tier, count in run.acknowledged_at_tier():
        summary.add_row(f"acknowledged at tier {tier + 1} ({run.tier_roles[tier]})", str(count), f"{count / total:.1%}")
    for label, count in (("cleared by a source before anyone acknowledged", run.count(Ending.CLEARED)),
                         ("never acknowledged", run.count(Ending.UNANSWERED)),
                         ("exhausted: the last tier timed out (a logged failure)", run.exhausted)):
        summary.add_row(label, str(count), f"{count / total:.1%}")
    console().print(summary)
    prevented = run.count(Ending.PREVENTED)
    raised = (f"; {len(run.raised) / run.replicates:.1f} raised per replicate, {prevented / run.replicates:.1f} "
              "prevented by a refill visit" if prevented else "")
    console().print(f"{len(run.outcomes) // run.replicates} alarms in the clinic's record over its "
                    f"{run.pump_months:.1f} pump-months{raised} ({run.alarms_per_100_pump_months:.2f} raised per 100 "
                    f"pump-months); {run.escalations} escalations (tier moves) over {run.replicates} replicates: "
                    f"{run.escalations_per_100_pump_months:.2f} per 100 pump-months. Quantiles: R's type 7, among the "
                    "acknowledged alarms.", highlight=False)
    if run.refill_visits is not None:
        _print_empty_reservoirs(run)


def _print_empty_reservoirs(run: EscalationRun) -> None:
    summary = run.empty_reservoir_summary()
    assert summary is not None and run.refill_visits is not None
    visits, baseline, pooled = run.refill_visits, summary["baseline"], summary["with_escalation"]
    table = Table("", "pumps empty", "patients affected", "pump-hours without drug",
                  title=f"Empty reservoirs of the {len(run.reservoir_runs)} "
                        f"pump{'' if len(run.reservoir_runs) == 1 else 's'} that ran low or empty: with "
                        f"escalation (a refill visit {visits.after_low_reservoir_hours:g} h after a low-reservoir, "
                        f"{visits.after_empty_reservoir_hours:g} h after an empty-reservoir acknowledgement) and "
                        "without (nobody notified: refilled at the record's next refill)")
    table.add_row("no escalation", str(baseline["pumps_empty"]), str(baseline["patients_affected"]),
                  f"{baseline['pump_hours_without_drug']:,.1f}")
    keys = ("pumps_empty", "patients_affected", "pump_hours_without_drug")
    table.add_row(f"with escalation: mean of {run.replicates} replicates",
                  *(f"{pooled[k]['mean']:,.2f}" for k in keys))
    table.add_row("with escalation: replicates' range", *(f"{pooled[k]['min']:,.1f} – {pooled[k]['max']:,.1f}"
                                                          for k in keys))
    console().print(table)
    console().print("Each pump followed to the earliest of its next refill in the record, its explant, its patient's "
                    "exit and the end of the clinic day; empty from its own empty-reservoir alarm. Per replicate: "
                    "empty-reservoirs.csv (--out) or --json.", highlight=False)
