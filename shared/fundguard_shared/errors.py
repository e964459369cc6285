"""Errors as application/problem+json (RFC 9457) with a stable machine-readable ``code``.

Every message is bilingual: Chinese first for the people who use the platform, English for
operators. Views raise ``ApiError``; the handlers registered by ``register_error_handlers``
turn it (and every Werkzeug/webargs error) into the same shape. Nothing else returns errors.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, json
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"

# Stable codes for the generic HTTP failures; domain errors bring their own code.
_HTTP_CODES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求格式错误", "Bad request"),
    401: ("unauthenticated", "未认证或令牌无效", "Authentication required or token invalid"),
    403: ("forbidden", "当前角色无权执行此操作", "Your role may not do this"),
    404: ("not_found", "对象不存在或不在您的权限范围内", "Not found"),
    405: ("method_not_allowed", "不支持该请求方法", "Method not allowed"),
    409: ("conflict", "数据已被他人修改，请刷新后重试", "Conflict: the object changed; reload and retry"),
    413: ("payload_too_large", "请求体过大", "Request body too large"),
    415: ("unsupported_media_type", "不支持的内容类型，请使用 application/json", "Unsupported media type; send application/json"),
    422: ("validation_failed", "输入校验未通过", "Validation failed"),
    428: ("precondition_required", "缺少版本号（If-Match 或 version）", "Version required (If-Match or version)"),
    429: ("too_many_requests", "请求过于频繁", "Too many requests"),
    500: ("internal_error", "服务器内部错误", "Internal server error"),
    503: ("unavailable", "服务暂不可用", "Service unavailable"),
}


class ApiError(Exception):
    """A client-visible failure. ``code`` is stable; messages are zh + en."""

    def __init__(self, status: int, code: str | None = None, zh: str | None = None,
                 en: str | None = None, **extra: Any):
        default = _HTTP_CODES.get(status, ("error", "错误", "Error"))
        self.status = status
        self.code = code or default[0]
        self.zh = zh or default[1]
        self.en = en or default[2]
        self.extra = extra
        super().__init__(f"{self.code}: {self.en}")


def problem(status: int, code: str, zh: str, en: str, **extra: Any) -> Response:
    body = {
        "type": f"https://fundguard.example/problems/{code}",
        "title": en,
        "status": status,
        "code": code,
        "detail": f"{zh} / {en}",
        "message_zh": zh,
        "message_en": en,
    }
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return problem(err.status, err.code, err.zh, err.en, **err.extra)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        code, zh, en = _HTTP_CODES.get(status, ("http_error", "请求错误", err.name))
        extra: dict[str, Any] = {}
        # webargs/flask-smorest put the field errors on the exception.
        data = getattr(err, "data", None)
        if isinstance(data, dict) and data.get("messages"):
            extra["errors"] = data["messages"]
            if status == 422:
                code = "validation_failed"
        if status == 400 and "Invalid JSON body." in str(extra.get("errors", "")) or (
                status == 400 and "JSON" in str(getattr(err, "description", ""))):
            code, zh, en = "malformed_json", "请求体不是合法的 JSON", "Request body is not valid JSON"
        return problem(status, code, zh, en, **extra)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # pragma: no cover - exercised only on defects
        app.logger.exception("unhandled error")
        code, zh, en = _HTTP_CODES[500]
        return problem(500, code, zh, en)
