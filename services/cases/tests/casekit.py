"""In-process helpers and fixtures for the cases service: a migrated SQLite file per test (copied from one
template), the Flask app from its factory, and a ``Desk`` that drives cases through the service
functions with chosen roles and a chosen day."""
from __future__ import annotations

import shutil
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from fundguard_shared.auth import Principal, issue_token
from fundguard_shared.db import make_engine, make_sessionmaker
from fundguard_shared.events import make_event
from fundguard_shared.migrate import upgrade

SECRET = "test-secret-for-cases-0123456789abcdef"
REGION, DEPT, INST = "510100", "稽核一科", "H5101001"

PEOPLE = {
    "inspector": Principal("insp-a", "inspector", region=REGION, department=DEPT),
    "inspector2": Principal("insp-b", "inspector", region=REGION, department=DEPT),
    "leader": Principal("leader-a", "leader", region=REGION),
    "legal_reviewer": Principal("legal-a", "legal_reviewer", region=REGION),
    "panel_member": Principal("panel-a", "panel_member", region=REGION),
    "institution": Principal("inst-a", "institution", institution_id=INST),
    "other_institution": Principal("inst-b", "institution", institution_id="H9999999"),
    "other_leader": Principal("leader-b", "leader", region="440100"),
}
OFFICERS = [{"id": "insp-a", "name": "张三", "credential_no": "川医保执 001"},
            {"id": "insp-b", "name": "李四", "credential_no": "川医保执 002"}]
MEMBERS = ["panel-a", "panel-b", "panel-c", "panel-d"]


def member(sub: str) -> Principal:
    return Principal(sub, "panel_member", region=REGION)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("cases-template") / "cases.db"
    upgrade("fundguard_cases", f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def db_url(template_db, tmp_path) -> str:
    target = tmp_path / "cases.db"
    shutil.copy(template_db, target)
    return f"sqlite:///{target}"


def fast_engine(url: str):
    """A test engine that skips fsync (the file is thrown away after the test)."""
    from sqlalchemy import event
    engine = make_engine(url)
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF"))
    return engine


@pytest.fixture
def sessions(db_url):
    engine = fast_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def app(db_url, tmp_path, monkeypatch):
    from fundguard_cases import clock, runtime
    from fundguard_cases.app import create_app
    monkeypatch.setenv("CASES_DATABASE_URL", db_url)
    monkeypatch.setenv("FUNDGUARD_JWT_SECRET", SECRET)
    monkeypatch.setenv("BROKER_URL", f"fgsqlite:///{tmp_path / 'bus.db'}")
    monkeypatch.setenv("FUNDGUARD_VAR_DIR", str(tmp_path))
    runtime.runtime.cache_clear()
    application = create_app()
    application.config["TESTING"] = True
    yield application
    clock.set_today(None)
    runtime.runtime().engine.dispose()
    runtime.runtime.cache_clear()


@pytest.fixture
def client(app):
    return app.test_client()


def token(p: Principal) -> str:
    return issue_token(p, SECRET, "fundguard-dev", "fundguard")


def auth(p: Principal) -> dict:
    return {"Authorization": f"Bearer {token(p)}"}


class Desk:
    """Drive cases through ``service.transition`` as chosen people on chosen days."""

    def __init__(self, sessions):
        self.sessions = sessions
        self.today = date(2026, 3, 2)  # a Monday; every period of a case stays inside 2026

    def new_case(self, amount="120000.00", party_type="entity", act_date=date(2026, 1, 10),
                 received=None) -> str:
        from fundguard_cases import service
        fid = str(uuid.uuid4())
        event = make_event("finding.recorded", {
            "finding_id": fid, "institution_id": INST, "institution_name": "成都某某医院",
            "party_type": party_type, "region": REGION, "department": DEPT,
            "violation_type": "split_admission", "legal_basis": "条例第三十八条", "amount": amount,
            "description": "分解住院", "source": "flight_inspection",
            "act_date": act_date,
        }, subject=f"finding:{fid}", sequence=1, producer="inspection", actor="insp-a")
        received = received or self.today
        event = event.__class__(**{**event.__dict__, "occurred_at": datetime(received.year, received.month,
                                                                             received.day, 2, tzinfo=timezone.utc),
                                   "payload": {**event.payload, "amount": Decimal(amount),
                                               "act_date": act_date}})
        with self.sessions() as s, s.begin():
            case = service.open_clue_from_finding(s, event)
            return case.id

    def fire(self, case_id, trigger, who="leader", data=None, reason="理由", today=None):
        from fundguard_cases import service
        principal = who if isinstance(who, Principal) else PEOPLE[who]
        with self.sessions() as s, s.begin():
            case = service.get_case(s, case_id, principal)
            assert case is not None, "case outside scope"
            service.transition(s, case, trigger, principal, reason, "req-test", data or {},
                               today=today or self.today)
            return case.state

    def state(self, case_id) -> str:
        from fundguard_cases.models import Case
        with self.sessions() as s:
            return s.get(Case, case_id).state

    def file(self, case_id):
        from fundguard_cases import service
        from fundguard_cases.models import Case
        with self.sessions() as s:
            f = service.load_file(s, s.get(Case, case_id))
            s.expunge_all()
            return f

    # -- common paths -----------------------------------------------------------------------
    def to_investigating(self, case_id):
        self.fire(case_id, "start_verification", "inspector")
        self.fire(case_id, "open_case", "leader", {"officers": OFFICERS})
        self.fire(case_id, "start_investigation", "inspector")

    def to_reported(self, case_id, sanctions=None, **extra):
        self.to_investigating(case_id)
        data = {"proposal": "sanction", "sanctions": sanctions if sanctions is not None else
                [{"kind": "fine", "article": "38", "amount": "150000.00"},
                 {"kind": "order_refund", "article": "38", "amount": "120000.00"}]}
        data.update(extra)
        self.fire(case_id, "submit_report", "inspector", data)

    def to_notified(self, case_id, sanctions=None, **extra):
        self.to_reported(case_id, sanctions, **extra)
        self.fire(case_id, "submit_for_review", "inspector")
        self.fire(case_id, "pass_review", "legal_reviewer", reason="合法")
        self.fire(case_id, "notify", "inspector")


@pytest.fixture
def desk(sessions) -> Desk:
    from fundguard_cases import eventtypes  # noqa: F401
    return Desk(sessions)
