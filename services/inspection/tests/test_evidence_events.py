"""Evidence hashes travel to the case (一案一卷 evidence list): files gathered before a flight
finding's hand-over are listed in its ``finding.recorded``; a file attached to a finding afterwards
is announced as ``evidence.registered`` on the finding's subject, in the same transaction."""
from __future__ import annotations

import hashlib

from fundguard_shared.events import parse_event

from inspection_testkit import DEPT, OTHER_DEPT, outbox
from test_evidence import unique_pdf, upload
from test_flight_inspections import _finding, launched_plan, pools  # noqa: F401  (fixture)


def record_finding(api, token, **over):
    body = {"institution_id": "H5101001", "institution_name": "成都某某医院",
            "violation_type": "split_admission", "amount": "9000.00",
            "description": "分解住院 2 例"} | over
    r = api.call("POST", "/api/v1/findings", token, json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_evidence_attached_to_a_finding_is_announced_with_its_sha256_after_the_finding(api, tokens):
    finding = record_finding(api, tokens["inspector"])
    content = unique_pdf("finding-evidence")
    r = upload(api, tokens["inspector"], content, name="询问笔录.pdf", attached_to=f"finding:{finding['id']}")
    assert r.status_code == 201, r.get_json()
    ev = r.get_json()
    subject = f"finding:{finding['id']}"
    on_subject = [e for e in outbox() if e["subject"] == subject]
    assert [(e["type"], e["sequence"]) for e in on_subject] == [("finding.recorded", 1),
                                                                ("evidence.registered", 2)]
    assert on_subject[0]["payload"]["evidence"] == []
    event = parse_event(on_subject[1])  # what the cases consumer will read
    p = event.payload
    assert p["sha256"] == hashlib.sha256(content).hexdigest() == ev["sha256"]
    assert (p["evidence_id"], p["finding_id"], p["filename"], p["size"], p["media_type"]) == \
        (ev["id"], finding["id"], "询问笔录.pdf", len(content), "application/pdf")
    assert (p["region"], p["department"]) == (finding["region"], DEPT)


def test_attaching_to_a_finding_outside_the_callers_scope_is_refused_and_announces_nothing(api, tokens):
    finding = record_finding(api, tokens["inspector_other_dept"], institution_id="H5101002")
    assert finding["department"] == OTHER_DEPT
    before = len(outbox("evidence.registered"))
    r = upload(api, tokens["inspector"], unique_pdf("foreign"), attached_to=f"finding:{finding['id']}")
    assert r.status_code == 422 and r.get_json()["code"] == "attachment_not_found"
    assert len(outbox("evidence.registered")) == before


def test_evidence_not_attached_to_a_finding_is_not_announced(api, tokens):
    before = len(outbox("evidence.registered"))
    assert upload(api, tokens["inspector"], unique_pdf("loose")).status_code == 201
    assert len(outbox("evidence.registered")) == before


def test_handover_lists_the_flight_findings_evidence_hashes_in_finding_recorded(api, tokens, pools):  # noqa: F811
    plan = launched_plan(api, tokens)
    content = unique_pdf("site-photo")
    ev = upload(api, tokens["inspector"], content, name="现场照片.pdf",
                attached_to=f"plan:{plan['id']}").get_json()
    flight_finding = _finding(api, tokens, plan, evidence_ids=[ev["id"]])
    fed = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/feedback", tokens["inspector"],
                   json={"version": plan["version"]}).get_json()
    inst = api.token("institution", "inst-e", institution_id=plan["targets"][0]["institution_id"])
    assert api.call("POST", f"/api/v1/flight-findings/{flight_finding['id']}/response", inst,
                    json={"response": "accepted"}).status_code == 200
    r = api.call("POST", f"/api/v1/flight-plans/{plan['id']}/handover", tokens["leader"],
                 json={"version": fed["version"]})
    assert r.status_code == 200, r.get_json()
    finding_id = r.get_json()["findings"][0]["id"]
    event = next(e for e in outbox("finding.recorded") if e["payload"]["finding_id"] == finding_id)
    listed = parse_event(event).payload["evidence"]
    assert [(e["evidence_id"], e["sha256"], e["filename"], e["size"]) for e in listed] == \
        [(ev["id"], hashlib.sha256(content).hexdigest(), "现场照片.pdf", len(content))]
