"""Bad input, auth and scope, optimistic locking: clear 4xx problem+json, nothing written."""
from __future__ import annotations

import concurrent.futures as cf
import time

import jwt
import pytest
import requests

from tests.helpers import case_for_finding, finding_body, record_finding

pytestmark = pytest.mark.platform


def _count_findings(platform, token) -> int:
    return platform.call("GET", "inspection", "/api/v1/findings", token).json()["total"]


def _problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code, body
    assert body["message_zh"] and body["message_en"]
    return body


def test_bad_input_is_rejected_and_nothing_written(platform, tokens):
    t = tokens["leader"]
    before = _count_findings(platform, t)
    insp = tokens["inspector"]
    post = lambda **kw: platform.call("POST", "inspection", "/api/v1/findings", insp, **kw)
    _problem(post(data="{not json", headers={"Content-Type": "application/json"}), 400,
             "malformed_json")
    body = _problem(post(json=finding_body(amount="lots")), 422, "validation_failed")
    assert "amount" in body["errors"]["json"]
    body = _problem(post(json={"institution_id": "H1"}), 422, "validation_failed")
    assert {"institution_name", "violation_type", "amount", "description"} <= set(body["errors"]["json"])
    _problem(post(json=finding_body(violation_type="no_such_type")), 422, "validation_failed")
    _problem(post(json=finding_body(amount="-5")), 422, "validation_failed")
    _problem(post(json=finding_body(amount="NaN")), 422, "validation_failed")
    _problem(post(json=finding_body(description="x" * 2_000_000)), 413, "payload_too_large")
    _problem(post(json=["a", "list"]), 422, "validation_failed")
    _problem(post(json=finding_body(description="空\u0000字符")), 422, "nul_character")
    _problem(platform.call("GET", "inspection", "/api/v1/findings?page=1%00", insp), 422,
             "nul_character")
    _problem(platform.call("GET", "inspection", "/api/v1/findings/does-not-exist", insp), 404,
             "not_found")
    _problem(platform.call("GET", "inspection", "/api/v1/findings?per_page=100000", insp), 422,
             "validation_failed")
    assert _count_findings(platform, t) == before


def test_authentication_and_roles(platform, tokens):
    path = "/api/v1/findings"
    _problem(platform.call("GET", "inspection", path), 401, "token_missing")
    _problem(platform.call("GET", "inspection", path, "not.a.jwt"), 401, "token_invalid")
    forged = jwt.encode({"sub": "x", "role": "leader", "region": "510100", "iss": "fundguard-dev",
                         "aud": "fundguard", "exp": int(time.time()) + 60,
                         "iat": int(time.time())}, "wrong-secret" * 4,
                        algorithm="HS256")
    _problem(platform.call("GET", "inspection", path, forged), 401, "token_invalid")
    expired = jwt.encode({"sub": "x", "role": "leader", "region": "510100", "iss": "fundguard-dev",
                          "aud": "fundguard", "exp": int(time.time()) - 3600,
                          "iat": int(time.time()) - 7200},
                         platform.secret, algorithm="HS256")
    _problem(platform.call("GET", "inspection", path, expired), 401, "token_expired")
    unscoped = jwt.encode({"sub": "x", "role": "inspector", "iss": "fundguard-dev",
                           "aud": "fundguard", "exp": int(time.time()) + 60,
                           "iat": int(time.time())},
                          platform.secret, algorithm="HS256")
    _problem(platform.call("GET", "inspection", path, unscoped), 401, "token_scope_invalid")
    # 401 comes before body validation
    _problem(platform.call("POST", "inspection", path, json={}), 401, "token_missing")
    for role in ("institution", "legal_reviewer", "panel_member", "admin"):
        _problem(platform.call("POST", "inspection", path, tokens[role], json=finding_body()), 403,
                 "role_forbidden")
    _problem(platform.call("GET", "cases", "/api/v1/cases", tokens["admin"]), 403, "role_forbidden")


def test_objects_outside_scope_are_404(platform, tokens):
    finding = record_finding(platform, tokens["inspector"])
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    fpath, cpath = f"/api/v1/findings/{finding['id']}", f"/api/v1/cases/{case['id']}"
    for who in ("inspector_other_dept", "inspector_other_region", "leader_other_region"):
        _problem(platform.call("GET", "inspection", fpath, tokens[who]), 404, "not_found")
        _problem(platform.call("GET", "cases", cpath, tokens[who]), 404, "not_found")
        _problem(platform.call("GET", "cases", cpath + "/audit", tokens[who]), 404, "not_found")
        _problem(platform.call("POST", "cases", cpath + "/transitions", tokens[who],
                               json={"trigger": "start_verification", "version": 1}), 404,
                 "not_found")
        listed = platform.call("GET", "cases", "/api/v1/cases?per_page=200", tokens[who]).json()
        assert case["id"] not in {c["id"] for c in listed["items"]}
    _problem(platform.call("GET", "cases", cpath, tokens["institution_other"]), 404, "not_found")
    # the institution concerned sees its own case, but may not drive the procedure
    assert platform.call("GET", "cases", cpath, tokens["institution"]).status_code == 200
    _problem(platform.call("POST", "cases", cpath + "/transitions", tokens["institution"],
                           json={"trigger": "start_verification", "version": case["version"]}),
             403, "role_forbidden")


def test_transition_versions_and_bad_triggers(platform, tokens):
    finding = record_finding(platform, tokens["inspector"])
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    path = f"/api/v1/cases/{case['id']}/transitions"
    t = tokens["leader"]
    _problem(platform.call("POST", "cases", path, t, json={"trigger": "start_verification"}), 428,
             "precondition_required")
    _problem(platform.call("POST", "cases", path, t, json={"trigger": "start_verification"},
                           headers={"If-Match": "abc"}), 400, "bad_version")
    _problem(platform.call("POST", "cases", path, t, json={"trigger": "fly_to_moon", "version": 1}),
             422, "unknown_trigger")
    _problem(platform.call("POST", "cases", path, t, json={"trigger": "open_case", "version": 1}),
             409, "invalid_transition")
    _problem(platform.call("POST", "cases", path, t,
                           json={"trigger": "start_verification", "version": 99}), 409,
             "stale_version")
    ok = platform.call("POST", "cases", path, t, json={"trigger": "start_verification"},
                       headers={"If-Match": f'"{case["version"]}"'})
    assert ok.status_code == 200, ok.text
    _problem(platform.call("POST", "cases", path, t,
                           json={"trigger": "open_case", "version": case["version"]}), 409,
             "stale_version")
    audit = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/audit", t).json()
    assert len(audit) == 2  # the rejected attempts wrote nothing


def test_fifty_concurrent_transitions_exactly_one_wins(platform, tokens):
    finding = record_finding(platform, tokens["inspector"])
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    url = platform.url("cases", f"/api/v1/cases/{case['id']}/transitions")
    headers = {"Authorization": f"Bearer {tokens['leader']}"}

    def attempt(_):
        return requests.post(url, headers=headers, timeout=60,
                             json={"trigger": "start_verification", "version": case["version"]}
                             ).status_code

    with cf.ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(attempt, range(50)))
    assert codes.count(200) == 1, codes
    assert codes.count(409) == 49, codes
    audit = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/audit", tokens["leader"]).json()
    assert [a["action"] for a in audit] == ["register", "start_verification"]
