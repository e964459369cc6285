"""举报: channels, the informant kept apart and encrypted, handler-only access with an access log,
the acceptance decision and the 5-working-day notice, rewards and the 2-month claim window."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from fundguard_inspection import rewards
from fundguard_inspection.runtime import runtime

from inspection_testkit import DEPT, OTHER_DEPT, REGION, outbox

INFORMANT = {"name": "张三丰", "id_number": "510104199001011234", "phone": "13800138000",
             "address": "成都市锦江区某街 1 号"}


def complaint_body(**over):
    return {"channel": "phone", "real_name": True, "institution_id": "H5101001",
            "institution_name": "成都某医院", "violation_type": "fictitious_service",
            "amount_estimate": "50000.00", "summary": "该院虚构康复理疗项目，套取医保基金",
            "received_on": "2026-09-21", "informant": INFORMANT} | over


def register(api, token, **over):
    r = api.call("POST", "/api/v1/complaints", token, json=complaint_body(**over))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def decide(api, token, c, accepted=True, decided_on="2026-09-29"):
    r = api.call("POST", f"/api/v1/complaints/{c['id']}/decision", token, json={
        "accepted": accepted, "reason": "线索具体，符合受理条件", "decided_on": decided_on,
        "version": c["version"]})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_informant_identity_is_stored_apart_and_encrypted_at_rest(api, tokens):
    c = register(api, tokens["inspector"])
    assert "informant" not in c and INFORMANT["name"] not in json.dumps(c, ensure_ascii=False)
    with runtime().engine.connect() as conn:
        row = conn.execute(text("SELECT ciphertext FROM complaint_informants "
                                "WHERE complaint_id = :id"), {"id": c["id"]}).scalar_one()
        complaint_row = conn.execute(text("SELECT * FROM complaints WHERE id = :id"),
                                     {"id": c["id"]}).one()
    for secret in INFORMANT.values():
        assert secret not in row and secret not in str(tuple(complaint_row))
    assert row.startswith("gAAAAA")  # a Fernet token


def test_informant_identity_never_travels_in_events(api, tokens):
    c = register(api, tokens["inspector"])
    decide(api, tokens["leader"], c)
    bodies = json.dumps(outbox(), ensure_ascii=False)
    for secret in INFORMANT.values():
        assert secret not in bodies
    received = [e for e in outbox("complaint.received") if e["payload"]["complaint_id"] == c["id"]]
    assert received and received[0]["payload"]["real_name"] is True


def test_only_complaint_handlers_see_the_informant_and_every_access_is_logged(api, tokens):
    c = register(api, tokens["inspector"])
    path = f"/api/v1/complaints/{c['id']}/informant?purpose=告知受理结果"
    r = api.call("GET", path, tokens["inspector2"])  # same department: a handler
    assert r.status_code == 200 and r.get_json()["name"] == "张三丰"
    assert api.call("GET", path, tokens["leader"]).status_code == 200
    r = api.call("GET", f"/api/v1/complaints/{c['id']}/informant", tokens["leader"])
    assert r.status_code == 200  # a purpose not given is logged as such
    for who in ("inspector_other_dept", "inspector_other_region", "leader_other_region"):
        assert api.call("GET", path, tokens[who]).status_code == 404, who
    assert api.call("GET", path, tokens["institution"]).status_code == 403
    log = api.call("GET", f"/api/v1/complaints/{c['id']}/informant/access-log",
                   tokens["leader"]).get_json()
    assert [(e["actor"], e["action"]) for e in log] == [
        ("insp-a", "stored"), ("insp-a2", "read"), ("leader-a", "read"), ("leader-a", "read"),
        ("insp-b", "refused"), ("insp-c", "refused"), ("leader-b", "refused")]
    assert log[1]["purpose"] == "告知受理结果" and log[3]["purpose"] == "未说明 / not stated"
    # the access log itself is for leaders
    assert api.call("GET", f"/api/v1/complaints/{c['id']}/informant/access-log",
                    tokens["inspector"]).status_code == 403


def test_handler_policy_is_configurable(api, tokens, monkeypatch):
    c = register(api, tokens["inspector"])
    path = f"/api/v1/complaints/{c['id']}/informant?purpose=核实"
    monkeypatch.setenv("FUNDGUARD_COMPLAINT_HANDLERS", "leader:region")
    r = api.call("GET", path, tokens["inspector"])
    assert r.status_code == 403 and r.get_json()["code"] == "not_a_complaint_handler"
    assert api.call("GET", path, tokens["leader"]).status_code == 200
    monkeypatch.setenv("FUNDGUARD_COMPLAINT_HANDLERS", "inspector:department,leader:region")
    monkeypatch.setenv("FUNDGUARD_COMPLAINT_HANDLER_IDS", "insp-a2")
    assert api.call("GET", path, tokens["inspector"]).status_code == 403
    assert api.call("GET", path, tokens["inspector2"]).status_code == 200
    log = api.call("GET", f"/api/v1/complaints/{c['id']}/informant/access-log",
                   tokens["leader"]).get_json()
    assert [e["action"] for e in log].count("refused") == 2


def test_real_name_report_needs_the_informants_name_anonymous_does_not(api, tokens):
    r = api.call("POST", "/api/v1/complaints", tokens["inspector"],
                 json=complaint_body(informant=None))
    assert r.status_code == 422 and "informant" in r.get_json()["errors"]["json"]
    c = register(api, tokens["inspector"], real_name=False, informant=None, channel="letter")
    assert c["real_name"] is False and c["channel_label"] == "信函"
    r = api.call("GET", f"/api/v1/complaints/{c['id']}/informant?purpose=核实", tokens["leader"])
    assert r.status_code == 404 and r.get_json()["code"] == "no_informant_record"
    r = api.call("POST", "/api/v1/complaints", tokens["inspector"],
                 json=complaint_body(channel="fax"))
    assert r.status_code == 422 and "channel" in r.get_json()["errors"]["json"]


def test_accepting_a_real_name_report_sets_the_five_working_day_notice_and_a_finding(api, tokens):
    c = register(api, tokens["inspector"])
    decided = decide(api, tokens["leader"], c, decided_on="2026-09-29")
    # Sep 30, [Oct 1–7 off], Oct 8, 9, 10 (调休 Saturday), 12
    assert decided["status"] == "accepted" and decided["informant_notice_due"] == "2026-10-12"
    assert decided["finding_id"]
    event = [e for e in outbox("complaint.decided") if e["payload"]["complaint_id"] == c["id"]][0]
    assert event["payload"] == {"complaint_id": c["id"], "region": REGION, "department": DEPT,
                                "accepted": True, "decided_on": "2026-09-29", "real_name": True,
                                "informant_notice_due": "2026-10-12",
                                "finding_id": decided["finding_id"]}
    finding = [e for e in outbox("finding.recorded")
               if e["payload"]["finding_id"] == decided["finding_id"]][0]
    assert finding["payload"]["source"] == "complaint"
    assert finding["payload"]["amount"] == "50000.00"
    r = api.call("POST", f"/api/v1/complaints/{c['id']}/decision", tokens["leader"], json={
        "accepted": False, "reason": "x", "version": decided["version"]})
    assert r.status_code == 409 and r.get_json()["code"] == "already_decided"


def test_rejection_of_an_anonymous_report_has_no_notice_and_no_finding(api, tokens):
    c = register(api, tokens["inspector"], real_name=False, informant=None)
    decided = decide(api, tokens["inspector"], c, accepted=False)
    assert decided["status"] == "rejected" and decided["informant_notice_due"] is None
    assert decided["finding_id"] is None


def test_decision_needs_the_version_and_a_reason(api, tokens):
    c = register(api, tokens["inspector"])
    path = f"/api/v1/complaints/{c['id']}/decision"
    assert api.call("POST", path, tokens["leader"],
                    json={"accepted": True, "reason": "x"}).status_code == 428
    assert api.call("POST", path, tokens["leader"],
                    json={"accepted": True, "version": 1}).status_code == 422
    r = api.call("POST", path, tokens["leader"], json={"accepted": True, "reason": "x",
                                                        "version": 7})
    assert r.status_code == 409 and r.get_json()["code"] == "stale_version"
    r = api.call("POST", path, tokens["leader"], json={"accepted": True, "reason": "x",
                                                        "version": 1, "decided_on": "2099-01-01"})
    assert r.status_code == 422 and r.get_json()["code"] == "date_in_future"


def test_informant_notice_is_recorded_by_a_handler_with_on_time_flag(api, tokens):
    c = register(api, tokens["inspector"])
    decide(api, tokens["leader"], c, decided_on="2026-09-29")
    path = f"/api/v1/complaints/{c['id']}/informant-notice"
    r = api.call("POST", path, tokens["inspector_other_dept"], json={"method": "phone"})
    assert r.status_code == 404
    r = api.call("POST", path, tokens["inspector"], json={"method": "phone",
                                                          "notified_on": "2026-10-13"})
    assert r.status_code == 200 and r.get_json()["informant_notified_on"] == "2026-10-13"
    event = [e for e in outbox("complaint.informant_notified")
             if e["payload"]["complaint_id"] == c["id"]][0]
    assert event["payload"]["on_time"] is False and event["payload"]["due"] == "2026-10-12"
    assert api.call("POST", path, tokens["inspector"],
                    json={"method": "phone"}).get_json()["code"] == "already_notified"


def test_complaints_outside_scope_are_404(api, tokens):
    c = register(api, tokens["inspector"])
    for who in ("inspector_other_dept", "inspector_other_region", "leader_other_region"):
        assert api.call("GET", f"/api/v1/complaints/{c['id']}", tokens[who]).status_code == 404
    listed = api.call("GET", "/api/v1/complaints?per_page=200",
                      tokens["inspector_other_dept"]).get_json()
    assert c["id"] not in {x["id"] for x in listed["items"]}


# ---- rewards: the formulas (pure) -----------------------------------------------------------------

BJ = rewards.BUILTIN_SCHEMES["beijing"]
G3 = rewards.BUILTIN_SCHEMES["three_grade"]


@pytest.mark.parametrize("value,party,expected", [
    ("100000", "entity", "2000.00"),       # ≤ 500,000: 2 %
    ("500000", "entity", "10000.00"),
    ("600000", "entity", "24000.00"),      # > 500,000: 4 %
    ("10000", "entity", "500.00"),         # 200 → Beijing floor 500
    ("8000000", "entity", "200000.00"),    # 320,000 → cap 200,000
    ("10000", "individual", "1000.00"),    # 10 %, no bonus at exactly 10,000
    ("20000", "individual", "2500.00"),    # 10 % + 500 above 10,000
])
def test_beijing_reward_scheme(value, party, expected):
    r = rewards.compute_reward(Decimal(value), "beijing", BJ, party_type=party)
    assert r.amount == Decimal(expected)


@pytest.mark.parametrize("value,grade,insider,expected", [
    ("100000", "1", False, "3000.00"),
    ("100000", "2", False, "2000.00"),
    ("100000", "3", False, "1000.00"),
    ("100000", "1", True, "3600.00"),      # insiders +20 %
    ("1000", "1", False, "400.00"),        # grade floors 400 / 300 / 200
    ("1000", "2", False, "300.00"),
    ("1000", "3", False, "200.00"),
    ("50000000", "1", True, "200000.00"),  # cap
])
def test_three_grade_reward_scheme(value, grade, insider, expected):
    r = rewards.compute_reward(Decimal(value), "three_grade", G3, grade=grade, insider=insider)
    assert r.amount == Decimal(expected)


def test_national_floor_and_cap_hold_whatever_the_local_scheme():
    lax = {"kind": "graded", "cap": "900000", "grades": {"1": {"rate": "0.5", "floor": "0"}}}
    assert rewards.compute_reward(Decimal("10"), "lax", lax, grade="1").amount == Decimal("200.00")
    assert rewards.compute_reward(Decimal("10000000"), "lax", lax,
                                  grade="1").amount == Decimal("200000.00")


@pytest.mark.parametrize("exclusion", ["informant_is_staff", "self_confession", "under_investigation"])
def test_staff_and_self_confession_get_no_reward(exclusion):
    r = rewards.compute_reward(Decimal("100000"), "beijing", BJ, exclusions=[exclusion])
    assert r.amount == Decimal("0.00") and r.excluded == (exclusion,)


def test_graded_scheme_needs_a_grade():
    with pytest.raises(rewards.RewardError) as exc:
        rewards.compute_reward(Decimal("1000"), "three_grade", G3)
    assert exc.value.code == "reward_grade_required"


def test_region_picks_its_scheme_from_configuration(tmp_path, monkeypatch):
    assert rewards.scheme_for_region("110105")[0] == "beijing"   # province prefix
    assert rewards.scheme_for_region("510100")[0] == "three_grade"  # default
    cfg = tmp_path / "rewards.json"
    cfg.write_text(json.dumps({"schemes": {"sichuan": {
        "kind": "graded", "cap": "200000", "grades": {"A": {"rate": "0.05", "floor": "300"}}}},
        "regions": {"510000": "sichuan"}}))
    monkeypatch.setenv("FUNDGUARD_REWARD_CONFIG", str(cfg))
    name, scheme = rewards.scheme_for_region("510100")
    assert name == "sichuan"
    assert rewards.compute_reward(Decimal("10000"), name, scheme, grade="A").amount == Decimal("500.00")


# ---- rewards over HTTP ---------------------------------------------------------------------------

def test_reward_decided_by_leader_under_region_scheme_and_claimed_within_two_months(api, tokens):
    c = decide(api, tokens["leader"], register(api, tokens["inspector"]))
    path = f"/api/v1/complaints/{c['id']}/reward"
    body = {"case_value": "100000.00", "grade": "2", "notified_on": "2026-09-30",
            "version": c["version"]}
    assert api.call("POST", path, tokens["inspector"], json=body).status_code == 403
    r = api.call("POST", path, tokens["leader"], json=body)
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["reward_scheme"] == "three_grade" and out["reward_amount"] == "2000.00"
    # 2 months after 2026-09-30 → 2026-11-30 (a Monday, a working day)
    assert out["reward_claim_deadline"] == "2026-11-30"
    claim = f"/api/v1/complaints/{c['id']}/reward/claim"
    r = api.call("POST", claim, tokens["inspector"], json={"identity_verified": False,
                                                           "claimed_on": "2026-10-08"})
    assert r.status_code == 422 and r.get_json()["code"] == "identity_not_verified"
    r = api.call("POST", claim, tokens["inspector"], json={"identity_verified": True,
                                                           "claimed_on": "2026-10-08"})
    assert r.status_code == 200 and r.get_json()["reward_claimed_on"] == "2026-10-08"
    event = [e for e in outbox("complaint.reward_decided")
             if e["payload"]["complaint_id"] == c["id"]][0]
    assert event["payload"]["amount"] == "2000.00" and event["payload"]["excluded"] == []


def test_reward_claim_after_the_two_month_window_is_refused(api, tokens):
    c = decide(api, tokens["leader"], register(api, tokens["inspector"], received_on="2026-06-30"),
               decided_on="2026-07-01")
    r = api.call("POST", f"/api/v1/complaints/{c['id']}/reward", tokens["leader"], json={
        "case_value": "30000", "grade": "1", "notified_on": "2026-07-10", "version": c["version"]})
    assert r.get_json()["reward_claim_deadline"] == "2026-09-10"
    r = api.call("POST", f"/api/v1/complaints/{c['id']}/reward/claim", tokens["leader"],
                 json={"identity_verified": True, "claimed_on": "2026-09-11"})
    assert r.status_code == 422 and r.get_json()["code"] == "reward_claim_expired"


def test_anonymous_informant_without_identity_gets_no_reward_until_identified(api, tokens):
    c = decide(api, tokens["leader"], register(api, tokens["inspector"], real_name=False,
                                               informant=None))
    r = api.call("POST", f"/api/v1/complaints/{c['id']}/reward", tokens["leader"], json={
        "case_value": "30000", "grade": "1", "version": c["version"]})
    assert r.status_code == 200 and r.get_json()["reward_amount"] == "0.00"
    assert r.get_json()["reward_basis"]["excluded"] == ["identity_missing"]
    # the insider flag comes from the (encrypted) identity: an identified insider gets +20 %
    c2 = decide(api, tokens["leader"], register(api, tokens["inspector"], real_name=False,
                                                informant=None))
    r = api.call("PUT", f"/api/v1/complaints/{c2['id']}/informant", tokens["inspector"],
                 json=INFORMANT | {"is_insider": True})
    assert r.status_code == 204
    r = api.call("POST", f"/api/v1/complaints/{c2['id']}/reward", tokens["leader"], json={
        "case_value": "100000", "grade": "1", "version": c2["version"]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["reward_amount"] == "3600.00"


def test_reward_only_for_accepted_complaints(api, tokens):
    c = register(api, tokens["inspector"])
    r = api.call("POST", f"/api/v1/complaints/{c['id']}/reward", tokens["leader"], json={
        "case_value": "1000", "grade": "1", "version": c["version"]})
    assert r.status_code == 409 and r.get_json()["code"] == "not_accepted"


def test_missing_pii_key_refuses_to_store_identities_in_clear(api, tokens, monkeypatch):
    monkeypatch.delenv("FUNDGUARD_PII_KEY")
    monkeypatch.setenv("FUNDGUARD_PII_KEY_FILE", "/nonexistent/key")
    before = api.call("GET", "/api/v1/complaints?per_page=200", tokens["inspector"]).get_json()["total"]
    r = api.call("POST", "/api/v1/complaints", tokens["inspector"], json=complaint_body())
    assert r.status_code == 503 and r.get_json()["code"] == "pii_key_missing"
    after = api.call("GET", "/api/v1/complaints?per_page=200", tokens["inspector"]).get_json()["total"]
    assert after == before  # nothing half-written


def test_claim_deadline_in_a_year_without_calendar_is_left_open_not_guessed(api, tokens,
                                                                            tmp_path, monkeypatch):
    from fundguard_inspection import common
    c = decide(api, tokens["leader"], register(api, tokens["inspector"], received_on="2026-11-20"),
               decided_on="2026-11-24")
    r = api.call("POST", f"/api/v1/complaints/{c['id']}/reward", tokens["leader"], json={
        "case_value": "30000", "grade": "1", "notified_on": "2026-11-24", "version": c["version"]})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["reward_claim_deadline"] is None  # 2027-01-24 is a Sunday: roll-forward unknown
    assert out["reward_basis"]["claim_deadline_pending"] == "calendar not loaded"
    assert out["reward_basis"]["claim_deadline_not_before"] == "2027-01-24"
    # with the State Council's 2027 arrangement loaded the date is settled
    (tmp_path / "2027.json").write_text(json.dumps({
        "year": 2027, "holidays": ["2027-01-01"], "workdays": [],
        "source": "国务院办公厅关于2027年部分节假日安排的通知（测试）"}))
    monkeypatch.setenv("FUNDGUARD_CALENDAR_DIR", str(tmp_path))
    common.calendar.cache_clear()
    try:
        assert common.try_add_working_days(date(2026, 12, 30), 2) == date(2027, 1, 4)
    finally:
        monkeypatch.delenv("FUNDGUARD_CALENDAR_DIR")
        common.calendar.cache_clear()
    assert common.try_add_working_days(date(2026, 12, 30), 2) is None
