"""E-mail over SMTP to a real local sink (aiosmtpd): who gets mail, once, in Chinese."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from fundguard_notify.models import Delivery, DeliveryAttempt
from fundguard_shared.outbox import utcnow
from notify_testkit import DEPT, INST, REGION, free_port, opened, transitioned, wire


def staff(notify):
    leader = notify.token("leader", "leader-a", region=REGION)
    insp = notify.token("inspector", "insp-a", region=REGION, department=DEPT)
    other = notify.token("inspector", "insp-b", region=REGION, department="稽核二科")
    inst = notify.token("institution", "inst-a", institution_id=INST)
    notify.set_prefs(leader, email="leader@ybj.example.cn")
    notify.set_prefs(insp, email="insp@ybj.example.cn")
    notify.set_prefs(other, email="other@ybj.example.cn")
    notify.set_prefs(inst, email="yibao@hospital.example.cn")
    return leader, insp, other, inst


def test_email_in_chinese_reaches_exactly_the_scope(smtp_sink, notify):
    staff(notify)
    event = opened()
    notify.handle(event)
    assert notify.deliverer().run_once() == 2
    assert len(smtp_sink.messages) == 2
    [mail] = smtp_sink.to("leader@ybj.example.cn")
    assert mail["Subject"] == f"新线索登记 {event.payload['case_number']}"
    text = mail.get_content()
    assert "成都某某医院" in text and "请勿直接回复" in text
    assert mail["Message-ID"].startswith("<") and mail["X-Fundguard-Kind"] == "clue_registered"
    assert smtp_sink.to("insp@ybj.example.cn")
    assert smtp_sink.to("other@ybj.example.cn") == []          # another department
    assert smtp_sink.to("yibao@hospital.example.cn") == []      # not told of a clue
    sent = notify.deliveries(channel="email")
    assert {d.status for d in sent} == {"sent"} and all(d.attempts == 1 for d in sent)


def test_redelivered_event_sends_no_second_email(smtp_sink, notify):
    staff(notify)
    event = opened()
    consumer = notify.consumer()
    body = wire(event)
    assert consumer.process(body) == "applied"
    notify.deliverer().run_once()
    assert consumer.process(body) == "duplicate"   # the bus delivered it again
    notify.handle(event)                            # even the handler run again adds nothing
    notify.deliverer().run_once()
    assert len(smtp_sink.to("leader@ybj.example.cn")) == 1
    assert len(notify.deliveries(channel="email")) == 2


def test_institution_gets_prior_notice_by_email(smtp_sink, notify):
    staff(notify)
    notify.handle(transitioned("notify", "reviewed", "notified"))
    notify.deliverer().run_once()
    [mail] = smtp_sink.to("yibao@hospital.example.cn")
    assert mail["Subject"].startswith("行政处罚事先告知")
    assert "陈述" in mail.get_content() and "听证" in mail.get_content()


def test_personal_notice_is_mailed_to_that_user_only(smtp_sink, notify):
    staff(notify)
    colleague = notify.token("institution", "inst-b", institution_id=INST)
    notify.set_prefs(colleague, email="colleague@hospital.example.cn")
    notify.handle(transitioned("file_appeal", "served", "served", actor="inst-b"))
    notify.deliverer().run_once()
    # the acknowledgment reaches the user who filed, not the institution's other users
    [ack] = smtp_sink.to("colleague@hospital.example.cn")
    assert ack["Subject"].startswith("复议/诉讼已登记")
    assert smtp_sink.to("yibao@hospital.example.cn") == []


def test_email_switched_off_sends_nothing(smtp_sink, notify):
    leader = notify.token("leader", "leader-a", region=REGION)
    notify.set_prefs(leader, email="leader@ybj.example.cn", email_enabled=False)
    notify.handle(opened())
    notify.deliverer().run_once()
    assert smtp_sink.messages == [] and notify.deliveries(channel="email") == []


def test_without_smtp_configured_email_is_logged_as_skipped(notify):
    leader = notify.token("leader", "leader-a", region=REGION)
    notify.set_prefs(leader, email="leader@ybj.example.cn")
    notify.handle(opened())
    [d] = notify.deliveries(channel="email")
    assert d.status == "skipped" and "SMTP" in d.last_error


def test_quiet_digest_sends_one_daily_summary_instead_of_each(smtp_sink, notify):
    from fundguard_notify import notices
    leader = notify.token("leader", "leader-a", region=REGION)
    notify.set_prefs(leader, email="leader@ybj.example.cn", digest=True)
    events = [opened() for _ in range(3)]
    for e in events:
        notify.handle(e)
    notify.deliverer().run_once()
    assert smtp_sink.messages == []
    assert {d.status for d in notify.deliveries(channel="email")} == {"held"}
    before_hour = datetime(2026, 6, 1, 6, 0, tzinfo=notify.cfg.timezone)
    after_hour = datetime(2026, 6, 1, 9, 0, tzinfo=notify.cfg.timezone)
    with notify.runtime.sessions() as s, s.begin():
        assert notices.digest(s, notify.book, notify.cfg, before_hour) == 0
    for _ in range(2):  # twice the same day: one summary
        with notify.runtime.sessions() as s, s.begin():
            notices.digest(s, notify.book, notify.cfg, after_hour)
    notify.deliverer().run_once()
    [mail] = smtp_sink.to("leader@ybj.example.cn")
    assert mail["Subject"] == "每日通知汇总（2026年6月1日，共 3 条）"
    for e in events:
        assert e.payload["case_number"] in mail.get_content()
    assert {d.status for d in notify.deliveries(channel="email", kind="clue_registered")} == {
        "digested"}


def test_smtp_refusal_is_a_permanent_failure(smtp_sink, notify):
    smtp_sink.refuse.add("leader@ybj.example.cn")
    notify.set_prefs(notify.token("leader", "leader-a", region=REGION),
                     email="leader@ybj.example.cn")
    notify.handle(opened())
    notify.deliverer().run_once()
    [d] = notify.deliveries(channel="email")
    assert d.status == "failed" and "refused" in d.last_error and d.attempts == 1


def test_smtp_down_retries_with_backoff(notify_env, monkeypatch, notify):
    monkeypatch.setenv("FUNDGUARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FUNDGUARD_SMTP_PORT", str(free_port()))  # nobody listens
    from fundguard_notify import runtime as rt
    rt.notify_config.cache_clear()
    notify.set_prefs(notify.token("leader", "leader-a", region=REGION),
                     email="leader@ybj.example.cn")
    notify.handle(opened())
    now = utcnow()
    notify.deliverer(clock=lambda: now).run_once()
    [d] = notify.deliveries(channel="email")
    assert d.status == "pending" and d.attempts == 1
    assert abs((d.next_attempt_at.replace(tzinfo=timezone.utc) - now).total_seconds() - 10) < 1


def test_stale_email_claim_is_not_resent(smtp_sink, notify):
    """At most once: a worker that died mid-send leaves the e-mail 'uncertain', not resent."""
    notify.set_prefs(notify.token("leader", "leader-a", region=REGION),
                     email="leader@ybj.example.cn")
    notify.handle(opened())
    deliverer = notify.deliverer()
    [claimed] = deliverer.claim()             # claimed, then the worker "dies" before sending
    later = utcnow() + timedelta(seconds=notify.cfg.lease_seconds + 1)
    notify.deliverer(clock=lambda: later).run_once()
    [d] = notify.deliveries(channel="email")
    assert d.id == claimed.id and d.status == "uncertain" and smtp_sink.messages == []
    # the operator decides: replay sends it
    r = notify.call("POST", f"/api/v1/deliveries/{d.id}/replay", notify.token("admin"))
    assert r.status_code == 200 and r.get_json()["status"] == "pending"
    notify.deliverer().run_once()
    assert len(smtp_sink.messages) == 1
    with notify.runtime.sessions() as s:
        outcomes = [a.outcome for a in s.query(DeliveryAttempt).filter_by(delivery_id=d.id)
                    .order_by(DeliveryAttempt.started_at)]
    assert outcomes == ["uncertain", "ok"]


def test_outcome_of_a_reclaimed_delivery_is_not_overwritten(smtp_sink, notify):
    notify.set_prefs(notify.token("leader", "leader-a", region=REGION),
                     email="leader@ybj.example.cn")
    notify.handle(opened())
    deliverer = notify.deliverer()
    [claimed] = deliverer.claim()
    with notify.runtime.sessions() as s, s.begin():
        s.execute(update(Delivery).where(Delivery.id == claimed.id).values(status="uncertain"))
    from fundguard_notify.channels import SendResult
    assert deliverer.record(claimed, SendResult(True)) == "lost"
    assert notify.deliveries(channel="email")[0].status == "uncertain"
