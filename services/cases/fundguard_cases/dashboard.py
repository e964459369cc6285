"""Leadership read models: counts, overdue clocks, amounts decided and recovered, CSV export.
Every query starts from ``Case`` and goes through ``service.scoped``."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal

from .deadlines import LABELS
from .models import Case, CaseDetails, Deadline, Payment, SanctionRecord
from .rules.sanctions import SanctionKind
from .service import scoped
from .workflow import STATES

GROUPINGS = ("state", "region", "institution", "sanction_type")


def counts(session: Session, principal: Principal, by: str) -> list[dict]:
    if by == "sanction_type":
        q = scoped(select(SanctionRecord.kind, func.count(func.distinct(SanctionRecord.case_id)))
                   .join(Case, Case.id == SanctionRecord.case_id)
                   .where(SanctionRecord.current.is_(True), SanctionRecord.stage.in_(("decided", "agreement")))
                   .group_by(SanctionRecord.kind), principal)
        return [{"key": k, "label": SanctionKind(k).label_zh, "count": n}
                for k, n in session.execute(q).all()]
    column = {"state": Case.state, "region": Case.region, "institution": Case.institution_id}[by]
    extra = (Case.institution_name,) if by == "institution" else ()
    q = scoped(select(column, *extra, func.count()).group_by(column, *extra), principal)
    out = []
    for row in session.execute(q).all():
        key, n = row[0], row[-1]
        label = STATES.get(key, key) if by == "state" else (row[1] if by == "institution" else key)
        out.append({"key": key, "label": label, "count": n})
    return sorted(out, key=lambda r: (-r["count"], r["key"]))


def overdue(session: Session, principal: Principal) -> list[dict]:
    q = scoped(select(Deadline, Case).join(Case, Case.id == Deadline.case_id)
               .where(Deadline.status.in_(("overdue", "calendar_not_loaded")))
               .order_by(Deadline.due_on), principal)
    return [{"deadline_id": d.id, "case_id": c.id, "case_number": c.number, "kind": d.kind,
             "label": LABELS.get(d.kind, d.kind), "due_on": d.due_on, "status": d.status, "note": d.note,
             "institution_id": c.institution_id, "institution_name": c.institution_name,
             "region": c.region, "department": c.department, "state": c.state}
            for d, c in session.execute(q).all()]


def amounts(session: Session, principal: Principal) -> dict:
    decided = scoped(select(SanctionRecord.kind, func.coalesce(func.sum(SanctionRecord.amount), 0))
                     .join(Case, Case.id == SanctionRecord.case_id)
                     .where(SanctionRecord.current.is_(True), SanctionRecord.stage.in_(("decided", "agreement")))
                     .group_by(SanctionRecord.kind), principal)
    by_kind = {k: Decimal(v) for k, v in session.execute(decided).all()}
    paid = scoped(select(Payment.kind, func.coalesce(func.sum(Payment.amount), 0))
                  .join(Case, Case.id == Payment.case_id).group_by(Payment.kind), principal)
    by_paid = {k: Decimal(v) for k, v in session.execute(paid).all()}
    money = lambda v: str(Decimal(v).quantize(Decimal("0.01")))  # noqa: E731
    return {
        "fines_decided": money(by_kind.get("fine", 0) + by_kind.get("confiscation", 0)),
        "recovery_decided": money(by_kind.get("order_refund", 0) + by_kind.get("recovery", 0)),
        "liquidated_damages_decided": money(by_kind.get("liquidated_damages", 0)),
        "fines_paid": money(by_paid.get("fine", 0)),
        "surcharge_paid": money(by_paid.get("surcharge", 0)),
        "recovered": money(by_paid.get("recovery", 0)),
        "liquidated_damages_paid": money(by_paid.get("liquidated_damages", 0)),
    }


CSV_COLUMNS = ("number", "state", "state_label", "institution_id", "institution_name", "region",
               "department", "amount", "opened_on", "decision_kind", "decided_on", "fines_decided",
               "recovery_decided", "paid", "overdue_deadlines")


def export_csv(session: Session, principal: Principal) -> str:
    cases = session.execute(scoped(select(Case, CaseDetails).outerjoin(CaseDetails, CaseDetails.case_id == Case.id)
                                   .order_by(Case.number), principal)).all()
    ids = [c.id for c, _ in cases]
    fines, recovery, paid, late = {}, {}, {}, {}
    if ids:
        for cid, kind, amount in session.execute(
                select(SanctionRecord.case_id, SanctionRecord.kind, SanctionRecord.amount)
                .where(SanctionRecord.case_id.in_(ids), SanctionRecord.current.is_(True),
                       SanctionRecord.stage == "decided")):
            target = fines if kind in ("fine", "confiscation") else recovery if kind in ("order_refund", "recovery") else None
            if target is not None:
                target[cid] = target.get(cid, Decimal(0)) + Decimal(amount or 0)
        for cid, amount in session.execute(select(Payment.case_id, Payment.amount).where(Payment.case_id.in_(ids))):
            paid[cid] = paid.get(cid, Decimal(0)) + Decimal(amount)
        for cid, n in session.execute(select(Deadline.case_id, func.count()).where(
                Deadline.case_id.in_(ids), Deadline.status == "overdue").group_by(Deadline.case_id)):
            late[cid] = n
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for c, d in cases:
        w.writerow([csv_cell(v) for v in [c.number, c.state, STATES.get(c.state, c.state), c.institution_id, c.institution_name,
                    c.region, c.department, c.amount, d.opened_on if d else "", (d.decision_kind or "") if d else "",
                    (d.decided_on or "") if d else "", fines.get(c.id, ""), recovery.get(c.id, ""),
                    paid.get(c.id, ""), late.get(c.id, 0)]])
    return buf.getvalue()


def csv_cell(value):
    """Text that a spreadsheet would run as a formula (=, +, -, @, tab, CR) is quoted with a
    leading apostrophe (CSV injection); numbers and dates pass as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
