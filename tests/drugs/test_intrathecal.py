"""Intrathecal starting-dose proposals: golden values, flags instead of clamping, and properties."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openidds.drugs import (
    DrugsError,
    Outcome,
    Status,
    calculate_ome,
    default_library,
    intrathecal_rules,
    parse_medication,
    propose_start,
)
from openidds.units import Quantity


def test_default_is_100_to_1_with_the_observed_range() -> None:
    result = calculate_ome([parse_medication("oxycodone PO 160 mg/day")])
    proposal = propose_start(result)
    assert proposal.ome == Quantity(240, "mg/day")
    assert proposal.ratio_name == "100:1" and proposal.ratio == 100
    assert proposal.dose == Quantity("2.4", "mg/day")
    assert proposal.observed_range == (Quantity("1.6", "mg/day"), Quantity("3.2", "mg/day"))
    assert any(r.source == "sindt-2021" and r.status is Status.VERIFIED for r in proposal.reasons)
    assert not proposal.exceeds_soft_limit and not proposal.exceeds_hard_limit
    assert proposal.checks[0].outcome is Outcome.WITHIN


def test_300_to_1_option() -> None:
    proposal = propose_start(Quantity(240, "mg/day"), ratio="300:1")
    assert proposal.dose == Quantity("0.8", "mg/day")
    assert proposal.ratio_name == "300:1"
    assert any(r.source == "mascc-spinal" for r in proposal.reasons)


def test_ratio_inside_the_observed_range_is_allowed_and_outside_refused() -> None:
    assert propose_start(Quantity(240, "mg/day"), ratio=120).dose == Quantity(2, "mg/day")
    assert propose_start(Quantity(240, "mg/day"), ratio="100").ratio_name == "100:1"
    with pytest.raises(DrugsError) as caught:
        propose_start(Quantity(240, "mg/day"), ratio=200)
    assert caught.value.field == "ratio" and "75-150:1" in caught.value.expected
    with pytest.raises(DrugsError):
        propose_start(Quantity(240, "mg/day"), ratio="one to a hundred")


def test_hydromorphone_conversion() -> None:
    proposal = propose_start(Quantity(240, "mg/day"), drug="hydromorphone")
    assert proposal.dose == Quantity("0.4", "mg/day")
    assert any(r.source == "aneskey-abdominal" for r in proposal.reasons)
    assert proposal.checks[0].drug == "hydromorphone"
    assert proposal.checks[0].relies_on_unverified
    with pytest.raises(DrugsError) as caught:
        propose_start(Quantity(240, "mg/day"), drug="fentanyl")
    assert caught.value.field == "drug"


def test_frailty_reduction() -> None:
    assert propose_start(Quantity(240, "mg/day"), frail=True).dose == Quantity("1.8", "mg/day")
    assert propose_start(Quantity(240, "mg/day"), frail=True, reduction_percent=50).dose == Quantity("1.2", "mg/day")
    assert propose_start(Quantity(240, "mg/day"), reduction_percent=0).dose == Quantity("2.4", "mg/day")
    with pytest.raises(DrugsError) as caught:
        propose_start(Quantity(240, "mg/day"), reduction_percent=10)
    assert caught.value.field == "reduction_percent" and caught.value.value == 10
    assert "25-50" in caught.value.expected


def test_above_a_hard_limit_is_flagged_never_clamped() -> None:
    proposal = propose_start(Quantity(3000, "mg/day"))
    assert proposal.dose == Quantity(30, "mg/day")
    assert proposal.exceeds_hard_limit and proposal.exceeds_soft_limit
    assert proposal.checks[0].outcome is Outcome.ABOVE_HARD
    assert "above the hard limit 20 mg/day" in proposal.checks[0].reason


def test_opioid_naive_is_decided_from_the_ome_and_flags_the_labelled_range() -> None:
    low = propose_start(Quantity(30, "mg/day"))
    assert low.opioid_naive and low.dose == Quantity("0.3", "mg/day") and not low.warnings
    assert any(r.status is Status.UNVERIFIED and r.source == "fda-opioid-tolerant" for r in low.reasons)
    outside = propose_start(Quantity(240, "mg/day"), opioid_naive=True)
    assert any("outside it" in w.text and w.source == "infumorph-label" for w in outside.warnings)
    assert not propose_start(Quantity(240, "mg/day")).opioid_naive


def test_bad_ome_is_refused() -> None:
    for bad in (Quantity(0, "mg/day"), Quantity(-5, "mg/day"), Quantity(240, "mg")):
        with pytest.raises(DrugsError) as caught:
            propose_start(bad)
        assert caught.value.field == "ome"


def test_notes_carry_the_sindt_outcomes_and_safety_prompts() -> None:
    notes = propose_start(Quantity(240, "mg/day")).notes
    assert any("54 %" in n.text and n.source == "sindt-2021" for n in notes)
    assert any("systemic opioids" in n.text and n.source == "coffey-2009" for n in notes)


def test_rules_file_is_consistent() -> None:
    rules = intrathecal_rules()
    assert rules.default_ratio == "100:1"
    assert (rules.observed_ratio_range.low, rules.observed_ratio_range.high) == (75, 150)
    assert rules.opioid_tolerant_ome.status is Status.UNVERIFIED


@given(
    st.fractions(min_value=1, max_value=10000, max_denominator=100),
    st.sampled_from(["100:1", "300:1", "75", "150", "90"]),
    st.sampled_from(["morphine", "hydromorphone"]),
    st.sampled_from([0, 25, 40, 50]),
)
def test_proposals_are_exact_and_flag_every_hard_limit(ome: Fraction, ratio: str, drug: str, cut: int) -> None:
    proposal = propose_start(Quantity(ome, "mg/day"), ratio=ratio, drug=drug, reduction_percent=cut)
    divisor = 6 if drug == "hydromorphone" else 1
    assert proposal.dose == Quantity(ome / proposal.ratio * Fraction(100 - cut, 100) / divisor, "mg/day")
    hard = default_library().drug(drug).limits.per_day.hard
    above = hard is not None and proposal.dose > hard.value
    assert proposal.exceeds_hard_limit == above
    low, high = proposal.observed_range
    assert low <= high
