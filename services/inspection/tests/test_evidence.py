"""Evidence: content-addressed storage, type by content, size limit, duplicates, chain of
custody, the hash re-check command, and 先行登记保存 with its 7-working-day clock."""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from fundguard_shared import filetypes
from fundguard_inspection.evidence import EVIDENCE_TYPES
from fundguard_inspection.storage import LocalEvidenceStore, TooLarge

from inspection_testkit import DEPT, REGION, outbox

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32 + b"IEND\xaeB`\x82"
JPEG = b"\xff\xd8\xff\xe0" + b"\x10" * 64 + b"\xff\xd9"


def office(kind: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml" if kind == "docx" else "xl/workbook.xml", "<x/>")
    return buf.getvalue()


def upload(api, token, content: bytes, name="evidence.bin", **form):
    data = {"file": (io.BytesIO(content), name)} | form
    return api.call("POST", "/api/v1/evidence", token, data=data,
                    content_type="multipart/form-data")


def unique_pdf(tag: str) -> bytes:
    return PDF.replace(b"1 0 obj", f"% {tag}\n1 0 obj".encode())


# ---- type by content (pure) --------------------------------------------------------------------

@pytest.mark.parametrize("content,expected", [
    (PDF, filetypes.PDF), (PNG, filetypes.PNG), (JPEG, filetypes.JPEG),
    (office("docx"), filetypes.DOCX), (office("xlsx"), filetypes.XLSX),
    ("现场笔录：医保办主任陈述\r\n".encode("gbk"), filetypes.TEXT),
    ("现场笔录：医保办主任陈述\n".encode("utf-8"), filetypes.TEXT),
])
def test_file_type_is_judged_by_content(content, expected):
    assert filetypes.detect(io.BytesIO(content), len(content), EVIDENCE_TYPES) == expected


@pytest.mark.parametrize("content,status,code", [
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)), 415, "unsupported_file_type"),
    (b"\x7fELF\x02\x01\x01" + bytes(200), 415, "unsupported_file_type"),
    (PDF[:-7], 422, "malformed_file"),
    (PNG[:-12], 422, "malformed_file"),
    (b"PK\x03\x04" + b"\x00" * 40, 422, "malformed_file"),
    (b"", 422, "empty_file"),
])
def test_unsupported_or_broken_files_are_refused_with_a_code(content, status, code):
    with pytest.raises(filetypes.FileTypeError) as exc:
        filetypes.detect(io.BytesIO(content), len(content), EVIDENCE_TYPES)
    assert (exc.value.status, exc.value.code) == (status, code)


def test_a_plain_zip_is_not_an_office_document():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.exe", b"MZ")
    with pytest.raises(filetypes.FileTypeError) as exc:
        filetypes.detect(buf, len(buf.getvalue()), EVIDENCE_TYPES)
    assert exc.value.code == "unsupported_file_type"


# ---- storage (pure) ------------------------------------------------------------------------------

def test_store_is_content_addressed_and_never_leaves_partial_files(tmp_path):
    store = LocalEvidenceStore(tmp_path)
    blob = store.put(io.BytesIO(PDF), 10_000)
    assert blob.sha256 == hashlib.sha256(PDF).hexdigest() and blob.created
    assert store.path(blob.sha256).read_bytes() == PDF
    assert store.put(io.BytesIO(PDF), 10_000).created is False
    with pytest.raises(TooLarge):
        store.put(io.BytesIO(b"x" * 20_001), 20_000)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != blob.sha256]
    assert leftovers == []


# ---- HTTP --------------------------------------------------------------------------------------

def test_upload_stores_by_sha256_and_records_the_detected_type_not_the_name(api, tokens):
    content = PNG.replace(b"\x00" * 32, b"\x01" * 32)
    r = upload(api, tokens["inspector"], content, name="report.pdf", description="现场照片")
    assert r.status_code == 201, r.get_json()
    ev = r.get_json()
    sha = hashlib.sha256(content).hexdigest()
    assert ev["sha256"] == sha and ev["media_type"] == "image/png" and ev["size"] == len(content)
    assert ev["department"] == DEPT and ev["region"] == REGION
    assert (Path(api.tmp) / "evidence" / sha[:2] / sha[2:4] / sha).read_bytes() == content


def test_upload_refuses_disguised_executable_with_415(api, tokens):
    r = upload(api, tokens["inspector"], b"MZ\x90\x00" + bytes(range(256)) * 4, name="scan.pdf")
    assert r.status_code == 415 and r.get_json()["code"] == "unsupported_file_type"
    r = upload(api, tokens["inspector"], PDF[:-7], name="scan.pdf")
    assert r.status_code == 422 and r.get_json()["code"] == "malformed_file"


def test_upload_above_the_size_limit_is_413_and_stores_nothing(api, tokens):
    before = sorted(p.name for p in (Path(api.tmp) / "evidence").rglob("*") if p.is_file())
    big = b"%PDF-1.4\n" + b"0" * 300_000 + b"\n%%EOF\n"
    r = upload(api, tokens["inspector"], big, name="big.pdf")
    assert r.status_code == 413 and r.get_json()["code"] == "file_too_large"
    assert r.get_json()["max_bytes"] == 200_000
    after = sorted(p.name for p in (Path(api.tmp) / "evidence").rglob("*") if p.is_file())
    assert after == before


def test_upload_needs_multipart_with_a_file_field(api, tokens):
    r = api.call("POST", "/api/v1/evidence", tokens["inspector"], json={"file": "x"})
    assert r.status_code == 415 and r.get_json()["code"] == "multipart_required"
    r = api.call("POST", "/api/v1/evidence", tokens["inspector"], data={"description": "x"},
                 content_type="multipart/form-data")
    assert r.status_code == 422 and r.get_json()["code"] == "file_required"


def test_duplicate_upload_to_the_same_object_is_409_with_the_existing_id(api, tokens):
    content = unique_pdf("dup")
    first = upload(api, tokens["inspector"], content).get_json()
    r = upload(api, tokens["inspector2"], content, name="again.pdf")
    assert r.status_code == 409 and r.get_json()["code"] == "duplicate_evidence"
    assert r.get_json()["existing_id"] == first["id"]
    # the same bytes attached to a plan are a new record sharing the blob
    plan = api.call("POST", "/api/v1/flight-plans", tokens["inspector"], json={
        "title": "t", "trigger": "media", "organiser_level": "provincial",
        "period_start": "2026-11-01", "period_end": "2026-11-30"}).get_json()
    r = upload(api, tokens["inspector"], content, attached_to=f"plan:{plan['id']}")
    assert r.status_code == 201 and r.get_json()["sha256"] == first["sha256"]
    listed = api.call("GET", f"/api/v1/evidence?attached_to=plan:{plan['id']}",
                      tokens["inspector"]).get_json()
    assert [e["id"] for e in listed["items"]] == [r.get_json()["id"]]


def test_attachment_must_exist_in_the_callers_scope(api, tokens):
    plan = api.call("POST", "/api/v1/flight-plans", tokens["inspector_other_dept"], json={
        "title": "t", "trigger": "media", "organiser_level": "provincial",
        "period_start": "2026-11-01", "period_end": "2026-11-30"}).get_json()
    r = upload(api, tokens["inspector"], unique_pdf("att"), attached_to=f"plan:{plan['id']}")
    assert r.status_code == 422 and r.get_json()["code"] == "attachment_not_found"
    r = upload(api, tokens["inspector"], unique_pdf("att"), attached_to="case:123")
    assert r.status_code == 422 and r.get_json()["code"] == "attachment_invalid"


def test_chain_of_custody_records_who_added_viewed_and_exported(api, tokens):
    content = unique_pdf("custody")
    ev = upload(api, tokens["inspector"], content).get_json()
    assert api.call("GET", f"/api/v1/evidence/{ev['id']}", tokens["leader"]).status_code == 200
    r = api.call("GET", f"/api/v1/evidence/{ev['id']}/content", tokens["inspector2"])
    assert r.status_code == 200 and r.data == content
    assert r.headers["X-Content-SHA256"] == ev["sha256"]
    log = api.call("GET", f"/api/v1/evidence/{ev['id']}/custody", tokens["inspector"]).get_json()
    assert [(e["action"], e["actor"]) for e in log] == [
        ("added", "insp-a"), ("viewed", "leader-a"), ("exported", "insp-a2")]
    assert all(e["request_id"] for e in log)


def test_evidence_outside_scope_is_404(api, tokens):
    ev = upload(api, tokens["inspector"], unique_pdf("scope")).get_json()
    for who in ("inspector_other_dept", "inspector_other_region", "leader_other_region"):
        for suffix in ("", "/content", "/custody"):
            assert api.call("GET", f"/api/v1/evidence/{ev['id']}{suffix}",
                            tokens[who]).status_code == 404, (who, suffix)
    assert api.call("GET", f"/api/v1/evidence/{ev['id']}", tokens["institution"]).status_code == 403


def test_altered_file_is_reported_by_verify_evidence_and_its_export_refused(api, tokens, capsys):
    from fundguard_inspection import cli
    with pytest.raises(SystemExit) as ok:
        cli.main(["verify-evidence"])
    assert ok.value.code == 0
    content = unique_pdf("tamper")
    ev = upload(api, tokens["inspector"], content).get_json()
    path = Path(api.tmp) / "evidence" / ev["sha256"][:2] / ev["sha256"][2:4] / ev["sha256"]
    os.chmod(path, 0o640)
    path.write_bytes(content.replace(b"tamper", b"TAMPER"))
    capsys.readouterr()
    with pytest.raises(SystemExit) as bad:
        cli.main(["verify-evidence"])
    assert bad.value.code == 1
    out = capsys.readouterr().out
    assert f'"status": "altered", "sha256": "{ev["sha256"]}"' in out and ev["id"] in out
    r = api.call("GET", f"/api/v1/evidence/{ev['id']}/content", tokens["inspector"])
    assert r.status_code == 409 and r.get_json()["code"] == "evidence_altered"
    log = api.call("GET", f"/api/v1/evidence/{ev['id']}/custody", tokens["inspector"]).get_json()
    assert log[-1]["action"] == "export_refused"
    path.write_bytes(content)  # restore for the other tests


# ---- 先行登记保存 -------------------------------------------------------------------------------

def preservation_body(**over):
    return {"institution_id": "H5101001", "institution_name": "成都某医院",
            "items": "2026 年 9 月住院病历 35 份", "started_on": "2026-09-30"} | over


def test_preservation_starts_a_seven_working_day_clock_over_the_national_day_holiday(api, tokens):
    r = api.call("POST", "/api/v1/preservations", tokens["leader"],
                 json=preservation_body(department=DEPT))
    assert r.status_code == 201, r.get_json()
    p = r.get_json()
    # Oct 1–7 off, Sat Oct 10 is a 调休 working day: 8, 9, 10, 12, 13, 14, 15
    assert p["decision_due"] == "2026-10-15" and p["status"] == "open"
    event = outbox("evidence.preserved")[-1]
    assert event["payload"]["preservation_id"] == p["id"]
    assert event["payload"]["decision_due"] == "2026-10-15"
    assert event["payload"]["period_working_days"] == 7


def test_preservation_by_an_inspector_needs_a_leaders_approval(api, tokens):
    r = api.call("POST", "/api/v1/preservations", tokens["inspector"], json=preservation_body())
    assert r.status_code == 422 and r.get_json()["code"] == "approval_required"
    r = api.call("POST", "/api/v1/preservations", tokens["inspector"],
                 json=preservation_body(approved_by="leader-a", evidence_ids=["nope"]))
    assert r.status_code == 422 and r.get_json()["code"] == "evidence_not_found"


def test_preservation_decision_records_whether_it_was_on_time(api, tokens):
    p = api.call("POST", "/api/v1/preservations", tokens["inspector"],
                 json=preservation_body(approved_by="leader-a")).get_json()
    path = f"/api/v1/preservations/{p['id']}/decision"
    body = {"decision": "copy_and_release", "reason": "已复制病历，解除保存",
            "decided_on": "2026-10-16"}
    assert api.call("POST", path, tokens["leader"], json=body).status_code == 428
    r = api.call("POST", path, tokens["leader"], json=body | {"version": p["version"]})
    assert r.status_code == 200 and r.get_json()["status"] == "decided"
    event = outbox("evidence.preservation_decided")[-1]
    assert event["payload"]["on_time"] is False and event["payload"]["decision_due"] == "2026-10-15"
    again = api.call("POST", path, tokens["leader"], json=body | {"version": r.get_json()["version"]})
    assert again.status_code == 409 and again.get_json()["code"] == "already_decided"
    assert api.call("GET", f"/api/v1/preservations/{p['id']}",
                    tokens["inspector_other_dept"]).status_code == 404
