"""The rule table (notices.toml): which event tells whom what. Pure: no database, no Flask."""
from __future__ import annotations

import tomllib
import uuid
from datetime import date, datetime, timezone

import pytest

from fundguard_notify.rules import PACKAGED_RULES, RuleBook
from fundguard_shared.events import Event
from notify_testkit import (DEPT, INST, REGION, WINDOWS, deadline_payload, opened, raw_event,
                            sanction_payload, transitioned)

BOOK = RuleBook.load()


def by_role(notices):
    return {(n.role, n.user): n for n in notices}


def test_case_opened_tells_region_leaders_and_department_inspectors():
    notices = BOOK.notices_for(opened())
    assert {(n.role, n.region, n.department) for n in notices} == {
        ("leader", REGION, None), ("inspector", REGION, DEPT)}
    assert all(n.kind == "clue_registered" and "1234.50" in n.body for n in notices)


def test_prior_notice_goes_to_institution_with_rights_and_the_windows_the_event_carries():
    notices = by_role(BOOK.notices_for(transitioned("notify", "reviewed", "notified", windows=WINDOWS)))
    prior = notices[("institution", None)]
    assert prior.kind == "prior_notice" and prior.institution_id == INST
    for words in ("陈述", "申辩", "听证", "不会导致加重处罚", "第六十四条",
                  "之日起 3 个工作日内提出陈述、申辩", "之日起 5 个工作日内提出"):
        assert words in prior.body, words
    assert prior.webhook is True
    # the case's inspectors see the state change, not the letter to the party
    assert notices[("inspector", None)].kind == "case_notified"


def test_prior_notice_prints_the_dates_the_event_carries():
    base = transitioned("notify", "reviewed", "notified")
    event = Event(**{**base.__dict__, "payload": {**base.payload,
                                                  "defence_due_on": "2026-06-08",
                                                  "hearing_request_due_on": "2026-06-08"}})
    prior = by_role(BOOK.notices_for(event))[("institution", None)]
    assert "陈述、申辩期限：2026年6月8日 前（以告知书载明的期限为准）" in prior.body
    assert "听证申请期限：2026年6月8日 前" in prior.body


def test_hearing_no_show_back_to_notified_sends_no_second_prior_notice():
    notices = BOOK.notices_for(transitioned("hearing_no_show", "hearing_scheduled", "notified"))
    assert "prior_notice" not in {n.kind for n in notices}


def test_hearing_scheduled_tells_institution_the_date_when_known():
    base = transitioned("schedule_hearing", "hearing_requested", "hearing_scheduled")
    plain = by_role(BOOK.notices_for(base))[("institution", None)]
    assert "《听证通知书》载明的时间" in plain.body and "一至二人代理" in plain.body
    dated = Event(**{**base.__dict__, "payload": {**base.payload,
                                                  "hearing_at": "2026-06-20T09:30:00+08:00",
                                                  "hearing_place": "市医保局三楼听证室"}})
    body = by_role(BOOK.notices_for(dated))[("institution", None)].body
    assert "2026年6月20日 09:30" in body and "市医保局三楼听证室" in body


def test_decision_names_both_appeal_routes_and_their_deadlines():
    decision = by_role(BOOK.notices_for(transitioned("decide", "notified", "decided", windows=WINDOWS)))[
        ("institution", None)]
    assert "行政复议" in decision.body and "60 日" in decision.body
    assert "行政诉讼" in decision.body and "6 个月" in decision.body
    assert "不停止执行" in decision.body


def test_fine_decided_tells_institution_amount_and_payment_deadline():
    notices = BOOK.notices_for(raw_event("sanction.decided", sanction_payload(windows=WINDOWS)))
    due = by_role(notices)[("institution", None)]
    assert due.kind == "payment_due"
    assert "罚款 24690.00 元" in due.title and "15 日内" in due.body and "3%" in due.body


def test_suspension_started_tells_institution_and_leader():
    notices = BOOK.notices_for(raw_event("sanction.decided", sanction_payload(
        track="agreement", kind="suspend_payment", article="agreement", amount=None,
        months=3)))
    assert {(n.role, n.kind) for n in notices} == {("institution", "suspension_started"),
                                                   ("leader", "suspension_started")}
    assert "暂停拨付" in notices[0].body and "3 个月" in notices[0].body


def test_appeal_received_acknowledges_the_filing_user_personally():
    notices = by_role(BOOK.notices_for(transitioned(
        "file_appeal", "served", "served", actor="inst-user-7")))
    assert notices[("institution", "inst-user-7")].kind == "appeal_received"
    assert ("leader", None) in notices and ("inspector", None) in notices


def test_appeal_decided_tells_institution_and_staff():
    notices = BOOK.notices_for(transitioned("record_appeal_outcome", "enforcing", "enforcing",
                                            reason="复议维持原决定"))
    assert {n.role for n in notices} == {"institution", "leader", "inspector"}
    assert all("复议维持原决定" in n.body for n in notices)


def test_record_step_without_a_rule_tells_nobody():
    assert BOOK.notices_for(transitioned("cast_vote", "panel", "panel")) == []


def test_unknown_state_still_tells_the_case_inspectors():
    notices = BOOK.notices_for(transitioned("escalate", "reported", "sanction_review"))
    assert [(n.role, n.kind) for n in notices] == [("inspector", "case_sanction_review")]
    assert "sanction_review" in notices[0].body


def test_event_type_without_rule_tells_nobody():
    assert BOOK.notices_for(raw_event("inspection.plan_approved", {"plan_id": "p1"})) == []


def test_overdue_deadline_escalates_to_leader_and_reminds_party_to_pay():
    notices = BOOK.notices_for(raw_event("deadline.overdue", deadline_payload("payment")))
    kinds = {(n.role, n.kind) for n in notices}
    assert ("leader", "deadline_overdue") in kinds and ("institution", "payment_overdue") in kinds


def test_internal_deadline_reminder_stays_with_staff():
    notices = BOOK.notices_for(raw_event("deadline.due_soon",
                                         deadline_payload("legal_review", label="法制审核")))
    assert {n.role for n in notices} == {"inspector"}


def test_points_and_complaints_tell_without_identities():
    points = BOOK.notices_for(raw_event("points.scored", {
        "person_id": "p-1", "institution_id": INST, "region": REGION, "points": 3,
        "year": 2026, "year_points": 7, "case_number": "X-1"}))
    assert {n.role for n in points} == {"institution", "leader"} and "累计 7 分" in points[0].body
    complaint = BOOK.notices_for(raw_event("complaint.accepted", {
        "complaint_id": "c1", "region": REGION, "department": DEPT}))
    assert {n.role for n in complaint} == {"inspector", "leader"}
    assert "举报人信息依法保密" in complaint[0].body


def test_a_new_state_is_configuration_not_code():
    with open(PACKAGED_RULES, "rb") as fh:
        doc = tomllib.load(fh)
    doc["rule"].append({"event": "case.transitioned", "when": {"to_state": "sanction_review"},
                        "notice": "sanction_review", "to": ["leader"]})
    doc["notice"]["sanction_review"] = {"title": "处罚复核 {{ case_number }}",
                                        "body": "请复核案件 {{ case_number }}。"}
    book = RuleBook(doc)
    notices = by_role(book.notices_for(transitioned("escalate", "reported", "sanction_review")))
    assert notices[("leader", None)].title.startswith("处罚复核")


@pytest.mark.parametrize("bad, message", [
    ({"event": "case.opened", "notice": "nope", "to": ["leader"]}, "unknown notice"),
    ({"event": "case.opened", "notice": "clue_registered", "to": ["mayor"]}, "unknown role"),
    ({"event": "case.opened", "notice": "clue_registered", "to": ["leader"], "whom": 1},
     "unknown keys"),
])
def test_rule_table_refuses_defects_at_load(bad, message):
    with open(PACKAGED_RULES, "rb") as fh:
        doc = tomllib.load(fh)
    doc["rule"].append(bad)
    with pytest.raises(ValueError, match=message):
        RuleBook(doc)


def test_template_defect_does_not_lose_the_notice():
    with open(PACKAGED_RULES, "rb") as fh:
        doc = tomllib.load(fh)
    doc["notice"]["clue_registered"]["body"] = "{{ amount | no_such_filter }}"
    with pytest.raises(Exception):
        RuleBook(doc)  # unknown filters are caught when the table loads ...
    doc["notice"]["clue_registered"]["body"] = "{{ amount.real.imag() }}"
    notices = RuleBook(doc).notices_for(opened())  # ... a failing render yields a fallback
    assert len(notices) == 2 and "渲染失败" in notices[0].body


def test_actor_audience_ignores_system_actors():
    event = Event(id=str(uuid.uuid4()), type="case.transitioned", version=1,
                  occurred_at=datetime.now(timezone.utc), producer="cases", correlation_id="c",
                  subject="case:1", sequence=2, actor="system",
                  payload=transitioned("file_appeal", "served", "served").payload)
    assert all(n.user is None for n in BOOK.notices_for(event))


def _complaint_event(event_type, **payload):
    from fundguard_shared.events import make_event, parse_event
    base = {"complaint_id": str(uuid.uuid4()), "region": REGION, "department": DEPT}
    return parse_event(make_event(event_type, base | payload, subject=f"complaint:{base['complaint_id']}",
                                  sequence=1, producer="inspection", actor="insp-a").to_json())


def test_real_name_complaint_decision_tells_handlers_the_informant_notice_deadline():
    event = _complaint_event("complaint.decided", accepted=True, decided_on=date(2026, 6, 1),
                             real_name=True, informant_notice_due=date(2026, 6, 8))
    notices = BOOK.notices_for(event)
    assert {(n.role, n.region, n.department) for n in notices} == {("inspector", REGION, DEPT)}
    assert "2026-06-08" in notices[0].body and "举报处理暂行办法" in notices[0].body
    anonymous = _complaint_event("complaint.decided", accepted=True, decided_on=date(2026, 6, 1),
                                 real_name=False)
    assert BOOK.notices_for(anonymous) == []


def test_new_complaint_tells_handlers_without_informant_identity():
    event = _complaint_event("complaint.received", channel="phone", real_name=True,
                             institution_id=INST, received_on=date(2026, 6, 1),
                             acceptance_due=date(2026, 6, 22))
    notices = BOOK.notices_for(event)
    assert {n.role for n in notices} == {"inspector", "leader"}
    assert all("2026-06-22" in n.body and not n.webhook for n in notices)
