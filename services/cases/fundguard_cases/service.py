"""Unit-of-work functions of the cases service: load, apply the rule, write state + audit +
outbox in the caller's transaction. Views and event handlers call these; nothing else writes."""
from __future__ import annotations

import json
import os
from datetime import date
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal
from fundguard_shared.events import Event
from fundguard_shared.outbox import add_event, utcnow

from . import audit, clock, eventtypes  # noqa: F401  (eventtypes registers the payload schemas)
from .deadlines import calendar_for
from .deadlines import find as find_deadline
from .effects import EFFECTS
from .models import (MESSAGING, SERVICE, Appeal, Case, CaseDetails, CaseNumber, Deadline,
                     LegalReview, Officer, PanelSession, PanelVote, Pause, Payment, SanctionRecord)
from .rules.legal import LegalParams, params
from .rules.windows import notice_windows
from .workflow import WORKFLOW_VERSION, CaseFile, Context, definition, fire

SYSTEM = Principal(sub="system", role="admin")


def scoped(query, principal: Principal):
    """Every case query goes through here: what this caller may see."""
    if principal.role == "inspector":
        return query.where(Case.region == principal.region,
                           Case.department == principal.department)
    if principal.role in ("leader", "legal_reviewer", "panel_member"):
        return query.where(Case.region == principal.region)
    if principal.role == "institution":
        return query.where(Case.institution_id == principal.institution_id)
    return query.where(False)


def get_case(session: Session, case_id: str, principal: Principal, *, for_update=False) -> Case | None:
    query = scoped(select(Case).where(Case.id == case_id), principal)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def next_case_number(session: Session, region: str, year: int) -> str:
    row = session.execute(select(CaseNumber).where(CaseNumber.region == region,
                                                   CaseNumber.year == year)
                          .with_for_update()).scalar_one_or_none()
    if row is None:
        row = CaseNumber(region=region, year=year, last=0)
        session.add(row)
    row.last += 1
    session.flush()
    return f"{region}医保案〔{year}〕{row.last}号"


def open_clue_from_finding(session: Session, event: Event) -> Case | None:
    """``finding.recorded`` -> a case in its first state (线索登记), once per finding."""
    p = event.payload
    exists = session.execute(select(Case.id).where(
        (Case.source_event_id == event.id) | (Case.finding_id == p["finding_id"]))).first()
    if exists:
        return None
    defn = definition(WORKFLOW_VERSION)
    case = Case(
        number=next_case_number(session, p["region"], event.occurred_at.year),
        state=defn.initial, workflow_version=defn.version,
        institution_id=p["institution_id"], institution_name=p["institution_name"],
        party_type=p["party_type"], region=p["region"], department=p["department"],
        violation_type=p["violation_type"], legal_basis=p["legal_basis"],
        amount=p["amount"], summary=p["description"], source=p["source"],
        source_event_id=event.id, finding_id=p["finding_id"], act_date=p.get("act_date"))
    session.add(case)
    session.flush()
    session.add(CaseDetails(case_id=case.id, clue_received_on=clock.china_date(event.occurred_at)))
    audit.append(session, case.id, actor=event.actor, actor_role="system", action="register",
                 from_state=None, to_state=case.state, reason=f"线索来源：{p['source']}",
                 request_id=event.correlation_id)
    add_event(session, MESSAGING, "case.opened", {
        "case_id": case.id, "case_number": case.number, "state": case.state,
        "source_event_id": event.id, "finding_id": case.finding_id,
        "institution_id": case.institution_id, "institution_name": case.institution_name,
        "region": case.region, "department": case.department, "amount": case.amount,
        "workflow_version": case.workflow_version, "state_label": defn.states.get(case.state),
    }, subject=f"case:{case.id}", producer=SERVICE, actor=event.actor,
        correlation_id=event.correlation_id)
    return case


@lru_cache(maxsize=1)
def legal_params() -> LegalParams:
    """The legal table of this deployment's area: defaults with CASES_LEGAL_OVERRIDES (JSON, e.g.
    {"defence_window": 3, "hearing_threshold_entity": 50000}) merged over them."""
    raw = os.environ.get("CASES_LEGAL_OVERRIDES", "").strip()
    return params(json.loads(raw) if raw else None)


def load_file(session: Session, case: Case) -> CaseFile:
    """Everything the guards may need about one case, in a few queries."""
    details = session.get(CaseDetails, case.id)
    if details is None:  # a case registered before the details table existed
        details = CaseDetails(case_id=case.id, procedure="ordinary", clue_received_on=clock.china_date(case.created_at),
                              health_harm=False, behaviours="", complex_case=False, major_violation=False,
                              major_public_interest=False, hearing_offered=False, rights_waived=False,
                              defence_rechecked=False, routes_stated=True, decision_extended_by_leader=False)
        session.add(details)

    def rows(model, *order):
        return list(session.execute(select(model).where(model.case_id == case.id).order_by(*order)).scalars())

    panel = session.execute(select(PanelSession).where(PanelSession.case_id == case.id)
                            .order_by(PanelSession.convened_on.desc(), PanelSession.id).limit(1)).scalar_one_or_none()
    votes = list(session.execute(select(PanelVote).where(PanelVote.session_id == panel.id)
                                 .order_by(PanelVote.member)).scalars()) if panel else []
    return CaseFile(details=details, officers=rows(Officer, Officer.assigned_on, Officer.officer_id),
                    sanctions=rows(SanctionRecord, SanctionRecord.created_at), reviews=rows(LegalReview, LegalReview.round),
                    panel=panel, votes=votes, pauses=rows(Pause, Pause.started_on),
                    payments=rows(Payment, Payment.paid_on), appeals=rows(Appeal, Appeal.filed_on),
                    deadlines=rows(Deadline, Deadline.started_on))


def context(session: Session, case: Case, actor: Principal, reason: str = "", data: dict | None = None,
            today: date | None = None) -> Context:
    return Context(case, actor, reason or "", data or {}, facts=load_file(session, case),
                   today=today or clock.today(), calendar=calendar_for(session), params=legal_params())


def transition(session: Session, case: Case, trigger: str, actor: Principal, reason: str,
               request_id: str, data: dict | None = None, today: date | None = None) -> tuple[str, str]:
    """Fire a trigger on a loaded case and write state, what the step produces, the audit entry
    and the event together (the caller's transaction)."""
    ctx = context(session, case, actor, reason, data, today)
    before, after = fire(case, trigger, ctx)
    effect = EFFECTS.get(trigger)
    if effect is not None:
        effect(session, case, ctx)
    case.updated_at = utcnow()
    session.flush()  # bumps version (optimistic lock): a concurrent writer gets StaleDataError
    audit.append(session, case.id, actor=actor.sub, actor_role=actor.role, action=trigger,
                 from_state=before, to_state=after, reason=reason or "", request_id=request_id)
    labels = definition(case.workflow_version).states
    add_event(session, MESSAGING, "case.transitioned", {
        "case_id": case.id, "case_number": case.number, "trigger": trigger,
        "from_state": before, "to_state": after, "version": case.version, "reason": reason or "",
        "institution_id": case.institution_id, "region": case.region,
        "department": case.department,
        "from_state_label": labels.get(before), "to_state_label": labels.get(after),
        **notice_facts(trigger, ctx),
    }, subject=f"case:{case.id}", producer=SERVICE, actor=actor.sub, correlation_id=request_id)
    return before, after


# the steps whose event notify turns into a legal notice to the party, and the clocks each starts
# (Deadline kind -> payload field with its due date)
NOTICE_STEPS: dict[str, dict[str, str]] = {
    "notify": {"defence_window": "defence_due_on", "hearing_request": "hearing_request_due_on"},
    "request_hearing": {},
    "schedule_hearing": {},
    "decide": {"service": "service_due_on"},
    "decide_simplified": {"service": "service_due_on"},
    "serve": {"payment": "payment_due_on"},
}


def notice_facts(trigger: str, ctx: Context) -> dict:
    """For a step that produces a legal notice: the windows this deployment's rules compute (area
    overrides included) and the due dates of the clocks the step just started; {} otherwise."""
    if trigger not in NOTICE_STEPS:
        return {}
    out: dict = {"windows": notice_windows(ctx.params)}
    for kind, name in NOTICE_STEPS[trigger].items():
        dl = find_deadline(ctx.file, kind)
        if dl is not None and dl.due_on is not None:
            out[name] = dl.due_on
    if trigger == "schedule_hearing" and ctx.details.hearing_on is not None:
        out["hearing_on"] = ctx.details.hearing_on
    return out
