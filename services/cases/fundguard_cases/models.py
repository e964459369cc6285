"""Tables owned by the cases service."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, Date, ForeignKey, Integer, Numeric, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fundguard_shared.db import UTCDateTime
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

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
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(48), nullable=True)
    to_state: Mapped[str] = mapped_column(String(48))
    reason: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[str] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# ---- what the steps of the procedure produce ---------------------------------------------------

def _uuid() -> str:
    return str(uuid.uuid4())


class CaseDetails(Base):
    """Procedural facts of one case (one row per case, written only by the workflow's effects)."""
    __tablename__ = "case_details"

    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"),
                                         primary_key=True)
    procedure: Mapped[str] = mapped_column(String(16), default="ordinary")  # ordinary | simplified
    clue_received_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    opened_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    act_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    health_harm: Mapped[bool] = mapped_column(Boolean, default=False)
    loss: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    proposal: Mapped[str | None] = mapped_column(String(16), nullable=True)  # sanction | no_sanction | referral
    no_sanction_ground: Mapped[str | None] = mapped_column(String(64), nullable=True)
    report_author: Mapped[str | None] = mapped_column(String(128), nullable=True)
    behaviours: Mapped[str] = mapped_column(Text, default="")  # police-referral codes, comma-separated
    complex_case: Mapped[bool] = mapped_column(Boolean, default=False)
    major_violation: Mapped[bool] = mapped_column(Boolean, default=False)
    major_public_interest: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_served_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    hearing_offered: Mapped[bool] = mapped_column(Boolean, default=False)
    rights_waived: Mapped[bool] = mapped_column(Boolean, default=False)
    defence_filed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    defence_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    defence_rechecked: Mapped[bool] = mapped_column(Boolean, default=False)
    hearing_requested_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    hearing_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    hearing_chair: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hearing_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # held | no_show
    decision_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)  # sanction | no_sanction | referral | annulled
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    referral_target: Mapped[str | None] = mapped_column(String(32), nullable=True)
    routes_stated: Mapped[bool] = mapped_column(Boolean, default=True)
    served_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    decision_extended_by_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_panel_deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    court_enforcement_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Officer(Base):
    """办案人员 assigned at 立案 (≥ 2, each with a 执法证 number); recusal keeps the row."""
    __tablename__ = "case_officers"
    __table_args__ = (UniqueConstraint("case_id", "officer_id", name="uq_case_officer"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    officer_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100))
    credential_no: Mapped[str] = mapped_column(String(64))
    assigned_on: Mapped[date] = mapped_column(Date)
    recused_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Recusal(Base):
    """回避: who, requested by whom, decided by which leader, granted or refused."""
    __tablename__ = "recusals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    person: Mapped[str] = mapped_column(String(128))
    capacity: Mapped[str] = mapped_column(String(16))  # officer | panel_member
    requested_by: Mapped[str] = mapped_column(String(16))  # party | officer | member
    reason: Mapped[str] = mapped_column(Text)
    granted: Mapped[bool] = mapped_column(Boolean)
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_on: Mapped[date] = mapped_column(Date)


class SanctionRecord(Base):
    """A sanction at one stage: proposed (report), panel, notified, decided, changed (appeal).
    `current` marks the rows in force at that stage; superseded rows stay."""
    __tablename__ = "sanctions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    stage: Mapped[str] = mapped_column(String(16), index=True)
    track: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    article: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    act: Mapped[str] = mapped_column(String(64), default="act-1")
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LegalReview(Base):
    """法制审核: one row per round; the reviewer is never an investigator of the case."""
    __tablename__ = "legal_reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    after_hearing: Mapped[bool] = mapped_column(Boolean, default=False)
    mandatory_reasons: Mapped[str] = mapped_column(Text, default="")
    submitted_on: Mapped[date] = mapped_column(Date)
    reviewer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # passed | returned
    opinion: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class PanelSession(Base):
    """集体讨论: agenda, members, result."""
    __tablename__ = "panel_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    agenda: Mapped[str] = mapped_column(Text)
    convened_by: Mapped[str] = mapped_column(String(128))
    convened_on: Mapped[date] = mapped_column(Date)
    result_tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    quorum_met: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    concluded_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class PanelVote(Base):
    """One row per member of a session: recused or not, vote and tier when cast."""
    __tablename__ = "panel_votes"
    __table_args__ = (UniqueConstraint("session_id", "member", name="uq_panel_member"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    session_id: Mapped[str] = mapped_column(String(36), ForeignKey("panel_sessions.id", ondelete="RESTRICT"), index=True)
    member: Mapped[str] = mapped_column(String(128))
    recused: Mapped[bool] = mapped_column(Boolean, default=False)
    vote: Mapped[str | None] = mapped_column(String(16), nullable=True)  # agree | disagree | abstain
    tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    opinion: Mapped[str | None] = mapped_column(Text, nullable=True)
    voted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Deadline(Base):
    """A clock of the procedure. `due_on` is NULL only with status calendar_not_loaded."""
    __tablename__ = "deadlines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))
    started_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(24), index=True)  # running | paused | met | overdue | cancelled | calendar_not_loaded
    note: Mapped[str] = mapped_column(Text, default="")
    paused_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_soon_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Pause(Base):
    """Periods not counted in the decision time limit: 中止, hearing, appraisal."""
    __tablename__ = "case_pauses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Appeal(Base):
    """申诉 / 行政复议 / 行政诉讼 against the decision, with its window and outcome."""
    __tablename__ = "appeals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    filed_on: Mapped[date] = mapped_column(Date)
    window_ends_on: Mapped[date] = mapped_column(Date)
    grounds: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # upheld | changed | annulled
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Payment(Base):
    """Money received: fines and surcharges (treasury) apart from recovered fund (追回)."""
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # fine | surcharge | recovery | liquidated_damages
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(128), default="")
    recorded_by: Mapped[str] = mapped_column(String(128))


class CalendarYear(Base):
    """A year's working-day arrangement loaded by an admin (years chinese_calendar lacks)."""
    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    loaded_by: Mapped[str] = mapped_column(String(128))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ---- staff points (驾照式记分) and institution standing (points/) ----------------------------------

class Person(Base):
    """一人一档: one row per person nationally, keyed by the HMAC of the national identifier
    (the raw identifier is never stored). ``institution_id`` is where the person works now."""
    __tablename__ = "persons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    profession: Mapped[str] = mapped_column(String(32))
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    region: Mapped[str | None] = mapped_column(String(32), nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PointsEntry(Base):
    """Append-only ledger (it is the audit trail): score, restore, annul (reverses an entry),
    reregister, move. Triggers forbid UPDATE and DELETE (migration 0004)."""
    __tablename__ = "points_ledger"
    __table_args__ = (UniqueConstraint("person_id", "seq", name="uq_points_ledger_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(36), ForeignKey("persons.id", ondelete="RESTRICT"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    effective_on: Mapped[date] = mapped_column(Date)
    case_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"),
                                                nullable=True, index=True)
    sanction_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    band: Mapped[str | None] = mapped_column(String(8), nullable=True)
    responsibility: Mapped[str | None] = mapped_column(String(8), nullable=True)
    suspension_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    activity: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reverses_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    region: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PersonRestriction(Base):
    """Derived from the ledger (rebuilt on every change): suspension / termination periods the
    check endpoint reads. ``ends_on`` is exclusive; NULL = open (termination until re-registered)."""
    __tablename__ = "person_restrictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(36), ForeignKey("persons.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # suspension | termination
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    ban_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    entry_id: Mapped[int] = mapped_column(Integer)
    needs_decision: Mapped[bool] = mapped_column(Boolean, default=False)


class InstitutionStanding(Base):
    """Institutions known from sanction events (name, region) — the standing itself is derived."""
    __tablename__ = "institution_standing"

    institution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    institution_name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(32), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StandingEvent(Base):
    """Append-only history of sanction.decided events per institution (idempotent by event id)."""
    __tablename__ = "standing_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                                  nullable=True, index=True)
    institution_id: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[str] = mapped_column(String(36))
    case_number: Mapped[str] = mapped_column(String(64))
    sanction_id: Mapped[str] = mapped_column(String(36), index=True)
    track: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    article: Mapped[str] = mapped_column(String(16))
    months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_on: Mapped[date] = mapped_column(Date)
    cause: Mapped[str] = mapped_column(String(32))
    in_force: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
