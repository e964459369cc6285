"""The procedure around a score: notice and 陈述申辩 before it, 复核 (objection) after it.

* ``propose``  — a leader proposes a scoring after a decided sanction: every check of the ledger
                 runs now (``ledger.prepare_score``), nothing is entered; the person is notified
                 (``points.proposed`` to their institution's inbox) with the points, the reasons
                 and the defence window (``defence_window`` working days, [U] configuration).
* ``file_defence`` / ``waive`` — the person, or the institution for them, states a defence within
                 the window, or waives it (the points are then entered at once).
* ``decide``   — a leader decides on the defence: uphold, reduce or drop. The defence may never
                 raise the points (行政处罚法 art.45 by analogy: 不得因陈述申辩而加重).
* ``tick``     — after the window, a proposal without a defence is entered (``lapsed``); due
                 dates in a year the calendar does not know stay NULL ("not computable", never
                 guessed) and are computed once an admin loads the year.
* ``file_objection`` / ``decide_objection`` — 复核 within ``objection_window`` of the entry; an
                 upheld objection reverses the entry (an ``annul`` entry, the ledger stays
                 append-only) and, when changed, enters the lower points.

Errors are ``ledger.PointsError``; the API maps them to problem+json.
"""
from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.workdays import CALENDAR_DAYS, WORKING_DAYS, CalendarNotLoaded, WorkdayCalendar

from ..models import Case, InstitutionStanding, Person, PointsEntry
from . import announce, ledger
from .config import RESPONSIBILITY, RESPONSIBILITY_EN, Settings, settings as make_settings
from .ledger import PointsError
from .models import AnnouncedState, PointsObjection, PointsProposal

OPEN = ("notified", "defence_filed", "needs_decision")
OUTCOMES = ("uphold", "reduce", "drop")
OBJECTION_OUTCOMES = ("reject", "annul", "change")
_UNITS = {WORKING_DAYS: "个工作日", CALENDAR_DAYS: "日"}


def _not_loaded(year: int) -> str:
    return f"{year} 年工作日历未加载，期限暂不能计算 / calendar for {year} not loaded: not computable"


def window_end(start: date, n: int, unit: str, cal: WorkdayCalendar) -> date | None:
    """Last day of a window, or None when its year's calendar is not loaded (never guessed)."""
    try:
        return cal.period_end(start, n, unit)
    except CalendarNotLoaded:
        return None


def _missing_year(start: date, n: int, unit: str, cal: WorkdayCalendar) -> int | None:
    try:
        cal.period_end(start, n, unit)
    except CalendarNotLoaded as exc:
        return exc.year
    return None


def _proposal_fields(p: PointsProposal) -> dict:
    return {"case_id": p.case_id, "case_number": p.case_number, "sanction_id": p.sanction_id,
            "proposal_id": p.id, "region": p.region}


# ---- before scoring: notice, defence, waiver, decision -------------------------------------------

def propose(session: Session, person: Person, case: Case, *, sanction_id: str, band: str, responsibility: str,
            on: date, actor: str, reason: str, cal: WorkdayCalendar, points: int | None = None,
            suspension_months: int | None = None, cfg: Settings | None = None) -> PointsProposal:
    cfg = cfg or make_settings()
    p = ledger.prepare_score(session, person, case_id=case.id, sanction_id=sanction_id, band=band,
                             responsibility=responsibility, on=on, points=points,
                             suspension_months=suspension_months, cfg=cfg)
    pending = session.execute(select(PointsProposal.id).where(
        PointsProposal.person_id == person.id, PointsProposal.sanction_id == sanction_id,
        PointsProposal.status.in_(OPEN))).first()
    if pending is not None:
        raise PointsError(409, "already_proposed", "该处理决定对此人的记分已告知，尚未办结",
                          "A scoring for this sanction is already notified to this person", proposal_id=pending[0])
    n = cfg.points.defence_window.value
    due = window_end(on, n, WORKING_DAYS, cal)
    missing = _missing_year(on, n, WORKING_DAYS, cal) if due is None else None
    proposal = PointsProposal(
        person_id=person.id, case_id=case.id, case_number=case.number, sanction_id=sanction_id, band=band,
        responsibility=p["responsibility"], points=p["points"], suspension_months=p["suspension_months"],
        reason=reason, institution_id=case.institution_id, region=case.region, status="notified",
        proposed_by=actor, proposed_on=on, defence_working_days=n, defence_due_on=due,
        due_note=_not_loaded(missing) if missing else "", waived=False)
    session.add(proposal)
    session.flush()
    announce.emit_person(session, "points.proposed", person, actor, **_proposal_fields(proposal),
                         points=proposal.points, defence_due_on=due, defence_working_days=n, reason=reason)
    return proposal


def _open(proposal: PointsProposal, *states: str) -> None:
    if proposal.status not in (states or OPEN):
        raise PointsError(409, "proposal_closed", "该记分告知已办结或不处于此阶段",
                          "This proposed scoring is not at this stage", current_status=proposal.status)


def _window_closed(proposal: PointsProposal, on: date) -> bool:
    return proposal.defence_due_on is not None and on > proposal.defence_due_on


def file_defence(session: Session, proposal: PointsProposal, person: Person, *, statement: str, on: date,
                 actor: str) -> PointsProposal:
    """陈述申辩 within the window. A window not computable yet (calendar not loaded) is open."""
    _open(proposal, "notified")
    if _window_closed(proposal, on):
        n, due = proposal.defence_working_days, proposal.defence_due_on
        raise PointsError(422, "defence_window_closed",
                          f"陈述申辩期限已过：自 {proposal.proposed_on} 起 {n} 个工作日内（截至 {due}）",
                          f"The defence window has closed: within {n} working days of {proposal.proposed_on} "
                          f"(until {due})", window_starts_on=proposal.proposed_on.isoformat(),
                          window_ends_on=due.isoformat(), working_days=n)
    proposal.status, proposal.defence, proposal.defence_by, proposal.defence_on = "defence_filed", statement, actor, on
    session.flush()
    announce.emit_person(session, "points.defence_filed", person, actor, **_proposal_fields(proposal),
                         points=proposal.points, reason=statement[:500])
    return proposal


def waive(session: Session, proposal: PointsProposal, person: Person, *, on: date, actor: str, reason: str = "",
          cfg: Settings | None = None) -> PointsProposal:
    """The person expressly waives the defence: the points are entered now."""
    _open(proposal, "notified")
    proposal.waived = True
    return _enter(session, proposal, person, outcome="waived", on=on, actor=actor, reason=reason or "当事人放弃陈述申辩",
                  cfg=cfg)


def decide(session: Session, proposal: PointsProposal, person: Person, *, outcome: str, on: date, actor: str,
           reason: str, points: int | None = None, responsibility: str | None = None,
           suspension_months: int | None = None, cfg: Settings | None = None) -> PointsProposal:
    """A decision on the defence (or on a proposal the tick could not enter): uphold, reduce or
    drop. Never more points, never a longer suspension than notified."""
    if outcome not in OUTCOMES:
        raise PointsError(422, "invalid_outcome", "处理结果无效", "Unknown outcome", allowed=list(OUTCOMES))
    if proposal.status == "notified" and not _window_closed(proposal, on):
        raise PointsError(409, "defence_window_open", f"陈述申辩期限未届满（截至 {proposal.defence_due_on}），"
                          "当事人未申辩也未放弃", "The defence window is still open",
                          window_ends_on=proposal.defence_due_on.isoformat() if proposal.defence_due_on else None)
    _open(proposal)
    if outcome == "drop":
        proposal.status, proposal.outcome = "dropped", "drop"
        proposal.decision_reason, proposal.decided_by, proposal.decided_on = reason, actor, on
        session.flush()
        announce.emit_person(session, "points.defence_decided", person, actor, **_proposal_fields(proposal),
                             points=0, outcome="drop", reason=reason)
        return proposal
    new_points = proposal.points if outcome == "uphold" else points
    new_resp = RESPONSIBILITY_EN.get(responsibility, responsibility) if responsibility else proposal.responsibility
    if outcome == "reduce":
        if new_points is None:
            raise PointsError(422, "points_required", "减轻记分须给出分值", "A reduced score needs the points")
        if new_points >= proposal.points:
            raise PointsError(422, "defence_may_not_aggravate",
                              f"陈述申辩后不得加重：分值应低于告知的 {proposal.points} 分",
                              f"A defence may not lead to more points: fewer than the notified {proposal.points}",
                              notified_points=proposal.points)
        if new_resp not in RESPONSIBILITY:
            raise PointsError(422, "invalid_responsibility", "责任程度无效（一般/重要/主要）",
                              "Unknown degree of responsibility", allowed=list(RESPONSIBILITY))
    months = suspension_months if suspension_months is not None else proposal.suspension_months
    if proposal.suspension_months is not None and months is not None and months > proposal.suspension_months:
        raise PointsError(422, "defence_may_not_aggravate",
                          f"陈述申辩后不得加重：暂停期限不得超过告知的 {proposal.suspension_months} 个月",
                          f"A defence may not lengthen the suspension beyond {proposal.suspension_months} months",
                          notified_months=proposal.suspension_months)
    return _enter(session, proposal, person, outcome=outcome, on=on, actor=actor, reason=reason, cfg=cfg,
                  points=new_points, responsibility=new_resp, suspension_months=months)


def withdraw_for_sanction(session: Session, sanction_id: str, *, on: date, actor: str) -> int:
    """The decision behind open proposals is no longer in force: they are closed unscored."""
    rows = session.execute(select(PointsProposal).where(PointsProposal.sanction_id == sanction_id,
                                                        PointsProposal.status.in_(OPEN))).scalars().all()
    for p in rows:
        p.status, p.outcome, p.decided_by, p.decided_on = "dropped", "withdrawn", actor, on
        p.decision_reason = "处理决定被撤销或变更，记分告知撤回"
        session.flush()
        announce.emit_person(session, "points.defence_decided", session.get(Person, p.person_id), actor,
                             **_proposal_fields(p), points=0, outcome="drop", reason=p.decision_reason)
    return len(rows)


def _enter(session: Session, proposal: PointsProposal, person: Person, *, outcome: str, on: date, actor: str,
           reason: str, cfg: Settings | None, points: int | None = None, responsibility: str | None = None,
           suspension_months: int | None = None) -> PointsProposal:
    cfg = cfg or make_settings()
    points = proposal.points if points is None else points
    n = cfg.points.objection_window.value
    unit = cfg.points.objection_window.unit
    entry = ledger.score(session, person, case_id=proposal.case_id, sanction_id=proposal.sanction_id,
                         band=proposal.band, responsibility=responsibility or proposal.responsibility, on=on,
                         actor=actor, reason=proposal.reason, points=points,
                         suspension_months=suspension_months if suspension_months is not None
                         else proposal.suspension_months, cfg=cfg, cause=f"proposal:{outcome}"[:32],
                         announce_extra={"proposal_id": proposal.id, "outcome": outcome,
                                         "objection_due_on": window_end(on, n, unit, _cal(session))})
    proposal.status, proposal.outcome, proposal.entry_id = "scored", outcome, entry.id
    proposal.scored_points, proposal.scored_on = entry.points, on
    if outcome != "lapsed":
        proposal.decision_reason, proposal.decided_by, proposal.decided_on = reason, actor, on
    session.flush()
    if outcome in ("uphold", "reduce"):
        announce.emit_person(session, "points.defence_decided", person, actor, **_proposal_fields(proposal),
                             points=entry.points, outcome=outcome, reason=reason)
    return proposal


def _cal(session: Session) -> WorkdayCalendar:
    from ..deadlines import calendar_for
    return calendar_for(session)


# ---- after scoring: 复核 -----------------------------------------------------------------------------

def _score_entry(session: Session, person: Person, seq: int) -> PointsEntry:
    entry = session.execute(select(PointsEntry).where(PointsEntry.person_id == person.id,
                                                      PointsEntry.seq == seq)).scalar_one_or_none()
    if entry is None or entry.kind != "score":
        raise PointsError(422, "not_a_score", "只能对记分记录申请复核", "Only a score entry can be objected to")
    reversed_ = session.execute(select(PointsEntry.id).where(PointsEntry.person_id == person.id,
                                                             PointsEntry.kind == "annul",
                                                             PointsEntry.reverses_id == entry.id)).first()
    if reversed_ is not None:
        raise PointsError(409, "already_reversed", "该记分已被撤销", "This score was already reversed")
    return entry


def file_objection(session: Session, person: Person, *, entry_seq: int, grounds: str, on: date, actor: str,
                   cal: WorkdayCalendar, cfg: Settings | None = None) -> PointsObjection:
    cfg = cfg or make_settings()
    entry = _score_entry(session, person, entry_seq)
    n, unit = cfg.points.objection_window.value, cfg.points.objection_window.unit
    last = window_end(entry.effective_on, n, unit, cal)
    label = f"{n} {_UNITS.get(unit, unit)}"
    if last is None:
        year = _missing_year(entry.effective_on, n, unit, cal)
        if (on - entry.effective_on).days > n:  # beyond even the raw count: cannot say it is in time
            raise PointsError(422, "calendar_not_loaded", _not_loaded(year), _not_loaded(year), year=year)
    elif on > last:
        raise PointsError(422, "objection_out_of_window",
                          f"已超过复核申请期限：自 {entry.effective_on} 起 {label}内（截至 {last}）",
                          f"The objection window has closed: within {n} {unit.replace('_', ' ')} of "
                          f"{entry.effective_on} (until {last})", window_starts_on=entry.effective_on.isoformat(),
                          window_ends_on=last.isoformat(), window=n, unit=unit)
    pending = session.execute(select(PointsObjection.id).where(PointsObjection.entry_id == entry.id,
                                                               PointsObjection.status == "pending")).first()
    if pending is not None:
        raise PointsError(409, "objection_pending", "该记分已有待处理的复核申请", "An objection to this score is pending",
                          objection_id=pending[0])
    obj = PointsObjection(person_id=person.id, entry_id=entry.id, entry_seq=entry.seq, grounds=grounds,
                          filed_by=actor, filed_on=on, window_ends_on=last, status="pending")
    session.add(obj)
    session.flush()
    announce.emit_person(session, "points.objection_filed", person, actor, objection_id=obj.id, case_id=entry.case_id,
                         sanction_id=entry.sanction_id, points=entry.points, region=entry.region,
                         reason=grounds[:500])
    return obj


def decide_objection(session: Session, obj: PointsObjection, person: Person, *, outcome: str, on: date, actor: str,
                     reason: str, points: int | None = None, cfg: Settings | None = None) -> PointsObjection:
    """reject, annul (the score is reversed) or change (reversed, and the lower points entered)."""
    cfg = cfg or make_settings()
    if outcome not in OBJECTION_OUTCOMES:
        raise PointsError(422, "invalid_outcome", "复核结果无效", "Unknown outcome", allowed=list(OBJECTION_OUTCOMES))
    if obj.status != "pending":
        raise PointsError(409, "objection_decided", "该复核申请已处理", "This objection was already decided",
                          current_status=obj.status)
    entry = _score_entry(session, person, obj.entry_seq)
    if outcome == "change":
        if points is None or not 0 < points < entry.points:
            raise PointsError(422, "objection_may_not_aggravate",
                              f"复核变更只能减少记分：应在 1–{entry.points - 1} 分之间",
                              f"A changed score must be lower than {entry.points}", low=1, high=entry.points - 1)
    obj.status = {"reject": "rejected", "annul": "annulled", "change": "changed"}[outcome]
    obj.new_points = points if outcome == "change" else None
    obj.decision_reason, obj.decided_by, obj.decided_on = reason, actor, on
    session.flush()
    if outcome != "reject":
        rev = ledger._append(session, person, kind="annul", year=entry.year, points=-entry.points, effective_on=on,
                             case_id=entry.case_id, sanction_id=entry.sanction_id, reverses_id=entry.id,
                             cause="objection_upheld", actor=actor, institution_id=entry.institution_id,
                             region=entry.region, reason=f"复核成立：{reason}"[:5000])
        if outcome == "change":
            ledger.rebuild(session, person, cfg)
            ledger._append(session, person, kind="score", year=entry.year, points=points,
                           effective_on=entry.effective_on, case_id=entry.case_id, sanction_id=entry.sanction_id,
                           band=entry.band, responsibility=entry.responsibility,
                           suspension_months=entry.suspension_months, cause="objection_changed", actor=actor,
                           institution_id=entry.institution_id, region=entry.region,
                           reason=f"复核变更记分为 {points} 分：{reason}"[:5000])
        ledger._changed(session, person, rev, "points.reversed", actor, on, cfg, outcome=f"objection_{outcome}",
                        objection_id=obj.id)
    announce.emit_person(session, "points.objection_decided", person, actor, objection_id=obj.id,
                         case_id=entry.case_id, sanction_id=entry.sanction_id, region=entry.region,
                         points=points if outcome == "change" else (0 if outcome == "annul" else entry.points),
                         outcome=outcome, reason=reason)
    return obj


# ---- the daily tick -----------------------------------------------------------------------------------

def tick(session: Session, on: date, cal: WorkdayCalendar | None = None, cfg: Settings | None = None,
         limit: int = 500) -> dict:
    """Compute due dates that became computable, enter lapsed proposals, announce restrictions
    that began or ran out and standing that changed with the calendar."""
    from . import standing
    cfg = cfg or make_settings()
    cal = cal or _cal(session)
    counts = {"computed": 0, "entered": 0, "needs_decision": 0, "announced": 0}
    rows = session.execute(select(PointsProposal).where(PointsProposal.status == "notified")
                           .order_by(PointsProposal.proposed_on).limit(limit)).scalars().all()
    for p in rows:
        if p.defence_due_on is None:
            p.defence_due_on = window_end(p.proposed_on, p.defence_working_days, WORKING_DAYS, cal)
            if p.defence_due_on is None:
                continue
            p.due_note = ""
            counts["computed"] += 1
        if on > p.defence_due_on:
            person = session.get(Person, p.person_id)
            try:
                with session.begin_nested():
                    _enter(session, p, person, outcome="lapsed", on=on, actor="scheduler",
                           reason="陈述申辩期限届满，当事人未申辩", cfg=cfg)
                counts["entered"] += 1
            except PointsError as err:  # e.g. the year's total moved: a leader decides
                p.status, p.due_note = "needs_decision", f"{err.code}: {err.zh}"[:200]
                counts["needs_decision"] += 1
    # the calendar alone changes a person's state only when a suspension runs out, and an
    # institution's only while it has a suspension, a ban or a tier above the last rule's
    for key, state in session.execute(select(AnnouncedState.key, AnnouncedState.state)
                                      .where(AnnouncedState.key.like("person:%"))).all():
        st = json.loads(state)
        if st["state"] == "suspended" and st["until"] and date.fromisoformat(st["until"]) <= on:
            person = session.get(Person, key.removeprefix("person:"))
            if person is not None and announce.sync_person(session, person, on, "scheduler"):
                counts["announced"] += 1
    quiet_tier = cfg.points.credit_tiers.value[-1][0]
    announced = {k.removeprefix("institution:"): json.loads(v) for k, v in session.execute(
        select(AnnouncedState.key, AnnouncedState.state).where(AnnouncedState.key.like("institution:%"))).all()}
    for inst in session.execute(select(InstitutionStanding.institution_id)).scalars().all():
        last = announced.get(inst)
        if last is not None and last["agreement_status"] == "signed" and last["credit_tier"] == quiet_tier \
                and not last["active_suspensions"] and not last["reapplication_banned_until"]:
            continue
        if standing.sync_institution(session, inst, on, "scheduler", cause="calendar", cfg=cfg):
            counts["announced"] += 1
    session.flush()
    return counts
