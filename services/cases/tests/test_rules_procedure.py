"""Procedural rules: legal review, panel, hearing, simplified procedure, limitation, appeal
windows, late-payment surcharge and the decision deadline."""

from datetime import date
from decimal import Decimal as D

import pytest

from fundguard_cases.rules.legal import params
from fundguard_cases.rules.procedure import (
    AppealKind,
    Approver,
    CaseFacts,
    Extension,
    ExtensionNotAllowed,
    ReviewReason,
    appeal_deadline,
    deadline,
    decision_deadline,
    filing_in_window,
    hearing_available,
    hearing_notice_in_time,
    legal_review_reasons,
    legal_review_required,
    limitation_expired,
    panel_quorum_met,
    panel_required,
    simplified_allowed,
    surcharge,
)
from fundguard_cases.rules.sanctions import PartyType, Sanction, SanctionKind as K
from fundguard_shared.workdays import CalendarNotLoaded, WorkdayCalendar

CAL = WorkdayCalendar()
PERSON, ENTITY = PartyType.INDIVIDUAL, PartyType.ENTITY


def fine(amount) -> Sanction:
    return Sanction(K.FINE, D(amount))


# --- legal review ----------------------------------------------------------------------------


def test_legal_review_required_from_100000_yuan_for_an_entity():
    assert legal_review_required(CaseFacts(ENTITY, (fine(100000),)))
    assert not legal_review_required(CaseFacts(ENTITY, (fine("99999.99"),)))


def test_legal_review_threshold_adds_recovery_fines_and_confiscation_for_an_individual():
    facts = CaseFacts(PERSON, (fine(2000), Sanction(K.CONFISCATION, D(1000))), recovery_amount=D(2000))
    assert legal_review_reasons(facts) == [ReviewReason.AMOUNT]
    assert not legal_review_required(CaseFacts(PERSON, (fine(2000),), recovery_amount=D("2999.99")))


def test_legal_review_required_for_termination_hearing_public_interest_complexity():
    assert legal_review_reasons(CaseFacts(ENTITY, (Sanction(K.TERMINATE_AGREEMENT),))) == [ReviewReason.TERMINATES_AGREEMENT]
    assert legal_review_reasons(CaseFacts(ENTITY, hearing_held=True)) == [ReviewReason.HEARING_HELD]
    assert legal_review_reasons(CaseFacts(ENTITY, major_public_interest=True)) == [ReviewReason.MAJOR_PUBLIC_INTEREST]
    assert legal_review_reasons(CaseFacts(ENTITY, complex_case=True)) == [ReviewReason.COMPLEX]
    assert legal_review_reasons(CaseFacts(ENTITY, other_law_requires_review=True)) == [ReviewReason.OTHER_LAW]
    assert not legal_review_required(CaseFacts(ENTITY, (fine(20000),)))


def test_legal_review_threshold_follows_area_configuration():
    area = params({"legal_review_threshold_entity": 20000})
    assert legal_review_required(CaseFacts(ENTITY, (fine(20000),)), area)


# --- panel -----------------------------------------------------------------------------------


def test_panel_required_for_complex_or_serious_cases_only():
    assert panel_required(CaseFacts(ENTITY, complex_case=True))
    assert panel_required(CaseFacts(ENTITY, major_violation=True))
    assert not panel_required(CaseFacts(ENTITY, (fine(1000000),)))


def test_panel_quorum_is_two_thirds_of_non_recused_members_and_at_least_three():
    assert panel_quorum_met(members=9, recused=1, present=6)  # ceil(2/3 × 8) = 6
    assert not panel_quorum_met(members=9, recused=1, present=5)
    assert panel_quorum_met(members=4, recused=1, present=3)  # minimum 3
    assert not panel_quorum_met(members=3, recused=1, present=2)  # only 2 may sit: below 3


def test_panel_quorum_counts_only_non_recused_members():
    with pytest.raises(ValueError):
        panel_quorum_met(members=5, recused=2, present=4)


def test_panel_quorum_follows_area_configuration():
    area = params({"panel_quorum_ratio": "1/2", "panel_quorum_minimum": 5})
    assert not panel_quorum_met(members=9, recused=0, present=4, params=area)
    assert panel_quorum_met(members=9, recused=0, present=5, params=area)


# --- hearing ---------------------------------------------------------------------------------


def test_hearing_offered_from_5000_yuan_fine_for_an_individual():
    assert hearing_available(fine(5000), PERSON)
    assert not hearing_available(fine("4999.99"), PERSON)


def test_hearing_offered_from_100000_yuan_fine_for_an_entity():
    assert hearing_available(fine(100000), ENTITY)
    assert not hearing_available(fine(99999), ENTITY)


def test_hearing_threshold_counts_confiscation_with_the_fine():
    assert hearing_available([fine(3000), Sanction(K.CONFISCATION, D(2000))], PERSON)


@pytest.mark.parametrize(
    "sanction",
    [
        Sanction(K.SETTLEMENT_SUSPENSION, months=3),
        Sanction(K.DEPARTMENT_SUSPENSION, months=6),
        Sanction(K.TERMINATE_AGREEMENT),
        Sanction(K.PRACTICE_BAN, months=60),
    ],
)
def test_hearing_offered_for_suspension_termination_and_ban_whatever_the_amount(sanction):
    assert hearing_available([sanction], PERSON)


def test_no_hearing_for_a_warning():
    assert not hearing_available(Sanction(K.WARNING), ENTITY)


def test_hearing_threshold_follows_area_configuration():
    assert hearing_available(fine(50000), ENTITY, params({"hearing_threshold_entity": 50000}))


def test_hearing_notice_at_least_7_working_days_before():
    # from 2025-09-26: 09-28 调休, 09-29, 09-30, 10-09, 10-10, 10-11 调休, 10-13 → 7
    assert hearing_notice_in_time(date(2025, 9, 26), date(2025, 10, 13), CAL)
    assert not hearing_notice_in_time(date(2025, 9, 26), date(2025, 10, 11), CAL)


def test_hearing_request_window_is_5_working_days_from_notice():
    assert deadline("hearing_request", date(2025, 9, 30), CAL) == date(2025, 10, 14)


def test_defence_window_default_5_working_days_and_configurable():
    assert deadline("defence_window", date(2025, 3, 3), CAL) == date(2025, 3, 10)
    assert deadline("defence_window", date(2025, 3, 3), CAL, params({"defence_window": 3})) == date(2025, 3, 6)


def test_payment_due_15_days_after_receipt_moves_past_national_day():
    assert deadline("payment", date(2025, 9, 16), CAL) == date(2025, 10, 9)


# --- simplified procedure --------------------------------------------------------------------


def test_simplified_procedure_fine_up_to_200_yuan_for_an_individual():
    assert simplified_allowed(fine(200), PERSON)
    assert not simplified_allowed(fine("200.01"), PERSON)


def test_simplified_procedure_fine_up_to_3000_yuan_for_an_entity():
    assert simplified_allowed(fine(3000), ENTITY)
    assert not simplified_allowed(fine("3000.01"), ENTITY)


def test_simplified_procedure_allows_warning_and_orders_but_no_other_penalty():
    assert simplified_allowed([Sanction(K.WARNING), Sanction(K.ORDER_CORRECTION)], ENTITY)
    assert not simplified_allowed([Sanction(K.SETTLEMENT_SUSPENSION, months=3)], PERSON)
    assert not simplified_allowed([fine(100), Sanction(K.CONFISCATION, D(10))], PERSON)
    assert not simplified_allowed([Sanction(K.ORDER_CORRECTION)], PERSON)  # no penalty to decide


# --- limitation ------------------------------------------------------------------------------


def test_limitation_two_years_from_the_act_last_day_included():
    assert not limitation_expired(date(2023, 3, 10), None, date(2025, 3, 10), health_harm=False)
    assert limitation_expired(date(2023, 3, 10), None, date(2025, 3, 11), health_harm=False)


def test_limitation_of_a_continuing_act_runs_from_its_end():
    assert not limitation_expired(date(2020, 1, 1), date(2023, 6, 30), date(2025, 6, 30), health_harm=False)
    assert limitation_expired(date(2020, 1, 1), date(2023, 6, 30), date(2025, 7, 1), health_harm=False)


def test_limitation_five_years_when_health_harm_resulted():
    assert not limitation_expired(date(2021, 3, 10), None, date(2026, 3, 10), health_harm=True)
    assert limitation_expired(date(2021, 3, 10), None, date(2026, 3, 11), health_harm=True)
    assert limitation_expired(date(2021, 3, 10), None, date(2026, 3, 10), health_harm=False)


# --- appeal windows --------------------------------------------------------------------------


def test_review_window_is_60_days_from_service():
    assert appeal_deadline(AppealKind.REVIEW, date(2025, 8, 1), True, date(2025, 7, 30), CAL) == date(2025, 9, 30)


def test_review_window_ending_on_national_day_moves_to_next_working_day():
    assert appeal_deadline(AppealKind.REVIEW, date(2025, 8, 2), True, date(2025, 8, 1), CAL) == date(2025, 10, 9)


def test_review_window_is_one_year_when_routes_not_stated():
    # 2026-03-01 is a Sunday → Monday
    assert appeal_deadline(AppealKind.REVIEW, date(2025, 3, 1), False, date(2025, 2, 27), CAL) == date(2026, 3, 2)


def test_review_window_when_routes_not_stated_runs_60_days_from_learning_them_within_one_year():
    served, act = date(2025, 3, 3), date(2025, 3, 1)
    assert appeal_deadline(AppealKind.REVIEW, served, False, act, CAL, right_known_on=date(2025, 5, 5)) == date(2025, 7, 4)
    # learned the right late: the 1-year outer limit still binds
    assert appeal_deadline(AppealKind.REVIEW, served, False, act, CAL, right_known_on=date(2026, 2, 1)) == date(2026, 3, 3)


def test_review_hard_stop_five_years_after_the_act():
    # served (known) only in 2025 for an act of 2020-01-10: the hard stop 2025-01-10 (Friday) binds
    assert appeal_deadline(AppealKind.REVIEW, date(2025, 1, 5), True, date(2020, 1, 10), CAL) == date(2025, 1, 10)


def test_litigation_window_is_6_months_from_service():
    assert appeal_deadline(AppealKind.LITIGATION, date(2025, 3, 14), True, date(2025, 3, 10), CAL) == date(2025, 9, 15)  # 09-14 Sunday
    assert appeal_deadline(AppealKind.LITIGATION, date(2025, 4, 1), True, date(2025, 3, 30), CAL) == date(2025, 10, 9)


def test_litigation_after_review_is_15_days_from_the_review_decision():
    assert appeal_deadline(AppealKind.LITIGATION_AFTER_REVIEW, date(2025, 6, 3), True, date(2025, 1, 1), CAL) == date(2025, 6, 18)
    assert appeal_deadline(AppealKind.LITIGATION_AFTER_REVIEW, date(2025, 9, 20), True, date(2025, 1, 1), CAL) == date(2025, 10, 9)


def test_filing_on_the_last_day_is_in_the_window_and_the_day_after_is_not():
    args = (date(2025, 8, 1), True, date(2025, 7, 30), CAL)
    assert filing_in_window(AppealKind.REVIEW, date(2025, 9, 30), *args)
    assert not filing_in_window(AppealKind.REVIEW, date(2025, 10, 1), *args)


def test_appeal_deadline_in_unloaded_year_is_not_guessed():
    with pytest.raises(CalendarNotLoaded):
        appeal_deadline(AppealKind.REVIEW, date(2026, 12, 15), True, date(2026, 12, 10), CAL)


def test_unknown_appeal_kind_rejected():
    with pytest.raises(ValueError):
        appeal_deadline("complaint", date(2025, 1, 1), True, date(2025, 1, 1), CAL)


# --- surcharge -------------------------------------------------------------------------------


def test_no_surcharge_when_paid_by_the_due_date():
    assert surcharge(D(10000), date(2025, 3, 17), date(2025, 3, 17)) == D(0)
    assert surcharge(D(10000), date(2025, 3, 17), date(2025, 3, 1)) == D(0)


def test_surcharge_is_3_percent_of_the_fine_per_day_late():
    assert surcharge(D(10000), date(2025, 3, 17), date(2025, 3, 18)) == D("300.00")
    assert surcharge(D(10000), date(2025, 3, 17), date(2025, 3, 27)) == D("3000.00")
    assert surcharge(D("333.33"), date(2025, 3, 17), date(2025, 3, 18)) == D("10.00")


def test_surcharge_never_exceeds_the_fine():
    assert surcharge(D(10000), date(2025, 3, 17), date(2025, 4, 19)) == D("9900.00")  # 33 days
    assert surcharge(D(10000), date(2025, 3, 17), date(2025, 4, 20)) == D("10000.00")  # 34 days capped
    assert surcharge(D(10000), date(2025, 3, 17), date(2026, 3, 17)) == D("10000.00")


def test_surcharge_not_counted_during_appeal():
    assert surcharge(D(10000), date(2025, 3, 17), date(2025, 3, 27), paused_days=6) == D("1200.00")
    assert surcharge(D(10000), date(2025, 3, 17), date(2025, 3, 27), paused_days=30) == D(0)


# --- decision deadline -----------------------------------------------------------------------


def test_decision_due_90_days_after_case_opened():
    assert decision_deadline(date(2025, 1, 1)) == date(2025, 4, 1)


def test_leader_may_extend_the_decision_deadline_once_by_30_days():
    assert decision_deadline(date(2025, 1, 1), [Extension(Approver.LEADER)]) == date(2025, 5, 1)
    with pytest.raises(ExtensionNotAllowed) as caught:
        decision_deadline(date(2025, 1, 1), [Extension(Approver.LEADER), Extension(Approver.LEADER)])
    assert caught.value.code == "extension_not_allowed"


def test_beyond_120_days_only_the_panel_sets_a_new_date():
    extensions = [Extension(Approver.LEADER), Extension(Approver.PANEL, date(2025, 6, 30))]
    assert decision_deadline(date(2025, 1, 1), extensions) == date(2025, 6, 30)
    extensions.append(Extension(Approver.PANEL, date(2025, 8, 31)))
    assert decision_deadline(date(2025, 1, 1), extensions) == date(2025, 8, 31)


def test_panel_date_must_be_later_than_the_current_deadline():
    with pytest.raises(ExtensionNotAllowed):
        decision_deadline(date(2025, 1, 1), [Extension(Approver.LEADER), Extension(Approver.PANEL, date(2025, 5, 1))])
    with pytest.raises(ExtensionNotAllowed):
        decision_deadline(
            date(2025, 1, 1),
            [Extension(Approver.PANEL, date(2025, 6, 30)), Extension(Approver.PANEL, date(2025, 6, 1))],
        )


def test_leader_cannot_extend_after_the_panel_took_over():
    with pytest.raises(ExtensionNotAllowed):
        decision_deadline(date(2025, 1, 1), [Extension(Approver.PANEL, date(2025, 6, 30)), Extension(Approver.LEADER)])


def test_panel_extension_without_date_rejected():
    with pytest.raises(ValueError):
        decision_deadline(date(2025, 1, 1), [Extension(Approver.PANEL)])


def test_hearing_and_appraisal_time_not_counted_in_the_decision_deadline():
    assert decision_deadline(date(2025, 1, 1), paused_periods=[(date(2025, 2, 10), date(2025, 2, 20))]) == date(2025, 4, 11)
    # overlapping pauses count once: 02-10..02-25 = 15 days
    overlapping = [(date(2025, 2, 10), date(2025, 2, 20)), (date(2025, 2, 15), date(2025, 2, 25))]
    assert decision_deadline(date(2025, 1, 1), paused_periods=overlapping) == date(2025, 4, 16)


def test_pause_starting_after_the_deadline_does_not_revive_it():
    assert decision_deadline(date(2025, 1, 1), paused_periods=[(date(2025, 4, 2), date(2025, 4, 30))]) == date(2025, 4, 1)


def test_pause_that_resumes_before_it_starts_rejected():
    with pytest.raises(ValueError):
        decision_deadline(date(2025, 1, 1), paused_periods=[(date(2025, 2, 20), date(2025, 2, 10))])
