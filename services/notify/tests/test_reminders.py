"""Deadline reminders (N working days ahead, by the official calendar) and overdue escalation."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from fundguard_notify import notices
from fundguard_notify.models import Notification, TrackedDeadline
from notify_testkit import DEPT, INST, REGION, deadline_payload, raw_event


def tick(notify, today: date) -> int:
    with notify.runtime.sessions() as s, s.begin():
        return notices.remind(s, notify.book, notify.cfg, today)


def entries(notify, **where) -> list[Notification]:
    with notify.runtime.sessions() as s:
        q = select(Notification).order_by(Notification.created_at)
        for k, v in where.items():
            q = q.where(getattr(Notification, k) == v)
        return list(s.execute(q).scalars())


def learn(notify, payload, today=date(2026, 9, 1)):
    """notify learns a clock from a deadline event (here an escalation-free status update)."""
    with notify.runtime.sessions() as s, s.begin():
        notices.track_deadline(s, raw_event("deadline.changed", payload), notify.cfg, today)


def test_reminder_n_working_days_before_deadline_skips_holidays(notify):
    # last day Fri 2026-10-09; three working days before it, counting back over the National
    # Day holiday (10-01..10-07 off), is Tue 2026-09-29
    payload = deadline_payload("payment", due_on="2026-10-09")
    learn(notify, payload)
    assert tick(notify, date(2026, 9, 28)) == 0
    assert tick(notify, date(2026, 9, 29)) == 1
    assert tick(notify, date(2026, 9, 30)) == 0            # once per last day
    party = entries(notify, kind="deadline_reminder", recipient_role="institution")
    staff = entries(notify, kind="deadline_reminder", recipient_role="inspector")
    assert len(party) == 1 and len(staff) == 1
    assert "2026年10月9日" in party[0].body and "还剩 3 个工作日" in party[0].body
    assert "加处罚款" in party[0].body and "第七十二条" in party[0].body  # payment: the legal text
    assert party[0].institution_id == INST and staff[0].department == DEPT


def test_reminder_distance_is_configurable(notify, monkeypatch):
    monkeypatch.setenv("FUNDGUARD_NOTIFY_REMINDER_WORKDAYS", "1")
    from fundguard_notify import runtime as rt
    rt.notify_config.cache_clear()
    learn(notify, deadline_payload("legal_review", due_on="2026-10-09", label="法制审核"))
    assert tick(notify, date(2026, 9, 29)) == 0
    assert tick(notify, date(2026, 10, 8)) == 1
    assert [n.recipient_role for n in entries(notify)] == ["inspector"]


def test_due_soon_after_own_reminder_is_not_repeated(notify):
    payload = deadline_payload("defence_window", due_on="2026-10-09", label="陈述申辩")
    learn(notify, payload)
    tick(notify, date(2026, 9, 29))
    before = len(entries(notify))
    notify.handle(raw_event("deadline.due_soon", payload), today=date(2026, 10, 8))
    assert len(entries(notify)) == before


def test_due_soon_without_own_reminder_reminds_once(notify):
    payload = deadline_payload("hearing_request", due_on="2026-10-09", label="听证申请")
    notify.handle(raw_event("deadline.due_soon", payload), today=date(2026, 10, 8))
    assert tick(notify, date(2026, 10, 8)) == 0
    assert {n.recipient_role for n in entries(notify)} == {"inspector", "institution"}


def test_extended_deadline_gets_a_new_reminder(notify):
    payload = deadline_payload("legal_review", due_on="2026-10-09", label="法制审核")
    learn(notify, payload)
    assert tick(notify, date(2026, 9, 29)) == 1
    learn(notify, {**payload, "due_on": "2026-10-23"})
    assert tick(notify, date(2026, 10, 9)) == 0
    assert tick(notify, date(2026, 10, 20)) == 1
    assert len(entries(notify, kind="deadline_reminder")) == 2


def test_overdue_escalates_to_leader(notify):
    payload = deadline_payload("decision", due_on="2026-10-09", label="作出处罚决定",
                               status="overdue")
    notify.handle(raw_event("deadline.overdue", payload), today=date(2026, 10, 10))
    [esc] = entries(notify, recipient_role="leader")
    assert esc.kind == "deadline_overdue" and esc.region == REGION
    assert "已逾期" in esc.body and "督办" in esc.body
    with notify.runtime.sessions() as s:
        row = s.get(TrackedDeadline, payload["deadline_id"])
        assert row.escalated_on == date(2026, 10, 10) and row.status == "overdue"
    leader = notify.token("leader", region=REGION)
    inbox = notify.call("GET", "/api/v1/inbox", leader).get_json()
    assert [n["kind"] for n in inbox["items"]] == ["deadline_overdue"]
    assert tick(notify, date(2026, 10, 12)) == 0            # an overdue clock is not "reminded"


def test_no_reminder_when_the_calendar_year_is_not_loaded(notify):
    learn(notify, deadline_payload("payment", due_on="2027-03-10"))
    assert tick(notify, date(2027, 3, 9)) == 0              # never guessed, never crashes
    assert entries(notify) == []
