"""Notify through the real processes: finding -> case -> e-mail to a real SMTP sink; a decision
event on the bus -> signed webhook to a real HTTP receiver (failing once, then retried), e-mail
and inbox for the institution; the same event delivered twice sends nothing twice.

Starts its own platform (the notify worker needs the SMTP sink's address in its environment).
"""
from __future__ import annotations

import json
import sys
import time
import uuid

import pytest
from aiosmtpd.controller import Controller

from fundguard_shared.bus.publisher import BusPublisher
from fundguard_shared.events import make_event
from fundguard_shared.topology import Topology
from tests.helpers import case_for_finding, record_finding
from tests.support.platform import ROOT, Platform, free_port, wait_for

sys.path.insert(0, str(ROOT / "services/notify/tests"))
from notify_testkit import _Sink, start_receiver  # noqa: E402

from fundguard_notify.channels.webhook import verify_signature  # noqa: E402

pytestmark = pytest.mark.platform

INST = "H5101001"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, backend):
    sink = _Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    receiver, server = start_receiver(fail_first=1)
    p = Platform(backend, tmp_path_factory.mktemp(f"notify-e2e-{backend}"))
    p.env.update({
        "FUNDGUARD_SMTP_HOST": "127.0.0.1", "FUNDGUARD_SMTP_PORT": str(smtp.port),
        "FUNDGUARD_SMTP_TLS": "none", "FUNDGUARD_NOTIFY_DELIVERY_INTERVAL": "0.1",
        "FUNDGUARD_WEBHOOK_BACKOFF_BASE": "0.5", "FUNDGUARD_WEBHOOK_MAX_ATTEMPTS": "3",
    })
    try:
        p.setup().start()
        yield p, sink, receiver
    finally:
        p.teardown()
        server.shutdown()
        server.server_close()
        smtp.stop()


def publish(platform, event) -> None:
    topology = Topology(platform.env["FUNDGUARD_BUS_PREFIX"], rabbitmq=platform.backend == "real")
    publisher = BusPublisher(platform.broker_url(), topology)
    try:
        publisher.publish_batch([(event.type, event.to_json())])
    finally:
        publisher.close()


def put_prefs(platform, token, email):
    r = platform.call("PUT", "notify", "/api/v1/preferences", token, json={"email": email})
    assert r.status_code == 200, r.text


def test_notices_reach_email_webhook_and_inbox_once(stack):
    platform, sink, receiver = stack
    admin = platform.token("admin", "admin-a")
    leader = platform.token("leader", "leader-a", region="510100")
    inspector = platform.token("inspector", "insp-a", region="510100", department="稽核一科")
    inst = platform.token("institution", "inst-a", institution_id=INST)
    put_prefs(platform, leader, "leader@ybj.example.cn")
    put_prefs(platform, inst, "yibao@hospital.example.cn")
    r = platform.call("POST", "notify", "/api/v1/webhooks", admin,
                      json={"institution_id": INST, "url": receiver.url})
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]

    # finding -> case -> the leader's e-mail, through all three services
    finding = record_finding(platform, inspector)
    case = case_for_finding(platform, leader, finding["id"])
    mail = wait_for(lambda: next((m for m in sink.to("leader@ybj.example.cn")
                                  if case["number"] in m["Subject"]), None),
                    timeout=60, what="leader e-mail")
    assert mail["Subject"] == f"新线索登记 {case['number']}"

    # a decision, as the cases service publishes it, delivered twice by the bus
    case_id = str(uuid.uuid4())
    event = make_event("case.transitioned", {
        "case_id": case_id, "case_number": "成医保罚〔2026〕99号", "trigger": "decide",
        "from_state": "notified", "to_state": "decided", "version": 9, "reason": "",
        "institution_id": INST, "region": "510100", "department": "稽核一科",
    }, subject=f"case:{case_id}", sequence=1, producer="cases", actor="leader-a")
    publish(platform, event)
    publish(platform, event)

    hook = wait_for(lambda: receiver.received, timeout=60, what="webhook delivery")[0]
    assert verify_signature(secret, hook["body"], hook["headers"]["X-Fundguard-Timestamp"],
                            hook["headers"]["X-Fundguard-Signature"])
    assert json.loads(hook["body"])["kind"] == "decision"
    assert [r["answered"] for r in receiver.requests] == [503, 200]   # failed once, retried
    assert len({r["headers"]["Idempotency-Key"] for r in receiver.requests}) == 1
    wait_for(lambda: sink.to("yibao@hospital.example.cn"), timeout=30, what="institution e-mail")

    items = platform.call("GET", "notify", "/api/v1/inbox", inst).json()["items"]
    assert [n["kind"] for n in items if n["case_id"] == case_id] == ["decision"]
    log = platform.call("GET", "notify", "/api/v1/deliveries?channel=webhook", inst).json()
    assert log["total"] == 1 and log["items"][0]["status"] == "sent"
    detail = platform.call("GET", "notify", f"/api/v1/deliveries/{log['items'][0]['id']}",
                           admin).json()
    assert [a["outcome"] for a in detail["attempt_log"]] == ["retry", "ok"]

    time.sleep(2)  # anything sent twice would have arrived by now
    assert len(receiver.received) == 1
    assert len(sink.to("yibao@hospital.example.cn")) == 1
    assert len([m for m in sink.to("leader@ybj.example.cn")
                if case["number"] in m["Subject"]]) == 1


def test_points_and_standing_changes_reach_the_institution_inbox(stack):
    """Through the real processes: an agreement sanction is decided; the cases worker consumes
    sanction.decided from the bus and announces standing.changed (credit tier C); a leader
    proposes a score for a staff member (points.proposed, with the defence window), the
    institution waives the defence (points.scored): every notice reaches the institution's inbox."""
    platform, _sink, _receiver = stack
    leader = platform.token("leader", "leader-a", region="510100")
    inspector = platform.token("inspector", "insp-a", region="510100", department="稽核一科")
    inst = platform.token("institution", "inst-a", institution_id=INST)
    finding = record_finding(platform, inspector)
    case = case_for_finding(platform, leader, finding["id"])
    officers = [{"id": "insp-a", "name": "张三", "credential_no": "川医保执 001"},
                {"id": "insp-b", "name": "李四", "credential_no": "川医保执 002"}]
    for token, trigger, data in ((inspector, "start_verification", {}), (leader, "open_case", {"officers": officers}),
                                 (inspector, "start_investigation", {}),
                                 (leader, "agreement_action", {"kind": "suspend_payment", "months": 2})):
        r = platform.call("POST", "cases", f"/api/v1/cases/{case['id']}/transitions", token,
                          json={"trigger": trigger, "version": case["version"], "reason": "依协议处理", "data": data})
        assert r.status_code == 200, r.text
        case = r.json()
    sanction = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/file", leader).json()["sanctions"]
    sanction_id = next(s["id"] for s in sanction if s["kind"] == "suspend_payment")

    def kinds():
        r = platform.call("GET", "notify", "/api/v1/inbox?per_page=200", inst)
        return [n["kind"] for n in r.json()["items"]]

    wait_for(lambda: "standing_changed" in kinds(), timeout=60, what="standing notice")
    st = platform.call("GET", "cases", f"/api/v1/institutions/{INST}/standing", inst).json()
    assert (st["credit_tier"], [s["kind"] for s in st["active_suspensions"]]) == ("C", ["suspend_payment"])

    person = platform.call("POST", "cases", "/api/v1/persons", leader, json={
        "national_id": "510104198502023456", "profession": "physician", "institution_id": INST})
    assert person.status_code == 200, person.text
    pid = person.json()["id"]
    r = platform.call("POST", "cases", f"/api/v1/persons/{pid}/proposals", leader, json={
        "case_id": case["id"], "sanction_id": sanction_id, "band": "1-3", "responsibility": "一般",
        "reason": "对分解住院负一般责任"})
    assert r.status_code == 201, r.text
    wait_for(lambda: "points_proposed" in kinds(), timeout=60, what="points proposed notice")
    w = platform.call("POST", "cases", f"/api/v1/persons/{pid}/proposals/{r.json()['id']}/waiver", inst,
                      json={"reason": "本人书面放弃"})
    assert w.status_code == 200 and w.json()["status"] == "scored", w.text
    wait_for(lambda: "points_scored" in kinds(), timeout=60, what="points scored notice")
    items = platform.call("GET", "notify", "/api/v1/inbox?per_page=200", inst).json()["items"]
    proposed = next(n for n in items if n["kind"] == "points_proposed")
    assert "陈述申辩" in proposed["body"] and "510104198502023456" not in proposed["body"]
    assert kinds().count("points_scored") == 1
    # the check endpoint's raw query path on this backend: 1 point, may bill
    r = platform.call("POST", "cases", "/api/v1/persons/check", inst, json={"national_id": "510104198502023456"})
    assert r.status_code == 200 and (r.json()["reason"], r.json()["person_id"]) == ("ok", pid), r.text
