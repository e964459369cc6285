"""The audit trail: one entry per transition, hash-chained per case, verified on demand."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.outbox import utcnow

from .models import AuditEntry

GENESIS = "0" * 64


def _ts(at: datetime) -> str:
    """UTC, naive, microseconds: SQLite hands datetimes back naive, PostgreSQL aware."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, case_id: str, seq: int, at: datetime, actor: str,
               actor_role: str, action: str, from_state: str | None, to_state: str,
               reason: str, request_id: str) -> str:
    canonical = json.dumps({
        "prev": prev_hash, "case": case_id, "seq": seq,
        "at": _ts(at),
        "actor": actor, "role": actor_role, "action": action, "from": from_state,
        "to": to_state, "reason": reason, "request_id": request_id,
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _hash_of(e: AuditEntry) -> str:
    return entry_hash(e.prev_hash, e.case_id, e.seq, e.at, e.actor, e.actor_role, e.action,
                      e.from_state, e.to_state, e.reason or "", e.request_id)


def append(session: Session, case_id: str, *, actor: str, actor_role: str, action: str,
           from_state: str | None, to_state: str, reason: str, request_id: str) -> AuditEntry:
    last = session.execute(select(AuditEntry).where(AuditEntry.case_id == case_id)
                           .order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
    prev_hash, seq = (last.hash, last.seq + 1) if last else (GENESIS, 1)
    entry = AuditEntry(case_id=case_id, seq=seq, at=utcnow(),
                       actor=actor, actor_role=actor_role, action=action,
                       from_state=from_state, to_state=to_state, reason=reason or "",
                       request_id=request_id, prev_hash=prev_hash, hash="")
    entry.hash = _hash_of(entry)
    session.add(entry)
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_broken_seq: int | None = None
    problem: str | None = None


def verify(session: Session, case_id: str) -> ChainReport:
    entries = session.execute(select(AuditEntry).where(AuditEntry.case_id == case_id)
                              .order_by(AuditEntry.seq)).scalars().all()
    prev = GENESIS
    for expected_seq, e in enumerate(entries, start=1):
        if e.seq != expected_seq:
            return ChainReport(False, len(entries), expected_seq, "missing entry / 条目缺失")
        if e.prev_hash != prev:
            return ChainReport(False, len(entries), e.seq, "chain link broken / 链接断裂")
        if _hash_of(e) != e.hash:
            return ChainReport(False, len(entries), e.seq, "entry altered / 条目被篡改")
        prev = e.hash
    return ChainReport(True, len(entries))
