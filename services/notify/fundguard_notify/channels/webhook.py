"""Webhooks to institutions' systems, signed with HMAC-SHA256.

Each request carries:

* ``X-Fundguard-Timestamp``  Unix seconds when this attempt was signed;
* ``X-Fundguard-Signature``  ``sha256=`` + hex HMAC-SHA256(secret, timestamp + "." + raw body);
* ``X-Fundguard-Delivery`` and ``Idempotency-Key``  the delivery id, the same on every retry:
  delivery is at least once, the receiver drops a key it has already processed;
* ``X-Fundguard-Kind``  the notice kind.

A receiver checks the signature with ``verify_signature`` (constant-time) and refuses a timestamp
outside its replay window (default 300 s either way), so a captured request cannot be replayed
later. Redirects are not followed (a 3xx is a failure), so an endpoint cannot bounce requests to
another host.
"""
from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from . import SendResult

SIGNATURE_PREFIX = "sha256="
DEFAULT_REPLAY_WINDOW = 300


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body,
                   hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def signed_headers(secret: str, body: bytes, delivery_id: str, kind: str,
                   now: float | None = None) -> dict[str, str]:
    ts = str(int(now if now is not None else time.time()))
    return {"Content-Type": "application/json; charset=utf-8",
            "User-Agent": "fundguard-notify/1",
            "X-Fundguard-Timestamp": ts, "X-Fundguard-Signature": sign(secret, ts, body),
            "X-Fundguard-Delivery": delivery_id, "Idempotency-Key": delivery_id,
            "X-Fundguard-Kind": kind}


def verify_signature(secret: str, body: bytes, timestamp: str | None, signature: str | None,
                     *, window: int = DEFAULT_REPLAY_WINDOW, now: float | None = None) -> bool:
    """True only for a signature made with ``secret`` over this body, within ``window`` seconds
    of ``now`` (past or future). For receivers; fundguard's own tests use it too."""
    if not timestamp or not signature or not timestamp.strip().isdigit():
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > window:
        return False
    return hmac.compare_digest(sign(secret, timestamp.strip(), body), signature.strip())


def check_url(url: str, require_https: bool) -> str | None:
    """Why ``url`` cannot be an endpoint (None when it can)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    allowed = ("https",) if require_https else ("https", "http")
    if parts.scheme not in allowed:
        return "scheme must be " + " or ".join(allowed)
    if not parts.hostname:
        return "URL needs a host"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed (use the signing secret)"
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, secret: str, body: str, delivery_id: str, kind: str,
         timeout: float) -> SendResult:
    raw = body.encode("utf-8")
    req = urllib.request.Request(url, data=raw, method="POST",
                                 headers=signed_headers(secret, raw, delivery_id, kind))
    try:
        with _OPENER.open(req, timeout=timeout) as resp:  # nosec B310 - scheme checked on save
            code = resp.status
    except urllib.error.HTTPError as exc:
        return SendResult(False, code=exc.code, error=f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return SendResult(False, error=f"{type(exc).__name__}: {reason}"[:500])
    if 200 <= code < 300:
        return SendResult(True, code=code)
    return SendResult(False, code=code, error=f"HTTP {code}")
