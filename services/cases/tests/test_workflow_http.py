"""The workflow through the Flask test client: problem+json with reasons, scopes (404 outside),
the case file, the leadership views and the diagram."""
from __future__ import annotations

import csv
import io
from datetime import date

from casekit import OFFICERS, PEOPLE, Desk, auth
from fundguard_cases import clock, workflow


def _desk(app) -> Desk:
    from fundguard_cases.runtime import runtime
    return Desk(runtime().sessions)


def _post(client, case_id, who, trigger, data=None, reason="理由"):
    version = client.get(f"/api/v1/cases/{case_id}", headers=auth(PEOPLE[who])).json["version"]
    return client.post(f"/api/v1/cases/{case_id}/transitions", headers=auth(PEOPLE[who]),
                       json={"trigger": trigger, "version": version, "reason": reason, "data": data or {}})


def test_sanction_out_of_range_is_422_problem_with_the_range_and_nothing_changes(app, client):
    clock.set_today(date(2026, 3, 2))
    desk = _desk(app)
    c = desk.new_case()
    desk.to_investigating(c)
    before = client.get(f"/api/v1/cases/{c}", headers=auth(PEOPLE["leader"])).json
    r = _post(client, c, "inspector", "submit_report",
              {"proposal": "sanction", "sanctions": [{"kind": "fine", "article": "38", "amount": "999999"}]})
    assert r.status_code == 422 and r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json
    assert body["code"] == "guard_failed"
    assert body["failures"][0]["code"] == "sanction_out_of_range"
    assert body["failures"][0]["allowed"] == {"low": "120000.00", "high": "240000.00", "high_exclusive": False}
    assert "120,000.00–240,000.00" in body["message_zh"] and "120,000.00–240,000.00" in body["message_en"]
    after = client.get(f"/api/v1/cases/{c}", headers=auth(PEOPLE["leader"])).json
    assert (after["state"], after["version"]) == (before["state"], before["version"])


def test_case_file_and_deadlines_scoped_404_outside(app, client):
    clock.set_today(date(2026, 3, 2))
    desk = _desk(app)
    c = desk.new_case()
    desk.to_investigating(c)
    f = client.get(f"/api/v1/cases/{c}/file", headers=auth(PEOPLE["leader"])).json
    assert {o["officer_id"] for o in f["officers"]} == {o["id"] for o in OFFICERS}
    assert f["decision_deadline"] == "2026-05-31"
    dls = client.get(f"/api/v1/cases/{c}/deadlines", headers=auth(PEOPLE["inspector"])).json
    assert {d["kind"]: d["status"] for d in dls} == {"clue_verification": "met", "decision": "running"}
    for who in ("other_leader", "other_institution"):
        for path in ("", "/file", "/deadlines"):
            r = client.get(f"/api/v1/cases/{c}{path}", headers=auth(PEOPLE[who]))
            assert r.status_code == 404 and r.json["code"] == "not_found"


def test_institution_files_defence_only_on_its_own_case(app, client):
    clock.set_today(date(2026, 3, 2))
    desk = _desk(app)
    c = desk.new_case()
    desk.to_notified(c)
    detail = client.get(f"/api/v1/cases/{c}", headers=auth(PEOPLE["institution"])).json
    assert {a["trigger"] for a in detail["actions"]} == {"request_hearing"}
    assert {a["trigger"] for a in detail["records"]} == {"file_defence", "waive_rights"}
    r = client.post(f"/api/v1/cases/{c}/transitions", headers=auth(PEOPLE["other_institution"]),
                    json={"trigger": "file_defence", "version": detail["version"], "reason": "申辩"})
    assert r.status_code == 404
    assert _post(client, c, "institution", "file_defence", reason="已退回部分费用").status_code == 200


def test_dashboard_counts_amounts_overdue_and_csv_are_scoped(app, client):
    clock.set_today(date(2026, 3, 2))
    desk = _desk(app)
    c = desk.new_case()
    desk.to_notified(c)
    desk.fire(c, "waive_rights", "institution")
    desk.fire(c, "decide", "leader", {"decision": "sanction", "sanctions": [
        {"kind": "fine", "article": "38", "amount": "150000"}, {"kind": "order_refund", "article": "38", "amount": "120000"}]})
    desk.new_case()
    h = auth(PEOPLE["leader"])
    by_state = {r["key"]: r["count"] for r in client.get("/api/v1/dashboard/counts?by=state", headers=h).json}
    assert by_state == {"decided": 1, "clue_registered": 1}
    by_type = {r["key"]: r["count"] for r in client.get("/api/v1/dashboard/counts?by=sanction_type", headers=h).json}
    assert by_type == {"fine": 1, "order_refund": 1}
    amounts = client.get("/api/v1/dashboard/amounts", headers=h).json
    assert (amounts["fines_decided"], amounts["recovery_decided"], amounts["recovered"]) == ("150000.00", "120000.00", "0.00")
    clock.set_today(date(2026, 3, 20))  # the 7-working-day service clock ran out on 2026-03-11
    from fundguard_cases.runtime import runtime
    from fundguard_cases.worker import run_tick
    assert run_tick(runtime().sessions)["overdue"] == 1
    overdue = client.get("/api/v1/dashboard/overdue", headers=h).json
    assert [(o["kind"], o["due_on"]) for o in overdue] == [("service", "2026-03-11")]
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/dashboard/export.csv", headers=h).data.decode("utf-8-sig"))))
    assert len(rows) == 2 and {r["state"] for r in rows} == {"decided", "clue_registered"}
    # another region sees none of it; other roles may not use the dashboard
    other = auth(PEOPLE["other_leader"])
    assert client.get("/api/v1/dashboard/counts", headers=other).json == []
    assert client.get("/api/v1/dashboard/overdue", headers=other).json == []
    assert len(list(csv.reader(io.StringIO(client.get("/api/v1/dashboard/export.csv", headers=other).data.decode("utf-8-sig"))))) == 1
    assert client.get("/api/v1/dashboard/counts", headers=auth(PEOPLE["inspector"])).status_code == 403


def test_mermaid_diagram_reflects_the_full_machine(client):
    body = client.get("/api/v1/workflow/diagram").json
    text = body["mermaid"]
    for state in workflow.STATES:
        assert f"    {state} : " in text
    for step in workflow.V1.steps:
        for src in step.source:
            assert f"    {src} --> {step.dest or src} : {step.label_zh}" in text
    assert "    closed --> [*]" in text and "    not_opened --> [*]" in text
    assert len(body["steps"]) == len(workflow.V1.steps) and len(body["states"]) == len(workflow.STATES)


def test_admin_loads_a_calendar_year(app, client):
    table = {"year": 2027, "holidays": ["2027-01-01"], "workdays": [], "source": "国务院办公厅通知（测试）"}
    assert client.post("/api/v1/calendar/years", headers=auth(PEOPLE["leader"]), json=table).status_code == 403
    admin = PEOPLE["leader"].__class__("admin-a", "admin")
    assert client.post("/api/v1/calendar/years", headers=auth(admin), json=table).status_code == 201
    bad = {**table, "year": 2026}
    r = client.post("/api/v1/calendar/years", headers=auth(admin), json=bad)
    assert r.status_code == 422 and r.json["code"] == "calendar_invalid"


def test_csv_export_neutralises_spreadsheet_formulas():
    from fundguard_cases.dashboard import csv_cell
    assert csv_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("-1+1") == "'-1+1"
    assert csv_cell("成都某某医院") == "成都某某医院" and csv_cell(12) == 12


def test_a_callers_request_id_is_kept_only_when_it_is_a_sane_token(app, client):
    """The id is logged, sent on in events and stored in the audit chain: an overlong or odd one
    is replaced by a fresh id instead of reaching the database (String(128) on PostgreSQL)."""
    clock.set_today(date(2026, 3, 2))
    desk = _desk(app)
    for given, kept in (("req-abc.123", True), ("x" * 300, False), ("a b<script>", False)):
        c = desk.new_case()
        version = client.get(f"/api/v1/cases/{c}", headers=auth(PEOPLE["inspector"])).json["version"]
        r = client.post(f"/api/v1/cases/{c}/transitions",
                        headers={**auth(PEOPLE["inspector"]), "X-Request-ID": given},
                        json={"trigger": "start_verification", "version": version})
        assert r.status_code == 200, r.json
        assert (r.headers["X-Request-ID"] == given) is kept and len(r.headers["X-Request-ID"]) <= 64
        trail = client.get(f"/api/v1/cases/{c}/audit", headers=auth(PEOPLE["leader"])).json
        entries = trail["entries"] if isinstance(trail, dict) else trail
        assert entries[-1]["request_id"] == r.headers["X-Request-ID"]
