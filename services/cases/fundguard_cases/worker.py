"""The cases worker: opens clues from findings, projects decided sanctions onto standing and points;
runs the outbox relay, the deadline scheduler and the points tick."""
from __future__ import annotations

import logging
import os
import threading

from fundguard_shared.worker import run_worker

from . import clock, deadlines, eventtypes, evidence, service  # noqa: F401  (eventtypes: payload schemas)
from .runtime import runtime

log = logging.getLogger(__name__)


def _sanction_decided(session, event) -> None:
    from .points import standing
    standing.handle_sanction_event(session, event)


# finding.recorded opens the clue and keeps the evidence hashes it came with (evidence.py)
HANDLERS = {"finding.recorded": lambda session, event: evidence.on_finding_recorded(session, event),
            "evidence.registered": lambda session, event: evidence.on_evidence_registered(session, event),
            # institution standing and points follow decisions through the bus like any consumer
            "sanction.decided": _sanction_decided}


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


def points_tick(stop: threading.Event) -> None:
    """Every CASES_POINTS_SECONDS (default 30): enter proposed scorings whose defence window has
    lapsed, and announce restrictions and standing that changed with the calendar (points.procedure)."""
    from .points import procedure
    interval = float(os.environ.get("CASES_POINTS_SECONDS", "30"))
    rt = runtime()
    while not stop.is_set():
        try:
            with rt.sessions() as session, session.begin():
                counts = procedure.tick(session, clock.today())
            if any(counts.values()):
                log.info("points tick: %s", counts)
        except Exception:  # the next round retries
            log.exception("points tick failed")
        stop.wait(interval)


def run_publication(sessions) -> dict:
    """One publication round (公示): withdraw decisions changed/annulled on appeal, schedule and
    publish decisions marked for publication (documents.publication)."""
    from .documents import publication
    with sessions() as session, session.begin():
        return publication.run(session, clock.today(), deadlines.calendar_for(session), service.legal_params())


def publication_loop(stop: threading.Event) -> None:
    """Every CASES_PUBLICATION_SECONDS (default 30): one publication round."""
    interval = float(os.environ.get("CASES_PUBLICATION_SECONDS", "30"))
    rt = runtime()
    while not stop.is_set():
        try:
            counts = run_publication(rt.sessions)
            if any(counts.values()):
                log.info("publication round: %s", counts)
        except Exception:  # the next round retries
            log.exception("publication round failed")
        stop.wait(interval)


def main() -> None:
    rt = runtime()
    run_worker(rt.settings, rt.engine, rt.sessions, rt.tables, HANDLERS,
               extra_loops=(deadline_scheduler, points_tick, publication_loop))
