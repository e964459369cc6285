"""Every object endpoint × every role × own/foreign scope: an object outside the caller's scope
answers 404 (or 403 for a role the endpoint never admits), never its data.

The endpoints are read from each service's OpenAPI, so a new object endpoint is covered as soon
as it exists — and fails here until its path parameter has an object factory below."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.helpers import case_for_finding, inbox_entries, record_finding
from tests.test_e2e_inspection import inspection_objects
from tests.support.platform import SERVICES, wait_for

pytestmark = pytest.mark.platform

OWN = ("inspector", "leader", "legal_reviewer", "panel_member", "institution")
FOREIGN = ("inspector_other_dept", "inspector_other_region", "leader_other_region",
           "institution_other")


# Roles that must see the in-scope object (200); the other own-scope roles may get 403/404.
MUST_SEE = {
    "/api/v1/findings/{finding_id}": {"inspector", "leader"},
    "/api/v1/cases/{case_id}": {"inspector", "leader", "legal_reviewer", "panel_member",
                                "institution"},
    "/api/v1/cases/{case_id}/audit": {"inspector", "leader"},
}


# 一人一档: a person's points record is national — it follows the person across institutions and
# regions (domain.md §c), so supervisors of any region may read it; institutions still only see
# their own staff. These paths admit foreign-scope supervisors; foreign institutions get 404.
NATIONAL = {"/api/v1/persons/{person_id}/points", "/api/v1/persons/{person_id}/proposals",
            "/api/v1/persons/{person_id}/objections",
            "/api/v1/persons/{person_id}/restorations",
            "/api/v1/persons/{person_id}/reregistration"}
SUPERVISORS = {"inspector_other_dept", "inspector_other_region", "leader_other_region"}


# An institution's standing is region-wide (not a department's): another department's inspector
# of the same region is inside its scope.
REGION_WIDE = {"/api/v1/institutions/{institution_id}/standing",
               "/api/v1/institutions/{institution_id}/staff"}


@pytest.fixture(scope="module")
def objects(platform, tokens):
    """One object of each kind, all in scope of region 510100 / 稽核一科 / institution H5101001."""
    finding = record_finding(platform, tokens["inspector"])
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    note = wait_for(lambda: inbox_entries(platform, tokens["leader"], case["id"]), what="inbox")[0]
    # a webhook endpoint of institution H5101001 (loopback port 9: nothing listens, no traffic
    # leaves the machine) and one delivery-log row
    hook = platform.call("POST", "notify", "/api/v1/webhooks", tokens["admin"],
                         json={"institution_id": "H5101001", "url": "https://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.text
    log = wait_for(lambda: platform.call(
        "GET", "notify", f"/api/v1/deliveries?notification_id={note['id']}", tokens["admin"]
    ).json()["items"], what="delivery log")
    person = platform.call("POST", "cases", "/api/v1/persons", tokens["leader"],
                           json={"national_id": "510104199001011234", "profession": "physician",
                                 "institution_id": "H5101001"})
    assert person.status_code == 200, person.text
    document = _issued_document(platform, tokens)
    attachment = platform.call("POST", "cases", f"/api/v1/cases/{case['id']}/attachments", tokens["institution"],
                               files={"file": ("申辩材料.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
                               data={"purpose": "defence"})
    assert attachment.status_code == 201, attachment.text
    return {"finding_id": finding["id"], "case_id": case["id"], "notification_id": note["id"],
            "document_id": document["id"], "attachment_id": attachment.json()["id"],
            "endpoint_id": hook.json()["id"], "delivery_id": log[0]["id"],
            "person_id": person.json()["id"], "institution_id": "H5101001",
            **inspection_objects(platform, tokens), "progress_id": _screening_progress(platform, tokens)}


def _screening_progress(platform, tokens) -> str:
    """The progress record of a screening run started with ``X-Progress-Token`` (after
    inspection_objects imported claims for the scope)."""
    token = "scope-" + uuid.uuid4().hex
    r = platform.call("POST", "inspection", "/api/v1/screening/runs", tokens["inspector"], json={},
                      headers={"X-Progress-Token": token})
    assert r.status_code == 201, r.text
    return token


def _issued_document(platform, tokens) -> dict:
    """A 立案审批表 of a second case of the same scope (立案 through the transitions API)."""
    case = case_for_finding(platform, tokens["leader"], record_finding(platform, tokens["inspector"])["id"])
    officers = [{"id": "insp-a", "name": "张三", "credential_no": "川医保执 001"},
                {"id": "insp-b", "name": "李四", "credential_no": "川医保执 002"}]
    for trigger, who, data in (("start_verification", "inspector", {}), ("open_case", "leader", {"officers": officers})):
        r = platform.call("POST", "cases", f"/api/v1/cases/{case['id']}/transitions", tokens[who],
                          json={"trigger": trigger, "version": case["version"], "reason": "立案", "data": data})
        assert r.status_code == 200, r.text
        case = r.json()
    r = platform.call("POST", "cases", f"/api/v1/cases/{case['id']}/documents", tokens["leader"],
                      json={"doc_type": "filing_approval"})
    assert r.status_code == 201, r.text
    return r.json()


def _object_endpoints(platform, service):
    spec = platform.call("GET", service, "/api/v1/openapi.json").json()
    for path, ops in spec["paths"].items():
        params = re.findall(r"{(\w+)}", path)
        if len(params) == 1:
            for method in ("get", "post", "put", "patch", "delete"):
                if method in ops:
                    yield method.upper(), path, params[0]


@pytest.mark.parametrize("service", SERVICES)
def test_object_outside_scope_is_404_for_every_role(platform, tokens, objects, service):
    checked, unknown = 0, []
    for method, path, param in _object_endpoints(platform, service):
        if param not in objects:
            unknown.append(path)
            continue
        url = path.replace("{" + param + "}", objects[param])
        if method != "GET":
            # writes: a foreign caller never succeeds (404 after auth, or 4xx on its body)
            for who in FOREIGN:
                r = platform.call(method, service, url, tokens[who], json={})
                national = path in NATIONAL and who in SUPERVISORS  # may reach the business rule
                assert 400 <= r.status_code < 500 and (national or r.status_code != 409), \
                    f"{who} {method} {url}: {r.status_code}"
                checked += 1
            continue
        for who in FOREIGN:
            r = platform.call("GET", service, url, tokens[who])
            inside = (path in NATIONAL and who in SUPERVISORS) or (
                path in REGION_WIDE and who == "inspector_other_dept")
            allowed = (200, 403, 404) if inside else (403, 404)
            assert r.status_code in allowed, f"{who} GET {url}: {r.status_code} {r.text[:200]}"
            checked += 1
        for who in OWN + ("admin",):
            r = platform.call("GET", service, url, tokens[who])
            assert r.status_code in (200, 403, 404), f"{who} GET {url}: {r.status_code}"
            if who in MUST_SEE.get(path, ()):
                assert r.status_code == 200, f"{who} GET {url}: {r.status_code}"
            if r.status_code == 200 and not path.endswith("/audit") and path in MUST_SEE:
                assert objects[param] in r.text
            checked += 1
    assert not unknown, f"object endpoints without a factory in this test: {unknown}"
    assert checked > 0
