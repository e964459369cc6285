"""Bearer-JWT authentication and role/scope authorisation, the same in every service.

* No token, malformed token, bad signature, expired, wrong issuer/audience -> 401.
* Valid token but a role the endpoint does not admit -> 403.
* Object outside the caller's scope -> 404 (the service's query filters by ``Principal``).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import wraps
from typing import Callable, Iterable

import jwt
from flask import current_app, g, request

from .errors import ApiError

ROLES = ("inspector", "legal_reviewer", "panel_member", "leader", "institution", "admin")

ROLE_LABELS_ZH = {
    "inspector": "检查/办案人员",
    "legal_reviewer": "法制审核人员",
    "panel_member": "裁量组成员",
    "leader": "负责人",
    "institution": "定点医药机构",
    "admin": "系统管理员",
}


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    region: str | None = None
    department: str | None = None
    institution_id: str | None = None
    name: str | None = None

    def claims(self) -> dict:
        return {k: v for k, v in {
            "sub": self.sub, "role": self.role, "region": self.region,
            "department": self.department, "institution_id": self.institution_id,
            "name": self.name}.items() if v is not None}


def _validate_scope(p: Principal) -> None:
    if p.role not in ROLES:
        raise ValueError(f"unknown role {p.role!r}")
    if p.role == "institution" and not p.institution_id:
        raise ValueError("role institution needs institution_id")
    if p.role in ("inspector",) and not (p.region and p.department):
        raise ValueError("role inspector needs region and department")
    if p.role in ("leader", "legal_reviewer", "panel_member") and not p.region:
        raise ValueError(f"role {p.role} needs region")


def issue_token(principal: Principal, secret: str, issuer: str, audience: str,
                ttl_seconds: int = 8 * 3600) -> str:
    """Development issuer of the one-machine run (HS256). Production uses an external IdP."""
    _validate_scope(principal)
    now = int(time.time())
    claims = principal.claims() | {
        "iss": issuer, "aud": audience, "iat": now, "nbf": now, "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(token: str, *, secret: str | None, public_key: str | None, issuer: str,
                 audience: str, leeway: int) -> Principal:
    if public_key:
        key, algorithms = public_key, ["RS256", "ES256"]
    elif secret:
        key, algorithms = secret, ["HS256"]
    else:
        raise ApiError(401, "auth_not_configured", "服务未配置令牌校验密钥",
                       "Token verification is not configured")
    try:
        claims = jwt.decode(token, key, algorithms=algorithms, issuer=issuer, audience=audience,
                            leeway=leeway, options={"require": ["exp", "iss", "aud", "sub"]})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token_expired", "令牌已过期", "Token expired")
    except jwt.PyJWTError:
        raise ApiError(401, "token_invalid", "令牌无效", "Token invalid")
    principal = Principal(
        sub=str(claims["sub"]), role=str(claims.get("role", "")), region=claims.get("region"),
        department=claims.get("department"), institution_id=claims.get("institution_id"),
        name=claims.get("name"))
    try:
        _validate_scope(principal)
    except ValueError:
        raise ApiError(401, "token_scope_invalid", "令牌中的角色或范围无效",
                       "Token role or scope invalid")
    return principal


def authenticate() -> Principal:
    """Verify the bearer token of the current request (cached on ``g``)."""
    if getattr(g, "principal", None) is not None:
        return g.principal
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "token_missing", "缺少 Bearer 令牌", "Bearer token missing")
    s = current_app.config["SETTINGS"]
    g.principal = decode_token(token.strip(), secret=s.jwt_secret, public_key=s.jwt_public_key,
                               issuer=s.jwt_issuer, audience=s.jwt_audience,
                               leeway=s.jwt_leeway_seconds)
    return g.principal


def require(*roles: str) -> Callable:
    """View decorator: authenticate, then admit only ``roles`` (all roles when empty)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate()
            if roles and principal.role not in roles:
                raise ApiError(403, "role_forbidden",
                               f"角色「{ROLE_LABELS_ZH.get(principal.role, principal.role)}」无权执行此操作",
                               f"Role {principal.role!r} may not do this",
                               allowed_roles=list(roles))
            return view(*args, **kwargs)
        return wrapper
    return decorator

