"""Bearer-JWT authentication and role/scope authorisation, the same in every service.

* No token, malformed token, bad signature, expired, wrong issuer/audience -> 401.
* Valid token but a role the endpoint does not admit -> 403.
* Object outside the caller's scope -> 404 (the service's query filters by ``Principal``).
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
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


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens this service accepts: the development issuer of the one-machine
    run (HS256 shared secret) and/or an external identity provider (RS256/ES256 via a JWKS URL
    or a configured public key)."""
    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    key: str | None = None
    jwks_url: str | None = None

    def signing_key(self, token: str):
        if self.jwks_url:
            return _jwks_client(self.jwks_url).get_signing_key_from_jwt(token).key
        return self.key


_JWKS: dict[str, "jwt.PyJWKClient"] = {}


def _jwks_client(url: str) -> "jwt.PyJWKClient":
    if url not in _JWKS:  # caches keys; refetches on an unknown kid (key rotation)
        _JWKS[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
    return _JWKS[url]


def trusted_issuers(settings) -> dict[str, TrustedIssuer]:
    out = {}
    if settings.jwt_secret:
        out[settings.jwt_issuer] = TrustedIssuer(settings.jwt_issuer, settings.jwt_audience,
                                                 ("HS256",), key=settings.jwt_secret)
    if settings.oidc_issuer and (settings.oidc_jwks_url or settings.oidc_public_key):
        out[settings.oidc_issuer] = TrustedIssuer(
            settings.oidc_issuer, settings.oidc_audience or settings.jwt_audience,
            ("RS256", "ES256"), key=settings.oidc_public_key, jwks_url=settings.oidc_jwks_url)
    return out


def decode_token(token: str, issuers: dict[str, TrustedIssuer], *, leeway: int,
                 max_ttl: int) -> Principal:
    return _verify(token, issuers, leeway=leeway, max_ttl=max_ttl)[0]


def _verify(token: str, issuers: dict[str, TrustedIssuer], *, leeway: int,
            max_ttl: int) -> tuple[Principal, float]:
    """The principal of a verified token and the token's expiry (epoch seconds)."""
    if not issuers:
        raise ApiError(401, "auth_not_configured", "服务未配置令牌校验密钥",
                       "Token verification is not configured")
    try:
        claimed = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        raise ApiError(401, "token_invalid", "令牌无效", "Token invalid")
    trusted = issuers.get(claimed) if isinstance(claimed, str) else None
    if trusted is None:
        raise ApiError(401, "token_invalid", "令牌签发方不受信任", "Token issuer not trusted")
    try:
        claims = jwt.decode(token, trusted.signing_key(token), algorithms=list(trusted.algorithms),
                            issuer=trusted.issuer, audience=trusted.audience, leeway=leeway,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token_expired", "令牌已过期", "Token expired")
    except (jwt.PyJWTError, ValueError):
        raise ApiError(401, "token_invalid", "令牌无效", "Token invalid")
    if int(claims["exp"]) - int(claims["iat"]) > max_ttl:
        raise ApiError(401, "token_lifetime_too_long", "令牌有效期过长", "Token lifetime too long")
    principal = Principal(
        sub=str(claims["sub"]), role=str(claims.get("role", "")), region=claims.get("region"),
        department=claims.get("department"), institution_id=claims.get("institution_id"),
        name=claims.get("name"))
    try:
        _validate_scope(principal)
    except ValueError:
        raise ApiError(401, "token_scope_invalid", "令牌中的角色或范围无效",
                       "Token role or scope invalid")
    return principal, float(claims["exp"])


def authenticate() -> Principal:
    """Verify the bearer token of the current request (cached on ``g``)."""
    if getattr(g, "principal", None) is not None:
        return g.principal
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "token_missing", "缺少 Bearer 令牌", "Bearer token missing")
    s = current_app.config["SETTINGS"]
    issuers = current_app.config.setdefault("TRUSTED_ISSUERS", trusted_issuers(s))
    g.principal = _VERIFIED.get(issuers, token.strip(), s.jwt_leeway_seconds, s.jwt_max_ttl_seconds)
    return g.principal


class _VerifiedTokens:
    """Tokens whose signature and claims were verified, kept until they expire (bounded LRU):
    a client sends the same token on every request; verifying it once is enough. Expiry is
    re-checked on every hit; the key includes the issuer set, so a new configuration re-verifies."""

    def __init__(self, size: int = 4096):
        self.size, self._lock = size, threading.Lock()
        self._items: OrderedDict[tuple[frozenset, str], tuple[Principal, float]] = OrderedDict()

    def get(self, issuers: dict, token: str, leeway: int, max_ttl: int) -> Principal:
        key, now = (frozenset(issuers.values()), token), time.time()  # the configuration itself
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[1] + leeway >= now:
                self._items.move_to_end(key)
                return hit[0]
        principal, exp = _verify(token, issuers, leeway=leeway, max_ttl=max_ttl)
        with self._lock:
            self._items[key] = (principal, exp)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return principal


_VERIFIED = _VerifiedTokens()


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

