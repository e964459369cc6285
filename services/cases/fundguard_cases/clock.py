"""Today's date in China (Asia/Shanghai): the day every legal period counts from. Tests set it."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

_CHINA = timezone(timedelta(hours=8))
_fixed: date | None = None


def today() -> date:
    return _fixed or datetime.now(_CHINA).date()


def china_date(at: datetime) -> date:
    """The day in China of a stored timestamp (naive values were stored in UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(_CHINA).date()


def set_today(day: date | None) -> None:
    """Freeze (or, with None, release) the clock — for tests and demo data only."""
    global _fixed
    _fixed = day
