"""Issue, correct, void and list documents. One transaction per issue: validate (type, step,
fields, required items, template), take the 文号, render the PDF once, store it by SHA-256, write
the row, the audit entry (with the hash) and the event. Any failure before commit consumes nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal
from fundguard_shared.outbox import add_event, utcnow

from .. import audit, clock
from .. import service as case_service
from ..models import MESSAGING, SERVICE, Case
from . import facts as F
from . import numbers, pdf, store, templates
from .catalog import TYPES, authority
from .models import Document, DocumentService, VoidedNumber

ISSUERS = ("inspector", "leader")
DECISION_TYPES = ("decision", "no_sanction_decision")


class DocumentError(Exception):
    def __init__(self, status: int, code: str, zh: str, en: str, **extra):
        super().__init__(en)
        self.status, self.code, self.zh, self.en, self.extra = status, code, zh, en, extra


def _from_template(p: templates.TemplateProblem) -> DocumentError:
    return DocumentError(422, p.code, p.zh, p.en, **p.extra)


def _lock_case(session: Session, case: Case) -> None:
    """Serialise issues on one case (its per-case order and audit chain); no-op on SQLite, whose
    transaction already holds the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Case.id).where(Case.id == case.id).with_for_update())


@dataclass
class Prepared:
    dt: object
    tpl: templates.Template
    user: dict
    values: dict
    rendered: templates.Rendered
    auth: object
    today: date


def prepare(session: Session, case: Case, doc_type: str, principal: Principal, supplied: dict | None,
            *, correcting: Document | None = None, today: date | None = None):
    """Everything but the number and the PDF (type, template, values, rendered). Raises DocumentError."""
    dt = TYPES.get(doc_type)
    if dt is None:
        raise DocumentError(422, "unknown_doc_type", f"未知的文书类型：{doc_type}", f"unknown document type {doc_type!r}",
                            allowed=sorted(TYPES))
    today = today or clock.today()
    ctx = case_service.context(session, case, principal, today=today)
    if correcting is None:
        why = dt.gate(case, ctx.facts)
        if why:
            raise DocumentError(409, "document_not_issuable", why[0], why[1], doc_type=doc_type, state=case.state)
    try:
        tpl = templates.load(doc_type, case.region)
        user = templates.check_fields(tpl, supplied or {})
    except templates.TemplateProblem as p:
        raise _from_template(p)
    auth = authority(case.region)
    computed = F.build(session, case, ctx, auth, today)
    if doc_type == "service_receipt":
        computed.update(F.receipt_facts(session, user.get("document_id"), case))
        if user.get("document_id") and computed.get("served_document") is None:
            raise DocumentError(422, "bad_field", "document_id 不是本案的文书", "document_id is not a document of this case",
                                field="document_id")
    clash = sorted(set(tpl.fields) & set(computed))
    if clash:  # a template may not let the user type what the case computes
        raise DocumentError(422, "template_invalid", f"模板字段与计算事项重名：{'、'.join(clash)}",
                            f"template fields shadow computed items: {', '.join(clash)}", fields=clash)
    values = {**{k: "" for k in tpl.fields}, **user, **computed}
    try:
        templates.check_required(tpl, values)
        rendered = templates.render(tpl, values)
    except templates.TemplateProblem as p:
        raise _from_template(p)
    return Prepared(dt, tpl, user, values, rendered, auth, today)


def spec_of(dt, rendered: templates.Rendered, auth, number: str | None, today: date) -> pdf.PdfSpec:
    return pdf.PdfSpec(title=rendered.title, paragraphs=rendered.paragraphs,
                       issuer=auth.name if dt.external or dt.number_code else "", number=number,
                       addressee=rendered.addressee or None, authority=auth.name, date=F.cn_date(today),
                       table=rendered.table, seal=dt.external or dt.number_code is not None,
                       col_widths_mm=[40, 116] if rendered.table and all(len(r) == 2 for r in rendered.table) else None)


def issue_document(session: Session, case: Case, doc_type: str, principal: Principal, fields: dict | None,
                   *, corrects: str | None = None, publish: bool = False, today: date | None = None,
                   request_id: str = "") -> Document:
    if principal.role not in ISSUERS:
        raise DocumentError(403, "role_forbidden", "当前角色无权出具文书", "Role may not issue documents")
    correcting = None
    if corrects:
        correcting = session.get(Document, str(corrects))
        if correcting is None or correcting.case_id != case.id:
            raise DocumentError(422, "bad_corrects", "被更正的文书不是本案的文书", "the corrected document is not of this case")
        if correcting.doc_type != doc_type:
            raise DocumentError(422, "bad_corrects", "更正文书须与原文书类型相同", "a correction has the type of the original")
        later = session.execute(select(Document.id).where(Document.corrects_id == correcting.id)).first()
        if later is not None:
            raise DocumentError(409, "already_corrected", "该文书已被更正，请更正最新的文书",
                                "that document was already corrected; correct the latest one")
    elif doc_type in TYPES and TYPES[doc_type].serves:
        live = session.execute(select(Document.number).where(
            Document.case_id == case.id, Document.doc_type == doc_type, Document.status == "issued")).first()
        if live is not None:
            raise DocumentError(409, "already_issued", f"本案已出具该文书（{live[0]}），如需修改请出具更正文书或先作废",
                                "already issued for this case: issue a correction or void it first", number=live[0])
    if publish and doc_type not in DECISION_TYPES:
        raise DocumentError(422, "publish_not_allowed", "只有处罚决定类文书可以公示", "only decisions can be published")
    prep = prepare(session, case, doc_type, principal, fields, correcting=correcting, today=today)
    dt, tpl, user, rendered, auth, today = prep.dt, prep.tpl, prep.user, prep.rendered, prep.auth, prep.today
    try:
        pdf._font()
    except pdf.FontUnavailable:
        raise DocumentError(503, "pdf_font_unavailable", "服务器缺少中文字体，暂不能出具文书（请安装 fonts-wqy-microhei）",
                            f"the CJK font is missing ({pdf.font_path()}); install fonts-wqy-microhei")
    _lock_case(session, case)
    number = None
    if dt.number_code:
        n = numbers.take(session, auth.prefix, doc_type, today.year)
        number = numbers.format_number(auth.prefix, dt.number_code, today.year, n)
    try:
        data = pdf.render_pdf(spec_of(dt, rendered, auth, number, today))
    except pdf.RenderError as exc:
        raise DocumentError(422, "template_render_failed", "文书无法排版生成", f"the document cannot be laid out: {exc}")
    digest = store.put_blob(data)
    seq = (session.execute(select(func.max(Document.seq)).where(Document.case_id == case.id)).scalar() or 0) + 1
    doc = Document(case_id=case.id, region=case.region, doc_type=doc_type, number=number, title=rendered.title,
                   status="issued", addressee_id=case.institution_id if dt.external else None,
                   corrects_id=correcting.id if correcting else None, sha256=digest, size=len(data),
                   issued_at=utcnow(), issued_by=principal.sub, publish=bool(publish), seq=seq,
                   fields={"inputs": user, "template": tpl.source.rsplit("/", 1)[-1],
                           "rendered": {"title": rendered.title, "addressee": rendered.addressee,
                                        "paragraphs": rendered.paragraphs, "table": rendered.table},
                           "issued_on": today.isoformat(), "authority": auth.name})
    session.add(doc)
    session.flush()
    reason = f"出具{dt.label}{(' ' + number) if number else ''}；sha256={digest}"
    if correcting is not None:
        reason += f"；更正 {correcting.number or correcting.id}"
    audit.append(session, case.id, actor=principal.sub, actor_role=principal.role, action="issue_document",
                 from_state=case.state, to_state=case.state, reason=reason, request_id=request_id or "")
    if dt.external:
        add_event(session, MESSAGING, "case.document_issued", {
            "case_id": case.id, "case_number": case.number, "document_id": doc.id, "doc_type": doc_type,
            "title": doc.title, "number": number, "institution_id": case.institution_id,
            "region": case.region, "department": case.department, "issued_on": today,
        }, subject=f"case:{case.id}", producer=SERVICE, actor=principal.sub, correlation_id=request_id or None)
    return doc


def void_document(session: Session, doc: Document, case: Case, principal: Principal, reason: str,
                  request_id: str = "") -> Document:
    """作废: the number is recorded with its reason and never reused; the PDF stays."""
    reason = (reason or "").strip()
    if not reason:
        raise DocumentError(422, "reason_required", "作废须说明理由", "voiding needs a reason")
    if doc.status == "voided":
        raise DocumentError(409, "already_voided", "该文书已作废", "the document is already void")
    served = session.execute(select(DocumentService.id).where(DocumentService.document_id == doc.id,
                                                              DocumentService.receipt_at.is_not(None))).first()
    if served is not None:
        raise DocumentError(409, "already_served", "文书已送达，不能作废，请出具更正文书",
                            "a served document cannot be voided; issue a correction")
    doc.status = "voided"
    if doc.number:
        session.add(VoidedNumber(number=doc.number, document_id=doc.id, reason=reason, by=principal.sub, at=utcnow()))
    session.flush()
    audit.append(session, case.id, actor=principal.sub, actor_role=principal.role, action="void_document",
                 from_state=case.state, to_state=case.state,
                 reason=f"作废{doc.title}{(' ' + doc.number) if doc.number else ''}：{reason}", request_id=request_id or "")
    return doc


def list_case_documents(session: Session, case_id: str) -> list[Document]:
    """Every document of a case in issue order."""
    return list(session.execute(select(Document).where(Document.case_id == case_id)
                                .order_by(Document.seq)).scalars())


def pdf_bytes(doc: Document) -> bytes:
    return store.get_blob(doc.sha256)
