"""HTTP: the check endpoint (hash in the query, or the raw identifier in a POST body — never
stored or echoed), scoring decisions with 422s that carry the legal range, and scoping:
institutions see only themselves and their own staff (404 otherwise)."""
from __future__ import annotations

from datetime import date

from casekit import PEOPLE, Desk, auth
from test_points_kit import ID_A, agreement_sanctions, project

from fundguard_cases import clock


def _desk(app):
    from fundguard_cases.runtime import runtime
    from fundguard_cases import eventtypes  # noqa: F401
    return Desk(runtime().sessions)


def _register(client, national_id=ID_A, institution="H5101001", who="leader"):
    r = client.post("/api/v1/persons", headers=auth(PEOPLE[who]),
                    json={"national_id": national_id, "profession": "physician", "institution_id": institution,
                          "region": "510100"})
    assert r.status_code == 200, r.json
    assert ID_A not in r.get_data(as_text=True)
    return r.json


def _score(client, person_id, body, who="leader"):
    """Propose (the leader), the institution waives the defence for its staff member: entered."""
    r = client.post(f"/api/v1/persons/{person_id}/proposals", headers=auth(PEOPLE[who]), json=body)
    if r.status_code != 201:
        return r
    w = client.post(f"/api/v1/persons/{person_id}/proposals/{r.json['id']}/waiver",
                    headers=auth(PEOPLE["institution"]), json={"reason": "本人书面放弃陈述申辩"})
    assert w.status_code == 200 and w.json["status"] == "scored", w.json
    return client.get(f"/api/v1/persons/{person_id}/points", headers=auth(PEOPLE[who]))


def test_check_endpoint_by_hash_and_by_raw_identifier(app, client):
    clock.set_today(date(2026, 3, 2))
    desk = _desk(app)
    p = _register(client)
    s1, s2 = agreement_sanctions(desk, 2)
    h = auth(PEOPLE["leader"])
    body = {"case_id": s1[0], "sanction_id": s1[1], "band": "4-6", "responsibility": "主要", "reason": "主要责任"}
    assert _score(client, p["id"], body).status_code == 200
    body = {**body, "sanction_id": s2[1], "band": "1-3"}
    r = _score(client, p["id"], body)
    assert r.status_code == 422 and (r.json["code"], r.json["low"], r.json["high"]) == ("suspension_months_required", 1, 6)
    r = _score(client, p["id"], {**body, "suspension_months": 2})
    assert r.status_code == 200 and r.json["year_points"] == 9
    caller = auth(PEOPLE["institution"])
    r = client.get(f"/api/v1/persons/check?id_hash={p['id_hash']}&date=2026-04-01", headers=caller)
    assert r.status_code == 200
    assert (r.json["may_bill"], r.json["reason"], r.json["suspended_until"]) == (False, "suspended", "2026-05-02")
    r = client.get(f"/api/v1/persons/check?id_hash={p['id_hash']}&date=2026-04-01&emergency=true", headers=caller)
    assert (r.json["may_bill"], r.json["emergency_exempt"]) == (True, True)
    r = client.post("/api/v1/persons/check", headers=caller, json={"national_id": ID_A.lower(), "date": "2026-05-02"})
    assert r.status_code == 200 and (r.json["may_bill"], r.json["reason"]) == (True, "ok")
    assert ID_A not in r.get_data(as_text=True)
    r = client.get("/api/v1/persons/check?id_hash=" + "0" * 64, headers=caller)
    assert (r.json["may_bill"], r.json["reason"]) == (True, "no_record")
    assert client.get("/api/v1/persons/check?id_hash=nothex", headers=caller).status_code == 422
    assert client.get(f"/api/v1/persons/check?id_hash={p['id_hash']}").status_code == 401


def test_scoring_is_for_leaders_and_needs_a_decided_sanction(app, client):
    clock.set_today(date(2026, 3, 2))
    p = _register(client)
    c = _desk(app).new_case()
    body = {"case_id": c, "sanction_id": "x", "band": "4-6", "responsibility": "一般", "reason": "r"}
    path = f"/api/v1/persons/{p['id']}/proposals"
    assert client.post(path, headers=auth(PEOPLE["inspector"]), json=body).status_code == 403
    r = client.post(path, headers=auth(PEOPLE["leader"]), json=body)
    assert (r.status_code, r.json["code"]) == (422, "sanction_not_decided")
    r = client.post(path, headers=auth(PEOPLE["other_leader"]), json=body)
    assert r.status_code == 404  # the case is outside the other leader's region


def test_institutions_see_only_themselves_and_their_own_staff(app, client):
    clock.set_today(date(2026, 3, 2))
    desk = _desk(app)
    own = _register(client)
    stranger = _register(client, "110101199003070011", institution="H9999999")
    c = desk.new_case()
    desk.to_investigating(c)
    desk.fire(c, "agreement_action", "leader", {"kind": "suspend_payment", "months": 2}, reason="暂停拨付")
    project(desk.sessions)  # the cases worker consumes sanction.decided from the bus
    inst, other = auth(PEOPLE["institution"]), auth(PEOPLE["other_institution"])
    assert client.get(f"/api/v1/persons/{own['id']}/points", headers=inst).status_code == 200
    assert client.get(f"/api/v1/persons/{stranger['id']}/points", headers=inst).status_code == 404
    assert client.get(f"/api/v1/persons/{own['id']}/points", headers=other).status_code == 404
    r = client.get("/api/v1/institutions/H5101001/standing", headers=inst)
    assert r.status_code == 200 and [s["kind"] for s in r.json["active_suspensions"]] == ["suspend_payment"]
    assert client.get("/api/v1/institutions/H5101001/standing", headers=other).status_code == 404
    assert client.get("/api/v1/institutions/H5101001/standing", headers=auth(PEOPLE["other_leader"])).status_code == 404
    assert client.get("/api/v1/institutions/H5101001/standing", headers=auth(PEOPLE["leader"])).status_code == 200
    staff = client.get("/api/v1/institutions/H5101001/staff", headers=inst)
    assert [x["person_id"] for x in staff.json] == [own["id"]]
    assert client.get("/api/v1/institutions/H5101001/staff", headers=other).status_code == 404
    # the person moves: the old institution no longer sees them, the new one does (with their points)
    _register(client, ID_A, institution="H9999999")
    assert client.get(f"/api/v1/persons/{own['id']}/points", headers=inst).status_code == 404
    assert client.get(f"/api/v1/persons/{own['id']}/points", headers=other).status_code == 200


def test_restoration_and_reregistration_over_http(app, client):
    clock.set_today(date(2026, 3, 2))
    desk = _desk(app)
    p = _register(client)
    [s1] = agreement_sanctions(desk, 1)
    h = auth(PEOPLE["leader"])
    _score(client, p["id"], {
        "case_id": s1[0], "sanction_id": s1[1], "band": "10-12", "responsibility": "主要", "reason": "骗保主要责任"})
    r = client.post(f"/api/v1/persons/{p['id']}/restorations", headers=h, json={"activity": "training"})
    assert (r.status_code, r.json["code"]) == (422, "terminated")
    r = client.post(f"/api/v1/persons/{p['id']}/reregistration", headers=h, json={})
    assert (r.status_code, r.json["code"], r.json["ban_until"]) == (422, "reregistration_banned", "2029-03-02")
    clock.set_today(date(2029, 3, 2))
    r = client.post(f"/api/v1/persons/{p['id']}/reregistration", headers=h, json={"reason": "禁期届满"})
    assert r.status_code == 201 and r.json["check"]["may_bill"] is True
    kinds = [e["kind"] for e in client.get(f"/api/v1/persons/{p['id']}/points", headers=h).json["entries"]]
    assert kinds == ["score", "reregister"]



def test_institution_staff_outside_the_callers_region_is_404(app, client):
    """Staff lists are scoped like the institution itself (its region, from its standing or its
    cases): another region's leader gets 404, the institution's own region sees it."""
    clock.set_today(date(2026, 3, 2))
    agreement_sanctions(_desk(app), 1)  # a case of H5101001 in region 510100
    _register(client)
    path = "/api/v1/institutions/H5101001/staff"
    assert client.get(path, headers=auth(PEOPLE["other_leader"])).status_code == 404
    assert client.get(path, headers=auth(PEOPLE["other_institution"])).status_code == 404
    mine = client.get(path, headers=auth(PEOPLE["leader"]))
    assert mine.status_code == 200 and len(mine.json) == 1


def test_notice_defence_decision_and_objection_over_http(app, client):
    """The scoring procedure through HTTP: the leader proposes, the person's institution files the
    defence (another institution or another region's leader gets 404), the leader reduces (never
    raises), the institution objects within the window (outside it: 422 naming the window)."""
    clock.set_today(date(2026, 3, 2))
    p = _register(client)
    [s1] = agreement_sanctions(_desk(app), 1)
    leader, inst = auth(PEOPLE["leader"]), auth(PEOPLE["institution"])
    r = client.post(f"/api/v1/persons/{p['id']}/proposals", headers=leader, json={
        "case_id": s1[0], "sanction_id": s1[1], "band": "4-6", "responsibility": "主要", "reason": "主要责任"})
    assert r.status_code == 201 and (r.json["status"], r.json["defence_due_on"], r.json["points"]) == \
        ("notified", "2026-03-09", 6)
    base = f"/api/v1/persons/{p['id']}/proposals/{r.json['id']}"
    assert client.post(f"{base}/defence", headers=auth(PEOPLE["other_institution"]),
                       json={"statement": "x"}).status_code == 404
    assert client.post(f"{base}/defence", headers=auth(PEOPLE["other_leader"]), json={"statement": "x"}).status_code == 404
    r = client.post(f"{base}/defence", headers=inst, json={"statement": "本人仅负一般责任"})
    assert r.status_code == 200 and r.json["status"] == "defence_filed"
    assert client.post(f"{base}/decision", headers=inst, json={"outcome": "uphold", "reason": "r"}).status_code == 403
    decision = {"outcome": "reduce", "points": 4, "responsibility": "一般", "reason": "申辩部分成立"}
    assert client.post(f"{base}/decision", headers=auth(PEOPLE["other_leader"]), json=decision).status_code == 404
    r = client.post(f"{base}/decision", headers=leader, json={**decision, "points": 6})
    assert (r.status_code, r.json["code"]) == (422, "defence_may_not_aggravate")
    r = client.post(f"{base}/decision", headers=leader, json=decision)
    assert r.status_code == 200 and (r.json["status"], r.json["scored_points"]) == ("scored", 4)
    listed = client.get(f"/api/v1/persons/{p['id']}/proposals", headers=inst).json
    assert [x["status"] for x in listed["proposals"]] == ["scored"]
    assert client.get(f"/api/v1/persons/{p['id']}/proposals", headers=auth(PEOPLE["other_institution"])).status_code == 404

    clock.set_today(date(2026, 3, 30))
    r = client.post(f"/api/v1/persons/{p['id']}/objections", headers=inst, json={"entry_seq": 1, "grounds": "依据有误"})
    assert (r.status_code, r.json["code"], r.json["window_ends_on"]) == (422, "objection_out_of_window", "2026-03-17")
    assert r.headers["Content-Type"].startswith("application/problem+json")
    clock.set_today(date(2026, 3, 10))
    r = client.post(f"/api/v1/persons/{p['id']}/objections", headers=inst, json={"entry_seq": 1, "grounds": "依据有误"})
    assert r.status_code == 201 and r.json["status"] == "pending"
    path = f"/api/v1/persons/{p['id']}/objections/{r.json['id']}/decision"
    assert client.post(path, headers=auth(PEOPLE["other_leader"]), json={"outcome": "annul", "reason": "r"}).status_code == 404
    r = client.post(path, headers=leader, json={"outcome": "annul", "reason": "复核成立"})
    assert r.status_code == 200 and r.json["status"] == "annulled"
    points = client.get(f"/api/v1/persons/{p['id']}/points", headers=inst).json
    assert points["year_points"] == 0 and [e["kind"] for e in points["entries"]] == ["score", "annul"]
