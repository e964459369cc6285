"""What a template may print: values computed from the case, its file and the legal table
(rules/) — every date, amount, range and window comes from here, never from the user."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..guards import Context, as_item, money_due, money_paid, surcharge_owed
from ..models import AuditEntry, Case
from ..rules import procedure as P
from ..rules import sanctions as S
from ..rules.legal import LegalEntry
from ..rules.windows import period_zh
from .catalog import SERVICE_METHODS, Authority
from .models import Document, DocumentService

CN = timezone(timedelta(hours=8))


def cn_date(d: date | datetime | None) -> str:
    if d is None:
        return ""
    if isinstance(d, datetime):
        d = (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).astimezone(CN)
        return f"{d.year}年{d.month}月{d.day}日{d.hour:02d}时{d.minute:02d}分"
    return f"{d.year}年{d.month}月{d.day}日"


def period_text(entry: LegalEntry) -> str:
    """As documents print a period: "5个工作日" (rules/windows.py formats every period)."""
    return period_zh(entry, sep="")


def yuan(amount) -> str:
    if amount is None:
        return ""
    return f"{Decimal(amount):,.2f}元"


def sanction_text(row) -> str:
    item = as_item(row)
    text = item.kind.label_zh
    if item.amount is not None:
        text += yuan(item.amount)
    if item.years:
        text += f"{item.years}年"
    elif item.months:
        text += f"{item.months}个月"
    return text


def _audit(session: Session, case_id: str, action: str) -> AuditEntry | None:
    return session.execute(select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.action == action)
                           .order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()


def build(session: Session, case: Case, ctx: Context, auth: Authority, today: date) -> dict:
    f, d, prm = ctx.facts, ctx.facts.details, ctx.params
    officers = [o for o in f.officers if o.recused_on is None]
    proposal = f.latest_proposal()
    decided = f.stage("decided")
    party = S.PartyType(case.party_type)
    hearing = bool(proposal) and P.hearing_available([as_item(r).rule() for r in proposal], party, prm)
    out: dict = {
        "authority": auth.name, "review_body": auth.review_body, "court": auth.court,
        "issued_on": cn_date(today),
        "case_number": case.number, "party_name": case.institution_name, "party_id": case.institution_id,
        "violation": case.summary, "legal_basis": case.legal_basis, "amount": yuan(case.amount),
        "act_date": cn_date(case.act_date),
        "officers": "、".join(f"{o.name}（执法证号：{o.credential_no}）" for o in officers),
        "officer_names": "、".join(o.name for o in officers),
        "opened_on": cn_date(d.opened_on), "clue_received_on": cn_date(d.clue_received_on),
        "source": case.source,
        # prior notice: rights and their windows (行政处罚法 arts.44–45, 63–64)
        "intended_sanctions": "；".join(sanction_text(r) for r in proposal),
        "defence_window": period_text(prm.defence_window),
        "hearing_available": hearing,
        "hearing_window": period_text(prm.hearing_request) if hearing else "",
        # decision (art.59): kinds, performance, remedies
        "sanctions": "；".join(sanction_text(r) for r in decided),
        "sanction_articles": "、".join(sorted({f"第{r.article}条" for r in decided if r.article.isdigit()})),
        "decided_on": cn_date(d.decided_on),
        "payment_window": period_text(prm.payment),
        "surcharge_rate": f"{(prm.surcharge_rate.value * 100).normalize()}%",
        "review_window": period_text(prm.review_application),
        "litigation_window": period_text(prm.litigation),
        "no_sanction_ground": "", "referral_target": "",
        "hearing_on": cn_date(d.hearing_on), "hearing_chair": d.hearing_chair or "",
        "hearing_notice_window": period_text(prm.hearing_notice),
        "hearing_requested_on": cn_date(d.hearing_requested_on),
        "defence_summary": "已提出陈述、申辩并经复核" if d.defence_filed_on else (
            "当事人明确放弃陈述、申辩和听证权利" if d.rights_waived else "当事人在规定期限内未提出陈述、申辩"),
        "hearing_held": d.hearing_outcome == "held",
    }
    if d.decision_kind == "no_sanction":
        from ..guards import NO_SANCTION_GROUNDS
        out["no_sanction_ground"] = NO_SANCTION_GROUNDS.get(d.no_sanction_ground or "", "")
    if d.decision_kind == "referral":
        labels = {"police": "公安机关", "discipline": "纪检监察机关", "health": "卫生健康主管部门",
                  "drug": "药品监督管理部门"}
        out["referral_target"] = labels.get(d.referral_target or "", "")
    fines = sum((as_item(r).amount or Decimal(0) for r in decided if r.kind in ("fine", "confiscation")), Decimal(0))
    out["fine_total"] = yuan(fines) if fines else ""
    out["has_fine"] = fines > 0
    # enforcement (行政强制法 arts.35, 54; 行政处罚法 art.72)
    due, paid = money_due(ctx), money_paid(ctx)
    owed_fine = max(due["fine"] - paid.get("fine", Decimal(0)), Decimal(0))
    owed_recovery = max(due["recovery"] - paid.get("recovery", Decimal(0)), Decimal(0))
    out["owed_fine"] = yuan(owed_fine) if owed_fine else ""
    out["owed_recovery"] = yuan(owed_recovery) if owed_recovery else ""
    out["surcharge"] = yuan(surcharge_owed(ctx)) if owed_fine else ""
    out["owed_any"] = bool(owed_fine or owed_recovery)
    out["served_on"] = cn_date(d.served_on)
    pay = next((x for x in f.deadlines if x.kind == "payment"), None)
    out["payment_due_on"] = cn_date(pay.due_on) if pay is not None and pay.due_on else ""
    out["demand_window"] = period_text(prm.enforcement_demand)
    # preservation (行政处罚法 art.56)
    pres = f.running_deadline("preservation_decision")
    out["preservation_items"] = pres.note if pres is not None else ""
    out["preservation_due_on"] = cn_date(pres.due_on) if pres is not None and pres.due_on else ""
    out["preservation_window"] = period_text(prm.preservation_decision)
    # agreement track
    for kind in ("interview", "rectify", "suspend_payment", "suspend_agreement", "terminate_agreement"):
        rows = [s for s in f.sanctions if s.stage == "agreement" and s.kind == kind]
        row = rows[-1] if rows else None
        out[f"agreement_{kind}"] = sanction_text(row) if row else ""
        out[f"agreement_{kind}_on"] = cn_date(row.created_at.astimezone(CN).date()) if row else ""
        out[f"agreement_{kind}_months"] = f"{row.months}个月" if row is not None and row.months else ""
    # approvals from the audit trail
    opened = _audit(session, case.id, "open_case")
    out["opened_by"] = opened.actor if opened else ""
    out["open_reason"] = opened.reason if opened else ""
    declined = _audit(session, case.id, "decline")
    out["decline_reason"] = declined.reason if declined else ""
    out["declined_on"] = cn_date(declined.at.astimezone(CN).date()) if declined else ""
    closed = _audit(session, case.id, "close_case")
    out["closed_by"] = closed.actor if closed else ""
    out["closed_on"] = cn_date(closed.at.astimezone(CN).date()) if closed else ""
    out["paid_fine"] = yuan(paid.get("fine", Decimal(0)))
    out["paid_recovery"] = yuan(paid.get("recovery", Decimal(0)))
    out["paid_surcharge"] = yuan(paid.get("surcharge", Decimal(0)))
    out["state_label"] = ""
    return out


def receipt_facts(session: Session, doc_id: str | None, case: Case) -> dict:
    """For the 送达回证: the served document and its service record (receipt time, method)."""
    if not doc_id:
        return {}
    doc = session.get(Document, str(doc_id))
    if doc is None or doc.case_id != case.id:
        return {"served_document": None}
    svc = session.execute(select(DocumentService).where(DocumentService.document_id == doc.id,
                                                        DocumentService.receipt_at.is_not(None))
                          .order_by(DocumentService.recorded_at).limit(1)).scalar_one_or_none()
    if svc is None:
        return {"served_document": doc.title + (f"（{doc.number}）" if doc.number else ""), "receipt_at": "",
                "service_method": "", "service_recorded_by": "", "service_place": ""}
    return {"served_document": doc.title + (f"（{doc.number}）" if doc.number else ""),
            "receipt_at": cn_date(svc.receipt_at), "service_method": SERVICE_METHODS.get(svc.method, svc.method),
            "service_recorded_by": svc.recorded_by,
            "service_place": str((svc.details or {}).get("place") or ""),
            "service_recipient": str((svc.details or {}).get("recipient") or "")}
