"""Transactional outbox and the messaging bookkeeping tables every service carries.

``messaging_tables(metadata)`` adds to a service's own metadata (so its own migrations create
them in its own database):

* ``outbox``            events written in the same transaction as the state change;
* ``subject_sequences`` the per-subject sequence counter of this producer;
* ``processed_events``  event ids a consumer has applied (idempotency), written with the effect;
* ``subject_positions`` the last applied sequence per subject (ordering);
* ``parked_events``     events that arrived ahead of a gap, applied when the gap closes;
* ``dead_letters``      what this service's consumer gave up on, with the error.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import (BigInteger, func, Column, DateTime, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, insert, select, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from .events import Event, make_event
from .metrics import OUTBOX_PUBLISHED

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    subject_sequences: Table
    processed_events: Table
    subject_positions: Table
    parked_events: Table
    dead_letters: Table


def messaging_tables(metadata: MetaData) -> MessagingTables:
    outbox = Table(
        "outbox", metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(64), nullable=False),
        Column("subject", String(128), nullable=False),
        Column("sequence", Integer, nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True, index=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
    )
    subject_sequences = Table(
        "subject_sequences", metadata,
        Column("subject", String(128), primary_key=True),
        Column("last_sequence", Integer, nullable=False),
    )
    processed_events = Table(
        "processed_events", metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    subject_positions = Table(
        "subject_positions", metadata,
        Column("consumer", String(64), primary_key=True),
        Column("producer", String(64), primary_key=True),
        Column("subject", String(128), primary_key=True),
        Column("last_sequence", Integer, nullable=False),
    )
    parked_events = Table(
        "parked_events", metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("producer", String(64), nullable=False),
        Column("subject", String(128), nullable=False, index=True),
        Column("sequence", Integer, nullable=False),
        Column("body", Text, nullable=False),
        Column("parked_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("consumer", "producer", "subject", "sequence",
                         name="uq_parked_position"),
    )
    dead_letters = Table(
        "dead_letters", metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("consumer", String(64), nullable=False),
        Column("event_id", String(64), nullable=True),
        Column("reason_code", String(64), nullable=False),
        Column("error", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    return MessagingTables(outbox, subject_sequences, processed_events, subject_positions,
                           parked_events, dead_letters)


def _conn(bind: Session | Connection) -> Connection:
    return bind.connection() if isinstance(bind, Session) else bind


def next_sequence(bind: Session | Connection, tables: MessagingTables, subject: str) -> int:
    """Next per-subject sequence number, inside the caller's transaction (row-locked on PG)."""
    conn = _conn(bind)
    t = tables.subject_sequences
    current = conn.execute(
        select(t.c.last_sequence).where(t.c.subject == subject).with_for_update()
    ).scalar_one_or_none()
    if current is None:
        conn.execute(insert(t).values(subject=subject, last_sequence=1))
        return 1
    conn.execute(update(t).where(t.c.subject == subject).values(last_sequence=current + 1))
    return current + 1


def add_event(bind: Session | Connection, tables: MessagingTables, event_type: str,
              payload: dict, *, subject: str, producer: str, actor: str,
              correlation_id: str | None, version: int = 1) -> Event:
    """Write an event to the outbox in the caller's transaction."""
    sequence = next_sequence(bind, tables, subject)
    event = make_event(event_type, payload, subject=subject, sequence=sequence,
                       producer=producer, actor=actor, correlation_id=correlation_id,
                       version=version)
    _conn(bind).execute(insert(tables.outbox).values(
        event_id=event.id, event_type=event.type, subject=subject, sequence=sequence,
        body=event.to_json(), created_at=event.occurred_at, sent_at=None, attempts=0))
    return event


class OutboxRelay:
    """Publishes unsent outbox rows in id order, in batches confirmed by the broker.

    A row is marked sent only after the broker confirmed it; if the broker is away the rows
    stay, and the next round sends them (at least once; consumers dedupe by event id).
    """

    def __init__(self, engine: Engine, tables: MessagingTables, publisher, batch: int = 200,
                 service: str = "unknown"):
        self.service = service
        self.engine = engine
        self.tables = tables
        self.publisher = publisher
        self.batch = batch
        self._pg = engine.dialect.name == "postgresql"

    def run_once(self) -> int:
        t = self.tables.outbox
        with self.engine.begin() as conn:
            query = select(t.c.id, t.c.event_type, t.c.body).where(t.c.sent_at.is_(None)) \
                .order_by(t.c.id).limit(self.batch)
            if self._pg:
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if not rows:
                return 0
            try:
                self.publisher.publish_batch([(r.event_type, r.body) for r in rows])
            except Exception as exc:  # broker away: keep the rows, count the attempt
                log.warning("outbox publish failed, will retry: %s", exc)
                conn.rollback()
                with self.engine.begin() as c2:
                    c2.execute(update(t).where(t.c.id.in_([r.id for r in rows]))
                               .values(attempts=t.c.attempts + 1, last_error=str(exc)[:2000]))
                raise
            conn.execute(update(t).where(t.c.id.in_([r.id for r in rows]))
                         .values(sent_at=utcnow(), attempts=t.c.attempts + 1, last_error=None))
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        log.info("outbox: published %d event(s), last id %d", len(rows), rows[-1].id)
        return len(rows)

    def pending(self) -> int:
        t = self.tables.outbox
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t)
                                .where(t.c.sent_at.is_(None))).scalar_one()

    def run_forever(self, stop, idle_sleep: float = 0.02, max_backoff: float = 5.0) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                sent = self.run_once()
                backoff = 0.1
                if sent < self.batch:
                    if not sent:
                        self.publisher.keepalive()
                    stop.wait(idle_sleep)
            except Exception:
                stop.wait(backoff)
                backoff = min(max_backoff, backoff * 2)
                self.publisher.reset()
