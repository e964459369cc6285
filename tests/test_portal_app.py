"""Portal sign-in, sessions, CSRF, lockout, roles and error pages, with Flask's test client.

No service runs here: the service URLs point at a closed port, so the pages also show what a
user sees when the services are down (a Chinese message, never a stack trace)."""
from __future__ import annotations

import importlib.util
import re
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from fundguard_portal import passwords, users
from fundguard_portal.bff import ServiceError, error_from_response
from fundguard_portal.config import load_portal_settings
from fundguard_portal.models import LoginSession, User, utcnow
from fundguard_portal.runtime import PortalRuntime
from fundguard_portal.views.pages import _csv_cell
from fundguard_portal.workflow_view import flow_items, parse_mermaid
from fundguard_shared.migrate import upgrade
from tests.support.platform import ROOT

PASSWORD = "s3cret-pass"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]     # nothing listens there once the socket is closed


@pytest.fixture
def rt(tmp_path, monkeypatch) -> PortalRuntime:
    dead = f"http://127.0.0.1:{_closed_port()}"
    env = {"PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
           "FUNDGUARD_VAR_DIR": str(tmp_path), "FUNDGUARD_JWT_SECRET": "t" * 40,
           "PORTAL_LOCKOUT_THRESHOLD": "3", "PORTAL_LOCKOUT_MINUTES": "15",
           "PORTAL_SESSION_IDLE_MINUTES": "30", "PORTAL_SESSION_MAX_HOURS": "8",
           "INSPECTION_URL": dead, "CASES_URL": dead, "NOTIFY_URL": dead,
           "PORTAL_SERVICE_TIMEOUT": "2"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = load_portal_settings()
    upgrade("fundguard_portal", settings.database_url)
    runtime = PortalRuntime.create(settings)
    with runtime.sessions() as s, s.begin():
        users.create_user(s, username="insp", password=PASSWORD, role="inspector",
                          display_name="张检查", region="510100", department="稽核一科")
        users.create_user(s, username="boss", password=PASSWORD, role="leader",
                          display_name="王局长", region="510100")
        users.create_user(s, username="inst", password=PASSWORD, role="institution",
                          display_name="某医院", institution_id="H5101001")
        users.create_user(s, username="root", password=PASSWORD, role="admin",
                          display_name="管理员")
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def app(rt):
    from fundguard_portal.app import create_app
    return create_app(rt)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username, password=PASSWORD, next_="/"):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token, "next": next_})


def page_csrf(client, path="/workflow") -> str:
    return csrf_of(client.get(path).get_data(as_text=True))


# ---- passwords --------------------------------------------------------------------------------

def test_passwords_are_stored_as_salted_scrypt_hashes():
    h1, h2 = passwords.hash_password("abc12345"), passwords.hash_password("abc12345")
    assert h1.startswith("scrypt$16384$8$1$") and h1 != h2          # salted
    assert passwords.verify_password("abc12345", h1)
    assert not passwords.verify_password("abc12346", h1)
    assert not passwords.verify_password("abc12345", "md5$whatever")
    assert passwords.password_problem("short1") and passwords.password_problem("onlyletters")
    assert passwords.password_problem("good-pass-1") is None


# ---- sign-in ----------------------------------------------------------------------------------

def test_login_sets_httponly_samesite_strict_cookie_and_shows_role_home(app):
    c = app.test_client()
    assert c.get("/").headers["Location"].startswith("/login")
    r = login(c, "insp")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("fg_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    html = c.get("/").get_data(as_text=True)
    assert "检查/办案工作台" in html and "张检查" in html


def test_wrong_password_and_unknown_user_get_the_same_answer(app):
    c = app.test_client()
    r1 = login(c, "insp", "wrong-password")
    r2 = login(c, "nobody", "wrong-password")
    assert r1.status_code == r2.status_code == 401
    assert "用户名或密码错误" in r1.get_data(as_text=True)
    assert "用户名或密码错误" in r2.get_data(as_text=True)


def test_lockout_after_threshold_refuses_even_the_right_password(app, rt):
    c = app.test_client()
    for _ in range(2):
        assert login(c, "insp", "bad-one-1").status_code == 401
    r = login(c, "insp", "bad-one-1")          # third failure (threshold 3) locks
    assert "账户已锁定" in r.get_data(as_text=True)
    r = login(c, "insp", PASSWORD)
    assert r.status_code == 401 and "账户已锁定" in r.get_data(as_text=True)
    with rt.sessions() as s, s.begin():        # the lock runs out
        s.execute(update(User).where(User.username == "insp")
                  .values(locked_until=utcnow() - timedelta(seconds=1)))
    assert login(c, "insp", PASSWORD).status_code == 302


def test_admin_can_unlock_a_locked_account(app):
    c = app.test_client()
    for _ in range(3):
        login(c, "boss", "bad-one-1")
    admin = app.test_client()
    login(admin, "root")
    listing = admin.get("/admin/users").get_data(as_text=True)
    assert "已锁定" in listing
    user_id = re.search(r'href="/admin/users/([^"]+)">boss<', listing).group(1)
    edit = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "解除锁定" in edit
    admin.post(f"/admin/users/{user_id}", data={"csrf_token": csrf_of(edit), "unlock": "1"})
    assert login(c, "boss").status_code == 302


def test_login_post_without_csrf_token_is_refused(app):
    c = app.test_client()
    c.get("/login")
    r = c.post("/login", data={"username": "insp", "password": PASSWORD, "next": "/"})
    assert r.status_code == 400
    assert "表单已过期或来源无效" in r.get_data(as_text=True)
    r = c.post("/login", data={"username": "insp", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400


def test_signed_in_post_needs_the_sessions_csrf_token_and_same_origin(app):
    c = app.test_client()
    login(c, "insp")
    assert c.post("/inbox/read", data={"id": "x"}).status_code == 400
    token = page_csrf(c)
    r = c.post("/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 400
    assert c.get("/workflow").status_code == 200            # still signed in
    r = c.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302
    assert c.get("/workflow").headers["Location"].startswith("/login")


def test_logout_ends_the_server_side_session(app):
    c = app.test_client()
    login(c, "insp")
    cookie = c.get_cookie("fg_session").value
    c.post("/logout", data={"csrf_token": page_csrf(c)})
    other = app.test_client()
    other.set_cookie("fg_session", cookie)                  # a copied cookie is worthless now
    assert other.get("/workflow").status_code == 302


def test_idle_session_expires(app, rt):
    c = app.test_client()
    login(c, "insp")
    assert c.get("/workflow").status_code == 200
    with rt.sessions() as s, s.begin():
        s.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    r = c.get("/workflow")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    with rt.sessions() as s:
        assert s.execute(select(LoginSession)).first() is None


def test_session_expires_after_its_maximum_lifetime_even_when_used(app, rt):
    c = app.test_client()
    login(c, "insp")
    with rt.sessions() as s, s.begin():
        s.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert c.get("/workflow").status_code == 302


def test_forged_session_cookie_is_not_a_session(app):
    c = app.test_client()
    c.set_cookie("fg_session", "made-up-value")
    r = c.get("/workflow")
    assert r.status_code == 302
    assert any(h.startswith("fg_session=;") for h in r.headers.getlist("Set-Cookie"))


def test_next_parameter_never_redirects_off_site(app):
    c = app.test_client()
    assert login(c, "insp", next_="//evil.example/x").headers["Location"] == "/"
    c2 = app.test_client()
    assert login(c2, "insp", next_="/inbox").headers["Location"] == "/inbox"


# ---- roles -----------------------------------------------------------------------------------

@pytest.mark.parametrize("username,path", [
    ("insp", "/admin/users"), ("boss", "/admin/users/new"), ("inst", "/dashboard"),
    ("insp", "/dashboard"), ("inst", "/findings/new"), ("root", "/cases"),
    ("inst", "/dashboard/cases.csv"), ("inst", "/evidence"), ("inst", "/screening"),
    ("inst", "/complaints/new"), ("inst", "/tasks"), ("insp", "/admin/calendar"),
])
def test_wrong_role_gets_a_403_page(app, username, path):
    c = app.test_client()
    login(c, username)
    r = c.get(path)
    assert r.status_code == 403
    assert "无权访问" in r.get_data(as_text=True)


def test_admin_pages_redirect_anonymous_users_to_login(app):
    r = app.test_client().get("/admin/users")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_admin_creates_a_user_who_can_then_sign_in(app):
    admin = app.test_client()
    login(admin, "root")
    form = admin.get("/admin/users/new").get_data(as_text=True)
    base = {"csrf_token": csrf_of(form), "username": "legal-new", "display_name": "新法制",
            "role": "legal_reviewer", "region": "", "password": "Another-pass1"}
    r = admin.post("/admin/users/new", data=base)
    assert r.status_code == 422 and "统筹区" in r.get_data(as_text=True)     # scope required
    r = admin.post("/admin/users/new", data=base | {"region": "510100"})
    assert r.status_code == 302
    c = app.test_client()
    assert login(c, "legal-new", "Another-pass1").status_code == 302
    assert "法制审核工作台" in c.get("/").get_data(as_text=True)


def test_admin_cannot_remove_own_admin_role(app, rt):
    admin = app.test_client()
    login(admin, "root")
    with rt.sessions() as s:
        root_id = s.execute(select(User.id).where(User.username == "root")).scalar_one()
    edit = admin.get(f"/admin/users/{root_id}").get_data(as_text=True)
    r = admin.post(f"/admin/users/{root_id}", data={
        "csrf_token": csrf_of(edit), "role": "leader", "region": "510100", "active": "1",
        "display_name": "管理员"})
    assert r.status_code == 422 and "不能取消自己的管理员角色" in r.get_data(as_text=True)


def test_deactivating_or_rescoping_a_user_ends_their_sessions(app, rt):
    victim = app.test_client()
    login(victim, "insp")
    assert victim.get("/workflow").status_code == 200
    admin = app.test_client()
    login(admin, "root")
    with rt.sessions() as s:
        insp_id = s.execute(select(User.id).where(User.username == "insp")).scalar_one()
    edit = admin.get(f"/admin/users/{insp_id}").get_data(as_text=True)
    r = admin.post(f"/admin/users/{insp_id}", data={
        "csrf_token": csrf_of(edit), "role": "inspector", "region": "510100",
        "department": "稽核二科", "active": "1", "display_name": "张检查"})
    assert r.status_code == 302
    assert victim.get("/workflow").status_code == 302        # new scope: sign in again
    login(victim, "insp")
    with rt.sessions() as s:
        assert s.execute(select(User.department).where(User.username == "insp")).scalar_one() == "稽核二科"


# ---- errors: readable Chinese, never a stack trace -------------------------------------------

def test_services_down_pages_show_chinese_messages_without_stack_traces(app):
    c = app.test_client()
    login(c, "boss")
    home = c.get("/")
    assert home.status_code == 200 and "案件服务暂时无法访问" in home.get_data(as_text=True)
    for path in ("/cases", "/cases/some-id", "/dashboard", "/inbox", "/findings", "/evidence",
                 "/complaints", "/screening", "/screening/runs/r1", "/tasks",
                 "/cases?sort=amount&q=x"):
        r = c.get(path)
        text = r.get_data(as_text=True)
        assert r.status_code == 503, path
        assert "暂时无法访问" in text and "Traceback" not in text, path


def test_informant_fields_are_offered_to_complaint_handlers_only(app, monkeypatch):
    c = app.test_client()
    login(c, "insp")
    assert 'name="informant_name"' in c.get("/complaints/new").get_data(as_text=True)
    monkeypatch.setenv("FUNDGUARD_COMPLAINT_HANDLER_IDS", "someone-else")
    html = c.get("/complaints/new").get_data(as_text=True)
    assert 'name="informant_name"' not in html and "不是举报承办人员" in html
    # a real-name complaint from a non-handler is refused before anything is sent
    r = c.post("/complaints/new", data={"csrf_token": csrf_of(html), "channel": "phone",
                                        "institution_id": "H1", "institution_name": "某医院",
                                        "summary": "x", "real_name": "1",
                                        "informant_name": "王某", "informant_phone": "138"})
    assert r.status_code == 422 and "举报承办人员" in r.get_data(as_text=True)


def test_admin_calendar_errors_are_chinese_and_nothing_is_sent_without_a_year(app):
    c = app.test_client()
    login(c, "root")
    html = c.get("/admin/calendar").get_data(as_text=True)
    assert 'for="year"' in html and 'for="holidays"' in html
    r = c.post("/admin/calendar", data={"csrf_token": csrf_of(html), "year": "明年"})
    assert r.status_code == 422 and "请填写年份" in r.get_data(as_text=True)
    r = c.post("/admin/calendar", data={"csrf_token": csrf_of(html), "year": "2027",
                                        "holidays": "2027-01-01", "source": "通知"})
    assert r.status_code == 503 and "案件服务暂时无法访问" in r.get_data(as_text=True)


def test_unknown_page_is_a_chinese_404(app):
    c = app.test_client()
    login(c, "insp")
    r = c.get("/no/such/page")
    assert r.status_code == 404 and "页面或对象不存在" in r.get_data(as_text=True)


def test_security_headers_forbid_inline_script_and_framing(app):
    r = app.test_client().get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"


def test_templates_and_assets_load_nothing_from_outside():
    pkg = ROOT / "services/portal/fundguard_portal"
    for f in list((pkg / "templates").glob("*.html")) + list((pkg / "static").glob("*")):
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f
        assert "@import" not in text and not re.search(r"url\(['\"]?(https?:)?//", text), f


class _Resp:
    def __init__(self, status, body, headers=None):
        self.status_code, self._body, self.headers = status, body, headers or {}

    def json(self):
        if self._body is None:
            raise ValueError
        return self._body


def test_service_problems_become_readable_chinese_messages():
    stale = error_from_response("cases", _Resp(409, {"code": "stale_version",
                                                     "message_zh": "案件已被他人修改，请刷新后重试"}))
    assert stale.message == "案件已被他人修改，请刷新"
    guard = error_from_response("cases", _Resp(422, {
        "code": "guard_failed", "message_zh": "x",
        "failures": [{"code": "officers_required", "message_zh": "立案须指派至少两名持有执法证的办案人员"}]}))
    assert guard.message == "操作条件未满足" and guard.details == ["立案须指派至少两名持有执法证的办案人员"]
    invalid = error_from_response("inspection", _Resp(422, {
        "code": "validation_failed", "message_zh": "输入校验未通过",
        "errors": {"json": {"amount": ["Not a valid number."],
                            "institution_id": ["Missing data for required field."]}}}))
    assert invalid.message == "输入校验未通过"
    assert sorted(invalid.details) == ["机构编码：必填", "涉及金额：不是有效的数字"]
    crash = error_from_response("notify", _Resp(500, None, {"X-Request-ID": "rid-1"}))
    assert crash.message == "通知服务处理请求时出错，请稍后再试（请求编号 rid-1）"
    assert isinstance(crash, ServiceError)


# ---- small rules -------------------------------------------------------------------------------

MERMAID = """stateDiagram-v2
    [*] --> a
    a : 甲
    b : 乙
    c : 丙
    a --> b : 前进
    b --> b : 记录
    b --> c : 完成
    c --> [*]"""


def test_workflow_diagram_is_read_from_mermaid_and_marks_the_current_state():
    d = parse_mermaid(MERMAID)
    assert d.initial == "a" and d.final == {"c"} and d.ordered() == ["a", "b", "c"]
    assert d.next_states("b") == ["c"]                       # self-loops are not a next state
    items = {i["name"]: i["status"] for i in flow_items(d, "b", {"a", "b"})}
    assert items == {"a": "done", "b": "current", "c": "next"}


def test_csv_export_cells_cannot_become_formulas():
    assert _csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _csv_cell("成都某某医院") == "成都某某医院" and _csv_cell(None) == ""


def test_demo_users_match_the_platform_demo_script():
    spec = importlib.util.spec_from_file_location("fg_demo_script", ROOT / "scripts/demo.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from fundguard_portal.demo import DEMO_USERS
    ours = {(u, r, reg, dept, inst) for u, r, _, reg, dept, inst in DEMO_USERS}
    theirs = {(p.sub, p.role, p.region, p.department, p.institution_id) for p in mod.DEMO_USERS}
    assert ours == theirs


def test_cli_seed_demo_users_is_idempotent_and_users_can_sign_in(rt, app, capsys):
    from fundguard_portal.cli import main
    from fundguard_portal.demo import DEMO_PASSWORD, DEMO_USERS
    import fundguard_portal.runtime as runtime_mod
    runtime_mod.runtime.cache_clear()
    try:
        main(["seed-demo-users"])
        main(["seed-demo-users"])
    finally:
        runtime_mod.runtime.cache_clear()
    out = capsys.readouterr().out
    assert f"demo users: {len(DEMO_USERS)} created" in out and "0 created" in out
    c = app.test_client()
    assert login(c, "leader-wang", DEMO_PASSWORD).status_code == 302
