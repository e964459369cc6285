"""At-least-once delivery, exactly-once effect: duplicates, dead letters, outages, SIGKILL."""
from __future__ import annotations

import json
import signal
import time
import uuid

import pytest
from kombu import Connection
from sqlalchemy import text

from fundguard_shared.bus.publisher import BusPublisher
from fundguard_shared.events import make_event
from fundguard_shared.topology import Topology
from tests.helpers import case_for_finding, inbox_entries, record_finding
from tests.support.platform import wait_for

pytestmark = pytest.mark.platform


def _topology(platform) -> Topology:
    return Topology(platform.env["FUNDGUARD_BUS_PREFIX"], rabbitmq=platform.backend == "real")


def _publish(platform, pairs):
    publisher = BusPublisher(platform.broker_url(), _topology(platform))
    try:
        publisher.publish_batch(pairs)
    finally:
        publisher.close()


def _finding_event(finding_id: str):
    return make_event("finding.recorded", {
        "finding_id": finding_id, "institution_id": "H5101001", "institution_name": "成都某某医院",
        "party_type": "entity", "region": "510100", "department": "稽核一科",
        "violation_type": "over_treatment", "legal_basis": "条例第三十八条第（二）项",
        "amount": "800.00", "description": "重复投递测试", "source": "screening", "act_date": None,
    }, subject=f"finding:{finding_id}", sequence=1, producer="inspection", actor="test")


def _cases_for(platform, finding_id) -> int:
    with platform.engine("cases").connect() as conn:
        return conn.execute(text("SELECT count(*) FROM cases WHERE finding_id = :f"),
                            {"f": finding_id}).scalar_one()


def test_same_event_delivered_twice_has_one_effect(platform, tokens):
    finding_id = str(uuid.uuid4())
    event = _finding_event(finding_id)
    _publish(platform, [(event.type, event.to_json()), (event.type, event.to_json())])
    case = case_for_finding(platform, tokens["leader"], finding_id)
    wait_for(lambda: inbox_entries(platform, tokens["leader"], case["id"]), what="inbox")
    _publish(platform, [(event.type, event.to_json())])  # and once more, later
    time.sleep(1.5)
    assert _cases_for(platform, finding_id) == 1
    assert len(inbox_entries(platform, tokens["leader"], case["id"])) == 1
    assert len(inbox_entries(platform, tokens["inspector"], case["id"])) == 1


def _dead_letters(platform, service="cases") -> list[dict]:
    with platform.engine(service).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT event_id, reason_code, error FROM dead_letters ORDER BY id"))]


def test_unusable_events_go_to_dead_letter_queue_and_worker_keeps_running(platform, tokens):
    unknown = _finding_event(str(uuid.uuid4())).to_dict() | {"type": "finding.exploded"}
    future = _finding_event(str(uuid.uuid4())).to_dict() | {"version": 9}
    bad_payload = _finding_event(str(uuid.uuid4())).to_dict()
    bad_payload["payload"] = {"finding_id": "x"}
    _publish(platform, [("finding.exploded", json.dumps(unknown)),
                        ("finding.recorded", json.dumps(future)),
                        ("finding.recorded", json.dumps(bad_payload)),
                        ("finding.recorded", "{this is not json")])
    rows = wait_for(lambda: (lambda r: r if len(r) >= 4 else None)(
        [d for d in _dead_letters(platform)
         if d["event_id"] in (None, unknown["id"], future["id"], bad_payload["id"])]),
        what="four dead letters")
    reasons = {d["reason_code"] for d in rows}
    assert {"unknown_type", "unknown_version", "bad_payload", "bad_json"} <= reasons
    assert any("finding.exploded" in d["error"] for d in rows)
    # the messages themselves sit in the dead-letter queue with the reason in the headers
    topo = _topology(platform)
    seen = {}
    with Connection(platform.broker_url()) as conn:
        with conn.SimpleQueue(topo.dead_letter_queue, no_ack=False) as q:
            deadline = time.time() + 20
            while len(seen) < 4 and time.time() < deadline:
                try:
                    msg = q.get(timeout=1)
                except Exception:
                    continue
                seen[msg.headers.get("x-reason-code")] = msg.headers
                msg.ack()
    assert {"unknown_type", "unknown_version", "bad_payload", "bad_json"} <= set(seen)
    assert seen["unknown_type"]["x-consumer"] == "cases"
    # the worker is still alive and working
    finding = record_finding(platform, tokens["inspector"])
    case_for_finding(platform, tokens["leader"], finding["id"])


def test_relay_down_then_back_loses_nothing(platform, tokens):
    platform.kill("inspection-worker", signal.SIGKILL)
    try:
        finding = record_finding(platform, tokens["inspector"])  # HTTP succeeds meanwhile
        time.sleep(1.0)
        assert _cases_for(platform, finding["id"]) == 0
    finally:
        platform.start_worker("inspection")
    case_for_finding(platform, tokens["leader"], finding["id"])


@pytest.mark.real_only
def test_broker_unreachable_then_back_loses_nothing(platform, tokens):
    platform.proxy.cut()
    try:
        findings = [record_finding(platform, tokens["inspector"]) for _ in range(3)]
        ready = platform.call("GET", "inspection", "/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["broker"] != "ok"
        time.sleep(2.0)
        assert all(_cases_for(platform, f["id"]) == 0 for f in findings)
    finally:
        platform.proxy.restore()
    for f in findings:
        case = case_for_finding(platform, tokens["leader"], f["id"], timeout=60)
        wait_for(lambda: inbox_entries(platform, tokens["leader"], case["id"]), timeout=60,
                 what="inbox after outage")
    assert all(_cases_for(platform, f["id"]) == 1 for f in findings)


@pytest.mark.real_only
def test_silent_partition_is_detected_by_heartbeats_and_nothing_is_lost(platform, tokens):
    """Connections stay open but carry nothing (a dead NAT entry, a pulled cable): workers
    notice by missed heartbeats, reconnect when the network is back, and deliver everything."""
    platform.proxy.blackhole()
    try:
        finding = record_finding(platform, tokens["inspector"])
        time.sleep(14)  # > 2 heartbeat intervals of 4 s: every worker has given up its link
        assert _cases_for(platform, finding["id"]) == 0
    finally:
        platform.proxy.restore()
    case = case_for_finding(platform, tokens["leader"], finding["id"], timeout=60)
    wait_for(lambda: inbox_entries(platform, tokens["leader"], case["id"]), timeout=60,
             what="inbox after partition")
    assert "consumer connection lost" in platform.log("cases-worker")


def test_worker_killed_mid_stream_every_event_has_its_effect_once(platform, tokens):
    ids = [record_finding(platform, tokens["inspector"], description=f"批量 {i}")["id"]
           for i in range(40)]
    time.sleep(0.3)
    platform.kill("cases-worker", signal.SIGKILL)
    platform.kill("notify-worker", signal.SIGKILL)
    platform.start_worker("cases")
    platform.start_worker("notify")
    cases = {fid: case_for_finding(platform, tokens["leader"], fid, timeout=90) for fid in ids}
    assert all(_cases_for(platform, fid) == 1 for fid in ids)
    for case in cases.values():
        entries = wait_for(lambda: inbox_entries(platform, tokens["leader"], case["id"]),
                           timeout=60, what="inbox after kill")
        assert len(entries) == 1
    with platform.engine("cases").connect() as conn:
        numbers = conn.execute(text("SELECT number FROM cases")).scalars().all()
    assert len(numbers) == len(set(numbers))  # case numbers never reused
