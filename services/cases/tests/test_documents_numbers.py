"""文号 under concurrency: 50 simultaneous issues of one type → 50 distinct, consecutive numbers,
on SQLite in process (BEGIN IMMEDIATE) and, with FUNDGUARD_TEST_BACKEND=real, on PostgreSQL (row
lock on the sequence row in the issuing transaction)."""
from __future__ import annotations

import os
import re
import threading
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from casekit import DEPT, INST, OFFICERS, PEOPLE, REGION
from fundguard_shared.db import make_engine, make_sessionmaker
from fundguard_shared.events import make_event
from fundguard_shared.migrate import upgrade

from fundguard_cases import service
from fundguard_cases.documents.issue import issue_document
from fundguard_cases.documents.models import Document, DocumentNumberSequence
from fundguard_cases.models import Case

N = 50
TODAY = date(2026, 3, 2)
BACKEND = os.environ.get("FUNDGUARD_TEST_BACKEND", "embedded")
PG_ADMIN_URL = os.environ.get("FUNDGUARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _document_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CASES_DOCUMENT_DIR", str(tmp_path / "documents"))


def _open_cases(sessions, n: int) -> list[str]:
    """n cases just opened (立案), driven through the workflow."""
    ids = []
    for _ in range(n):
        fid = str(uuid.uuid4())
        event = make_event("finding.recorded", {
            "finding_id": fid, "institution_id": INST, "institution_name": "成都某某医院", "party_type": "entity",
            "region": REGION, "department": DEPT, "violation_type": "split_admission", "legal_basis": "条例第三十八条",
            "amount": "1000.00", "description": "分解住院", "source": "flight_inspection", "act_date": date(2026, 1, 10),
        }, subject=f"finding:{fid}", sequence=1, producer="inspection", actor="insp-a")
        event = event.__class__(**{**event.__dict__, "occurred_at": datetime(2026, 3, 2, 2, tzinfo=timezone.utc),
                                   "payload": {**event.payload, "amount": Decimal("1000.00"),
                                               "act_date": date(2026, 1, 10)}})
        with sessions() as s, s.begin():
            ids.append(service.open_clue_from_finding(s, event).id)
        for trigger, who, data in (("start_verification", "inspector", {}), ("open_case", "leader", {"officers": OFFICERS})):
            with sessions() as s, s.begin():
                case = service.get_case(s, ids[-1], PEOPLE[who])
                service.transition(s, case, trigger, PEOPLE[who], "理由", "req", data, today=TODAY)
    return ids


def _issue_concurrently(sessions, case_ids: list[str], doc_type: str) -> list[str]:
    barrier = threading.Barrier(len(case_ids))
    numbers, errors = [], []

    def one(case_id):
        barrier.wait()
        for _ in range(20):  # a stale case version (same case, two writers) is retried like a client would
            try:
                with sessions() as s, s.begin():
                    case = service.get_case(s, case_id, PEOPLE["leader"])
                    doc = issue_document(s, case, doc_type, PEOPLE["leader"], {}, today=TODAY)
                    number = doc.number
                numbers.append(number)
                return
            except StaleDataError:
                continue
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=one, args=(cid,)) for cid in case_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    return numbers


def _assert_consecutive(numbers: list[str], sessions, doc_type: str):
    assert len(numbers) == N
    ns = sorted(int(re.search(r"〔2026〕(\d+)号$", n).group(1)) for n in numbers)
    assert ns == list(range(1, N + 1))  # distinct, consecutive, no gap
    with sessions() as s:
        seq = s.execute(select(DocumentNumberSequence).where(DocumentNumberSequence.doc_type == doc_type)).scalar_one()
        assert seq.last == N
        assert len(s.execute(select(Document.id)).all()) == N


def _prior_notice_cases(sessions, n: int) -> list[str]:
    ids = _open_cases(sessions, n)
    for cid in ids:
        for trigger, who, data in (("start_investigation", "inspector", {}),
                                   ("submit_report", "inspector", {"proposal": "sanction", "sanctions": [
                                       {"kind": "fine", "article": "38", "amount": "1500.00"}]})):
            with sessions() as s, s.begin():
                case = service.get_case(s, cid, PEOPLE[who])
                service.transition(s, case, trigger, PEOPLE[who], "理由", "req", data, today=TODAY)
    return ids


@pytest.mark.timeout(300)
def test_fifty_concurrent_issues_get_fifty_consecutive_numbers_sqlite(sessions):
    ids = _prior_notice_cases(sessions, N)
    numbers = _issue_concurrently(sessions, ids, "prior_notice")
    _assert_consecutive(numbers, sessions, "prior_notice")


@pytest.fixture
def pg_sessions():
    if BACKEND != "real":
        pytest.skip("needs FUNDGUARD_TEST_BACKEND=real (PostgreSQL)")
    import psycopg
    name = f"fg_docs_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade("fundguard_cases", url)
        engine = make_engine(url, pool_size=N + 5, max_overflow=10)
        yield make_sessionmaker(engine)
        engine.dispose()
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.timeout(300)
def test_fifty_concurrent_issues_get_fifty_consecutive_numbers_postgresql(pg_sessions):
    ids = _prior_notice_cases(pg_sessions, N)
    numbers = _issue_concurrently(pg_sessions, ids, "prior_notice")
    _assert_consecutive(numbers, pg_sessions, "prior_notice")


@pytest.mark.timeout(300)
def test_concurrent_issues_on_one_case_keep_its_order_and_audit_chain_postgresql(pg_sessions):
    from fundguard_cases import audit
    [cid] = _prior_notice_cases(pg_sessions, 1)
    with pg_sessions() as s, s.begin():
        case = service.get_case(s, cid, PEOPLE["leader"])
        service.transition(s, case, "agreement_action", PEOPLE["leader"], "约谈", "req", {"kind": "interview"}, today=TODAY)
    numbers = _issue_concurrently(pg_sessions, [cid] * 20, "interview_notice")
    assert sorted(int(re.search(r"〔2026〕(\d+)号$", n).group(1)) for n in numbers) == list(range(1, 21))
    with pg_sessions() as s:
        assert [d.seq for d in s.execute(select(Document).where(Document.case_id == cid)
                                         .order_by(Document.seq)).scalars()] == list(range(1, 21))
        assert audit.verify(s, cid).ok
