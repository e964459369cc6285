"""The main journey in a real browser, as far as the workflow goes today: an admin adds the
institution's user; the inspector records a finding in a form; the leader finds the case, starts
verification and opens it (with the two officers as data); inbox entries appear and are marked
read; the institution sees its own case and gets a 404 page for another's. Screenshots of every
role's main page land in test-artifacts/screenshots/."""
from __future__ import annotations

import json
import re
import uuid

import pytest

expect = pytest.importorskip("playwright.sync_api").expect

from tests.browser.portal_stack import demo_user, screenshot_path
from tests.support.platform import wait_for

# The UI does not depend on the backend; the real-backend pass runs tests/test_portal_platform.py.
pytestmark = [pytest.mark.browser, pytest.mark.platform, pytest.mark.embedded_only]

OFFICERS = {"officers": [{"id": "E001", "name": "张检查", "credential_no": "川医保执 001"},
                         {"id": "E002", "name": "刘检查", "credential_no": "川医保执 002"}]}


class Session:
    """One signed-in person: a browser context of its own, console errors collected."""

    def __init__(self, browser, base_url: str, username: str, password: str | None = None):
        self.ctx = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900},
                                       base_url=base_url)
        self.page = self.ctx.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        p = self.page
        p.goto("/")
        assert "/login" in p.url
        p.get_by_label("用户名").fill(username)
        p.get_by_label("密码").fill(password or demo_user(username)["password"])
        p.get_by_role("button", name="登录").click()
        p.wait_for_url(re.compile(r".*/(admin/users)?$"))

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(screenshot_path(name)), full_page=True)

    def close(self) -> None:
        assert not self.console_errors, self.console_errors   # e.g. a CSP violation
        self.ctx.close()


def _case_by_institution(platform, tokens, institution_id):
    def find():
        r = platform.call("GET", "cases", f"/api/v1/cases?institution_id={institution_id}",
                          tokens["leader"])
        items = r.json()["items"] if r.status_code == 200 else []
        return items[0] if items else None
    return wait_for(find, 40, what=f"case of {institution_id}")


def test_main_journey_through_the_portal(browser, portal_server, platform, tokens):
    base = portal_server.base_url
    inst_id = "HB" + uuid.uuid4().hex[:8].upper()
    inst_name = f"浏览器测试医院{inst_id[-4:]}"
    inst_user = f"inst-{inst_id.lower()}"

    # -- admin: the institution's account ------------------------------------------------------
    admin = Session(browser, base, "admin")
    a = admin.page
    expect(a.get_by_role("heading", name="用户管理")).to_be_visible()
    admin.shot("admin-users")
    a.get_by_role("link", name="新建用户").click()
    a.get_by_label("用户名（登录名）").fill(inst_user)
    a.get_by_label("姓名 / 机构名称").fill(inst_name)
    a.get_by_label("角色").select_option("institution")
    a.get_by_label("机构编码").fill(inst_id)
    a.get_by_label("初始密码（至少 8 位，含字母和数字）").fill("inst-pass-2026")
    a.get_by_role("button", name="保存").click()
    expect(a.get_by_text(f"已创建用户「{inst_user}」")).to_be_visible()
    admin.close()

    # -- inspector: record a finding -----------------------------------------------------------
    insp = Session(browser, base, "insp-zhang")
    p = insp.page
    expect(p.get_by_role("heading", name="检查/办案工作台")).to_be_visible()
    insp.shot("inspector-home")
    p.get_by_role("navigation", name="主导航").get_by_role("link", name="录入检查发现").click()
    p.get_by_label("机构编码").fill(inst_id)
    p.get_by_label("机构名称").fill(inst_name)
    p.get_by_label("违法类型").select_option("split_admission")
    p.get_by_label("涉及金额（元）").fill("48230.50")
    p.get_by_label("违法行为发生日期").fill("2026-03-15")
    p.get_by_label("问题描述").fill("飞行检查发现同一患者15日内因相同诊断再次住院 23 人次。")
    insp.shot("inspector-finding-form")
    p.get_by_role("button", name="提交").click()
    expect(p.get_by_text("检查发现已录入")).to_be_visible()
    expect(p.get_by_role("cell", name=re.compile(inst_name)).first).to_be_visible()

    case = _case_by_institution(platform, tokens, inst_id)
    other_inst = "HO" + uuid.uuid4().hex[:8].upper()
    r = platform.call("POST", "inspection", "/api/v1/findings", tokens["inspector"], json={
        "institution_id": other_inst, "institution_name": "另一家医院",
        "violation_type": "duplicate_charging", "amount": "100.00", "description": "他人案件",
        "act_date": "2026-03-01"})
    assert r.status_code == 201, r.text
    other_case = _case_by_institution(platform, tokens, other_inst)

    # -- leader: find the case, verify, open it ------------------------------------------------
    lead = Session(browser, base, "leader-wang")
    q = lead.page
    expect(q.get_by_role("heading", name="负责人工作台")).to_be_visible()
    lead.shot("leader-home")
    q.get_by_role("navigation", name="主导航").get_by_role("link", name="案件").click()
    q.get_by_label("搜索").fill(inst_id)
    q.get_by_role("button", name="查询").click()
    q.get_by_role("link", name=case["number"]).click()
    expect(q.get_by_role("heading", name=re.compile(re.escape(case["number"])))).to_be_visible()
    expect(q.locator('[aria-current="step"] .flow-label')).to_have_text("线索登记")
    expect(q.get_by_text("法律依据")).to_be_visible()

    q.get_by_label("理由 / 意见").fill("线索来源可靠，安排核查")
    q.get_by_role("button", name=re.compile("^开始核查")).click()
    expect(q.get_by_text("操作已完成")).to_be_visible()
    expect(q.locator('[aria-current="step"] .flow-label')).to_have_text("线索核查")
    expect(q.get_by_role("button", name=re.compile("^开始核查"))).to_have_count(0)   # no longer allowed
    q.get_by_text("补充数据（JSON，部分操作需要）").click()
    q.get_by_role("button", name="填入此格式").click()
    assert "officers" in q.get_by_label("补充数据", exact=True).input_value()
    q.get_by_label("补充数据", exact=True).fill(json.dumps(OFFICERS, ensure_ascii=False))
    q.get_by_label("理由 / 意见").fill("线索属实，予以立案")
    q.get_by_role("button", name=re.compile("^批准立案")).click()
    expect(q.get_by_text("操作已完成")).to_be_visible()
    expect(q.locator('[aria-current="step"] .flow-label')).to_have_text("已立案")
    timeline = q.locator("ol.timeline").inner_text()
    assert "批准立案" in timeline and "开始核查" in timeline and "线索属实，予以立案" in timeline
    lead.shot("leader-case")

    q.get_by_role("link", name="统计看板").click()
    expect(q.locator("figure.chart svg").first).to_be_visible()
    lead.shot("leader-dashboard")

    # -- inbox entries -------------------------------------------------------------------------
    def inbox_has(page, text):
        page.goto("/inbox")
        return page.locator("ul.inbox li", has_text=text).count() > 0
    wait_for(lambda: inbox_has(q, f"案件 {case['number']}：已立案"), 30, what="leader inbox entry")
    entry = q.locator("ul.inbox li.unread", has_text=f"案件 {case['number']}：已立案").first
    entry.get_by_role("button", name="标为已读").click()
    expect(q.get_by_text("已标记 1 条通知为已读")).to_be_visible()
    expect(q.locator("ul.inbox li.read", has_text=f"案件 {case['number']}：已立案")).to_have_count(1)
    lead.close()

    wait_for(lambda: inbox_has(p, f"案件 {case['number']}：已立案"), 30, what="inspector inbox")
    insp.shot("inspector-inbox")
    insp.close()

    # -- institution: its case only ------------------------------------------------------------
    inst = Session(browser, base, inst_user, "inst-pass-2026")
    s = inst.page
    expect(s.get_by_role("heading", name="定点医药机构工作台")).to_be_visible()
    expect(s.get_by_role("link", name=case["number"])).to_be_visible()
    expect(s.get_by_role("link", name=other_case["number"])).to_have_count(0)
    inst.shot("institution-home")
    s.get_by_role("link", name=case["number"]).click()
    expect(s.get_by_text("当前状态下您没有可执行的操作")).to_be_visible()
    response = s.goto(f"/cases/{other_case['id']}")
    assert response.status == 404
    expect(s.get_by_text("对象不存在或不在您的权限范围内")).to_be_visible()
    assert "Traceback" not in s.content()
    inst.console_errors.clear()       # the browser logs the (intended) 404 response
    inst.close()

    # -- the other roles' main pages -----------------------------------------------------------
    for username, heading, shot in (("legal-zhao", "法制审核工作台", "legal-reviewer-home"),
                                    ("panel-chen", "集体讨论工作台", "panel-member-home")):
        other = Session(browser, base, username)
        expect(other.page.get_by_role("heading", name=heading)).to_be_visible()
        other.shot(shot)
        other.close()


def test_keyboard_user_can_sign_in_and_skip_to_content(browser, portal_server):
    ctx = browser.new_context(locale="zh-CN", base_url=portal_server.base_url)
    page = ctx.new_page()
    page.goto("/login")
    assert page.evaluate("document.activeElement.id") == "username"     # autofocus
    page.keyboard.type("panel-chen")
    page.keyboard.press("Tab")
    page.keyboard.type(demo_user("panel-chen")["password"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/$"))
    expect(page.get_by_role("heading", name="集体讨论工作台")).to_be_visible()
    page.keyboard.press("Tab")                                             # first stop: skip link
    assert page.evaluate("document.activeElement.textContent") == "跳到主要内容"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    ctx.close()
