"""The portal as a backend-for-frontend over the real running services (in-process portal app,
Flask test client; the three services and workers are real processes): forms reach the APIs with
the user's token, actions come from the case's ``actions``, scope and errors show as Chinese."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.portal_stack import PortalStack, demo_user
from tests.support.platform import wait_for

from fundguard_portal import users
from fundguard_portal.app import create_app
from fundguard_portal.runtime import PortalRuntime

pytestmark = pytest.mark.platform

@pytest.fixture(scope="module")
def portal(platform):
    stack = PortalStack(platform).setup()
    rt = PortalRuntime.create(stack.settings())
    app = create_app(rt)
    yield app, rt, stack
    rt.engine.dispose()
    stack.teardown()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def client_for(app, username, password=None):
    c = app.test_client()
    token = csrf_of(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"username": username,
                               "password": password or demo_user(username)["password"],
                               "csrf_token": token, "next": "/"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


def record_via_portal(app, institution_id: str, amount="3210.00") -> None:
    c = client_for(app, "insp-zhang")
    form = c.get("/findings/new").get_data(as_text=True)
    assert 'for="institution_id"' in form and "违法类型" in form
    r = c.post("/findings/new", data={
        "csrf_token": csrf_of(form), "institution_id": institution_id,
        "institution_name": f"测试医院{institution_id[-4:]}", "party_type": "entity",
        "violation_type": "split_admission", "amount": amount, "act_date": "2026-03-01",
        "source": "flight_inspection", "description": "门户录入：分解住院"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert "检查发现已录入" in c.get("/findings").get_data(as_text=True)


def case_of(platform, tokens, institution_id: str) -> dict:
    def find():
        r = platform.call("GET", "cases", f"/api/v1/cases?institution_id={institution_id}",
                          tokens["leader"])
        assert r.status_code == 200, r.text
        return r.json()["items"][0] if r.json()["items"] else None
    return wait_for(find, 60, what=f"case of {institution_id}")


def new_case(app, platform, tokens) -> dict:
    inst = "HT" + uuid.uuid4().hex[:8].upper()
    record_via_portal(app, inst)
    return case_of(platform, tokens, inst)


def test_finding_form_reaches_inspection_and_the_case_appears_in_the_leaders_list(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader = client_for(app, "leader-wang")
    html = leader.get(f"/cases?q={case['institution_id']}").get_data(as_text=True)
    assert case["number"] in html and "线索登记" in html
    assert "共 1 件" in html


def test_finding_form_errors_come_back_in_chinese(portal):
    app, _, _ = portal
    c = client_for(app, "insp-zhang")
    form = c.get("/findings/new").get_data(as_text=True)
    r = c.post("/findings/new", data={"csrf_token": csrf_of(form), "institution_id": "H1",
                                      "institution_name": "某医院", "violation_type": "split_admission",
                                      "amount": "不是数字", "description": "x"})
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and "涉及金额：不是有效的数字" in text
    assert 'value="H1"' in text                          # what the user typed is kept


def test_case_page_buttons_are_exactly_the_actions_of_this_user(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    api = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}", tokens["leader"]).json()
    page = client_for(app, "leader-wang").get(f"/cases/{case['id']}").get_data(as_text=True)
    buttons = re.findall(r'name="trigger" value="([^"]+)"', page)
    expected = [a["trigger"] for a in api["actions"] + api.get("records", [])]
    assert buttons == expected and "start_verification" in buttons
    assert 'aria-current="step"' in page and "线索登记" in page         # state on the diagram
    other = client_for(app, "legal-zhao").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'name="trigger"' not in other and "没有可执行的操作" in other


def test_transitions_carry_the_version_and_a_stale_one_reads_as_refresh(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader = client_for(app, "leader-wang")
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = leader.post(f"/cases/{case['id']}/transition", data={
        "csrf_token": csrf_of(page), "version": version, "trigger": "start_verification",
        "reason": "安排核查"})
    assert r.status_code == 302
    page2 = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "操作已完成" in page2 and "线索核查" in page2 and "安排核查" in page2   # timeline
    r = leader.post(f"/cases/{case['id']}/transition", data={       # the version seen before
        "csrf_token": csrf_of(page), "version": version, "trigger": "decline", "reason": "x"})
    text = r.get_data(as_text=True)
    assert r.status_code == 409 and "案件已被他人修改，请刷新" in text and "Traceback" not in text
    assert "刷新案件" in text


def fire(client, case_id: str, trigger: str, reason: str = "", **fields):
    """Submit one step's generated form as the browser would."""
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'id="step-{trigger}"' in page, f"{trigger} is not offered"
    return client.post(f"/cases/{case_id}/transition", data={
        "csrf_token": csrf_of(page), "trigger": trigger, "reason": reason,
        "version": re.search(r'name="version" value="(\d+)"', page).group(1), **fields})


OFFICER_FIELDS = {"officers-0-id": "insp-zhang", "officers-0-credential_no": "川医保执 001",
                  "officers-1-id": "insp-li", "officers-1-credential_no": "川医保执 002"}


def test_open_case_form_lists_the_guard_failure_then_the_officer_fields_open_it(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader = client_for(app, "leader-wang")
    assert fire(leader, case["id"], "start_verification").status_code == 302
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'for="f-open_case-officers-0-id"' in page and "张检查（insp-zhang）" in page
    r = fire(leader, case["id"], "open_case", "线索属实")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and "操作条件未满足" in text and "至少两名" in text
    r = fire(leader, case["id"], "open_case", "线索属实", **{"officers-0-credential_no": "川医保执 001"})
    assert r.status_code == 422 and "请选择办案人员" in r.get_data(as_text=True)
    r = fire(leader, case["id"], "open_case", "线索属实", **OFFICER_FIELDS)
    assert r.status_code == 302, r.get_data(as_text=True)
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "已立案" in page and "川医保执 002" in page           # the case file lists them


def _to_legal_review(app, case) -> None:
    leader, insp = client_for(app, "leader-wang"), client_for(app, "insp-zhang")
    assert fire(leader, case["id"], "start_verification").status_code == 302
    assert fire(leader, case["id"], "open_case", "立案", **OFFICER_FIELDS).status_code == 302
    assert fire(insp, case["id"], "start_investigation").status_code == 302
    r = fire(insp, case["id"], "submit_report", "建议处罚", **{
        "proposal": "sanction", "sanctions-0-kind": "fine", "sanctions-0-article": "38",
        "sanctions-0-amount": "3210.00"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert fire(insp, case["id"], "submit_for_review").status_code == 302


def test_out_of_range_sanction_comes_back_in_chinese_with_the_typed_values_kept(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader, insp = client_for(app, "leader-wang"), client_for(app, "insp-zhang")
    fire(leader, case["id"], "start_verification")
    fire(leader, case["id"], "open_case", "立案", **OFFICER_FIELDS)
    fire(insp, case["id"], "start_investigation")
    r = fire(insp, case["id"], "submit_report", "建议处罚", **{
        "proposal": "sanction", "sanctions-0-kind": "fine", "sanctions-0-article": "38",
        "sanctions-0-amount": "99999999"})
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and "超出条例第38条规定范围" in text and "Traceback" not in text
    assert 'value="99999999"' in text and '<details class="step" id="step-submit_report"' in text


def test_legal_reviewer_sees_the_range_and_must_give_a_reason_to_return(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    _to_legal_review(app, case)
    legal = client_for(app, "legal-zhao")
    assert case["number"] in legal.get("/").get_data(as_text=True)          # the queue
    page = legal.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "法定幅度 1–2 倍（3,210.00–6,420.00 元）" in page
    assert 'id="step-pass_review"' in page and 'id="step-return_review"' in page
    assert 'id="step-submit_report"' not in page
    r = fire(legal, case["id"], "return_review", "")
    assert r.status_code == 422 and "此操作必须填写理由" in r.get_data(as_text=True)
    r = fire(legal, case["id"], "return_review", "证据不足，补充调查住院病历")
    assert r.status_code == 302
    page = legal.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "退回" in page and "证据不足，补充调查住院病历" in page and "调查取证" in page


def test_bad_form_input_never_shows_a_stack_trace(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader = client_for(app, "leader-wang")
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    for data, status, message in (
            ({"trigger": "start_verification", "version": "x"}, 428, "缺少版本号"),
            ({"trigger": "no_such_step", "version": "1"}, 422, "未知的操作"),
            ({"trigger": "no_such_step", "version": "1", "data": "[1]"}, 422, "JSON 对象"),
            ({"trigger": "decline", "version": version}, 409, "当前状态下不能执行此操作")):
        r = leader.post(f"/cases/{case['id']}/transition", data={"csrf_token": csrf_of(page), **data})
        text = r.get_data(as_text=True)
        assert r.status_code == status and message in text, (data, r.status_code, text[-500:])
        assert "Traceback" not in text and "Exception" not in text
    for path in ("/cases/%00", "/cases?page=abc&sort=<script>", "/cases?violation_type=x' OR 1=1"):
        r = leader.get(path)
        assert r.status_code < 500 and "Traceback" not in r.get_data(as_text=True)


def test_case_list_filters_and_sorts_within_the_scope(portal, platform, tokens):
    app, _, _ = portal
    # both institutions share a tag, so the sorted lists hold just these two whatever else the
    # session's other tests created (the list pages by 50)
    tag = "HS" + uuid.uuid4().hex[:6].upper()
    record_via_portal(app, tag + "A1")
    small = case_of(platform, tokens, tag + "A1")
    inst = tag + "B2"
    record_via_portal(app, inst, amount="987654.00")
    big = case_of(platform, tokens, inst)
    leader = client_for(app, "leader-wang")
    html = leader.get(f"/cases?sort=amount&violation_type=split_admission&q={tag}").get_data(as_text=True)
    assert "共 2 件" in html and html.index(big["number"]) < html.index(small["number"])
    html = leader.get(f"/cases?sort=amount_asc&q={tag}").get_data(as_text=True)
    assert html.index(small["number"]) < html.index(big["number"])
    html = leader.get("/cases?violation_type=duplicate_charging&q=" + inst).get_data(as_text=True)
    assert "共 0 件" in html
    html = leader.get(f"/cases?institution_id={inst}").get_data(as_text=True)
    assert "共 1 件" in html and big["number"] in html


def test_institution_sees_its_own_cases_and_a_404_page_for_others(portal, platform, tokens):
    app, rt, _ = portal
    mine = new_case(app, platform, tokens)
    theirs = new_case(app, platform, tokens)
    with rt.sessions() as s, s.begin():
        users.create_user(s, username=f"inst-{mine['institution_id']}", password="inst-pass-1",
                          role="institution", institution_id=mine["institution_id"])
    inst = client_for(app, f"inst-{mine['institution_id']}", "inst-pass-1")
    listing = inst.get("/cases").get_data(as_text=True)
    assert mine["number"] in listing and theirs["number"] not in listing
    assert "共 1 件" in listing
    r = inst.get(f"/cases/{theirs['id']}")
    assert r.status_code == 404 and "不在您的权限范围内" in r.get_data(as_text=True)


def test_inbox_entries_appear_and_can_be_marked_read(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader = client_for(app, "leader-wang")

    def entry():
        html = leader.get("/inbox?page=1").get_data(as_text=True)
        m = re.search(r'<li class="unread">(?:(?!</li>).)*?' + re.escape(case["number"])
                      + r'(?:(?!</li>).)*?name="id" value="([^"]+)"', html, re.S)
        return (m.group(1), html) if m else None
    nid, html = wait_for(entry, 30, what="inbox entry")
    unread = int(re.search(r"未读 (\d+) 条", html).group(1))
    r = leader.post("/inbox/read", data={"csrf_token": csrf_of(html), "id": nid, "next": "/inbox"})
    assert r.status_code == 302
    after = leader.get("/inbox").get_data(as_text=True)
    assert int(re.search(r"未读 (\d+) 条", after).group(1)) == unread - 1


def test_leader_dashboard_charts_and_csv_export(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader = client_for(app, "leader-wang")
    html = leader.get("/dashboard").get_data(as_text=True)
    assert "<svg" in html and "按状态" in html and "线索登记" in html and "导出 CSV" in html
    r = leader.get("/dashboard/cases.csv")
    assert r.mimetype == "text/csv"
    text = r.get_data().decode("utf-8")
    assert text.startswith("\ufeff案件编号,状态") and case["number"] in text


def test_staff_issue_a_document_and_anyone_in_scope_opens_its_pdf_through_the_portal(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader = client_for(app, "leader-wang")
    fire(leader, case["id"], "start_verification")
    assert fire(leader, case["id"], "open_case", "立案", **OFFICER_FIELDS).status_code == 302
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "执法文书" in page
    assert 'id="doc-filing_approval"' in page                          # a type staff may issue
    r = leader.post(f"/cases/{case['id']}/documents",
                    data={"csrf_token": csrf_of(page), "doc_type": "filing_approval"})
    assert r.status_code == 302
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "已出具" in page, page[page.find("flash"):][:400]
    doc_id = re.search(r'/documents/([^/"]+)/pdf', page).group(1)
    pdf = leader.get(f"/documents/{doc_id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.get_data().startswith(b"%PDF") and len(pdf.headers["X-Content-SHA256"]) == 64
    r = client_for(app, "legal-zhao").get(f"/documents/{doc_id}/pdf")
    assert r.status_code == 200                                       # in scope: readable
    bad = leader.post(f"/cases/{case['id']}/documents",
                      data={"csrf_token": csrf_of(page), "doc_type": "no_such_type"})
    assert bad.status_code == 302
    assert "文书未出具" in leader.get(f"/cases/{case['id']}").get_data(as_text=True)


def test_institution_consents_to_electronic_service_in_the_portal_and_staff_must_cite_the_form(portal, platform, tokens):
    app, rt, _ = portal
    case = new_case(app, platform, tokens)
    with rt.sessions() as s, s.begin():
        users.create_user(s, username=f"inst-{case['institution_id']}", password="inst-pass-1",
                          role="institution", institution_id=case["institution_id"])
    inst = client_for(app, f"inst-{case['institution_id']}", "inst-pass-1")
    page = inst.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="service-consent"' in page
    r = inst.post(f"/cases/{case['id']}/service-consent", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 302
    assert "已登记同意电子送达" in inst.get(f"/cases/{case['id']}").get_data(as_text=True)
    trail = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/audit", tokens["leader"]).json()
    entries = trail["entries"] if isinstance(trail, dict) else trail
    assert [e["actor_role"] for e in entries if e["action"] == "consent_electronic_service"] == ["institution"]
    leader = client_for(app, "leader-wang")
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    leader.post(f"/cases/{case['id']}/service-consent", data={"csrf_token": csrf_of(page)})
    refused = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "未登记" in refused and "须注明书面确认书" in refused   # staff must cite the signed form

