from __future__ import annotations

import uuid

from tests.support.platform import wait_for


def finding_body(**over) -> dict:
    body = {"institution_id": "H5101001", "institution_name": "成都某某医院",
            "violation_type": "split_admission", "amount": "1234.50",
            "description": f"分解住院 {uuid.uuid4().hex[:8]}", "source": "flight_inspection",
            "act_date": "2026-03-01"}
    body.update(over)
    return body


def record_finding(platform, token, **over) -> dict:
    r = platform.call("POST", "inspection", "/api/v1/findings", token, json=finding_body(**over))
    assert r.status_code == 201, r.text
    return r.json()


def case_for_finding(platform, token, finding_id, timeout=30) -> dict:
    def find():
        r = platform.call("GET", "cases", "/api/v1/cases?per_page=200", token)
        assert r.status_code == 200, r.text
        return next((c for c in r.json()["items"] if c["finding_id"] == finding_id), None)
    return wait_for(find, timeout, what=f"case for finding {finding_id}")


def inbox_entries(platform, token, case_id) -> list[dict]:
    r = platform.call("GET", "notify", "/api/v1/inbox?per_page=200", token)
    assert r.status_code == 200, r.text
    return [n for n in r.json()["items"] if n["case_id"] == case_id]
