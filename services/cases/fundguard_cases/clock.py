"""Today's date in China (Asia/Shanghai): the day every legal period counts from. Tests set it."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

_CHINA = timezone(timedelta(hours=8))
_fixed: date | None = None


def today() -> date:
    return _fixed or datetime.now(_CHINA).date()


def set_today(day: date | None) -> None:
    """Freeze (or, with None, release) the clock — for tests and demo data only."""
    global _fixed
    _fixed = day
