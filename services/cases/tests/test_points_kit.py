"""Helpers of the points / standing tests (no tests here): people, decided sanctions, the ledger's view."""
from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from casekit import PEOPLE

FINE = {"kind": "fine", "article": "38", "amount": "150000.00"}
REFUND = {"kind": "order_refund", "article": "38", "amount": "120000.00"}
DECIDE = {"decision": "sanction", "sanctions": [FINE, REFUND]}
ID_A = "51010119800101001X"
ID_B = "110101199003070011"


def person(sessions, national_id=ID_A, institution="H5101001", profession="physician", region="510100"):
    from fundguard_cases.points import ledger
    with sessions() as s, s.begin():
        p, _ = ledger.register(s, national_id, profession, institution, region, "leader-a", date(2026, 3, 2))
        return p.id


def agreement_sanctions(desk, n: int, kind="liquidated_damages") -> list[tuple[str, str]]:
    """n sanctions in force (agreement track 违约金) on one case: [(case_id, sanction_id)]."""
    from fundguard_cases.models import SanctionRecord
    c = desk.new_case()
    desk.to_investigating(c)
    for _ in range(n):
        desk.fire(c, "agreement_action", "leader", {"kind": kind, "amount": "5000"}, reason="违约")
    with desk.sessions() as s:
        rows = s.execute(select(SanctionRecord).where(SanctionRecord.case_id == c)
                         .order_by(SanctionRecord.created_at)).scalars().all()
        return [(c, r.id) for r in rows]


def served_case(desk) -> tuple[str, list[str]]:
    """A case decided (fine + refund) and served: (case_id, decided sanction ids)."""
    c = desk.new_case()
    desk.to_notified(c)
    desk.fire(c, "waive_rights", "institution")
    desk.fire(c, "decide", "leader", DECIDE)
    desk.fire(c, "serve", "inspector")
    return c, [s.id for s in desk.file(c).stage("decided")]


def score(sessions, person_id, case_sanction, band="4-6", responsibility="一般", on=date(2026, 3, 2), **kw):
    from fundguard_cases.models import Person
    from fundguard_cases.points import ledger
    case_id, sanction_id = case_sanction
    with sessions() as s, s.begin():
        e = ledger.score(s, s.get(Person, person_id), case_id=case_id, sanction_id=sanction_id, band=band,
                         responsibility=responsibility, on=on, actor=PEOPLE["leader"].sub, reason="负主要责任", **kw)
        return e.points


def status(sessions, person_id, on):
    from fundguard_cases.models import Person
    from fundguard_cases.points import ledger
    with sessions() as s:
        st = ledger.status(s, s.get(Person, person_id), on)
        st["entries"] = [(e.kind, e.points) for e in st["entries"]]
        return st


def check(sessions, person_id, on, emergency=False):
    from fundguard_cases.models import Person
    from fundguard_cases.points import ledger
    with sessions() as s:
        return ledger.check(s, s.get(Person, person_id).id_hash, on, emergency)


def project(sessions):
    """Deliver the outbox's sanction.decided events to the cases consumer, as the bus does (the
    real EventConsumer with the worker's handlers): the number applied (duplicates are not)."""
    from fundguard_shared.consumer import EventConsumer
    from fundguard_cases.models import MESSAGING
    from fundguard_cases.worker import HANDLERS
    consumer = EventConsumer("cases", sessions, MESSAGING, HANDLERS, ordered=True, dead_letter=lambda *a: None)
    with sessions() as s:
        bodies = s.execute(select(MESSAGING.outbox.c.body).where(MESSAGING.outbox.c.event_type == "sanction.decided")
                           .order_by(MESSAGING.outbox.c.id)).scalars().all()
    return sum(consumer.process(b if isinstance(b, (str, bytes)) else json.dumps(b)) == "applied" for b in bodies)


def events(sessions, prefix="points."):
    """[(type, payload)] of the outbox's events whose type starts with ``prefix``, in order."""
    from fundguard_cases.models import MESSAGING
    t = MESSAGING.outbox
    with sessions() as s:
        rows = s.execute(select(t.c.event_type, t.c.body).where(t.c.event_type.like(prefix + "%"))
                         .order_by(t.c.id)).all()
    return [(typ, (json.loads(body) if isinstance(body, str) else body)["payload"]) for typ, body in rows]
