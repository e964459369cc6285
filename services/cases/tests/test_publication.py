"""Publication (公示): decisions marked for publication are published within the window by the worker
round, redacted by rule; decisions changed or annulled on appeal are withdrawn within 3 working
days and the withdrawal is logged; the public endpoints need no token and show only published,
redacted items."""
from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from casekit import PEOPLE, Desk, auth
from fundguard_cases import clock

PARTY = "王小明"
ADDRESS = "成都市武侯区人民南路四段12号3栋2单元501室"
ID_NO = "51010719850312231X"
MOBILE = "13812345678"
LANDLINE = "028-85551234"
FACTS = (f"当事人{PARTY}（身份证号 {ID_NO}，手机 {MOBILE}，座机 {LANDLINE}，住址：{ADDRESS}）"
         f"伪造住院病历，骗取医保基金。")
DECIDE = {"decision": "sanction", "sanctions": [{"kind": "fine", "article": "38", "amount": "150000.00"},
                                                 {"kind": "order_refund", "article": "38", "amount": "120000.00"}]}


@pytest.fixture
def blobs(tmp_path, monkeypatch):
    monkeypatch.setenv("CASES_DOCUMENT_DIR", str(tmp_path / "blobs"))


def individual_case(desk: Desk) -> str:
    """A case against an individual whose file names, ID number, phones and address appear in the facts."""
    from fundguard_cases.models import Case
    c = desk.new_case()
    with desk.sessions() as s, s.begin():
        s.execute(update(Case).where(Case.id == c).values(party_type="individual", institution_name=PARTY,
                                                          summary=FACTS))
    return c


def decided_case(desk: Desk, individual=True) -> str:
    c = individual_case(desk) if individual else desk.new_case()
    desk.to_notified(c)
    desk.fire(c, "waive_rights", "institution")
    desk.fire(c, "decide", "leader", DECIDE)
    return c


def issue(desk: Desk, case_id: str, doc_type="decision", publish=True, fields=None, who="leader") -> str:
    """Issue a document through the documents package (template, 文号, frozen PDF)."""
    from fundguard_cases.documents.issue import issue_document
    from fundguard_cases.models import Case
    fields = fields if fields is not None else {"party_address": ADDRESS, "evidence": f"病历、询问笔录（{PARTY}，电话{MOBILE}）"}
    with desk.sessions() as s, s.begin():
        doc = issue_document(s, s.get(Case, case_id), doc_type, PEOPLE[who], fields, publish=publish,
                             today=desk.today, request_id="req-test")
        return doc.id


def run_round(desk: Desk, day: date) -> dict:
    from fundguard_cases.worker import run_publication
    clock.set_today(day)
    try:
        return run_publication(desk.sessions)
    finally:
        clock.set_today(None)


def publications(desk: Desk, case_id: str):
    from fundguard_cases.documents import publication
    with desk.sessions() as s:
        rows = publication.for_case(s, case_id)
        logs = {p.id: [(x.action, x.actor) for x in publication.log_of(s, p.id)] for p in rows}
        s.expunge_all()
        return rows, logs


# ---- redaction, by rule --------------------------------------------------------------------------

def _id_number(body17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红"
names = st.builds(lambda s, g: s + g, st.sampled_from(list(SURNAMES) + ["欧阳", "司马", "诸葛"]),
                  st.text(alphabet=GIVEN, min_size=1, max_size=2))
id_numbers = st.builds(lambda area, y, m, d, seq: _id_number(f"{area}{y}{m:02d}{d:02d}{seq:03d}"),
                       st.sampled_from(["510107", "110101", "440305", "320102"]), st.integers(1940, 2010),
                       st.integers(1, 12), st.integers(1, 28), st.integers(0, 999))
mobiles = st.builds(lambda p, a, b, style: {0: f"{p}{a:04d}{b:04d}", 1: f"{p}-{a:04d}-{b:04d}",
                                            2: f"{p} {a:04d} {b:04d}", 3: f"+86 {p}{a:04d}{b:04d}"}[style],
                    st.sampled_from(["138", "139", "150", "186", "177", "199", "135"]), st.integers(0, 9999),
                    st.integers(0, 9999), st.integers(0, 3))
landlines = st.builds(lambda area, n, style: {0: f"{area}-{n}", 1: f"({area}){n}", 2: f"（{area}）{n}",
                                              3: f"{area}{n}"}[style],
                      st.sampled_from(["010", "028", "0755", "021", "0831"]), st.integers(2000000, 89999999).map(str),
                      st.integers(0, 3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, id_no=id_numbers, mobile=mobiles, landline=landlines, x=st.booleans())
def test_redaction_leaves_no_name_id_number_or_phone_pattern(name, id_no, mobile, landline, x):
    from fundguard_cases.documents import redact
    if x:
        id_no = id_no[:17] + "X"
    text = (f"经查，参保人{name}（公民身份号码：{id_no}，联系电话：{mobile}）于2026年1月10日在本院住院，"
            f"{name}的家属留下座机{landline}，家住{ADDRESS}；罚款150000.00元，案号〔2026〕12号。")
    r = redact.Redactor(names=[name])
    out = r.text(text)
    assert redact.leaks(out) == [], out
    assert name not in out and id_no not in out and mobile not in out and ADDRESS not in out
    assert redact.mask_name(name) in out
    assert re.search(r"\d{17}[\dXx]", out) is None and re.search(r"1[3-9]\d{9}", out.replace(" ", "").replace("-", "")) is None
    # what is not personal data stays as it was
    assert "2026年1月10日" in out and "150000.00元" in out and "〔2026〕12号" in out


def test_redaction_masks_names_by_rule_keeping_the_surname():
    from fundguard_cases.documents.redact import mask_name
    assert [mask_name(n) for n in ("王小明", "李四", "欧阳娜娜", "诸葛亮")] == ["王某", "李某", "欧阳某", "诸葛某"]


# ---- publication within the window ----------------------------------------------------------------------

def test_decision_marked_for_publication_is_published_within_7_working_days_by_the_worker(desk, blobs):
    from fundguard_shared.workdays import WorkdayCalendar
    c = decided_case(desk)
    doc = issue(desk, c)
    assert run_round(desk, desk.today) == {"withdrawn": 0, "scheduled": 1, "published": 1, "blocked": 0}
    [p], logs = publications(desk, c)
    assert p.document_id == doc and p.status == "published"
    assert p.due_on == WorkdayCalendar().add_working_days(p.decided_on, 7)
    assert p.decided_on <= p.published_on <= p.due_on
    assert [a for a, _ in logs[p.id]] == ["scheduled", "published"]
    # the published record: the decision's own text, redacted by rule
    text = repr(p.content)
    assert p.content["party"] == "王某" and PARTY not in text
    assert ID_NO not in text and MOBILE not in text and "85551234" not in text and "人民南路" not in text
    assert any("行政处罚决定书" in x or "违法事实" in x for x in p.content["paragraphs"])
    assert p.content["document_number"] and p.content["document_number"] in text
    assert p.redaction["name"] >= 2 and p.redaction["id_number"] >= 1
    assert run_round(desk, desk.today) == {"withdrawn": 0, "scheduled": 0, "published": 0, "blocked": 0}  # once


def test_document_without_publish_flag_is_never_published(desk, blobs):
    c = decided_case(desk)
    issue(desk, c, publish=False)
    assert run_round(desk, desk.today)["scheduled"] == 0
    assert publications(desk, c)[0] == []


def test_year_without_loaded_calendar_stores_the_window_as_not_computable(desk, blobs):
    from fundguard_cases.models import CaseDetails
    c = decided_case(desk)
    with desk.sessions() as s, s.begin():  # a decision dated in a year the calendar does not know
        s.execute(update(CaseDetails).where(CaseDetails.case_id == c).values(decided_on=date(2031, 12, 29)))
    issue(desk, c)
    run_round(desk, date(2031, 12, 29))
    [p], _ = publications(desk, c)
    assert p.due_on is None and "2031" in p.due_note  # never guessed
    assert p.status == "published"  # any day before an unknown last day is inside the window


# ---- withdrawal on appeal ------------------------------------------------------------------------------

def _appeal(desk, c, outcome, sanctions=None):
    desk.fire(c, "file_appeal", "institution", {"kind": "administrative_review"})
    data = {"appeal_id": desk.file(c).appeals[0].id, "outcome": outcome}
    if sanctions:
        data["sanctions"] = sanctions
    desk.fire(c, "record_appeal_outcome", "leader", data)


def test_decision_annulled_on_appeal_is_withdrawn_within_3_working_days_and_logged(desk, blobs, client):
    from fundguard_cases.models import AuditEntry
    from fundguard_shared.workdays import WorkdayCalendar
    c = decided_case(desk)
    issue(desk, c)
    desk.fire(c, "serve", "inspector")
    run_round(desk, desk.today)
    assert client.get("/api/v1/public/decisions").json["total"] == 1
    desk.today = date(2026, 3, 20)  # a Friday
    _appeal(desk, c, "annulled")
    assert run_round(desk, desk.today)["withdrawn"] == 1
    [p], logs = publications(desk, c)
    assert p.status == "withdrawn" and p.withdraw_cause == "appeal_annulled"
    assert p.withdraw_due_on == WorkdayCalendar().add_working_days(date(2026, 3, 20), 3) == date(2026, 3, 25)
    assert p.withdrawn_on <= p.withdraw_due_on
    assert [a for a, _ in logs[p.id]] == ["scheduled", "published", "withdrawn"]
    with desk.sessions() as s:
        actions = s.execute(select(AuditEntry.action).where(AuditEntry.case_id == c)).scalars().all()
    assert "publication_published" in actions and "publication_withdrawn" in actions
    body = client.get("/api/v1/public/decisions").json
    assert body["total"] == 0 and body["items"] == []
    assert p.id not in client.get("/api/v1/public/decisions/feed.atom").get_data(as_text=True)


def test_decision_changed_on_appeal_withdraws_the_old_and_publishes_the_changed_one(desk, blobs):
    c = decided_case(desk, individual=False)
    old = issue(desk, c)
    desk.fire(c, "serve", "inspector")
    run_round(desk, desk.today)
    _appeal(desk, c, "changed", [{"kind": "fine", "article": "38", "amount": "125000"},
                                 {"kind": "order_refund", "article": "38", "amount": "120000.00"}])
    from fundguard_cases.documents.issue import issue_document
    from fundguard_cases.models import Case
    with desk.sessions() as s, s.begin():  # the changed decision, as a correction of the original
        new = issue_document(s, s.get(Case, c), "decision", PEOPLE["leader"],
                             {"party_address": ADDRESS, "evidence": "病历"}, corrects=old, publish=True,
                             today=desk.today).id
    counts = run_round(desk, desk.today)
    assert counts["withdrawn"] == 1 and counts["published"] == 1
    pubs, _ = publications(desk, c)
    assert {p.document_id: p.status for p in pubs} == {old: "withdrawn", new: "published"}
    changed = next(p for p in pubs if p.document_id == new)
    assert [s["amount"] for s in changed.content["sanctions"] if s["kind"] == "fine"] == ["125000.00"]


def test_pending_publication_of_an_annulled_decision_is_cancelled_never_published(desk, blobs, client):
    c = decided_case(desk)
    issue(desk, c)
    desk.fire(c, "serve", "inspector")
    _appeal(desk, c, "annulled")  # before the worker ever saw the decision
    counts = run_round(desk, desk.today)
    assert counts["published"] == 0
    [p], logs = publications(desk, c)
    assert p.status == "cancelled" and p.content is None
    assert client.get("/api/v1/public/decisions").json["total"] == 0


# ---- the public endpoints --------------------------------------------------------------------------------

def test_public_endpoints_need_no_token_and_show_only_published_redacted_items(desk, blobs, client, app):
    published = decided_case(desk)
    issue(desk, published)
    run_round(desk, desk.today)
    pending = decided_case(desk)
    issue(desk, pending)  # scheduled by nobody yet: not public
    r = client.get("/api/v1/public/decisions")  # no Authorization header
    assert r.status_code == 200
    body = r.json
    assert body["total"] == 1 and body["page"] == 1 and [i["case_number"] for i in body["items"]] != []
    item = body["items"][0]
    assert item["party"] == "王某" and item["institution_id"] is None
    texts = [v for k, v in item.items() if k not in ("id", "published_at")]
    from fundguard_cases.documents.redact import leaks
    assert leaks(texts) == []
    flat = repr(texts)
    for secret in (PARTY, ID_NO, MOBILE, "85551234", ADDRESS, "张三", "李四"):  # party, numbers, officers
        assert secret not in flat, secret
    feed = client.get("/api/v1/public/decisions/feed.atom")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    xml = feed.get_data(as_text=True)
    assert xml.count("<entry>") == 1 and item["id"] in xml and PARTY not in xml and leaks(xml) == []
    # paged like the other lists; bad paging is a 4xx problem, never a 5xx
    assert client.get("/api/v1/public/decisions?per_page=0").status_code == 422
    assert client.get("/api/v1/public/decisions?region=440100").json["total"] == 0
    spec = client.get("/api/v1/openapi.json").json
    assert spec["paths"]["/api/v1/public/decisions"]["get"]["security"] == []
    assert spec["paths"]["/api/v1/public/decisions/feed.atom"]["get"]["security"] == []


def test_staff_publish_on_demand_scoped_like_cases(desk, blobs, client):
    clock.set_today(desk.today)
    c = decided_case(desk)
    issue(desk, c)
    url = f"/api/v1/cases/{c}/publications/run"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=auth(PEOPLE["institution"])).status_code == 403
    assert client.post(url, headers=auth(PEOPLE["other_leader"])).status_code == 404
    r = client.post(url, headers=auth(PEOPLE["leader"]))
    assert r.status_code == 200 and r.json["published"] == 1
    listed = client.get(f"/api/v1/cases/{c}/publications", headers=auth(PEOPLE["inspector"])).json
    assert [p["status"] for p in listed] == ["published"]
    assert [x["actor"] for x in listed[0]["log"]] == ["publication-worker", "leader-a"]
    assert client.get(f"/api/v1/cases/{c}/publications", headers=auth(PEOPLE["other_leader"])).status_code == 404


def test_portal_public_page_shows_published_decisions_without_sign_in(desk, blobs, app, tmp_path, monkeypatch):
    """The portal's 公示 page, against the real cases app served on a local port."""
    import threading

    from werkzeug.serving import make_server

    from fundguard_portal.app import create_app as portal_app
    from fundguard_portal.config import load_portal_settings
    from fundguard_portal.runtime import PortalRuntime
    from fundguard_shared.migrate import upgrade
    c = decided_case(desk)
    issue(desk, c)
    run_round(desk, desk.today)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path / 'portal.db'}")
        monkeypatch.setenv("CASES_URL", f"http://127.0.0.1:{server.server_port}")
        settings = load_portal_settings()
        upgrade("fundguard_portal", settings.database_url)
        rt = PortalRuntime.create(settings)
        web = portal_app(rt).test_client()
        page = web.get("/public/decisions")
        html = page.get_data(as_text=True)
        assert page.status_code == 200, html[:500]
        assert "行政处罚决定公示" in html and "王某" in html and "（共 1 件）" in html
        from fundguard_cases.documents.redact import leaks
        assert PARTY not in html and ID_NO not in html and MOBILE not in html and leaks(html) == []
        feed = web.get("/public/decisions.atom")
        assert feed.status_code == 200 and "<entry>" in feed.get_data(as_text=True)
        rt.engine.dispose()
    finally:
        server.shutdown()


def test_published_document_voided_afterwards_is_withdrawn(desk, blobs, client):
    from fundguard_cases.documents.issue import void_document
    from fundguard_cases.documents.models import Document
    from fundguard_cases.models import Case
    c = decided_case(desk)
    doc = issue(desk, c)
    run_round(desk, desk.today)
    with desk.sessions() as s, s.begin():
        void_document(s, s.get(Document, doc), s.get(Case, c), PEOPLE["leader"], "文号填写错误")
    assert run_round(desk, desk.today)["withdrawn"] == 1
    [p], logs = publications(desk, c)
    assert p.status == "withdrawn" and p.withdraw_cause == "document_voided"
    assert client.get("/api/v1/public/decisions").json["total"] == 0
