"""The legal table: every number has a source and a tag; areas may change only S/U/local numbers."""

from dataclasses import fields
from decimal import Decimal
from fractions import Fraction

import pytest

from fundguard_cases.rules.legal import (
    DEFAULTS,
    Certainty,
    LegalEntry,
    LegalParams,
    Range,
    params,
)
from fundguard_cases.rules.errors import LegalParamError, StatutoryValueOverride
from fundguard_shared.workdays import CALENDAR_DAYS, MONTHS, WORKING_DAYS

ALL = [(f.name, getattr(DEFAULTS, f.name)) for f in fields(LegalParams)]


@pytest.mark.parametrize("name, entry", ALL, ids=[name for name, _ in ALL])
def test_every_legal_number_has_value_unit_source_and_certainty(name, entry):
    assert isinstance(entry, LegalEntry)
    assert entry.value is not None and entry.unit and entry.source.strip()
    assert isinstance(entry.certainty, Certainty)


@pytest.mark.parametrize(
    "name, value, unit, certainty",
    [
        ("clue_verification", 15, WORKING_DAYS, "U"),
        ("clue_verification_extension", 15, WORKING_DAYS, "U"),
        ("decision", 90, CALENDAR_DAYS, "V"),
        ("decision_extension", 30, CALENDAR_DAYS, "U"),
        ("preservation_decision", 7, WORKING_DAYS, "V"),
        ("sealing", 30, CALENDAR_DAYS, "U"),
        ("legal_review", 10, WORKING_DAYS, "S"),
        ("defence_window", 5, WORKING_DAYS, "U"),
        ("hearing_request", 5, WORKING_DAYS, "V"),
        ("hearing_notice", 7, WORKING_DAYS, "V"),
        ("service", 7, WORKING_DAYS, "V"),
        ("payment", 15, CALENDAR_DAYS, "V"),
        ("court_enforcement_application", 3, MONTHS, "S"),
        ("publication_withdrawal", 3, WORKING_DAYS, "V"),
        ("review_application", 60, CALENDAR_DAYS, "V"),
        ("litigation", 6, MONTHS, "S"),
        ("litigation_after_review", 15, CALENDAR_DAYS, "S"),
    ],
)
def test_periods_carry_the_domain_value_unit_and_tag(name, value, unit, certainty):
    entry = getattr(DEFAULTS, name)
    assert (entry.value, entry.unit, entry.certainty.value) == (value, unit, certainty)


def test_year_periods_convert_to_months_for_the_calendar():
    assert DEFAULTS.limitation.period() == (24, MONTHS)
    assert DEFAULTS.limitation_health_harm.period() == (60, MONTHS)
    assert DEFAULTS.review_outer_limit_not_told.period() == (12, MONTHS)
    assert DEFAULTS.review_hard_stop.period() == (60, MONTHS)


def test_a_money_threshold_is_not_a_period():
    with pytest.raises(TypeError):
        DEFAULTS.hearing_threshold_entity.period()


def test_thresholds_and_rates_match_the_instruments():
    assert DEFAULTS.simplified_fine_individual.value == Decimal(200)
    assert DEFAULTS.simplified_fine_entity.value == Decimal(3000)
    assert DEFAULTS.hearing_threshold_individual.value == Decimal(5000)
    assert DEFAULTS.hearing_threshold_entity.value == Decimal(100000)
    assert DEFAULTS.legal_review_threshold_individual.value == Decimal(5000)
    assert DEFAULTS.legal_review_threshold_entity.value == Decimal(100000)
    assert DEFAULTS.surcharge_rate.value == Decimal("0.03")
    assert DEFAULTS.panel_quorum_ratio.value == Fraction(2, 3)
    assert DEFAULTS.panel_quorum_minimum.value == 3


# --- area overrides ----------------------------------------------------------------------------


def test_defence_window_is_unconfirmed_and_an_area_may_set_3_working_days():
    area = params({"defence_window": {"value": 3, "source": "某市告知书格式"}})
    assert area.defence_window.value == 3
    assert area.defence_window.source == "某市告知书格式"
    assert area.defence_window.default.value == 5
    assert DEFAULTS.defence_window.value == 5  # defaults untouched


def test_local_hearing_threshold_may_be_overridden_with_a_bare_value():
    area = params({"hearing_threshold_entity": 50000, "legal_review_threshold_individual": "3000"})
    assert area.hearing_threshold_entity.value == Decimal(50000)
    assert area.legal_review_threshold_individual.value == Decimal(3000)
    assert area.hearing_threshold_individual.value == Decimal(5000)


def test_panel_quorum_ratio_may_be_set_as_a_fraction():
    assert params({"panel_quorum_ratio": "1/2"}).panel_quorum_ratio.value == Fraction(1, 2)


def test_discretion_tiers_may_be_set_as_parts_of_the_range():
    area = params({"tier_lenient": [0, "1/3"], "tier_severe": ["2/3", 1]})
    assert area.tier_lenient.value == Range(Fraction(0), Fraction(1, 3))
    assert area.tier_severe.value == Range(Fraction(2, 3), Fraction(1))


@pytest.mark.parametrize(
    "name",
    [
        "decision", "hearing_request", "hearing_notice", "payment", "surcharge_rate", "limitation",
        "review_application", "review_hard_stop", "simplified_fine_individual", "simplified_fine_entity",
        "art38_fine", "art41_suspension", "suspension_schedule_floor",
    ],
)
def test_verified_statutory_numbers_cannot_be_overridden_by_an_area(name):
    assert getattr(DEFAULTS, name).certainty is Certainty.V
    value = [1, 3] if isinstance(getattr(DEFAULTS, name).value, Range) else 1
    with pytest.raises(StatutoryValueOverride) as caught:
        params({name: value})
    assert "may not be overridden" in str(caught.value)


def test_only_verified_non_local_entries_are_locked():
    for name, entry in ALL:
        assert entry.overridable == (entry.certainty is not Certainty.V or entry.local), name


def test_unknown_parameter_rejected():
    with pytest.raises(LegalParamError, match="unknown legal parameter"):
        params({"defense_window": 3})


@pytest.mark.parametrize(
    "name, value",
    [
        ("defence_window", "five"),
        ("defence_window", 0),
        ("defence_window", -2),
        ("defence_window", 2.5),
        ("defence_window", True),
        ("hearing_threshold_entity", "lots"),
        ("hearing_threshold_entity", [1, 2]),
        ("panel_quorum_ratio", "3/2"),
        ("panel_quorum_ratio", "1/0"),
        ("tier_lenient", [0, 2]),
        ("tier_lenient", ["1/2", "1/3"]),
        ("tier_lenient", 0.5),
    ],
)
def test_override_with_wrong_type_or_range_rejected(name, value):
    with pytest.raises(LegalParamError, match="invalid value"):
        params({name: value})


def test_no_overrides_give_the_defaults():
    assert params(None) == DEFAULTS
    assert params({}) == DEFAULTS
