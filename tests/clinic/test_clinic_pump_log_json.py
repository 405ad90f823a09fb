"""A pump event's data is encoded once, for the ``data`` column (the JSON type's ``json.dumps``) and the digest its
log's audit entry seals: the text must be ``json.dumps``' own, byte for byte, for any data, and data it cannot
write fails as ``json.dumps`` fails. The digest's lines are the events' JSON arrays, whatever path writes them."""

import datetime as dt
import itertools
import json
from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openidds.clinic.audit_chain import json_array
from openidds.clinic.audit_pump_logs import events_digest, id_runs
from openidds.clinic.pump_log import _data_json
from openidds.pump.events import EventKind

keys = st.text(max_size=8)
scalars = st.one_of(st.integers(-(10**30), 10**30), st.text(max_size=12), st.booleans(), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False))
flat = st.dictionaries(keys, st.one_of(st.integers(), st.text(max_size=12),
                                       st.dictionaries(keys, st.integers(), max_size=3)), max_size=7)
other = st.dictionaries(keys, st.one_of(scalars, st.lists(scalars, max_size=3),
                                        st.dictionaries(keys, scalars, max_size=3)), max_size=5)


@given(st.one_of(flat, other))
def test_event_data_is_encoded_as_json_dumps_would(data):
    assert _data_json(data) == json.dumps(data)


def test_a_delivery_keeps_its_field_order_and_a_flow_with_a_colon():
    data = {"flow": "bolus:patient", "rate": 5, "end_s": 10, "volume": 50, "actual": 0, "route": "blocked",
            "dose": {"morphine": 3_500_000_000}}
    assert _data_json(data) == json.dumps(data)


def test_data_json_cannot_write_fails_as_json_dumps_does_and_the_same_dicts_are_written_once_mended():
    nested: dict[str, dict[str, object]] = {"dose": {"morphine": object()}}
    circular: dict[str, object] = {"flow": "basal"}
    circular["self"] = circular
    for data, error in ((nested, TypeError), (circular, ValueError)):
        with pytest.raises(error) as ours:
            _data_json(data)
        with pytest.raises(error) as theirs:
            json.dumps(data)
        assert str(ours.value) == str(theirs.value)
    nested["dose"]["morphine"] = 1
    circular["self"] = {"flow": "basal"}
    for data in (nested, circular):
        assert _data_json(data) == json.dumps(data)


ids = st.one_of(st.integers(0, 2**40), st.booleans(), st.none())
texts = st.one_of(st.text(max_size=12), st.builds(json.dumps, other), st.sampled_from(list(EventKind)))
times = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2199, 12, 31),
                     timezones=st.one_of(st.none(), st.just(dt.UTC)))
event_rows = st.tuples(ids, ids, ids, times, texts, texts, texts, ids)


@given(st.lists(event_rows, max_size=4))
def test_a_logs_digest_is_the_sha256_of_its_events_json_arrays(rows):
    lines = "".join(json_array([r[0], r[1], r[2], r[3].isoformat(), *r[4:]]) + "\n" for r in rows)
    assert events_digest(rows) == sha256(lines.encode()).hexdigest()


@given(st.sets(st.integers(0, 60), max_size=30))
def test_ids_are_given_back_as_their_maximal_runs(ids):
    ordered = sorted(ids)
    runs = id_runs(ordered)
    assert [i for first, last in runs for i in range(first, last + 1)] == ordered
    assert all(later[0] > earlier[1] + 1 for earlier, later in itertools.pairwise(runs))
