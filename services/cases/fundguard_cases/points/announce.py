"""Every change of a points record or of an institution's standing goes on the bus (for notify):
``points.*`` on subject ``person:<id>``, ``standing.changed`` on ``standing:<institution>``.

Restrictions change by entries (a score crossing 9 or 12, a reversal, a re-registration) and by
the calendar (a suspension runs out). ``sync_person`` compares the person's check on a day with
the state last announced (``points_announced``) and emits ``points.suspension_started`` /
``suspension_changed`` / ``suspension_ended`` / ``terminated`` / ``reinstated`` once per change;
the ledger calls it after each entry and the cases worker's tick calls it daily.
"""
from __future__ import annotations

import json
from datetime import date

from sqlalchemy.orm import Session

from fundguard_shared.outbox import add_event, utcnow

from ..models import MESSAGING, SERVICE, Person
from .models import AnnouncedState


def emit_person(session: Session, event_type: str, person: Person, actor: str, **fields) -> None:
    payload = {"person_id": person.id, "institution_id": person.institution_id, "region": person.region,
               "profession": person.profession, **fields}
    if not payload.get("region"):
        payload["region"] = fields.get("region") or person.region
    add_event(session, MESSAGING, event_type, payload, subject=f"person:{person.id}", producer=SERVICE,
              actor=actor, correlation_id=None)


def emit_standing(session: Session, payload: dict, actor: str) -> None:
    add_event(session, MESSAGING, "standing.changed", payload, subject=f"standing:{payload['institution_id']}",
              producer=SERVICE, actor=actor, correlation_id=None)


def last_state(session: Session, key: str) -> dict | None:
    row = session.get(AnnouncedState, key)
    return json.loads(row.state) if row is not None else None


def remember(session: Session, key: str, state: dict) -> None:
    row = session.get(AnnouncedState, key)
    text = json.dumps(state, sort_keys=True, ensure_ascii=False)
    if row is None:
        session.add(AnnouncedState(key=key, state=text, updated_at=utcnow()))
    else:
        row.state, row.updated_at = text, utcnow()
    session.flush()


def person_state(check: dict) -> dict:
    """What is announced about a person's qualification: ok / suspended (until) / terminated."""
    if check["terminated"]:
        return {"state": "terminated", "until": None, "ban_until": check["reregistration_from"]}
    if check["reason"] == "suspended":
        return {"state": "suspended", "until": check["suspended_until"], "ban_until": None}
    return {"state": "ok", "until": None, "ban_until": None}


def _day(value) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def transition_event(before: dict, after: dict) -> str | None:
    """The event type for a change of announced state (plain function: the table of transitions)."""
    if before == after:
        return None
    if after["state"] == "terminated":
        return "points.terminated"
    if after["state"] == "suspended":
        return "points.suspension_changed" if before["state"] == "suspended" else "points.suspension_started"
    return "points.reinstated" if before["state"] == "terminated" else "points.suspension_ended"


def sync_person(session: Session, person: Person, on: date, actor: str) -> str | None:
    """Announce the person's restriction state on ``on`` if it differs from the last one announced."""
    from .ledger import check
    key = f"person:{person.id}"
    before = last_state(session, key) or {"state": "ok", "until": None, "ban_until": None}
    after = person_state(check(session, person.id_hash, on))
    kind = transition_event(before, after)
    if kind is None:
        return None
    until = after["until"] or (before["until"] if kind == "points.suspension_ended" else None)
    emit_person(session, kind, person, actor, effective_on=on, suspended_until=_day(until),
                ban_until=_day(after["ban_until"]))
    remember(session, key, after)
    return kind
