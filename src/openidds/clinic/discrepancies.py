"""Refill residual discrepancies as the registry holds them, each judged by its pump's limit and trended across
that pump's refills by the programmer's rule (:class:`openidds.programmer.Trend`: two of the last three over the
limit, or the last three growing the same way), so the patient page and the refill workflow flag the same trend.

The registry keeps no volume pumped between refills, so the limit is the reservoir's floor
(:func:`openidds.clinic.rules.refill_discrepancy_limit`: 1 mL up to a 20 mL pump, 2 mL above), not the
workflow's max(accuracy x pumped volume, floor). A replacement pump starts a trend of its own, as in the workflow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from openidds.clinic import models, rules
from openidds.programmer import Discrepancy, Trend


@dataclass(frozen=True)
class RefillDiscrepancy:
    """One refill's withdrawn minus expected residual (mL), its limit, and the trend as it stood at that refill."""

    refill_id: int
    refilled_at: dt.datetime
    discrepancy_ml: float
    limit_ml: float
    trend: Trend

    @property
    def flagged(self) -> bool:
        return abs(self.discrepancy_ml) > self.limit_ml

    def trend_text(self) -> str | None:
        """Why the trend is flagged (None when it is not)."""
        if self.trend.repeated:
            return "two of the last three refills over the limit"
        if self.trend.drifting:
            return "the last three discrepancies grow the same way"
        return None


def _exact(ml: float) -> Fraction:
    return Fraction(str(ml))


def pump_discrepancies(refills: Iterable[models.Refill], reservoir_ml: dict[int, float | None]
                       ) -> dict[int, RefillDiscrepancy]:
    """The discrepancy of each refill with both residuals recorded, by refill id; ``reservoir_ml``: each implant's
    reservoir by implant id. A refill without an expected or a withdrawn residual has none and is left out of the
    trend."""
    out: dict[int, RefillDiscrepancy] = {}
    by_pump: dict[int, list[Discrepancy]] = {}
    before: dict[int, models.Refill] = {}
    first_at: dict[int, dt.datetime] = {}
    for refill in sorted(refills, key=lambda r: (r.implant_id, r.refilled_at)):
        w, e = refill.withdrawn_residual_ml, refill.expected_residual_ml
        previous = before.get(refill.implant_id)
        before[refill.implant_id] = refill
        if w is None or e is None:
            continue
        reservoir = reservoir_ml[refill.implant_id]
        limit = rules.refill_discrepancy_limit(reservoir)
        # pumped since the last fill, as far as the registry tells: the volume added then less what was expected now
        pumped = Fraction(0) if previous is None else max(_exact(previous.volume_added_ml) - _exact(e), Fraction(0))
        past = by_pump.setdefault(refill.implant_id, [])
        since_first_s = int((refill.refilled_at - first_at.setdefault(refill.implant_id, refill.refilled_at))
                            .total_seconds())
        past.append(Discrepancy(since_first_s, _exact(e), _exact(w), pumped, _exact(limit),
                                f"{limit:g} mL floor for a {reservoir or '?'} mL pump (registry)"))
        out[refill.id] = RefillDiscrepancy(refill.id, refill.refilled_at, round(w - e, 6), limit, Trend(tuple(past)))
    return out
