"""Institution standing, projected from the ``sanction.decided`` events the cases service itself
writes to its outbox: agreement status (签约 / 中止 / 解除, with dates and reason), active
suspensions (暂停拨付, 中止相关部门, 暂停联网结算, department suspension 6–12 months), re-application
bans after 解除, and the sanction history. ``in_force=false`` events (appeal changed/annulled)
take the sanction back out; points linked to it are reversed in the same transaction.

The projector tails the local outbox (``project_outbox``), so it needs no queue binding; when the
cases queue binds ``sanction.#`` the same ``apply_event`` can serve as a bus handler.
"""
from __future__ import annotations

import json
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fundguard_shared.events import parse_event
from fundguard_shared.outbox import utcnow
from fundguard_shared.workdays import add_months

from ..models import MESSAGING, InstitutionStanding, SanctionRecord, StandingEvent
from . import ledger
from .config import Settings, settings as make_settings

AGREEMENT_LABELS = {"signed": "签约", "suspended": "中止", "terminated": "解除"}
SUSPENSION_KINDS = ("suspend_payment", "department_suspension", "settlement_suspension")
PROJECTOR = "points-standing"


def apply_event(session: Session, event_id: str, payload: dict, outbox_id: int | None = None,
                actor: str = PROJECTOR, cfg: Settings | None = None) -> bool:
    """Record one sanction.decided event (idempotent by event id) and keep the points in step."""
    if session.execute(select(StandingEvent.id).where(StandingEvent.event_id == event_id)).first():
        return False
    decided_on = payload["decided_on"]
    if isinstance(decided_on, str):
        decided_on = date.fromisoformat(decided_on)
    inst = session.get(InstitutionStanding, payload["institution_id"])
    if inst is None:
        inst = InstitutionStanding(institution_id=payload["institution_id"], institution_name=payload["institution_name"],
                                   region=payload["region"], updated_at=utcnow())
        session.add(inst)
    inst.institution_name, inst.updated_at = payload["institution_name"], utcnow()
    session.add(StandingEvent(event_id=event_id, outbox_id=outbox_id, institution_id=payload["institution_id"],
                              case_id=payload["case_id"], case_number=payload["case_number"],
                              sanction_id=payload["sanction_id"], track=payload["track"], kind=payload["kind"],
                              article=payload["article"], months=payload.get("months"), years=payload.get("years"),
                              decided_on=decided_on, cause=payload["cause"], in_force=bool(payload["in_force"]),
                              recorded_at=utcnow()))
    session.flush()
    if not payload["in_force"]:
        ledger.reverse_sanction(session, payload["sanction_id"], cause=payload["cause"], on=decided_on, actor=actor,
                                cfg=cfg)
    elif payload["cause"] == "appeal_changed":
        new = session.get(SanctionRecord, payload["sanction_id"])
        if new is not None:
            ledger.carry_to_changed(session, new, on=decided_on, actor=actor, cfg=cfg)
    return True


def project_outbox(session: Session, limit: int = 500, cfg: Settings | None = None) -> int:
    """Apply the outbox's sanction.decided events not yet projected, in outbox order."""
    outbox = MESSAGING.outbox
    last = session.execute(select(func.max(StandingEvent.outbox_id))).scalar() or 0
    rows = session.execute(select(outbox.c.id, outbox.c.body).where(outbox.c.id > last,
                                                                     outbox.c.event_type == "sanction.decided")
                           .order_by(outbox.c.id).limit(limit)).all()
    n = 0
    for oid, body in rows:
        event = parse_event(body if isinstance(body, str) else json.dumps(body))
        n += apply_event(session, event.id, event.payload, outbox_id=oid, actor=event.actor, cfg=cfg)
    return n


def standing(session: Session, institution_id: str, on: date, cfg: Settings | None = None) -> dict | None:
    """The institution's standing on ``on``, derived from its sanction history."""
    cfg = cfg or make_settings()
    inst = session.get(InstitutionStanding, institution_id)
    if inst is None:
        return None
    events = list(session.execute(select(StandingEvent).where(StandingEvent.institution_id == institution_id)
                                  .order_by(StandingEvent.decided_on, StandingEvent.id)).scalars())
    withdrawn = {e.sanction_id for e in events if not e.in_force}
    status, since, reason, ban_until = "signed", None, "", None
    suspensions = []
    for e in events:
        if not e.in_force or e.sanction_id in withdrawn or e.decided_on > on:
            continue
        if e.kind == "terminate_agreement":
            years = cfg.points.reapplication_ban_violation.value
            status, since, reason = "terminated", e.decided_on, f"{e.case_number} 解除服务协议"
            ban_until = ledger.add_years(e.decided_on, years)
        elif e.kind == "suspend_agreement" and status != "terminated":
            months = e.months or cfg.points.agreement_suspension_default_months.value
            ends = add_months(e.decided_on, months) if months else None
            if ends is None or on < ends:
                status, since, reason = "suspended", e.decided_on, f"{e.case_number} 中止服务协议"
                suspensions.append(_period(e, ends))
        elif e.kind in SUSPENSION_KINDS:
            ends = add_months(e.decided_on, e.months) if e.months else None
            if ends is None or on < ends:
                suspensions.append(_period(e, ends))
    return {"institution_id": inst.institution_id, "institution_name": inst.institution_name, "region": inst.region,
            "on": on.isoformat(), "agreement_status": status, "agreement_status_label": AGREEMENT_LABELS[status],
            "status_since": since.isoformat() if since else None, "status_reason": reason,
            "active_suspensions": suspensions,
            "reapplication_banned_until": ban_until.isoformat() if ban_until and on < ban_until else None,
            "history": [{"case_id": e.case_id, "case_number": e.case_number, "sanction_id": e.sanction_id,
                         "track": e.track, "kind": e.kind, "article": e.article, "months": e.months,
                         "decided_on": e.decided_on.isoformat(), "cause": e.cause, "in_force": e.in_force,
                         "withdrawn": e.sanction_id in withdrawn} for e in events]}


def _period(e: StandingEvent, ends: date | None) -> dict:
    return {"kind": e.kind, "case_number": e.case_number, "sanction_id": e.sanction_id,
            "starts_on": e.decided_on.isoformat(), "ends_on": ends.isoformat() if ends else None}
