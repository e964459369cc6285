"""Sanction rules: legal ranges per article, discretion tiers, 细则 art.33 schedule, one fine per
act, no aggravation after defence, mandatory police referral."""

from decimal import Decimal as D

import pytest

from fundguard_cases.rules.legal import Range, params
from fundguard_cases.rules.sanctions import (
    CATALOGUE,
    DefenceAggravation,
    OneFinePerAct,
    PoliceReferral,
    Sanction,
    SanctionKind as K,
    SanctionNotProvided,
    SanctionOutOfRange,
    Tier,
    Track,
    aggravations,
    allowed_range,
    check_one_fine_per_act,
    check_sanction,
    defence_may_not_raise,
    highest_fine_article,
    individual_suspension_months,
    mandatory_referrals,
    referral_required,
    tier_range,
)

# --- legal ranges ------------------------------------------------------------------------------


def test_fine_art38_range_is_1_to_2_times_loss():
    assert check_sanction("38", K.FINE, D("2000.00"), loss=D(1000)) == Range(D(1000), D(2000))
    check_sanction("38", K.FINE, D(1000), loss=D(1000))
    with pytest.raises(SanctionOutOfRange):
        check_sanction("38", K.FINE, D("2010"), loss=D(1000))  # 2.01 ×
    with pytest.raises(SanctionOutOfRange):
        check_sanction("38", K.FINE, D("999.99"), loss=D(1000))


def test_out_of_range_error_carries_code_range_and_bilingual_message():
    with pytest.raises(SanctionOutOfRange) as caught:
        check_sanction("38", K.FINE, D(2010), loss=D(1000))
    err = caught.value
    assert err.code == "sanction_out_of_range"
    assert err.allowed == Range(D(1000), D(2000))
    assert err.value == D(2010)
    assert err.zh == "罚款金额超出条例第38条规定范围 1–2 倍（1,000.00–2,000.00 元）"
    assert err.en == "fine amount outside the range of 条例 art.38: 1–2 × loss (1,000.00–2,000.00 元)"
    assert str(err) == f"{err.zh} / {err.en}"


@pytest.mark.parametrize("article", ["37", "40", "41(2)"])
def test_fraud_fines_are_2_to_5_times_amount_defrauded(article):
    check_sanction(article, K.FINE, D(2000), loss=D(1000))
    check_sanction(article, K.FINE, D(5000), loss=D(1000))
    for wrong in (D("1999.99"), D("5000.01")):
        with pytest.raises(SanctionOutOfRange):
            check_sanction(article, K.FINE, wrong, loss=D(1000))


def test_fine_art39_is_10000_to_50000_yuan_whatever_the_loss():
    check_sanction("39", K.FINE, 10000)
    check_sanction("39", K.FINE, 50000)
    with pytest.raises(SanctionOutOfRange) as caught:
        check_sanction("39", K.FINE, D("50000.01"), loss=D(1))
    assert "10,000.00–50,000.00 元" in caught.value.zh


@pytest.mark.parametrize("article", ["38", "40"])
def test_department_suspension_is_6_to_12_months(article):
    check_sanction(article, K.DEPARTMENT_SUSPENSION, 6)
    check_sanction(article, K.DEPARTMENT_SUSPENSION, 12)
    for wrong in (5, 13):
        with pytest.raises(SanctionOutOfRange) as caught:
            check_sanction(article, K.DEPARTMENT_SUSPENSION, wrong)
        assert "6–12 个月" in caught.value.zh and "6–12 months" in caught.value.en


def test_art43_ban_is_exactly_5_years():
    check_sanction("43", K.PRACTICE_BAN, 5)
    with pytest.raises(SanctionOutOfRange, match="5 年"):
        check_sanction("43", K.PRACTICE_BAN, 3)


@pytest.mark.parametrize(
    "article, kind",
    [("39", K.DEPARTMENT_SUSPENSION), ("41(1)", K.FINE), ("38", K.PRACTICE_BAN), ("37", K.SETTLEMENT_SUSPENSION)],
)
def test_article_that_does_not_provide_the_sanction_is_refused(article, kind):
    with pytest.raises(SanctionNotProvided) as caught:
        check_sanction(article, kind, 1)
    assert caught.value.code == "sanction_not_provided"


def test_individual_without_fraud_cannot_be_fined_under_art41_1():
    with pytest.raises(SanctionNotProvided, match="条例第41条第1款未规定罚款"):
        check_sanction("41(1)", K.FINE, 100, loss=D(1000))


def test_fine_as_multiple_needs_the_loss():
    with pytest.raises(ValueError, match="loss"):
        check_sanction("38", K.FINE, 1000)
    with pytest.raises(ValueError, match="loss"):
        check_sanction("38", K.FINE, 1000, loss=D(0))


def test_measures_without_quantity_are_accepted_for_their_article():
    assert check_sanction("38", K.ORDER_REFUND) is None
    assert check_sanction("agreement", K.TERMINATE_AGREEMENT) is None


def test_catalogue_holds_the_agreement_track_and_referral_targets():
    agreement = {kind for (article, kind), e in CATALOGUE.items() if e.track is Track.AGREEMENT}
    assert agreement == {
        K.INTERVIEW, K.RECTIFY, K.CRITICISM, K.SUSPEND_PAYMENT, K.SUSPEND_AGREEMENT,
        K.TERMINATE_AGREEMENT, K.LIQUIDATED_DAMAGES, K.RECOVERY,
    }
    referral = {kind for (article, kind), e in CATALOGUE.items() if e.track is Track.REFERRAL}
    assert referral == {K.REFER_POLICE, K.REFER_DISCIPLINE, K.REFER_HEALTH, K.REFER_DRUG}
    penalty_articles = {article for (article, kind), e in CATALOGUE.items() if e.track is Track.PENALTY}
    assert penalty_articles == {"37", "38", "39", "40", "41(1)", "41(2)", "42", "43", "44"}


# --- 细则 art.33 suspension schedule -------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, months",
    [
        (D(999), None),
        (D("999.99"), None),
        (D(1000), 3),
        (D("1099.99"), 3),
        (D(1100), 4),
        (D(1500), 8),
        (D(1899), 11),
        (D(1900), 12),
        (D(50000), 12),
    ],
)
def test_settlement_suspension_schedule_3_months_from_1000_plus_1_per_100_up_to_12(loss, months):
    assert individual_suspension_months(loss) == months


def test_intentional_fraud_means_12_months_suspension_whatever_the_loss():
    assert individual_suspension_months(D(500), intentional_fraud=True) == 12


def test_suspension_must_follow_the_schedule_when_it_applies():
    check_sanction("41(1)", K.SETTLEMENT_SUSPENSION, 8, loss=D(1500))
    for wrong in (7, 9, 12):
        with pytest.raises(SanctionOutOfRange, match="8 个月"):
            check_sanction("41(1)", K.SETTLEMENT_SUSPENSION, wrong, loss=D(1500))


def test_suspension_below_schedule_floor_stays_within_3_to_12_months():
    check_sanction("41(1)", K.SETTLEMENT_SUSPENSION, 3, loss=D(500))
    check_sanction("41(1)", K.SETTLEMENT_SUSPENSION, 12, loss=D(500))
    with pytest.raises(SanctionOutOfRange):
        check_sanction("41(1)", K.SETTLEMENT_SUSPENSION, 2, loss=D(500))


def test_fraudulent_individual_suspension_is_12_months():
    with pytest.raises(SanctionOutOfRange):
        check_sanction("41(2)", K.SETTLEMENT_SUSPENSION, 11, loss=D(500), intentional_fraud=True)
    check_sanction("41(2)", K.SETTLEMENT_SUSPENSION, 12, loss=D(500), intentional_fraud=True)
    check_sanction("41(2)", K.SETTLEMENT_SUSPENSION, 12, intentional_fraud=True)  # e.g. another's credential, no loss
    with pytest.raises(SanctionOutOfRange):
        check_sanction("41(2)", K.SETTLEMENT_SUSPENSION, 6, intentional_fraud=True)


# --- discretion tiers ------------------------------------------------------------------------


def test_lenient_tier_is_lower_half_and_severe_tier_upper_half_of_legal_range():
    assert tier_range("38", Tier.LENIENT) == Range(D(1), D("1.5"))
    assert tier_range("38", Tier.SEVERE) == Range(D("1.5"), D(2))
    assert tier_range("38", Tier.ORDINARY) == Range(D(1), D(2))
    assert tier_range("38", Tier.LENIENT, K.DEPARTMENT_SUSPENSION) == Range(D(6), D(9))


def test_mitigated_tier_is_below_the_legal_minimum():
    mitigated = tier_range("38", Tier.MITIGATED)
    assert mitigated.contains(D("0.99")) and not mitigated.contains(D(1))
    with pytest.raises(SanctionOutOfRange, match="减轻档范围 <1 倍（<1,000.00 元）"):
        check_sanction("38", K.FINE, D(1000), loss=D(1000), tier=Tier.MITIGATED)
    check_sanction("38", K.FINE, D(500), loss=D(1000), tier=Tier.MITIGATED)


def test_no_penalty_tier_allows_nothing():
    assert tier_range("40", Tier.NO_PENALTY) == Range(D(0), D(0))


def test_severe_tier_rejects_a_fine_in_the_lower_half():
    with pytest.raises(SanctionOutOfRange, match="从重档范围 1.5–2 倍"):
        check_sanction("38", K.FINE, D(1200), loss=D(1000), tier=Tier.SEVERE)
    check_sanction("38", K.FINE, D(1800), loss=D(1000), tier=Tier.SEVERE)


def test_tiers_configured_as_thirds_reproduce_henan_benchmark_for_art37():
    henan = params({"tier_lenient": [0, "1/3"], "tier_ordinary": ["1/3", "2/3"], "tier_severe": ["2/3", 1]})
    assert tier_range("37", Tier.LENIENT, params=henan) == Range(D(2), D(3))
    assert tier_range("37", Tier.ORDINARY, params=henan) == Range(D(3), D(4))
    assert tier_range("37", Tier.SEVERE, params=henan) == Range(D(4), D(5))


def test_allowed_range_in_yuan_scales_the_tier_by_the_loss():
    assert allowed_range("40", K.FINE, loss=D("1234.56"), tier=Tier.LENIENT) == Range(D("2469.12"), D("4320.96"))


# --- 一事不再罚 -------------------------------------------------------------------------------


def test_one_act_gets_at_most_one_fine():
    first = Sanction(K.FINE, D(1000), article="38")
    check_one_fine_per_act([], first)
    with pytest.raises(OneFinePerAct) as caught:
        check_one_fine_per_act([first], Sanction(K.FINE, D(500), article="39"))
    assert "第29条" in caught.value.zh


def test_other_sanctions_may_join_the_one_fine():
    check_one_fine_per_act([Sanction(K.FINE, D(1000))], Sanction(K.DEPARTMENT_SUSPENSION, months=6))
    check_one_fine_per_act([Sanction(K.DEPARTMENT_SUSPENSION, months=6)], Sanction(K.FINE, D(1000)))


def test_several_norms_use_the_one_with_the_highest_fine():
    assert highest_fine_article(["38", "40"], loss=D(10000)) == "40"  # 20,000 vs 50,000
    assert highest_fine_article(["38", "39"], loss=D(1000)) == "39"  # 2,000 vs 50,000
    assert highest_fine_article(["38", "39"], loss=D(100000)) == "38"  # 200,000 vs 50,000


# --- no aggravation after defence (行政处罚法 art.45) -----------------------------------------------


def test_defence_never_raises_the_fine():
    defence_may_not_raise(Sanction(K.FINE, D(2000)), Sanction(K.FINE, D(2000)))
    defence_may_not_raise(Sanction(K.FINE, D(2000)), Sanction(K.FINE, D(1500)))
    with pytest.raises(DefenceAggravation) as caught:
        defence_may_not_raise(Sanction(K.FINE, D(2000)), Sanction(K.FINE, D("2000.01")))
    assert caught.value.code == "defence_aggravates"
    assert "第45条" in caught.value.zh


def test_defence_never_lengthens_a_suspension():
    with pytest.raises(DefenceAggravation):
        defence_may_not_raise(Sanction(K.DEPARTMENT_SUSPENSION, months=6), Sanction(K.DEPARTMENT_SUSPENSION, months=7))


@pytest.mark.parametrize(
    "before, after",
    [
        (Sanction(K.WARNING), Sanction(K.FINE, D(100))),
        (Sanction(K.FINE, D(100000)), Sanction(K.DEPARTMENT_SUSPENSION, months=6)),
        (Sanction(K.SUSPEND_AGREEMENT, months=3), Sanction(K.TERMINATE_AGREEMENT)),
    ],
)
def test_defence_never_moves_to_a_heavier_kind(before, after):
    with pytest.raises(DefenceAggravation):
        defence_may_not_raise(before, after)


def test_defence_may_lead_to_a_lighter_kind():
    defence_may_not_raise(Sanction(K.DEPARTMENT_SUSPENSION, months=6), Sanction(K.FINE, D(100000)))
    defence_may_not_raise([Sanction(K.FINE, D(5000)), Sanction(K.DEPARTMENT_SUSPENSION, months=6)], [Sanction(K.FINE, D(5000))])


def test_defence_never_adds_a_sanction_to_the_notified_ones():
    before = [Sanction(K.FINE, D(1000))]
    after = [Sanction(K.FINE, D(1000)), Sanction(K.DEPARTMENT_SUSPENSION, months=6)]
    assert aggravations(before, after)
    with pytest.raises(DefenceAggravation):
        defence_may_not_raise(before, after)


def test_defence_cannot_use_one_dropped_sanction_to_cover_two_new_ones():
    before = [Sanction(K.TERMINATE_AGREEMENT)]
    after = [Sanction(K.SUSPEND_AGREEMENT, months=3), Sanction(K.FINE, D(1000))]
    assert len(aggravations(before, after)) == 1


def test_defence_cannot_swap_to_a_different_sanction_of_the_same_severity():
    with pytest.raises(DefenceAggravation, match="confiscation of illegal income added"):
        defence_may_not_raise(Sanction(K.FINE, D(1000)), Sanction(K.CONFISCATION, D(500)))


def test_orders_to_repay_are_not_penalties_for_the_defence_rule():
    defence_may_not_raise([Sanction(K.FINE, D(1000))], [Sanction(K.FINE, D(1000)), Sanction(K.ORDER_REFUND, D(5000))])


# --- mandatory police referral (细则 art.41) ---------------------------------------------------


def test_twelve_behaviours_require_police_referral_each_with_chinese_label():
    assert len(PoliceReferral) == 12
    for behaviour in PoliceReferral:
        assert referral_required([behaviour])
        assert referral_required([behaviour.value])
        assert any("\u4e00" <= ch <= "\u9fff" for ch in behaviour.label_zh)


def test_behaviours_outside_the_list_do_not_require_police_referral():
    assert not referral_required([])
    assert not referral_required(["art38_duplicate_charging", "art39_no_records"])


def test_mandatory_referrals_lists_only_the_listed_behaviours():
    found = mandatory_referrals(["art38_duplicate_charging", PoliceReferral.VIOLENT_OBSTRUCTION, "brokering"])
    assert found == [PoliceReferral.BROKERING, PoliceReferral.VIOLENT_OBSTRUCTION]
