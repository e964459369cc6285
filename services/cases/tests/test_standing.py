"""Institution standing projected from sanction.decided: 签约 / 中止 / 解除 with dates and reason,
active suspensions, re-application bans after 解除 (points/config.py, [U] 令第2号), history;
in_force=false (appeal annulled/changed) takes a sanction back out."""
from __future__ import annotations

import uuid
from datetime import date

from test_points_kit import project, served_case

INST = "H5101001"


def _standing(sessions, on, institution=INST):
    from fundguard_cases.points import standing
    with sessions() as s:
        return standing.standing(s, institution, on)


def _event(sessions, kind, decided_on, in_force=True, sanction_id=None, months=None, cause="agreement"):
    from fundguard_cases.points import standing
    sid = sanction_id or str(uuid.uuid4())
    payload = {"sanction_id": sid, "case_id": "c-1", "case_number": "510100-2026-0001", "institution_id": INST,
               "institution_name": "成都某某医院", "party_type": "entity", "region": "510100", "department": "稽核一科",
               "track": "agreement", "kind": kind, "article": "agreement", "amount": None, "months": months,
               "years": None, "tier": None, "decided_on": decided_on, "cause": cause, "in_force": in_force}
    with sessions() as s, s.begin():
        standing.apply_event(s, str(uuid.uuid4()), payload)
    return sid


def test_unknown_institution_has_no_standing(sessions):
    assert _standing(sessions, date(2026, 3, 2)) is None


def test_agreement_suspension_is_active_for_its_months_then_signed_again(desk, sessions):
    c = desk.new_case()
    desk.to_investigating(c)
    desk.fire(c, "agreement_action", "leader", {"kind": "suspend_agreement", "months": 3}, reason="中止服务协议")
    desk.fire(c, "agreement_action", "leader", {"kind": "suspend_payment", "months": 2}, reason="暂停拨付")
    assert project(sessions) == 2
    st = _standing(sessions, date(2026, 4, 1))
    assert (st["agreement_status"], st["agreement_status_label"], st["status_since"]) == ("suspended", "中止", "2026-03-02")
    assert [(x["kind"], x["ends_on"]) for x in st["active_suspensions"]] == [
        ("suspend_agreement", "2026-06-02"), ("suspend_payment", "2026-05-02")]
    later = _standing(sessions, date(2026, 6, 2))
    assert (later["agreement_status"], later["active_suspensions"]) == ("signed", [])
    assert len(later["history"]) == 2


def test_termination_bans_reapplication_for_the_configured_years(sessions):
    _event(sessions, "terminate_agreement", date(2026, 3, 2))
    st = _standing(sessions, date(2026, 3, 2))
    assert (st["agreement_status"], st["agreement_status_label"], st["reapplication_banned_until"]) == \
        ("terminated", "解除", "2029-03-02")
    assert _standing(sessions, date(2029, 3, 2))["reapplication_banned_until"] is None
    assert _standing(sessions, date(2026, 3, 1))["agreement_status"] == "signed"


def test_annulled_sanction_leaves_the_standing(sessions):
    sid = _event(sessions, "terminate_agreement", date(2026, 3, 2))
    _event(sessions, "terminate_agreement", date(2026, 5, 2), in_force=False, sanction_id=sid, cause="appeal_annulled")
    st = _standing(sessions, date(2026, 6, 1))
    assert st["agreement_status"] == "signed" and st["reapplication_banned_until"] is None
    assert all(h["withdrawn"] for h in st["history"])


def test_penalty_decisions_appear_in_the_history(desk, sessions):
    case_id, decided = served_case(desk)
    project(sessions)
    st = _standing(sessions, date(2026, 3, 3))
    assert st["agreement_status"] == "signed"
    assert {h["kind"] for h in st["history"]} == {"fine", "order_refund"}
    assert project(sessions) == 0
