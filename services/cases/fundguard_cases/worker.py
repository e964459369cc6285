"""The cases worker: opens clues from findings; runs the outbox relay and the deadline scheduler."""
from __future__ import annotations

import logging
import os
import threading

from fundguard_shared.worker import run_worker

from . import clock, deadlines, eventtypes, service  # noqa: F401  (eventtypes: payload schemas)
from .runtime import runtime

log = logging.getLogger(__name__)

HANDLERS = {"finding.recorded": lambda session, event: service.open_clue_from_finding(session, event)}


def run_tick(sessions) -> dict:
    """One scheduler round in its own transaction."""
    with sessions() as session, session.begin():
        return deadlines.tick(session, clock.today())


def deadline_scheduler(stop: threading.Event) -> None:
    """Every CASES_TICK_SECONDS (default 30): mark clocks due soon / overdue, emit their events."""
    interval = float(os.environ.get("CASES_TICK_SECONDS", "30"))
    rt = runtime()
    while not stop.is_set():
        try:
            counts = run_tick(rt.sessions)
            if any(counts.values()):
                log.info("deadline tick: %s", counts)
        except Exception:  # the next round retries; the worker keeps running
            log.exception("deadline tick failed")
        stop.wait(interval)


def points_projector(stop: threading.Event) -> None:
    """Every CASES_POINTS_SECONDS (default 5): project new sanction.decided events of the outbox
    onto institution standing and reverse points of annulled/changed decisions (points.standing)."""
    from .points import standing
    interval = float(os.environ.get("CASES_POINTS_SECONDS", "5"))
    rt = runtime()
    while not stop.is_set():
        try:
            with rt.sessions() as session, session.begin():
                n = standing.project_outbox(session)
            if n:
                log.info("points projector: %d sanction events", n)
        except Exception:  # the next round retries
            log.exception("points projection failed")
        stop.wait(interval)


def main() -> None:
    rt = runtime()
    run_worker(rt.settings, rt.engine, rt.sessions, rt.tables, HANDLERS,
               extra_loops=(deadline_scheduler, points_projector))
