"""Event -> notices -> deliveries, inside the consumer's transaction (no network I/O here).

For each notice the rule book gives (``rules.py``): one inbox entry (``Notification``), an
``inbox`` delivery-log row, and the outbound deliveries the delivery loop will send later:

* e-mail: to every user whose preferences match the notice's role and scope (or the one user it
  names), with e-mail on and an address; a quiet-digest user's copy is ``held`` for the daily
  summary; without SMTP configured the row is ``skipped`` (visible in the log);
* webhook: for a notice to an institution (as a whole), to each of its active endpoints that
  accepts the notice kind.

Every row carries a ``dedup_key`` (event, audience, kind / notice, channel, recipient) with a
unique index: handling the same event again, or a reminder tick running twice, adds nothing.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.events import Event
from fundguard_shared.outbox import add_event, utcnow
from fundguard_shared.workdays import CalendarNotLoaded, WorkdayCalendar

from .config import NotifyConfig
from .models import (MESSAGING, SERVICE, Delivery, Notification, Preference, TrackedDeadline,
                     WebhookEndpoint)
from .rules import Notice, RuleBook
from .runtime import notify_config, rulebook

log = logging.getLogger(__name__)

REMINDER_NAMESPACE = uuid.UUID("6f1f8a52-4c1e-4d0b-9a51-8f0f3c1e7a10")

# Clock events notify keeps track of (with or without a notice rule). The cases service emits
# due_soon / overdue today; started / changed / stopped are what reminders need from it next.
TRACKED_DEADLINE_EVENTS = ("deadline.started", "deadline.changed", "deadline.stopped",
                           "deadline.due_soon", "deadline.overdue")


def handle(session: Session, event: Event) -> list[Notification]:
    """The worker's handler for every event type the rule book knows."""
    return notify(session, event, rulebook(), notify_config())


def notify(session: Session, event: Event, book: RuleBook, cfg: NotifyConfig,
           today: date | None = None) -> list[Notification]:
    today = today or local_today(cfg)
    extra: dict[str, Any] = {}
    if event.type.startswith("deadline.") and event.type != "deadline.reminder":
        decision = track_deadline(session, event, cfg, today)
        if decision is None:
            return []
        extra = decision
    return store(session, event, book.notices_for(event, extra), cfg)


def store(session: Session, event: Event, notices: list[Notice],
          cfg: NotifyConfig) -> list[Notification]:
    created = []
    for n in notices:
        key = f"{event.id}:{n.audience_key}"
        if session.execute(select(Notification.id).where(Notification.dedup_key == key)).first():
            continue
        row = Notification(
            recipient_role=n.role, recipient_user=n.user, region=n.region,
            department=n.department, institution_id=n.institution_id, kind=n.kind,
            title=n.title, body=n.body, case_id=event.payload.get("case_id"),
            source_event_id=event.id, source_event_type=event.type, dedup_key=key)
        session.add(row)
        session.flush()
        _delivery(session, row, "inbox", _scope_label(n), None, n, status="sent")
        _fan_out_email(session, row, n, cfg)
        if n.webhook and n.role == "institution" and n.user is None:
            _fan_out_webhooks(session, row, n, event, cfg)
        add_event(session, MESSAGING, "notification.created", {
            "notification_id": row.id, "recipient_role": row.recipient_role,
            "region": row.region, "department": row.department,
            "institution_id": row.institution_id, "kind": row.kind, "case_id": row.case_id,
            "source_event_id": event.id,
        }, subject=f"notification:{row.id}", producer=SERVICE, actor="system",
            correlation_id=event.correlation_id)
        created.append(row)
    return created


# ---- channels --------------------------------------------------------------------------------

def _scope_label(n: Notice) -> str:
    scope = n.user or n.institution_id or "/".join(x for x in (n.region, n.department) if x)
    return f"{n.role}:{scope or '*'}"


def _delivery(session: Session, row: Notification, channel: str, recipient: str,
              address: str | None, n: Notice, *, status: str, subject: str | None = None,
              body: str | None = None, endpoint_id: str | None = None, max_attempts: int = 1,
              error: str | None = None) -> Delivery:
    now = utcnow()
    d = Delivery(dedup_key=f"{row.id}:{channel}:{recipient}", notification_id=row.id,
                 channel=channel, recipient=recipient, address=address, endpoint_id=endpoint_id,
                 institution_id=row.institution_id, kind=row.kind,
                 subject=subject or row.title, body=body or row.body, status=status,
                 attempts=0, max_attempts=max_attempts,
                 next_attempt_at=now if status == "pending" else None, last_error=error,
                 created_at=now, updated_at=now, sent_at=now if status == "sent" else None)
    session.add(d)
    return d


def email_recipients(session: Session, n: Notice) -> list[Preference]:
    q = select(Preference).where(Preference.role == n.role, Preference.email.is_not(None),
                                 Preference.email_enabled.is_(True))
    if n.user:
        q = q.where(Preference.user_sub == n.user)
    if n.role == "institution":
        q = q.where(Preference.institution_id == n.institution_id)
    elif n.role != "admin":
        q = q.where(Preference.region == n.region)
        if n.role == "inspector" and n.department:
            q = q.where(Preference.department == n.department)
    return list(session.execute(q.order_by(Preference.user_sub)).scalars())


def _fan_out_email(session: Session, row: Notification, n: Notice, cfg: NotifyConfig) -> None:
    for pref in email_recipients(session, n):
        if pref.digest:
            status, error = "held", None
        elif cfg.smtp.configured:
            status, error = "pending", None
        else:
            status, error = "skipped", "SMTP 未配置 / FUNDGUARD_SMTP_HOST not set"
        _delivery(session, row, "email", pref.user_sub, pref.email, n, status=status,
                  subject=n.email_subject, body=n.email_body,
                  max_attempts=cfg.max_attempts("email"), error=error)


def webhook_payload(row: Notification, event: Event) -> str:
    p = event.payload
    return json.dumps({
        "notice_id": row.id, "kind": row.kind, "title": row.title, "body": row.body,
        "case_id": row.case_id, "case_number": p.get("case_number"),
        "institution_id": row.institution_id, "created_at": row.created_at.isoformat(),
        "event": {"id": event.id, "type": event.type,
                  "occurred_at": event.occurred_at.isoformat()},
    }, ensure_ascii=False, sort_keys=True)


def _fan_out_webhooks(session: Session, row: Notification, n: Notice, event: Event,
                      cfg: NotifyConfig) -> None:
    endpoints = session.execute(select(WebhookEndpoint).where(
        WebhookEndpoint.institution_id == n.institution_id,
        WebhookEndpoint.active.is_(True)).order_by(WebhookEndpoint.created_at)).scalars()
    body = None
    for ep in endpoints:
        if ep.kinds and row.kind not in ep.kinds:
            continue
        body = body or webhook_payload(row, event)
        _delivery(session, row, "webhook", ep.id, ep.url, n, status="pending",
                  subject=row.title, body=body, endpoint_id=ep.id,
                  max_attempts=cfg.max_attempts("webhook"))


# ---- deadlines ---------------------------------------------------------------------------------

def local_today(cfg: NotifyConfig, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(cfg.timezone).date()


def workdays_left(today: date, due_on: date | None) -> int | None:
    if due_on is None:
        return None
    try:
        return WorkdayCalendar().working_days_between(today, due_on)
    except CalendarNotLoaded:
        return None


def track_deadline(session: Session, event: Event, cfg: NotifyConfig,
                   today: date) -> dict[str, Any] | None:
    """Keep notify's copy of a clock current; say whether this event still needs notices
    (``None``: no — e.g. a due-soon after notify's own reminder for the same last day)."""
    p = dict(event.payload)
    if isinstance(p.get("due_on"), str):
        p["due_on"] = date.fromisoformat(p["due_on"])
    row = session.get(TrackedDeadline, p["deadline_id"])
    if row is None:
        row = TrackedDeadline(deadline_id=p["deadline_id"])
        session.add(row)
    elif row.due_on != p.get("due_on"):
        row.reminded_on = None  # extended or recomputed: a new last day deserves a new reminder
    for name in ("case_id", "case_number", "kind", "label", "due_on", "status",
                 "institution_id", "region", "department"):
        setattr(row, name, p.get(name))
    row.updated_at = utcnow()
    extra = {"workdays_left": workdays_left(today, p.get("due_on"))}
    if event.type == "deadline.due_soon":
        if row.reminded_on is not None:
            return None
        row.reminded_on = today
    elif event.type == "deadline.overdue":
        row.escalated_on = today
    return extra


def reminder_event(row: TrackedDeadline) -> Event:
    payload = {name: getattr(row, name) for name in (
        "deadline_id", "case_id", "case_number", "kind", "label", "due_on", "status",
        "institution_id", "region", "department")}
    ident = uuid.uuid5(REMINDER_NAMESPACE, f"{row.deadline_id}:{row.due_on}:reminder")
    return Event(id=str(ident), type="deadline.reminder", version=1, occurred_at=utcnow(),
                 producer=SERVICE, correlation_id=f"reminder-{row.deadline_id}",
                 subject=f"deadline:{row.case_id}", sequence=1, actor="scheduler",
                 payload=payload)


def remind(session: Session, book: RuleBook, cfg: NotifyConfig, today: date) -> int:
    """Reminders N working days before each open clock's last day (once per last day)."""
    cal = WorkdayCalendar()
    sent = 0
    rows = session.execute(select(TrackedDeadline).where(
        TrackedDeadline.status == "running", TrackedDeadline.due_on.is_not(None),
        TrackedDeadline.due_on >= today, TrackedDeadline.reminded_on.is_(None))).scalars().all()
    for row in rows:
        try:
            start = cal.add_working_days(row.due_on, -cfg.reminder_workdays)
        except CalendarNotLoaded as exc:
            log.warning("no reminder for deadline %s: %s", row.deadline_id, exc)
            continue
        if today < start:
            continue
        event = reminder_event(row)
        store(session, event, book.notices_for(
            event, {"workdays_left": workdays_left(today, row.due_on)}), cfg)
        row.reminded_on = today
        sent += 1
    return sent


# ---- quiet digest --------------------------------------------------------------------------------

def digest(session: Session, book: RuleBook, cfg: NotifyConfig, now: datetime) -> int:
    """Once a day after the digest hour: each digest user's held e-mails become one summary."""
    local = now.astimezone(cfg.timezone)
    if local.hour < cfg.digest_hour:
        return 0
    day = local.date()
    held = session.execute(select(Delivery).where(
        Delivery.channel == "email", Delivery.status == "held")
        .order_by(Delivery.recipient, Delivery.created_at)).scalars().all()
    by_user: dict[str, list[Delivery]] = {}
    for d in held:
        by_user.setdefault(d.recipient, []).append(d)
    made = 0
    for user, items in by_user.items():
        pref = session.get(Preference, user)
        if pref is None or pref.last_digest_on == day:
            continue
        if not (pref.email and pref.email_enabled):
            for d in items:
                d.status, d.last_error, d.updated_at = "skipped", "e-mail switched off", now
            continue
        subject, body = book.render_digest(day, [
            {"subject": d.subject, "text": _strip_footer(d.body, book.footer)} for d in items])
        ts = utcnow()
        digest_row = Delivery(
            dedup_key=f"digest:{user}:{day.isoformat()}", notification_id=None, channel="email",
            recipient=user, address=pref.email, kind="digest", subject=subject[:300], body=body,
            institution_id=pref.institution_id,
            status="pending" if cfg.smtp.configured else "skipped",
            last_error=None if cfg.smtp.configured else "SMTP 未配置 / FUNDGUARD_SMTP_HOST not set",
            attempts=0, max_attempts=cfg.max_attempts("email"), next_attempt_at=ts,
            created_at=ts, updated_at=ts)
        session.add(digest_row)
        session.flush()
        for d in items:
            d.status, d.digest_id, d.updated_at = "digested", digest_row.id, ts
        pref.last_digest_on = day
        made += 1
    return made


def _strip_footer(body: str, footer: str) -> str:
    return body[:-len(footer)] if footer and body.endswith(footer) else body

