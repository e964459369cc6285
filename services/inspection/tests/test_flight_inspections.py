"""飞行检查: 双随机 draws, teams, recusal, launch guards, on-site records, feedback, disputes,
the team's decision and the handover to the local department."""
from __future__ import annotations

import uuid

import pytest

from fundguard_inspection import draw as drawing
from fundguard_inspection.common import today

from inspection_testkit import DEPT, OTHER_DEPT, REGION, outbox

INSTITUTIONS = [f"H51010{n:02d}" for n in range(1, 9)]


@pytest.fixture(scope="module")
def pools(api, tokens):
    r = api.call("PUT", "/api/v1/pools/institutions", tokens["leader"], json=[
        {"institution_id": i, "name": f"成都医院{i[-2:]}", "level": "二级及以上",
         "local_department": "稽核三科"} for i in INSTITUTIONS])
    assert r.status_code == 200, r.get_json()
    people = [{"kind": "inspector", "person_id": f"officer-{n}", "name": f"检查员{n}",
               "department": DEPT, "enforcement_cert": f"川医保执{n:04d}", "conflicts": []}
              for n in range(1, 7)]
    people.append({"kind": "inspector", "person_id": "officer-conflicted", "name": "回避员",
                   "enforcement_cert": "川医保执9999", "conflicts": INSTITUTIONS})
    people.append({"kind": "inspector", "person_id": "officer-nocert", "name": "无证员"})
    people += [{"kind": "expert", "person_id": f"expert-{n}", "name": f"专家{n}"} for n in range(1, 4)]
    r = api.call("PUT", "/api/v1/pools/people", tokens["leader"], json=people)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def new_plan(api, token, **over):
    body = {"title": f"2026 年度飞行检查 {uuid.uuid4().hex[:6]}", "trigger": "annual_plan",
            "organiser_level": "provincial", "period_start": "2026-11-01",
            "period_end": "2026-12-31"} | over
    r = api.call("POST", "/api/v1/flight-plans", token, json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def draw(api, token, plan_id, **body):
    r = api.call("POST", f"/api/v1/flight-plans/{plan_id}/draws", token, json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def launched_plan(api, tokens, institutions=1, **over):
    plan = new_plan(api, tokens["inspector"], **over)
    draw(api, tokens["inspector"], plan["id"], kind="institutions", count=institutions)
    draw(api, tokens["inspector"], plan["id"], kind="inspectors", count=3)
    detail = api.call("GET", f"/api/v1/flight-plans/{plan['id']}", tokens["inspector"]).get_json()
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/launch", tokens["leader"],
                 json={"version": detail["version"]})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# ---- the draw itself (pure) --------------------------------------------------------------------

def test_draw_same_seed_and_pool_gives_same_result_whatever_the_pool_order():
    pool = [f"H{n}" for n in range(50)]
    a = drawing.draw("seed-1", pool, 5)
    assert a == drawing.draw("seed-1", list(reversed(pool)), 5)
    assert a == drawing.draw("seed-1", pool + pool[:10], 5)  # duplicates do not change it
    assert drawing.draw("seed-2", pool, 5) != a
    assert len(set(a)) == 5 and set(a) <= set(pool)


def test_draw_excluded_candidates_never_drawn_and_pool_too_small_refused():
    pool = ["A", "B", "C"]
    assert drawing.draw("s" * 8, pool, 2, exclude={"A"}) == sorted(
        ["B", "C"], key=lambda c: drawing.rank("s" * 8, c))
    with pytest.raises(drawing.DrawError) as exc:
        drawing.draw("s" * 8, pool, 3, exclude={"A"})
    assert exc.value.code == "draw_pool_too_small"


# ---- plans and draws over HTTP -----------------------------------------------------------------

def test_double_random_draw_records_seed_and_pool_and_is_reproducible(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    d = draw(api, tokens["inspector"], plan["id"], kind="institutions", count=2,
             seed="audit-seed-2026")
    assert d["seed"] == "audit-seed-2026" and d["algorithm"] == drawing.ALGORITHM
    assert d["pool"] == sorted(INSTITUTIONS)
    assert d["result"] == drawing.draw("audit-seed-2026", INSTITUTIONS, 2)
    verify = api.call("GET", f"/api/v1/flight-plans/{plan['id']}/draws/{d['id']}/verify",
                      tokens["leader"]).get_json()
    assert verify["matches"] and verify["pool_hash_matches"]
    # the same seed over the same pool on another plan draws the same institutions
    other = new_plan(api, tokens["inspector"])
    assert draw(api, tokens["inspector"], other["id"], kind="institutions", count=2,
                seed="audit-seed-2026")["result"] == d["result"]
    detail = api.call("GET", f"/api/v1/flight-plans/{plan['id']}", tokens["inspector"]).get_json()
    assert sorted(t["institution_id"] for t in detail["targets"]) == sorted(d["result"])
    assert {t["local_department"] for t in detail["targets"]} == {"稽核三科"}


def test_draw_without_seed_generates_and_records_one(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    d = draw(api, tokens["inspector"], plan["id"], kind="institutions", count=1)
    assert len(d["seed"]) >= 16
    assert d["result"] == drawing.draw(d["seed"], d["pool"], 1)


def test_annual_plan_targets_must_be_drawn_not_named(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/targets", tokens["inspector"],
                 json={"institution_id": INSTITUTIONS[0]})
    assert r.status_code == 422 and r.get_json()["code"] == "draw_required"


def test_trigger_based_plan_may_name_target_directly_but_only_from_the_pool(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"], trigger="complaint_clue", trigger_ref="complaint-1")
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/targets", tokens["inspector"],
                 json={"institution_id": INSTITUTIONS[3]})
    assert r.status_code == 201, r.get_json()
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/targets", tokens["inspector"],
                 json={"institution_id": "H0000000"})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_institution"


def test_complaint_or_screening_trigger_needs_its_reference(api, tokens):
    r = api.call("POST", "/api/v1/flight-plans", tokens["inspector"], json={
        "title": "x", "trigger": "screening_hit", "organiser_level": "national",
        "period_start": "2026-11-01", "period_end": "2026-11-30"})
    assert r.status_code == 422 and "trigger_ref" in r.get_json()["errors"]["json"]


def test_plan_organiser_must_be_national_or_provincial(api, tokens):
    r = api.call("POST", "/api/v1/flight-plans", tokens["inspector"], json={
        "title": "x", "trigger": "media", "organiser_level": "municipal",
        "period_start": "2026-11-01", "period_end": "2026-11-30"})
    assert r.status_code == 422 and "organiser_level" in r.get_json()["errors"]["json"]


def test_conflicted_or_uncertified_inspectors_are_excluded_from_the_draw(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/draws", tokens["inspector"],
                 json={"kind": "inspectors", "count": 2})
    assert r.status_code == 422 and r.get_json()["code"] == "targets_required"
    draw(api, tokens["inspector"], plan["id"], kind="institutions", count=1)
    d = draw(api, tokens["inspector"], plan["id"], kind="inspectors", count=6)
    reasons = {e["id"]: e["reason"] for e in d["excluded"]}
    assert reasons == {"officer-conflicted": "conflict_of_interest",
                       "officer-nocert": "no_enforcement_certificate"}
    assert "officer-conflicted" not in d["result"]
    # nobody left: a seventh officer cannot be drawn
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/draws", tokens["inspector"],
                 json={"kind": "inspectors", "count": 1})
    assert r.status_code == 422 and r.get_json()["code"] == "draw_pool_too_small"
    e = draw(api, tokens["inspector"], plan["id"], kind="experts", count=1)
    team = api.call("GET", f"/api/v1/flight-plans/{plan['id']}", tokens["inspector"]).get_json()["team"]
    assert {m["role"] for m in team if m["person_id"] == e["result"][0]} == {"expert"}


def test_appointing_a_member_with_a_conflict_of_interest_is_refused(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    d = draw(api, tokens["inspector"], plan["id"], kind="institutions", count=1)
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/team", tokens["inspector"], json={
        "person_id": "auditor-1", "name": "会计师", "role": "third_party",
        "conflicts": d["result"]})
    assert r.status_code == 422 and r.get_json()["code"] == "conflict_of_interest"
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/team", tokens["inspector"], json={
        "person_id": "officer-x", "name": "无证", "role": "officer"})
    assert r.status_code == 422 and r.get_json()["code"] == "enforcement_certificate_required"


def test_launch_needs_two_certified_officers_who_have_not_recused(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    draw(api, tokens["inspector"], plan["id"], kind="institutions", count=1)
    d = draw(api, tokens["inspector"], plan["id"], kind="inspectors", count=2)
    detail = api.call("GET", f"/api/v1/flight-plans/{plan['id']}", tokens["inspector"]).get_json()
    member = next(m for m in detail["team"] if m["person_id"] == d["result"][0])
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/team/{member['id']}/recusal",
                 tokens["inspector"], json={"reason": "配偶在被检查机构任职"})
    assert r.status_code == 200
    detail = r.get_json()
    assert next(m for m in detail["team"] if m["id"] == member["id"])["recused"] is True
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/launch", tokens["leader"],
                 json={"version": detail["version"]})
    assert r.status_code == 422 and r.get_json()["code"] == "launch_blocked"
    assert [p["code"] for p in r.get_json()["problems"]] == ["team_too_small"]
    draw(api, tokens["inspector"], plan["id"], kind="inspectors", count=1)
    detail = api.call("GET", f"/api/v1/flight-plans/{plan['id']}", tokens["inspector"]).get_json()
    assert member["person_id"] in {m["person_id"] for m in detail["team"]}  # recused stays on record
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/launch", tokens["leader"],
                 json={"version": detail["version"]})
    assert r.status_code == 200 and r.get_json()["status"] == "on_site"


def test_launch_is_for_leaders_and_carries_the_version(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    path = f"/api/v1/flight-plans/{plan['id']}/launch"
    assert api.call("POST", path, tokens["inspector"], json={"version": 1}).status_code == 403
    assert api.call("POST", path, tokens["leader"], json={}).status_code == 428
    r = api.call("POST", path, tokens["leader"], json={"version": 99})
    assert r.status_code == 409 and r.get_json()["code"] == "stale_version"


def test_cross_province_inspection_must_be_filed_before_launch(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"], cross_province=True)
    draw(api, tokens["inspector"], plan["id"], kind="institutions", count=1)
    draw(api, tokens["inspector"], plan["id"], kind="inspectors", count=2)
    detail = api.call("GET", f"/api/v1/flight-plans/{plan['id']}", tokens["inspector"]).get_json()
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/launch", tokens["leader"],
                 json={"version": detail["version"]})
    assert r.status_code == 422
    assert [p["code"] for p in r.get_json()["problems"]] == ["filing_required"]
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/filing", tokens["inspector"],
                 json={"nhsa_filing_ref": "医保备〔2026〕12号"})
    assert r.status_code == 200
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/launch", tokens["leader"],
                 json={"version": r.get_json()["version"]})
    assert r.status_code == 200, r.get_json()


def test_flight_plans_outside_scope_are_404(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    path = f"/api/v1/flight-plans/{plan['id']}"
    assert api.call("GET", path, tokens["inspector2"]).status_code == 200
    assert api.call("GET", path, tokens["leader"]).status_code == 200
    for who in ("inspector_other_dept", "inspector_other_region", "leader_other_region"):
        assert api.call("GET", path, tokens[who]).status_code == 404, who
        assert api.call("POST", path + "/draws", tokens[who],
                        json={"kind": "institutions", "count": 1}).status_code == 404
    listed = api.call("GET", "/api/v1/flight-plans?per_page=200", tokens["inspector_other_dept"])
    assert plan["id"] not in {p["id"] for p in listed.get_json()["items"]}
    assert api.call("GET", path, tokens["legal_reviewer"]).status_code == 403


def test_site_record_needs_two_certified_officers_of_the_team(api, tokens, pools):
    plan = launched_plan(api, tokens)
    officers = [m["person_id"] for m in plan["team"] if m["role"] == "officer"]
    target = plan["targets"][0]["institution_id"]
    body = {"kind": "site", "institution_id": target, "recorded_at": "2026-11-20T09:30:00+08:00",
            "place": "住院部三楼", "officers": officers[:1], "content": "现场核查在院病人 12 名"}
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/records", tokens["inspector"], json=body)
    assert r.status_code == 422 and r.get_json()["code"] == "officers_invalid"
    body["officers"] = [officers[0], "stranger"]
    assert api.call("POST", f"/api/v1/flight-plans/{plan['id']}/records", tokens["inspector"],
                    json=body).get_json()["code"] == "officers_invalid"
    body["officers"] = officers[:2]
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/records", tokens["inspector"], json=body)
    assert r.status_code == 201, r.get_json()
    interview = body | {"kind": "interview"}
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/records", tokens["inspector"],
                 json=interview)
    assert r.status_code == 422 and r.get_json()["code"] == "interviewee_required"
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/records", tokens["inspector"],
                 json=interview | {"interviewee": "医保办主任"})
    assert r.status_code == 201
    assert len(api.call("GET", f"/api/v1/flight-plans/{plan['id']}/records",
                        tokens["inspector"]).get_json()) == 2


def _finding(api, tokens, plan, **over):
    body = {"institution_id": plan["targets"][0]["institution_id"],
            "violation_type": "split_admission", "amount": "12000.00",
            "amount_method": "item_based", "description": "同一患者 15 日内以相同诊断再次入院 3 例",
            "responsible_department": "心内科", "responsible_staff": ["D1001"]} | over
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/findings", tokens["inspector"], json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_findings_fed_back_disputes_settled_by_team_decision_then_handed_over(api, tokens, pools):
    plan = launched_plan(api, tokens)
    institution = plan["targets"][0]["institution_id"]
    inst_token = api.token("institution", "inst-x", institution_id=institution)
    accepted = _finding(api, tokens, plan)
    disputed = _finding(api, tokens, plan, violation_type="duplicate_charging", amount="800.00")
    withdrawn = _finding(api, tokens, plan, violation_type="over_treatment", amount="300.00",
                         amount_method="sampling_estimate")
    # before feedback the institution sees nothing
    assert api.call("GET", f"/api/v1/flight-findings/{accepted['id']}", inst_token).status_code == 404
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/feedback", tokens["inspector"],
                 json={"version": plan["version"]})
    assert r.status_code == 200, r.get_json()
    fed = r.get_json()
    assert fed["status"] == "feedback" and fed["response_due"] > today().isoformat()
    listed = api.call("GET", "/api/v1/flight-findings", inst_token).get_json()
    assert {f["id"] for f in listed["items"]} == {accepted["id"], disputed["id"], withdrawn["id"]}
    # another institution (another target of the pool, even) sees none of them
    other = api.token("institution", "inst-y", institution_id=next(
        i for i in INSTITUTIONS if i != institution))
    assert api.call("GET", f"/api/v1/flight-findings/{accepted['id']}", other).status_code == 404
    assert api.call("POST", f"/api/v1/flight-findings/{accepted['id']}/response", other,
                    json={"response": "accepted"}).status_code == 404
    assert accepted["id"] not in {f["id"] for f in api.call(
        "GET", "/api/v1/flight-findings?per_page=200", other).get_json()["items"]}
    r = api.call("POST", f"/api/v1/flight-findings/{disputed['id']}/response", inst_token,
                 json={"response": "disputed"})
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]["json"]
    assert api.call("POST", f"/api/v1/flight-findings/{accepted['id']}/response", inst_token,
                    json={"response": "accepted"}).get_json()["status"] == "accepted"
    for f in (disputed, withdrawn):
        r = api.call("POST", f"/api/v1/flight-findings/{f['id']}/response", inst_token,
                     json={"response": "disputed", "reason": "收费项目有医嘱支持"})
        assert r.get_json()["status"] == "disputed"
    again = api.call("POST", f"/api/v1/flight-findings/{accepted['id']}/response", inst_token,
                     json={"response": "disputed", "reason": "改变主意"})
    assert again.status_code == 409 and again.get_json()["code"] == "response_closed"
    # handover waits for the team's decision on every dispute
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/handover", tokens["leader"],
                 json={"version": fed["version"]})
    assert r.status_code == 422 and r.get_json()["code"] == "disputes_pending"
    officers = [m["person_id"] for m in plan["team"] if m["role"] == "officer"]
    r = api.call("POST", f"/api/v1/flight-findings/{disputed['id']}/decision", tokens["inspector"],
                 json={"outcome": "upheld", "reason": "x", "participants": officers[:1]})
    assert r.status_code == 422 and r.get_json()["code"] == "quorum_not_met"
    r = api.call("POST", f"/api/v1/flight-findings/{accepted['id']}/decision", tokens["inspector"],
                 json={"outcome": "upheld", "reason": "x", "participants": officers})
    assert r.status_code == 409 and r.get_json()["code"] == "not_disputed"
    r = api.call("POST", f"/api/v1/flight-findings/{disputed['id']}/decision", tokens["inspector"],
                 json={"outcome": "revised", "reason": "部分收费有医嘱，核减", "amount": "500.00",
                       "participants": officers[:2]})
    assert r.status_code == 200 and r.get_json()["amount"] == "500.00"
    assert r.get_json()["decision_participants"] == sorted(officers[:2])
    r = api.call("POST", f"/api/v1/flight-findings/{withdrawn['id']}/decision", tokens["inspector"],
                 json={"outcome": "withdrawn", "reason": "证据不足", "participants": officers})
    assert r.get_json()["status"] == "withdrawn"
    before = len(outbox("finding.recorded"))
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/handover", tokens["leader"],
                 json={"version": fed["version"]})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["plan"]["status"] == "handed_over" and out["withdrawn"] == [withdrawn["id"]]
    assert sorted(f["amount"] for f in out["findings"]) == ["12000.00", "500.00"]
    events = outbox("finding.recorded")[before:]
    assert len(events) == 2
    assert {e["payload"]["department"] for e in events} == {"稽核三科"}
    assert {e["payload"]["source"] for e in events} == {"flight_inspection"}
    assert {e["payload"]["institution_id"] for e in events} == {institution}
    # handed-over findings link to the findings they became
    f = api.call("GET", f"/api/v1/flight-findings/{accepted['id']}", tokens["inspector"]).get_json()
    assert f["status"] == "handed_over" and f["finding_id"] in {x["id"] for x in out["findings"]}
    # the local department (稽核三科) now sees the finding; the plan's department sees the plan
    local = api.token("inspector", "insp-local", region=REGION, department="稽核三科")
    assert api.call("GET", f"/api/v1/findings/{f['finding_id']}", local).status_code == 200
    assert api.call("POST", f"/api/v1/flight-plans/{plan['id']}/handover", tokens["leader"],
                    json={"version": out["plan"]["version"]}).status_code == 409


def test_handover_waits_until_the_response_window_closes(api, tokens, pools):
    plan = launched_plan(api, tokens)
    _finding(api, tokens, plan)
    fed = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/feedback", tokens["inspector"],
                   json={"version": plan["version"], "response_working_days": 3}).get_json()
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/handover", tokens["leader"],
                 json={"version": fed["version"]})
    assert r.status_code == 422 and r.get_json()["code"] == "responses_pending"


def test_findings_only_while_on_site_and_only_for_targets(api, tokens, pools):
    plan = new_plan(api, tokens["inspector"])
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/findings", tokens["inspector"], json={
        "institution_id": INSTITUTIONS[0], "violation_type": "fraud", "amount": "1.00",
        "amount_method": "item_based", "description": "x"})
    assert r.status_code == 409 and r.get_json()["code"] == "plan_state_invalid"
    plan = launched_plan(api, tokens)
    stranger = next(i for i in INSTITUTIONS if i not in {t["institution_id"] for t in plan["targets"]})
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/findings", tokens["inspector"], json={
        "institution_id": stranger, "violation_type": "fraud", "amount": "1.00",
        "amount_method": "item_based", "description": "x"})
    assert r.status_code == 422 and r.get_json()["code"] == "not_a_target"
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/findings", tokens["inspector"], json={
        "institution_id": plan["targets"][0]["institution_id"], "violation_type": "fraud",
        "amount": "1.00", "amount_method": "guess", "description": "x"})
    assert r.status_code == 422 and "amount_method" in r.get_json()["errors"]["json"]


def test_pools_are_maintained_by_leaders_and_seen_per_region(api, tokens, pools):
    r = api.call("PUT", "/api/v1/pools/institutions", tokens["inspector"], json=[])
    assert r.status_code == 403
    assert len(api.call("GET", "/api/v1/pools/institutions?per_page=200",
                        tokens["inspector"]).get_json()) == len(INSTITUTIONS)
    assert api.call("GET", "/api/v1/pools/institutions",
                    tokens["leader_other_region"]).get_json() == []
