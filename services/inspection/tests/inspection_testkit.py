"""Test kit (fixtures and helpers) for the inspection service's own tests: the Flask app on a fresh SQLite database per
test module (migrated with the real migrations), tokens per role, no broker needed.

The environment is set per module and restored afterwards, so nothing leaks into the
cross-service tests that start the platform from ``os.environ``.
"""
from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass

import pytest

from fundguard_shared.auth import Principal, issue_token

SECRET = secrets.token_urlsafe(32)
REGION, OTHER_REGION = "510100", "440100"
DEPT, OTHER_DEPT = "稽核一科", "稽核二科"


@dataclass
class Api:
    client: object
    tmp: object

    def token(self, role: str, sub: str | None = None, **scope) -> str:
        return issue_token(Principal(sub=sub or f"{role}-{uuid.uuid4().hex[:6]}", role=role,
                                     **scope), SECRET, "fundguard-dev", "fundguard")

    def call(self, method: str, path: str, token: str | None = None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, headers=headers, **kw)


def _clear_caches():
    from fundguard_inspection import common, evidence, rewards
    from fundguard_inspection.runtime import runtime
    try:
        runtime().engine.dispose()
    except Exception:
        pass
    runtime.cache_clear()
    evidence.store.cache_clear()
    rewards._load_config.cache_clear()
    common.calendar.cache_clear()


ENV_KEYS = ("INSPECTION_DATABASE_URL", "FUNDGUARD_VAR_DIR", "FUNDGUARD_JWT_SECRET",
            "FUNDGUARD_PII_KEY", "FUNDGUARD_PII_KEY_FILE", "FUNDGUARD_EVIDENCE_MAX_BYTES",
            "FUNDGUARD_MAX_BODY_BYTES", "BROKER_URL", "FUNDGUARD_COMPLAINT_HANDLERS",
            "FUNDGUARD_COMPLAINT_HANDLER_IDS", "FUNDGUARD_REWARD_CONFIG",
            "FUNDGUARD_SCREENING_DIR", "FUNDGUARD_CLAIMS_MAX_BYTES",
            "FUNDGUARD_COMPLAINT_RATE_LIMIT", "FUNDGUARD_COMPLAINT_RATE_WINDOW")


def make_api(tmp, **env) -> Api:
    from cryptography.fernet import Fernet
    from fundguard_shared.migrate import upgrade
    db = f"sqlite:///{tmp / 'inspection.db'}"
    os.environ.update({
        "INSPECTION_DATABASE_URL": db, "FUNDGUARD_VAR_DIR": str(tmp),
        "FUNDGUARD_JWT_SECRET": SECRET, "FUNDGUARD_PII_KEY": Fernet.generate_key().decode(),
        "BROKER_URL": f"fgsqlite:///{tmp / 'bus.db'}", "FUNDGUARD_EVIDENCE_MAX_BYTES": "200000",
        # the modules register many complaints with one token; the limit has its own test
        "FUNDGUARD_COMPLAINT_RATE_LIMIT": "10000", "FUNDGUARD_COMPLAINT_RATE_WINDOW": "3600",
    } | env)
    _clear_caches()
    upgrade("fundguard_inspection", db)
    from fundguard_inspection.app import create_app
    app = create_app()
    app.testing = True
    return Api(app.test_client(), tmp)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        yield make_api(tmp_path_factory.mktemp("inspection"))
    finally:
        _clear_caches()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def tokens(api):
    return {
        "inspector": api.token("inspector", "insp-a", region=REGION, department=DEPT),
        "inspector2": api.token("inspector", "insp-a2", region=REGION, department=DEPT),
        "inspector_other_dept": api.token("inspector", "insp-b", region=REGION,
                                          department=OTHER_DEPT),
        "inspector_other_region": api.token("inspector", "insp-c", region=OTHER_REGION,
                                            department=DEPT),
        "leader": api.token("leader", "leader-a", region=REGION),
        "leader_other_region": api.token("leader", "leader-b", region=OTHER_REGION),
        "legal_reviewer": api.token("legal_reviewer", "legal-a", region=REGION),
        "institution": api.token("institution", "inst-a", institution_id="H5101001"),
        "institution_other": api.token("institution", "inst-b", institution_id="H5101002"),
    }


def outbox(event_type: str | None = None) -> list[dict]:
    import json
    from sqlalchemy import select
    from fundguard_inspection.models import MESSAGING
    from fundguard_inspection.runtime import runtime
    t = MESSAGING.outbox
    q = select(t.c.body).order_by(t.c.id)
    if event_type:
        q = q.where(t.c.event_type == event_type)
    with runtime().engine.connect() as conn:
        return [json.loads(b) for b in conn.execute(q).scalars()]
