"""Configuration from the environment (12-factor). Defaults are the embedded, server-less run."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def var_dir() -> Path:
    """Directory for embedded-mode state (SQLite files, bus file, evidence store)."""
    path = Path(_env("FUNDGUARD_VAR_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    broker_url: str
    bus_prefix: str
    jwt_secret: str | None
    jwt_issuer: str
    jwt_audience: str
    jwt_leeway_seconds: int
    jwt_max_ttl_seconds: int
    oidc_issuer: str | None
    oidc_audience: str | None
    oidc_jwks_url: str | None
    oidc_public_key: str | None
    max_body_bytes: int
    broker_heartbeat: int
    relay_batch: int
    consumer_max_attempts: int
    log_level: str
    extra: dict = field(default_factory=dict)

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("fgsqlite")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(service: str) -> Settings:
    """Read settings for one service. ``<SERVICE>_DATABASE_URL`` wins over ``DATABASE_URL``.

    The per-service variable lets the one-machine run (and the tests) start three services
    from one environment while each still owns its own database.
    """
    prefix = service.upper()
    default_db = f"sqlite:///{var_dir() / (service + '.db')}"
    database_url = _env(f"{prefix}_DATABASE_URL") or _env("DATABASE_URL") or default_db
    broker_url = _env("BROKER_URL") or f"fgsqlite:///{var_dir() / 'bus.db'}"
    return Settings(
        service=service,
        database_url=database_url,
        broker_url=broker_url,
        bus_prefix=_env("FUNDGUARD_BUS_PREFIX", "fundguard"),
        jwt_secret=_env("FUNDGUARD_JWT_SECRET"),
        jwt_issuer=_env("FUNDGUARD_JWT_ISSUER", "fundguard-dev"),
        jwt_audience=_env("FUNDGUARD_JWT_AUDIENCE", "fundguard"),
        jwt_leeway_seconds=int(_env("FUNDGUARD_JWT_LEEWAY", "30")),
        jwt_max_ttl_seconds=int(_env("FUNDGUARD_JWT_MAX_TTL", str(12 * 3600))),
        oidc_issuer=_env("FUNDGUARD_OIDC_ISSUER"),
        oidc_audience=_env("FUNDGUARD_OIDC_AUDIENCE"),
        oidc_jwks_url=_env("FUNDGUARD_OIDC_JWKS_URL"),
        oidc_public_key=_env("FUNDGUARD_OIDC_PUBLIC_KEY"),
        max_body_bytes=int(_env("FUNDGUARD_MAX_BODY_BYTES", str(1024 * 1024))),
        broker_heartbeat=int(_env("FUNDGUARD_BROKER_HEARTBEAT", "20")),
        relay_batch=int(_env("FUNDGUARD_RELAY_BATCH", "200")),
        consumer_max_attempts=int(_env("FUNDGUARD_CONSUMER_MAX_ATTEMPTS", "3")),
        log_level=_env("FUNDGUARD_LOG_LEVEL", "INFO"),
    )
