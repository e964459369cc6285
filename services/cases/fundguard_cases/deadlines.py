"""The clocks of the procedure: started and stopped by transitions, computed only through the
legal table (`rules.procedure.deadline`) and the working-day calendar, never guessed.

A deadline whose last day falls in a year the calendar does not know is stored with status
``calendar_not_loaded`` and no due date; the scheduler tick retries once an admin loads the year.
The tick marks due-soon and overdue clocks and writes ``deadline.due_soon`` / ``deadline.overdue``
events to the outbox.
"""
from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.outbox import add_event
from fundguard_shared.workdays import (CALENDAR_DAYS, CalendarNotLoaded, WorkdayCalendar,
                                       load_year_table)

from .rules import procedure as P
from .rules.legal import LegalParams
from .models import MESSAGING, SERVICE, CalendarYear, Case, Deadline

log = logging.getLogger(__name__)

OPEN = ("running", "paused", "calendar_not_loaded", "overdue")
DUE_SOON_DAYS = 2  # calendar days before the last day

LABELS = {
    "clue_verification": "线索核查", "preservation_decision": "先行登记保存处理决定",
    "legal_review": "法制审核", "defence_window": "陈述申辩", "hearing_request": "听证申请",
    "decision": "作出处罚决定", "service": "送达决定书", "payment": "缴纳罚款",
}


# ---- calendar --------------------------------------------------------------------------------------

def calendar_for(session: Session) -> WorkdayCalendar:
    """The official calendar plus the years an admin loaded."""
    rows = session.execute(select(CalendarYear)).scalars().all()
    return WorkdayCalendar({r.year: load_year_table(r.document) for r in rows})


def load_calendar_year(session: Session, document: str | dict, loaded_by: str) -> int:
    table = load_year_table(document)
    WorkdayCalendar({table.year: table})  # refuses years the package already covers
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    row = session.get(CalendarYear, table.year)
    if row is None:
        session.add(CalendarYear(year=table.year, document=text, source=table.source, loaded_by=loaded_by))
    else:
        row.document, row.source, row.loaded_by = text, table.source, loaded_by
    return table.year


def _not_loaded(year: int) -> str:
    return f"{year} 年工作日历未加载 / calendar for {year} not loaded"


# ---- start / stop ------------------------------------------------------------------------------------

def _compute(kind: str, start: date, n: int, unit: str, cal: WorkdayCalendar) -> date:
    return cal.period_end(start, n, unit)


def start(session: Session, file, case_id: str, kind: str, start_on: date, cal: WorkdayCalendar,
          params: LegalParams, *, n: int | None = None, note: str = "") -> Deadline:
    """Start the clock `kind` (a name of the legal table) counted from `start_on`."""
    entry_n, unit = getattr(params, kind).period()
    dl = Deadline(case_id=case_id, kind=kind, n=n if n is not None else entry_n, unit=unit,
                  started_on=start_on, note=note, status="running")
    _set_due(dl, cal)
    session.add(dl)
    file.deadlines.append(dl)
    return dl


def _set_due(dl: Deadline, cal: WorkdayCalendar, paused_days: int = 0) -> None:
    try:
        dl.due_on = _compute(dl.kind, dl.started_on, dl.n, dl.unit, cal)
        if paused_days:
            dl.due_on = shift(dl.due_on, dl.unit, paused_days, cal)
        if dl.status == "calendar_not_loaded":
            dl.status = "running"
    except CalendarNotLoaded as exc:
        dl.due_on = None
        dl.status = "calendar_not_loaded"
        dl.note = _not_loaded(exc.year)


def start_decision(session: Session, file, case_id: str, opened_on: date, due_on: date,
                   params: LegalParams) -> Deadline:
    dl = Deadline(case_id=case_id, kind="decision", n=params.decision.value, unit=CALENDAR_DAYS,
                  started_on=opened_on, due_on=due_on, status="running", note="")
    session.add(dl)
    file.deadlines.append(dl)
    return dl


def find(file, kind: str) -> Deadline | None:
    return next((d for d in file.deadlines if d.kind == kind and d.status in OPEN), None)


def stop(file, kind: str, today: date, status: str = "met") -> Deadline | None:
    dl = find(file, kind)
    if dl is None:
        return None
    if status == "met" and dl.due_on is not None and today > dl.due_on:
        status = "met_late"
    dl.status, dl.closed_on = status, today
    return dl


def cancel_all(file, today: date) -> None:
    for dl in file.deadlines:
        if dl.status in OPEN:
            dl.status, dl.closed_on = "cancelled", today


def shift(due: date, unit: str, days: int, cal: WorkdayCalendar) -> date:
    return due + timedelta(days=days)


def pause_all(file, today: date) -> None:
    for dl in file.deadlines:
        if dl.status in ("running", "overdue", "calendar_not_loaded"):
            dl.note = json.dumps({"resume_status": dl.status}) if dl.status != "running" else dl.note
            dl.status, dl.paused_on = "paused", today


def resume_all(file, today: date, cal: WorkdayCalendar) -> None:
    """Paused time is not counted: a working-day clock gets the working days that passed, a
    calendar clock the calendar days (the decision clock is recomputed from the pauses)."""
    for dl in file.deadlines:
        if dl.status != "paused":
            continue
        dl.status = "running"
        if dl.due_on is None:
            _set_due(dl, cal)
            continue
        try:
            if dl.unit == "working_days":
                lost = cal.working_days_between(dl.paused_on, today)
                dl.due_on = cal.add_working_days(dl.due_on, lost)
            elif dl.kind != "decision":
                dl.due_on = dl.due_on + (today - dl.paused_on)
        except CalendarNotLoaded as exc:
            dl.due_on, dl.status, dl.note = None, "calendar_not_loaded", _not_loaded(exc.year)
        dl.paused_on = None


def extend(dl: Deadline, n_more: int, cal: WorkdayCalendar, note: str) -> None:
    dl.n += n_more
    dl.note = note
    _set_due(dl, cal)


# ---- the scheduler tick ------------------------------------------------------------------------------

def _payload(dl: Deadline, case: Case) -> dict[str, Any]:
    from .rules.windows import notice_windows
    from .service import legal_params  # the area's table (service imports this module)
    return {"deadline_id": dl.id, "case_id": case.id, "case_number": case.number, "kind": dl.kind,
            "label": LABELS.get(dl.kind, dl.kind), "due_on": dl.due_on, "status": dl.status,
            "institution_id": case.institution_id, "region": case.region, "department": case.department,
            "windows": notice_windows(legal_params())}


def tick(session: Session, today: date, cal: WorkdayCalendar | None = None) -> dict[str, int]:
    """Mark clocks due soon / overdue (one event each), and compute those that waited for a
    calendar year. Runs in the caller's transaction; safe to run concurrently on PostgreSQL
    (rows are locked, skipped when another tick holds them)."""
    cal = cal or calendar_for(session)
    counts = {"due_soon": 0, "overdue": 0, "calendar_resolved": 0}
    query = select(Deadline, Case).join(Case, Case.id == Deadline.case_id).where(
        Deadline.status.in_(("running", "calendar_not_loaded")))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Deadline, skip_locked=True)
    for dl, case in session.execute(query).all():
        if dl.status == "calendar_not_loaded":
            _set_due(dl, cal)
            if dl.status == "running":
                counts["calendar_resolved"] += 1
            else:
                continue
        if dl.due_on is None:
            continue
        if today > dl.due_on:
            dl.status = "overdue"
            counts["overdue"] += 1
            add_event(session, MESSAGING, "deadline.overdue", _payload(dl, case),
                      subject=f"deadline:{case.id}", producer=SERVICE, actor="scheduler",
                      correlation_id=f"tick-{today.isoformat()}")
        elif not dl.due_soon_sent and (dl.due_on - today).days <= DUE_SOON_DAYS:
            dl.due_soon_sent = True
            counts["due_soon"] += 1
            add_event(session, MESSAGING, "deadline.due_soon", _payload(dl, case),
                      subject=f"deadline:{case.id}", producer=SERVICE, actor="scheduler",
                      correlation_id=f"tick-{today.isoformat()}")
    return counts


def remaining(dl: Deadline, today: date) -> int | None:
    return None if dl.due_on is None else (dl.due_on - today).days


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
