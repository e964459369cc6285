"""E-mail over SMTP (plain, STARTTLS or implicit TLS), one message per delivery.

The Message-ID is derived from the delivery id, so the same delivery is recognisable if an
operator replays it. Replies 5xx and refused recipients are permanent failures; connection
problems and 4xx replies are retried by the delivery loop.
"""
from __future__ import annotations

import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime

from ..config import SmtpConfig
from . import SendResult


def build_message(cfg: SmtpConfig, to: str, subject: str, body: str, delivery_id: str,
                  kind: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = f"<{delivery_id}@fundguard.notify>"
    msg["X-Fundguard-Delivery"] = delivery_id
    msg["X-Fundguard-Kind"] = kind
    msg.set_content(body, charset="utf-8")
    return msg


def send(cfg: SmtpConfig, to: str, subject: str, body: str, delivery_id: str,
         kind: str) -> SendResult:
    if not cfg.configured:
        return SendResult(False, permanent=True, error="SMTP not configured")
    msg = build_message(cfg, to, subject, body, delivery_id, kind)
    try:
        if cfg.tls == "ssl":
            client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        with client:
            if cfg.tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if cfg.user:
                client.login(cfg.user, cfg.password or "")
            client.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(False, permanent=True, error=f"recipient refused: {exc.recipients}"[:500])
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return SendResult(False, permanent=exc.smtp_code >= 500, code=exc.smtp_code,
                          error=f"SMTP {exc.smtp_code}: {text}"[:500])
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult(False, error=f"{type(exc).__name__}: {exc}"[:500])
    return SendResult(True, code=250)
