"""Entering one record (openidds.clinic.entry) on SQLite and PostgreSQL: the import's messages by field, the
import's rules, nothing written on refusal, an edit from an older version refused with who changed it and when;
and a stored value written as a cell reads back as the same value."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from openidds.clinic import import_batch, read_paths
from openidds.clinic import models as m
from openidds.clinic.entry import EntryRefused, RecordKind, StaleRecord, patient_records, save_record
from openidds.clinic.errors import UnknownRecord
from openidds.clinic.fields import SPECS, Field
from openidds.clinic.values import cell_text, parse_cell

AT = dt.datetime(2023, 7, 10, 9, 0)


@pytest.fixture
def clinic(engine: Engine, data_dir) -> Engine:
    import_batch(engine, read_paths([data_dir / "good"]), "test", "good")
    return engine


def _written(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (int(conn.execute(select(func.count()).select_from(m.Visit)).scalar_one()),
                int(conn.execute(select(func.count()).select_from(m.AuditEntry)).scalar_one()))


def test_values_are_refused_field_by_field_with_the_import_message(clinic: Engine) -> None:
    before = _written(clinic)
    with pytest.raises(EntryRefused) as refused:
        save_record(clinic, RecordKind.VISIT, "CJFH", "P001",
                    {"visit_date": "01/07/2023", "visit_type": "follow_up", "eq5d_index": "1.5", "nrs": "-1"},
                    "nina", "test")
    assert refused.value.errors == {"visit_date": "visit_date='01/07/2023': expected a date as YYYY-MM-DD",
                                    "nrs": "nrs=-1: expected a value from 0 to 10",
                                    "eq5d_index": "eq5d_index=1.5: expected a value from -1 to 1"}
    assert _written(clinic) == before


def test_a_name_that_is_no_field_is_refused_not_dropped(clinic: Engine) -> None:
    before = _written(clinic)
    with pytest.raises(EntryRefused) as refused:
        save_record(clinic, RecordKind.VISIT, "CJFH", "P001", {"visit_date": "2023-07-01", "visit_type": "telephone",
                                                               "pain_score": "3"}, "nina", "test")
    assert refused.value.errors == {} and refused.value.others[0].startswith("pain_score: not a field of visits")
    assert _written(clinic) == before


def test_the_import_rules_refuse_and_name_the_field(clinic: Engine) -> None:
    before = _written(clinic)
    with pytest.raises(EntryRefused) as refused:
        save_record(clinic, RecordKind.VISIT, "CJFH", "P001", {"visit_date": "2022-08-01", "visit_type": "follow_up",
                                                               "satisfaction": "satisfied"}, "nina", "test")
    assert refused.value.errors == {
        "satisfaction": "satisfaction given without satisfaction_respondent",
        "visit_date": "visit_date=2022-08-01 is before the first implant 2022-09-01"}
    assert _written(clinic) == before


def test_an_edit_from_an_older_version_is_refused_with_who_and_when(clinic: Engine) -> None:
    visit = patient_records(clinic, "CJFH", "P001")[RecordKind.VISIT][0]
    changed = save_record(clinic, RecordKind.VISIT, "CJFH", "P001", {**visit.texts(), "nrs": "5"}, "paul", "test",
                          visit.record_id, visit.version, clock=lambda: AT)
    assert changed.version == visit.version + 1 and changed.values["nrs"] == 5
    before = _written(clinic)
    with pytest.raises(StaleRecord) as stale:
        save_record(clinic, RecordKind.VISIT, "CJFH", "P001", {**visit.texts(), "nrs": "6"}, "nina", "test",
                    visit.record_id, visit.version)
    assert (stale.value.changed_by, stale.value.changed_at) == ("paul", AT)
    assert "changed by paul at 2023-07-10 09:00 UTC" in str(stale.value)
    assert _written(clinic) == before


def test_a_record_of_another_patient_is_unknown(clinic: Engine) -> None:
    other = patient_records(clinic, "CJFH", "P002")[RecordKind.VISIT][0]
    with pytest.raises(UnknownRecord):
        save_record(clinic, RecordKind.VISIT, "CJFH", "P001", other.texts(), "nina", "test", other.record_id,
                    other.version)


def _stored_values(f: Field) -> st.SearchStrategy[object]:
    low = -1e6 if f.minimum is None else f.minimum
    high = 1e6 if f.maximum is None else f.maximum
    kinds: dict[str, st.SearchStrategy[object]] = {
        "int": st.integers(int(low), int(high)),
        "float": st.floats(low, high, allow_nan=False),
        "date": st.dates(dt.date(1900, 1, 1), dt.date(2199, 12, 31)),
        "datetime": st.datetimes(dt.datetime(1900, 1, 2), dt.datetime(2199, 12, 30)),
        "bool": st.booleans(),
        "choice": st.sampled_from(f.choices or ("x",)),
        "multi": st.lists(st.sampled_from(f.choices or ("x",)), min_size=1, unique=True).map(sorted),
        "text": st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=8),
    }
    return kinds[f.kind]


_FIELDS = [f for spec in SPECS.values() for f in spec.fields if f.pattern is None]


@given(st.sampled_from(_FIELDS).flatmap(lambda f: st.tuples(st.just(f), _stored_values(f))))
def test_a_stored_value_written_as_a_cell_reads_back_the_same(field_and_value: tuple[Field, object]) -> None:
    f, value = field_and_value
    assert parse_cell(f, cell_text(f, value)) == value
