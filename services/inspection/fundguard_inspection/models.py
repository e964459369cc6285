"""Tables owned by the inspection service."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (JSON, BigInteger, Boolean, Date, ForeignKey, Integer, Numeric, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fundguard_shared.db import UTCDateTime
from fundguard_shared.outbox import messaging_tables, utcnow
from fundguard_shared.ratelimit import rate_limit_table

SERVICE = "inspection"


class Base(DeclarativeBase):
    pass


MESSAGING = messaging_tables(Base.metadata)
# fixed-window counters of rate-limited endpoints (complaint submission), shared by all workers
RATE_LIMITS = rate_limit_table(Base.metadata)


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True,
                                    default=lambda: str(uuid.uuid4()))
    institution_id: Mapped[str] = mapped_column(String(64), index=True)
    institution_name: Mapped[str] = mapped_column(String(200))
    party_type: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    violation_type: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    act_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    case_number: Mapped[str | None] = mapped_column(String(64), nullable=True)


# ---- 飞行检查 (flight inspections) ------------------------------------------------------------

def _uuid() -> str:
    return str(uuid.uuid4())


class PoolInstitution(Base):
    """被检查对象名录库: the institutions a region may draw inspection targets from."""
    __tablename__ = "pool_institutions"
    __table_args__ = (UniqueConstraint("region", "institution_id", name="uq_pool_institution"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    region: Mapped[str] = mapped_column(String(32), index=True)
    institution_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    party_type: Mapped[str] = mapped_column(String(16), default="entity")
    level: Mapped[str | None] = mapped_column(String(32), nullable=True)
    local_region: Mapped[str] = mapped_column(String(32))
    local_department: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PoolPerson(Base):
    """检查人员名录库 / 专家库: people who may be drawn into a team; ``conflicts`` lists the
    institution ids they must not inspect (former employer, relatives, ...)."""
    __tablename__ = "pool_people"
    __table_args__ = (UniqueConstraint("region", "kind", "person_id", name="uq_pool_person"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    region: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # inspector | expert
    person_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enforcement_cert: Mapped[str | None] = mapped_column(String(64), nullable=True)  # 执法证号
    conflicts: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FlightPlan(Base):
    __tablename__ = "flight_plans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    region: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(32))
    trigger_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    organiser_level: Mapped[str] = mapped_column(String(16))
    cross_province: Mapped[bool] = mapped_column(Boolean, default=False)
    nhsa_filing_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    launched_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    feedback_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    response_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class FlightTarget(Base):
    __tablename__ = "flight_targets"
    __table_args__ = (UniqueConstraint("plan_id", "institution_id", name="uq_flight_target"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    plan_id: Mapped[str] = mapped_column(ForeignKey("flight_plans.id"), index=True)
    institution_id: Mapped[str] = mapped_column(String(64))
    institution_name: Mapped[str] = mapped_column(String(200))
    party_type: Mapped[str] = mapped_column(String(16), default="entity")
    local_region: Mapped[str] = mapped_column(String(32))
    local_department: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # drawn | named
    draw_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class FlightDraw(Base):
    """One 双随机 draw: the seed, the pool as it was, and what came out (re-runnable)."""
    __tablename__ = "flight_draws"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    plan_id: Mapped[str] = mapped_column(ForeignKey("flight_plans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # institutions | inspectors | experts
    seed: Mapped[str] = mapped_column(String(128))
    algorithm: Mapped[str] = mapped_column(String(32))
    pool: Mapped[list] = mapped_column(JSON)
    pool_hash: Mapped[str] = mapped_column(String(64))
    excluded: Mapped[list] = mapped_column(JSON, default=list)
    count: Mapped[int] = mapped_column(Integer)
    result: Mapped[list] = mapped_column(JSON)
    drawn_by: Mapped[str] = mapped_column(String(128))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TeamMember(Base):
    __tablename__ = "flight_team_members"
    __table_args__ = (UniqueConstraint("plan_id", "person_id", name="uq_team_member"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    plan_id: Mapped[str] = mapped_column(ForeignKey("flight_plans.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))  # officer | expert | third_party
    enforcement_cert: Mapped[str | None] = mapped_column(String(64), nullable=True)
    conflicts: Mapped[list] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16))  # drawn | appointed
    draw_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    recused: Mapped[bool] = mapped_column(Boolean, default=False)
    recusal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recused_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    recused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SiteRecord(Base):
    """现场笔录 / 询问笔录."""
    __tablename__ = "flight_site_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    plan_id: Mapped[str] = mapped_column(ForeignKey("flight_plans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # site | interview
    institution_id: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str] = mapped_column(String(200))
    officers: Mapped[list] = mapped_column(JSON)
    interviewee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    content: Mapped[str] = mapped_column(Text)
    evidence_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FlightFinding(Base):
    """A finding of the team, fed back to the inspected party before it is handed over."""
    __tablename__ = "flight_findings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    plan_id: Mapped[str] = mapped_column(ForeignKey("flight_plans.id"), index=True)
    institution_id: Mapped[str] = mapped_column(String(64), index=True)
    violation_type: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    amount_method: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    act_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    responsible_department: Mapped[str | None] = mapped_column(String(100), nullable=True)
    responsible_staff: Mapped[list] = mapped_column(JSON, default=list)
    evidence_ids: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    response: Mapped[str | None] = mapped_column(String(16), nullable=True)  # accepted | disputed
    dispute_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    responded_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)  # upheld | revised | withdrawn
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decision_participants: Mapped[list | None] = mapped_column(JSON, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finding_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ---- evidence ----------------------------------------------------------------------------------

class EvidenceFile(Base):
    __tablename__ = "evidence_files"
    __table_args__ = (UniqueConstraint("region", "department", "sha256", "attached_to",
                                       name="uq_evidence_in_scope"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    region: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    attached_to: Mapped[str] = mapped_column(String(80), default="")  # "plan:<id>", "complaint:<id>", ""
    uploaded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustodyEntry(Base):
    """Chain of custody: append-only; who added, viewed, exported, verified an evidence file."""
    __tablename__ = "evidence_custody"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence_files.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Preservation(Base):
    """先行登记保存: evidence kept in place; the department must decide within 7 working days."""
    __tablename__ = "evidence_preservations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    region: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    institution_id: Mapped[str] = mapped_column(String(64))
    institution_name: Mapped[str] = mapped_column(String(200))
    items: Mapped[str] = mapped_column(Text)
    evidence_ids: Mapped[list] = mapped_column(JSON, default=list)
    finding_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    approved_by: Mapped[str] = mapped_column(String(128))
    started_on: Mapped[date] = mapped_column(Date)
    decision_due: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    decision: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


# ---- 举报 (complaints) -------------------------------------------------------------------------

class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    region: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    real_name: Mapped[bool] = mapped_column(Boolean)
    institution_id: Mapped[str] = mapped_column(String(64))
    institution_name: Mapped[str] = mapped_column(String(200))
    party_type: Mapped[str] = mapped_column(String(16), default="entity")
    violation_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount_estimate: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    received_on: Mapped[date] = mapped_column(Date)
    received_by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="received")
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    informant_notice_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    informant_notified_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    informant_notice_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    finding_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    reward_scheme: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reward_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    reward_basis: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    reward_notified_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    reward_claim_deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    reward_claimed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Informant(Base):
    """The informant's identity and contact, apart from the complaint, encrypted (Fernet)."""
    __tablename__ = "complaint_informants"

    complaint_id: Mapped[str] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InformantAccess(Base):
    """Every access to (or refused attempt at) an informant's identity."""
    __tablename__ = "informant_access_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(String(36), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # stored | read | refused
    purpose: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ---- claims screening (the claims and hits live in the region's DuckDB file) ---------------------

class ClaimsImport(Base):
    """Who imported which settlement file into which region's screening database."""
    __tablename__ = "screening_imports"
    __table_args__ = (UniqueConstraint("region", "import_id", name="uq_screening_import"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    region: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    import_id: Mapped[str] = mapped_column(String(32))
    file_sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    rows_read: Mapped[int] = mapped_column(BigInteger)
    rows_loaded: Mapped[int] = mapped_column(BigInteger)
    rows_rejected: Mapped[int] = mapped_column(BigInteger)
    report: Mapped[dict] = mapped_column(JSON)
    imported_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScreeningRunRecord(Base):
    __tablename__ = "screening_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the engine's run id
    region: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    ruleset_version: Mapped[str] = mapped_column(String(64))
    params_hash: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(16))
    data_hash: Mapped[str] = mapped_column(String(64))
    rows_screened: Mapped[int] = mapped_column(BigInteger)
    total_hits: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict] = mapped_column(JSON)
    started_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HitReview(Base):
    """A reviewer's decision on one screening hit; a confirmed hit becomes a finding."""
    __tablename__ = "screening_hit_reviews"
    __table_args__ = (UniqueConstraint("run_id", "hit_id", name="uq_hit_review"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    run_id: Mapped[str] = mapped_column(ForeignKey("screening_runs.id"), index=True)
    hit_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # confirmed | dismissed
    reason: Mapped[str] = mapped_column(Text)
    finding_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    reviewed_by: Mapped[str] = mapped_column(String(128))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
