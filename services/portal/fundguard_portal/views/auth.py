"""Sign-in and sign-out."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from fundguard_shared.ratelimit import rate_limited

from .. import users
from ..models import RATE_LIMITS
from .common import portal, safe_next

bp = Blueprint("auth", __name__)

LOGIN_ERRORS = {
    "bad_credentials": "用户名或密码错误",
    "inactive": "账户已停用，请联系管理员",
}


def _client_address() -> str:
    return request.remote_addr or "-"


def login_rate_limited(view):
    """At most PORTAL_LOGIN_RATE_LIMIT sign-in attempts per PORTAL_LOGIN_RATE_WINDOW seconds
    from one address (successful or not), on top of the per-account lockout: it slows password
    spraying across many accounts, which the lockout alone does not."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        rt = portal()
        limited = rate_limited(lambda: rt.engine, RATE_LIMITS, "login",
                               limit=rt.settings.login_rate_limit,
                               per_seconds=rt.settings.login_rate_window,
                               key=_client_address)(view)
        return limited(*args, **kwargs)
    return wrapper


@bp.get("/login")
def login():
    if g.user is not None:
        return redirect(safe_next(request.args.get("next")))
    notice = "登录已过期，请重新登录" if request.args.get("expired") else None
    return render_template("login.html", next=safe_next(request.args.get("next"), ""),
                           notice=notice, username="")


@bp.post("/login")
@login_rate_limited
def login_post():
    rt = portal()
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    nxt = safe_next(request.form.get("next"))
    with rt.sessions() as s, s.begin():
        result = users.authenticate(s, username, password, rt.settings)
        token = users.start_session(s, result.user, rt.settings) if result.user else None
    if token is None:
        if result.error == "locked":
            error = f"登录失败次数过多，账户已锁定，请 {result.locked_minutes} 分钟后再试或联系管理员"
        else:
            error = LOGIN_ERRORS[result.error]
        return render_template("login.html", error=error, next=nxt, username=username), 401
    resp = redirect(nxt)
    resp.set_cookie(rt.settings.cookie_name, token, httponly=True, samesite="Strict",
                    secure=rt.settings.cookie_secure, path="/",
                    max_age=rt.settings.session_max_hours * 3600)
    g.clear_cookie = False
    return resp


@bp.post("/logout")
def logout():
    rt = portal()
    with rt.sessions() as s, s.begin():
        users.end_session(s, request.cookies.get(rt.settings.cookie_name))
    g.clear_cookie = True
    flash("您已安全退出", "info")
    return redirect(url_for("auth.login"))
