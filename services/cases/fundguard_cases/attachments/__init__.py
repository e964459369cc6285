"""Attachments of a case: files a party (or staff) hands in — 陈述申辩材料, 听证申请材料,
复议/诉讼/申诉材料 — stored, never dropped.

* The bytes go to the content-addressed blob store (``documents.store``: name = SHA-256, verified
  on every read); a row in ``case_attachments`` says whose, what, for which purpose, when.
* The type is judged by the content (magic bytes), never by the name: PDF, JPEG, PNG, OFD
  (GB/T 33190 版式文档) and Office Open XML (DOCX, XLSX). Limit ``CASES_ATTACHMENT_MAX_BYTES``
  (default 20 MiB) → 413 ``file_too_large``; another type → 415 ``unsupported_file_type``; a broken
  file of an accepted type → 422 ``malformed_file``; an empty file → 422 ``empty_file``.
* Every upload is an entry of the case's audit chain (action ``attach_file``, with its SHA-256).
* Append-only: no update, no delete (triggers on both backends refuse them).
* The steps ``file_defence``, ``request_hearing`` and ``file_appeal`` may reference attachments of
  the same case in ``data.attachments``; the effect records each link (``case_attachment_links``).
* Visibility: staff in the case's scope see every attachment; an institution sees those its side
  uploaded (staff uploads may be internal).
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fundguard_shared import filetypes
from fundguard_shared.auth import Principal
from fundguard_shared.db import UTCDateTime
from fundguard_shared.errors import ApiError
from fundguard_shared.outbox import utcnow
from fundguard_shared.uploads import too_large

from .. import audit, clock
from ..documents import store
from ..models import Base, Case

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
PURPOSES = {"defence": "陈述申辩材料", "hearing_request": "听证申请材料",
            "appeal": "复议/诉讼/申诉材料", "other": "其他材料"}
LINKING_STEPS = ("file_defence", "request_hearing", "file_appeal")
UPLOADERS = ("institution", "inspector", "leader")
MAX_LINKS = 20  # attachments one step may reference

ACCEPTED = (filetypes.PDF, filetypes.JPEG, filetypes.PNG, filetypes.OFD, filetypes.DOCX, filetypes.XLSX)
# a zip is opened only within these bounds (no zip bomb is inflated to judge its type)



def max_bytes() -> int:
    raw = os.environ.get("CASES_ATTACHMENT_MAX_BYTES", "").strip()
    return int(raw) if raw else DEFAULT_MAX_BYTES


# ---- rows ----------------------------------------------------------------------------------------

class CaseAttachment(Base):
    """One file attached to a case (its bytes in the blob store under ``sha256``)."""
    __tablename__ = "case_attachments"
    __table_args__ = (UniqueConstraint("case_id", "sha256", "purpose", "uploader_role",
                                       name="uq_case_attachment_content"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    purpose: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(2000), default="")
    uploaded_by: Mapped[str] = mapped_column(String(128))
    uploader_role: Mapped[str] = mapped_column(String(32))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class CaseAttachmentLink(Base):
    """A workflow step (陈述申辩 / 听证申请 / 复议…) that referenced an attachment."""
    __tablename__ = "case_attachment_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attachment_id: Mapped[str] = mapped_column(String(36), ForeignKey("case_attachments.id",
                                                                      ondelete="RESTRICT"), index=True)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    trigger: Mapped[str] = mapped_column(String(64))
    linked_by: Mapped[str] = mapped_column(String(128))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ---- rules: name, type, size -----------------------------------------------------------------------

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"<>:|?*;]')
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_filename(raw: str | None) -> str:
    """The name shown to people: no directories, no control or shell/header-special characters,
    NFC-normalised, at most 200 characters (keeping the extension); never empty."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:200]
    return name or "附件"


def detect(data: bytes) -> str:
    """The media type of ``data`` judged by its content (fundguard_shared.filetypes), or an
    ``ApiError`` (415 / 422)."""
    try:
        return filetypes.detect(io.BytesIO(data), len(data), ACCEPTED)
    except filetypes.FileTypeError as exc:
        raise ApiError(exc.status, exc.code, exc.zh, exc.en) from None


def read_limited(stream, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``; 413 beyond."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise too_large(limit)
    return data


# ---- unit of work ------------------------------------------------------------------------------------

def visible_to(att: CaseAttachment, principal: Principal) -> bool:
    """Staff in the case's scope see all; an institution sees what its side uploaded."""
    return principal.role != "institution" or att.uploader_role == "institution"


def attach(session: Session, case: Case, principal: Principal, data: bytes, filename: str, purpose: str,
           note: str, request_id: str | None) -> tuple[CaseAttachment, bool]:
    """Check the file, store its bytes, record the row and the audit entry. Returns (row, created):
    the same content attached again for the same purpose by the same side (party / staff) is the
    existing row (nothing new written: a retried upload is harmless)."""
    if principal.role not in UPLOADERS:
        raise ApiError(403, "role_forbidden", "当前角色无权上传附件", "your role may not attach files")
    if purpose not in PURPOSES:
        raise ApiError(422, "invalid_purpose", "用途须为 " + " / ".join(PURPOSES),
                       "purpose must be one of " + ", ".join(PURPOSES), field="purpose")
    limit = max_bytes()
    if len(data) > limit:
        raise too_large(limit)
    media_type = detect(data)
    digest = hashlib.sha256(data).hexdigest()
    existing = session.execute(select(CaseAttachment).where(
        CaseAttachment.case_id == case.id, CaseAttachment.sha256 == digest,
        CaseAttachment.purpose == purpose, CaseAttachment.uploader_role == principal.role)).scalar_one_or_none()
    if existing is not None:
        return existing, False
    store.put_blob(data)
    name = clean_filename(filename)
    att = CaseAttachment(case_id=case.id, sha256=digest, filename=name, media_type=media_type, size=len(data),
                         purpose=purpose, note=_CONTROL.sub("", note or "")[:2000], uploaded_by=principal.sub,
                         uploader_role=principal.role, uploaded_at=utcnow(), request_id=(request_id or "")[:128])
    session.add(att)
    session.flush()
    audit.append(session, case.id, actor=principal.sub, actor_role=principal.role, action="attach_file",
                 from_state=case.state, to_state=case.state,
                 reason=f"上传附件《{name}》（{PURPOSES[purpose]}，{media_type}，{len(data)} 字节，"
                        f"编号 {att.id}）SHA-256 {digest}",
                 request_id=(request_id or "")[:128])
    return att, True


def for_case(session: Session, case: Case, principal: Principal | None = None) -> list[CaseAttachment]:
    """The case's attachments in upload order (those ``principal`` may see, when given), each with
    ``linked_steps``: the workflow steps that referenced it."""
    rows = list(session.execute(select(CaseAttachment).where(CaseAttachment.case_id == case.id)
                                .order_by(CaseAttachment.uploaded_at, CaseAttachment.id)).scalars())
    if principal is not None:
        rows = [a for a in rows if visible_to(a, principal)]
    links: dict[str, list[str]] = {}
    for link in session.execute(select(CaseAttachmentLink).where(CaseAttachmentLink.case_id == case.id)
                                .order_by(CaseAttachmentLink.id)).scalars():
        links.setdefault(link.attachment_id, []).append(link.trigger)
    for a in rows:
        a.linked_steps = links.get(a.id, [])
    return rows


def link_from_data(session: Session, case: Case, trigger: str, data: dict, actor: Principal) -> list[str]:
    """``data.attachments`` of a step: ids of attachments of this case the actor may see; each
    link is recorded. Anything else → 422 naming the id (and nothing of the step is written)."""
    raw = (data or {}).get("attachments")
    if raw in (None, []):
        return []
    if not isinstance(raw, list) or len(raw) > MAX_LINKS or not all(isinstance(i, str) and i for i in raw):
        raise ApiError(422, "invalid_attachments", f"attachments 须为本案附件编号的列表（至多 {MAX_LINKS} 个）",
                       f"attachments must be a list of at most {MAX_LINKS} attachment ids of this case",
                       field="attachments")
    ids = list(dict.fromkeys(raw))
    found = {a.id: a for a in session.execute(select(CaseAttachment).where(
        CaseAttachment.id.in_(ids), CaseAttachment.case_id == case.id)).scalars()}
    for att_id in ids:
        att = found.get(att_id)
        if att is None or not visible_to(att, actor):
            raise ApiError(422, "attachment_not_in_case", f"附件 {att_id} 不是本案的附件",
                           f"attachment {att_id} is not an attachment of this case", attachment_id=att_id)
    now = utcnow()
    for att_id in ids:
        session.add(CaseAttachmentLink(attachment_id=att_id, case_id=case.id, trigger=trigger,
                                       linked_by=actor.sub, linked_at=now))
    return ids


def evidence_rows(session: Session, case: Case) -> list[dict]:
    """The case's attachments as rows of the case file's evidence list (证据清单), with SHA-256."""
    rows = []
    for a in for_case(session, case):
        steps = "、".join(a.linked_steps)
        rows.append({"kind": "attachment", "label": f"{PURPOSES.get(a.purpose, a.purpose)}：{a.filename}",
                     "reference": a.id, "sha256": a.sha256, "size": a.size, "media_type": a.media_type,
                     "held_by": "cases", "date": clock.china_date(a.uploaded_at).isoformat(),
                     "note": f"{a.media_type}，{a.size} 字节，{a.uploaded_by}上传"
                             + (f"；用于 {steps}" if steps else "")})
    return rows
