"""Tables owned by the cases service."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, Date, DateTime, ForeignKey, Integer, Numeric, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fundguard_shared.outbox import messaging_tables, utcnow

SERVICE = "cases"


class Base(DeclarativeBase):
    pass


MESSAGING = messaging_tables(Base.metadata)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True,
                                    default=lambda: str(uuid.uuid4()))
    number: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(48), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    workflow_version: Mapped[int] = mapped_column(Integer, nullable=False)
    institution_id: Mapped[str] = mapped_column(String(64), index=True)
    institution_name: Mapped[str] = mapped_column(String(200))
    party_type: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    violation_type: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    source_event_id: Mapped[str] = mapped_column(String(36), unique=True)
    finding_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    act_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class CaseNumber(Base):
    """Gap-free case numbers per region and year."""
    __tablename__ = "case_numbers"
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False)


class AuditEntry(Base):
    """Append-only, hash-chained per case. No cascade from cases; on PostgreSQL a trigger
    forbids UPDATE and DELETE (see the migration)."""
    __tablename__ = "case_audit"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_audit_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"),
                                         index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(48), nullable=True)
    to_state: Mapped[str] = mapped_column(String(48))
    reason: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[str] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
