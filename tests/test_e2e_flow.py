"""Finding -> case -> inbox across the three services through the real bus."""
from __future__ import annotations

import pytest

from tests.helpers import case_for_finding, inbox_entries, record_finding
from tests.support.platform import wait_for

pytestmark = pytest.mark.platform


def test_finding_becomes_case_and_inbox_entry(platform, tokens):
    finding = record_finding(platform, tokens["inspector"])
    assert finding["department"] == "稽核一科" and finding["region"] == "510100"
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    assert case["state"] == "clue_registered" and case["state_label"] == "线索登记"
    assert case["amount"] == "1234.50" and case["institution_id"] == "H5101001"
    leader_inbox = wait_for(lambda: inbox_entries(platform, tokens["leader"], case["id"]),
                            what="leader inbox entry")
    assert len(leader_inbox) == 1 and case["number"] in leader_inbox[0]["title"]
    assert len(inbox_entries(platform, tokens["inspector"], case["id"])) == 1
    # another department's inspector is not told about it
    assert inbox_entries(platform, tokens["inspector_other_dept"], case["id"]) == []
    # the inspection service learns which case its finding became
    linked = wait_for(lambda: platform.call("GET", "inspection", f"/api/v1/findings/{finding['id']}",
                                            tokens["inspector"]).json().get("case_id"),
                      what="finding linked to case")
    assert linked == case["id"]


def test_transition_writes_state_audit_and_notifies(platform, tokens):
    finding = record_finding(platform, tokens["inspector"])
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    r = platform.call("POST", "cases", f"/api/v1/cases/{case['id']}/transitions", tokens["inspector"],
                      json={"trigger": "start_verification", "version": case["version"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "clue_verifying" and body["version"] == case["version"] + 1
    audit = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/audit", tokens["leader"]).json()
    assert [a["action"] for a in audit] == ["register", "start_verification"]
    assert audit[1]["from_state"] == "clue_registered" and audit[1]["actor"] == "insp-a"
    assert audit[1]["request_id"] == r.headers["X-Request-ID"]
    verify = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/audit/verify",
                           tokens["leader"]).json()
    assert verify == {"ok": True, "entries": 2, "first_broken_seq": None, "problem": None}
    wait_for(lambda: any(n["kind"] == "case_clue_verifying"
                         for n in inbox_entries(platform, tokens["inspector"], case["id"])),
             what="transition notice")
    # the leader's allowed actions now include opening the case, the inspector's do not
    leader_view = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}", tokens["leader"]).json()
    assert {a["trigger"] for a in leader_view["actions"]} == {"open_case", "decline"}
    insp_view = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}", tokens["inspector"]).json()
    assert insp_view["actions"] == []


def test_decline_requires_reason(platform, tokens):
    finding = record_finding(platform, tokens["inspector"])
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    path = f"/api/v1/cases/{case['id']}/transitions"
    v = platform.call("POST", "cases", path, tokens["leader"],
                      json={"trigger": "start_verification", "version": case["version"]}).json()["version"]
    r = platform.call("POST", "cases", path, tokens["leader"], json={"trigger": "decline", "version": v})
    assert r.status_code == 422 and r.json()["code"] == "guard_failed"
    assert r.json()["failures"][0]["code"] == "reason_required"
    still = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}", tokens["leader"]).json()
    assert still["state"] == "clue_verifying" and still["version"] == v
    r = platform.call("POST", "cases", path, tokens["leader"],
                      json={"trigger": "decline", "version": v, "reason": "证据不足，不予立案"})
    assert r.status_code == 200 and r.json()["state"] == "not_opened"


def test_docs_health_metrics(platform):
    for svc in ("inspection", "cases", "notify"):
        assert platform.call("GET", svc, "/healthz").json()["status"] == "ok"
        ready = platform.call("GET", svc, "/readyz").json()
        assert ready["checks"] == {"database": "ok", "broker": "ok"}
        spec = platform.call("GET", svc, "/api/v1/openapi.json").json()
        assert spec["openapi"].startswith("3.") and spec["paths"]
        docs = platform.call("GET", svc, "/api/v1/docs")
        assert docs.status_code == 200 and "/api/v1/_swagger/swagger-ui-bundle.js" in docs.text
        asset = platform.call("GET", svc, "/api/v1/_swagger/swagger-ui-bundle.js")
        assert asset.status_code == 200 and len(asset.content) > 100_000
        metrics = platform.call("GET", svc, "/metrics").text
        assert "fundguard_http_requests_total" in metrics
        assert platform.call("GET", svc, "/healthz").headers["X-Content-Type-Options"] == "nosniff"


def test_workflow_diagram_is_mermaid(platform):
    body = platform.call("GET", "cases", "/api/v1/workflow/diagram").json()
    assert body["mermaid"].startswith("stateDiagram-v2")
    assert "clue_verifying --> opened : 批准立案" in body["mermaid"]
