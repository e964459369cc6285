"""The cases worker: opens clues from findings; runs the outbox relay."""
from fundguard_shared.worker import run_worker

from . import service
from .runtime import runtime

HANDLERS = {"finding.recorded": lambda session, event: service.open_clue_from_finding(session, event)}


def main() -> None:
    rt = runtime()
    run_worker(rt.settings, rt.engine, rt.sessions, rt.tables, HANDLERS)
