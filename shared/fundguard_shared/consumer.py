"""Idempotent, ordered event consumer.

For each message: parse and validate (``events.parse_event``); then, in ONE database transaction,
check whether this consumer already applied the event id, check the subject's sequence, run the
handler and record the event id. Delivery is at least once; the effect happens once.

* duplicate event id, or a sequence already applied       -> ack, no effect;
* a sequence ahead of a gap (ordered queues)              -> parked in the same transaction,
                                                             applied as soon as the gap closes;
* an event that cannot be used (bad JSON, unknown type)   -> dead-letter queue with the reason;
* a handler that keeps failing                            -> retried ``max_attempts`` times,
                                                             then dead-lettered with the error.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Callable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .events import Event, EventRejected, parse_event
from .metrics import EVENTS_CONSUMED
from .outbox import MessagingTables, utcnow

log = logging.getLogger(__name__)

Handler = Callable[[Session, Event], None]


class EventConsumer:
    def __init__(self, name: str, sessions: sessionmaker, tables: MessagingTables,
                 handlers: dict[str, Handler], *, ordered: bool, dead_letter: Callable,
                 max_attempts: int = 3, retry_delay: float = 0.2):
        self.name = name
        self.sessions = sessions
        self.tables = tables
        self.handlers = handlers
        self.ordered = ordered
        self.dead_letter = dead_letter  # (body: bytes, code, error, event_id) -> None
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay

    # -- entry point for one raw message -----------------------------------------------------
    def process(self, body: bytes) -> str:
        """Handle one message body; returns the outcome. Never raises for bad events."""
        try:
            event = parse_event(body)
        except EventRejected as rej:
            self._dead_letter(body, rej.code, rej.reason, _raw_event_id(body))
            return "dead_lettered"
        last_error: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.sessions() as session, session.begin():
                    outcome = self._apply(session, event, body)
                EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
                log.info("%s %s %s seq %s of %s", outcome, event.type, event.id, event.sequence,
                         event.subject, extra={"request_id": event.correlation_id})
                return outcome
            except IntegrityError as exc:
                # a concurrent consumer recorded the same id first: that is a duplicate
                last_error = exc
                if self._already_processed(event):
                    EVENTS_CONSUMED.labels(self.name, event.type, "duplicate").inc()
                    return "duplicate"
            except Exception as exc:  # handler failure: retry, then dead-letter
                last_error = exc
                log.warning("handler failed (attempt %s/%s) for %s %s: %s", attempt,
                            self.max_attempts, event.type, event.id, exc)
            time.sleep(self.retry_delay * attempt)
        self._dead_letter(body, "handler_failed", f"{type(last_error).__name__}: {last_error}",
                          event.id)
        EVENTS_CONSUMED.labels(self.name, event.type, "dead_lettered").inc()
        return "dead_lettered"

    # -- inside the transaction ----------------------------------------------------------------
    def _already_processed(self, event: Event, session: Session | None = None) -> bool:
        t = self.tables.processed_events
        query = select(t.c.event_id).where(t.c.consumer == self.name, t.c.event_id == event.id)
        if session is not None:
            return session.execute(query).first() is not None
        with self.sessions() as s:
            return s.execute(query).first() is not None

    def _apply(self, session: Session, event: Event, body: bytes) -> str:
        if self._already_processed(event, session):
            return "duplicate"
        if not self.ordered:
            self._run(session, event)
            return "applied"
        pos = self._position(session, event)
        if event.sequence <= pos:
            self._record(session, event)  # same position under another id: already applied
            return "duplicate"
        if event.sequence > pos + 1:
            self._park(session, event, body)
            return "parked"
        self._run(session, event)
        self._advance(session, event, pos)
        self._drain_parked(session, event.producer, event.subject, event.sequence)
        return "applied"

    def _run(self, session: Session, event: Event) -> None:
        handler = self.handlers.get(event.type)
        if handler is not None:
            handler(session, event)
        self._record(session, event)

    def _record(self, session: Session, event: Event) -> None:
        session.execute(insert(self.tables.processed_events).values(
            consumer=self.name, event_id=event.id, event_type=event.type,
            processed_at=utcnow()))

    def _position(self, session: Session, event: Event) -> int:
        t = self.tables.subject_positions
        return session.execute(select(t.c.last_sequence).where(
            t.c.consumer == self.name, t.c.producer == event.producer,
            t.c.subject == event.subject).with_for_update()).scalar_one_or_none() or 0

    def _advance(self, session: Session, event: Event, pos: int) -> None:
        t = self.tables.subject_positions
        if pos == 0:
            session.execute(insert(t).values(consumer=self.name, producer=event.producer,
                                             subject=event.subject,
                                             last_sequence=event.sequence))
        else:
            session.execute(update(t).where(
                t.c.consumer == self.name, t.c.producer == event.producer,
                t.c.subject == event.subject).values(last_sequence=event.sequence))

    def _park(self, session: Session, event: Event, body: bytes) -> None:
        t = self.tables.parked_events
        exists = session.execute(select(t.c.event_id).where(
            t.c.consumer == self.name, t.c.producer == event.producer,
            t.c.subject == event.subject, t.c.sequence == event.sequence)).first()
        if exists is None:
            session.execute(insert(t).values(
                consumer=self.name, event_id=event.id, producer=event.producer,
                subject=event.subject, sequence=event.sequence,
                body=body.decode("utf-8") if isinstance(body, bytes) else body,
                parked_at=utcnow()))
        log.info("parked %s seq %s of %s (waiting for the gap to close)", event.type,
                 event.sequence, event.subject)

    def _drain_parked(self, session: Session, producer: str, subject: str, seq: int) -> None:
        t = self.tables.parked_events
        while True:
            row = session.execute(select(t.c.event_id, t.c.body).where(
                t.c.consumer == self.name, t.c.producer == producer, t.c.subject == subject,
                t.c.sequence == seq + 1)).first()
            if row is None:
                return
            parked = parse_event(row.body)
            session.execute(delete(t).where(t.c.consumer == self.name,
                                            t.c.event_id == row.event_id))
            if not self._already_processed(parked, session):
                self._run(session, parked)
            self._advance(session, parked, seq)
            seq += 1

    def _dead_letter(self, body: bytes, code: str, error: str, event_id: str | None) -> None:
        text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body)
        with self.sessions() as session, session.begin():
            session.execute(insert(self.tables.dead_letters).values(
                consumer=self.name, event_id=event_id, reason_code=code, error=error[:4000],
                body=text, created_at=utcnow()))
        self.dead_letter(body if isinstance(body, bytes) else text.encode("utf-8"), code, error,
                         event_id)
        log.error("dead-lettered event %s: %s %s", event_id, code, error)


def _raw_event_id(body) -> str | None:
    """The id of an event we cannot use, if its body says one (for the dead-letter record)."""
    try:
        value = json.loads(body).get("id")
    except (ValueError, AttributeError, TypeError):
        return None
    return str(value)[:64] if value else None


def dead_letter_headers(consumer: str, code: str, error: str, event_id: str | None) -> dict:
    return {"x-consumer": consumer, "x-reason-code": code, "x-error": error[:1000],
            "x-event-id": event_id or "", "x-dead-lettered-at": utcnow().isoformat()}


