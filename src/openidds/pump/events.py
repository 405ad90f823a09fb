"""The pump's append-only event log, and the rebuild of delivered amounts from it.

Each event is ``(seq, t_s, kind, reason, data)``. Volumes are integer ticks and amounts integer mass
ticks (see :mod:`openidds.pump.ticks`), so a rebuild is exact. Simulator truth that a real pump could not
know (an injected fault, how much really left the reservoir and where it went) is kept in events of kind
``fault`` and in the ``actual`` and ``route`` fields of deliveries; :meth:`Event.pump_view` drops it.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

_TRUTH_FIELDS = frozenset({"actual", "route"})


class Event(NamedTuple):
    seq: int
    t_s: int
    kind: str
    reason: str
    data: dict

    def to_dict(self) -> dict:
        return {"seq": self.seq, "t_s": self.t_s, "kind": self.kind, "reason": self.reason, "data": self.data}

    def pump_view(self) -> dict | None:
        """What the pump itself recorded; None for simulator-only events."""
        if self.kind == "fault":
            return None
        data = {k: v for k, v in self.data.items() if k not in _TRUTH_FIELDS}
        return {"seq": self.seq, "t_s": self.t_s, "kind": self.kind, "reason": self.reason, "data": data}


DELIVERY_FIELDS = ("flow", "rate", "end_s", "volume", "actual", "route", "dose")
"""A delivery row keeps its data as a tuple in this order (the log's one hot path); readers get a dict."""


class EventLog:
    """Append-only: events can be added and read, never changed or removed."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: list[tuple] = []

    def append(self, t_s: int, kind: str, reason: str, data: dict) -> None:
        self._rows.append((t_s, kind, reason, data))

    def last(self) -> Event:
        """The newest event."""
        return _event(len(self._rows) - 1, self._rows[-1])

    def append_delivery(self, t_s: int, flow: str, values: tuple) -> None:
        """A delivery segment: ``values`` in the order of :data:`DELIVERY_FIELDS`."""
        self._rows.append((t_s, "delivery", flow, values))

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.since(0))

    def since(self, seq: int) -> tuple[Event, ...]:
        """Events with sequence number at least ``seq``."""
        return tuple(_event(i, row) for i, row in enumerate(self._rows[seq:], start=seq))

    def to_json(self) -> str:
        """The whole log as canonical JSON (sorted keys, no spaces): byte-identical for the same inputs."""
        return json.dumps([e.to_dict() for e in self], sort_keys=True, separators=(",", ":"))


def _event(seq: int, row: tuple) -> Event:
    t_s, kind, reason, data = row
    if type(data) is tuple:
        data = dict(zip(DELIVERY_FIELDS, data))
    return Event(seq, t_s, kind, reason, data)


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
        if event.kind == "implant":
            filled += data["factory_fill"]
        elif event.kind == "refill":
            filled += data["fill"]
            withdrawn += data["withdrawn"]
        elif event.kind == "delivery":
            estimated += data["volume"]
            actual += data["actual"]
            for drug, mass in data["dose"].items():
                if mass:
                    nominal[drug] = nominal.get(drug, 0) + mass
    return Totals(filled, withdrawn, estimated, actual, nominal)
