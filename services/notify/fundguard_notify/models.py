"""Tables owned by the notify service.

* ``notifications``      one notice (inbox entry) for everyone holding ``recipient_role`` in the
                         given scope, or for one user (``recipient_user``); ``dedup_key`` makes a
                         redelivered event produce nothing new;
* ``notification_reads`` read marks per user;
* ``deliveries``         one row per (notice, channel, recipient): the delivery log, and the
                         work queue of the delivery loop (``dedup_key`` unique);
* ``delivery_attempts``  every try of a delivery, with its outcome;
* ``webhook_endpoints``  institutions' receiving systems (URL + signing secret), admin-managed;
* ``preferences``        per user: e-mail address and on/off, quiet digest; the user's role and
                         scope as last seen in their token (who an e-mail to a role reaches);
* ``tracked_deadlines``  clocks learned from ``deadline.*`` events, for reminders/escalation.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fundguard_shared.db import UTCDateTime
from fundguard_shared.outbox import messaging_tables, utcnow

from . import secretbox

SERVICE = "notify"


def _uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


MESSAGING = messaging_tables(Base.metadata)


class Notification(Base):
    """An inbox entry for everyone holding ``recipient_role`` within the given scope, or for
    the one user ``recipient_user`` (who must also hold the role and scope)."""
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_notifications_dedup_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    recipient_role: Mapped[str] = mapped_column(String(32), index=True)
    recipient_user: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    region: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    source_event_id: Mapped[str] = mapped_column(String(36), index=True)
    source_event_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dedup_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationRead(Base):
    __tablename__ = "notification_reads"
    notification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("notifications.id"), primary_key=True)
    user_sub: Mapped[str] = mapped_column(String(128), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "dead", "uncertain", "held",
                     "digested", "skipped")


class Delivery(Base):
    """One notice to one recipient over one channel, and its state.

    pending -> sending (claimed) -> sent | pending (retry later) | dead (retries exhausted) |
    failed (permanent refusal); e-mail for a digest user: held -> digested (into one summary);
    a stale ``sending`` e-mail becomes ``uncertain`` (never resent by itself), a stale
    ``sending`` webhook goes back to ``pending`` (at least once, same idempotency key).
    """
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),
                      UniqueConstraint("dedup_key", name="uq_deliveries_dedup_key"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    dedup_key: Mapped[str] = mapped_column(String(300))
    notification_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("notifications.id"), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(16))          # inbox | email | webhook
    recipient: Mapped[str] = mapped_column(String(200))        # user sub | endpoint id | scope
    address: Mapped[str | None] = mapped_column(String(500), nullable=True)  # e-mail / URL
    endpoint_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("webhook_endpoints.id"), nullable=True, index=True)
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)                    # e-mail text / webhook JSON
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    digest_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    replays: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    delivery_id: Mapped[str] = mapped_column(String(36), ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))           # ok | retry | failed | dead
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    institution_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(500))
    # The signing secret, Fernet-encrypted (``secretbox``): needed to sign, so kept, but never
    # in clear at rest and never returned after creation/rotation. Use ``.secret``.
    secret_ciphertext: Mapped[str] = mapped_column("secret_ciphertext", String(500))
    description: Mapped[str] = mapped_column(String(300), default="")
    kinds: Mapped[list | None] = mapped_column(JSON, nullable=True)  # None = every notice kind
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def secret(self) -> str:
        return secretbox.decrypt(self.secret_ciphertext)

    @secret.setter
    def secret(self, plaintext: str) -> None:
        self.secret_ciphertext = secretbox.encrypt(plaintext)


class Preference(Base):
    __tablename__ = "preferences"

    user_sub: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str | None] = mapped_column(String(32), nullable=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    last_digest_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackedDeadline(Base):
    __tablename__ = "tracked_deadlines"

    deadline_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    case_number: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    institution_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(64))
    reminded_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    escalated_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
