"""The notify worker: case events -> inbox entries; runs the outbox relay."""
from fundguard_shared.worker import run_worker

from . import inbox
from .runtime import runtime

HANDLERS = {"case.opened": inbox.deliver, "case.transitioned": inbox.deliver}


def main() -> None:
    rt = runtime()
    run_worker(rt.settings, rt.engine, rt.sessions, rt.tables, HANDLERS)
