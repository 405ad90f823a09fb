"""The pump's fill history, read from its own event log (what a real pump keeps and a programmer reads)."""

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from openidds.pump import EventLog, Solution
from openidds.pump.ticks import ticks_to_ml


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One refill: when, what went in, what came out against what the pump expected, and the volume the
    pump had pumped since the fill before it (volumes in ticks)."""

    t_s: int
    solution: Solution
    fill_ticks: int
    withdrawn_ticks: int
    expected_ticks: int
    pumped_ticks: int

    @property
    def discrepancy_ml(self) -> Fraction:
        """Withdrawn minus expected, in mL."""
        return ticks_to_ml(self.withdrawn_ticks - self.expected_ticks)


def fill_history(log: EventLog) -> tuple[tuple[FillRecord, ...], int]:
    """Every refill in the pump's log, oldest first, and the volume pumped since the last one (ticks)."""
    fills, pumped = log.refills()
    records = []
    for event, pumped_before in fills:
        data = event.data
        records.append(_record(event.t_s, tuple(sorted(data["ng_per_ml"].items())), data["fill"], data["withdrawn"],
                               data["expected_withdrawn"], pumped_before))
    return tuple(records), pumped


@lru_cache(maxsize=4096)
def _record(t_s: int, ng_per_ml: tuple[tuple[str, int], ...], fill_ticks: int, withdrawn_ticks: int,
            expected_ticks: int, pumped_ticks: int) -> FillRecord:
    """One refill's record (kept for the values last asked: every session reads the pump's fills before it
    again, and a record is immutable)."""
    return FillRecord(t_s, Solution(ng_per_ml), fill_ticks, withdrawn_ticks, expected_ticks, pumped_ticks)


def first_fill_drugs(history: tuple[FillRecord, ...], index: int) -> frozenset[str]:
    """Drugs of fill ``index`` that were not in the fill before it."""
    before = set(history[index - 1].solution.drugs) if index > 0 else set()
    return frozenset(set(history[index].solution.drugs) - before)
