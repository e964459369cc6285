"""Webhook signing secrets encrypted at rest (Fernet; FUNDGUARD_NOTIFY_SECRET_KEY, falling back
to FUNDGUARD_PII_KEY): never in clear in the database, shown only on create/rotate, deliveries
still signed with the clear secret; a missing key refuses (503), a wrong key fails the delivery (replayable)."""
from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import text

from fundguard_notify import runtime as rt
from fundguard_notify import secretbox
from fundguard_notify.channels.webhook import verify_signature
from notify_testkit import INST, transitioned


def register(notify, url):
    r = notify.call("POST", "/api/v1/webhooks", notify.token("admin", "admin-a"),
                    json={"institution_id": INST, "url": url})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def stored(notify, endpoint_id: str) -> dict:
    with notify.runtime.engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM webhook_endpoints WHERE id = :id"),
                                 {"id": endpoint_id}).mappings().one())


def test_webhook_secret_is_encrypted_at_rest(notify, receiver):
    ep = register(notify, receiver.url)
    row = stored(notify, ep["id"])
    assert "secret" not in row                                  # the clear column is gone
    assert row["secret_ciphertext"].startswith("gAAAAA")         # a Fernet token
    assert ep["secret"] not in str(tuple(row.values()))
    assert secretbox.decrypt(row["secret_ciphertext"]) == ep["secret"]
    # deliveries are still signed with the clear secret the institution was shown
    notify.handle(transitioned("notify", "reviewed", "notified"))
    assert notify.deliverer().run_once() == 1
    [req] = receiver.requests
    assert verify_signature(ep["secret"], req["body"], req["headers"]["X-Fundguard-Timestamp"],
                            req["headers"]["X-Fundguard-Signature"])


def test_webhook_secret_rotation_reencrypts_and_is_shown_once(notify, receiver):
    admin = notify.token("admin", "admin-a")
    ep = register(notify, receiver.url)
    before = stored(notify, ep["id"])["secret_ciphertext"]
    rotated = notify.call("POST", f"/api/v1/webhooks/{ep['id']}/rotate-secret", admin).get_json()
    after = stored(notify, ep["id"])["secret_ciphertext"]
    assert rotated["secret"] != ep["secret"] and after != before
    assert rotated["secret"] not in after and secretbox.decrypt(after) == rotated["secret"]
    assert "secret" not in notify.call("GET", f"/api/v1/webhooks/{ep['id']}", admin).get_json()
    listed = notify.call("GET", "/api/v1/webhooks", admin).get_json()["items"]
    assert all("secret" not in item and "secret_ciphertext" not in item for item in listed)


def test_webhook_secret_key_falls_back_to_the_pii_key(monkeypatch):
    pii = Fernet.generate_key().decode()
    monkeypatch.delenv("FUNDGUARD_NOTIFY_SECRET_KEY", raising=False)
    monkeypatch.setenv("FUNDGUARD_PII_KEY", pii)
    token = secretbox.encrypt("hook-secret")
    assert Fernet(pii.encode()).decrypt(token.encode()) == b"hook-secret"
    own = Fernet.generate_key().decode()
    monkeypatch.setenv("FUNDGUARD_NOTIFY_SECRET_KEY", f"{own},{pii}")  # rotation: new key first
    assert secretbox.decrypt(token) == "hook-secret"
    assert Fernet(own.encode()).decrypt(secretbox.encrypt("x").encode()) == b"x"


def test_webhook_secret_key_missing_refuses_to_store_in_clear(notify, receiver, monkeypatch,
                                                             tmp_path):
    monkeypatch.delenv("FUNDGUARD_NOTIFY_SECRET_KEY", raising=False)
    monkeypatch.delenv("FUNDGUARD_PII_KEY", raising=False)
    monkeypatch.setenv("FUNDGUARD_PII_KEY_FILE", str(tmp_path / "absent"))
    r = notify.call("POST", "/api/v1/webhooks", notify.token("admin", "admin-a"),
                    json={"institution_id": INST, "url": receiver.url})
    assert r.status_code == 503 and r.get_json()["code"] == "secret_key_missing"
    with notify.runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM webhook_endpoints")).scalar_one() == 0


def test_webhook_secret_under_a_wrong_key_fails_without_sending(notify, receiver,
                                                                       monkeypatch):
    register(notify, receiver.url)
    notify.handle(transitioned("notify", "reviewed", "notified"))
    monkeypatch.setenv("FUNDGUARD_NOTIFY_SECRET_KEY", Fernet.generate_key().decode())
    rt.reset()
    notify.deliverer().run_once()
    assert receiver.requests == []
    [d] = notify.deliveries(channel="webhook")
    assert d.status == "failed" and "secret" in (d.last_error or "")   # replayable once fixed
