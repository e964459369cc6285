"""Publication (公示) of decisions, and their withdrawal.

* A decision document issued with its ``publish`` flag is scheduled for publication: the last day
  of the window is ``rules.legal`` ``publication`` (default 7 working days, the 双公示 practice;
  [U], configurable) counted from the decision date through the working-day calendar. A year
  without a loaded calendar is stored as not computable (``due_on`` NULL, ``due_note`` says which
  year), never guessed — and since any day before an unknown last day is inside the window, such a
  publication is still published at once.
* The cases worker (``run``, every ``CASES_PUBLICATION_SECONDS``) publishes every pending item on its
  next round; staff may publish a case's pending items on demand (``run(case_id=...)``). What is
  published is a frozen, redacted record (``redact``): individuals' names, ID numbers, phone
  numbers and addresses masked by rule; a record that still matches ``redact.PUBLIC_LEAKS`` is
  refused, never published.
* A decision changed or annulled on appeal (``sanction.decided`` with ``in_force=false`` and cause
  ``appeal_changed`` / ``appeal_annulled`` in the outbox, read like ``points.standing``) is
  withdrawn at once — the law allows 3 working days (行政处罚法 art. 48, ``publication_withdrawal``)
  and ``withdraw_due_on`` records that limit. A pending item of such a decision is cancelled.
  Every step is written to ``publication_log`` and to the case's hash-chained audit trail.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fundguard_shared.db import UTCDateTime
from fundguard_shared.events import parse_event
from fundguard_shared.outbox import utcnow
from fundguard_shared.workdays import CalendarNotLoaded, WorkdayCalendar

from .. import audit, clock
from ..models import MESSAGING, Base, Case, CaseDetails, Officer, SanctionRecord
from ..rules.legal import LegalParams
from ..rules.sanctions import SanctionKind
from . import redact
from .models import Document

WORKER = "publication-worker"
WITHDRAW_CAUSES = {"appeal_annulled": "复议/诉讼撤销原处罚决定", "appeal_changed": "复议/诉讼变更原处罚决定"}
VOIDED = "document_voided"
STATUS_LABELS = {"pending": "待公示", "published": "已公示", "withdrawn": "已撤回", "cancelled": "已取消（未公示即被撤销/变更）",
                 "blocked": "脱敏校验未通过，未公示"}


def _uuid() -> str:
    return str(uuid.uuid4())


class Publication(Base):
    """One decision document's publication: pending → published → withdrawn (or pending →
    cancelled / blocked). ``content`` is the redacted record exactly as the public saw it."""
    __tablename__ = "publications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    document_id: Mapped[str] = mapped_column(String(36), ForeignKey("documents.id", ondelete="RESTRICT"),
                                             unique=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    institution_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # NULL: calendar year not loaded
    due_note: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    redaction: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    published_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    withdraw_cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    withdraw_started_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdraw_due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PublicationLog(Base):
    """Append-only log of every scheduling, publication, cancellation and withdrawal."""
    __tablename__ = "publication_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    publication_id: Mapped[str] = mapped_column(String(36), ForeignKey("publications.id", ondelete="RESTRICT"),
                                                index=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    on_day: Mapped[date] = mapped_column(Date)
    action: Mapped[str] = mapped_column(String(24))  # scheduled | published | withdrawn | cancelled | blocked
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PublicationCursor(Base):
    """How far the withdrawal reader got in the outbox (one row)."""
    __tablename__ = "publication_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_outbox_id: Mapped[int] = mapped_column(Integer, default=0)


# ---- dates ------------------------------------------------------------------------------------------

def _window_end(start: date, entry, cal: WorkdayCalendar) -> tuple[date | None, str]:
    n, unit = entry.period()
    try:
        return cal.period_end(start, n, unit), ""
    except CalendarNotLoaded as exc:
        return None, f"{exc.year} 年工作日历未加载，期限不可计算 / calendar for {exc.year} not loaded: not computable"


# ---- the public record --------------------------------------------------------------------------------

def individual_names(session: Session, case: Case, doc: Document) -> list[str]:
    """Every value the case data knows to be an individual's name: the party when the party is an
    individual, the officers, the hearing chair, and name fields of the document."""
    names = []
    if case.party_type == "individual":
        names.append(case.institution_name)
    names += session.execute(select(Officer.name).where(Officer.case_id == case.id)).scalars().all()
    details = session.get(CaseDetails, case.id)
    if details is not None and details.hearing_chair:
        names.append(details.hearing_chair)
    names += _doc_values(_inputs(doc), NAME_KEYS)
    return [n for n in names if isinstance(n, str) and n.strip()]


# Keys of document fields that hold names of individuals / addresses (whatever the template).
NAME_KEYS = ("person", "persons", "people", "officer", "officers", "chair", "legal_representative", "representative",
             "contact", "signatory", "informant", "witness", "doctor", "patient", "person_name", "officer_names")
ADDRESS_KEYS = ("address", "addr", "residence", "domicile")


def _doc_values(fields: dict, keys: tuple[str, ...]) -> list[str]:
    out = []
    for k, v in fields.items():
        low = str(k).lower()
        hit = any(low == key or low.endswith("_" + key) or low.startswith(key + "_") for key in keys)
        if isinstance(v, dict):
            out += _doc_values(v, keys)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, dict):
                    out += _doc_values(x, keys)
                elif hit and isinstance(x, str):
                    out.append(x)
        elif hit and isinstance(v, str):
            out.append(v)
    return out


def _inputs(doc: Document) -> dict:
    f = doc.fields or {}
    return f.get("inputs") if isinstance(f.get("inputs"), dict) else f


def public_record(session: Session, case: Case, doc: Document) -> tuple[dict, dict]:
    """The redacted record of a decision — its facts and the decision's own text as issued — and
    the redaction report (rule → count)."""
    sanctions = session.execute(select(SanctionRecord).where(SanctionRecord.case_id == case.id,
                                                             SanctionRecord.stage == "decided",
                                                             SanctionRecord.current.is_(True))
                                .order_by(SanctionRecord.created_at)).scalars().all()
    inputs = _inputs(doc)
    r = redact.Redactor(names=individual_names(session, case, doc), addresses=_doc_values(inputs, ADDRESS_KEYS))
    individual = case.party_type == "individual"
    rendered = (doc.fields or {}).get("rendered") or {}
    paragraphs = [p for p in rendered.get("paragraphs") or [] if isinstance(p, str)]
    record = {
        "title": doc.title,
        "document_number": doc.number or "",
        "case_number": case.number,
        "party_type": case.party_type,
        "party": redact.mask_name(case.institution_name) if individual else case.institution_name,
        "institution_id": None if individual else case.institution_id,
        "region": case.region,
        "violation_type": case.violation_type,
        "legal_basis": r.text(case.legal_basis),
        "facts": r.text(case.summary),
        "sanctions": [_sanction(s) for s in sanctions],
        "decided_on": None,
        "authority": r.text(str((doc.fields or {}).get("authority") or "")),
        "addressee": r.text(str(rendered.get("addressee") or "")),
        "paragraphs": [r.text(p) for p in paragraphs],
    }
    if individual:
        r.hits["party_name"] += 1
    return record, dict(r.hits)


def _sanction(s: SanctionRecord) -> dict:
    try:
        label = SanctionKind(s.kind).label_zh
    except ValueError:
        label = s.kind
    return {"kind": s.kind, "label": label, "article": s.article,
            "amount": str(Decimal(s.amount).quantize(Decimal("0.01"))) if s.amount is not None else None,
            "months": s.months, "years": s.years}


# ---- scheduling ---------------------------------------------------------------------------------------

def _log(session, pub: Publication, action: str, actor: str, on: date, note: str = "", outbox_id=None,
         actor_role: str = "system", request_id: str | None = None) -> None:
    session.add(PublicationLog(publication_id=pub.id, case_id=pub.case_id, at=utcnow(), on_day=on, action=action,
                               actor=actor, note=note, outbox_id=outbox_id))
    if action in ("published", "withdrawn", "cancelled", "blocked"):
        case = session.get(Case, pub.case_id)
        audit.append(session, pub.case_id, actor=actor, actor_role=actor_role, action=f"publication_{action}",
                     from_state=case.state, to_state=case.state, reason=note,
                     request_id=request_id or f"publication-{pub.id}")


def _superseded(session: Session, case_id: str, after: datetime) -> tuple[int, str] | None:
    """The first appeal outcome that took the case's decision out of force after ``after``."""
    outbox = MESSAGING.outbox
    rows = session.execute(select(outbox.c.id, outbox.c.body, outbox.c.created_at)
                           .where(outbox.c.event_type == "sanction.decided",
                                  outbox.c.subject == f"sanction:{case_id}").order_by(outbox.c.id)).all()
    after = after if after.tzinfo else after.replace(tzinfo=timezone.utc)
    for oid, body, created in rows:
        created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
        p = json.loads(body)["payload"]
        if not p.get("in_force", True) and p.get("cause") in WITHDRAW_CAUSES and created >= after:
            return oid, p["cause"]
    return None


def schedule(session: Session, doc: Document, cal: WorkdayCalendar, params: LegalParams,
             today: date, actor: str = WORKER) -> Publication:
    """A pending publication for an issued decision document with its publish flag."""
    case = session.get(Case, doc.case_id)
    details = session.get(CaseDetails, case.id)
    decided_on = (details.decided_on if details is not None and details.decided_on else None) or clock.china_date(doc.issued_at)
    due_on, note = _window_end(decided_on, params.publication, cal)
    pub = Publication(case_id=case.id, document_id=doc.id, region=case.region, institution_id=case.institution_id,
                      status="pending", decided_on=decided_on, due_on=due_on, due_note=note, created_at=utcnow())
    session.add(pub)
    session.flush()
    _log(session, pub, "scheduled", actor, today,
         f"公示期限 {params.publication.value} 个工作日：{due_on.isoformat() if due_on else note}")
    gone = _superseded(session, case.id, doc.issued_at)
    if gone is not None:
        pub.status = "cancelled"
        pub.withdraw_cause = gone[1]
        _log(session, pub, "cancelled", actor, today, WITHDRAW_CAUSES[gone[1]], outbox_id=gone[0])
    return pub


def discover(session: Session, cal: WorkdayCalendar, params: LegalParams, today: date,
             case_id: str | None = None) -> int:
    """Schedule every issued document with its publish flag that has no publication yet."""
    query = (select(Document).outerjoin(Publication, Publication.document_id == Document.id)
             .where(Document.publish.is_(True), Document.status == "issued", Publication.id.is_(None))
             .order_by(Document.issued_at))
    if case_id is not None:
        query = query.where(Document.case_id == case_id)
    n = 0
    for doc in session.execute(query).scalars().all():
        schedule(session, doc, cal, params, today)
        n += 1
    return n


# ---- publish / withdraw ---------------------------------------------------------------------------------

def publish(session: Session, pub: Publication, today: date, actor: str = WORKER, actor_role: str = "system",
            request_id: str | None = None) -> bool:
    """Publish one pending item: freeze its redacted record; refuse one that still leaks."""
    if pub.status != "pending":
        return False
    case, doc = session.get(Case, pub.case_id), session.get(Document, pub.document_id)
    if doc is None or doc.status != "issued":
        pub.status = "cancelled"
        _log(session, pub, "cancelled", actor, today, "文书已作废 / document voided", actor_role=actor_role,
             request_id=request_id)
        return False
    record, hits = public_record(session, case, doc)
    record["decided_on"] = pub.decided_on.isoformat()
    found = redact.leaks(record)
    if found:
        pub.status, pub.redaction = "blocked", {"leaks": found, **hits}
        _log(session, pub, "blocked", actor, today, f"脱敏校验未通过：{', '.join(found)}", actor_role=actor_role,
             request_id=request_id)
        return False
    pub.status, pub.content, pub.redaction = "published", record, hits
    pub.published_at, pub.published_on, pub.published_by = utcnow(), today, actor
    late = pub.due_on is not None and today > pub.due_on
    _log(session, pub, "published", actor, today,
         f"已公示{'（超过公示期限 ' + pub.due_on.isoformat() + '）' if late else ''}；脱敏 {sum(hits.values())} 处",
         actor_role=actor_role, request_id=request_id)
    return True


def withdraw(session: Session, pub: Publication, cause: str, started_on: date, today: date, cal: WorkdayCalendar,
             params: LegalParams, actor: str = WORKER, outbox_id: int | None = None, actor_role: str = "system",
             request_id: str | None = None) -> bool:
    """Take a published item off the public page (or cancel a pending one) because its decision
    was changed or annulled; the limit is ``publication_withdrawal`` working days (art. 48)."""
    if pub.status not in ("published", "pending", "blocked"):
        return False
    due, note = _window_end(started_on, params.publication_withdrawal, cal)
    pub.withdraw_cause, pub.withdraw_started_on, pub.withdraw_due_on = cause, started_on, due
    reason = WITHDRAW_CAUSES.get(cause) or ("公示的文书已作废" if cause == VOIDED else cause)
    if pub.status != "published":
        pub.status = "cancelled"
        _log(session, pub, "cancelled", actor, today, reason, outbox_id, actor_role, request_id)
        return True
    pub.status, pub.withdrawn_at, pub.withdrawn_on, pub.withdrawn_by = "withdrawn", utcnow(), today, actor
    limit = due.isoformat() if due else note
    _log(session, pub, "withdrawn", actor, today, f"{reason}；撤回期限 {limit}（行政处罚法第48条）", outbox_id,
         actor_role, request_id)
    return True


def read_withdrawals(session: Session, cal: WorkdayCalendar, params: LegalParams, today: date,
                     limit: int = 500) -> int:
    """Apply the outbox's not-in-force sanction.decided events (appeal changed / annulled)."""
    cursor = _lock_cursor(session)
    outbox = MESSAGING.outbox
    rows = session.execute(select(outbox.c.id, outbox.c.body).where(outbox.c.id > cursor.last_outbox_id,
                                                                     outbox.c.event_type == "sanction.decided")
                           .order_by(outbox.c.id).limit(limit)).all()
    n, seen = 0, set()
    for oid, body in rows:
        cursor.last_outbox_id = oid
        event = parse_event(body if isinstance(body, str) else json.dumps(body))
        p = event.payload
        if p.get("in_force", True) or p.get("cause") not in WITHDRAW_CAUSES or p["case_id"] in seen:
            continue
        seen.add(p["case_id"])  # one appeal outcome emits one event per sanction row
        decided = p["decided_on"] if isinstance(p["decided_on"], date) else date.fromisoformat(str(p["decided_on"]))
        created = event.occurred_at
        pubs = session.execute(select(Publication).join(Document, Document.id == Publication.document_id)
                               .where(Publication.case_id == p["case_id"],
                                      Publication.status.in_(("published", "pending", "blocked")))).scalars().all()
        for pub in pubs:
            doc = session.get(Document, pub.document_id)
            issued = doc.issued_at if doc.issued_at.tzinfo else doc.issued_at.replace(tzinfo=timezone.utc)
            if issued <= created:  # a decision issued after the outcome (the changed one) stays
                n += withdraw(session, pub, p["cause"], decided, today, cal, params, actor=WORKER, outbox_id=oid)
    return n


def _withdraw_voided(session: Session, cal: WorkdayCalendar, params: LegalParams, today: date) -> int:
    """A published document that was voided afterwards comes off the public page too."""
    rows = session.execute(select(Publication).join(Document, Document.id == Publication.document_id)
                           .where(Publication.status == "published", Document.status != "issued")).scalars().all()
    return sum(withdraw(session, p, VOIDED, today, today, cal, params) for p in rows)


def _lock_cursor(session: Session) -> PublicationCursor:
    """Rounds run one at a time (the worker's and a staff member's on demand): on PostgreSQL the
    cursor row is locked for the transaction; SQLite's writer lock already serialises them."""
    query = select(PublicationCursor).where(PublicationCursor.name == "outbox")
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    cursor = session.execute(query).scalar_one_or_none()
    if cursor is None:  # a database migrated without the row
        cursor = PublicationCursor(name="outbox", last_outbox_id=0)
        session.add(cursor)
        session.flush()
    return cursor


def run(session: Session, today: date, cal: WorkdayCalendar, params: LegalParams, *, case_id: str | None = None,
        actor: str = WORKER, actor_role: str = "system", request_id: str | None = None) -> dict[str, int]:
    """One round: withdrawals first, then new publications, then publish every pending item
    (of one case when ``case_id`` is given — staff on demand)."""
    _lock_cursor(session)
    counts = {"withdrawn": read_withdrawals(session, cal, params, today) + _withdraw_voided(session, cal, params, today),
              "scheduled": discover(session, cal, params, today, case_id), "published": 0, "blocked": 0}
    query = select(Publication).where(Publication.status == "pending").order_by(Publication.created_at)
    if case_id is not None:
        query = query.where(Publication.case_id == case_id)
    for pub in session.execute(query).scalars().all():
        if pub.due_on is None:  # retry the window once the year is loaded; publish regardless
            pub.due_on, pub.due_note = _window_end(pub.decided_on, params.publication, cal)
        if publish(session, pub, today, actor, actor_role, request_id):
            counts["published"] += 1
        elif pub.status == "blocked":
            counts["blocked"] += 1
    return counts


def for_case(session: Session, case_id: str) -> list[Publication]:
    return list(session.execute(select(Publication).where(Publication.case_id == case_id)
                                .order_by(Publication.created_at)).scalars())


def log_of(session: Session, publication_id: str) -> list[PublicationLog]:
    return list(session.execute(select(PublicationLog).where(PublicationLog.publication_id == publication_id)
                                .order_by(PublicationLog.id)).scalars())
