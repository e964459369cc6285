"""The notify worker: events -> notices (consumer), plus two loops in their own threads:
the delivery loop (e-mail, webhooks) and the scheduler (deadline reminders, daily digests)."""
from __future__ import annotations

import logging
import threading

from fundguard_shared.outbox import utcnow
from fundguard_shared.worker import run_worker

from . import notices
from .delivery import Deliverer
from .runtime import notify_config, rulebook, runtime

log = logging.getLogger(__name__)


def handlers() -> dict:
    """Every event type the rule book names (and every clock event) goes to the one
    table-driven handler; other types are recorded as handled and tell nobody."""
    types = rulebook().event_types | set(notices.TRACKED_DEADLINE_EVENTS)
    return {event_type: notices.handle for event_type in sorted(types)}


HANDLERS = handlers()


def scheduler_tick(sessions, now=None) -> dict[str, int]:
    cfg, book = notify_config(), rulebook()
    now = now or utcnow()
    with sessions() as session, session.begin():
        reminded = notices.remind(session, book, cfg, notices.local_today(cfg, now))
    with sessions() as session, session.begin():
        digests = notices.digest(session, book, cfg, now)
    return {"reminders": reminded, "digests": digests}


def delivery_loop(stop: threading.Event) -> None:
    rt = runtime()
    Deliverer(rt.sessions, notify_config()).run_forever(stop)


def scheduler_loop(stop: threading.Event) -> None:
    rt = runtime()
    while not stop.is_set():
        try:
            scheduler_tick(rt.sessions)
        except Exception:
            log.exception("scheduler tick failed")
        stop.wait(notify_config().scheduler_interval)


def main() -> None:
    rt = runtime()
    run_worker(rt.settings, rt.engine, rt.sessions, rt.tables, handlers(),
               extra_loops=(delivery_loop, scheduler_loop))
