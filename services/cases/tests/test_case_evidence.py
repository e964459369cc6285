"""The evidence list of the case file (一案一卷) carries the SHA-256 of every evidence file the
inspection service reported for the finding the case came from: with ``finding.recorded``
(``evidence``) or afterwards with ``evidence.registered``. Delivered through the real consumer with
the worker's handlers: idempotent on redelivery, ordered per finding (evidence that arrives before
its case waits for it)."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from casekit import DEPT, INST, PEOPLE, REGION, auth
from fundguard_shared.events import make_event, parse_event

CLI = str(Path(sys.executable).with_name("fundguard-cases"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ref(content: bytes, name="询问笔录.pdf") -> dict:
    return {"evidence_id": str(uuid.uuid4()), "sha256": sha(content), "filename": name,
            "media_type": "application/pdf", "size": len(content),
            "added_at": datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)}


def finding_recorded(fid: str, evidence: list[dict] | None = None, sequence: int = 1) -> str:
    payload = {"finding_id": fid, "institution_id": INST, "institution_name": "成都某某医院",
               "party_type": "entity", "region": REGION, "department": DEPT,
               "violation_type": "split_admission", "legal_basis": "条例第三十八条", "amount": "120000.00",
               "description": "分解住院", "source": "flight_inspection"}
    if evidence is not None:
        payload["evidence"] = evidence
    return make_event("finding.recorded", payload, subject=f"finding:{fid}", sequence=sequence,
                      producer="inspection", actor="insp-a").to_json()


def evidence_registered(fid: str, r: dict, sequence: int) -> str:
    return make_event("evidence.registered", {**r, "finding_id": fid, "region": REGION, "department": DEPT},
                      subject=f"finding:{fid}", sequence=sequence, producer="inspection",
                      actor="insp-a").to_json()


@pytest.fixture
def deliver(sessions):
    """One message through the cases consumer as the bus delivers it: the outcome."""
    from fundguard_shared.consumer import EventConsumer
    from fundguard_cases.models import MESSAGING
    from fundguard_cases.worker import HANDLERS
    dead = []
    consumer = EventConsumer("cases", sessions, MESSAGING, HANDLERS, ordered=True,
                             dead_letter=lambda *a: dead.append(a))
    yield consumer.process
    assert dead == []


def rows(sessions, fid):
    from fundguard_cases.evidence import CaseEvidence
    with sessions() as s:
        return [(r.case_id, r.evidence_id, r.sha256) for r in s.execute(
            select(CaseEvidence).where(CaseEvidence.finding_id == fid).order_by(CaseEvidence.added_at,
                                                                                 CaseEvidence.evidence_id)).scalars()]


def case_of(sessions, fid):
    from fundguard_cases.models import Case
    with sessions() as s:
        return s.execute(select(Case.id).where(Case.finding_id == fid)).scalar_one()


def test_hashes_of_the_finding_and_of_later_evidence_are_stored_with_the_case(sessions, deliver):
    fid = str(uuid.uuid4())
    first, later = ref(b"%PDF-1.4 site record"), ref(b"%PDF-1.4 interview", name="现场照片.pdf")
    assert deliver(finding_recorded(fid, [first])) == "applied"
    assert deliver(evidence_registered(fid, later, 2)) == "applied"
    case_id = case_of(sessions, fid)
    assert sorted(rows(sessions, fid)) == sorted([(case_id, first["evidence_id"], first["sha256"]),
                                                  (case_id, later["evidence_id"], later["sha256"])])


def test_redelivered_evidence_event_is_stored_once(sessions, deliver):
    fid = str(uuid.uuid4())
    r = ref(b"%PDF-1.4 once")
    assert deliver(finding_recorded(fid, [r])) == "applied"
    body = evidence_registered(fid, ref(b"%PDF-1.4 later"), 2)
    assert deliver(body) == "applied"
    assert deliver(body) == "duplicate"
    assert deliver(finding_recorded(fid, [r])) == "duplicate"  # same position under another id
    assert len(rows(sessions, fid)) == 2


def test_the_same_file_reported_twice_for_a_case_is_one_row(sessions, deliver):
    """Idempotent beyond the event id: a fact repeated by another event changes nothing."""
    fid = str(uuid.uuid4())
    r = ref(b"%PDF-1.4 repeated")
    assert deliver(finding_recorded(fid, [r])) == "applied"
    assert deliver(evidence_registered(fid, r, 2)) == "applied"
    assert len(rows(sessions, fid)) == 1


def test_case_and_evidence_id_are_unique_in_the_database(sessions, deliver):
    from fundguard_cases.evidence import CaseEvidence
    fid = str(uuid.uuid4())
    r = ref(b"%PDF-1.4 unique")
    deliver(finding_recorded(fid, [r]))
    case_id = case_of(sessions, fid)
    with pytest.raises(IntegrityError):
        with sessions() as s, s.begin():
            s.add(CaseEvidence(case_id=case_id, finding_id=str(uuid.uuid4()), evidence_id=r["evidence_id"],
                               sha256=r["sha256"], filename="x", media_type="text/plain", size=1,
                               added_at=r["added_at"], source_event_id=str(uuid.uuid4())))


def test_evidence_arriving_before_its_case_waits_and_joins_it(sessions, deliver):
    fid = str(uuid.uuid4())
    r = ref(b"%PDF-1.4 early")
    assert deliver(evidence_registered(fid, r, 2)) == "parked"
    assert rows(sessions, fid) == []
    assert deliver(finding_recorded(fid, [])) == "applied"  # opens the case, then applies the parked one
    assert rows(sessions, fid) == [(case_of(sessions, fid), r["evidence_id"], r["sha256"])]


def test_finding_recorded_without_the_evidence_field_still_opens_the_case(sessions, deliver):
    """The field was added to version 1: events from before it parse (empty list) and apply."""
    fid = str(uuid.uuid4())
    body = json.loads(finding_recorded(fid))
    assert "evidence" not in body["payload"] and body["version"] == 1
    assert parse_event(body).payload["evidence"] == []
    assert deliver(json.dumps(body)) == "applied"
    assert case_of(sessions, fid) and rows(sessions, fid) == []


def test_evidence_with_a_malformed_hash_is_refused_by_the_schema():
    with pytest.raises(ValueError):
        evidence_registered(str(uuid.uuid4()), {**ref(b"x"), "sha256": "not-a-hash"}, 2)


@pytest.fixture
def blobs(tmp_path, monkeypatch):
    monkeypatch.setenv("CASES_DOCUMENT_DIR", str(tmp_path / "blobs"))


def test_case_file_lists_every_evidence_sha256_and_verifies(sessions, deliver, client, blobs, tmp_path):
    fid = str(uuid.uuid4())
    first, later = ref(b"%PDF-1.4 a"), ref(b"%PDF-1.4 b", name="现场照片.pdf")
    deliver(finding_recorded(fid, [first]))
    deliver(evidence_registered(fid, later, 2))
    case_id = case_of(sessions, fid)
    r = client.get(f"/api/v1/cases/{case_id}/file.zip", headers=auth(PEOPLE["leader"]))
    assert r.status_code == 200, r.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        files = json.loads(zf.read("evidence.json"))
        listed = {e["reference"]: e["sha256"] for e in files if e["kind"] == "evidence_file"}
        assert listed == {first["evidence_id"]: first["sha256"], later["evidence_id"]: later["sha256"]}
        manifest = json.loads(zf.read("manifest.json"))
        entry = next(f for f in manifest["files"] if f["path"] == "evidence.json")
        assert entry["sha256"] == sha(zf.read("evidence.json"))
    path = tmp_path / "case.zip"
    path.write_bytes(r.data)
    done = subprocess.run([CLI, "verify-case-file", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    pdf = client.get(f"/api/v1/cases/{case_id}/file.pdf", headers=auth(PEOPLE["leader"]))
    assert pdf.status_code == 200
    from pypdf import PdfReader
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert all(h[:16] in text for h in (first["sha256"], later["sha256"]))  # the 证据清单 prints them
