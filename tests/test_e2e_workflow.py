"""One case from finding to closed through the real processes (HTTP + bus + workers), on the
embedded backend and on PostgreSQL + RabbitMQ: 立案 with two officers, investigation report,
legal review by a non-investigator, prior notice, waiver, decision, service, payment, closure;
the audit chain verifies, the sanction event is in the outbox, the dashboard sees the amounts."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.helpers import case_for_finding, record_finding

pytestmark = pytest.mark.platform

OFFICERS = [{"id": "insp-a", "name": "张三", "credential_no": "川医保执 001"},
            {"id": "insp-b", "name": "李四", "credential_no": "川医保执 002"}]


def _step(platform, token, case, trigger, data=None, reason="依法办理", status=200):
    r = platform.call("POST", "cases", f"/api/v1/cases/{case['id']}/transitions", token,
                      json={"trigger": trigger, "version": case["version"], "reason": reason,
                            "data": data or {}})
    assert r.status_code == status, r.text
    return r.json() if status == 200 else r.json()


def test_case_runs_from_finding_to_closed(platform, tokens):
    finding = record_finding(platform, tokens["inspector"], amount="120000.00", act_date="2026-06-01")
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    insp, leader, inst = tokens["inspector"], tokens["leader"], tokens["institution"]
    case = _step(platform, insp, case, "start_verification")
    # 立案 needs two officers holding credentials
    bad = _step(platform, leader, case, "open_case", {"officers": OFFICERS[:1]}, status=422)
    assert bad["failures"][0]["code"] == "officers_required" and bad["message_zh"]
    case = _step(platform, leader, case, "open_case", {"officers": OFFICERS})
    case = _step(platform, insp, case, "start_investigation")
    fine = {"kind": "fine", "article": "38", "amount": "150000.00"}
    refund = {"kind": "order_refund", "article": "38", "amount": "120000.00"}
    out_of_range = _step(platform, insp, case, "submit_report",
                         {"proposal": "sanction", "sanctions": [{**fine, "amount": "900000"}]}, status=422)
    assert out_of_range["failures"][0]["code"] == "sanction_out_of_range"
    assert "120,000.00–240,000.00" in out_of_range["message_zh"]
    case = _step(platform, insp, case, "submit_report", {"proposal": "sanction", "sanctions": [fine, refund]})
    case = _step(platform, insp, case, "submit_for_review")
    case = _step(platform, tokens["legal_reviewer"], case, "pass_review", reason="事实清楚，适用法律正确")
    case = _step(platform, insp, case, "notify")
    assert case["state"] == "notified"
    # the institution sees its case and waives its rights; it may not decide
    own = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}", inst).json()
    assert {a["trigger"] for a in own["records"]} >= {"file_defence", "waive_rights"}
    case = _step(platform, inst, case, "waive_rights", reason="放弃陈述申辩和听证")
    _step(platform, inst, case, "decide", {"decision": "sanction", "sanctions": [fine, refund]}, status=403)
    heavier = _step(platform, leader, case, "decide",
                    {"decision": "sanction", "sanctions": [{**fine, "amount": "200000.00"}, refund]}, status=422)
    assert heavier["failures"][0]["code"] == "defence_aggravates"
    case = _step(platform, leader, case, "decide", {"decision": "sanction", "sanctions": [fine, refund]})
    case = _step(platform, insp, case, "serve")
    case = _step(platform, insp, case, "start_enforcement")
    not_paid = _step(platform, leader, case, "close_case", status=422)
    assert not_paid["failures"][0]["code"] == "not_executed"
    case = _step(platform, insp, case, "record_payment", {"kind": "fine", "amount": "150000.00"})
    case = _step(platform, insp, case, "record_payment", {"kind": "recovery", "amount": "120000.00"})
    case = _step(platform, leader, case, "close_case", reason="执行完毕")
    assert case["state"] == "closed" and case["state_label"] == "结案"

    audit = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/audit", leader).json()
    assert [a["action"] for a in audit] == [
        "register", "start_verification", "open_case", "start_investigation", "submit_report",
        "submit_for_review", "pass_review", "notify", "waive_rights", "decide", "serve",
        "start_enforcement", "record_payment", "record_payment", "close_case"]
    verify = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/audit/verify", leader).json()
    assert verify["ok"] and verify["entries"] == len(audit)
    file = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/file", leader).json()
    assert {d["kind"]: d["status"] for d in file["deadlines"]}["payment"] == "met"
    assert [r["outcome"] for r in file["reviews"]] == ["passed"]
    with platform.engine("cases").connect() as conn:
        kinds = conn.execute(text("SELECT body FROM outbox WHERE event_type = 'sanction.decided' "
                                  "AND subject = :s"), {"s": f"sanction:{case['id']}"}).scalars().all()
    assert len(kinds) == 2
    amounts = platform.call("GET", "cases", "/api/v1/dashboard/amounts", leader).json()
    assert float(amounts["fines_decided"]) >= 150000 and float(amounts["recovered"]) >= 120000
    assert platform.call("GET", "cases", "/api/v1/dashboard/amounts", tokens["leader_other_region"]).json()[
        "fines_decided"] == "0.00"
    diagram = platform.call("GET", "cases", "/api/v1/workflow/diagram").json()["mermaid"]
    assert "enforcing --> closed : 批准结案" in diagram and "notified --> decided : 作出决定" in diagram
