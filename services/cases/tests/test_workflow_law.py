"""The legal rules of the case workflow, one test per rule, in process against SQLite through
``service.transition`` (the same path the HTTP view takes)."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from casekit import MEMBERS, OFFICERS, PEOPLE, member
from fundguard_cases import audit, deadlines
from fundguard_cases.models import AuditEntry, Case, Deadline, Recusal
from fundguard_cases.workflow import TransitionRejected
from fundguard_shared.events import parse_event

FINE = {"kind": "fine", "article": "38", "amount": "150000.00"}
REFUND = {"kind": "order_refund", "article": "38", "amount": "120000.00"}
DECIDE = {"decision": "sanction", "sanctions": [FINE, REFUND]}


def rejected(desk, case_id, trigger, who="leader", data=None, reason="理由", today=None) -> list[str]:
    with pytest.raises(TransitionRejected) as exc:
        desk.fire(case_id, trigger, who, data, reason, today)
    assert exc.value.kind == "guard_failed", exc.value.kind
    return [f.code for f in exc.value.failures]


def failure(desk, case_id, trigger, who="leader", data=None, reason="理由", today=None):
    with pytest.raises(TransitionRejected) as exc:
        desk.fire(case_id, trigger, who, data, reason, today)
    return exc.value.failures[0]


def outbox(desk, event_type):
    with desk.sessions() as s:
        rows = s.execute(text("SELECT body FROM outbox WHERE event_type = :t ORDER BY id"), {"t": event_type}).all()
    return [parse_event(r.body) for r in rows]


def later(desk, days):
    desk.today = desk.today + timedelta(days=days)


# ---- clue stage and 立案 -----------------------------------------------------------------------

def test_opening_needs_two_officers_with_credentials(desk):
    c = desk.new_case()
    desk.fire(c, "start_verification", "inspector")
    assert "officers_required" in rejected(desk, c, "open_case", data={"officers": OFFICERS[:1]})
    no_credential = [OFFICERS[0], {"id": "insp-b", "name": "李四", "credential_no": ""}]
    assert "officers_required" in rejected(desk, c, "open_case", data={"officers": no_credential})
    assert "officers_required" in rejected(desk, c, "open_case", data={"officers": [OFFICERS[0], OFFICERS[0]]})
    assert desk.fire(c, "open_case", "leader", {"officers": OFFICERS}) == "opened"
    assert {o.credential_no for o in desk.file(c).officers} == {"川医保执 001", "川医保执 002"}


def test_only_a_leader_opens_a_case(desk):
    c = desk.new_case()
    desk.fire(c, "start_verification", "inspector")
    with pytest.raises(TransitionRejected) as exc:
        desk.fire(c, "open_case", "inspector", {"officers": OFFICERS})
    assert exc.value.kind == "role_forbidden"


def test_opening_refused_when_limitation_expired(desk):
    c = desk.new_case(act_date=date(2023, 1, 10))
    desk.fire(c, "start_verification", "inspector")
    f = failure(desk, c, "open_case", data={"officers": OFFICERS})
    assert f.code == "limitation_expired" and "第36条" in f.zh
    # five years where life or health safety was involved and harm resulted
    assert desk.fire(c, "open_case", "leader", {"officers": OFFICERS, "health_harm": True}) == "opened"


def test_clue_verification_is_15_working_days_extended_once_by_leader(desk):
    c = desk.new_case()
    desk.fire(c, "start_verification", "inspector")
    dl = next(d for d in desk.file(c).deadlines if d.kind == "clue_verification")
    assert (dl.started_on, dl.due_on, dl.unit) == (date(2026, 3, 2), date(2026, 3, 23), "working_days")
    assert rejected(desk, c, "extend_verification", reason="") == ["reason_required"]
    desk.fire(c, "extend_verification", "leader", reason="涉及多家机构，情况复杂")
    dl = next(d for d in desk.file(c).deadlines if d.kind == "clue_verification")
    assert dl.due_on == date(2026, 4, 14) and dl.n == 30  # 30 working days; 清明 (Apr 6) not counted
    assert rejected(desk, c, "extend_verification", reason="再次延长") == ["already_extended"]
    with pytest.raises(TransitionRejected) as exc:
        desk.fire(c, "extend_verification", "inspector", reason="x")
    assert exc.value.kind == "role_forbidden"


def test_decline_requires_reason_and_stops_the_clock(desk):
    c = desk.new_case()
    desk.fire(c, "start_verification", "inspector")
    assert rejected(desk, c, "decline", reason="") == ["reason_required"]
    desk.fire(c, "decline", "leader", reason="证据不足")
    assert desk.state(c) == "not_opened"
    assert [d.status for d in desk.file(c).deadlines] == ["met"]


# ---- investigation ------------------------------------------------------------------------------

def test_suspension_pauses_clocks_and_resume_restores_them(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    desk.fire(c, "preserve_evidence", "leader", {"items": "住院病历 12 份"}, reason="可能灭失")
    before = next(d for d in desk.file(c).deadlines if d.kind == "preservation_decision").due_on
    decision_before = next(d for d in desk.file(c).deadlines if d.kind == "decision").due_on
    desk.fire(c, "suspend", "leader", reason="当事人下落不明")
    assert {d.status for d in desk.file(c).deadlines if d.kind in ("preservation_decision", "decision")} == {"paused"}
    later(desk, 14)  # two full weeks: 10 working days
    desk.fire(c, "resume", "leader", reason="中止情形消除")
    f = desk.file(c)
    assert {d.status for d in f.deadlines if d.kind in ("preservation_decision", "decision")} == {"running"}
    pres = next(d for d in f.deadlines if d.kind == "preservation_decision")
    assert pres.due_on == before + timedelta(days=14)  # 10 working days later, same weekday
    dec = next(d for d in f.deadlines if d.kind == "decision")
    assert dec.due_on == decision_before + timedelta(days=14)


def test_preservation_needs_decision_within_7_working_days(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    desk.fire(c, "preserve_evidence", "leader", {"items": "票据"}, reason="可能灭失")
    dl = next(d for d in desk.file(c).deadlines if d.kind == "preservation_decision")
    assert dl.due_on == date(2026, 3, 11)  # 7 working days after Wed 2026-03-04
    # the report waits for the preservation decision
    assert "preservation_pending" in rejected(desk, c, "submit_report", "inspector",
                                              {"proposal": "sanction", "sanctions": [FINE]})
    desk.fire(c, "decide_preservation", "inspector", {"measure": "seal"}, reason="予以封存")
    assert next(d for d in desk.file(c).deadlines if d.kind == "preservation_decision").status == "met"


def test_recusal_is_decided_by_a_leader_logged_and_keeps_two_officers(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    data = {"person": "insp-b", "capacity": "officer", "requested_by": "party", "granted": True}
    assert "officers_required" in rejected(desk, c, "recuse", data=data, reason="与当事人有利害关系")
    with pytest.raises(TransitionRejected) as exc:
        desk.fire(c, "recuse", "inspector", data, "自行回避")
    assert exc.value.kind == "role_forbidden"
    data["replacement"] = {"id": "insp-c", "name": "王五", "credential_no": "川医保执 003"}
    desk.fire(c, "recuse", "leader", data, "与当事人有利害关系")
    f = desk.file(c)
    assert {o.officer_id for o in f.active_officers()} == {"insp-a", "insp-c"}
    assert "insp-b" in f.investigators()  # a recused officer still investigated the case
    with desk.sessions() as s:
        r = s.execute(select(Recusal)).scalar_one()
        assert (r.person, r.requested_by, r.decided_by, r.granted) == ("insp-b", "party", "leader-a", True)
        assert s.execute(select(AuditEntry.action).where(AuditEntry.case_id == c)).scalars().all()[-1] == "recuse"
    # the recused officer may no longer act as an officer of the case
    assert "not_assigned_officer" in rejected(desk, c, "submit_report", PEOPLE["inspector2"],
                                              {"proposal": "sanction", "sanctions": [FINE]})


def test_terminated_investigation_releases_clocks_and_closes(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    desk.fire(c, "terminate", "leader", reason="当事人注销且无权利义务承受人")
    assert all(d.status in ("met", "cancelled") for d in desk.file(c).deadlines)
    desk.fire(c, "close_case", "leader")
    assert desk.state(c) == "closed"


# ---- report -------------------------------------------------------------------------------------

def test_no_sanction_proposal_needs_statutory_ground(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    assert "no_sanction_ground_required" in rejected(desk, c, "submit_report", "inspector", {"proposal": "no_sanction"})
    desk.fire(c, "submit_report", "inspector", {"proposal": "no_sanction", "no_sanction_ground": "first_minor_corrected"})
    desk.fire(c, "decide", "leader", {"decision": "no_sanction", "no_sanction_ground": "first_minor_corrected"})
    desk.fire(c, "serve", "inspector")
    desk.fire(c, "close_case", "leader")
    assert desk.state(c) == "closed"


def test_police_referral_behaviours_force_referral(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    data = {"proposal": "sanction", "sanctions": [FINE], "behaviours": ["organised_fake_admission"]}
    f = failure(desk, c, "submit_report", "inspector", data)
    assert f.code == "referral_mandatory" and "组织虚假住院" in f.zh
    desk.fire(c, "submit_report", "inspector", {"proposal": "referral", "referral_target": "police",
                                               "behaviours": ["organised_fake_admission"]})
    assert rejected(desk, c, "decide", data=DECIDE) == ["referral_mandatory"]
    desk.fire(c, "decide", "leader", {"decision": "referral", "referral_target": "police"})
    assert [s.kind for s in desk.file(c).stage("decided")] == ["refer_police"]


def test_proposed_sanction_outside_legal_range_rejected_with_range(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    f = failure(desk, c, "submit_report", "inspector",
                {"proposal": "sanction", "sanctions": [{**FINE, "amount": "500000"}]})
    assert f.code == "sanction_out_of_range"
    assert "1–2 倍" in f.zh and "120,000.00–240,000.00" in f.zh
    assert f.details["allowed"] == {"low": "120000.00", "high": "240000.00", "high_exclusive": False}


def test_one_act_one_fine(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    two_fines = [FINE, {"kind": "fine", "article": "40", "amount": "300000"}]
    assert "one_fine_per_act" in rejected(desk, c, "submit_report", "inspector",
                                          {"proposal": "sanction", "sanctions": two_fines})
    separate_acts = [FINE, {"kind": "fine", "article": "39", "amount": "20000", "act": "act-2"}]
    assert desk.fire(c, "submit_report", "inspector", {"proposal": "sanction", "sanctions": separate_acts}) == "reported"


# ---- legal review ---------------------------------------------------------------------------------

def test_reviewer_may_not_be_investigator(desk):
    c = desk.new_case()
    desk.to_reported(c)
    desk.fire(c, "submit_for_review", "inspector")
    reviewer_who_investigated = PEOPLE["legal_reviewer"].__class__("insp-a", "legal_reviewer", region="510100")
    assert rejected(desk, c, "pass_review", reviewer_who_investigated) == ["reviewer_is_investigator"]
    assert desk.fire(c, "pass_review", "legal_reviewer", reason="事实清楚") == "reviewed"


def test_decision_requires_passed_review_when_mandatory(desk):
    c = desk.new_case()
    desk.to_reported(c)  # 150,000 元 fine + 120,000 元 refund ≥ 100,000 元 (entity): mandatory
    f = failure(desk, c, "notify", "inspector")
    assert f.code == "legal_review_required" and f.details["reasons"] == ["amount"]
    assert "legal_review_required" in rejected(desk, c, "decide", data=DECIDE)
    desk.fire(c, "submit_for_review", "inspector")
    desk.fire(c, "return_review", "legal_reviewer", reason="证据不足，补充调查")
    assert desk.state(c) == "investigating"
    review = desk.file(c).reviews[0]
    assert (review.outcome, review.opinion) == ("returned", "证据不足，补充调查")


def test_small_case_needs_no_review(desk):
    c = desk.new_case(amount="3000.00")
    desk.to_reported(c, [{"kind": "fine", "article": "38", "amount": "4000"}])
    assert desk.fire(c, "notify", "inspector") == "notified"


def test_terminating_the_agreement_needs_a_passed_review(desk):
    c = desk.new_case(amount="3000.00")
    desk.to_investigating(c)
    f = failure(desk, c, "agreement_action", "leader", {"kind": "terminate_agreement"}, "骗保")
    assert f.code == "legal_review_required" and f.details["reasons"] == ["terminates_agreement"]


# ---- panel ---------------------------------------------------------------------------------------

def _panel(desk, c, members=MEMBERS):
    desk.to_reported(c, complex_case=True)
    desk.fire(c, "submit_for_review", "inspector")
    desk.fire(c, "pass_review", "legal_reviewer", reason="合法")
    desk.fire(c, "convene_panel", "leader", {"agenda": "某医院分解住院案裁量", "members": members})


def test_panel_required_for_complex_cases(desk):
    c = desk.new_case()
    desk.to_reported(c, complex_case=True)
    desk.fire(c, "submit_for_review", "inspector")
    desk.fire(c, "pass_review", "legal_reviewer", reason="合法")
    assert "panel_required" in rejected(desk, c, "notify", "inspector")


def test_panel_quorum_excludes_recused_members(desk):
    c = desk.new_case()
    _panel(desk, c, MEMBERS + ["panel-e"])
    desk.fire(c, "recuse", "leader", {"person": "panel-e", "capacity": "panel_member", "requested_by": "member"},
              "近亲属在该院任职")
    assert rejected(desk, c, "cast_vote", member("panel-e"), {"vote": "agree", "tier": "ordinary"}) == ["member_recused"]
    desk.fire(c, "cast_vote", member("panel-a"), {"vote": "agree", "tier": "ordinary"})
    desk.fire(c, "cast_vote", member("panel-b"), {"vote": "agree", "tier": "ordinary"})
    assert rejected(desk, c, "cast_vote", member("panel-b"), {"vote": "agree", "tier": "ordinary"}) == ["already_voted"]
    # 4 eligible members → quorum ⌈2/3 × 4⌉ = 3 (the recused fifth is not counted either way)
    result = {"tier": "ordinary", "sanctions": [FINE, REFUND]}
    f = failure(desk, c, "conclude_panel", data=result)
    assert f.code == "quorum_not_met" and f.details == {"members": 5, "recused": 1, "present": 2}
    desk.fire(c, "cast_vote", member("panel-c"), {"vote": "agree", "tier": "lenient"})
    assert desk.fire(c, "conclude_panel", "leader", result) == "discussed"
    f = desk.file(c)
    assert f.panel.result_tier == "ordinary" and [v.vote for v in f.votes] == ["agree", "agree", "agree", None, None]


def test_panel_tier_needs_majority_and_sanction_inside_tier_range(desk):
    c = desk.new_case()
    _panel(desk, c)
    for m, tier in (("panel-a", "lenient"), ("panel-b", "lenient"), ("panel-c", "lenient"), ("panel-d", "severe")):
        desk.fire(c, "cast_vote", member(m), {"vote": "agree", "tier": tier})
    assert rejected(desk, c, "conclude_panel", data={"tier": "severe", "sanctions": [FINE]}) == ["no_majority"]
    f = failure(desk, c, "conclude_panel", data={"tier": "lenient", "sanctions": [{**FINE, "amount": "200000"}]})
    assert f.code == "sanction_out_of_range" and "从轻档" in f.zh and "120,000.00–180,000.00" in f.zh
    assert desk.fire(c, "conclude_panel", "leader", {"tier": "lenient", "sanctions": [FINE, REFUND]}) == "discussed"


def test_investigator_may_not_sit_on_the_panel(desk):
    c = desk.new_case()
    desk.to_reported(c, complex_case=True)
    desk.fire(c, "submit_for_review", "inspector")
    desk.fire(c, "pass_review", "legal_reviewer", reason="合法")
    assert rejected(desk, c, "convene_panel", data={"agenda": "x", "members": ["insp-a", "panel-a", "panel-b"]}) \
        == ["member_is_investigator"]


# ---- notice, defence, hearing ----------------------------------------------------------------------

def test_no_decision_without_prior_notice_unless_waived(desk):
    c = desk.new_case(amount="3000.00")
    small = [{"kind": "fine", "article": "38", "amount": "4000"}]
    desk.to_reported(c, small)
    assert rejected(desk, c, "decide", data={"decision": "sanction", "sanctions": small}) == ["prior_notice_required"]
    desk.fire(c, "notify", "inspector")
    # the defence window (5 working days) is open and the party has not waived it
    assert rejected(desk, c, "decide", data={"decision": "sanction", "sanctions": small}) == ["defence_window_open"]
    desk.fire(c, "waive_rights", "institution")
    assert desk.fire(c, "decide", "leader", {"decision": "sanction", "sanctions": small}) == "decided"


def test_decision_after_the_defence_window_without_waiver(desk):
    c = desk.new_case(amount="3000.00")
    small = [{"kind": "fine", "article": "38", "amount": "4000"}]
    desk.to_reported(c, small)
    desk.fire(c, "notify", "inspector")
    later(desk, 8)  # Tue 2026-03-10: 6 working days after the notice
    assert desk.fire(c, "decide", "leader", {"decision": "sanction", "sanctions": small}) == "decided"


def test_defence_never_raises_sanction(desk):
    c = desk.new_case()
    desk.to_notified(c)
    desk.fire(c, "file_defence", "institution", reason="已主动退回部分费用")
    assert rejected(desk, c, "decide", data=DECIDE) == ["defence_not_rechecked"]
    desk.fire(c, "recheck_defence", "inspector", {"adopted": True}, reason="部分采纳")
    heavier = {"decision": "sanction", "sanctions": [{**FINE, "amount": "200000"}, REFUND]}
    f = failure(desk, c, "decide", data=heavier)
    assert f.code == "defence_aggravates" and "第45条" in f.zh
    added = {"decision": "sanction", "sanctions": [FINE, REFUND, {"kind": "department_suspension", "article": "38", "months": 6}]}
    assert rejected(desk, c, "decide", data=added) == ["defence_aggravates"]
    lighter = {"decision": "sanction", "sanctions": [{**FINE, "amount": "130000"}, REFUND]}
    assert desk.fire(c, "decide", "leader", lighter) == "decided"


def test_defence_after_window_rejected_with_window(desk):
    c = desk.new_case()
    desk.to_notified(c)  # notice served Mon 2026-03-02
    f = failure(desk, c, "file_defence", "institution", reason="申辩", today=date(2026, 3, 10))
    assert f.code == "defence_window_closed" and f.details["window_ends_on"] == "2026-03-09"
    assert "2026-03-09" in f.zh and "2026-03-09" in f.en


def test_only_the_institution_concerned_files_its_defence(desk):
    c = desk.new_case()
    desk.to_notified(c)
    with desk.sessions() as s:
        from fundguard_cases import service
        assert service.get_case(s, c, PEOPLE["other_institution"]) is None  # outside scope: 404
    with pytest.raises(TransitionRejected) as exc:
        desk.fire(c, "file_defence", "inspector", reason="代为申辩")
    assert exc.value.kind == "role_forbidden"


def test_hearing_request_after_5_working_days_rejected(desk):
    c = desk.new_case()
    desk.to_notified(c)  # Mon 2026-03-02; 5 working days → Mon 2026-03-09
    f = failure(desk, c, "request_hearing", "institution", today=date(2026, 3, 10))
    assert f.code == "hearing_request_late" and f.details["window_ends_on"] == "2026-03-09"
    assert desk.fire(c, "request_hearing", "institution", today=date(2026, 3, 9)) == "hearing_requested"


def test_hearing_only_offered_above_threshold(desk):
    c = desk.new_case(amount="3000.00")
    desk.to_reported(c, [{"kind": "fine", "article": "38", "amount": "4000"}])
    desk.fire(c, "notify", "inspector")
    assert desk.file(c).details.hearing_offered is False
    assert rejected(desk, c, "request_hearing", "institution") == ["hearing_not_available"]


def test_hearing_notice_seven_working_days_ahead_and_chair_not_investigator(desk):
    c = desk.new_case()
    desk.to_notified(c)
    desk.fire(c, "request_hearing", "institution")
    too_soon = {"hearing_on": "2026-03-10", "chair": "legal-b"}
    f = failure(desk, c, "schedule_hearing", "inspector", too_soon)
    assert f.code == "hearing_notice_too_short" and f.details["earliest_hearing_on"] == "2026-03-11"
    assert rejected(desk, c, "schedule_hearing", "inspector", {"hearing_on": "2026-03-11", "chair": "insp-b"}) \
        == ["chair_is_investigator"]
    assert desk.fire(c, "schedule_hearing", "inspector", {"hearing_on": "2026-03-11", "chair": "legal-b"}) \
        == "hearing_scheduled"
    assert rejected(desk, c, "hold_hearing", "inspector") == ["hearing_not_yet"]


def test_hearing_no_show_counts_as_waiver(desk):
    c = desk.new_case()
    desk.to_notified(c)
    desk.fire(c, "request_hearing", "institution")
    with pytest.raises(TransitionRejected) as exc:  # no decision while the hearing is pending
        desk.fire(c, "decide", "leader", DECIDE)
    assert exc.value.kind == "invalid_transition"
    desk.fire(c, "schedule_hearing", "inspector", {"hearing_on": "2026-03-11", "chair": "legal-b"})
    desk.today = date(2026, 3, 11)
    assert desk.fire(c, "hearing_no_show", "inspector") == "notified"
    assert desk.fire(c, "decide", "leader", DECIDE) == "decided"


def test_second_legal_review_required_after_hearing(desk):
    c = desk.new_case()
    desk.to_notified(c)
    desk.fire(c, "request_hearing", "institution")
    desk.fire(c, "schedule_hearing", "inspector", {"hearing_on": "2026-03-11", "chair": "legal-b"})
    desk.today = date(2026, 3, 11)
    desk.fire(c, "hold_hearing", "inspector", reason="听证笔录已签字")
    f = failure(desk, c, "decide", data=DECIDE)
    assert f.code == "legal_review_required" and f.details["after_hearing"] is True
    desk.fire(c, "submit_for_review", "inspector")
    desk.fire(c, "pass_review", "legal_reviewer", reason="听证后复审通过")
    assert desk.file(c).reviews[-1].after_hearing is True
    assert desk.fire(c, "decide", "leader", DECIDE) == "decided"
    # the hearing time is not counted in the 90-day limit
    pauses = desk.file(c).pauses
    assert [(p.kind, p.started_on, p.ended_on) for p in pauses] == [("hearing", date(2026, 3, 2), date(2026, 3, 11))]


# ---- decision time limit -----------------------------------------------------------------------------

def test_decision_within_90_days_then_leader_30_then_only_panel(desk):
    c = desk.new_case(amount="3000.00")
    small = {"decision": "sanction", "sanctions": [{"kind": "fine", "article": "38", "amount": "4000"}]}
    desk.to_reported(c, small["sanctions"])  # opened 2026-03-02 → 90 days: 2026-05-31
    desk.fire(c, "notify", "inspector")
    desk.fire(c, "waive_rights", "institution")
    f = failure(desk, c, "decide", data=small, today=date(2026, 6, 1))
    assert f.code == "decision_time_limit_passed" and f.details["deadline"] == "2026-05-31"
    desk.fire(c, "extend_decision_deadline", "leader", {"approved_by": "leader"}, "案情复杂", today=date(2026, 5, 20))
    assert rejected(desk, c, "extend_decision_deadline", data={"approved_by": "leader"}) == ["extension_not_allowed"]
    assert rejected(desk, c, "extend_decision_deadline", data={"approved_by": "panel", "new_deadline": "2026-08-30"}) \
        == ["invalid_data"]  # the panel's minutes are required
    desk.fire(c, "extend_decision_deadline", "leader",
              {"approved_by": "panel", "new_deadline": "2026-08-30", "minutes": "集体讨论纪要"}, "鉴定未完成")
    assert next(d for d in desk.file(c).deadlines if d.kind == "decision").due_on == date(2026, 8, 30)
    assert desk.fire(c, "decide", "leader", small, today=date(2026, 8, 1)) == "decided"


# ---- simplified procedure ----------------------------------------------------------------------------

def test_simplified_procedure_only_for_warning_or_small_fine(desk):
    c = desk.new_case(amount="1000.00", party_type="individual")
    desk.to_investigating(c)
    too_big = {"sanctions": [{"kind": "settlement_suspension", "article": "41(1)", "months": 3}]}
    assert rejected(desk, c, "decide_simplified", "inspector", too_big) == ["simplified_not_allowed"]
    c2 = desk.new_case(amount="3000.00")
    desk.to_investigating(c2)
    f = failure(desk, c2, "decide_simplified", "inspector",
                {"sanctions": [{"kind": "fine", "article": "38", "amount": "3500"}]})
    assert f.code == "simplified_not_allowed" and f.details["limit"] == "3000"
    assert desk.fire(c2, "decide_simplified", "inspector",
                     {"sanctions": [{"kind": "fine", "article": "38", "amount": "3000"}]}) == "decided"
    assert desk.file(c2).details.procedure == "simplified"


# ---- service, enforcement, closure -----------------------------------------------------------------------

def test_payment_due_in_15_days_with_surcharge_before_closing(desk):
    c = desk.new_case(amount="3000.00")
    small = [{"kind": "fine", "article": "38", "amount": "4000"}, {"kind": "order_refund", "article": "38", "amount": "3000"}]
    desk.to_reported(c, small)
    desk.fire(c, "notify", "inspector")
    desk.fire(c, "waive_rights", "institution")
    desk.fire(c, "decide", "leader", {"decision": "sanction", "sanctions": small})
    service_dl = next(d for d in desk.file(c).deadlines if d.kind == "service")
    assert service_dl.due_on == date(2026, 3, 11)  # 7 working days
    desk.fire(c, "serve", "inspector")
    assert rejected(desk, c, "close_case") == ["not_executed"]
    desk.fire(c, "start_enforcement", "inspector")
    pay = next(d for d in desk.file(c).deadlines if d.kind == "payment")
    assert pay.due_on == date(2026, 3, 17)  # 15 calendar days
    desk.today = date(2026, 3, 27)  # 10 days late: 3 % × 10 = 30 % of 4,000 = 1,200 元
    desk.fire(c, "record_payment", "inspector", {"kind": "fine", "amount": "4000"})
    desk.fire(c, "record_payment", "inspector", {"kind": "recovery", "amount": "3000"})
    f = failure(desk, c, "close_case")
    assert f.code == "not_executed" and f.details["outstanding"] == {"surcharge": "1200.00"}
    desk.fire(c, "record_payment", "inspector", {"kind": "surcharge", "amount": "1200"})
    assert desk.fire(c, "close_case", "leader") == "closed"


def test_court_enforcement_application_allows_closing(desk):
    c = desk.new_case(amount="3000.00")
    small = [{"kind": "fine", "article": "38", "amount": "4000"}]
    desk.to_reported(c, small)
    desk.fire(c, "notify", "inspector")
    desk.fire(c, "waive_rights", "institution")
    desk.fire(c, "decide", "leader", {"decision": "sanction", "sanctions": small})
    desk.fire(c, "serve", "inspector")
    desk.fire(c, "start_enforcement", "inspector")
    desk.fire(c, "apply_court_enforcement", "leader", reason="逾期不缴纳")
    assert desk.fire(c, "close_case", "leader") == "closed"


# ---- appeals -------------------------------------------------------------------------------------------

def _served(desk, c):
    desk.to_notified(c)
    desk.fire(c, "waive_rights", "institution")
    desk.fire(c, "decide", "leader", DECIDE)
    desk.fire(c, "serve", "inspector")


def test_appeal_filed_outside_window_rejected_with_window(desk):
    c = desk.new_case()
    _served(desk, c)  # served 2026-03-02: 复议 within 60 days → 2026-05-01 is a holiday → 2026-05-06
    f = failure(desk, c, "file_appeal", "institution", {"kind": "administrative_review"}, today=date(2026, 5, 7))
    assert f.code == "appeal_out_of_window" and f.details["window_ends_on"] == "2026-05-06"
    assert "2026-05-06" in f.zh
    desk.fire(c, "file_appeal", "institution", {"kind": "administrative_review", "grounds": "罚款过重"},
              today=date(2026, 5, 6))
    a = desk.file(c).appeals[0]
    assert (a.kind, a.window_ends_on) == ("administrative_review", date(2026, 5, 6))
    # litigation: 6 months
    assert desk.fire(c, "file_appeal", "institution", {"kind": "litigation"}, today=date(2026, 9, 2)) == "served"
    assert rejected(desk, c, "file_appeal", "institution", {"kind": "litigation"}, today=date(2026, 9, 3)) \
        == ["appeal_out_of_window"]


def test_administrative_review_may_not_worsen(desk):
    c = desk.new_case()
    _served(desk, c)
    desk.fire(c, "file_appeal", "institution", {"kind": "administrative_review"})
    appeal_id = desk.file(c).appeals[0].id
    worse = {"appeal_id": appeal_id, "outcome": "changed", "sanctions": [{**FINE, "amount": "200000"}, REFUND]}
    assert rejected(desk, c, "record_appeal_outcome", data=worse) == ["reformatio_in_peius"]
    better = {"appeal_id": appeal_id, "outcome": "changed", "sanctions": [{**FINE, "amount": "125000"}, REFUND]}
    desk.fire(c, "record_appeal_outcome", "leader", better)
    f = desk.file(c)
    assert sorted(str(s.amount) for s in f.stage("decided")) == ["120000.00", "125000.00"]
    assert f.appeals[0].outcome == "changed"
    assert len([s for s in f.sanctions if s.stage == "decided" and not s.current]) == 2  # history kept


def test_appeal_annulment_cancels_the_decision(desk):
    c = desk.new_case()
    _served(desk, c)
    desk.fire(c, "file_appeal", "institution", {"kind": "litigation"})
    desk.fire(c, "record_appeal_outcome", "leader", {"appeal_id": desk.file(c).appeals[0].id, "outcome": "annulled"})
    f = desk.file(c)
    assert f.stage("decided") == [] and f.details.decision_kind == "annulled"
    assert desk.fire(c, "close_case", "leader") == "closed"
    events = outbox(desk, "sanction.decided")
    assert [e.payload["cause"] for e in events][-2:] == ["appeal_annulled", "appeal_annulled"]


# ---- agreement track and events --------------------------------------------------------------------------

def test_agreement_track_talk_notice_suspension_termination_and_referral_reachable(desk):
    c = desk.new_case()
    desk.to_investigating(c)
    desk.fire(c, "agreement_action", "leader", {"kind": "interview"}, "约谈法定代表人")
    desk.fire(c, "agreement_action", "leader", {"kind": "criticism"}, "通报批评")
    desk.fire(c, "agreement_action", "leader", {"kind": "suspend_payment", "months": 3}, "暂停拨付")
    desk.fire(c, "submit_report", "inspector", {"proposal": "referral", "referral_target": "police",
                                               "behaviours": ["forged_documents"]})
    desk.fire(c, "submit_for_review", "inspector")
    desk.fire(c, "pass_review", "legal_reviewer", reason="同意移送")
    desk.fire(c, "agreement_action", "leader", {"kind": "terminate_agreement"}, "骗取医保基金，解除服务协议")
    desk.fire(c, "decide", "leader", {"decision": "referral", "referral_target": "police"})
    kinds = {e.payload["kind"] for e in outbox(desk, "sanction.decided")}
    assert kinds == {"interview", "criticism", "suspend_payment", "terminate_agreement", "refer_police"}


def test_decided_sanction_emits_event_with_registered_schema(desk):
    c = desk.new_case()
    _served(desk, c)
    events = outbox(desk, "sanction.decided")  # parse_event validated each against its schema
    assert {(e.payload["kind"], str(e.payload["amount"])) for e in events} == {("fine", "150000.00"),
                                                                               ("order_refund", "120000.00")}
    assert all(e.subject == f"sanction:{c}" and e.payload["cause"] == "decision" for e in events)
    # the case subject keeps a gap-free sequence for the ordered case.# consumers
    with desk.sessions() as s:
        seqs = [r.sequence for r in s.execute(text("SELECT sequence FROM outbox WHERE subject = :s ORDER BY id"),
                                              {"s": f"case:{c}"})]
    assert seqs == list(range(1, len(seqs) + 1))


# ---- deadlines ------------------------------------------------------------------------------------------

def test_deadline_in_unloaded_year_is_marked_not_guessed(desk):
    desk.today = date(2026, 12, 14)
    c = desk.new_case(act_date=date(2026, 11, 1))
    desk.fire(c, "start_verification", "inspector")  # 15 working days run into 2027
    dl = next(d for d in desk.file(c).deadlines if d.kind == "clue_verification")
    assert dl.status == "calendar_not_loaded" and dl.due_on is None
    assert "calendar for 2027 not loaded" in dl.note
    table = {"year": 2027, "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"], "workdays": [],
             "source": "国务院办公厅关于2027年部分节假日安排的通知（测试）"}
    with desk.sessions() as s, s.begin():
        deadlines.load_calendar_year(s, json.dumps(table), "admin")
    with desk.sessions() as s, s.begin():
        counts = deadlines.tick(s, desk.today)
    assert counts["calendar_resolved"] == 1
    dl = next(d for d in desk.file(c).deadlines if d.kind == "clue_verification")
    assert (dl.status, dl.due_on) == ("running", date(2027, 1, 5))


def test_tick_marks_due_soon_and_overdue_and_emits_events(desk):
    c = desk.new_case()
    desk.fire(c, "start_verification", "inspector")  # due 2026-03-23
    with desk.sessions() as s, s.begin():
        assert deadlines.tick(s, date(2026, 3, 10))["due_soon"] == 0
    with desk.sessions() as s, s.begin():
        assert deadlines.tick(s, date(2026, 3, 21))["due_soon"] == 1
    with desk.sessions() as s, s.begin():
        assert deadlines.tick(s, date(2026, 3, 22)) == {"due_soon": 0, "overdue": 0, "calendar_resolved": 0}
    with desk.sessions() as s, s.begin():
        assert deadlines.tick(s, date(2026, 3, 24))["overdue"] == 1
    with desk.sessions() as s, s.begin():
        assert deadlines.tick(s, date(2026, 3, 25))["overdue"] == 0  # once
    assert [e.payload["kind"] for e in outbox(desk, "deadline.due_soon")] == ["clue_verification"]
    overdue = outbox(desk, "deadline.overdue")
    assert [(e.payload["kind"], str(e.payload["due_on"])) for e in overdue] == [("clue_verification", "2026-03-23")]
    # opening the case late still stops the clock, marked as met late
    desk.fire(c, "open_case", "leader", {"officers": OFFICERS}, today=date(2026, 3, 25))
    assert next(d for d in desk.file(c).deadlines if d.kind == "clue_verification").status == "met_late"


# ---- nothing changes on rejection --------------------------------------------------------------------------

def test_rejected_transition_changes_nothing(desk):
    c = desk.new_case()
    desk.to_reported(c)
    with desk.sessions() as s:
        before = (s.get(Case, c).version, s.execute(select(AuditEntry).where(AuditEntry.case_id == c)).all().__len__(),
                  s.execute(select(Deadline)).all().__len__())
    rejected(desk, c, "decide", data=DECIDE)
    with desk.sessions() as s:
        after = (s.get(Case, c).version, s.execute(select(AuditEntry).where(AuditEntry.case_id == c)).all().__len__(),
                 s.execute(select(Deadline)).all().__len__())
        assert audit.verify(s, c).ok
    assert before == after and desk.state(c) == "reported"
