"""Legal documents (执法文书): every type issued from a case driven through the real workflow,
its PDF's text and fonts checked with poppler, frozen at issue, 文号 never reused, bad input
issuing nothing, scoped like cases, and service (送达) — not issue — starting the clocks."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date

import pytest
from sqlalchemy import select, text

from casekit import INST, PEOPLE, auth
from fundguard_shared.events import parse_event

from fundguard_cases import clock
from fundguard_cases.documents import catalog
from fundguard_cases.documents.models import Document, DocumentNumberSequence, VoidedNumber
from fundguard_cases.models import AuditEntry, Deadline

FINE = {"kind": "fine", "article": "38", "amount": "150000.00"}
REFUND = {"kind": "order_refund", "article": "38", "amount": "120000.00"}
DECIDE = {"decision": "sanction", "sanctions": [FINE, REFUND]}
DECISION_FIELDS = {"party_address": "成都市武侯区某某路 1 号", "evidence": "住院病历、结算清单、询问笔录"}
POPPLER = shutil.which("pdftotext") and shutil.which("pdffonts")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils missing (scripts/ensure_browser.sh installs it)")


@pytest.fixture(autouse=True)
def _document_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CASES_DOCUMENT_DIR", str(tmp_path / "documents"))
    yield
    clock.set_today(None)


def issue(client, desk, case_id, doc_type, fields=None, who="inspector", **extra):
    clock.set_today(desk.today)
    return client.post(f"/api/v1/cases/{case_id}/documents", json={"doc_type": doc_type, "fields": fields or {}, **extra},
                       headers=auth(PEOPLE[who]))


def issued(client, desk, case_id, doc_type, fields=None, **extra) -> dict:
    r = issue(client, desk, case_id, doc_type, fields, **extra)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def pdf_of(client, doc_id, who="inspector") -> bytes:
    r = client.get(f"/api/v1/documents/{doc_id}/pdf", headers=auth(PEOPLE[who]))
    assert r.status_code == 200, r.data[:300]
    return r.data


def pdftext(data: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True)
    return re.sub(r"\s+", "", out.stdout)


def serve(client, desk, doc_id, on: date, method="direct", who="inspector"):
    clock.set_today(desk.today)
    return client.post(f"/api/v1/documents/{doc_id}/services",
                       json={"method": method, "receipt_at": f"{on.isoformat()}T10:00:00+08:00",
                             "details": {"recipient": "王某（院办主任）"}}, headers=auth(PEOPLE[who]))


def deadlines(desk, case_id) -> dict[str, Deadline]:
    return {d.kind: d for d in desk.file(case_id).deadlines}


# ---- driving a case to the step that issues each type ---------------------------------------------------

def _reviewed(desk, c):
    desk.to_reported(c)
    desk.fire(c, "submit_for_review", "inspector")
    desk.fire(c, "pass_review", "legal_reviewer", reason="合法")


def _decided(desk, c):
    desk.to_notified(c)
    desk.fire(c, "waive_rights", "institution")
    desk.fire(c, "decide", "leader", DECIDE)


def _no_sanction(desk, c):
    desk.to_investigating(c)
    desk.fire(c, "submit_report", "inspector", {"proposal": "no_sanction", "no_sanction_ground": "first_minor_corrected"})
    desk.fire(c, "decide", "leader", {"decision": "no_sanction", "no_sanction_ground": "first_minor_corrected"})


def _enforcing(desk, c):
    _decided(desk, c)
    desk.fire(c, "serve", "inspector")
    desk.fire(c, "start_enforcement", "inspector")
    desk.today = date(2026, 3, 27)  # the 15 days to pay ran out on 2026-03-17


def _referral(desk, c):
    desk.to_investigating(c)
    desk.fire(c, "submit_report", "inspector", {"proposal": "referral", "referral_target": "police",
                                               "behaviours": ["organised_fake_admission"]})
    desk.fire(c, "decide", "leader", {"decision": "referral", "referral_target": "police"})


def _agreement(kind, **data):
    def drive(desk, c):
        if kind == "terminate_agreement":
            _reviewed(desk, c)
        else:
            desk.to_investigating(c)
        desk.fire(c, "agreement_action", "leader", {"kind": kind, **data}, "违反服务协议")
    return drive


def _closed(desk, c):
    _no_sanction(desk, c)
    desk.fire(c, "serve", "inspector")
    desk.fire(c, "close_case", "leader")


def _declined(desk, c):
    desk.fire(c, "start_verification", "inspector")
    desk.fire(c, "decline", "leader", reason="线索反映的问题经核查不属实")


def _preserving(desk, c):
    desk.to_investigating(c)
    desk.fire(c, "preserve_evidence", "leader", {"items": "2025年住院病历 12 份"}, "证据可能灭失")


def _hearing(desk, c):
    desk.to_notified(c)
    desk.fire(c, "request_hearing", "institution")
    desk.fire(c, "schedule_hearing", "inspector", {"hearing_on": "2026-03-11", "chair": "legal-b"})


DRIVES = {
    "filing_approval": (lambda d, c: d.to_investigating(c), {}),
    "not_opened_notice": (_declined, {}),
    "preservation_notice": (_preserving, {"place": "本局证据保存室"}),
    "prior_notice": (_reviewed, {"evidence": "住院病历"}),
    "hearing_notice": (_hearing, {"hearing_place": "本局三楼听证室", "hearing_time": "上午9时"}),
    "decision": (_decided, DECISION_FIELDS),
    "no_sanction_decision": (_no_sanction, DECISION_FIELDS),
    "demand_notice": (_enforcing, {}),
    "referral": (_referral, {"suspected_offence": "诈骗罪"}),
    "interview_notice": (_agreement("interview"), {"place": "本局二楼会议室"}),
    "rectify_notice": (_agreement("rectify", months=3), {}),
    "suspend_payment_notice": (_agreement("suspend_payment", months=3), {}),
    "suspend_agreement_notice": (_agreement("suspend_agreement", months=3), {}),
    "terminate_agreement_notice": (_agreement("terminate_agreement"), {}),
    "closing_approval": (_closed, {}),
}


def test_every_document_type_has_a_drive_and_a_template(client):
    types = client.get("/api/v1/document-types", headers=auth(PEOPLE["inspector"])).get_json()
    assert {t["code"] for t in types} == set(catalog.TYPES) == set(DRIVES) | {"service_receipt"}
    decision = next(t for t in types if t["code"] == "decision")
    assert {"party_address", "evidence", "review_window", "litigation_window", "payment_window"} <= set(decision["required"])
    assert decision["serves"] == "serve" and decision["has_number"]
    assert decision["fields"] == ["party_address", "evidence", "payment_account"]


@needs_poppler
@pytest.mark.parametrize("doc_type", sorted(DRIVES))
def test_each_type_issued_from_the_workflow_prints_every_required_item(doc_type, desk, client, sessions, tmp_path):
    from fundguard_cases.documents.issue import prepare
    from fundguard_cases.models import Case
    drive, fields = DRIVES[doc_type]
    c = desk.new_case()
    drive(desk, c)
    doc = issued(client, desk, c, doc_type, fields)
    body = pdftext(pdf_of(client, doc["id"]), tmp_path)
    with sessions() as s:  # the values the template printed, recomputed from the case
        prep = prepare(s, s.get(Case, c), doc_type, PEOPLE["leader"], fields, today=desk.today,
                       correcting=s.get(Document, doc["id"]))  # as a correction: the step may have moved on
    values = prep.values
    assert prep.tpl.required
    for item in prep.tpl.required:
        value = values[item]
        if isinstance(value, str):
            assert re.sub(r"\s+", "", value) in body, f"{doc_type}: required item {item}={value!r} not in the PDF"
    assert catalog.TYPES[doc_type].label in body
    if catalog.TYPES[doc_type].number_code:
        assert doc["number"] and re.sub(r"\s+", "", doc["number"]) in body
        assert re.fullmatch(r"510100医保.+〔2026〕1号", doc["number"])
    else:
        assert doc["number"] is None


@needs_poppler
def test_decision_states_the_six_items_of_article_59(desk, client, tmp_path):
    c = desk.new_case()
    _decided(desk, c)
    doc = issued(client, desk, c, "decision", DECISION_FIELDS)
    body = pdftext(pdf_of(client, doc["id"]), tmp_path)
    for must in ("成都某某医院", "成都市武侯区某某路1号", "分解住院", "住院病历、结算清单、询问笔录",  # party, facts, evidence
                 "罚款150,000.00元", "责令退回120,000.00元", "条例第三十八条",                       # kinds and basis
                 "自收到本决定书之日起15日内", "3%",                                                 # performance, deadline
                 "60日内向本级人民政府申请行政复议", "6个月内向有管辖权的人民法院提起行政诉讼",           # remedies and windows
                 "510100医疗保障局", "2026年3月2日"):                                                # authority and date
        assert must in body, must


@needs_poppler
def test_pdffonts_shows_the_cjk_font_embedded(desk, client, tmp_path):
    c = desk.new_case()
    _decided(desk, c)
    doc = issued(client, desk, c, "decision", DECISION_FIELDS)
    path = tmp_path / "d.pdf"
    path.write_bytes(pdf_of(client, doc["id"]))
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = [line for line in out.splitlines() if "WenQuanYi" in line]
    assert rows and all(line.split()[-5] == "yes" for line in rows), out  # emb column
    assert "Helvetica" not in out  # nothing drawn in a non-embedded base font


def test_authority_configuration_sets_prefix_name_and_remedy_bodies(desk, client, monkeypatch, tmp_path):
    monkeypatch.setenv("CASES_DOCUMENT_AUTHORITIES",
                       '{"510100": {"name": "成都市医疗保障局", "prefix": "成", "review_body": "成都市人民政府",'
                       ' "court": "成都铁路运输法院"}}')
    c = desk.new_case()
    _decided(desk, c)
    doc = issued(client, desk, c, "decision", DECISION_FIELDS)
    assert doc["number"] == "成医保罚〔2026〕1号"
    assert any("成都市人民政府" in p and "成都铁路运输法院" in p for p in doc["fields"]["rendered"]["paragraphs"])


def test_template_overridden_per_authority_by_configuration(desk, client, monkeypatch, tmp_path):
    root = tmp_path / "templates"
    (root / "510100").mkdir(parents=True)
    (root / "510100" / "filing_approval.toml").write_text(
        'title = "立案审批表（成都格式）"\nrequired = ["case_number"]\nfields = []\n'
        'paragraphs = ["案号：{{ case_number }}，承办人：{{ officer_names }}"]\n', encoding="utf-8")
    monkeypatch.setenv("CASES_DOCUMENT_TEMPLATES", str(root))
    c = desk.new_case()
    desk.to_investigating(c)
    doc = issued(client, desk, c, "filing_approval")
    assert doc["title"] == "立案审批表（成都格式）"
    assert doc["fields"]["rendered"]["paragraphs"] == [f"案号：{_case_number(desk, c)}，承办人：张三、李四"]


def _case_number(desk, c):
    from fundguard_cases.models import Case
    with desk.sessions() as s:
        return s.get(Case, c).number


# ---- frozen at issue; corrections; voided numbers --------------------------------------------------------

def test_issued_document_cannot_change_and_its_hash_is_in_the_audit_chain(desk, client, sessions):
    c = desk.new_case()
    _decided(desk, c)
    doc = issued(client, desk, c, "decision", DECISION_FIELDS)
    first = pdf_of(client, doc["id"])
    assert pdf_of(client, doc["id"]) == first  # stored once, never re-rendered
    import hashlib
    assert hashlib.sha256(first).hexdigest() == doc["sha256"]
    with sessions() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.case_id == c, AuditEntry.action == "issue_document")
                          ).scalar_one()
        assert doc["sha256"] in entry.reason and doc["number"] in entry.reason
    for stmt in ("UPDATE documents SET sha256 = 'x' WHERE id = :id", "UPDATE documents SET fields = '{}' WHERE id = :id",
                 "UPDATE documents SET number = 'X' WHERE id = :id", "DELETE FROM documents WHERE id = :id"):
        with pytest.raises(Exception, match="frozen|never deleted"):
            with sessions() as s, s.begin():
                s.execute(text(stmt), {"id": doc["id"]})
    r = client.get(f"/api/v1/cases/{c}/audit/verify", headers=auth(PEOPLE["leader"]))
    assert r.get_json()["ok"] is True


def test_correction_is_a_new_document_naming_the_original(desk, client):
    c = desk.new_case()
    _decided(desk, c)
    original = issued(client, desk, c, "decision", DECISION_FIELDS)
    fixed = issued(client, desk, c, "decision", {**DECISION_FIELDS, "party_address": "成都市武侯区某某路 2 号"},
                   corrects=original["id"])
    assert fixed["corrects_id"] == original["id"] and fixed["id"] != original["id"]
    assert fixed["number"] != original["number"] and fixed["sha256"] != original["sha256"]
    again = client.get(f"/api/v1/documents/{original['id']}", headers=auth(PEOPLE["inspector"])).get_json()
    assert again["sha256"] == original["sha256"] and again["fields"] == original["fields"]
    r = issue(client, desk, c, "decision", DECISION_FIELDS, corrects=original["id"])
    assert r.status_code == 409 and r.get_json()["code"] == "already_corrected"
    listed = client.get(f"/api/v1/cases/{c}/documents", headers=auth(PEOPLE["inspector"])).get_json()
    assert [d["id"] for d in listed] == [original["id"], fixed["id"]]


def test_voided_number_is_recorded_with_its_reason_and_never_reused(desk, client, sessions):
    c = desk.new_case()
    _decided(desk, c)
    first = issued(client, desk, c, "decision", DECISION_FIELDS)
    r = client.post(f"/api/v1/documents/{first['id']}/void", json={"reason": ""}, headers=auth(PEOPLE["leader"]))
    assert r.status_code == 422
    r = client.post(f"/api/v1/documents/{first['id']}/void", json={"reason": "当事人名称有误"},
                    headers=auth(PEOPLE["inspector"]))
    assert r.status_code == 403
    r = client.post(f"/api/v1/documents/{first['id']}/void", json={"reason": "当事人名称有误"},
                    headers=auth(PEOPLE["leader"]))
    assert r.status_code == 200 and r.get_json()["status"] == "voided"
    second = issued(client, desk, c, "decision", DECISION_FIELDS)
    assert first["number"].endswith("〔2026〕1号") and second["number"].endswith("〔2026〕2号")
    with sessions() as s:
        v = s.get(VoidedNumber, first["number"])
        assert (v.reason, v.by, v.document_id) == ("当事人名称有误", "leader-a", first["id"])
    # a voided document cannot be served
    assert serve(client, desk, first["id"], desk.today).status_code == 409


# ---- bad input: 4xx, nothing issued, no number consumed --------------------------------------------------

def _nothing_issued(sessions, c):
    with sessions() as s:
        assert s.execute(select(Document).where(Document.case_id == c)).first() is None
        assert all(r.last == 0 for r in s.execute(select(DocumentNumberSequence)).scalars())


def test_unknown_template_field_is_422_and_issues_nothing(desk, client, sessions):
    c = desk.new_case()
    _decided(desk, c)
    r = issue(client, desk, c, "decision", {**DECISION_FIELDS, "fine_total": "1.00元"})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_field" and r.get_json()["fields"] == ["fine_total"]
    _nothing_issued(sessions, c)


def test_missing_required_item_is_422_naming_it(desk, client, sessions):
    c = desk.new_case()
    _decided(desk, c)
    r = issue(client, desk, c, "decision", {"evidence": "住院病历"})
    assert r.status_code == 422
    body = r.get_json()
    assert body["code"] == "missing_item" and body["items"] == ["party_address"] and "party_address" in body["message_zh"]
    _nothing_issued(sessions, c)
    assert issued(client, desk, c, "decision", DECISION_FIELDS)["number"].endswith("〔2026〕1号")


def test_template_that_fails_to_render_is_422(desk, client, sessions, monkeypatch, tmp_path):
    root = tmp_path / "tpl"
    root.mkdir()
    monkeypatch.setenv("CASES_DOCUMENT_TEMPLATES", str(root))
    c = desk.new_case()
    _decided(desk, c)
    (root / "decision.toml").write_text('title = "决定书"\nfields = []\nparagraphs = ["{{ no_such_value }}"]\n',
                                        encoding="utf-8")
    r = issue(client, desk, c, "decision")
    assert r.status_code == 422 and r.get_json()["code"] == "template_render_failed"
    (root / "decision.toml").write_text('title = "决定书\nparagraphs = [', encoding="utf-8")
    r = issue(client, desk, c, "decision")
    assert r.status_code == 422 and r.get_json()["code"] == "template_invalid"
    (root / "decision.toml").write_text('title = "决定书"\nfields = ["decided_on"]\nparagraphs = ["{{ decided_on }}"]\n',
                                        encoding="utf-8")
    r = issue(client, desk, c, "decision", {"decided_on": "2020年1月1日"})  # a date is never typed
    assert r.status_code == 422 and r.get_json()["code"] == "template_invalid"
    _nothing_issued(sessions, c)


def test_type_not_issuable_at_this_step_is_409_and_unknown_type_422(desk, client, sessions):
    c = desk.new_case()
    desk.to_investigating(c)
    r = issue(client, desk, c, "decision", DECISION_FIELDS)
    assert r.status_code == 409 and r.get_json()["code"] == "document_not_issuable"
    r = issue(client, desk, c, "no_such_type")
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_doc_type"
    r = issue(client, desk, c, "filing_approval", publish=True)
    assert r.status_code == 422 and r.get_json()["code"] == "publish_not_allowed"
    _nothing_issued(sessions, c)


def test_missing_font_answers_503_and_issues_nothing(desk, client, sessions, monkeypatch):
    monkeypatch.setenv("CASES_PDF_FONT", "/nonexistent/font.ttc")
    c = desk.new_case()
    desk.to_investigating(c)
    r = issue(client, desk, c, "filing_approval")
    assert r.status_code == 503 and r.get_json()["code"] == "pdf_font_unavailable"
    _nothing_issued(sessions, c)


# ---- scope ------------------------------------------------------------------------------------------------

def test_documents_scoped_like_cases_and_institutions_see_only_theirs(desk, client):
    c = desk.new_case()
    _decided(desk, c)
    internal = issued(client, desk, c, "filing_approval")
    decision = issued(client, desk, c, "decision", DECISION_FIELDS)
    for who in ("other_leader", "other_institution"):
        for url in (f"/api/v1/documents/{decision['id']}", f"/api/v1/documents/{decision['id']}/pdf",
                    f"/api/v1/cases/{c}/documents"):
            assert client.get(url, headers=auth(PEOPLE[who])).status_code == 404, (who, url)
        r = client.post(f"/api/v1/documents/{decision['id']}/services", json={"method": "direct"},
                        headers=auth(PEOPLE[who]))
        assert r.status_code in (403, 404)
    inst = auth(PEOPLE["institution"])
    assert [d["id"] for d in client.get(f"/api/v1/cases/{c}/documents", headers=inst).get_json()] == [decision["id"]]
    assert client.get(f"/api/v1/documents/{internal['id']}", headers=inst).status_code == 404
    assert client.get(f"/api/v1/documents/{internal['id']}", headers=auth(PEOPLE["legal_reviewer"])).status_code == 200
    assert issue(client, desk, c, "filing_approval", who="institution").status_code == 403


def test_issuing_to_the_institution_emits_an_event_for_notify(desk, client, sessions):
    c = desk.new_case()
    _decided(desk, c)
    issued(client, desk, c, "filing_approval")  # internal: no event
    doc = issued(client, desk, c, "decision", DECISION_FIELDS)
    with sessions() as s:
        rows = s.execute(text("SELECT body FROM outbox WHERE event_type = 'case.document_issued'")).all()
        seqs = [r.sequence for r in s.execute(text("SELECT sequence FROM outbox WHERE subject = :s ORDER BY id"),
                                              {"s": f"case:{c}"})]
    events = [parse_event(r.body) for r in rows]
    assert [(e.payload["document_id"], e.payload["institution_id"], e.subject) for e in events] == \
        [(doc["id"], INST, f"case:{c}")]
    assert seqs == list(range(1, len(seqs) + 1))  # the case subject stays gap-free for case.# consumers


# ---- 送达 drives the clocks -----------------------------------------------------------------------------

def test_issuing_the_prior_notice_starts_no_clock_its_service_does(desk, client, sessions):
    c = desk.new_case()
    _reviewed(desk, c)
    notice = issued(client, desk, c, "prior_notice")
    assert desk.state(c) == "reviewed"
    assert "defence_window" not in deadlines(desk, c) and "hearing_request" not in deadlines(desk, c)
    desk.today = date(2026, 3, 6)
    r = serve(client, desk, notice["id"], date(2026, 3, 4))  # received on Wednesday 4 March
    assert r.status_code == 201, r.get_json()
    assert desk.state(c) == "notified"
    dls = deadlines(desk, c)
    assert dls["defence_window"].started_on == date(2026, 3, 4)
    assert dls["defence_window"].due_on == date(2026, 3, 11)  # 5 working days after the receipt
    assert dls["hearing_request"].started_on == date(2026, 3, 4)
    assert desk.file(c).details.notice_served_on == date(2026, 3, 4)
    with sessions() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.case_id == c, AuditEntry.action == "notify")).scalar_one()
        assert entry.actor == "insp-a" and "2026-03-04" in entry.reason
    assert serve(client, desk, notice["id"], date(2026, 3, 5)).status_code == 409  # served once


def test_decision_receipt_date_moves_payment_and_appeal_windows(desk, client):
    c = desk.new_case()
    _decided(desk, c)
    decision = issued(client, desk, c, "decision", DECISION_FIELDS)
    assert "payment" not in deadlines(desk, c)
    desk.today = date(2026, 3, 10)
    assert serve(client, desk, decision["id"], date(2026, 3, 11)).status_code == 422  # not in the future
    assert serve(client, desk, decision["id"], date(2026, 3, 1)).status_code == 422  # not before the issue
    assert serve(client, desk, decision["id"], date(2026, 3, 9), method="post").status_code == 201
    assert desk.state(c) == "served"
    assert desk.file(c).details.served_on == date(2026, 3, 9)
    pay = deadlines(desk, c)["payment"]
    assert (pay.started_on, pay.due_on) == (date(2026, 3, 9), date(2026, 3, 24))  # 15 days from receipt
    # 复议: 60 days from the receipt (2026-05-08), so a filing on 2026-05-08 is in time
    from fundguard_cases.workflow import TransitionRejected
    desk.fire(c, "file_appeal", "institution", {"kind": "administrative_review"}, today=date(2026, 5, 8))
    desk.today = date(2026, 3, 2)
    c2 = desk.new_case()
    _decided(desk, c2)
    d2 = issued(client, desk, c2, "decision", DECISION_FIELDS)
    assert serve(client, desk, d2["id"], date(2026, 3, 2)).status_code == 201
    with pytest.raises(TransitionRejected):  # served a week earlier: the window closed on 2026-05-06
        desk.fire(c2, "file_appeal", "institution", {"kind": "administrative_review"}, today=date(2026, 5, 8))


def test_public_notice_service_counts_30_days_after_the_announcement_and_needs_a_ground(desk, client):
    """民事诉讼法 art. 95 (via 行政处罚法 art. 61): 公告送达 is deemed served 30 days after the
    announcement; it is recorded once that day has come, with the ground for using it."""
    c = desk.new_case()
    _decided(desk, c)
    decision = issued(client, desk, c, "decision", DECISION_FIELDS)
    announced = desk.today
    desk.today = date(2026, 3, 20)
    body = {"method": "public_notice", "receipt_at": f"{announced.isoformat()}T09:00:00+08:00"}
    r = client.post(f"/api/v1/documents/{decision['id']}/services", json=body, headers=auth(PEOPLE["inspector"]))
    assert r.status_code == 422 and r.json["code"] == "public_notice_ground_required"
    body["details"] = {"ground": "受送达人下落不明，直接送达、邮寄送达均未成功"}
    r = client.post(f"/api/v1/documents/{decision['id']}/services", json=body, headers=auth(PEOPLE["inspector"]))
    assert r.status_code == 422 and r.json["code"] == "public_notice_period_running"
    assert r.json["deemed_served_on"] == "2026-04-01" and desk.state(c) == "decided"
    desk.today = date(2026, 4, 1)
    clock.set_today(desk.today)
    r = client.post(f"/api/v1/documents/{decision['id']}/services", json=body, headers=auth(PEOPLE["inspector"]))
    assert r.status_code == 201, r.json
    assert desk.state(c) == "served" and desk.file(c).details.served_on == date(2026, 4, 1)
    pay = deadlines(desk, c)["payment"]
    assert (pay.started_on, pay.due_on) == (date(2026, 4, 1), date(2026, 4, 16))


def test_unserved_decision_runs_no_payment_clock(desk, client):
    c = desk.new_case()
    _decided(desk, c)
    issued(client, desk, c, "decision", DECISION_FIELDS)
    desk.today = date(2026, 6, 1)
    assert desk.state(c) == "decided"
    assert "payment" not in deadlines(desk, c)
    assert desk.file(c).details.served_on is None


def test_electronic_service_needs_consent_and_first_opening_is_the_receipt(desk, client, sessions):
    from fundguard_cases.documents.models import DocumentService
    c = desk.new_case()
    _decided(desk, c)
    decision = issued(client, desk, c, "decision", DECISION_FIELDS)
    r = client.post(f"/api/v1/documents/{decision['id']}/services", json={"method": "electronic"},
                    headers=auth(PEOPLE["inspector"]))
    assert r.status_code == 422 and r.get_json()["code"] == "no_electronic_consent"
    r = client.post(f"/api/v1/cases/{c}/service-consent", json={}, headers=auth(PEOPLE["institution"]))
    assert r.status_code == 201
    r = client.post(f"/api/v1/documents/{decision['id']}/services", json={"method": "electronic"},
                    headers=auth(PEOPLE["inspector"]))
    assert r.status_code == 201, r.get_json()
    assert desk.state(c) == "decided"  # dispatched, not yet received
    pdf_of(client, decision["id"], who="inspector")  # staff opening it is not the party's receipt
    assert desk.state(c) == "decided"
    pdf_of(client, decision["id"], who="institution")
    assert desk.state(c) == "served"
    with sessions() as s:
        first = s.execute(select(DocumentService).where(DocumentService.document_id == decision["id"])).scalar_one()
        received = first.receipt_at
        entry = s.execute(select(AuditEntry).where(AuditEntry.case_id == c, AuditEntry.action == "serve")).scalar_one()
        assert (entry.actor, entry.actor_role) == ("system:electronic-service", "system")
    from fundguard_cases.clock import china_date
    assert desk.file(c).details.served_on == china_date(received)
    assert deadlines(desk, c)["payment"].started_on == china_date(received)
    pdf_of(client, decision["id"], who="institution")  # a later opening does not move it
    with sessions() as s:
        assert s.execute(select(DocumentService.receipt_at).where(
            DocumentService.document_id == decision["id"])).scalar_one() == received
    # the 送达回证 is produced from that record
    desk.today = china_date(received)
    receipt = issued(client, desk, c, "service_receipt", {"document_id": decision["id"]})
    table = dict(receipt["fields"]["rendered"]["table"])
    assert table["送达方式"] == "电子送达" and decision["number"] in table["送达文书"]
    assert table["送达时间"].startswith(f"{received.astimezone().year}年")


def test_notify_rule_tells_the_institution_a_document_awaits_it(desk, client, sessions):
    from fundguard_notify.rules import RuleBook
    c = desk.new_case()
    _decided(desk, c)
    doc = issued(client, desk, c, "decision", DECISION_FIELDS)
    with sessions() as s:
        [row] = s.execute(text("SELECT body FROM outbox WHERE event_type = 'case.document_issued'")).all()
    notices = RuleBook.load().notices_for(parse_event(row.body))
    inst = [n for n in notices if n.role == "institution"]
    assert len(inst) == 1 and inst[0].institution_id == INST
    assert doc["number"] in inst[0].title and "行政处罚决定书" in inst[0].body and "送达之日起" in inst[0].body


def test_one_live_decision_per_case_and_a_correction_after_service_keeps_the_clocks(desk, client):
    c = desk.new_case()
    _decided(desk, c)
    original = issued(client, desk, c, "decision", DECISION_FIELDS)
    r = issue(client, desk, c, "decision", DECISION_FIELDS)
    assert r.status_code == 409 and r.get_json()["code"] == "already_issued"
    assert serve(client, desk, original["id"], date(2026, 3, 2)).status_code == 201
    pay = deadlines(desk, c)["payment"]
    fixed = issued(client, desk, c, "decision", {**DECISION_FIELDS, "evidence": "住院病历、结算清单"},
                   corrects=original["id"])
    desk.today = date(2026, 3, 4)
    assert serve(client, desk, fixed["id"], date(2026, 3, 4)).status_code == 201  # recorded; no second serve step
    assert desk.state(c) == "served" and deadlines(desk, c)["payment"].started_on == pay.started_on
