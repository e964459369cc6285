"""Flask app factory of the portal: sign-in, sessions, CSRF, security headers, error pages."""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from urllib.parse import urlsplit

from flask import Flask, Response, abort, g, redirect, render_template, request, session, url_for
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from fundguard_shared.errors import ApiError, problem
from fundguard_shared.logs import request_id_var, setup_logging
from fundguard_shared.metrics import HTTP_LATENCY, HTTP_REQUESTS

from . import labels, users
from .bff import ServiceError
from .runtime import PortalRuntime, runtime

log = logging.getLogger("fundguard_portal")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    # Everything is served by the portal itself; no inline script or style, no CDN.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; object-src 'none'",
}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
PUBLIC_ENDPOINTS = {"static", "healthz", "readyz", "metrics", "auth.login", "auth.login_post"}

HTTP_MESSAGES = {
    400: "请求无效",
    403: "您的角色无权访问此页面",
    404: "页面或对象不存在，或不在您的权限范围内",
    405: "不支持该请求方法",
    413: "提交的内容过大",
    429: "请求过于频繁，请稍后再试",
    500: "系统内部错误，请稍后再试",
    502: "后台服务返回了错误",
    503: "服务暂不可用，请稍后再试",
}


def _cookie_key(rt: PortalRuntime) -> str:
    """Key of Flask's signed cookie (flash messages, the pre-login CSRF token). Derived from the
    JWT secret with a label, so every gunicorn worker agrees without another secret to manage."""
    secret = rt.settings.base.jwt_secret
    if not secret:
        return secrets.token_urlsafe(32)   # no secret: cookies valid for this process only
    return hmac.new(secret.encode(), b"fundguard-portal-cookie-v1", hashlib.sha256).hexdigest()


def create_app(rt: PortalRuntime | None = None) -> Flask:
    rt = rt or runtime()
    settings = rt.settings
    setup_logging("portal", settings.base.log_level)
    app = Flask(__name__)
    app.config.update(
        PORTAL=rt,
        SECRET_KEY=_cookie_key(rt),
        SESSION_COOKIE_NAME="fg_ui",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        MAX_CONTENT_LENGTH=settings.base.max_body_bytes,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.filters.update(dt=labels.fmt_dt, amount=labels.fmt_amount)
    app.jinja_env.globals.update(ROLE_LABELS=labels.ROLE_LABELS, scope_text=labels.scope_text,
                                 VIOLATION_LABELS=labels.VIOLATION_LABELS,
                                 SOURCE_LABELS=labels.SOURCE_LABELS,
                                 PARTY_LABELS=labels.PARTY_LABELS)

    from .views import admin, auth, documents, inspect, pages
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(inspect.bp)
    app.register_blueprint(documents.bp)
    from .views import public
    app.register_blueprint(public.bp)  # 公示: no sign-in

    @app.before_request
    def _start():
        g.request_id = str(uuid.uuid4())
        g.started = time.perf_counter()
        request_id_var.set(g.request_id)
        g.user = None
        g.login_session = None
        g.clear_cookie = False
        token = request.cookies.get(settings.cookie_name)
        if token and request.endpoint not in ("static", "healthz", "readyz", "metrics"):
            with rt.sessions() as s, s.begin():
                found = users.load_session(s, token, settings)
                if found:
                    g.login_session, g.user = found
                else:
                    g.clear_cookie = True
        if request.method in UNSAFE:
            _check_csrf()

    def _check_csrf() -> None:
        if request.endpoint == "auth.logout" and g.login_session is None:
            return   # nothing to sign out of; the view just clears the cookie
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            abort(400, description="csrf_origin")
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        expected = g.login_session.csrf_token if g.login_session else session.get("csrf")
        if not expected or not hmac.compare_digest(str(sent), str(expected)):
            abort(400, description="csrf")

    @app.context_processor
    def _context():
        if g.get("login_session") is not None:
            token = g.login_session.csrf_token
        else:
            token = session.get("csrf")
            if not token:
                token = session["csrf"] = secrets.token_urlsafe(32)
        return {"csrf_token": token, "current_user": g.get("user"),
                "request_id": g.get("request_id")}

    @app.after_request
    def _finish(resp: Response):
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)
        if request.endpoint == "static":
            resp.headers["Cache-Control"] = "public, max-age=3600"
        if g.get("clear_cookie"):
            resp.delete_cookie(settings.cookie_name, path="/", secure=settings.cookie_secure,
                               httponly=True, samesite="Strict")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels("portal", request.method, endpoint, resp.status_code).inc()
        if g.get("started"):
            HTTP_LATENCY.labels("portal", endpoint).observe(time.perf_counter() - g.started)
        return resp

    @app.errorhandler(ServiceError)
    def _service_error(err: ServiceError):
        if err.status == 401:
            return redirect(url_for("auth.login", expired=1))
        status = err.status if err.status in (403, 404, 409, 422) else 502 if err.status < 503 else 503
        return render_template("error.html", status=status, message=err.message,
                               details=err.details), status

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        """E.g. the sign-in rate limit (429 ``rate_limited``): problem+json for API clients, the
        page (sign-in form or error page) for browsers; ``Retry-After`` either way."""
        wants_json = request.accept_mimetypes.best_match(
            ["text/html", "application/problem+json", "application/json"],
            default="text/html") != "text/html"
        if wants_json:
            resp = problem(err.status, err.code, err.zh, err.en, **err.extra)
        elif request.endpoint == "auth.login_post":
            resp = Response(render_template(
                "login.html", error=err.zh, next="/", username=request.form.get("username", "")),
                status=err.status, mimetype="text/html")
        else:
            resp = Response(render_template("error.html", status=err.status, message=err.zh,
                                            details=[]), status=err.status, mimetype="text/html")
        if "retry_after" in err.extra:
            resp.headers["Retry-After"] = str(err.extra["retry_after"])
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        if status == 400 and err.description in ("csrf", "csrf_origin"):
            message = "表单已过期或来源无效，请刷新页面后重新提交"
        else:
            message = HTTP_MESSAGES.get(status, "请求未能完成")
        return render_template("error.html", status=status, message=message, details=[]), status

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return render_template("error.html", status=500, message=HTTP_MESSAGES[500],
                               details=[]), 500

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "service": "portal"}

    @app.get("/readyz")
    def readyz():
        try:
            with rt.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return {"status": "ready", "checks": {"database": "ok"}}
        except Exception as exc:
            return {"status": "not_ready",
                    "checks": {"database": f"error: {type(exc).__name__}"}}, 503

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    return app
