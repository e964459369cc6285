"""The case file (一案一卷): one PDF (cover, table of contents, every issued document unchanged,
evidence list with SHA-256, audit trail) and one ZIP with a manifest that
``fundguard-cases verify-case-file`` re-checks hash by hash."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from casekit import PEOPLE, auth
from fundguard_cases import clock
from test_publication import decided_case, issue

CLI = str(Path(sys.executable).with_name("fundguard-cases"))


@pytest.fixture
def blobs(tmp_path, monkeypatch):
    monkeypatch.setenv("CASES_DOCUMENT_DIR", str(tmp_path / "blobs"))


@pytest.fixture
def served(desk, blobs, app):
    """A case decided and served with its documents: 行政处罚决定书, its correction, 送达回证."""
    clock.set_today(desk.today)
    c = decided_case(desk, individual=False)
    first = issue(desk, c, publish=False)
    from fundguard_cases.documents.issue import issue_document
    from fundguard_cases.models import Case
    with desk.sessions() as s, s.begin():
        issue_document(s, s.get(Case, c), "decision", PEOPLE["leader"], {"party_address": "成都市锦江区红星路1号",
                                                                          "evidence": "病历、票据、询问笔录"},
                       corrects=first, today=desk.today)
    desk.fire(c, "serve", "inspector")
    return c


def _docs(desk, case_id):
    from fundguard_cases.documents.issue import list_case_documents
    with desk.sessions() as s:
        docs = list_case_documents(s, case_id)
        s.expunge_all()
        return docs


def _verify(path) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "verify-case-file", str(path)], capture_output=True, text=True, timeout=120)


def _rewrite(src: bytes, change) -> bytes:
    """The same ZIP with one member's bytes changed by ``change(name, data) -> data``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))
    return out.getvalue()


def test_case_file_zip_verifies_and_a_tampered_byte_is_detected(desk, client, served, tmp_path):
    r = client.get(f"/api/v1/cases/{served}/file.zip", headers=auth(PEOPLE["leader"]))
    assert r.status_code == 200 and r.mimetype == "application/zip"
    data = r.data
    docs = _docs(desk, served)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        listed = {f["path"]: f for f in manifest["files"]}
        assert set(zf.namelist()) == set(listed) | {"manifest.json"}
        for path, f in listed.items():
            assert hashlib.sha256(zf.read(path)).hexdigest() == f["sha256"]
        # each issued document is in the ZIP byte for byte as frozen at issue
        doc_files = [f for f in manifest["files"] if f["kind"] == "document"]
        assert [f["document_id"] for f in doc_files] == [d.id for d in docs]
        assert [f["sha256"] for f in doc_files] == [d.sha256 for d in docs]
        with desk.sessions() as s:
            from fundguard_cases.models import AuditEntry
            from sqlalchemy import select
            head = s.execute(select(AuditEntry.hash).where(AuditEntry.case_id == served)
                             .order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        assert manifest["audit_chain"]["head"] == head and manifest["audit_chain"]["ok"] is True
        evidence = json.loads(zf.read("evidence.json"))
        assert {e["sha256"] for e in evidence if e["kind"] == "document"} == {d.sha256 for d in docs}
    good = tmp_path / "case.zip"
    good.write_bytes(data)
    ok = _verify(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact" in ok.stdout

    # one byte of the second document changed
    target = doc_files[1]["path"]
    bad = tmp_path / "tampered.zip"
    bad.write_bytes(_rewrite(data, lambda n, b: b[:500] + bytes([b[500] ^ 1]) + b[501:] if n == target else b))
    res = _verify(bad)
    assert res.returncode == 1 and target in res.stdout and "sha256 mismatch" in res.stdout
    assert target in res.stderr

    # a byte flipped inside the archive itself (no re-packing)
    raw = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(target)
    raw[info.header_offset + 30 + len(info.filename.encode()) + 40] ^= 0xFF
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(raw))
    res = _verify(flipped)
    assert res.returncode == 1 and target in res.stdout


def test_audit_trail_rewritten_with_a_matching_manifest_is_still_detected(desk, client, served, tmp_path):
    data = client.get(f"/api/v1/cases/{served}/file.zip", headers=auth(PEOPLE["inspector"])).data

    def forge_reason(name, b):
        if name != "audit.json":
            return b
        trail = json.loads(b)
        trail["entries"][1]["reason"] = "改写的理由"
        return json.dumps(trail, ensure_ascii=False).encode()

    forged = _rewrite(data, forge_reason)
    with zipfile.ZipFile(io.BytesIO(forged)) as zf:  # the forger also fixes the manifest's hash
        manifest = json.loads(zf.read("manifest.json"))
        for f in manifest["files"]:
            if f["path"] == "audit.json":
                f["sha256"] = hashlib.sha256(zf.read("audit.json")).hexdigest()
    forged = _rewrite(forged, lambda n, b: json.dumps(manifest).encode() if n == "manifest.json" else b)
    path = tmp_path / "forged.zip"
    path.write_bytes(forged)
    res = _verify(path)
    assert res.returncode == 1 and "audit entry altered" in res.stdout and '"seq": 2' in res.stdout

    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("documents/99-extra.pdf", b"%PDF-1.4 not issued")
    path.write_bytes(buf.getvalue())
    res = _verify(path)
    assert res.returncode == 1 and "documents/99-extra.pdf" in res.stdout and "not listed" in res.stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing (scripts/ensure_browser.sh installs it)")
def test_case_file_pdf_holds_the_table_of_contents_and_every_document(desk, client, served, tmp_path):
    r = client.get(f"/api/v1/cases/{served}/file.pdf", headers=auth(PEOPLE["legal_reviewer"]))
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    path = tmp_path / "file.pdf"
    path.write_bytes(r.data)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    docs = _docs(desk, served)
    assert "行政处罚案卷" in text and "卷内目录" in text and "证据清单" in text and "审计记录" in text
    toc = text[text.index("卷内目录"):]
    for d in docs:
        assert d.number and d.number in toc  # listed in the contents
    assert text.count("行政处罚决定书") >= 2 * 2  # listed in the contents and present in full, twice
    for d in docs:
        assert all(d.sha256[i:i + 16] in text for i in range(0, 64, 16))  # in the evidence list
    from fundguard_cases.models import Case
    with desk.sessions() as s:
        number = s.get(Case, served).number
    assert number in text
    # the issued documents' pages are in the merged file unchanged, in issue order
    from fundguard_cases.documents.store import get_blob
    merged = PdfReader(io.BytesIO(r.data))
    originals = [PdfReader(io.BytesIO(get_blob(d.sha256))) for d in docs]
    merged_text = [p.extract_text() for p in merged.pages]
    start = next(i for i, t in enumerate(merged_text) if originals[0].pages[0].extract_text() == t)
    flat = [p.extract_text() for o in originals for p in o.pages]
    assert merged_text[start:start + len(flat)] == flat
    assert len(merged.outline) >= 2 + len(docs)  # bookmarks: contents, each document, evidence, audit


def test_case_file_is_scoped_like_cases_and_not_for_institutions(desk, client, served):
    for fmt in ("pdf", "zip"):
        url = f"/api/v1/cases/{served}/file.{fmt}"
        assert client.get(url).status_code == 401
        assert client.get(url, headers=auth(PEOPLE["institution"])).status_code == 403
        assert client.get(url, headers=auth(PEOPLE["other_leader"])).status_code == 404
        assert client.get(f"/api/v1/cases/00000000-0000-0000-0000-000000000000/file.{fmt}",
                          headers=auth(PEOPLE["leader"])).status_code == 404


def test_export_refuses_a_document_whose_stored_pdf_was_altered(desk, client, served):
    from fundguard_cases.documents.store import _path
    doc = _docs(desk, served)[0]
    blob = _path(doc.sha256)
    blob.chmod(0o600)
    blob.write_bytes(blob.read_bytes() + b"\n%tampered")
    r = client.get(f"/api/v1/cases/{served}/file.zip", headers=auth(PEOPLE["leader"]))
    assert r.status_code == 409 and r.json["code"] == "document_blob_unreadable"
    assert r.json["document_id"] == doc.id


def test_every_export_is_recorded_with_the_hash_of_what_left(desk, client, served):
    from fundguard_cases.documents.casefile import CaseFileExport
    data = client.get(f"/api/v1/cases/{served}/file.zip", headers=auth(PEOPLE["leader"])).data
    with desk.sessions() as s:
        rows = s.query(CaseFileExport).filter_by(case_id=served).all()
    assert [(r.format, r.sha256, r.exported_by) for r in rows] == [
        ("zip", hashlib.sha256(data).hexdigest(), "leader-a")]


def test_registry_check_catches_a_consistently_forged_file(desk, client, served, tmp_path, db_url):
    """A forger can rewrite a file, re-hash the audit chain and the manifest (no secret in them):
    ``--registry`` compares with the export register and the case's chain in the database."""
    from fundguard_cases import audit
    data = client.get(f"/api/v1/cases/{served}/file.zip", headers=auth(PEOPLE["leader"])).data
    env = {**os.environ, "CASES_DATABASE_URL": db_url}
    good = tmp_path / "good.zip"
    good.write_bytes(data)
    ok = subprocess.run([CLI, "verify-case-file", "--registry", str(good)], capture_output=True, text=True,
                        timeout=120, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        trail = json.loads(zf.read("audit.json"))
    from datetime import datetime
    prev = audit.GENESIS
    for e in trail["entries"]:  # rewrite a reason and re-chain everything after it
        if e["seq"] == 2:
            e["reason"] = "改写的理由"
        e["prev_hash"] = prev
        e["hash"] = prev = audit.entry_hash(prev, served, e["seq"], datetime.fromisoformat(e["at"]), e["actor"],
                                            e["actor_role"], e["action"], e["from_state"], e["to_state"],
                                            e["reason"], e["request_id"])
    trail["head"] = manifest["audit_chain"]["head"] = prev
    new_audit = json.dumps(trail, ensure_ascii=False).encode()
    for f in manifest["files"]:
        if f["path"] == "audit.json":
            f["sha256"], f["size"] = hashlib.sha256(new_audit).hexdigest(), len(new_audit)
    forged = _rewrite(data, lambda n, b: new_audit if n == "audit.json" else
                      json.dumps(manifest).encode() if n == "manifest.json" else b)
    path = tmp_path / "forged.zip"
    path.write_bytes(forged)
    assert _verify(path).returncode == 0  # self-consistent: the file alone cannot tell
    res = subprocess.run([CLI, "verify-case-file", "--registry", str(path)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert res.returncode == 1
    assert "not a registered export" in res.stdout and "audit head not in the case's chain" in res.stdout
