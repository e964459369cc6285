"""Tables of the documents package (on the cases service's metadata; migration 0006)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fundguard_shared.db import UTCDateTime
from fundguard_shared.outbox import utcnow

from ..models import Base


def _uuid() -> str:
    return str(uuid.uuid4())


class Document(Base):
    """One issued document. Frozen at issue: the PDF (``sha256`` in the blob store) and the values
    rendered (``fields``) never change; ``status`` moves only issued -> voided. A correction is a
    new row whose ``corrects_id`` names the one it corrects."""
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("number", name="uq_documents_number"),
                      UniqueConstraint("case_id", "seq", name="uq_documents_case_seq"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    doc_type: Mapped[str] = mapped_column(String(48), index=True)
    number: Mapped[str | None] = mapped_column(String(96), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="issued")  # issued | voided
    addressee_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    corrects_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("documents.id", ondelete="RESTRICT"),
                                                    nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(128))
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    publish: Mapped[bool] = mapped_column(Boolean, default=False)
    seq: Mapped[int] = mapped_column(Integer)  # issue order within the case


class DocumentNumberSequence(Base):
    """Gap-free 文号 counter per authority, type and year (row-locked in the issuing transaction)."""
    __tablename__ = "document_number_sequences"

    authority: Mapped[str] = mapped_column(String(32), primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(48), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class VoidedNumber(Base):
    """A 文号 taken out of use, with its reason; the sequence never hands it out again."""
    __tablename__ = "voided_numbers"

    number: Mapped[str] = mapped_column(String(96), primary_key=True)
    document_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("documents.id", ondelete="RESTRICT"),
                                                    nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DocumentService(Base):
    """送达 of one document. ``receipt_at`` NULL = dispatched electronically, not yet opened."""
    __tablename__ = "document_services"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    document_id: Mapped[str] = mapped_column(String(36), ForeignKey("documents.id", ondelete="RESTRICT"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # direct | lien | post | electronic | public_notice
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class ServiceConsent(Base):
    """The party's consent to electronic service (行政处罚法 art.61): given by the institution in
    the portal, or recorded by staff from a signed 送达地址确认书 (``reference``)."""
    __tablename__ = "service_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    given_by: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(Text, default="")
    given_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
