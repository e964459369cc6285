"""Test kit for the notify service, in process: a migrated SQLite database, the Flask test
client, tokens, event builders, a real SMTP sink (aiosmtpd) and a real HTTP receiver that can
fail N times. Fixtures are re-exported by ``conftest.py``."""
from __future__ import annotations

import email
import email.policy
import http.server
import json
import secrets
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from marshmallow import EXCLUDE
from aiosmtpd.controller import Controller

from fundguard_shared.auth import Principal, issue_token
from fundguard_shared.events import Event, make_event, parse_event
from fundguard_shared.migrate import upgrade


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the service, in process ----------------------------------------------------------------

@dataclass
class Notify:
    secret: str
    url: str
    client: object = None

    def token(self, role: str, sub: str | None = None, **scope) -> str:
        return issue_token(Principal(sub=sub or f"{role}-{uuid.uuid4().hex[:6]}", role=role,
                                     **scope), self.secret, "fundguard-dev", "fundguard")

    def call(self, method: str, path: str, token: str | None = None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, headers=headers, **kw)

    @property
    def runtime(self):
        from fundguard_notify.runtime import runtime
        return runtime()

    @property
    def cfg(self):
        from fundguard_notify.runtime import notify_config
        return notify_config()

    @property
    def book(self):
        from fundguard_notify.runtime import rulebook
        return rulebook()

    def handle(self, event: Event, today=None):
        """The worker's handler, in its own transaction (as the consumer runs it)."""
        from fundguard_notify import notices
        with self.runtime.sessions() as s, s.begin():
            return [n.id for n in notices.notify(s, event, self.book, self.cfg, today=today)]

    def consumer(self):
        from fundguard_shared.consumer import EventConsumer
        from fundguard_notify.worker import handlers
        dead = []
        c = EventConsumer("notify", self.runtime.sessions, self.runtime.tables, handlers(),
                          ordered=True, dead_letter=lambda *a: dead.append(a))
        c.dead = dead
        return c

    def deliverer(self, clock=None):
        from fundguard_notify.delivery import Deliverer
        from fundguard_shared.outbox import utcnow
        return Deliverer(self.runtime.sessions, self.cfg, clock=clock or utcnow)

    def deliveries(self, **where):
        from sqlalchemy import select
        from fundguard_notify.models import Delivery
        with self.runtime.sessions() as s:
            q = select(Delivery).order_by(Delivery.created_at, Delivery.id)
            for k, v in where.items():
                q = q.where(getattr(Delivery, k) == v)
            return list(s.execute(q).scalars())

    def set_prefs(self, token: str, **body):
        r = self.call("PUT", "/api/v1/preferences", token, json=body)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()


@pytest.fixture
def notify_env(tmp_path, monkeypatch):
    """Environment of one notify instance; tests may add variables before ``notify``."""
    secret = secrets.token_urlsafe(32)
    url = f"sqlite:///{tmp_path / 'notify.db'}"
    for key in ("DATABASE_URL", "BROKER_URL", "FUNDGUARD_SMTP_HOST", "FUNDGUARD_NOTIFY_RULES"):
        monkeypatch.delenv(key, raising=False)
    env = {"FUNDGUARD_VAR_DIR": str(tmp_path), "NOTIFY_DATABASE_URL": url,
           "FUNDGUARD_JWT_SECRET": secret, "BROKER_URL": f"fgsqlite:///{tmp_path / 'bus.db'}",
           "FUNDGUARD_WEBHOOK_BACKOFF_BASE": "10", "FUNDGUARD_WEBHOOK_BACKOFF_MAX": "3600",
           "FUNDGUARD_WEBHOOK_MAX_ATTEMPTS": "4", "FUNDGUARD_WEBHOOK_TIMEOUT": "5",
           "FUNDGUARD_EMAIL_BACKOFF_BASE": "10",
           "FUNDGUARD_NOTIFY_SECRET_KEY": Fernet.generate_key().decode()}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def notify(notify_env):
    from fundguard_notify import runtime as rt
    from fundguard_notify.app import create_app
    rt.reset()
    upgrade("fundguard_notify", notify_env["NOTIFY_DATABASE_URL"])
    app = create_app()
    n = Notify(secret=notify_env["FUNDGUARD_JWT_SECRET"], url=notify_env["NOTIFY_DATABASE_URL"])
    n.client = app.test_client()
    yield n
    n.runtime.engine.dispose()
    rt.reset()


# ---- events ---------------------------------------------------------------------------------

REGION, DEPT, INST = "510100", "稽核一科", "H5101001"

# the legal windows as the cases service sends them (rules/windows.py), here as an area that
# shortened the defence window: notify must print what the event says, never a number of its own
WINDOWS = {"defence": "3 个工作日", "hearing_request": "5 个工作日", "hearing_notice": "7 个工作日",
           "payment": "15 日", "surcharge_rate": "3%", "review": "60 日", "litigation": "6 个月"}


def case_payload(**over) -> dict:
    p = {"case_id": str(uuid.uuid4()), "case_number": "成医保罚〔2026〕17号",
         "institution_id": INST, "region": REGION, "department": DEPT}
    p.update(over)
    return p


def opened(seq: int = 1, **over) -> Event:
    p = case_payload(**over)
    body = {"case_id": p["case_id"], "case_number": p["case_number"], "state": "clue_registered",
            "source_event_id": str(uuid.uuid4()), "finding_id": None,
            "institution_id": p["institution_id"], "institution_name": "成都某某医院",
            "region": p["region"], "department": p["department"], "amount": "1234.50",
            "workflow_version": 1}
    return parse_event(make_event("case.opened", body, subject=f"case:{p['case_id']}",
                                  sequence=seq, producer="cases", actor="system").to_json())


def transitioned(trigger: str, from_state: str, to_state: str, *, seq: int = 2,
                 actor: str = "leader-a", case: dict | None = None, **over) -> Event:
    p = case or case_payload()
    body = {"case_id": p["case_id"], "case_number": p["case_number"], "trigger": trigger,
            "from_state": from_state, "to_state": to_state, "version": seq,
            "reason": over.pop("reason", ""), "institution_id": p["institution_id"],
            "region": p["region"], "department": p["department"], **over}
    return parse_event(make_event("case.transitioned", body, subject=f"case:{p['case_id']}",
                                  sequence=seq, producer="cases", actor=actor).to_json())


def raw_event(event_type: str, payload: dict, *, actor: str = "system", seq: int = 1,
              subject: str | None = None) -> Event:
    """An event of the sanction.* / deadline.* families, loaded with the shared payload schema
    (deadline types cases does not publish yet borrow the deadline schema)."""
    from fundguard_shared.events import PAYLOAD_SCHEMAS
    schema = PAYLOAD_SCHEMAS.get((event_type, 1)) or (
        PAYLOAD_SCHEMAS[("deadline.due_soon", 1)] if event_type.startswith("deadline.") else None)
    loaded = (schema().load(json.loads(json.dumps(payload, default=str)), unknown=EXCLUDE)
              if schema else payload)
    return Event(id=str(uuid.uuid4()), type=event_type, version=1,
                 occurred_at=datetime.now(timezone.utc), producer="cases",
                 correlation_id=str(uuid.uuid4()), subject=subject or f"x:{uuid.uuid4()}",
                 sequence=seq, actor=actor, payload=loaded)


def deadline_payload(kind: str = "payment", due_on: str = "2026-06-19", **over) -> dict:
    p = case_payload()
    d = {"deadline_id": str(uuid.uuid4()), "case_id": p["case_id"],
         "case_number": p["case_number"], "kind": kind, "label": "缴纳罚款",
         "due_on": due_on, "status": "running", "institution_id": INST, "region": REGION,
         "department": DEPT}
    d.update(over)
    return d


def sanction_payload(**over) -> dict:
    p = case_payload()
    d = {"sanction_id": str(uuid.uuid4()), "case_id": p["case_id"],
         "case_number": p["case_number"], "institution_id": INST,
         "institution_name": "成都某某医院", "party_type": "entity", "region": REGION,
         "department": DEPT, "track": "penalty", "kind": "fine", "article": "38",
         "amount": "24690.00", "months": None, "years": None, "tier": "ordinary",
         "decided_on": "2026-06-01", "cause": "decision", "in_force": True}
    d.update(over)
    return d


# ---- a real SMTP sink and a real HTTP receiver -----------------------------------------------

class _Sink:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 Message accepted"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_sink(notify_env, monkeypatch):
    sink = _Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("FUNDGUARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FUNDGUARD_SMTP_PORT", str(port))
    monkeypatch.setenv("FUNDGUARD_SMTP_TLS", "none")
    sink.port = port
    yield sink
    controller.stop()


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    status_on_fail: int = 503
    requests: list = field(default_factory=list)

    @property
    def received(self) -> list:
        return [r for r in self.requests if r["answered"] < 300]


def start_receiver(fail_first: int = 0) -> tuple[Receiver, http.server.HTTPServer]:
    port = free_port()
    rec = Receiver(url=f"http://127.0.0.1:{port}/fundguard/hook", fail_first=fail_first)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            failing = rec.fail_first > 0
            if failing:
                rec.fail_first -= 1
            code = rec.status_on_fail if failing else 200
            rec.requests.append({"headers": dict(self.headers), "body": body, "answered": code,
                                 "path": self.path})
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return rec, server


@pytest.fixture
def receiver():
    rec, server = start_receiver()
    yield rec
    server.shutdown()
    server.server_close()


def money(value: str) -> Decimal:
    return Decimal(value)


def wire(event: Event) -> bytes:
    """The bytes of an event as the bus carries them."""
    return json.dumps(event.to_dict(), default=str, ensure_ascii=False).encode("utf-8")
