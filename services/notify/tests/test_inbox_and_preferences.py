"""The inbox (per role + scope, and per user), read marks, and own preferences."""
from __future__ import annotations

from notify_testkit import DEPT, INST, REGION, opened, transitioned


def test_personal_entry_is_seen_only_by_that_user(notify):
    notify.handle(transitioned("file_appeal", "served", "served", actor="inst-a"))
    mine = notify.token("institution", "inst-a", institution_id=INST)
    colleague = notify.token("institution", "inst-b", institution_id=INST)
    items = notify.call("GET", "/api/v1/inbox", mine).get_json()["items"]
    assert [(n["kind"], n["personal"]) for n in items] == [("appeal_received", True)]
    assert notify.call("GET", "/api/v1/inbox", colleague).get_json()["items"] == []
    r = notify.call("POST", f"/api/v1/inbox/{items[0]['id']}/read", colleague)
    assert r.status_code == 404


def test_read_marks_are_per_user_and_unread_filter_works(notify):
    notify.handle(opened())
    notify.handle(opened())
    a = notify.token("leader", "leader-a", region=REGION)
    b = notify.token("leader", "leader-b", region=REGION)
    first = notify.call("GET", "/api/v1/inbox", a).get_json()
    assert first["total"] == 2 and first["unread"] == 2
    assert notify.call("POST", f"/api/v1/inbox/{first['items'][0]['id']}/read", a).status_code == 204
    assert notify.call("GET", "/api/v1/inbox", a).get_json()["unread"] == 1
    assert notify.call("GET", "/api/v1/inbox?unread=true", a).get_json()["total"] == 1
    assert notify.call("GET", "/api/v1/inbox", b).get_json()["unread"] == 2


def test_inbox_is_scoped_by_region_and_department(notify):
    notify.handle(opened())
    assert notify.call("GET", "/api/v1/inbox", notify.token(
        "inspector", region=REGION, department=DEPT)).get_json()["total"] == 1
    assert notify.call("GET", "/api/v1/inbox", notify.token(
        "inspector", region=REGION, department="稽核二科")).get_json()["total"] == 0
    assert notify.call("GET", "/api/v1/inbox", notify.token(
        "leader", region="440100")).get_json()["total"] == 0


def test_preferences_are_own_and_record_the_token_scope(notify):
    tok = notify.token("inspector", "insp-a", region=REGION, department=DEPT)
    assert notify.call("GET", "/api/v1/preferences", tok).get_json() == {
        "email": None, "email_enabled": True, "digest": False, "inbox": True,
        "role": "inspector", "updated_at": None}
    saved = notify.set_prefs(tok, email="insp@ybj.example.cn", digest=True)
    assert saved["email"] == "insp@ybj.example.cn" and saved["digest"] is True
    other = notify.token("inspector", "insp-b", region=REGION, department=DEPT)
    assert notify.call("GET", "/api/v1/preferences", other).get_json()["email"] is None
    r = notify.call("PUT", "/api/v1/preferences", tok, json={"email": "not-an-address"})
    assert r.status_code == 422
    assert notify.call("GET", "/api/v1/preferences").status_code == 401
    from fundguard_notify.models import Preference
    with notify.runtime.sessions() as s:
        p = s.get(Preference, "insp-a")
        assert (p.role, p.region, p.department) == ("inspector", REGION, DEPT)


def test_openapi_documents_the_notify_resources(notify):
    spec = notify.call("GET", "/api/v1/openapi.json").get_json()
    for path in ("/api/v1/inbox", "/api/v1/preferences", "/api/v1/webhooks",
                 "/api/v1/webhooks/{endpoint_id}/rotate-secret", "/api/v1/deliveries",
                 "/api/v1/deliveries/dead-letters", "/api/v1/deliveries/{delivery_id}/replay"):
        assert path in spec["paths"], path
