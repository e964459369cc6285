"""The portal as a backend-for-frontend over the real running services (in-process portal app,
Flask test client; the three services and workers are real processes): forms reach the APIs with
the user's token, actions come from the case's ``actions``, scope and errors show as Chinese."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.browser.portal_stack import PortalStack, demo_user
from tests.support.platform import wait_for

from fundguard_portal import users
from fundguard_portal.app import create_app
from fundguard_portal.runtime import PortalRuntime

pytestmark = pytest.mark.platform

OFFICERS = {"officers": [{"id": "E001", "name": "张检查", "credential_no": "川医保执 001"},
                         {"id": "E002", "name": "刘检查", "credential_no": "川医保执 002"}]}


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


def test_open_case_guard_failure_is_listed_then_data_from_the_form_opens_it(portal, platform, tokens):
    app, _, _ = portal
    case = new_case(app, platform, tokens)
    leader = client_for(app, "leader-wang")

    def fire(trigger, reason="", data=""):
        page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
        return leader.post(f"/cases/{case['id']}/transition", data={
            "csrf_token": csrf_of(page), "trigger": trigger, "reason": reason, "data": data,
            "version": re.search(r'name="version" value="(\d+)"', page).group(1)})

    assert fire("start_verification").status_code == 302
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "officers" in page                            # the data hint for 批准立案
    r = fire("open_case", "线索属实")
    assert r.status_code == 422 and "操作条件未满足" in r.get_data(as_text=True)
    r = fire("open_case", "线索属实", "{not json")
    assert r.status_code == 422 and "JSON" in r.get_data(as_text=True)
    r = fire("open_case", "线索属实", json.dumps(OFFICERS, ensure_ascii=False))
    assert r.status_code == 302, r.get_data(as_text=True)
    page = leader.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "已立案" in page and "批准立案" in page


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
