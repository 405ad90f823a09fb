"""The log's delivery rows, read back for the 24-hour limit (PUMP-CAP-1) and for the rebuild (PUMP-LOG-1),
against a second-by-second brute force."""

from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from openidds.pump.events import EventKind, EventLog

MORPHINE = (("morphine", 7),)
ADMIXTURE = (("bupivacaine", 3), ("morphine", 11))

# (gap in s, length in s, rate in ticks/s, ticks short in the last second, form of the row)
rows = st.lists(st.tuples(st.integers(0, 500), st.integers(1, 900), st.integers(1, 40), st.integers(0, 39),
                          st.sampled_from(["plain", "admixture", "blocked", "mixed"])), min_size=1, max_size=25)


def build(specs):
    """A log of delivery rows (with a non-delivery row in every gap) and the drug in every second."""
    log, per_second, t = EventLog(), defaultdict(lambda: defaultdict(int)), 0
    for gap, length, rate, short, form in specs:
        if gap:
            log.rows.append((t, "bolus_ended", "completed", "patient", 5, 5))
            t += gap
        if form == "mixed":  # the one second in which a new solution reaches the tip
            dose = {"morphine": 5 * rate, "bupivacaine": 2 * rate}
            log.rows.append((t, EventKind.DELIVERY, "basal", rate, t + 1, rate, None, rate, "csf", dose))
            for drug, mass in dose.items():
                per_second[t][drug] += mass
            t += 1
            continue
        volume = rate * length - min(short, rate - 1)
        tip = ADMIXTURE if form == "admixture" else MORPHINE
        if form == "blocked":
            log.rows.append((t, EventKind.DELIVERY, "bolus:patient", rate, t + length, volume, tip, 0, "blocked", None))
        else:
            log.rows.append((t, EventKind.DELIVERY, "basal", rate, t + length, volume, tip))
        for s in range(t, t + length):
            ticks = rate if s < t + length - 1 else volume - rate * (length - 1)
            for drug, ng in tip:
                per_second[s][drug] += ticks * ng
        t += length
    return log, per_second, t


def brute_since(per_second, x):
    total = defaultdict(int)
    for s, amounts in per_second.items():
        if s >= x:
            for drug, mass in amounts.items():
                total[drug] += mass
    return {drug: mass for drug, mass in total.items() if mass}


@given(rows, st.data())
def test_delivered_since_equals_the_sum_of_every_second_after(specs, data):
    log, per_second, end = build(specs)
    x = data.draw(st.integers(0, end))
    got = {drug: mass for drug, mass in log.delivered_since(x).items() if mass}
    assert got == brute_since(per_second, x)


@given(rows, st.data())
def test_pieces_run_at_constant_rates_and_cover_every_second_after(specs, data):
    log, per_second, end = build(specs)
    x = data.draw(st.integers(0, end))
    seen = defaultdict(lambda: defaultdict(int))
    last_end = None
    for start, stop, rate, tip in log.deliveries_since(x):
        assert start < stop and (last_end is None or start >= last_end)
        last_end = stop
        for s in range(start, stop):
            for drug, ng in tip:
                seen[s][drug] += rate * ng
    for s in range(x, end):
        assert {d: m for d, m in seen[s].items() if m} == {d: m for d, m in per_second[s].items() if m}


@given(rows)
def test_each_row_reads_back_with_its_whole_dose(specs):
    log, per_second, _ = build(specs)
    total = defaultdict(int)
    for event in log:
        if event.kind == "delivery":
            assert set(event.data) == {"flow", "rate", "end_s", "volume", "actual", "route", "dose"}
            for drug, mass in event.data["dose"].items():
                total[drug] += mass
    assert {d: m for d, m in total.items() if m} == brute_since(per_second, 0)


def test_hot_kinds_cannot_be_appended_as_generic_events():
    log = EventLog()
    try:
        log.append(0, EventKind.DELIVERY, "basal", {"volume": 1})
    except ValueError as error:
        assert "rows" in str(error)
    else:
        raise AssertionError("a delivery appended with a dict was accepted")


@given(rows, st.lists(st.integers(0, 30), max_size=6), st.sets(st.integers(0, 30), max_size=5))
def test_refills_read_as_they_come_equal_one_scan_of_the_whole_log(specs, refill_at, read_at):
    """refills() reads only the rows added since its last call; its answer is a full scan's at every point."""
    full, _, _ = build(specs)
    log = EventLog()
    for i, row in enumerate(full.rows):
        if i in refill_at:
            log.append(row[0], EventKind.REFILL, "refill", {"fill": i})
        log.rows.append(row)
        if i in read_at:
            log.refills()
    fills, pumped = [], 0
    for event in log:
        if event.kind == EventKind.DELIVERY:
            pumped += event.data["volume"]
        elif event.kind == EventKind.REFILL:
            fills.append((event, pumped))
            pumped = 0
    assert log.refills() == (tuple(fills), pumped)


@given(rows, st.data())
def test_pump_views_dicts_and_events_of_a_kind_read_as_the_events_do(specs, data):
    log, _, end = build(specs)
    log.rows.append((end, EventKind.BOLUS_STARTED, "patient", "patient", 600, 600, 1))
    log.rows.append((end, EventKind.BOLUS_ENDED, "completed", "patient", 600, 600))
    log.append(end, EventKind.FAULT, "catheter occlusion", {"name": "catheter_occlusion"})
    log.append(end, EventKind.ALARM, "low reservoir", {"alarm": "low_reservoir", "severity": "non_critical"})
    log.append(end + 1, EventKind.INTERROGATION, "programmer read the pump", {})
    seq = data.draw(st.integers(0, len(log)))
    views = [e.pump_view() for e in log.since(seq)]
    assert log.pump_views(seq) == tuple(v for v in views if v is not None)
    assert log.dicts() == [e.to_dict() for e in log]
    for kind in (EventKind.DELIVERY, EventKind.BOLUS_ENDED, EventKind.ALARM, EventKind.FAULT):
        assert log.of_kind(kind) == tuple(e for e in log if e.kind == kind)


def reference_rows_back_to(log_rows, t_s):
    """The delivery rows that end after ``t_s``, newest first, read back from the end of the log every time:
    the definition the log's running window (``EventLog._window_after``) must agree with."""
    for row in reversed(log_rows):
        if row[1] is EventKind.DELIVERY:
            if row[4] <= t_s:
                return
            yield row
        elif row[0] < t_s:
            return


def reference_delivered_since(log_rows, t_s):
    total = defaultdict(int)
    for row in reference_rows_back_to(log_rows, t_s):
        if row[6] is None:
            for drug, mass in row[9].items():
                total[drug] += mass
            continue
        volume = row[5] - (row[3] * (t_s - row[0]) if row[0] < t_s else 0)
        for drug, ng in row[6]:
            total[drug] += volume * ng
    return {drug: mass for drug, mass in total.items() if mass}


def reference_deliveries_since(log_rows, t_s):
    pieces = []
    for start_s, _, _, rate, end_s, volume, tip, *full in reference_rows_back_to(log_rows, t_s):
        if tip is None:
            pieces.append((start_s, end_s, 1, tuple(full[2].items())))
            continue
        last_second = volume - rate * (end_s - start_s - 1)
        if last_second == rate:
            pieces.append((start_s, end_s, rate, tip))
            continue
        pieces.append((end_s - 1, end_s, last_second, tip))
        if end_s - 1 > start_s:
            pieces.append((start_s, end_s - 1, rate, tip))
    pieces.reverse()
    return pieces


def growing_log(specs):
    """The log of ``specs`` growing row by row: after each row is appended, the log and the row's end."""
    whole, _, _ = build(specs)
    log = EventLog()
    for row in whole.rows:
        log.rows.append(row)
        yield log, row[4] if row[1] is EventKind.DELIVERY else row[0]


@given(rows, st.data())
def test_the_running_window_answers_as_reading_the_log_back(specs, data):
    """Rows appended one by one, the window asked for at any times in between (mostly moving forward, as the
    pump's clock does, sometimes back): each answer is the one read back from the whole log."""
    for log, end_s in growing_log(specs):
        for _ in range(data.draw(st.integers(0, 3))):
            x = data.draw(st.integers(max(0, end_s - 1500), end_s + 50))
            got = {drug: mass for drug, mass in log.delivered_since(x).items() if mass}
            assert got == reference_delivered_since(log.rows, x)
            assert list(log.deliveries_since(x)) == reference_deliveries_since(log.rows, x)


def reference_steady_since(log_rows, t_s, stop_s, tip, rate):
    """:meth:`EventLog.steady_since` by its definition, second by second over the rows read back from the end."""
    window = list(reference_rows_back_to(log_rows, t_s))
    if any(row[6] != tip for row in window):
        return None
    ticks = {}
    for row in window:
        start_s, row_rate, end_s, volume = row[0], row[3], row[4], row[5]
        seconds = {s: row_rate if s < end_s - 1 else volume - row_rate * (end_s - start_s - 1)
                   for s in range(start_s, end_s)}
        if any(s in seconds for s in range(t_s, stop_s)) and min(seconds.values()) < rate:
            return None
        ticks.update(seconds)
    if any(s not in ticks for s in range(t_s, stop_s)):
        return None
    return (sum(n for s, n in ticks.items() if s >= t_s), sum(n for s, n in ticks.items() if t_s <= s < stop_s))


@given(rows, st.data())
def test_a_steady_window_reads_as_every_second_of_it(specs, data):
    """The window's volume after t and its volume leaving over [t, stop), when every row in it is of one solution
    and none in [t, stop) is slower than a rate (the pump's proof that a step cannot raise the 24-hour amount)."""
    for log, end_s in growing_log(specs):
        for _ in range(data.draw(st.integers(0, 3))):
            x = data.draw(st.integers(max(0, end_s - 1500), end_s + 50))
            stop = data.draw(st.integers(x, end_s + 50))
            tip = data.draw(st.sampled_from([MORPHINE, ADMIXTURE]))
            rate = data.draw(st.integers(1, 41))
            assert log.steady_since(x, stop, tip, rate) == reference_steady_since(log.rows, x, stop, tip, rate)
