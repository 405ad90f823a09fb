"""The fast import path gives exactly what the row-by-row path gives: parsed values and findings, JSON of the
audit payloads, and an audit entry per inserted record from which the stored record is recovered (SQLite and
PostgreSQL); a date-time is stored as the dialect's own processor stores it; rows sent by COPY are stored as
the executemany stores them."""

from __future__ import annotations

import datetime as dt
import json
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, Text, cast, event, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from openidds.clinic import bulk, connect, import_batch, init_registry, read_paths, unit_of_work
from openidds.clinic.audit import encode_payloads
from openidds.clinic.bulk import _bind_processor
from openidds.clinic.fields import SPECS
from openidds.clinic.importer import parse_row, parse_table
from openidds.clinic.models import JSON_ENCODER, AuditEntry, Base, Implant, PumpEvent

_IMPORTED = ("patients", "exits", "implants", "screening_trials", "visits", "complications", "pump_programs",
             "refills", "pump_alarms")


def _as_json(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def test_each_imported_record_has_an_insert_entry_that_gives_back_its_stored_values(engine, data_dir):
    import_batch(engine, read_paths([data_dir / "good"]), "importer", "good files")
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    with unit_of_work(engine, "reader") as s:
        entries = {(e.table_name, e.record_id): e for e in s.scalars(select(AuditEntry))}
        checked = 0
        for name in _IMPORTED:
            for row in s.execute(select(tables[name])).mappings():
                entry = entries[(name, row["id"])]
                assert (entry.action, entry.user_name, entry.source, entry.before) == (
                    "insert", "importer", "good files", None)
                assert {c: entry.after.get(c) for c in row} == {c: _as_json(v) for c, v in row.items()}
                assert None not in entry.after.values()
                checked += 1
    assert checked == len([key for key in entries if key[0] in _IMPORTED]) == 31


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8), st.dates(), st.datetimes(),
    st.lists(st.sampled_from(["bone", "liver", 'a "quoted" code']), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_VALUES, st.sampled_from([None, 1, 2.5, "x", dt.date(2024, 1, 5)]), _VALUES),
                min_size=1, max_size=12))
def test_payloads_are_the_json_of_each_records_non_null_values(rows):
    columns = {"a": [r[0] for r in rows], "repeated": [r[1] for r in rows], 'odd "name"': [r[2] for r in rows]}
    expected = [JSON_ENCODER.encode({k: v[i] for k, v in columns.items() if v[i] is not None})
                for i in range(len(rows))]
    assert encode_payloads(columns) == expected


_CELLS = {
    "visit_date": ["2024-03-01", "2024-02-30", "01/03/2024", " 2024-03-02 ", ""],
    "visit_type": ["baseline", "follow_up", "Follow_up", ""],
    "nrs": ["0", "10", "11", "7.5", "-1", " 3", ""],
    "eq5d_version": ["5L", "3L", "4L", ""],
    "eq5d_mobility": ["1", "5", "6", "x", ""],
    "eq5d_index": ["0.5", "-1.5", "nan", "1", ""],
    "systemic_opioid": ["1", "no", "maybe", ""],
    "ome_mg_per_day": ["120", "120 mg", "1e9", ""],
    "site": ["CJFH", "bad site", ""],
    "patient_id": ["P001", "P002", "P/3"],
}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in _CELLS.items()}), min_size=1, max_size=15))
def test_parsing_column_by_column_gives_the_row_by_row_records_and_findings(rows):
    header = list(_CELLS)
    spec = SPECS["visits"]
    located = [(f"visits.csv:{i + 2}", [row[c] for c in header]) for i, row in enumerate(rows)]
    batch = parse_table(spec, header, located)
    records, findings = [], []
    for location, cells in located:
        record, found = parse_row(spec, dict(zip(header, cells, strict=True)), location)
        findings += found
        records += [record] if record is not None else []
    assert batch.findings == findings
    assert [(r.patient, r.values, r.location) for r in batch.records] == \
        [(r.patient, r.values, r.location) for r in records]


@pytest.mark.parametrize("kind", ["refills", "programs"])
def test_pump_rows_keep_their_serial_for_linking(kind):
    spec = SPECS[kind]
    header = ["site", "patient_id", "pump_serial", *(f.name for f in spec.fields if f.required)]
    cells = {"refilled_at": "2024-01-01T10:00:00Z", "volume_added_ml": "20", "started_at": "2024-01-01T10:00:00Z",
             "drug": "morphine", "concentration_mg_per_ml": "10", "daily_dose_mg_per_day": "1"}
    rows = [("f.csv:2", ["S", "P1", " SN1 ", *(cells[c] for c in header[3:])]),
            ("f.csv:3", ["S", "P1", "", *(cells[c] for c in header[3:])])]
    batch = parse_table(spec, header, rows)
    assert [r.extra["pump_serial"] for r in batch.records] == ["SN1", None]


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1, 1, 1), timezones=st.one_of(st.none(), st.just(dt.UTC))))
def test_a_bulk_date_time_is_stored_as_the_dialects_own_processor_stores_it(at):
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        own = DateTime().dialect_impl(dialect).bind_processor(dialect)
        fast = _bind_processor(DateTime(), dialect)
        assert (fast is None) == (own is None)
        if own is not None:
            assert fast(at) == own(at)


def test_pump_events_sent_by_copy_are_stored_as_the_executemany_stores_them(clean_pg_url, data_dir):
    """On PostgreSQL the pump events go by COPY: the same rows, value by value, as INSERTs give, with texts that
    COPY's own format would escape (tab, newline, backslash, ``\\N``), non-ASCII text and fractional seconds; a
    repeated event is refused as an INSERT's would be."""
    engine = connect(clean_pg_url)
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    texts = ["basal", "tab\there", "line\nbreak", "back\\slash", "\\N", "crème", '"quoted"', ""]
    n = 40
    columns = {
        "implant_id": [_an_implant(engine)] * n,
        "seq": list(range(n)),
        "at": [dt.datetime(2022, 9, 1, 10) + dt.timedelta(seconds=3600 * i, microseconds=7 * i) for i in range(n)],
        "kind": ["delivery" if i % 3 else "alarm" for i in range(n)],
        "reason": [texts[i % len(texts)] for i in range(n)],
        "data": [json.dumps({"flow": texts[i % len(texts)], "volume": i, "dose": {"morphine": 10**12 + i}},
                            ensure_ascii=i % 2 == 0) for i in range(n)],
    }
    stored, inserts = {}, {}
    for copy in (False, True):
        with engine.connect() as conn, conn.begin() as transaction:
            sent: list[str] = []
            event.listen(conn, "before_cursor_execute", partial(_record_statement, sent))
            ids = bulk.insert_columns_with_ids(conn, bulk.table_of(PumpEvent), columns, {"version": 1},
                                               ("implant_id", "seq"), encoded=("data",), copy=copy)
            inserts[copy] = [statement for statement in sent if statement.startswith("INSERT INTO pump_events")]
            with pytest.raises(IntegrityError, match="uq_pump_events_implant_id"), conn.begin_nested():
                bulk.insert_columns(conn, bulk.table_of(PumpEvent), columns, {"version": 1}, ("data",), copy)
            e = PumpEvent
            rows = conn.execute(select(e.id, e.implant_id, e.seq, e.at, e.kind, e.reason, e.data, e.version,
                                       cast(e.data, Text)).order_by(e.id)).all()
            transaction.rollback()
        assert [row[0] for row in rows] == ids
        stored[copy] = [tuple(row[1:]) for row in rows]
    assert inserts[False] and not inserts[True]  # COPY, not INSERT
    assert stored[True] == stored[False]
    assert [row[7] for row in stored[True]] == columns["data"]  # the JSON text as sent, byte for byte
    engine.dispose()


def _record_statement(sent: list[str], _conn, _cursor, statement: str, *_: object) -> None:
    sent.append(statement)


def _an_implant(engine) -> int:
    with unit_of_work(engine, "reader") as session:
        return session.scalars(select(Implant.id).order_by(Implant.id)).first()


@pytest.mark.parametrize("n", [7, 2 * bulk._ROWS_PER_INSERT + 7])
def test_rows_sent_many_per_insert_on_sqlite_are_stored_as_sqlalchemys_own_insert_stores_them(tmp_path, data_dir, n):
    """On SQLite the rows of a bulk transfer (``copy``, the pump events) go fifty per INSERT (multi-row VALUES) and
    the rows left over one per INSERT: the same rows, ids, values and order as SQLAlchemy's own executemany of the
    INSERT gives."""
    engine = connect(str(tmp_path / "r.sqlite"))
    init_registry(engine)
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    implant = _an_implant(engine)
    table = bulk.table_of(PumpEvent)
    columns = {"implant_id": [implant] * n, "seq": list(range(n)),
               "at": [dt.datetime(2022, 9, 1, 10) + dt.timedelta(seconds=61 * i, microseconds=i % 3) for i in range(n)],
               "kind": ["delivery" if i % 3 else "alarm" for i in range(n)], "reason": [f"r{i}" for i in range(n)],
               "data": [json.dumps({"volume": i, "flow": "bolus:patient"}) for i in range(n)]}
    stored = {}
    for ours in (True, False):
        with engine.connect() as conn, conn.begin() as transaction:
            sent: list[str] = []
            event.listen(conn, "before_cursor_execute", partial(_record_statement, sent))
            if ours:
                ids = bulk.insert_columns_with_ids(conn, table, columns, {"version": 1}, ("implant_id", "seq"),
                                                   encoded=("data",), copy=True)
            else:
                decoded = {**columns, "data": list(map(json.loads, columns["data"]))}
                conn.execute(insert(table), [{**dict(zip(decoded, row, strict=True)), "version": 1}
                                             for row in zip(*decoded.values(), strict=True)])
            rows = conn.execute(select(table).order_by(table.c.id)).all()
            raw = conn.exec_driver_sql("SELECT at, data FROM pump_events ORDER BY id").all()
            transaction.rollback()
        inserts = [s for s in sent if s.startswith("INSERT INTO pump_events")]
        if ours:
            assert [row.id for row in rows][-n:] == ids
            assert [s.count("(?") for s in inserts] == [bulk._ROWS_PER_INSERT] * (n > bulk._ROWS_PER_INSERT) + [1]
        stored[ours] = (rows, raw)
    assert stored[True] == stored[False]
    assert [r.seq for r in stored[True][0]][-n:] == columns["seq"]
    engine.dispose()
