"""Outbound channels. A sender takes a claimed delivery and returns a ``SendResult``; it never
touches the database (the delivery loop records the outcome)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False       # refused for good: do not retry
    code: int | None = None       # HTTP status / SMTP reply code
    error: str | None = None
