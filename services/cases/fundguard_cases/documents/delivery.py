"""送达 drives the clocks. Recording the receipt of a served 事先告知书 / 决定书 fires the workflow
step its type names (``notify`` / ``serve``) through ``service.transition`` — same transaction,
audit entry and outbox event — with ``served_on`` = the receipt date (China time). Issuing alone
starts nothing.

Electronic service (行政处罚法 art.61) needs the party's recorded consent. Staff record the
dispatch (no receipt yet); the institution's first opening of the PDF records the receipt time
(later openings do not move it) and fires the step as the platform's system actor
(``SYSTEM_ACTOR``, role ``system``, admitted by the workflow for exactly these two steps): the party
cannot fire staff steps, and nobody on the staff acted at that moment."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal
from fundguard_shared.outbox import utcnow

from .. import audit, clock
from .. import service as case_service
from ..models import Case
from ..workflow import SYSTEM_ROLE
from .catalog import SERVICE_METHODS, TYPES
from .issue import DocumentError
from .models import Document, DocumentService, ServiceConsent

CN = timezone(timedelta(hours=8))
SYSTEM_ACTOR = Principal(sub="system:electronic-service", role=SYSTEM_ROLE)
RECORDERS = ("inspector", "leader")


def receipt_of(session: Session, doc: Document) -> DocumentService | None:
    return session.execute(select(DocumentService).where(DocumentService.document_id == doc.id,
                                                         DocumentService.receipt_at.is_not(None))
                           .order_by(DocumentService.recorded_at).limit(1)).scalar_one_or_none()


def services_of(session: Session, doc_id: str) -> list[DocumentService]:
    return list(session.execute(select(DocumentService).where(DocumentService.document_id == doc_id)
                                .order_by(DocumentService.recorded_at)).scalars())


def has_consent(session: Session, case_id: str) -> bool:
    return session.execute(select(ServiceConsent.id).where(ServiceConsent.case_id == case_id)).first() is not None


def _original_served(session: Session, doc: Document) -> bool:
    """A correction of a document already served: its service is recorded, the step (and its
    clocks) already ran with the original."""
    seen = set()
    current = doc
    while current.corrects_id and current.corrects_id not in seen:
        seen.add(current.corrects_id)
        current = session.get(Document, current.corrects_id)
        if current is None:
            return False
        if receipt_of(session, current) is not None:
            return True
    return False


def record_consent(session: Session, case: Case, principal: Principal, reference: str, request_id: str = "") -> ServiceConsent:
    reference = (reference or "").strip()
    if principal.role != "institution" and not reference:
        raise DocumentError(422, "reference_required", "工作人员登记同意电子送达须注明书面确认书编号或说明",
                            "staff recording consent must cite the signed confirmation")
    row = ServiceConsent(case_id=case.id, given_by=principal.sub, role=principal.role, reference=reference[:2000],
                         given_at=utcnow())
    session.add(row)
    session.flush()
    audit.append(session, case.id, actor=principal.sub, actor_role=principal.role, action="consent_electronic_service",
                 from_state=case.state, to_state=case.state, reason=f"同意电子送达{('：' + reference) if reference else ''}",
                 request_id=request_id or "")
    return row


def _fire(session: Session, case: Case, doc: Document, actor: Principal, served_on: date, reason: str,
          request_id: str, today: date | None) -> None:
    trigger = TYPES[doc.doc_type].serves
    if trigger is None:
        return
    from ..workflow import TransitionRejected
    try:
        case_service.transition(session, case, trigger, actor, reason, request_id or "",
                                {"served_on": served_on.isoformat()}, today=today)
    except TransitionRejected as rej:
        if rej.kind == "guard_failed":
            raise DocumentError(422, "guard_failed", "；".join(f.zh for f in rej.failures),
                                "; ".join(f.en for f in rej.failures),
                                failures=[{"code": f.code, "message_zh": f.zh, "message_en": f.en}
                                          for f in rej.failures])
        raise DocumentError(409, "invalid_transition", "案件当前状态下不能登记此文书的送达",
                            "the case is not in a state where this document's service can be recorded",
                            trigger=trigger, state=case.state)


def _deemed_by_public_notice(announced_on: date, details: dict, today: date) -> date:
    """公告送达: only when the party cannot be reached otherwise (the ground is recorded); the
    document counts as served when the legal period after the announcement has passed
    (``rules.legal.public_notice_service``, 30 days), so it is recorded once that day has come."""
    if not (details.get("ground") or "").strip():
        raise DocumentError(422, "public_notice_ground_required",
                            "公告送达须写明理由（受送达人下落不明或以其他方式无法送达）",
                            "public-notice service needs its ground (the party cannot be reached otherwise)")
    period = case_service.legal_params().public_notice_service.value
    deemed = announced_on + timedelta(days=int(period))
    if deemed > today:
        raise DocumentError(422, "public_notice_period_running",
                            f"公告期未满：自 {announced_on} 发出公告起经过 {period} 日（{deemed}）方视为送达，届时再登记",
                            f"the public-notice period is running: served on {deemed}, {period} days after "
                            f"{announced_on}; record it then", deemed_served_on=deemed.isoformat())
    return deemed


def record_service(session: Session, doc: Document, case: Case, principal: Principal, method: str,
                   receipt_at: datetime | None, details: dict | None, *, request_id: str = "",
                   today: date | None = None) -> DocumentService:
    if principal.role not in RECORDERS:
        raise DocumentError(403, "role_forbidden", "当前角色无权登记送达", "Role may not record service")
    dt = TYPES[doc.doc_type]
    if not dt.external:
        raise DocumentError(422, "not_served", "内部文书无须送达", "internal forms are not served")
    if doc.status != "issued":
        raise DocumentError(409, "document_voided", "文书已作废", "the document is void")
    if session.execute(select(Document.id).where(Document.corrects_id == doc.id)).first():
        raise DocumentError(409, "document_corrected", "该文书已被更正，请送达更正后的文书",
                            "this document was corrected; serve the correction")
    if method not in SERVICE_METHODS:
        raise DocumentError(422, "bad_method", "送达方式应为：" + "、".join(SERVICE_METHODS.values()),
                            "method must be one of " + ", ".join(SERVICE_METHODS), allowed=list(SERVICE_METHODS))
    if receipt_of(session, doc) is not None:
        raise DocumentError(409, "already_served", "该文书已登记送达", "the document's service is already recorded")
    today = today or clock.today()
    details = {str(k)[:64]: str(v)[:500] for k, v in (details or {}).items()}
    if method == "electronic":
        if not has_consent(session, case.id):
            raise DocumentError(422, "no_electronic_consent", "当事人未同意电子送达，不得采用电子送达",
                                "electronic service needs the party's recorded consent")
        if receipt_at is not None:
            raise DocumentError(422, "receipt_at_not_allowed", "电子送达以当事人首次打开文书的时间为送达时间，不得填写",
                                "electronic receipt is the party's first opening; do not give receipt_at")
        if session.execute(select(DocumentService.id).where(DocumentService.document_id == doc.id,
                                                            DocumentService.method == "electronic")).first():
            raise DocumentError(409, "already_dispatched", "该文书已电子送达，等待当事人查阅", "already sent electronically")
        row = DocumentService(document_id=doc.id, method=method, receipt_at=None, recorded_by=principal.sub,
                              recorded_at=utcnow(), details=details)
        session.add(row)
        session.flush()
        audit.append(session, case.id, actor=principal.sub, actor_role=principal.role, action="dispatch_document",
                     from_state=case.state, to_state=case.state,
                     reason=f"电子送达{doc.title}{(' ' + doc.number) if doc.number else ''}（待当事人查阅）",
                     request_id=request_id or "")
        return row
    if receipt_at is None:
        raise DocumentError(422, "receipt_at_required", "须登记送达（签收）时间", "receipt_at is required")
    if receipt_at.tzinfo is None:
        receipt_at = receipt_at.replace(tzinfo=CN)
    served_on = clock.china_date(receipt_at)
    if method == "public_notice":
        served_on = _deemed_by_public_notice(served_on, details, today)
    if served_on > today:
        raise DocumentError(422, "receipt_in_future", "送达时间不得晚于今天", "receipt_at may not be in the future")
    issued_on = date.fromisoformat((doc.fields or {}).get("issued_on") or clock.china_date(doc.issued_at).isoformat())
    if served_on < issued_on:
        raise DocumentError(422, "receipt_before_issue", "送达时间不得早于文书出具时间", "receipt_at precedes the issue")
    row = DocumentService(document_id=doc.id, method=method, receipt_at=receipt_at, recorded_by=principal.sub,
                          recorded_at=utcnow(), details=details)
    session.add(row)
    session.flush()
    label = f"{SERVICE_METHODS[method]}{doc.title}{(' ' + doc.number) if doc.number else ''}，送达日期 {served_on}"
    if dt.serves and not _original_served(session, doc):
        _fire(session, case, doc, principal, served_on, label, request_id, today)
    else:
        audit.append(session, case.id, actor=principal.sub, actor_role=principal.role, action="serve_document",
                     from_state=case.state, to_state=case.state, reason=label, request_id=request_id or "")
    return row


def opened_by_party(session: Session, doc: Document, case: Case, *, request_id: str = "") -> DocumentService | None:
    """The institution opened the PDF: the first opening of an electronically served document is
    its receipt. Returns the row when this call recorded it."""
    pending = session.execute(select(DocumentService).where(DocumentService.document_id == doc.id,
                                                            DocumentService.method == "electronic",
                                                            DocumentService.receipt_at.is_(None))
                              .with_for_update()).scalar_one_or_none()
    if pending is None or receipt_of(session, doc) is not None or doc.status != "issued":
        return None
    now = utcnow()
    pending.receipt_at = now
    served_on = clock.china_date(now)
    today = max(clock.today(), served_on)
    session.flush()
    label = f"电子送达{doc.title}{(' ' + doc.number) if doc.number else ''}：当事人于 {now.isoformat(timespec='seconds')} 首次打开"
    if TYPES[doc.doc_type].serves and not _original_served(session, doc):
        try:
            _fire(session, case, doc, SYSTEM_ACTOR, served_on, label, request_id, today)
            return pending
        except DocumentError as err:  # the receipt stands; the step is left for staff to fire
            label += f"；未能自动推进流程：{err.zh}"
    audit.append(session, case.id, actor=SYSTEM_ACTOR.sub, actor_role=SYSTEM_ROLE, action="serve_document",
                 from_state=case.state, to_state=case.state, reason=label, request_id=request_id or "")
    return pending
