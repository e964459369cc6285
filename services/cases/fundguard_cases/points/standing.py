"""Institution standing, projected from the ``sanction.decided`` events the cases worker consumes
from the bus (``HANDLERS`` in worker.py; idempotent through the consumer's event-id record and,
again, by ``standing_events.event_id``): agreement status (签约 / 中止 / 解除, with dates and reason), active
suspensions (暂停拨付, 中止相关部门, 暂停联网结算, department suspension 6–12 months), re-application
bans after 解除, and the sanction history. ``in_force=false`` events (appeal changed/annulled)
take the sanction back out; points linked to it are reversed in the same transaction.

The credit tier (信用等级) is a plain function of the standing (``credit_tier``, rules from
``PointsConfig.credit_tiers`` [U]). Every change of the standing — by an event or by the calendar
(a suspension running out) — is announced once as ``standing.changed`` (``sync_institution``).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.events import Event
from fundguard_shared.outbox import utcnow
from fundguard_shared.workdays import add_months

from .. import clock
from ..models import InstitutionStanding, SanctionRecord, StandingEvent
from . import announce, ledger
from .config import Settings, settings as make_settings

AGREEMENT_LABELS = {"signed": "签约", "suspended": "中止", "terminated": "解除"}
SUSPENSION_KINDS = ("suspend_payment", "department_suspension", "settlement_suspension")
PROJECTOR = "points-standing"


def apply_event(session: Session, event_id: str, payload: dict, actor: str = PROJECTOR, cfg: Settings | None = None) -> bool:
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
    session.add(StandingEvent(event_id=event_id, outbox_id=None, institution_id=payload["institution_id"],
                              case_id=payload["case_id"], case_number=payload["case_number"],
                              sanction_id=payload["sanction_id"], track=payload["track"], kind=payload["kind"],
                              article=payload["article"], months=payload.get("months"), years=payload.get("years"),
                              decided_on=decided_on, cause=payload["cause"], in_force=bool(payload["in_force"]),
                              recorded_at=utcnow()))
    session.flush()
    if not payload["in_force"]:
        from .procedure import withdraw_for_sanction
        ledger.reverse_sanction(session, payload["sanction_id"], cause=payload["cause"], on=decided_on, actor=actor,
                                cfg=cfg)
        withdraw_for_sanction(session, payload["sanction_id"], on=decided_on, actor=actor)
    elif payload["cause"] == "appeal_changed":
        new = session.get(SanctionRecord, payload["sanction_id"])
        if new is not None:
            ledger.carry_to_changed(session, new, on=decided_on, actor=actor, cfg=cfg)
    sync_institution(session, payload["institution_id"], max(decided_on, clock.today()), actor,
                     cause=f"sanction.{payload['cause']}", case_id=payload["case_id"],
                     case_number=payload["case_number"], cfg=cfg)
    return True


def handle_sanction_event(session: Session, event: Event) -> None:
    """The cases worker's handler for ``sanction.decided`` from the bus."""
    apply_event(session, event.id, event.payload, actor=event.actor)


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
    ban = ban_until if ban_until and on < ban_until else None
    lookback = add_months(on, -cfg.points.credit_lookback_months.value)
    recent = any(e.in_force and e.sanction_id not in withdrawn and lookback < e.decided_on <= on for e in events)
    tier, rule = credit_tier(status, bool(suspensions), recent, cfg)
    return {"institution_id": inst.institution_id, "institution_name": inst.institution_name, "region": inst.region,
            "on": on.isoformat(), "agreement_status": status, "agreement_status_label": AGREEMENT_LABELS[status],
            "credit_tier": tier, "credit_tier_rule": rule, "credit_tier_source": cfg.points.credit_tiers.source,
            "status_since": since.isoformat() if since else None, "status_reason": reason,
            "active_suspensions": suspensions,
            "reapplication_banned_until": ban.isoformat() if ban else None,
            "history": [{"case_id": e.case_id, "case_number": e.case_number, "sanction_id": e.sanction_id,
                         "track": e.track, "kind": e.kind, "article": e.article, "months": e.months,
                         "decided_on": e.decided_on.isoformat(), "cause": e.cause, "in_force": e.in_force,
                         "withdrawn": e.sanction_id in withdrawn} for e in events]}


def _period(e: StandingEvent, ends: date | None) -> dict:
    return {"kind": e.kind, "case_number": e.case_number, "sanction_id": e.sanction_id,
            "starts_on": e.decided_on.isoformat(), "ends_on": ends.isoformat() if ends else None}


def credit_tier(agreement_status: str, suspended: bool, sanctioned_recently: bool, cfg: Settings) -> tuple[str, str]:
    """信用等级: the first rule of ``credit_tiers`` whose condition holds -> (tier, condition)."""
    holds = {"terminated": agreement_status == "terminated", "suspended": agreement_status == "suspended" or suspended,
             "sanctioned_recently": sanctioned_recently, "always": True}
    for tier, condition in cfg.points.credit_tiers.value:
        if holds[condition]:
            return tier, condition
    raise ValueError("credit_tiers must end with an 'always' rule")


def announced_standing(st: dict) -> dict:
    """The part of the standing whose change is announced."""
    return {"agreement_status": st["agreement_status"], "credit_tier": st["credit_tier"],
            "active_suspensions": sorted(f"{s['kind']}:{s['sanction_id']}" for s in st["active_suspensions"]),
            "reapplication_banned_until": st["reapplication_banned_until"]}


def sync_institution(session: Session, institution_id: str, on: date, actor: str, *, cause: str,
                     case_id: str | None = None, case_number: str | None = None,
                     cfg: Settings | None = None) -> bool:
    """Announce ``standing.changed`` when the institution's standing on ``on`` differs from the
    last one announced (the first projection of an institution counts as a change)."""
    st = standing(session, institution_id, on, cfg)
    if st is None:
        return False
    key = f"institution:{institution_id}"
    before = announce.last_state(session, key)
    after = announced_standing(st)
    if before == after:
        return False
    ban = st["reapplication_banned_until"]
    announce.emit_standing(session, {
        "institution_id": institution_id, "institution_name": st["institution_name"], "region": st["region"],
        "on": on, "agreement_status": st["agreement_status"], "agreement_status_label": st["agreement_status_label"],
        "previous_status": before["agreement_status"] if before else None, "credit_tier": st["credit_tier"],
        "previous_tier": before["credit_tier"] if before else None,
        "active_suspensions": [s["kind"] for s in st["active_suspensions"]],
        "reapplication_banned_until": date.fromisoformat(ban) if ban else None, "cause": cause,
        "case_id": case_id, "case_number": case_number}, actor)
    announce.remember(session, key, after)
    return True
