"""Backend-for-frontend: calls the services' public APIs server-side with the signed-in user's
token, and turns every failure into one readable Chinese message (``ServiceError``)."""
from __future__ import annotations

import logging
import time
from typing import Any

import requests

from fundguard_shared.auth import Principal, issue_token

from .config import PortalSettings

log = logging.getLogger("fundguard_portal.bff")

SERVICE_NAMES = {"inspection": "检查服务", "cases": "案件服务", "notify": "通知服务"}

# Field names in validation errors, as users read them.
FIELD_LABELS = {
    "institution_id": "机构编码", "institution_name": "机构名称", "party_type": "当事人类型",
    "violation_type": "违法类型", "amount": "涉及金额", "description": "问题描述",
    "source": "线索来源", "act_date": "违法行为发生日期", "department": "承办科室",
    "trigger": "操作", "version": "版本号", "reason": "理由", "data": "补充数据",
    "page": "页码", "per_page": "每页条数", "state": "状态",
    "informant": "举报人信息", "channel": "举报渠道", "summary": "举报内容", "real_name": "实名举报",
    "amount_estimate": "估计涉及金额", "received_on": "收到日期", "name": "姓名", "phone": "联系电话",
    "email": "电子邮箱", "address": "通讯地址", "id_number": "身份证件号码",
    "doc_type": "文书种类", "fields": "文书内容", "method": "送达方式", "receipt_at": "签收时间",
    "year": "年份", "holidays": "放假日期", "workdays": "调休上班日期",
}

_EN_MESSAGES = (  # marshmallow's English messages -> Chinese
    ("Missing data for required field", "必填"),
    ("Field may not be null", "不能为空"),
    ("Not a valid number", "不是有效的数字"),
    ("Not a valid integer", "不是有效的整数"),
    ("Not a valid date", "日期格式无效（应为 年-月-日）"),
    ("Not a valid string", "不是有效的文本"),
    ("Must be one of", "取值不在允许范围内"),
    ("Length must be between", "长度不符合要求"),
    ("Shorter than minimum length", "内容过短"),
    ("Longer than maximum length", "内容过长"),
    ("Must be greater than or equal to", "数值超出允许范围"),
    ("Must be less than or equal to", "数值超出允许范围"),
    ("Unknown field", "不支持的字段"),
)

# Codes whose wording the portal fixes (what a person should do next).
_CODE_MESSAGES = {
    "stale_version": "案件已被他人修改，请刷新",
    "token_expired": "登录状态已过期，请重新登录",
    "token_invalid": "登录状态无效，请重新登录",
    "token_missing": "登录状态无效，请重新登录",
    "token_scope_invalid": "您的账户角色或范围配置有误，请联系管理员",
    "auth_not_configured": "服务未配置身份校验，请联系管理员",
    "not_found": "对象不存在或不在您的权限范围内",
    "precondition_required": "缺少版本号，请刷新页面后重试",
    "payload_too_large": "提交的内容过大",
}


class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str, *, service: str,
                 details: list[str] | None = None, request_id: str | None = None):
        super().__init__(f"{service} {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.service = service
        self.details = details or []
        self.request_id = request_id

    @property
    def page_status(self) -> int:
        """The status of the page that shows this error: the service's 4xx as is; 502 for
        a service's own failure, 503 when it is unreachable or unavailable."""
        if self.status < 500:
            return self.status
        return 503 if self.status >= 503 else 502


def _translate(msg: str) -> str:
    for en, zh in _EN_MESSAGES:
        if en.lower() in msg.lower():
            return zh
    return msg


def _flatten_errors(errors: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key in ("json", "query", "form", "headers") and not prefix:
                out += _flatten_errors(value, prefix)
                continue
            label = FIELD_LABELS.get(str(key), str(key))
            out += _flatten_errors(value, f"{prefix}{label}" if not prefix else f"{prefix}.{label}")
    elif isinstance(errors, list):
        for item in errors:
            out += _flatten_errors(item, prefix)
    else:
        text = _translate(str(errors))
        out.append(f"{prefix}：{text}" if prefix else text)
    return out


def error_from_response(service: str, resp: requests.Response) -> ServiceError:
    name = SERVICE_NAMES.get(service, service)
    try:
        body = resp.json()
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        body = {}
    code = str(body.get("code") or f"http_{resp.status_code}")
    rid = body.get("request_id") or resp.headers.get("X-Request-ID")
    details: list[str] = []
    if resp.status_code >= 500 or not body:
        msg = (f"{name}暂时不可用，请稍后再试" if resp.status_code in (502, 503, 504)
               else f"{name}处理请求时出错，请稍后再试")
        if rid:
            msg += f"（请求编号 {rid}）"
        return ServiceError(resp.status_code, code, msg, service=service, request_id=rid)
    msg = _CODE_MESSAGES.get(code) or body.get("message_zh") or "请求未能完成"
    if isinstance(body.get("failures"), list):
        details = [str(f.get("message_zh") or f.get("code")) for f in body["failures"]
                   if isinstance(f, dict)]
        if details:
            msg = "操作条件未满足"
    elif body.get("errors"):
        details = _flatten_errors(body["errors"])
    return ServiceError(resp.status_code, code, msg, service=service, details=details,
                        request_id=rid)


_HTTP = requests.Session()
_HTTP.trust_env = False      # never route the server-side calls through a proxy from the env


class Backend:
    """One per request: the user's principal, the service base URLs, the request id."""

    def __init__(self, settings: PortalSettings, principal: Principal, request_id: str):
        self.settings = settings
        self.principal = principal
        self.request_id = request_id
        self._token: str | None = None

    @property
    def token(self) -> str:
        if self._token is None:
            base = self.settings.base
            if not base.jwt_secret:
                raise ServiceError(503, "portal_not_configured",
                                   "门户未配置令牌签名密钥（FUNDGUARD_JWT_SECRET），请联系管理员",
                                   service="portal")
            self._token = issue_token(self.principal, base.jwt_secret, base.jwt_issuer,
                                      base.jwt_audience, self.settings.service_token_seconds)
        return self._token

    def _url(self, service: str, path: str) -> str:
        base = {"inspection": self.settings.inspection_url, "cases": self.settings.cases_url,
                "notify": self.settings.notify_url}[service]
        return base + path

    def request(self, method: str, service: str, path: str, *, params: dict | None = None,
                json: Any = None, auth: bool = True, files: dict | None = None,
                data: dict | None = None, headers: dict | None = None,
                timeout: float | None = None) -> Any:
        headers = {"X-Request-ID": self.request_id, "Accept": "application/json",
                   **(headers or {})}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        started = time.perf_counter()
        try:
            resp = _HTTP.request(method, self._url(service, path), params=params, json=json,
                                 files=files, data=data, headers=headers,
                                 timeout=timeout or self.settings.service_timeout)
        except requests.RequestException as exc:
            log.warning("service %s unreachable: %s", service, type(exc).__name__)
            raise ServiceError(503, "service_unreachable",
                               f"{SERVICE_NAMES.get(service, service)}暂时无法访问，请稍后再试",
                               service=service)
        log.debug("%s %s %s -> %s in %.1f ms", method, service, path, resp.status_code,
                  (time.perf_counter() - started) * 1000)
        if resp.status_code >= 400:
            err = error_from_response(service, resp)
            if resp.status_code >= 500:
                log.error("service %s answered %s (%s) request_id=%s", service,
                          resp.status_code, err.code, err.request_id)
            raise err
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise ServiceError(502, "bad_response",
                               f"{SERVICE_NAMES.get(service, service)}返回了无法识别的内容",
                               service=service)

    def get_bytes(self, service: str, path: str) -> tuple[bytes, dict]:
        """A binary resource (a document's PDF): (content, headers); errors as ServiceError."""
        headers = {"X-Request-ID": self.request_id, "Authorization": f"Bearer {self.token}"}
        try:
            resp = _HTTP.get(self._url(service, path), headers=headers,
                             timeout=self.settings.service_timeout)
        except requests.RequestException:
            raise ServiceError(503, "service_unreachable",
                               f"{SERVICE_NAMES.get(service, service)}暂时无法访问，请稍后再试",
                               service=service)
        if resp.status_code >= 400:
            raise error_from_response(service, resp)
        return resp.content, dict(resp.headers)

    def get(self, service: str, path: str, **params) -> Any:
        return self.request("GET", service, path,
                            params={k: v for k, v in params.items() if v not in (None, "")})

    def post(self, service: str, path: str, json: Any = None) -> Any:
        return self.request("POST", service, path, json=json if json is not None else {})

    def upload(self, service: str, path: str, upload, fields: dict | None = None,
               headers: dict | None = None, timeout: float | None = None) -> Any:
        """Pass a browser's file upload (a werkzeug FileStorage) on as multipart ``file``,
        streamed, never held whole in memory."""
        files = {"file": (upload.filename or "upload", upload.stream,
                          upload.mimetype or "application/octet-stream")}
        return self.request("POST", service, path, files=files,
                            data={k: v for k, v in (fields or {}).items() if v},
                            headers=headers, timeout=timeout)

    # -- helpers over the APIs -------------------------------------------------------------
    def all_cases(self, cap: int | None = None, **filters) -> tuple[list[dict], bool]:
        """Every case in the user's scope (paged through, at most ``cap``). Returns
        (cases, truncated)."""
        cap = cap or self.settings.scan_cap
        out: list[dict] = []
        page = 1
        while True:
            body = self.get("cases", "/api/v1/cases", page=page, per_page=200, **filters)
            out += body["items"]
            if len(out) >= body["total"] or not body["items"]:
                return out[:cap], False
            if len(out) >= cap:
                return out[:cap], True
            page += 1


_DIAGRAM: dict[str, Any] = {"at": 0.0, "value": None}


def workflow_diagram(backend: Backend, ttl: float = 60.0) -> dict:
    """GET /api/v1/workflow/diagram (public), cached for a minute in the process."""
    now = time.monotonic()
    if _DIAGRAM["value"] is None or now - _DIAGRAM["at"] > ttl:
        _DIAGRAM["value"] = backend.request("GET", "cases", "/api/v1/workflow/diagram", auth=False)
        _DIAGRAM["at"] = now
    return _DIAGRAM["value"]
