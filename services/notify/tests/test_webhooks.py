"""Webhooks to institutions' systems: signed, retried with backoff, dead-lettered, replayed.
A real HTTP receiver (http.server in a thread) stands in for the institution's system."""
from __future__ import annotations

import json
import sys
from datetime import timedelta

import pytest

from fundguard_notify.channels.webhook import sign, signed_headers, verify_signature
from fundguard_shared.outbox import utcnow
from notify_testkit import INST, REGION, start_receiver, transitioned


def register(notify, url, institution_id=INST, **extra):
    r = notify.call("POST", "/api/v1/webhooks", notify.token("admin", "admin-a"),
                    json={"institution_id": institution_id, "url": url, **extra})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def run_cli(capsys, *argv) -> tuple[int, str]:
    """``fundguard-notify ARGV`` in this process (same environment as the service under test)."""
    from fundguard_notify import cli
    capsys.readouterr()
    old = sys.argv
    sys.argv = ["fundguard-notify", *argv]
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = old
    return code, capsys.readouterr().out


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += timedelta(seconds=seconds)


# ---- signing ------------------------------------------------------------------------------------

def test_webhook_signature_verifies_and_rejects_tampering():
    body = json.dumps({"kind": "prior_notice"}).encode()
    h = signed_headers("s3cret", body, "d1", "prior_notice", now=1_750_000_000)
    ts, sig = h["X-Fundguard-Timestamp"], h["X-Fundguard-Signature"]
    assert sig == sign("s3cret", ts, body) and sig.startswith("sha256=")
    assert verify_signature("s3cret", body, ts, sig, now=1_750_000_010)
    assert not verify_signature("other", body, ts, sig, now=1_750_000_010)
    assert not verify_signature("s3cret", body + b" ", ts, sig, now=1_750_000_010)
    assert not verify_signature("s3cret", body, str(int(ts) + 1), sig, now=1_750_000_010)
    assert not verify_signature("s3cret", body, None, sig)
    assert not verify_signature("s3cret", body, "abc", sig)


def test_webhook_signature_rejects_replay_outside_window():
    body = b'{"a": 1}'
    ts = "1750000000"
    sig = sign("s3cret", ts, body)
    assert verify_signature("s3cret", body, ts, sig, now=1_750_000_000 + 300)
    assert not verify_signature("s3cret", body, ts, sig, now=1_750_000_000 + 301)
    assert not verify_signature("s3cret", body, ts, sig, now=1_750_000_000 - 301)  # future
    assert verify_signature("s3cret", body, ts, sig, now=1_750_000_000 + 900, window=900)


# ---- delivery -----------------------------------------------------------------------------------

def test_webhook_delivery_is_signed_with_the_endpoint_secret(notify, receiver):
    ep = register(notify, receiver.url)
    notify.handle(transitioned("notify", "reviewed", "notified"))
    assert notify.deliverer().run_once() == 1
    [req] = receiver.requests
    h = req["headers"]
    assert verify_signature(ep["secret"], req["body"], h["X-Fundguard-Timestamp"],
                            h["X-Fundguard-Signature"])
    payload = json.loads(req["body"])
    assert payload["kind"] == "prior_notice" and payload["institution_id"] == INST
    assert "陈述" in payload["body"] and payload["event"]["type"] == "case.transitioned"
    [d] = notify.deliveries(channel="webhook")
    assert h["Idempotency-Key"] == h["X-Fundguard-Delivery"] == d.id
    assert d.status == "sent" and d.attempts == 1


def test_webhook_retries_with_backoff_then_dead_letters(notify):
    receiver, server = start_receiver(fail_first=100)
    try:
        register(notify, receiver.url)
        notify.handle(transitioned("decide", "notified", "decided"))
        clock = Clock()
        deliverer = notify.deliverer(clock=clock)
        waits = []
        for attempt in range(1, 5):
            assert deliverer.run_once() == 1, f"attempt {attempt} was due"
            [d] = notify.deliveries(channel="webhook")
            if d.status == "dead":
                break
            wait = (d.next_attempt_at.replace(tzinfo=clock.now.tzinfo) - clock.now).total_seconds()
            waits.append(round(wait))
            clock.advance(wait - 1)
            assert deliverer.run_once() == 0, "nothing is sent before its time"
            clock.advance(1)
        assert waits == [10, 20, 40]                 # base 10 s, doubling
        [d] = notify.deliveries(channel="webhook")
        assert d.status == "dead" and d.attempts == 4 and d.last_error == "HTTP 503"
        assert len(receiver.requests) == 4
        # each retry carries the same idempotency key and a fresh, valid signature
        assert {r["headers"]["Idempotency-Key"] for r in receiver.requests} == {d.id}
        clock.advance(10_000)
        assert deliverer.run_once() == 0             # dead letters stay put

        admin = notify.token("admin", "admin-a")
        dead = notify.call("GET", "/api/v1/deliveries/dead-letters", admin).get_json()
        assert [x["id"] for x in dead["items"]] == [d.id]
        detail = notify.call("GET", f"/api/v1/deliveries/{d.id}", admin).get_json()
        assert [a["outcome"] for a in detail["attempt_log"]] == ["retry"] * 3 + ["dead"]
        assert all(a["response_code"] == 503 for a in detail["attempt_log"])

        receiver.fail_first = 0                      # the institution fixed its system
        r = notify.call("POST", f"/api/v1/deliveries/{d.id}/replay", admin)
        assert r.status_code == 200 and r.get_json()["replays"] == 1
        assert deliverer.run_once() == 1
        [d] = notify.deliveries(channel="webhook")
        assert d.status == "sent"
        assert receiver.requests[-1]["headers"]["Idempotency-Key"] == d.id
        assert notify.call("GET", "/api/v1/deliveries/dead-letters", admin).get_json()["total"] == 0
        r = notify.call("POST", f"/api/v1/deliveries/{d.id}/replay", admin)
        assert r.status_code == 409 and r.get_json()["code"] == "not_replayable"
    finally:
        server.shutdown()
        server.server_close()


def test_stale_webhook_claim_is_resent_with_the_same_key(notify, receiver):
    """At least once: a worker that died mid-send leaves a claim the next round sends again."""
    register(notify, receiver.url)
    notify.handle(transitioned("decide", "notified", "decided"))
    [claimed] = notify.deliverer().claim()
    clock = Clock()
    clock.advance(notify.cfg.lease_seconds + 1)
    assert notify.deliverer(clock=clock).run_once() == 1
    [d] = notify.deliveries(channel="webhook")
    assert d.status == "sent" and d.id == claimed.id
    assert receiver.requests[0]["headers"]["Idempotency-Key"] == claimed.id


def test_replay_webhook_cli(notify, capsys):
    receiver, server = start_receiver(fail_first=100)
    try:
        register(notify, receiver.url)
        notify.handle(transitioned("decide", "notified", "decided"))
        clock = Clock()
        for _ in range(4):
            notify.deliverer(clock=clock).run_once()
            clock.advance(3600)
        [d] = notify.deliveries(channel="webhook")
        assert d.status == "dead"
        listed = run_cli(capsys, "webhook-dead-letters")
        assert listed[0] == 0 and json.loads(listed[1].splitlines()[0])["id"] == d.id
        code, out = run_cli(capsys, "replay-webhook", d.id)
        assert code == 0 and json.loads(out) == {"id": d.id, "status": "pending", "replays": 1}
        assert run_cli(capsys, "replay-webhook", d.id)[0] == 1      # already queued
        assert run_cli(capsys, "replay-webhook", "nope")[0] == 1
        receiver.fail_first = 0
        notify.deliverer(clock=clock).run_once()
        assert notify.deliveries(channel="webhook")[0].status == "sent"
    finally:
        server.shutdown()
        server.server_close()


def test_webhooks_go_only_to_the_institutions_own_endpoints_and_kinds(notify, receiver):
    other_rec, other_server = start_receiver()
    try:
        register(notify, receiver.url, kinds=["decision"])
        register(notify, other_rec.url, institution_id="H9999999")
        notify.handle(transitioned("notify", "reviewed", "notified"))    # prior_notice: filtered
        notify.handle(transitioned("decide", "notified", "decided"))     # decision: sent
        notify.handle(transitioned("start_verification", "clue_registered", "clue_verifying"))
        notify.deliverer().run_once()
        assert [json.loads(r["body"])["kind"] for r in receiver.requests] == ["decision"]
        assert other_rec.requests == []
    finally:
        other_server.shutdown()
        other_server.server_close()


def test_personal_acknowledgment_is_not_posted_to_institution_systems(notify, receiver):
    register(notify, receiver.url)
    notify.handle(transitioned("file_defence", "notified", "notified", actor="inst-a"))
    notify.deliverer().run_once()
    assert receiver.requests == []


def test_disabled_endpoint_fails_its_queued_deliveries(notify, receiver):
    ep = register(notify, receiver.url)
    notify.handle(transitioned("decide", "notified", "decided"))
    admin = notify.token("admin", "admin-a")
    assert notify.call("DELETE", f"/api/v1/webhooks/{ep['id']}", admin).status_code == 204
    notify.deliverer().run_once()
    [d] = notify.deliveries(channel="webhook")
    assert d.status == "failed" and "disabled" in d.last_error and receiver.requests == []


# ---- the endpoint API -----------------------------------------------------------------------

def test_webhook_endpoints_are_admin_only_and_the_secret_is_shown_once(notify, receiver):
    ep = register(notify, receiver.url, description="HIS 对接")
    assert len(ep["secret"]) >= 32
    admin = notify.token("admin", "admin-a")
    got = notify.call("GET", f"/api/v1/webhooks/{ep['id']}", admin).get_json()
    assert "secret" not in got and got["description"] == "HIS 对接"
    assert "secret" not in notify.call("GET", "/api/v1/webhooks", admin).get_json()["items"][0]
    rotated = notify.call("POST", f"/api/v1/webhooks/{ep['id']}/rotate-secret", admin).get_json()
    assert rotated["secret"] != ep["secret"]
    r = notify.call("PATCH", f"/api/v1/webhooks/{ep['id']}", admin,
                    json={"kinds": ["decision"], "active": False})
    assert r.status_code == 200 and r.get_json()["kinds"] == ["decision"]
    for role, scope in (("institution", {"institution_id": INST}), ("leader", {"region": REGION})):
        tok = notify.token(role, **scope)
        assert notify.call("GET", "/api/v1/webhooks", tok).status_code == 403
        assert notify.call("POST", "/api/v1/webhooks", tok,
                           json={"institution_id": INST, "url": receiver.url}).status_code == 403
    assert notify.call("GET", "/api/v1/webhooks/nope", admin).status_code == 404
    assert notify.call("GET", "/api/v1/webhooks").status_code == 401


@pytest.mark.parametrize("url", ["ftp://x.example/hook", "javascript:alert(1)", "http://",
                                 "https://user:pw@x.example/hook"])
def test_webhook_url_must_be_http_without_credentials(notify, url):
    r = notify.call("POST", "/api/v1/webhooks", notify.token("admin"),
                    json={"institution_id": INST, "url": url})
    assert r.status_code == 422 and r.get_json()["code"] == "validation_failed"


def test_https_can_be_required(notify, monkeypatch):
    monkeypatch.setenv("FUNDGUARD_WEBHOOK_REQUIRE_HTTPS", "1")
    from fundguard_notify import runtime as rt
    rt.notify_config.cache_clear()
    admin = notify.token("admin")
    r = notify.call("POST", "/api/v1/webhooks", admin,
                    json={"institution_id": INST, "url": "http://his.example/hook"})
    assert r.status_code == 422
    r = notify.call("POST", "/api/v1/webhooks", admin,
                    json={"institution_id": INST, "url": "https://his.example/hook"})
    assert r.status_code == 201


def test_institution_sees_only_its_own_webhook_deliveries(notify, receiver):
    register(notify, receiver.url)
    register(notify, receiver.url, institution_id="H9999999")
    notify.handle(transitioned("decide", "notified", "decided"))
    from notify_testkit import case_payload
    notify.handle(transitioned("decide", "notified", "decided",
                               case=case_payload(institution_id="H9999999")))
    notify.deliverer().run_once()
    mine = notify.token("institution", institution_id=INST)
    page = notify.call("GET", "/api/v1/deliveries", mine).get_json()
    assert page["total"] == 1 and page["items"][0]["institution_id"] == INST
    assert page["items"][0]["channel"] == "webhook"
    theirs = [d for d in notify.deliveries(channel="webhook") if d.institution_id != INST][0]
    assert notify.call("GET", f"/api/v1/deliveries/{theirs.id}", mine).status_code == 404
    ours = page["items"][0]["id"]
    detail = notify.call("GET", f"/api/v1/deliveries/{ours}", mine).get_json()
    assert detail["attempt_log"][0]["outcome"] == "ok"
    assert notify.call("POST", f"/api/v1/deliveries/{ours}/replay", mine).status_code == 403
    assert notify.call("GET", "/api/v1/deliveries/dead-letters", mine).status_code == 403
    leader = notify.token("leader", region=REGION)
    assert notify.call("GET", "/api/v1/deliveries", leader).status_code == 403
    admin = notify.token("admin")
    assert notify.call("GET", "/api/v1/deliveries?channel=webhook", admin).get_json()["total"] == 2


def test_delivery_log_per_notice_lists_every_channel(notify, receiver, smtp_sink):
    register(notify, receiver.url)
    inst = notify.token("institution", "inst-a", institution_id=INST)
    notify.set_prefs(inst, email="yibao@hospital.example.cn")
    notify.handle(transitioned("decide", "notified", "decided"))
    notify.deliverer().run_once()
    inbox = notify.call("GET", "/api/v1/inbox", inst).get_json()["items"]
    notice = next(n for n in inbox if n["kind"] == "decision")
    log = notify.call("GET", f"/api/v1/deliveries?notification_id={notice['id']}",
                      notify.token("admin")).get_json()
    assert sorted((d["channel"], d["status"]) for d in log["items"]) == [
        ("email", "sent"), ("inbox", "sent"), ("webhook", "sent")]


@pytest.mark.parametrize("body", [
    {"institution_id": INST, "url": "http://[::1/hook"},
    {"institution_id": INST, "url": "http://his.example:99999/hook"},
    {"institution_id": "H\x00", "url": "http://his.example/hook"},
    {"institution_id": INST, "url": "http://his.example/hook", "description": "a\x00b"},
])
def test_malformed_endpoint_input_is_refused_not_a_server_error(notify, body):
    r = notify.call("POST", "/api/v1/webhooks", notify.token("admin"), json=body)
    assert r.status_code == 422


def test_ids_that_cannot_exist_are_refused_not_a_server_error(notify):
    admin = notify.token("admin")
    assert notify.call("GET", "/api/v1/webhooks/" + "x" * 80, admin).status_code == 404
    for method, path in (("GET", "/api/v1/webhooks/a%00b"), ("GET", "/api/v1/deliveries/a%00b"),
                         ("POST", "/api/v1/inbox/a%00b/read"),
                         ("GET", "/api/v1/deliveries?kind=a%00b")):
        assert notify.call(method, path, admin).status_code in (404, 422), path
