"""Tables owned by the notify service."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fundguard_shared.outbox import messaging_tables, utcnow

SERVICE = "notify"


class Base(DeclarativeBase):
    pass


MESSAGING = messaging_tables(Base.metadata)


class Notification(Base):
    """An inbox entry for everyone holding ``recipient_role`` within the given scope."""
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("source_event_id", "recipient_role",
                                       name="uq_notification_event_role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True,
                                    default=lambda: str(uuid.uuid4()))
    recipient_role: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    source_event_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NotificationRead(Base):
    __tablename__ = "notification_reads"
    notification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("notifications.id"), primary_key=True)
    user_sub: Mapped[str] = mapped_column(String(128), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
