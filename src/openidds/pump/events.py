"""The pump's append-only event log, and the rebuild of delivered amounts from it.

Each event is ``(seq, t_s, kind, reason, data)``. Volumes are integer ticks and amounts integer mass
ticks (see :mod:`openidds.pump.ticks`), so a rebuild is exact. Simulator truth that a real pump could not
know (an injected fault, how much really left the reservoir and where it went) is kept in events of kind
``fault`` and in the ``actual`` and ``route`` fields of deliveries; :meth:`Event.pump_view` drops it.
"""

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from operator import itemgetter
from typing import NamedTuple, NotRequired, TypedDict, overload

from openidds.pump.lots import Concentrations, add_drug

_TRUTH_FIELDS = frozenset({"actual", "route"})


class EventKind(StrEnum):
    """What an event records; each kind's ``data`` has the fields of its record below."""

    IMPLANT = "implant"
    PROGRAM = "program"
    REFILL = "refill"
    LOW_RESERVOIR_THRESHOLD = "low_reservoir_threshold"
    DELIVERY = "delivery"
    BOLUS_STARTED = "bolus_started"
    BOLUS_ENDED = "bolus_ended"
    BOLUS_DENIED = "bolus_denied"
    ALARM = "alarm"
    ALARM_CLEARED = "alarm_cleared"
    REFUSED = "refused"
    INTERROGATION = "interrogation"
    CATHETER_REVISED = "catheter_revised"
    FAULT = "fault"


class ImplantData(TypedDict):
    factory_fill: int  # volume ticks in the non-retrievable residual
    model: str
    reservoir_ml: int
    catheter_volume_ml: str
    tip_level: str


class PatientBolusData(TypedDict):
    dose_ml: str
    duration_s: int
    lockout_s: int
    max_per_24h: int


class ProgramData(TypedDict):
    program: str  # stopped, continuous, flex or periodic; the reason describes it
    max_mg_per_24h: dict[str, str]
    patient_bolus: PatientBolusData | None


class RefillData(TypedDict):
    fill: int  # volume ticks
    withdrawn: int  # volume ticks
    expected_withdrawn: int  # volume ticks
    reservoir: int  # volume ticks in the reservoir after the fill (the pump's estimate)
    ng_per_ml: dict[str, int]
    actual_ng_per_ml: dict[str, int]  # simulator truth: what really went in


class LowReservoirThresholdData(TypedDict):
    low_reservoir: int  # volume ticks


class DeliveryData(TypedDict):
    flow: str  # basal, bolus:<kind>, daily_limit, safe_state
    rate: int  # volume ticks per second (= nL/day)
    end_s: int
    volume: int  # volume ticks
    actual: int  # simulator truth: volume ticks that really left the reservoir
    route: str  # simulator truth: csf, tissue or blocked
    dose: dict[str, int]  # mass ticks per drug counted at the catheter tip


class BolusStartedData(TypedDict):
    kind: str
    volume: int  # volume ticks
    duration_s: int
    rate: int  # volume ticks per second


class BolusEndedData(TypedDict):
    kind: str
    volume: int  # volume ticks asked for
    delivered: int  # volume ticks


class BolusDeniedData(TypedDict):
    left_in_24h: int
    next_allowed_s: int | None


class AlarmData(TypedDict):
    alarm: str
    severity: str


class AlarmClearedData(TypedDict):
    alarm: str


class RefusedData(TypedDict):
    command: str
    field: str
    expected: str


class CatheterRevisedData(TypedDict):
    length_cm: int
    volume_ml: str
    tip_level: str


class FaultData(TypedDict):
    """Simulator truth: a fault injected (its wire record: ``name`` and fields) or the motor running again
    (``name`` ``motor_recovered``, ``after``)."""

    name: str
    duration_s: NotRequired[int | None]
    recovery_delay_s: NotRequired[int]
    critical: NotRequired[bool]
    after: NotRequired[str]


EVENT_DATA: dict[EventKind, type] = {
    EventKind.IMPLANT: ImplantData, EventKind.PROGRAM: ProgramData, EventKind.REFILL: RefillData,
    EventKind.LOW_RESERVOIR_THRESHOLD: LowReservoirThresholdData, EventKind.DELIVERY: DeliveryData,
    EventKind.BOLUS_STARTED: BolusStartedData, EventKind.BOLUS_ENDED: BolusEndedData,
    EventKind.BOLUS_DENIED: BolusDeniedData, EventKind.ALARM: AlarmData, EventKind.ALARM_CLEARED: AlarmClearedData,
    EventKind.REFUSED: RefusedData, EventKind.INTERROGATION: dict, EventKind.CATHETER_REVISED: CatheterRevisedData,
    EventKind.FAULT: FaultData,
}
"""The record of each kind's ``data`` (an interrogation has none)."""


class Event(NamedTuple):
    seq: int
    t_s: int
    kind: EventKind
    reason: str
    data: dict

    def to_dict(self) -> dict:
        return {"seq": self.seq, "t_s": self.t_s, "kind": self.kind, "reason": self.reason, "data": self.data}

    def pump_view(self) -> dict | None:
        """What the pump itself recorded; None for simulator-only events."""
        if self.kind is EventKind.FAULT:
            return None
        data = {k: v for k, v in self.data.items() if k not in _TRUTH_FIELDS}
        return {"seq": self.seq, "t_s": self.t_s, "kind": self.kind, "reason": self.reason, "data": data}


COMPACT_FIELDS = {
    EventKind.DELIVERY: ("rate", "end_s", "volume", "tip", "actual", "route", "dose"),
    EventKind.BOLUS_STARTED: ("kind", "volume", "duration_s", "rate"),
    EventKind.BOLUS_ENDED: ("kind", "volume", "delivered"),
}
"""The kinds the pump logs on its hot path, kept as flat rows ``(t_s, kind, reason, *values)`` with the
values in this order; readers get a dict like any other event's (a delivery's with its flow and its dose,
not its tip).

A delivery's reason is its flow. ``tip`` is the concentration (ng/mL per drug) the pump counted at the
catheter tip for the whole segment, and the dose (mass ticks per drug) follows from it when read; a segment
with more than one concentration at the tip (the one second in which a concentration change reaches it) has
``tip`` None and its ``dose`` given. A plain delivery, all of it into the CSF, stops after ``tip``: its actual
volume is its volume and its route ``csf``."""


class EventLog:
    """Append-only: events can be added and read, never changed or removed."""

    __slots__ = ("_fills", "_fills_read", "_pumped_since_fill", "_window", "_window_from", "_window_read",
                 "_window_volumes", "rows")

    def __init__(self) -> None:
        # The rows, oldest first. The pump appends the flat rows of COMPACT_FIELDS kinds to this list directly
        # (its hot path, unchecked); nothing ever changes or removes a row.
        self.rows: list[tuple] = []
        # What refills() has read so far: its answer up to row _fills_read, extended by the rows after it.
        self._fills: list[tuple[Event, int]] = []
        self._fills_read = 0
        self._pumped_since_fill = 0
        # The delivery rows in the last window asked for (_window_after): the rows, their volumes by tip, the
        # window's start and how many rows had been read.
        self._window: deque[tuple] = deque()
        self._window_volumes: dict[Concentrations, int] = {}
        self._window_from = 0
        self._window_read = 0

    def append(self, t_s: int, kind: EventKind, reason: str, data: dict) -> None:
        if kind in COMPACT_FIELDS:
            raise ValueError(f"{kind} events are flat rows: append them to rows")
        self.rows.append((t_s, kind, reason, data))

    def last(self) -> Event:
        """The newest event."""
        return _event(len(self.rows) - 1, self.rows[-1])

    def deliveries_since(self, t_s: int) -> Iterator[tuple[int, int, int, Concentrations]]:
        """The delivery after ``t_s`` as pieces at a constant rate, oldest first: ``(start_s, end_s, rate,
        tip)``, each drug at ``rate * tip[drug]`` mass ticks per second. A segment cut inside its last second
        gives two pieces; the one second with a mixed tip comes as rate 1 with its dose as the tip. Read lazily:
        read them before the log grows."""
        for start_s, _, _, rate, end_s, volume, tip, *full in self._window_after(t_s):
            if tip is None:
                yield (start_s, end_s, 1, tuple(full[2].items()))
                continue
            last_second = volume - rate * (end_s - start_s - 1)
            if last_second == rate:
                yield (start_s, end_s, rate, tip)
                continue
            if end_s - 1 > start_s:
                yield (start_s, end_s - 1, rate, tip)
            yield (end_s - 1, end_s, last_second, tip)

    def delivered_since(self, t_s: int) -> dict[str, int]:
        """The drug (mass ticks) counted at the tip after ``t_s``, per drug: the running volumes of the delivery
        rows that end after ``t_s`` at each tip, less the part of the oldest row before ``t_s`` (every second of
        a row but its last runs at the full rate)."""
        window = self._window_after(t_s)
        total: dict[str, int] = {}
        for tip, volume in self._window_volumes.items():
            add_drug(total, tip, volume)
        if window:
            start_s, _, _, rate, _, _, tip = window[0][:7]
            if start_s < t_s:  # only the oldest row can start before t_s; a mixed tip's row lasts one second
                add_drug(total, tip, -rate * (t_s - start_s))
        return total

    def steady_since(self, t_s: int, stop_s: int, tip: Concentrations, rate: int) -> tuple[int, int] | None:
        """If every delivery row that ends after ``t_s`` is at ``tip``, and the rows that deliver in [t_s,
        stop_s) cover every second of it with no gap and deliver at least ``rate`` ticks in each of their
        seconds: the volume (ticks) delivered after ``t_s`` and the part of it delivered in [t_s, stop_s); None
        otherwise. (Then a step at ``rate`` and ``tip`` over the next ``stop_s - t_s`` seconds adds to the
        rolling window no faster than it leaves it.) Reads the log back from its end, as far as ``t_s``."""
        rows = self.rows
        after = leaving = 0
        need = stop_s  # [t_s, need) is still to be covered, by rows read further back
        for i in range(len(rows) - 1, -1, -1):
            row = rows[i]
            if row[1] is not _DELIVERY:
                if row[0] < t_s:
                    break
                continue
            start_s, row_rate, end_s, volume = row[0], row[3], row[4], row[5]
            if end_s <= t_s:
                break
            if row[6] != tip:
                return None  # another solution, or the one second of a mixed tip
            after += volume if start_s >= t_s else volume - row_rate * (t_s - start_s)
            if start_s < need and need > t_s:  # the row delivers in what is still to be covered
                if end_s < need or volume - row_rate * (end_s - start_s - 1) < rate:
                    return None  # a gap, or a second slower than rate (the row's last is its slowest)
                # the row's volume in [t_s, stop_s): every second but its last at the full rate
                leaving += ((volume if end_s <= stop_s else row_rate * (stop_s - start_s))
                            - (row_rate * (t_s - start_s) if start_s < t_s else 0))
                need = start_s
        return (after, leaving) if need <= t_s else None

    def _window_after(self, t_s: int) -> deque[tuple]:
        """The delivery rows that end after ``t_s``, oldest first, with their volumes summed by tip in
        ``_window_volumes`` (a mixed tip's row as its dose, volume 1). Kept from call to call: the rows added
        since the last call are read back only as far as ``t_s`` and rows that end by ``t_s`` leave from the
        front, so each row is read about once while ``t_s`` moves forward (as the pump's clock does); an earlier
        ``t_s`` reads the log back again."""
        rows, window, volumes = self.rows, self._window, self._window_volumes
        read = self._window_read
        if t_s < self._window_from:
            window.clear()
            volumes.clear()
            read = 0
        first = len(rows)  # the first of the rows since the last call that can be in the window
        while first > read:
            row = rows[first - 1]
            if row[4] <= t_s if row[1] is _DELIVERY else row[0] < t_s:
                window.clear()  # it and every row before it end by t_s
                volumes.clear()
                break
            first -= 1
        for i in range(first, len(rows)):
            row = rows[i]
            if row[1] is _DELIVERY:
                window.append(row)
                tip, volume = (row[6], row[5]) if row[6] is not None else (tuple(row[9].items()), 1)
                volumes[tip] = volumes.get(tip, 0) + volume
        while window and window[0][4] <= t_s:
            row = window.popleft()
            tip, volume = (row[6], row[5]) if row[6] is not None else (tuple(row[9].items()), 1)
            left = volumes[tip] - volume
            if left:
                volumes[tip] = left
            else:
                del volumes[tip]
        self._window_read, self._window_from = len(rows), t_s
        return window

    def refills(self) -> tuple[tuple[tuple[Event, int], ...], int]:
        """Every refill event, oldest first, each with the volume (ticks) delivered since the fill before it;
        and the volume delivered since the last fill. Reads only the rows added since the last call (the log
        is append-only, so the earlier answer stands)."""
        rows, pumped, fills = self.rows, self._pumped_since_fill, self._fills
        for seq in range(self._fills_read, len(rows)):
            row = rows[seq]
            if row[1] is _DELIVERY:
                pumped += row[5]
            elif row[1] == _REFILL:
                fills.append((_event(seq, row), pumped))
                pumped = 0
        self._fills_read, self._pumped_since_fill = len(rows), pumped
        return tuple(fills), pumped

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.since(0))

    def dicts(self) -> list[dict]:
        """Every event as :meth:`Event.to_dict` gives it, built from the rows directly."""
        data_of, stored = _ROW_DATA.get, _STORED_DATA  # _data, inline: a call less for each of many rows
        return [{"seq": i, "t_s": row[0], "kind": row[1], "reason": row[2], "data": data_of(row[1], stored)(row)}
                for i, row in enumerate(self.rows)]

    def since(self, seq: int) -> tuple[Event, ...]:
        """Events with sequence number at least ``seq``."""
        return tuple(_event(i, row) for i, row in enumerate(self.rows[seq:], start=seq))

    def of_kind(self, kind: EventKind) -> tuple[Event, ...]:
        """The events of one kind, oldest first (the others are not read)."""
        return tuple(_event(i, row) for i, row in enumerate(self.rows) if row[1] == kind)

    def pump_views(self, seq: int, stop: int | None = None) -> tuple[dict, ...]:
        """:meth:`Event.pump_view` of each event from ``seq`` on (before ``stop``), simulator-only events left
        out (a delivery's view is built from its row, without its simulator truth)."""
        views = []
        for i, row in enumerate(self.rows[seq:stop], start=seq):
            kind = row[1]
            if kind is _DELIVERY:
                volume, tip = row[5], row[6]
                dose = row[9] if tip is None else {drug: volume * ng for drug, ng in tip}
                views.append({"seq": i, "t_s": row[0], "kind": kind, "reason": row[2], "data": {
                    "flow": row[2], "rate": row[3], "end_s": row[4], "volume": volume, "dose": dose}})
            elif kind is _BOLUS_STARTED or kind is _BOLUS_ENDED:  # no simulator truth in these
                views.append({"seq": i, "t_s": row[0], "kind": kind, "reason": row[2],
                              "data": dict(zip(COMPACT_FIELDS[kind], row[3:], strict=True))})
            elif kind is not _FAULT:
                view = _event(i, row).pump_view()
                assert view is not None  # only faults are simulator-only
                views.append(view)
        return tuple(views)

    def to_json(self) -> str:
        """The whole log as canonical JSON (sorted keys, no spaces): byte-identical for the same inputs."""
        return json.dumps([e.to_dict() for e in self], sort_keys=True, separators=(",", ":"))


_DELIVERY = EventKind.DELIVERY
_REFILL = EventKind.REFILL
_FAULT = EventKind.FAULT
_BOLUS_STARTED, _BOLUS_ENDED = EventKind.BOLUS_STARTED, EventKind.BOLUS_ENDED


class PumpViews(Sequence[dict]):
    """The pump's views (:meth:`EventLog.pump_views`) of the events ``start`` to ``stop`` of a log, built when
    first read: the log only grows, so they are the same whenever they are read, and an interrogation that
    nobody reads costs nothing."""

    __slots__ = ("_log", "_start", "_stop", "_views")

    def __init__(self, log: EventLog, start: int, stop: int) -> None:
        self._log, self._start, self._stop = log, start, stop
        self._views: tuple[dict, ...] | None = None

    def _read(self) -> tuple[dict, ...]:
        if self._views is None:
            self._views = self._log.pump_views(self._start, self._stop)
        return self._views

    def __len__(self) -> int:
        return len(self._read())

    @overload
    def __getitem__(self, index: int) -> dict: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[dict, ...]: ...

    def __getitem__(self, index: int | slice) -> dict | tuple[dict, ...]:
        return self._read()[index]

    def __iter__(self) -> Iterator[dict]:
        return iter(self._read())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PumpViews | tuple):
            return self._read() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like the tuple of dicts it stands for

    def __repr__(self) -> str:
        return repr(self._read())


def _event(seq: int, row: tuple) -> Event:
    return Event(seq, row[0], row[1], row[2], _data(row))


def _data(row: tuple) -> dict:
    """The data of the event a row holds (a compact row's as a dict like any other event's)."""
    return _ROW_DATA.get(row[1], _STORED_DATA)(row)


def _delivery_data(row: tuple) -> dict:
    if len(row) == 7:  # a plain delivery: all of it into the CSF
        _, _, flow, rate, end_s, volume, tip = row
        actual, route, dose = volume, "csf", None
    else:
        _, _, flow, rate, end_s, volume, tip, actual, route, dose = row
    if tip is not None:  # most tips hold one drug: its dose without a comprehension's call
        dose = {tip[0][0]: volume * tip[0][1]} if len(tip) == 1 else {drug: volume * ng for drug, ng in tip}
    return {"flow": flow, "rate": rate, "end_s": end_s, "volume": volume, "actual": actual, "route": route,
            "dose": dose}


def _bolus_started_data(row: tuple) -> dict:
    _, _, _, kind, volume, duration_s, rate = row
    return {"kind": kind, "volume": volume, "duration_s": duration_s, "rate": rate}


def _bolus_ended_data(row: tuple) -> dict:
    _, _, _, kind, volume, delivered = row
    return {"kind": kind, "volume": volume, "delivered": delivered}


_STORED_DATA = itemgetter(3)
_ROW_DATA: dict[EventKind, Callable[[tuple], dict]] = {
    EventKind.DELIVERY: _delivery_data, EventKind.BOLUS_STARTED: _bolus_started_data,
    EventKind.BOLUS_ENDED: _bolus_ended_data}
"""A compact row's data, its values named as :data:`COMPACT_FIELDS` orders them (a dict literal each: several
times quicker than zipping the names, for the million rows of a cohort's export); any other row holds its data
(:data:`_STORED_DATA`)."""


@dataclass(frozen=True)
class Totals:
    """The pump's own accounts: volumes in ticks; ``nominal``, the drug the pump counts as delivered at the
    catheter tip (the concentrations it was told, pushed through its tubing and catheter), in mass ticks per
    drug. ``filled`` counts the fluid the pump left the factory with (its non-retrievable residual) and
    every fill."""

    filled: int = 0
    withdrawn: int = 0
    pumped_estimated: int = 0
    pumped_actual: int = 0
    nominal: dict[str, int] = field(default_factory=dict)


def rebuild_totals(events: Iterable[Event]) -> Totals:
    """Rebuild the pump's accounts from the log alone."""
    filled = withdrawn = estimated = actual = 0
    nominal: dict[str, int] = {}
    for event in events:
        data = event.data
        if event.kind == EventKind.IMPLANT:
            filled += data["factory_fill"]
        elif event.kind == EventKind.REFILL:
            filled += data["fill"]
            withdrawn += data["withdrawn"]
        elif event.kind == EventKind.DELIVERY:
            estimated += data["volume"]
            actual += data["actual"]
            for drug, mass in data["dose"].items():
                if mass:
                    nominal[drug] = nominal.get(drug, 0) + mass
    return Totals(filled, withdrawn, estimated, actual, nominal)
