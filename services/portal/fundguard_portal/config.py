"""Portal settings from the environment (defaults: the one-machine run)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from fundguard_shared.config import Settings, load_settings


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    try:
        return int(_env(name, str(default)))
    except ValueError:
        raise RuntimeError(f"{name} must be an integer")


@dataclass(frozen=True)
class PortalSettings:
    base: Settings                    # database url (PORTAL_DATABASE_URL), JWT issuer settings
    inspection_url: str
    cases_url: str
    notify_url: str
    lockout_threshold: int            # consecutive failed logins before the account locks
    lockout_minutes: int
    session_idle_minutes: int         # a session unused this long is over
    session_max_hours: int            # and none lives longer than this
    service_token_seconds: int        # lifetime of the JWT sent with each service call
    cookie_secure: bool
    service_timeout: float
    scan_cap: int                     # most cases read for search / dashboard / CSV
    login_rate_limit: int = 30        # sign-in attempts per client address per window (all
    login_rate_window: int = 600      # workers, counted in the database), besides the lockout

    @property
    def database_url(self) -> str:
        return self.base.database_url

    @property
    def cookie_name(self) -> str:
        # The __Host- prefix makes the browser refuse the cookie unless Secure, path=/, no domain.
        return "__Host-fg_session" if self.cookie_secure else "fg_session"


def load_portal_settings() -> PortalSettings:
    return PortalSettings(
        base=load_settings("portal"),
        inspection_url=_env("INSPECTION_URL", "http://127.0.0.1:8101").rstrip("/"),
        cases_url=_env("CASES_URL", "http://127.0.0.1:8102").rstrip("/"),
        notify_url=_env("NOTIFY_URL", "http://127.0.0.1:8103").rstrip("/"),
        lockout_threshold=_int("PORTAL_LOCKOUT_THRESHOLD", 5),
        lockout_minutes=_int("PORTAL_LOCKOUT_MINUTES", 15),
        session_idle_minutes=_int("PORTAL_SESSION_IDLE_MINUTES", 30),
        session_max_hours=_int("PORTAL_SESSION_MAX_HOURS", 8),
        service_token_seconds=_int("PORTAL_SERVICE_TOKEN_SECONDS", 300),
        cookie_secure=_env("PORTAL_COOKIE_SECURE", "0").lower() in ("1", "true", "yes"),
        service_timeout=float(_env("PORTAL_SERVICE_TIMEOUT", "10")),
        scan_cap=_int("PORTAL_SCAN_CAP", 2000),
        login_rate_limit=max(1, _int("PORTAL_LOGIN_RATE_LIMIT", 30)),
        login_rate_window=max(1, _int("PORTAL_LOGIN_RATE_WINDOW", 600)),
    )
