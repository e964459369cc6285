"""What every service's Flask app has: problem+json errors, request ids, JSON logs, body limits,
security headers, /healthz, /readyz, /metrics, and the flask-smorest API with offline docs."""
from __future__ import annotations

import re
import time
import uuid
from typing import Callable

from flask import Flask, Response, g, request, send_from_directory
from flask_smorest import Api
from marshmallow import fields
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from swagger_ui_bundle import swagger_ui_path

from .config import Settings
from .errors import ApiError, register_error_handlers
from .logs import request_id_var, setup_logging
from .metrics import HTTP_LATENCY, HTTP_REQUESTS

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' "
                               "'unsafe-inline'; script-src 'self' 'unsafe-inline'",
}


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

def _refuse_nul_characters() -> None:
    """PostgreSQL text cannot hold U+0000; refuse it up front (422) instead of failing late."""
    if "\x00" in request.path or any("\x00" in k or "\x00" in v
                                      for k, v in request.args.items(multi=True)):
        raise ApiError(422, "nul_character", "请求中含有空字符（U+0000）",
                       "The request contains a NUL character (U+0000)")
    if request.mimetype == "application/json" and b"\\u0000" in request.get_data(cache=True):
        raise ApiError(422, "nul_character", "请求中含有空字符（U+0000）",
                       "The request contains a NUL character (U+0000)")


def create_base_app(name: str, title: str, settings: Settings, engine,
                    broker_check: Callable[[], None]) -> tuple[Flask, Api]:
    setup_logging(name, settings.log_level)
    app = Flask(name)
    app.config.update(
        SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        # Offline docs: Swagger UI served from the pinned swagger-ui-bundle package (no CDN).
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/api/v1/_swagger/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearerAuth": []}],
        },
    )
    app.json.ensure_ascii = False
    api = Api(app)
    # amounts travel as decimal strings ("1234.50"): document them so (apispec says "number")
    api.register_field(fields.Decimal, "string", "decimal")
    register_error_handlers(app)

    @app.before_request
    def _start():
        given = request.headers.get("X-Request-ID", "")
        # a caller's id is kept only when it is a plain token of sane length (it is logged, sent on
        # in events and stored in audit entries); anything else gets a fresh one
        g.request_id = given if _REQUEST_ID.fullmatch(given) else str(uuid.uuid4())
        g.started = time.perf_counter()
        request_id_var.set(g.request_id)
        _refuse_nul_characters()

    @app.after_request
    def _finish(resp: Response):
        resp.headers["X-Request-ID"] = getattr(g, "request_id", "")
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(name, request.method, endpoint, resp.status_code).inc()
        if hasattr(g, "started"):
            HTTP_LATENCY.labels(name, endpoint).observe(time.perf_counter() - g.started)
        return resp

    @app.get("/api/v1/_swagger/<path:filename>")
    def swagger_static(filename: str):
        return send_from_directory(str(swagger_ui_path), filename, max_age=3600)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "service": name}

    @app.get("/readyz")
    def readyz():
        checks = {}
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            broker_check()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return {"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    return app, api
