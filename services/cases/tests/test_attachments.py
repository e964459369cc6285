"""Case attachments (陈述申辩 / 听证申请 / 复议材料): stored content-addressed, typed by content,
scoped like cases, in the audit chain, append-only, and referenced by the steps that file them."""
from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from sqlalchemy import text

from casekit import PEOPLE, Desk, auth
from fundguard_cases import clock

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32 + b"IEND\xaeB`\x82"
DECIDE = {"decision": "sanction", "sanctions": [{"kind": "fine", "article": "38", "amount": "150000.00"},
                                                 {"kind": "order_refund", "article": "38", "amount": "120000.00"}]}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _desk(app) -> Desk:
    from fundguard_cases.runtime import runtime
    clock.set_today(date(2026, 3, 2))
    return Desk(runtime().sessions)


def upload(client, case_id, who="institution", data=PDF, name="申辩书.pdf", purpose="defence", note=""):
    return client.post(f"/api/v1/cases/{case_id}/attachments", headers=auth(PEOPLE[who]),
                       data={"file": (io.BytesIO(data), name), "purpose": purpose, "note": note},
                       content_type="multipart/form-data")


def listing(client, case_id, who="leader"):
    r = client.get(f"/api/v1/cases/{case_id}/attachments", headers=auth(PEOPLE[who]))
    assert r.status_code == 200, r.json
    return r.json


def step(client, case_id, trigger, data, who="institution", reason="申辩理由"):
    version = client.get(f"/api/v1/cases/{case_id}", headers=auth(PEOPLE[who])).json["version"]
    return client.post(f"/api/v1/cases/{case_id}/transitions", headers=auth(PEOPLE[who]),
                       json={"trigger": trigger, "version": version, "reason": reason, "data": data})


# ---- stored, listed, downloaded -------------------------------------------------------------------

def test_institution_attachment_is_stored_listed_and_downloaded_byte_identical(app, client):
    import hashlib
    c = _desk(app).new_case()
    r = upload(client, c, note="附证据材料")
    assert r.status_code == 201, r.json
    att = r.json
    assert (att["media_type"], att["size"], att["purpose"], att["uploaded_by"]) == \
        ("application/pdf", len(PDF), "defence", PEOPLE["institution"].sub)
    assert att["sha256"] == hashlib.sha256(PDF).hexdigest() and att["filename"] == "申辩书.pdf"
    for who in ("institution", "inspector", "leader", "legal_reviewer", "panel_member"):
        assert [a["id"] for a in listing(client, c, who)] == [att["id"]]
        d = client.get(f"/api/v1/attachments/{att['id']}", headers=auth(PEOPLE[who]))
        assert d.status_code == 200 and d.data == PDF
        assert d.headers["Content-Type"] == "application/pdf" and d.headers["X-Content-SHA256"] == att["sha256"]
        assert d.headers["Content-Disposition"].startswith("attachment;")


def test_blob_is_content_addressed_in_the_document_store(app, client):
    from fundguard_cases.documents import store
    c = _desk(app).new_case()
    sha = upload(client, c).json["sha256"]
    assert store.get_blob(sha) == PDF and (store.root() / sha[:2] / sha).is_file()


def test_filename_is_sanitised(app, client):
    from fundguard_cases.attachments import clean_filename
    assert clean_filename('..\\..\\etc/"恶意"\x01名<称>.pdf') == "_恶意__名_称_.pdf"
    assert clean_filename("....") == clean_filename(None) == "附件"
    long = clean_filename("长" * 300 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")
    c = _desk(app).new_case()
    r = upload(client, c, name="../../etc/申辩<1>.pdf")
    assert r.status_code == 201 and r.json["filename"] == "申辩_1_.pdf"


def test_same_file_again_by_the_same_side_is_the_same_attachment(app, client):
    c = _desk(app).new_case()
    first = upload(client, c).json
    again = upload(client, c)
    assert again.status_code == 200 and again.json["id"] == first["id"]
    assert len(listing(client, c)) == 1
    other = upload(client, c, purpose="hearing_request")
    assert other.status_code == 201 and other.json["id"] != first["id"]


# ---- scope ----------------------------------------------------------------------------------------

def test_attachments_outside_scope_are_404_for_another_institution_and_another_region(app, client):
    c = _desk(app).new_case()
    att = upload(client, c).json
    for who in ("other_institution", "other_leader"):
        h = auth(PEOPLE[who])
        assert client.get(f"/api/v1/cases/{c}/attachments", headers=h).status_code == 404
        assert client.get(f"/api/v1/attachments/{att['id']}", headers=h).status_code == 404
    r = upload(client, c, who="other_institution", data=PNG)
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert upload(client, c, who="other_leader", data=PNG).status_code == 404
    assert len(listing(client, c)) == 1
    assert client.get("/api/v1/attachments/no-such-id", headers=auth(PEOPLE["leader"])).status_code == 404


def test_institution_sees_only_what_its_side_uploaded(app, client):
    c = _desk(app).new_case()
    staff = upload(client, c, who="inspector", data=PNG, name="现场照片.png", purpose="other").json
    own = upload(client, c).json
    assert [a["id"] for a in listing(client, c, "institution")] == [own["id"]]
    assert {a["id"] for a in listing(client, c, "leader")} == {own["id"], staff["id"]}
    assert client.get(f"/api/v1/attachments/{staff['id']}", headers=auth(PEOPLE["institution"])).status_code == 404


def test_roles_that_do_not_file_cannot_upload(app, client):
    c = _desk(app).new_case()
    for who in ("legal_reviewer", "panel_member"):
        r = upload(client, c, who=who)
        assert r.status_code == 403 and r.json["code"] == "role_forbidden"


# ---- validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("data,name,status,code", [
    (b"MZ\x90\x00 this is a windows program", "证据.pdf", 415, "unsupported_file_type"),
    (b"<html><script>alert(1)</script></html>", "申辩.pdf", 415, "unsupported_file_type"),
    (b"%PDF-1.4\n truncated", "申辩.pdf", 422, "malformed_file"),
    (b"", "申辩.pdf", 422, "empty_file"),
    (_zip({"readme.txt": b"x"}), "申辩.docx", 415, "unsupported_file_type"),
    (b"PK\x03\x04 not really a zip", "申辩.docx", 422, "malformed_file"),
])
def test_type_is_judged_by_content_not_by_name(app, client, data, name, status, code):
    c = _desk(app).new_case()
    r = upload(client, c, data=data, name=name)
    assert r.status_code == status and r.json["code"] == code, r.json
    assert r.json["message_zh"] and r.json["message_en"]
    assert listing(client, c) == []


@pytest.mark.parametrize("data,media_type", [
    (PNG, "image/png"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 20 + b"\xff\xd9", "image/jpeg"),
    (_zip({"OFD.xml": b"<ofd:OFD/>", "Doc_0/Document.xml": b"<x/>"}), "application/ofd"),
    (_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}),
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
])
def test_accepted_types_whatever_the_name(app, client, data, media_type):
    c = _desk(app).new_case()
    r = upload(client, c, data=data, name="材料.bin")
    assert r.status_code == 201 and r.json["media_type"] == media_type


def test_zip_that_would_inflate_far_beyond_its_size_is_refused_unopened(app, client):
    c = _desk(app).new_case()
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\x00" * (8 * 1024 * 1024)})
    r = upload(client, c, data=bomb, name="申辩.docx")
    assert r.status_code == 422 and r.json["code"] == "malformed_file"


def test_file_over_the_limit_is_413(app, client, monkeypatch):
    monkeypatch.setenv("CASES_ATTACHMENT_MAX_BYTES", "1000")
    c = _desk(app).new_case()
    r = upload(client, c, data=b"%PDF-1.4\n" + b"0" * 1200 + b"\n%%EOF\n")
    assert r.status_code == 413 and r.json["code"] == "file_too_large" and r.json["max_bytes"] == 1000
    big = upload(client, c, data=b"%PDF-1.4\n" + b"0" * 400_000 + b"\n%%EOF\n")  # beyond the envelope too
    assert big.status_code == 413 and big.json["code"] == "file_too_large"
    assert listing(client, c) == []


def test_bad_form_is_4xx_problem(app, client):
    c = _desk(app).new_case()
    assert upload(client, c, purpose="whatever").json["code"] == "invalid_purpose"
    r = client.post(f"/api/v1/cases/{c}/attachments", headers=auth(PEOPLE["institution"]), json={})
    assert r.status_code == 415 and r.json["code"] == "multipart_required"
    r = client.post(f"/api/v1/cases/{c}/attachments", headers=auth(PEOPLE["institution"]),
                    data={"purpose": "defence"}, content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["code"] == "file_required"


# ---- audit chain, append-only ---------------------------------------------------------------------

def test_every_upload_is_an_entry_of_the_case_audit_chain_with_its_sha256(app, client):
    from fundguard_cases import audit
    from fundguard_cases.runtime import runtime
    c = _desk(app).new_case()
    att = upload(client, c).json
    upload(client, c)  # the same file again: nothing new
    trail = client.get(f"/api/v1/cases/{c}/audit", headers=auth(PEOPLE["leader"])).json
    entries = [e for e in trail if e["action"] == "attach_file"]
    assert len(entries) == 1
    assert att["sha256"] in entries[0]["reason"] and att["id"] in entries[0]["reason"]
    assert entries[0]["actor"] == PEOPLE["institution"].sub
    with runtime().sessions() as s:
        assert audit.verify(s, c).ok


def test_attachments_are_append_only(app, client):
    from sqlalchemy.exc import DatabaseError

    from fundguard_cases.runtime import runtime
    c = _desk(app).new_case()
    att = upload(client, c).json
    for method in ("put", "patch", "delete"):
        r = getattr(client, method)(f"/api/v1/attachments/{att['id']}", headers=auth(PEOPLE["leader"]))
        assert r.status_code == 405
    for sql in ("UPDATE case_attachments SET filename = 'x'", "DELETE FROM case_attachments"):
        with pytest.raises(DatabaseError, match="append-only"):
            with runtime().sessions() as s, s.begin():
                s.execute(text(sql))
    assert listing(client, c)[0]["filename"] == "申辩书.pdf"


# ---- the steps that file them ------------------------------------------------------------------------

def test_defence_referencing_its_attachment_records_the_link(app, client):
    desk = _desk(app)
    c = desk.new_case()
    desk.to_notified(c)
    att = upload(client, c).json
    r = step(client, c, "file_defence", {"attachments": [att["id"]]})
    assert r.status_code == 200, r.json
    assert listing(client, c, "institution")[0]["linked_steps"] == ["file_defence"]


def test_step_referencing_an_attachment_of_another_case_is_422_naming_it_and_nothing_is_written(app, client):
    desk = _desk(app)
    c, other = desk.new_case(), desk.new_case()
    desk.to_notified(c)
    foreign = upload(client, other).json
    own = upload(client, c).json
    before = client.get(f"/api/v1/cases/{c}", headers=auth(PEOPLE["institution"])).json
    r = step(client, c, "file_defence", {"attachments": [own["id"], foreign["id"]]})
    assert r.status_code == 422 and r.json["code"] == "attachment_not_in_case"
    assert r.json["attachment_id"] == foreign["id"] and foreign["id"] in r.json["message_zh"]
    after = client.get(f"/api/v1/cases/{c}", headers=auth(PEOPLE["institution"])).json
    assert after["version"] == before["version"]
    assert desk.file(c).details.defence_filed_on is None
    assert listing(client, c)[-1]["linked_steps"] == []
    bad = step(client, c, "file_defence", {"attachments": "not-a-list"})
    assert bad.status_code == 422 and bad.json["code"] == "invalid_attachments"


def test_institution_cannot_reference_a_staff_attachment(app, client):
    desk = _desk(app)
    c = desk.new_case()
    desk.to_notified(c)
    staff = upload(client, c, who="inspector", data=PNG, purpose="other").json
    r = step(client, c, "file_defence", {"attachments": [staff["id"]]})
    assert r.status_code == 422 and r.json["attachment_id"] == staff["id"]


def test_hearing_request_and_appeal_record_their_attachments(app, client):
    desk = _desk(app)
    c = desk.new_case()
    desk.to_notified(c)
    hearing = upload(client, c, purpose="hearing_request").json
    assert step(client, c, "request_hearing", {"attachments": [hearing["id"]]}).status_code == 200

    served = desk.new_case()
    desk.to_notified(served)
    desk.fire(served, "waive_rights", "institution")
    desk.fire(served, "decide", "leader", DECIDE)
    desk.fire(served, "serve", "inspector")
    appeal = upload(client, served, data=PNG, purpose="appeal").json
    r = step(client, served, "file_appeal", {"kind": "administrative_review", "attachments": [appeal["id"]]})
    assert r.status_code == 200, r.json
    assert listing(client, c)[0]["linked_steps"] == ["request_hearing"]
    assert listing(client, served)[0]["linked_steps"] == ["file_appeal"]


def test_attachments_are_rows_of_the_case_file_evidence_list(app, client):
    from fundguard_cases.attachments import evidence_rows
    from fundguard_cases.models import Case
    from fundguard_cases.runtime import runtime
    desk = _desk(app)
    c = desk.new_case()
    desk.to_notified(c)
    att = upload(client, c).json
    step(client, c, "file_defence", {"attachments": [att["id"]]})
    with runtime().sessions() as s:
        [row] = evidence_rows(s, s.get(Case, c))
    assert (row["kind"], row["reference"], row["sha256"], row["held_by"]) == \
        ("attachment", att["id"], att["sha256"], "cases")
    assert "申辩书.pdf" in row["label"] and "file_defence" in row["note"]


# ---- PostgreSQL (FUNDGUARD_TEST_BACKEND=real) ---------------------------------------------------------

@pytest.fixture
def pg_sessions(tmp_path, monkeypatch):
    import os
    import uuid

    from fundguard_shared.db import make_engine, make_sessionmaker
    from fundguard_shared.migrate import upgrade
    if os.environ.get("FUNDGUARD_TEST_BACKEND", "embedded") != "real":
        pytest.skip("needs FUNDGUARD_TEST_BACKEND=real (PostgreSQL)")
    import psycopg
    admin = os.environ.get("FUNDGUARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    monkeypatch.setenv("CASES_DOCUMENT_DIR", str(tmp_path / "documents"))
    name = f"fg_att_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = admin.rsplit("/", 1)[0] + f"/{name}"
        upgrade("fundguard_cases", url)
        engine = make_engine(url, pool_size=12, max_overflow=4)
        yield make_sessionmaker(engine)
        engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_uploads_to_one_case_each_get_an_entry_of_an_intact_chain_postgresql(pg_sessions):
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy.exc import DBAPIError

    from fundguard_cases import attachments, audit, eventtypes, service  # noqa: F401
    from fundguard_cases.models import Case
    desk = Desk(pg_sessions)
    c = desk.new_case()
    desk.to_notified(c)

    def one(i):
        with pg_sessions() as s, s.begin():
            case = service.get_case(s, c, PEOPLE["institution"], for_update=True)
            att, _ = attachments.attach(s, case, PEOPLE["institution"], PDF.replace(b"1.4", f"1.{i}".encode()),
                                        f"材料{i}.pdf", "defence", "", f"req-{i}")
            return att.id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(8)))
    desk.fire(c, "file_defence", "institution", {"attachments": ids[:3]}, reason="申辩")
    with pg_sessions() as s:
        rows = attachments.for_case(s, s.get(Case, c))
        assert {a.id for a in rows} == set(ids)
        assert sorted(a.id for a in rows if a.linked_steps == ["file_defence"]) == sorted(ids[:3])
        assert audit.verify(s, c).ok
    for sql in ("UPDATE case_attachments SET filename = 'x'", "DELETE FROM case_attachment_links"):
        with pytest.raises(DBAPIError, match="append-only"):
            with pg_sessions() as s, s.begin():
                s.execute(text(sql))
