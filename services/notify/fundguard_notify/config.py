"""Notify's own settings, from the environment (the shared ``Settings`` carries the rest).

Every value has a default fit for the one-machine run; production sets the SMTP variables and,
usually, ``FUNDGUARD_WEBHOOK_REQUIRE_HTTPS=1``. Secrets (SMTP password) only come from here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _bool(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpConfig:
    host: str | None
    port: int
    user: str | None
    password: str | None
    tls: str            # "none" | "starttls" | "ssl"
    sender: str
    timeout: float

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class NotifyConfig:
    smtp: SmtpConfig
    rules_path: Path | None          # a replacement notices.toml (else the packaged one)
    timezone: ZoneInfo               # "today" for reminders and digests
    reminder_workdays: int           # remind N working days before a deadline's last day
    digest_hour: int                 # local hour after which yesterday's digest goes out
    delivery_interval: float         # seconds between delivery-loop rounds when idle
    scheduler_interval: float        # seconds between reminder/digest ticks
    delivery_batch: int
    lease_seconds: float             # a claimed ("sending") delivery older than this is stale
    webhook_timeout: float
    webhook_max_attempts: int
    webhook_backoff_base: float      # seconds; attempt n waits base * 2**(n-1), capped
    webhook_backoff_max: float
    webhook_require_https: bool
    email_max_attempts: int
    email_backoff_base: float
    webhook_replay_window: int       # seconds; for ``verify_signature`` callers and docs

    def backoff(self, channel: str, attempts: int) -> float:
        base = self.webhook_backoff_base if channel == "webhook" else self.email_backoff_base
        return min(self.webhook_backoff_max, base * (2 ** max(0, attempts - 1)))

    def max_attempts(self, channel: str) -> int:
        return self.webhook_max_attempts if channel == "webhook" else self.email_max_attempts


def load_config() -> NotifyConfig:
    rules = _env("FUNDGUARD_NOTIFY_RULES", "")
    return NotifyConfig(
        smtp=SmtpConfig(
            host=_env("FUNDGUARD_SMTP_HOST", "") or None,
            port=int(_env("FUNDGUARD_SMTP_PORT", "25")),
            user=_env("FUNDGUARD_SMTP_USER", "") or None,
            password=_env("FUNDGUARD_SMTP_PASSWORD", "") or None,
            tls=_env("FUNDGUARD_SMTP_TLS", "none").lower(),
            sender=_env("FUNDGUARD_SMTP_FROM", "医保基金监管平台 <noreply@fundguard.local>"),
            timeout=float(_env("FUNDGUARD_SMTP_TIMEOUT", "10")),
        ),
        rules_path=Path(rules) if rules else None,
        timezone=ZoneInfo(_env("FUNDGUARD_NOTIFY_TZ", "Asia/Shanghai")),
        reminder_workdays=int(_env("FUNDGUARD_NOTIFY_REMINDER_WORKDAYS", "3")),
        digest_hour=int(_env("FUNDGUARD_NOTIFY_DIGEST_HOUR", "8")),
        delivery_interval=float(_env("FUNDGUARD_NOTIFY_DELIVERY_INTERVAL", "0.5")),
        scheduler_interval=float(_env("FUNDGUARD_NOTIFY_SCHEDULER_INTERVAL", "60")),
        delivery_batch=int(_env("FUNDGUARD_NOTIFY_DELIVERY_BATCH", "20")),
        lease_seconds=float(_env("FUNDGUARD_NOTIFY_LEASE_SECONDS", "300")),
        webhook_timeout=float(_env("FUNDGUARD_WEBHOOK_TIMEOUT", "10")),
        webhook_max_attempts=int(_env("FUNDGUARD_WEBHOOK_MAX_ATTEMPTS", "8")),
        webhook_backoff_base=float(_env("FUNDGUARD_WEBHOOK_BACKOFF_BASE", "30")),
        webhook_backoff_max=float(_env("FUNDGUARD_WEBHOOK_BACKOFF_MAX", "3600")),
        webhook_require_https=_bool("FUNDGUARD_WEBHOOK_REQUIRE_HTTPS", False),
        email_max_attempts=int(_env("FUNDGUARD_EMAIL_MAX_ATTEMPTS", "5")),
        email_backoff_base=float(_env("FUNDGUARD_EMAIL_BACKOFF_BASE", "60")),
        webhook_replay_window=int(_env("FUNDGUARD_WEBHOOK_REPLAY_WINDOW", "300")),
    )
