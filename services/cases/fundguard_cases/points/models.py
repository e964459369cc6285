"""Tables of the points procedure (migration 0005): proposals notified before scoring (告知 and
陈述申辩), objections after scoring (复核), and the last state announced per person/institution
(so every change of a restriction or of the standing is announced exactly once)."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fundguard_shared.db import UTCDateTime
from fundguard_shared.outbox import utcnow

from ..models import Base


def _uuid() -> str:
    return str(uuid.uuid4())


class PointsProposal(Base):
    """A proposed scoring: notified to the person (via the institution) with the intended points,
    reasons and defence window; entered into the ledger only after the window, a waiver or a
    decision on the defence. ``defence_due_on`` is NULL while its year's calendar is not loaded."""
    __tablename__ = "points_proposals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    person_id: Mapped[str] = mapped_column(String(36), ForeignKey("persons.id", ondelete="RESTRICT"), index=True)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"))
    case_number: Mapped[str] = mapped_column(String(64))
    sanction_id: Mapped[str] = mapped_column(String(36), index=True)
    band: Mapped[str] = mapped_column(String(8))
    responsibility: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(Integer)
    suspension_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    institution_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)  # notified|defence_filed|needs_decision|scored|dropped
    proposed_by: Mapped[str] = mapped_column(String(128))
    proposed_on: Mapped[date] = mapped_column(Date)
    defence_working_days: Mapped[int] = mapped_column(Integer)
    defence_due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_note: Mapped[str] = mapped_column(String(200), default="")
    waived: Mapped[bool] = mapped_column(Boolean, default=False)
    defence: Mapped[str | None] = mapped_column(Text, nullable=True)
    defence_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    defence_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # uphold|reduce|drop|lapsed|waived
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scored_points: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scored_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PointsObjection(Base):
    """复核: an objection to an entered score, filed within the configured window."""
    __tablename__ = "points_objections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    person_id: Mapped[str] = mapped_column(String(36), ForeignKey("persons.id", ondelete="RESTRICT"), index=True)
    entry_id: Mapped[int] = mapped_column(Integer, index=True)
    entry_seq: Mapped[int] = mapped_column(Integer)
    grounds: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[str] = mapped_column(String(128))
    filed_on: Mapped[date] = mapped_column(Date)
    window_ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # pending|rejected|annulled|changed
    new_points: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AnnouncedState(Base):
    """The last state announced on the bus for ``person:<id>`` / ``institution:<id>`` (JSON)."""
    __tablename__ = "points_announced"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
