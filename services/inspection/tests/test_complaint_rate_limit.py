"""Rate limit on complaint submission: N per window per client (address + user), counted in the
database (so every gunicorn worker sees the same count), 429 problem+json ``rate_limited`` with
``retry_after``; configurable via FUNDGUARD_COMPLAINT_RATE_LIMIT / _WINDOW."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from fundguard_inspection.models import RATE_LIMITS
from fundguard_inspection.runtime import runtime

from inspection_testkit import DEPT, ENV_KEYS, REGION, _clear_caches, make_api

BODY = {"channel": "web", "real_name": False, "institution_id": "H5101001",
        "institution_name": "成都某医院", "summary": "该院虚构诊疗项目", "received_on": "2026-09-21"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        yield make_api(tmp_path_factory.mktemp("ratelimit"), FUNDGUARD_COMPLAINT_RATE_LIMIT="3",
                       FUNDGUARD_COMPLAINT_RATE_WINDOW="3600")
    finally:
        _clear_caches()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_complaint_submission_is_rate_limited_per_client(api):
    a = api.token("inspector", "insp-rl-a", region=REGION, department=DEPT)
    b = api.token("inspector", "insp-rl-b", region=REGION, department=DEPT)
    for _ in range(3):
        r = api.call("POST", "/api/v1/complaints", a, json=BODY)
        assert r.status_code == 201, r.get_json()
    r = api.call("POST", "/api/v1/complaints", a, json=BODY)
    assert r.status_code == 429
    assert r.mimetype == "application/problem+json"
    problem = r.get_json()
    assert problem["code"] == "rate_limited" and problem["status"] == 429
    assert 0 < problem["retry_after"] <= 3600
    assert "请求过于频繁" in problem["message_zh"]
    # invalid bodies count too (the limit guards the endpoint, not only successful submissions)
    assert api.call("POST", "/api/v1/complaints", a, json={}).status_code == 429
    # another client has its own budget; reads are not limited
    assert api.call("POST", "/api/v1/complaints", b, json=BODY).status_code == 201
    assert api.call("GET", "/api/v1/complaints", a).status_code == 200
    # the count lives in the database (shared across workers), not in process memory
    with runtime().engine.connect() as conn:
        counts = conn.execute(select(RATE_LIMITS.c.bucket, func.sum(RATE_LIMITS.c.count))
                              .group_by(RATE_LIMITS.c.bucket)).all()
    by_bucket = {bucket: n for bucket, n in counts}
    assert any(k.startswith("complaint|") and k.endswith("|insp-rl-a") and n == 3
               for k, n in by_bucket.items()), by_bucket


def test_complaint_rate_limit_is_read_from_the_environment_per_request(api, monkeypatch):
    c = api.token("inspector", "insp-rl-c", region=REGION, department=DEPT)
    monkeypatch.setenv("FUNDGUARD_COMPLAINT_RATE_LIMIT", "1")
    assert api.call("POST", "/api/v1/complaints", c, json=BODY).status_code == 201
    assert api.call("POST", "/api/v1/complaints", c, json=BODY).status_code == 429
    monkeypatch.setenv("FUNDGUARD_COMPLAINT_RATE_LIMIT", "5")
    assert api.call("POST", "/api/v1/complaints", c, json=BODY).status_code == 201


def test_complaint_rate_limit_is_documented_in_openapi(api):
    spec = api.call("GET", "/api/v1/openapi.json").get_json()
    assert "429" in spec["paths"]["/api/v1/complaints"]["post"]["responses"]
