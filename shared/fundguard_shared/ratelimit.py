"""Rate limits that hold across gunicorn workers and replicas: fixed windows counted in the
service's own database (the endpoints that need them — sign-in, token issuing, public complaint
submission — are low-volume, so one UPDATE per request is cheap and needs no extra server).

Usage in a service::

    RATE_LIMITS = rate_limit_table(Base.metadata)          # models.py (and a migration)
    @rate_limited(lambda: runtime().engine, RATE_LIMITS, "complaint", limit=10, per_seconds=3600)
    def post(...): ...
"""
from __future__ import annotations

import time
from functools import wraps
from typing import Callable

from flask import g, request
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from .errors import ApiError


def rate_limit_table(metadata: MetaData) -> Table:
    return Table(
        "rate_limits", metadata,
        Column("bucket", String(200), primary_key=True),
        Column("window_start", Integer, primary_key=True),
        Column("count", Integer, nullable=False),
    )


def client_key() -> str:
    principal = getattr(g, "principal", None)
    who = principal.sub if principal is not None else "anon"
    return f"{request.remote_addr or '-'}|{who}"


def hit(engine, table: Table, bucket: str, limit: int, per_seconds: int,
        now: float | None = None) -> tuple[bool, int]:
    """Count one request; returns (allowed, seconds until the window resets)."""
    now = time.time() if now is None else now
    window = int(now // per_seconds) * per_seconds
    retry_after = window + per_seconds - int(now)
    with engine.begin() as conn:
        row = conn.execute(select(table.c.count).where(
            table.c.bucket == bucket, table.c.window_start == window).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(table).values(bucket=bucket, window_start=window, count=1))
                return True, retry_after
            except IntegrityError:  # a concurrent first hit: count on the existing row
                row = conn.execute(select(table.c.count).where(
                    table.c.bucket == bucket, table.c.window_start == window)).scalar_one()
        if row >= limit:
            return False, retry_after
        conn.execute(update(table).where(table.c.bucket == bucket, table.c.window_start == window)
                     .values(count=table.c.count + 1))
        return True, retry_after


def rate_limited(engine_factory: Callable, table: Table, name: str, limit: int,
                 per_seconds: int, key: Callable[[], str] = client_key) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            allowed, retry_after = hit(engine_factory(), table, f"{name}|{key()}", limit,
                                       per_seconds)
            if not allowed:
                raise ApiError(429, "rate_limited", "请求过于频繁，请稍后再试",
                               "Too many requests; try again later", retry_after=retry_after)
            return view(*args, **kwargs)
        return wrapper
    return decorator
