"""Evidence of a case as facts from the bus (证据清单 of the case file).

The files and their chain of custody stay in the inspection service; the cases service keeps, per
case, what the events said about each file: its id, SHA-256, name, type, size and when it was
added. Two events carry them, both of the subject ``finding:<id>`` (ordered on the cases queue):

* ``finding.recorded`` — the files gathered before the hand-over (``evidence``, optional);
* ``evidence.registered`` — a file attached to the finding afterwards.

Idempotent: the consumer records event ids, and a row is unique per (case, evidence id).
Evidence that arrives before its case exists: events of one subject are applied in sequence order
(later ones are parked until the gap closes), so an ``evidence.registered`` is applied only after
the ``finding.recorded`` that opened the case. A row whose case still cannot be found (a finding
for which no case was opened) is kept by ``finding_id`` with no case, and joins the case opened
from that finding when the case file is read (``for_case``).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fundguard_shared.db import UTCDateTime
from fundguard_shared.events import Event
from fundguard_shared.outbox import utcnow

from . import service
from .models import Base, Case


class CaseEvidence(Base):
    """One evidence file of a case, as the inspection service reported it."""
    __tablename__ = "case_evidence"
    __table_args__ = (UniqueConstraint("case_id", "evidence_id", name="uq_case_evidence"),
                      UniqueConstraint("finding_id", "evidence_id", name="uq_case_evidence_finding"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    case_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"),
                                                nullable=True, index=True)
    finding_id: Mapped[str] = mapped_column(String(36), index=True)
    evidence_id: Mapped[str] = mapped_column(String(36))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_event_id: Mapped[str] = mapped_column(String(36))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def record(session: Session, finding_id: str, ref: dict, event_id: str) -> CaseEvidence | None:
    """Store one file reported for a finding, once (a redelivered or repeated fact changes nothing)."""
    exists = session.execute(select(CaseEvidence.id).where(
        CaseEvidence.finding_id == finding_id, CaseEvidence.evidence_id == ref["evidence_id"])).first()
    if exists:
        return None
    case_id = session.execute(select(Case.id).where(Case.finding_id == finding_id)
                              .order_by(Case.created_at)).scalars().first()
    row = CaseEvidence(case_id=case_id, finding_id=finding_id, evidence_id=ref["evidence_id"],
                       sha256=ref["sha256"], filename=ref["filename"][:255], media_type=ref["media_type"],
                       size=ref["size"], added_at=ref["added_at"], source_event_id=event_id)
    session.add(row)
    session.flush()
    return row


def on_finding_recorded(session: Session, event: Event) -> None:
    """``finding.recorded``: open the clue (service), then keep the files the finding came with."""
    service.open_clue_from_finding(session, event)
    for ref in event.payload.get("evidence") or []:
        record(session, event.payload["finding_id"], ref, event.id)


def on_evidence_registered(session: Session, event: Event) -> None:
    """``evidence.registered``: a file attached to the finding after the hand-over."""
    record(session, event.payload["finding_id"], event.payload, event.id)


def for_case(session: Session, case: Case) -> list[CaseEvidence]:
    """The case's files in the order they were added (rows kept by finding join here)."""
    cond = CaseEvidence.case_id == case.id
    if case.finding_id:
        cond = or_(cond, (CaseEvidence.case_id.is_(None)) & (CaseEvidence.finding_id == case.finding_id))
    return list(session.execute(select(CaseEvidence).where(cond)
                                .order_by(CaseEvidence.added_at, CaseEvidence.evidence_id)).scalars())
