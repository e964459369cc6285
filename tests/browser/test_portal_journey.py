"""The main journey in a real browser, every step through the portal's pages on the running
platform: an admin adds the institution's user; the inspector records a finding; the leader
opens the case with two officers; the inspector investigates and reports (the proposed sanction
shows its legal range); the legal reviewer passes it from her queue; the leader convenes the
panel, one member is recused, three vote, the leader concludes and serves the prior notice
(事先告知); the institution files 陈述申辩 with an attachment; the inspector re-checks it; the
leader decides and serves the decision; the institution appeals; the leader sees the appeal and
the case on the dashboard and drills down. Every role's main page passes an accessibility check
(labels, contrast) and is saved as a screenshot in test-artifacts/screenshots/."""
from __future__ import annotations

import hashlib
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

expect = pytest.importorskip("playwright.sync_api").expect

from tests.browser.a11y import a11y_problems
from tests.browser.portal_stack import demo_user, screenshot_path

# Runs on both backends (embedded: SQLite + in-process bus; real: PostgreSQL + RabbitMQ).
pytestmark = [pytest.mark.browser, pytest.mark.platform]

DONE = "操作已完成"


def china_year() -> int:
    return datetime.now(timezone(timedelta(hours=8))).year


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
        """Screenshot of a main page, after checking its accessibility basics."""
        problems = a11y_problems(self.page)
        assert not problems, f"{name}: {problems}"
        self.page.screenshot(path=str(screenshot_path(name)), full_page=True)

    def open_case(self, case: dict) -> None:
        self.page.goto(f"/cases/{case['id']}")
        expect(self.page.get_by_role("heading", name=re.compile(re.escape(case["number"])))).to_be_visible()

    def step(self, trigger: str, fill=None, reason: str | None = None) -> None:
        """Open the form of one allowed action, fill it, submit it, expect success."""
        p = self.page
        box = p.locator(f"#step-{trigger}")
        box.locator("summary").click()
        form = box.locator("form")
        if fill:
            fill(form)
        if reason is not None:
            form.locator("textarea[name=reason]").fill(reason)
        form.locator("button[type=submit]").click()
        expect(p.get_by_text(DONE)).to_be_visible()

    def close(self) -> None:
        assert not self.console_errors, self.console_errors   # e.g. a CSP violation
        self.ctx.close()


def state_is(page, label: str) -> None:
    expect(page.locator('[aria-current="step"] .flow-label')).to_have_text(label)


def find_case(page, institution_id: str, timeout: float = 40) -> dict:
    """Search the case list until the case of ``institution_id`` shows (the finding becomes a
    case over the bus)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(f"/cases?q={institution_id}")
        link = page.locator("table.grid tbody a").first
        if link.count():
            number = link.inner_text().strip()
            case_id = link.get_attribute("href").rsplit("/", 1)[1]
            return {"id": case_id, "number": number}
        assert time.monotonic() < deadline, f"no case for {institution_id}"
        time.sleep(0.3)


def test_main_journey_through_the_portal(browser, portal_server):
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
    # periods of the journey (the 60-day appeal window) may cross into years after the
    # calendar package's range: the admin loads them, as in production
    for year in range(max(2027, china_year()), china_year() + 2):
        a.get_by_role("link", name="工作日历").click()
        a.get_by_label("年份").fill(str(year))
        a.get_by_label("放假日期（每行一个，YYYY-MM-DD）").fill(f"{year}-01-01\n{year}-10-01")
        a.get_by_label("依据（通知名称）").fill(f"浏览器测试：{year} 年节假日安排")
        a.get_by_role("button", name="载入").click()
        expect(a.get_by_text(f"已载入 {year} 年工作日历")).to_be_visible()
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

    # -- leader: find the case, verify, open it with two officers ------------------------------
    lead = Session(browser, base, "leader-wang")
    q = lead.page
    expect(q.get_by_role("heading", name="负责人工作台")).to_be_visible()
    lead.shot("leader-home")
    case = find_case(q, inst_id)
    q.get_by_role("link", name=case["number"]).click()
    state_is(q, "线索登记")
    expect(q.locator("#step-decide")).to_have_count(0)            # only this user's actions, now
    lead.step("start_verification", reason="线索来源可靠，安排核查")
    state_is(q, "线索核查")
    expect(q.locator("#step-start_verification")).to_have_count(0)

    def officers(form):
        form.get_by_label("第1名 办案人员").select_option("insp-zhang")
        form.get_by_label("第1名 执法证号").fill("川医保执 001")
        form.get_by_label("第2名 办案人员").select_option("insp-li")
        form.get_by_label("第2名 执法证号").fill("川医保执 002")
    lead.step("open_case", officers, reason="线索属实，予以立案")
    state_is(q, "已立案")
    expect(q.locator("#file-h + *")).to_be_visible()
    assert "川医保执 002" in q.locator("section[aria-labelledby=file-h]").inner_text()
    lead.shot("leader-case")

    # -- inspector: investigate, report with the proposed sanctions, send to legal review ------
    insp.open_case(case)
    insp.step("start_investigation")
    state_is(p, "调查取证")

    def report(form):
        form.get_by_label("第1项 种类").select_option("order_refund")
        form.get_by_label("第1项 金额（元）").fill("48230.50")
        form.get_by_label("第2项 种类").select_option("fine")
        form.get_by_label("第2项 金额（元）").fill("48230.50")
        form.get_by_label("情节复杂").check()
    insp.step("submit_report", report, reason="查明分解住院 23 人次，建议责令退回并处一倍罚款")
    ranges = p.locator("#sanctions").inner_text()
    assert "法定幅度 1–2 倍（48,230.50–96,461.00 元）" in ranges, ranges
    insp.step("submit_for_review")
    state_is(p, "法制审核")
    insp.shot("inspector-case")
    p.get_by_role("navigation", name="主导航").get_by_role("link", name="我的待办").click()
    task = p.locator("#tasks tr", has_text=case["number"]).filter(has_text="法制审核").first
    expect(task).to_contain_text("个工作日")                     # due date, working days left
    insp.shot("inspector-tasks")

    # -- legal reviewer: from the queue to the case file, pass with an opinion -----------------
    legal = Session(browser, base, "legal-zhao")
    r = legal.page
    expect(r.get_by_role("heading", name="法制审核工作台")).to_be_visible()
    legal.shot("legal-reviewer-home")
    r.get_by_role("link", name=case["number"]).click()
    row = r.locator("#sanctions tr", has_text="罚款")
    expect(row).to_contain_text("48,230.50 元")
    expect(row).to_contain_text("法定幅度 1–2 倍")
    expect(r.locator("#step-return_review")).to_have_count(1)     # pass or return, with reasons
    legal.step("pass_review", reason="事实清楚，证据确实充分，处罚在法定幅度内，同意")
    state_is(r, "法制审核通过")
    legal.shot("legal-reviewer-case")
    legal.close()

    # -- leader: panel with four members, one recused ------------------------------------------
    lead.open_case(case)

    def panel(form):
        for name in ("陈委员", "刘委员", "孙委员", "周委员"):
            form.get_by_label(re.compile(name)).check()
        form.get_by_label("议题").fill(f"{case['number']} 处罚裁量")
    lead.step("convene_panel", panel)
    state_is(q, "集体讨论")
    lead.step("recuse", lambda f: (f.get_by_label("回避人员").select_option("panel_member:panel-zhou"),
                                   f.get_by_label("申请方式").select_option("member")),
              reason="周委员与当事人有利害关系")

    for member in ("panel-chen", "panel-liu", "panel-sun"):
        m = Session(browser, base, member)
        if member == "panel-chen":
            expect(m.page.get_by_role("heading", name="集体讨论工作台")).to_be_visible()
            m.shot("panel-member-home")
        m.page.get_by_role("link", name=case["number"]).click()
        m.step("cast_vote", lambda f: (f.get_by_label("表决意见").select_option("agree"),
                                       f.get_by_label("同意的裁量档次").select_option("ordinary")))
        m.close()

    lead.open_case(case)
    votes = q.locator("#votes").inner_text()
    assert votes.count("同意") == 3 and "已回避" in votes, votes
    lead.step("conclude_panel", lambda f: f.get_by_label("集体讨论决定的裁量档次").select_option("ordinary"),
              reason="经集体讨论，按一般档处罚")
    state_is(q, "集体讨论已决")
    lead.step("notify")
    state_is(q, "事先告知（陈述申辩）")

    # -- institution: 陈述申辩 with an attachment ------------------------------------------------
    inst = Session(browser, base, inst_user, "inst-pass-2026")
    s = inst.page
    expect(s.get_by_role("heading", name="定点医药机构工作台")).to_be_visible()
    inst.shot("institution-home")
    s.get_by_role("link", name=case["number"]).click()
    expect(s.locator("#step-request_hearing, #step-file_defence")).not_to_have_count(0)

    report = b"%PDF-1.4\n% rectified\n%%EOF\n"

    def defence(form):
        form.get_by_label("附件（证明材料）").set_input_files(
            {"name": "整改报告.pdf", "mimeType": "application/pdf", "buffer": report})
    inst.step("file_defence", defence, reason="部分住院系病情需要，已全部整改，请求从轻处理")
    assert "整改报告.pdf" in s.locator("ol.timeline").inner_text()
    # the original is stored by the cases service: its SHA-256 is listed with the case
    listed = s.locator("#attachments")
    expect(listed).to_contain_text(hashlib.sha256(report).hexdigest())
    expect(listed).to_contain_text("整改报告.pdf")
    expect(listed).to_contain_text("提出陈述申辩")
    href = listed.get_by_role("link", name="整改报告.pdf").get_attribute("href")
    original = s.request.get(base + href)   # through the portal, with the institution's session
    assert original.ok and original.body() == report
    inst.shot("institution-case")

    # -- inspector re-checks the defence; leader decides and serves ----------------------------
    insp.open_case(case)
    insp.step("recheck_defence", reason="申辩理由不能成立，维持原处理意见")
    insp.close()

    lead.open_case(case)
    lead.step("decide", reason="依据条例第三十八条作出处罚决定")
    state_is(q, "已决定")
    lead.step("serve")
    state_is(q, "已送达")

    # -- institution appeals -------------------------------------------------------------------
    inst.open_case(case)
    inst.step("file_appeal", lambda f: (f.get_by_label("救济途径").select_option("administrative_review"),
                                        f.get_by_label("请求与理由").fill("请求撤销罚款")))
    expect(s.locator("#appeals")).to_contain_text("待决")
    inst.close()

    # -- leader: the dashboard shows it; drill down --------------------------------------------
    q.get_by_role("navigation", name="主导航").get_by_role("link", name="统计看板").click()
    expect(q.locator("figure.chart svg").first).to_be_visible()
    expect(q.locator("#appeals-pending")).to_contain_text(case["number"])
    lead.shot("leader-dashboard")
    q.locator("figure.chart a", has_text="已送达").first.click()
    expect(q.get_by_role("link", name=case["number"])).to_be_visible()
    timeline = (lead.open_case(case), q.locator("ol.timeline").inner_text())[1]
    for step in ("批准立案", "提交调查终结报告", "法制审核通过", "决定回避", "集体讨论决定",
                 "送达事先告知书", "提出陈述申辩", "作出决定", "送达决定书", "申请复议/提起诉讼/申诉"):
        assert step in timeline, step
    lead.close()


def test_institution_sees_only_its_cases_and_a_readable_404(browser, portal_server):
    inst = Session(browser, portal_server.base_url, "inst-hx")
    s = inst.page
    response = s.goto(f"/cases/{uuid.uuid4()}")
    assert response.status == 404
    expect(s.get_by_text("对象不存在或不在您的权限范围内")).to_be_visible()
    assert "Traceback" not in s.content()
    inst.console_errors.clear()       # the browser logs the (intended) 404 response
    inst.close()


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
    # the focused element is visibly outlined
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    ctx.close()
