"""One audit entry per imported pump log, sealing the log's events by their digest.

A pump log import adds thousands of events per implant, all from one file the pump wrote. Rather than one audit
entry per event, the import writes one entry per log (``table_name`` ``pump_events``, ``action``
:data:`ACTION`, ``record_id`` the implant's id) whose ``after`` names the events it added and seals them:
``{"implant_id", "events": count, "ids": [[first, last], ...] (runs of event ids), "digest"}``, the digest being
the SHA-256 of the events as stored (:func:`events_digest`). The entry is sealed into the audit trail's hash
chain like any other, so neither it nor the digest can change unseen; :func:`verify_pump_logs` recomputes each
digest from the stored events, so a changed or deleted event is found, and an event that neither such an entry
nor its own insert entry accounts for was written outside the registry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from hashlib import sha256
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, Engine, Text, and_, or_, select, type_coerce

from openidds.clinic.audit_chain import json_array
from openidds.clinic.findings import Finding
from openidds.clinic.models import AuditEntry, Base, PumpEvent

ACTION = "insert_log"
"""The audit action of a pump log's import (the ``action`` column holds at most 10 characters)."""
_EVENTS = Base.metadata.tables[PumpEvent.__tablename__]
_ENTRIES = Base.metadata.tables[AuditEntry.__tablename__]
_STORED = (_EVENTS.c.id, _EVENTS.c.implant_id, _EVENTS.c.seq, _EVENTS.c.at, _EVENTS.c.kind, _EVENTS.c.reason,
           _EVENTS.c.data, _EVENTS.c.version)
_RUNS_PER_QUERY = 200


def events_digest(rows: Sequence[Sequence[Any]]) -> str:
    """SHA-256 of events given as ``(id, implant_id, seq, at, kind, reason, data, version)`` in id order, ``at`` a
    naive UTC datetime and ``data`` its ``json.dumps`` text: one JSON array per event (``at`` in ISO 8601), each
    followed by a newline. The values are those the registry reads back, whatever the database stores them as."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * len(_STORED)
    columns[3] = [at.isoformat() for at in columns[3]]
    return lines_digest(event_lines(columns))


def lines_digest(lines: Sequence[str]) -> str:
    """SHA-256 of events' lines (:func:`event_lines`): :func:`events_digest` of the events."""
    return sha256("".join(lines).encode()).hexdigest()


def event_lines(columns: Sequence[Sequence[Any]]) -> list[str]:
    """Each event's line of :func:`events_digest`, the events given column by column (``ids, implant_ids, seqs,
    ats, kinds, reasons, data, versions``, ``ats`` as their ISO 8601 texts): ``json_array`` of its values and a
    newline, written by one format when the ids, seq and versions are ints (not bools) and the texts are strings,
    as the registry's events are (an ISO 8601 text has nothing JSON escapes)."""
    ids, implant_ids, seqs, ats, kinds, reasons, data, versions = columns
    numbers = {*map(type, ids), *map(type, implant_ids), *map(type, seqs), *map(type, versions)}
    texts = {*map(type, ats), *map(type, kinds), *map(type, reasons), *map(type, data)}
    if numbers <= {int} and all(issubclass(text, str) for text in texts):
        escaped = {text: encode_basestring_ascii(text) for text in {*kinds, *reasons}}
        return list(map('[%d,%d,%d,"%s",%s,%s,%s,%d]\n'.__mod__, zip(
            ids, implant_ids, seqs, ats, map(escaped.__getitem__, kinds), map(escaped.__getitem__, reasons),
            map(encode_basestring_ascii, data), versions, strict=True)))
    return [json_array(list(values)) + "\n" for values in zip(*columns, strict=True)]


def id_runs(ids: Sequence[int]) -> list[list[int]]:
    """Strictly ascending ids as runs of consecutive ids, ``[[first, last], ...]``."""
    if ids and ids[-1] - ids[0] == len(ids) - 1:  # as many ascending ids as the span holds: one run
        return [[ids[0], ids[-1]]]
    runs: list[list[int]] = []
    for record_id in ids:
        if runs and record_id == runs[-1][1] + 1:
            runs[-1][1] = record_id
        else:
            runs.append([record_id, record_id])
    return runs


def log_entry(implant_id: int, ids: Sequence[int], digest: str) -> dict[str, Any]:
    """The ``after`` of a pump log's audit entry (see the module's description)."""
    return {"implant_id": implant_id, "events": len(ids), "ids": id_runs(ids), "digest": digest}


def _stored_events(conn: Connection, runs: list[list[int]]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(runs), _RUNS_PER_QUERY):
        part = runs[start:start + _RUNS_PER_QUERY]
        out += [(*row[:6], json.dumps(row[6]), row[7]) for row in conn.execute(
            select(*_STORED).where(or_(*(_EVENTS.c.id.between(a, b) for a, b in part))).order_by(_EVENTS.c.id))]
    return out


def verify_pump_logs(engine: Engine) -> list[Finding]:
    """A finding for each imported pump log whose events no longer match the digest its audit entry sealed (an
    event changed or deleted), and for each pump event no audit entry accounts for (written outside the registry)."""
    findings: list[Finding] = []
    covered: set[int] = set()
    with engine.connect() as conn:
        logs = conn.execute(select(_ENTRIES.c.id, type_coerce(_ENTRIES.c.after, Text)).where(
            _ENTRIES.c.table_name == PumpEvent.__tablename__, _ENTRIES.c.action == ACTION).order_by(_ENTRIES.c.id))
        for entry_id, after in logs.all():
            sealed = json.loads(after)
            runs = [[int(a), int(b)] for a, b in sealed["ids"]]
            rows = _stored_events(conn, runs)
            covered.update(i for a, b in runs for i in range(a, b + 1))
            if len(rows) != sealed["events"] or events_digest(rows) != sealed["digest"]:
                findings.append(Finding("pump-log-seal", f"audit entry {entry_id}", f"the pump log of implant "
                                        f"{sealed['implant_id']} no longer matches the digest of its import: "
                                        f"{sealed['events']} events sealed, {len(rows)} stored; an event was changed "
                                        "or deleted"))
        covered.update(conn.execute(select(_ENTRIES.c.record_id).where(and_(
            _ENTRIES.c.table_name == PumpEvent.__tablename__, _ENTRIES.c.action == "insert"))).scalars())
        unaccounted = [i for i in conn.execute(select(_EVENTS.c.id).order_by(_EVENTS.c.id)).scalars()
                       if i not in covered]
    findings += [Finding("pump-log-seal", f"pump events {a}–{b}" if a != b else f"pump event {a}",
                         "no audit entry accounts for it: it was written outside the registry")
                 for a, b in id_runs(unaccounted)]
    return findings
