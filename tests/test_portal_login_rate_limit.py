"""Portal sign-in rate limit: at most PORTAL_LOGIN_RATE_LIMIT attempts per
PORTAL_LOGIN_RATE_WINDOW seconds from one address, counted in the portal's database (shared by
all gunicorn workers), on top of the per-account lockout. 429 with Retry-After: the sign-in page
for browsers, problem+json ``rate_limited`` with ``retry_after`` for API clients."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from fundguard_portal.config import load_portal_settings
from fundguard_portal.models import RATE_LIMITS, User

from tests.test_portal_app import PASSWORD, csrf_of, login, rt  # noqa: F401  (fixture)


@pytest.fixture
def app(rt):  # noqa: F811
    from fundguard_portal.app import create_app
    rt.settings = dataclasses.replace(rt.settings, login_rate_limit=4, login_rate_window=600)
    return create_app(rt)


def test_login_rate_limit_defaults_and_environment(monkeypatch):
    monkeypatch.delenv("PORTAL_LOGIN_RATE_LIMIT", raising=False)
    monkeypatch.delenv("PORTAL_LOGIN_RATE_WINDOW", raising=False)
    s = load_portal_settings()
    assert (s.login_rate_limit, s.login_rate_window) == (30, 600)
    monkeypatch.setenv("PORTAL_LOGIN_RATE_LIMIT", "7")
    monkeypatch.setenv("PORTAL_LOGIN_RATE_WINDOW", "60")
    s = load_portal_settings()
    assert (s.login_rate_limit, s.login_rate_window) == (7, 60)


def test_login_rate_limit_per_address_across_accounts(app, rt):  # noqa: F811
    c = app.test_client()
    # password spraying over several accounts: each stays under the lockout threshold (3) ...
    assert login(c, "insp", "wrong-1").status_code == 401
    assert login(c, "boss", "wrong-1").status_code == 401
    assert login(c, "inst", "wrong-1").status_code == 401
    assert login(c, "insp", PASSWORD).status_code == 302          # 4th attempt: still allowed
    c.post("/logout", data={"csrf_token": csrf_of(c.get("/workflow").get_data(as_text=True))})
    # ... but the address is out of attempts, even with the right password
    r = login(c, "boss", PASSWORD)
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 600
    html = r.get_data(as_text=True)
    assert "请求过于频繁" in html and "Traceback" not in html
    assert r.headers["X-Frame-Options"] == "DENY"
    with rt.sessions() as s:          # the refused attempt did not reach the account
        boss = s.execute(select(User).where(User.username == "boss")).scalar_one()
        assert boss.failed_logins == 1 and boss.last_login_at is None
    # API clients get problem+json
    token = csrf_of(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token},
               headers={"Accept": "application/json"})
    assert r.status_code == 429 and r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["code"] == "rate_limited" and 0 < body["retry_after"] <= 600
    # another address has its own budget
    other = app.test_client()
    token = csrf_of(other.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.9"})
                    .get_data(as_text=True))
    r = other.post("/login", data={"username": "boss", "password": PASSWORD,
                                   "csrf_token": token, "next": "/"},
                   environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 302
    # the count is in the database, so every worker sees it
    with rt.engine.connect() as conn:
        buckets = dict(conn.execute(select(RATE_LIMITS.c.bucket, RATE_LIMITS.c.count)).all())
    assert buckets.get("login|127.0.0.1") == 4 and buckets.get("login|10.0.0.9") == 1
