"""The envelope, the idempotent consumer and per-subject ordering, on a real SQLite database."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from fundguard_shared.consumer import EventConsumer
from fundguard_shared.db import make_engine, make_sessionmaker
from fundguard_shared.events import EventRejected, make_event, parse_event
from fundguard_shared.outbox import add_event, messaging_tables


def _payload(case_id="c1"):
    return {"case_id": case_id, "case_number": "N1", "trigger": "t", "from_state": "a",
            "to_state": "b", "version": 2, "reason": "", "institution_id": "I",
            "region": "R", "department": "D"}


def _event(seq, subject="case:c1", **over):
    e = make_event("case.transitioned", _payload(), subject=subject, sequence=seq,
                   producer="cases", actor="u")
    return e.to_json() if not over else json.dumps(e.to_dict() | over)


def test_unknown_type_is_rejected_with_reason():
    body = json.loads(_event(1)) | {"type": "case.vanished"}
    with pytest.raises(EventRejected) as exc:
        parse_event(json.dumps(body))
    assert exc.value.code == "unknown_type" and "case.vanished" in exc.value.reason


def test_unknown_version_is_rejected_with_known_versions():
    with pytest.raises(EventRejected) as exc:
        parse_event(_event(1, version=7))
    assert exc.value.code == "unknown_version" and "[1]" in exc.value.reason


@pytest.mark.parametrize("body,code", [
    (b"\xff\xfe", "bad_encoding"), ("[1,2]", "bad_envelope"), ("nope", "bad_json"),
    (json.dumps({"id": "x"}), "bad_envelope"),
])
def test_malformed_bodies_are_rejected_not_crashing(body, code):
    with pytest.raises(EventRejected) as exc:
        parse_event(body)
    assert exc.value.code == code


def test_producer_cannot_emit_invalid_payload():
    with pytest.raises(ValueError):
        make_event("case.transitioned", {"case_id": "c1"}, subject="s", sequence=1,
                   producer="cases", actor="u")


@pytest.fixture
def store(tmp_path):
    md = MetaData()
    tables = messaging_tables(md)
    effects = Table("effects", md, Column("id", Integer, primary_key=True),
                    Column("event_id", String(36)), Column("seq", Integer))
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    md.create_all(engine)
    return engine, make_sessionmaker(engine), tables, effects


def _consumer(store, ordered=True, handler=None, dead=None):
    engine, sessions, tables, effects = store

    def apply(session, event):
        session.execute(insert(effects).values(event_id=event.id, seq=event.sequence))

    return EventConsumer("test", sessions, tables, {"case.transitioned": handler or apply},
                         ordered=ordered, dead_letter=dead or (lambda *a: None),
                         max_attempts=2, retry_delay=0)


def _effects(store):
    engine, _, _, effects = store
    with engine.connect() as c:
        return [r.seq for r in c.execute(select(effects).order_by(effects.c.id))]


def test_redelivered_event_has_no_second_effect(store):
    consumer = _consumer(store)
    body = _event(1).encode()
    assert consumer.process(body) == "applied"
    assert consumer.process(body) == "duplicate"
    assert _effects(store) == [1]


def test_event_ahead_of_gap_is_parked_then_applied_in_order(store):
    consumer = _consumer(store)
    b1, b2, b3 = (_event(i).encode() for i in (1, 2, 3))
    assert consumer.process(b3) == "parked"
    assert consumer.process(b1) == "applied"
    assert _effects(store) == [1]
    assert consumer.process(b2) == "applied"  # closes the gap: 3 follows at once
    assert _effects(store) == [1, 2, 3]
    assert consumer.process(b3) == "duplicate"
    _, sessions, tables, _ = store
    with sessions() as s:
        assert s.execute(select(func.count()).select_from(tables.parked_events)).scalar_one() == 0


def test_failing_handler_is_retried_then_dead_lettered_without_effect(store):
    calls, dead = [], []

    def boom(session, event):
        calls.append(event.id)
        raise RuntimeError("disk on fire")

    consumer = _consumer(store, handler=boom, dead=lambda *a: dead.append(a))
    assert consumer.process(_event(1).encode()) == "dead_lettered"
    assert len(calls) == 2 and dead[0][1] == "handler_failed" and "disk on fire" in dead[0][2]
    _, sessions, tables, _ = store
    with sessions() as s:
        rows = s.execute(select(tables.dead_letters)).all()
        assert len(rows) == 1 and rows[0].reason_code == "handler_failed"
        assert s.execute(select(func.count()).select_from(tables.processed_events)).scalar_one() == 0


def test_outbox_sequences_are_contiguous_per_subject(store):
    engine, sessions, tables, _ = store
    with sessions() as s, s.begin():
        seqs = [add_event(s, tables, "case.transitioned", _payload(), subject=subj,
                          producer="cases", actor="u", correlation_id=None).sequence
                for subj in ("case:a", "case:b", "case:a", "case:a")]
    assert seqs == [1, 1, 2, 3]
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(tables.outbox)
                         .where(tables.outbox.c.sent_at.is_(None))).scalar_one() == 4


def test_outbox_row_rolls_back_with_the_state_change(store):
    engine, sessions, tables, effects = store
    with pytest.raises(RuntimeError):
        with sessions() as s, s.begin():
            s.execute(insert(effects).values(event_id=str(uuid.uuid4()), seq=1))
            add_event(s, tables, "case.transitioned", _payload(), subject="case:z",
                      producer="cases", actor="u", correlation_id=None)
            raise RuntimeError("request failed after the write")
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(tables.outbox)).scalar_one() == 0
        assert c.execute(select(func.count()).select_from(effects)).scalar_one() == 0
