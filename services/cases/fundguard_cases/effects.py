"""What each step writes once its guards passed: rows of the case file, clocks, events. Called by
``service.transition`` inside the same transaction as the state change and the audit entry; the
machine itself does no I/O. A step without an entry here writes only state + audit + event."""
from __future__ import annotations

from decimal import Decimal
from typing import Callable

from sqlalchemy.orm import Session

from fundguard_shared.outbox import add_event, utcnow

from . import attachments as ATT
from . import deadlines as DL
from .guards import (Context, as_item, case_facts, decision_deadline_of, get_date, get_decimal,
                     parse_items, parse_tier, surcharge_owed)
from .models import (MESSAGING, SERVICE, Appeal, Case, LegalReview, Officer, PanelSession, PanelVote,
                     Pause, Payment, Recusal, SanctionRecord)
from .rules import procedure as P
from .rules import sanctions as S
from .rules.windows import notice_windows

Effect = Callable[[Session, Case, Context], None]
EFFECTS: dict[str, Effect] = {}


def effect(trigger: str):
    def register(fn: Effect) -> Effect:
        EFFECTS[trigger] = fn
        return fn
    return register


# ---- helpers -------------------------------------------------------------------------------------

def _store(session, case, ctx, items, stage, tier=None) -> list[SanctionRecord]:
    for old in ctx.file.stage(stage):
        old.current = False
    rows = []
    for i in items:
        row = SanctionRecord(case_id=case.id, stage=stage, track=i.track.value, kind=i.kind.value,
                             article=i.article, amount=i.amount, months=i.months, years=i.years,
                             tier=tier, act=i.act, current=True, created_at=utcnow())
        session.add(row)
        ctx.file.sanctions.append(row)
        rows.append(row)
    session.flush()
    return rows


def _emit_sanction(session, case, ctx, row: SanctionRecord, cause: str, in_force: bool = True):
    add_event(session, MESSAGING, "sanction.decided", {
        "sanction_id": row.id, "case_id": case.id, "case_number": case.number,
        "institution_id": case.institution_id, "institution_name": case.institution_name,
        "party_type": case.party_type, "region": case.region, "department": case.department,
        "track": row.track, "kind": row.kind, "article": row.article, "amount": row.amount,
        "months": row.months, "years": row.years, "tier": row.tier, "decided_on": ctx.today,
        "cause": cause, "in_force": in_force, "windows": notice_windows(ctx.params),
    }, subject=f"sanction:{case.id}", producer=SERVICE, actor=ctx.actor.sub, correlation_id=None)


def _officer(case_id, raw, today) -> Officer:
    return Officer(case_id=case_id, officer_id=str(raw["id"]), name=str(raw["name"])[:100],
                   credential_no=str(raw["credential_no"])[:64], assigned_on=today)


def _refresh_decision_clock(ctx: Context) -> None:
    dl = DL.find(ctx.file, "decision")
    if dl is not None and dl.status != "paused":
        dl.due_on = decision_deadline_of(ctx)
        if dl.status == "overdue" and dl.due_on >= ctx.today:
            dl.status = "running"


# ---- clue --------------------------------------------------------------------------------------------

@effect("start_verification")
def _start_verification(session, case, ctx):
    DL.start(session, ctx.file, case.id, "clue_verification", ctx.details.clue_received_on or ctx.today,
             ctx.calendar, ctx.params)


@effect("extend_verification")
def _extend_verification(session, case, ctx):
    dl = DL.find(ctx.file, "clue_verification")
    if dl is not None:
        DL.extend(dl, ctx.params.clue_verification_extension.value, ctx.calendar,
                  f"extended by the leader / 负责人批准延长: {ctx.reason}")


@effect("open_case")
def _open_case(session, case, ctx):
    d = ctx.details
    d.opened_on = ctx.today
    d.act_end_date = get_date(ctx.data, "act_end_date")
    d.health_harm = bool(ctx.data.get("health_harm", False))
    if ctx.data.get("act_date") and case.act_date is None:
        case.act_date = get_date(ctx.data, "act_date")
    for raw in ctx.data["officers"]:
        o = _officer(case.id, raw, ctx.today)
        session.add(o)
        ctx.file.officers.append(o)
    DL.stop(ctx.file, "clue_verification", ctx.today)
    DL.start_decision(session, ctx.file, case.id, ctx.today, decision_deadline_of(ctx), ctx.params)


@effect("decline")
def _decline(session, case, ctx):
    DL.stop(ctx.file, "clue_verification", ctx.today)


# ---- investigation ---------------------------------------------------------------------------------------

@effect("suspend")
def _suspend(session, case, ctx):
    p = Pause(case_id=case.id, kind="suspension", started_on=ctx.today)
    session.add(p)
    ctx.file.pauses.append(p)
    DL.pause_all(ctx.file, ctx.today)


@effect("resume")
def _resume(session, case, ctx):
    for p in ctx.file.pauses:
        if p.ended_on is None:
            p.ended_on = ctx.today
    DL.resume_all(ctx.file, ctx.today, ctx.calendar)
    _refresh_decision_clock(ctx)


@effect("terminate")
def _terminate(session, case, ctx):
    for p in ctx.file.pauses:
        if p.ended_on is None:
            p.ended_on = ctx.today
    DL.cancel_all(ctx.file, ctx.today)  # coercive measures (先行登记保存) are released with it


@effect("recuse")
def _recuse(session, case, ctx):
    data = ctx.data
    granted = data.get("granted", True)
    capacity = data.get("capacity", "officer")
    session.add(Recusal(case_id=case.id, person=str(data["person"]), capacity=capacity,
                        requested_by=data.get("requested_by", "officer"), reason=ctx.reason,
                        granted=granted, decided_by=ctx.actor.sub, decided_on=ctx.today))
    if not granted:
        return
    if capacity == "officer":
        for o in ctx.file.active_officers():
            if o.officer_id == data["person"]:
                o.recused_on = ctx.today
        repl = data.get("replacement")
        if isinstance(repl, dict) and repl.get("id"):
            o = _officer(case.id, repl, ctx.today)
            session.add(o)
            ctx.file.officers.append(o)
    else:
        for v in ctx.file.votes:
            if v.member == data["person"]:
                v.recused = True


@effect("preserve_evidence")
def _preserve(session, case, ctx):
    DL.start(session, ctx.file, case.id, "preservation_decision", ctx.today, ctx.calendar, ctx.params,
             note=str(ctx.data.get("items") or ctx.reason)[:2000])


@effect("decide_preservation")
def _decide_preservation(session, case, ctx):
    DL.stop(ctx.file, "preservation_decision", ctx.today)


@effect("submit_report")
def _report(session, case, ctx):
    d, data = ctx.details, ctx.data
    d.proposal = data["proposal"]
    d.no_sanction_ground = data.get("no_sanction_ground") if d.proposal == "no_sanction" else None
    d.referral_target = data.get("referral_target") if d.proposal == "referral" else None
    d.behaviours = ",".join(data.get("behaviours") or [])
    d.loss = get_decimal(data.get("loss"), "loss") or d.loss
    for flag in ("complex_case", "major_violation", "major_public_interest"):
        setattr(d, flag, bool(data.get(flag, False)))
    d.report_author = ctx.actor.sub
    _store(session, case, ctx, parse_items(data.get("sanctions")), "proposed")


# ---- legal review ----------------------------------------------------------------------------------------

@effect("submit_for_review")
def _submit_for_review(session, case, ctx):
    items = [as_item(s) for s in ctx.file.latest_proposal()]
    reasons = P.legal_review_reasons(case_facts(ctx, items), ctx.params)
    r = LegalReview(case_id=case.id, round=len(ctx.file.reviews) + 1,
                    after_hearing=ctx.details.hearing_outcome == "held",
                    mandatory_reasons=",".join(x.value for x in reasons), submitted_on=ctx.today)
    session.add(r)
    ctx.file.reviews.append(r)
    DL.start(session, ctx.file, case.id, "legal_review", ctx.today, ctx.calendar, ctx.params)


def _review_outcome(ctx, outcome):
    r = max(ctx.file.reviews, key=lambda x: x.round)
    r.reviewer, r.outcome, r.opinion, r.decided_on = ctx.actor.sub, outcome, ctx.reason, ctx.today
    DL.stop(ctx.file, "legal_review", ctx.today)


EFFECTS["pass_review"] = lambda session, case, ctx: _review_outcome(ctx, "passed")
EFFECTS["return_review"] = lambda session, case, ctx: _review_outcome(ctx, "returned")


# ---- panel -----------------------------------------------------------------------------------------------

@effect("convene_panel")
def _convene(session, case, ctx):
    s = PanelSession(case_id=case.id, agenda=str(ctx.data["agenda"]), convened_by=ctx.actor.sub,
                     convened_on=ctx.today)
    session.add(s)
    session.flush()
    ctx.file.panel = s
    ctx.file.votes = []
    for m in ctx.data["members"]:
        v = PanelVote(session_id=s.id, member=m, recused=False)
        session.add(v)
        ctx.file.votes.append(v)


@effect("cast_vote")
def _vote(session, case, ctx):
    v = next(v for v in ctx.file.votes if v.member == ctx.actor.sub)
    v.vote = ctx.data["vote"]
    v.tier = ctx.data.get("tier") if v.vote == "agree" else None
    v.opinion = ctx.reason or None
    v.voted_at = utcnow()


@effect("conclude_panel")
def _conclude(session, case, ctx):
    tier = parse_tier(ctx.data["tier"])
    s = ctx.file.panel
    s.result_tier, s.quorum_met, s.concluded_on = tier.value, True, ctx.today
    _store(session, case, ctx, parse_items(ctx.data.get("sanctions")), "panel", tier.value)


# ---- notice, defence, hearing -----------------------------------------------------------------------------

@effect("notify")
def _notify(session, case, ctx):
    d = ctx.details
    served = get_date(ctx.data, "served_on", ctx.today)
    current = ctx.file.latest_proposal()
    tier = current[0].tier if current else None
    rows = _store(session, case, ctx, [as_item(s) for s in current], "notified", tier)
    d.notice_served_on = served
    d.hearing_offered = P.hearing_available([as_item(r).rule() for r in rows], S.PartyType(case.party_type),
                                            ctx.params)
    d.rights_waived, d.defence_filed_on, d.defence_rechecked = False, None, False
    DL.start(session, ctx.file, case.id, "defence_window", served, ctx.calendar, ctx.params)
    if d.hearing_offered:
        DL.start(session, ctx.file, case.id, "hearing_request", served, ctx.calendar, ctx.params)


@effect("file_defence")
def _defence(session, case, ctx):
    d = ctx.details
    d.defence_filed_on, d.defence_text, d.defence_rechecked = ctx.today, ctx.reason, False
    DL.stop(ctx.file, "defence_window", ctx.today)
    ATT.link_from_data(session, case, "file_defence", ctx.data, ctx.actor)


@effect("recheck_defence")
def _recheck(session, case, ctx):
    ctx.details.defence_rechecked = True


@effect("waive_rights")
def _waive(session, case, ctx):
    ctx.details.rights_waived = True
    DL.stop(ctx.file, "defence_window", ctx.today)
    DL.stop(ctx.file, "hearing_request", ctx.today)


@effect("request_hearing")
def _request_hearing(session, case, ctx):
    ctx.details.hearing_requested_on = ctx.today
    DL.stop(ctx.file, "hearing_request", ctx.today)
    ATT.link_from_data(session, case, "request_hearing", ctx.data, ctx.actor)
    p = Pause(case_id=case.id, kind="hearing", started_on=ctx.today)
    session.add(p)
    ctx.file.pauses.append(p)


@effect("schedule_hearing")
def _schedule(session, case, ctx):
    d = ctx.details
    d.hearing_on = get_date(ctx.data, "hearing_on")
    d.hearing_chair = str(ctx.data["chair"]).strip()


def _hearing_end(ctx, outcome):
    ctx.details.hearing_outcome = outcome
    for p in ctx.file.pauses:
        if p.kind == "hearing" and p.ended_on is None:
            p.ended_on = ctx.today
    _refresh_decision_clock(ctx)


EFFECTS["hold_hearing"] = lambda session, case, ctx: _hearing_end(ctx, "held")
EFFECTS["hearing_no_show"] = lambda session, case, ctx: _hearing_end(ctx, "no_show")


# ---- decision ----------------------------------------------------------------------------------------------

@effect("extend_decision_deadline")
def _extend_decision(session, case, ctx):
    d = ctx.details
    if ctx.data["approved_by"] == "leader":
        d.decision_extended_by_leader = True
    else:
        d.decision_panel_deadline = get_date(ctx.data, "new_deadline")
    _refresh_decision_clock(ctx)


def _decided(session, case, ctx, cause: str):
    d, data = ctx.details, ctx.data
    d.decision_kind = data.get("decision", "sanction")
    d.decided_on = ctx.today
    d.routes_stated = True  # the decision form prints routes, bodies and deadlines (art.59)
    if d.decision_kind == "referral":
        d.referral_target = data.get("referral_target")
    if d.decision_kind == "no_sanction":
        d.no_sanction_ground = data.get("no_sanction_ground")
    items = parse_items(data.get("sanctions"))
    if d.decision_kind == "referral":
        items.append(next(i for i in parse_items([{"kind": S.SanctionKind(f"refer_{d.referral_target}").value,
                                                    "article": "referral"}])))
    panel = ctx.file.panel
    tier = panel.result_tier if panel is not None and panel.concluded_on else None
    for row in _store(session, case, ctx, items, "decided", tier):
        _emit_sanction(session, case, ctx, row, cause)
    DL.stop(ctx.file, "decision", ctx.today)
    for kind in ("defence_window", "hearing_request", "legal_review"):
        DL.stop(ctx.file, kind, ctx.today)
    DL.start(session, ctx.file, case.id, "service", ctx.today, ctx.calendar, ctx.params)


EFFECTS["decide"] = lambda session, case, ctx: _decided(session, case, ctx, "decision")


@effect("decide_simplified")
def _simplified(session, case, ctx):
    ctx.details.procedure = "simplified"
    ctx.data.setdefault("decision", "sanction")
    _decided(session, case, ctx, "simplified")


# ---- service, enforcement, closure -----------------------------------------------------------------------------

@effect("serve")
def _serve(session, case, ctx):
    d = ctx.details
    d.served_on = get_date(ctx.data, "served_on", ctx.today)
    DL.stop(ctx.file, "service", ctx.today)
    fines = sum((as_item(s).amount or Decimal(0) for s in ctx.file.stage("decided")
                 if s.kind in ("fine", "confiscation")), Decimal(0))
    if d.decision_kind == "sanction" and fines > 0:
        DL.start(session, ctx.file, case.id, "payment", d.served_on, ctx.calendar, ctx.params)


@effect("record_payment")
def _payment(session, case, ctx):
    p = Payment(case_id=case.id, kind=ctx.data["kind"], amount=get_decimal(ctx.data["amount"], "amount"),
                paid_on=get_date(ctx.data, "paid_on", ctx.today), reference=str(ctx.data.get("reference") or "")[:128],
                recorded_by=ctx.actor.sub)
    session.add(p)
    ctx.file.payments.append(p)
    due = sum((as_item(s).amount or Decimal(0) for s in ctx.file.stage("decided")
               if s.kind in ("fine", "confiscation")), Decimal(0))
    paid = sum((Decimal(x.amount) for x in ctx.file.payments if x.kind == "fine"), Decimal(0))
    if due and paid >= due:
        DL.stop(ctx.file, "payment", p.paid_on)


@effect("grant_deferral")
def _deferral(session, case, ctx):
    dl = DL.find(ctx.file, "payment")
    new = get_date(ctx.data, "new_due_on")
    if dl is not None and new is not None and (dl.due_on is None or new > dl.due_on):
        dl.due_on, dl.status, dl.note = new, "running", f"deferral approved / 批准延期: {ctx.reason}"


@effect("apply_court_enforcement")
def _court(session, case, ctx):
    ctx.details.court_enforcement_on = ctx.today


@effect("close_case")
def _close(session, case, ctx):
    DL.cancel_all(ctx.file, ctx.today)


# ---- remedies ----------------------------------------------------------------------------------------------

@effect("file_appeal")
def _appeal(session, case, ctx):
    d = ctx.details
    kind = ctx.data["kind"]
    if kind == "complaint":
        window = ctx.today
    else:
        start = d.served_on
        if kind == P.AppealKind.LITIGATION_AFTER_REVIEW.value:
            start = next(a.decided_on for a in ctx.file.appeals if a.kind == "administrative_review" and a.decided_on)
        window = P.appeal_deadline(P.AppealKind(kind), start, d.routes_stated, case.act_date or d.opened_on,
                                   ctx.calendar, right_known_on=get_date(ctx.data, "right_known_on"),
                                   params=ctx.params)
    a = Appeal(case_id=case.id, kind=kind, filed_on=ctx.today, window_ends_on=window,
               grounds=str(ctx.data.get("grounds") or "")[:5000])
    session.add(a)
    ctx.file.appeals.append(a)
    ATT.link_from_data(session, case, "file_appeal", ctx.data, ctx.actor)


@effect("record_appeal_outcome")
def _appeal_outcome(session, case, ctx):
    a = next(a for a in ctx.file.appeals if a.id == ctx.data["appeal_id"])
    a.outcome, a.decided_on = ctx.data["outcome"], ctx.today
    if a.outcome == "upheld":
        return
    old = ctx.file.stage("decided")
    for row in old:
        _emit_sanction(session, case, ctx, row, "appeal_annulled" if a.outcome == "annulled" else "appeal_changed",
                       in_force=False)
    if a.outcome == "annulled":
        for row in old:
            row.current = False
        ctx.details.decision_kind = "annulled"
        DL.cancel_all(ctx.file, ctx.today)
        return
    for row in _store(session, case, ctx, parse_items(ctx.data.get("sanctions")), "decided"):
        _emit_sanction(session, case, ctx, row, "appeal_changed")


# ---- agreement track ------------------------------------------------------------------------------------------

@effect("agreement_action")
def _agreement(session, case, ctx):
    item = parse_items([{**ctx.data, "article": "agreement"}])[0]
    row = SanctionRecord(case_id=case.id, stage="agreement", track=item.track.value, kind=item.kind.value,
                         article="agreement", amount=item.amount, months=item.months, years=None,
                         act=item.act, current=True, created_at=utcnow())
    session.add(row)
    session.flush()
    ctx.file.sanctions.append(row)
    _emit_sanction(session, case, ctx, row, "agreement")
