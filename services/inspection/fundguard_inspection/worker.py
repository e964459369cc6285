"""The inspection worker: its outbox relay, and links findings to the cases opened from them."""
from sqlalchemy import update
from sqlalchemy.orm import Session

from fundguard_shared.events import Event
from fundguard_shared.worker import run_worker

from .models import Finding
from .runtime import runtime


def on_case_opened(session: Session, event: Event) -> None:
    finding_id = event.payload.get("finding_id")
    if finding_id:
        session.execute(update(Finding).where(Finding.id == finding_id).values(
            case_id=event.payload["case_id"], case_number=event.payload["case_number"]))


HANDLERS = {"case.opened": on_case_opened}


def main() -> None:
    rt = runtime()
    run_worker(rt.settings, rt.engine, rt.sessions, rt.tables, HANDLERS)
