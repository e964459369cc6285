"""The delivery loop: sends pending e-mails and webhooks, outside any consumer transaction.

One round: (1) claim due ``pending`` rows in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers share the queue; SQLite's write lock serialises the one embedded
worker), marking them ``sending`` with ``attempts + 1``; (2) send each one with no transaction
open; (3) record the attempt and the outcome in another short transaction.

Guarantees when a worker dies between (2) and (3) — a claim older than the lease is stale:

* webhook: **at least once**. A stale claim goes back to ``pending`` and is sent again with the
  same ``Idempotency-Key`` / ``X-Fundguard-Delivery``; receivers drop keys they have seen.
* e-mail: **at most once** after the claim committed. A stale claim becomes ``uncertain`` and is
  never resent by itself (no mail server tells us whether it already accepted the message); an
  operator may replay it (``POST /api/v1/deliveries/<id>/replay``).

Failures retry with exponential backoff (base × 2^(attempt−1), capped) up to the channel's
attempt limit; a webhook or e-mail that exhausts it is ``dead`` — the dead-letter list an operator
reads and replays. A permanent refusal (SMTP 5xx, recipient refused) is ``failed`` at once.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from fundguard_shared.outbox import utcnow

from .channels import SendResult
from .channels import email as email_channel
from .channels import webhook as webhook_channel
from . import secretbox
from .config import NotifyConfig
from .models import Delivery, DeliveryAttempt, WebhookEndpoint

log = logging.getLogger(__name__)

REPLAYABLE = ("dead", "failed", "uncertain", "skipped")


@dataclass(frozen=True)
class Claimed:
    id: str
    channel: str
    address: str | None
    subject: str
    body: str
    kind: str
    attempts: int
    max_attempts: int
    secret: str | None
    endpoint_active: bool
    claimed_at: datetime


Sender = Callable[[Claimed], SendResult]


def _endpoint_secret(ep: WebhookEndpoint | None) -> str | None:
    """The endpoint's signing secret in clear, or None when the key cannot decrypt it (the
    delivery then fails permanently, without sending; an operator replays it once the key is
    fixed)."""
    if ep is None:
        return None
    try:
        return ep.secret
    except (secretbox.SecretKeyMissing, secretbox.SecretUnreadable) as exc:
        log.error("webhook endpoint %s: %s", ep.id, exc)
        return None


class Deliverer:
    def __init__(self, sessions: sessionmaker, cfg: NotifyConfig,
                 clock: Callable[[], datetime] = utcnow,
                 senders: dict[str, Sender] | None = None):
        self.sessions = sessions
        self.cfg = cfg
        self.clock = clock
        self.senders: dict[str, Sender] = senders or {
            "email": self._send_email, "webhook": self._send_webhook}
        self._next_recovery: datetime | None = None

    # -- senders -------------------------------------------------------------------------------
    def _send_email(self, c: Claimed) -> SendResult:
        if not c.address:
            return SendResult(False, permanent=True, error="no e-mail address")
        return email_channel.send(self.cfg.smtp, c.address, c.subject, c.body, c.id, c.kind)

    def _send_webhook(self, c: Claimed) -> SendResult:
        if not c.endpoint_active or not c.address:
            return SendResult(False, permanent=True, error="endpoint removed or disabled")
        if not c.secret:
            return SendResult(False, permanent=True,
                              error="signing secret unreadable (FUNDGUARD_NOTIFY_SECRET_KEY)")
        return webhook_channel.post(c.address, c.secret, c.body, c.id, c.kind,
                                    self.cfg.webhook_timeout)

    # -- one round -----------------------------------------------------------------------------
    def claim(self, limit: int | None = None) -> list[Claimed]:
        now = self.clock()
        with self.sessions() as session, session.begin():
            q = (select(Delivery).where(Delivery.status == "pending",
                                        Delivery.channel.in_(tuple(self.senders)),
                                        Delivery.next_attempt_at <= now)
                 .order_by(Delivery.next_attempt_at).limit(limit or self.cfg.delivery_batch))
            if session.bind.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = session.execute(q).scalars().all()
            out = []
            for d in rows:
                d.status, d.claimed_at, d.updated_at = "sending", now, now
                d.attempts = d.attempts + 1
                ep = session.get(WebhookEndpoint, d.endpoint_id) if d.endpoint_id else None
                out.append(Claimed(d.id, d.channel, ep.url if ep else d.address, d.subject,
                                   d.body, d.kind, d.attempts, d.max_attempts,
                                   _endpoint_secret(ep), bool(ep and ep.active), now))
            return out

    def record(self, c: Claimed, result: SendResult) -> str:
        now = self.clock()
        with self.sessions() as session, session.begin():
            d = session.get(Delivery, c.id)
            if d is None or d.status != "sending" or d.attempts != c.attempts:
                log.warning("delivery %s changed while sending; outcome %s not recorded",
                            c.id, result)
                return "lost"
            if result.ok:
                outcome, d.status, d.sent_at, d.last_error = "ok", "sent", now, None
            elif result.permanent:
                outcome, d.status, d.last_error = "failed", "failed", result.error
            elif d.attempts >= d.max_attempts:
                outcome, d.status, d.last_error = "dead", "dead", result.error
            else:
                outcome, d.status, d.last_error = "retry", "pending", result.error
                d.next_attempt_at = now + timedelta(
                    seconds=self.cfg.backoff(d.channel, d.attempts))
            d.claimed_at, d.updated_at = None, now
            session.add(DeliveryAttempt(delivery_id=d.id, number=d.attempts,
                                        started_at=c.claimed_at, finished_at=now,
                                        outcome=outcome, response_code=result.code,
                                        error=result.error))
        if outcome in ("dead", "failed"):
            log.error("%s delivery %s %s after %d attempt(s): %s", c.channel, c.id, outcome,
                      c.attempts, result.error)
        return outcome

    def run_once(self) -> int:
        now = self.clock()
        if self._next_recovery is None or now >= self._next_recovery:
            self.recover_stale()  # a few times per lease, not every round
            self._next_recovery = now + timedelta(seconds=max(1.0, self.cfg.lease_seconds / 4))
        claimed = self.claim()
        for c in claimed:
            try:
                result = self.senders[c.channel](c)
            except Exception as exc:  # a sender defect is a failed attempt, not a dead loop
                log.exception("sender failed for %s", c.id)
                result = SendResult(False, error=f"{type(exc).__name__}: {exc}"[:500])
            self.record(c, result)
        return len(claimed)

    def recover_stale(self) -> int:
        """Claims older than the lease: a worker died mid-send (see the module docstring)."""
        now = self.clock()
        cutoff = now - timedelta(seconds=self.cfg.lease_seconds)
        with self.sessions() as session, session.begin():
            rows = session.execute(select(Delivery).where(
                Delivery.status == "sending", Delivery.claimed_at < cutoff)).scalars().all()
            for d in rows:
                claimed_at = d.claimed_at
                if d.channel == "webhook":
                    d.status, d.next_attempt_at, outcome = "pending", now, "retry"
                    error = "claim expired (worker stopped mid-send?); resending, same key"
                else:
                    d.status, outcome = "uncertain", "uncertain"
                    error = "claim expired (worker stopped mid-send?); not resent: may have gone"
                d.last_error, d.claimed_at, d.updated_at = error, None, now
                session.add(DeliveryAttempt(delivery_id=d.id, number=d.attempts,
                                            started_at=claimed_at, finished_at=now,
                                            outcome=outcome, error=error))
            return len(rows)

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("delivery round failed")
                busy = 0
            if not busy:
                stop.wait(self.cfg.delivery_interval)


def replay(session, delivery_id: str, cfg: NotifyConfig, now: datetime | None = None) -> Delivery:
    """Put a dead / failed / uncertain / skipped delivery back in the queue (caller commits).

    The attempt counter restarts (the earlier attempts stay in the log); the delivery id, and
    so the webhook idempotency key, stays the same."""
    d = session.get(Delivery, delivery_id)
    if d is None or d.channel not in ("email", "webhook"):
        raise LookupError(delivery_id)
    if d.status not in REPLAYABLE:
        raise ValueError(d.status)
    now = now or utcnow()
    d.status, d.attempts, d.next_attempt_at = "pending", 0, now
    d.max_attempts = cfg.max_attempts(d.channel)
    d.replays, d.last_error, d.updated_at = d.replays + 1, None, now
    return d
