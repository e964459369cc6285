"""Token verification: development issuer, external identity provider (JWKS), skew, lifetime."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, g

from fundguard_shared.auth import Principal, issue_token, require
from fundguard_shared.config import load_settings
from fundguard_shared.errors import register_error_handlers

SECRET = "s" * 48


@pytest.fixture
def idp():
    """A real local JWKS endpoint serving one RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


@pytest.fixture
def client(monkeypatch, idp, tmp_path):
    monkeypatch.setenv("FUNDGUARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("FUNDGUARD_JWT_SECRET", SECRET)
    monkeypatch.setenv("FUNDGUARD_OIDC_ISSUER", "https://idp.example.gov.cn")
    monkeypatch.setenv("FUNDGUARD_OIDC_AUDIENCE", "fundguard-prod")
    monkeypatch.setenv("FUNDGUARD_OIDC_JWKS_URL", idp[1])
    app = Flask("t")
    app.config["SETTINGS"] = load_settings("test")
    register_error_handlers(app)

    @app.get("/leaders")
    @require("leader")
    def leaders():
        return {"sub": g.principal.sub, "region": g.principal.region}

    return app.test_client()


def _rs(key, **claims):
    now = int(time.time())
    base = {"iss": "https://idp.example.gov.cn", "aud": "fundguard-prod", "sub": "u1",
            "role": "leader", "region": "510100", "iat": now, "exp": now + 600}
    return jwt.encode(base | claims, key, algorithm="RS256", headers={"kid": "k1"})


def _get(client, token):
    return client.get("/leaders", headers={"Authorization": f"Bearer {token}"})


def test_development_issuer_token_accepted(client):
    token = issue_token(Principal("w", "leader", region="510100"), SECRET, "fundguard-dev", "fundguard")
    assert _get(client, token).json == {"sub": "w", "region": "510100"}


def test_external_identity_provider_token_verified_by_jwks(client, idp):
    assert _get(client, _rs(idp[0])).json["sub"] == "u1"


def test_external_token_with_wrong_audience_or_foreign_key_rejected(client, idp):
    assert _get(client, _rs(idp[0], aud="someone-else")).json["code"] == "token_invalid"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _get(client, _rs(other)).status_code == 401


def test_untrusted_issuer_rejected(client, idp):
    r = _get(client, _rs(idp[0], iss="https://evil.example"))
    assert r.status_code == 401 and r.json["code"] == "token_invalid"


def test_clock_skew_within_leeway_is_tolerated_beyond_it_rejected(client, idp):
    now = int(time.time())
    assert _get(client, _rs(idp[0], exp=now - 10, iat=now - 600)).status_code == 200
    r = _get(client, _rs(idp[0], exp=now - 120, iat=now - 600))
    assert r.status_code == 401 and r.json["code"] == "token_expired"


def test_long_lived_tokens_are_refused(client, idp):
    now = int(time.time())
    r = _get(client, _rs(idp[0], iat=now, exp=now + 30 * 24 * 3600))
    assert r.status_code == 401 and r.json["code"] == "token_lifetime_too_long"


def test_wrong_role_is_403_and_names_allowed_roles(client):
    token = issue_token(Principal("i", "institution", institution_id="H1"), SECRET,
                        "fundguard-dev", "fundguard")
    r = _get(client, token)
    assert r.status_code == 403 and r.json["allowed_roles"] == ["leader"]


def test_alg_none_token_rejected(client):
    token = jwt.encode({"iss": "fundguard-dev", "aud": "fundguard", "sub": "x", "role": "leader",
                        "region": "510100", "iat": int(time.time()),
                        "exp": int(time.time()) + 60}, None, algorithm="none")
    assert _get(client, token).status_code == 401


def test_a_verified_token_is_refused_once_it_expires_even_though_it_was_cached(client, idp, monkeypatch):
    """Verified tokens are cached for speed; the cache never outlives the token's exp + leeway."""
    from fundguard_shared import auth
    now = int(time.time())
    token = _rs(idp[0], iat=now, exp=now + 60)
    assert _get(client, token).status_code == 200
    assert _get(client, token).status_code == 200  # served from the cache
    later = now + 60 + 31  # beyond the 30 s leeway
    monkeypatch.setattr(auth.time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime(later), raising=False)
    r = _get(client, token)
    assert r.status_code == 401 and r.json["code"] == "token_expired"


def test_a_cached_token_is_not_accepted_by_an_app_trusting_other_issuers(idp, monkeypatch, tmp_path):
    """The cache is keyed by the issuer set: a token verified by one configuration is verified
    again (and refused) by an app that does not trust its issuer."""
    from fundguard_shared.auth import issue_token as _issue
    monkeypatch.setenv("FUNDGUARD_VAR_DIR", str(tmp_path))
    apps = []
    for secret in (SECRET, "t" * 48):
        monkeypatch.setenv("FUNDGUARD_JWT_SECRET", secret)
        app = Flask("t")
        app.config["SETTINGS"] = load_settings("test")
        register_error_handlers(app)
        app.add_url_rule("/leaders", "leaders", require("leader")(lambda: {"sub": g.principal.sub}))
        apps.append(app.test_client())
    token = _issue(Principal("l", "leader", region="510100"), SECRET, "fundguard-dev", "fundguard")
    assert _get(apps[0], token).status_code == 200
    assert _get(apps[1], token).status_code == 401


class _FrozenDatetime:
    """Stands in for ``datetime`` inside PyJWT so its exp check sees the same moved clock."""

    def __init__(self, epoch: int):
        import datetime as _dt
        self._dt, self._epoch = _dt.datetime, epoch

    def now(self, tz=None):
        return self._dt.fromtimestamp(self._epoch, tz)

    def __getattr__(self, name):
        return getattr(self._dt, name)
