"""Chinese working-day calendar: official holidays and 调休 make-up working days.

Years 2004–2026 come from the `chinese_calendar` package. Later years exist only when an admin
loads the State Council's arrangement as a `YearTable` (see `load_year_table`). A date in a year
that is neither covered nor loaded raises `CalendarNotLoaded`: the calendar never guesses.

Counting follows 行政处罚法 art.85 and the general procedural rule: the start day is not counted
(the day after `start` is day 1). For calendar-day and month periods, a last day that falls on a
rest day moves to the first working day after it (`period_end`).
"""

from __future__ import annotations

import calendar as stdlib_calendar
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import chinese_calendar

WORKING_DAYS = "working_days"
CALENDAR_DAYS = "calendar_days"
MONTHS = "months"
PERIOD_UNITS = (WORKING_DAYS, CALENDAR_DAYS, MONTHS)

_PACKAGE_DATES = set(chinese_calendar.constants.holidays) | set(chinese_calendar.constants.workdays)
PACKAGE_YEARS = range(min(d.year for d in _PACKAGE_DATES), max(d.year for d in _PACKAGE_DATES) + 1)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TABLE_KEYS = {"year", "holidays", "workdays", "source"}


class CalendarNotLoaded(LookupError):
    """The working-day calendar for `year` is unknown; an admin must load it."""

    code = "calendar_not_loaded"

    def __init__(self, year: int):
        self.year = year
        super().__init__(f"{year} 年工作日历未加载 / calendar for {year} not loaded")


@dataclass(frozen=True)
class YearTable:
    """One year's official arrangement, as published by the State Council (国务院办公厅通知)."""

    year: int
    holidays: frozenset[date]  # days off, weekends inside a holiday block included
    workdays: frozenset[date]  # 调休 weekend days that are working days
    source: str


def _table_error(problem_zh: str, problem_en: str) -> ValueError:
    return ValueError(f"工作日历表无效：{problem_zh} / invalid calendar table: {problem_en}")


def _parse_dates(raw: Any, key: str, year: int) -> frozenset[date]:
    if not isinstance(raw, list):
        raise _table_error(f"{key} 必须是日期列表", f"{key} must be a list of dates")
    dates = []
    for item in raw:
        if not isinstance(item, str) or not _ISO_DATE.match(item):
            raise _table_error(f"{key} 中的 {item!r} 不是 YYYY-MM-DD 日期", f"{item!r} in {key} is not a YYYY-MM-DD date")
        try:
            day = date.fromisoformat(item)
        except ValueError:
            raise _table_error(f"{key} 中的 {item} 不是有效日期", f"{item} in {key} is not a valid date") from None
        if day.year != year:
            raise _table_error(f"{key} 中的 {item} 不属于 {year} 年", f"{item} in {key} is not in {year}")
        dates.append(day)
    if len(set(dates)) != len(dates):
        raise _table_error(f"{key} 中有重复日期", f"duplicate dates in {key}")
    return frozenset(dates)


def load_year_table(document: str | bytes | Mapping[str, Any]) -> YearTable:
    """Validate a JSON document (text or already parsed) and return its `YearTable`.

    Shape: {"year": 2027, "holidays": ["2027-01-01", ...], "workdays": ["2027-02-07", ...],
    "source": "国务院办公厅关于2027年部分节假日安排的通知"}. Raises ValueError on any defect.
    """
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise _table_error(f"不是有效的 JSON（{exc}）", f"not valid JSON ({exc})") from None
    if not isinstance(document, Mapping):
        raise _table_error("顶层必须是对象", "top level must be an object")
    missing = _TABLE_KEYS - document.keys()
    unknown = document.keys() - _TABLE_KEYS
    if missing:
        raise _table_error(f"缺少字段 {sorted(missing)}", f"missing keys {sorted(missing)}")
    if unknown:
        raise _table_error(f"未知字段 {sorted(unknown)}", f"unknown keys {sorted(unknown)}")

    year = document["year"]
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 9999:
        raise _table_error("year 必须是四位整数年份", "year must be a four-digit integer")
    source = document["source"]
    if not isinstance(source, str) or not source.strip():
        raise _table_error("source 必须注明发布依据", "source must name the published arrangement")

    holidays = _parse_dates(document["holidays"], "holidays", year)
    workdays = _parse_dates(document["workdays"], "workdays", year)
    if not holidays:
        raise _table_error("holidays 不能为空", "holidays may not be empty")
    if holidays & workdays:
        both = ", ".join(sorted(d.isoformat() for d in holidays & workdays))
        raise _table_error(f"{both} 同时是假日和调休上班日", f"{both} both a holiday and a working day")
    weekday_workdays = sorted(d.isoformat() for d in workdays if d.weekday() < 5)
    if weekday_workdays:
        listed = ", ".join(weekday_workdays)
        raise _table_error(f"调休上班日 {listed} 不是周末", f"make-up working days {listed} are not weekend days")
    return YearTable(year=year, holidays=holidays, workdays=workdays, source=source.strip())


def add_calendar_days(start: date, n: int) -> date:
    """Day `n` of a period counted in calendar days (start day excluded)."""
    return start + timedelta(days=n)


def add_months(start: date, n: int) -> date:
    """Same day number `n` months later; clamped to the month's last day (Aug 31 + 6 → Feb 28/29)."""
    month_index = start.year * 12 + (start.month - 1) + n
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(start.day, stdlib_calendar.monthrange(year, month)[1]))


def add_calendar_period(start: date, n: int, unit: str) -> date:
    """Raw last day of a calendar-day or month period, before any holiday roll-forward."""
    if unit == CALENDAR_DAYS:
        return add_calendar_days(start, n)
    if unit == MONTHS:
        return add_months(start, n)
    raise ValueError(f"期间单位无效：{unit!r} / not a calendar period unit: {unit!r}")


class WorkdayCalendar:
    """Working days per the official calendar; `extra_years` holds admin-loaded later years."""

    def __init__(self, extra_years: Mapping[int, YearTable] | None = None):
        self._tables: dict[int, YearTable] = {}
        for year, table in (extra_years or {}).items():
            if table.year != year:
                raise ValueError(f"年份不一致：{year} ≠ {table.year} / year key {year} does not match table {table.year}")
            if year in PACKAGE_YEARS:
                raise ValueError(
                    f"{year} 年已由 chinese_calendar 覆盖，不能另行加载 / {year} is covered by chinese_calendar; "
                    "a loaded table may not replace it"
                )
            self._tables[year] = table

    def is_working_day(self, d: date) -> bool:
        if d.year in PACKAGE_YEARS:
            return chinese_calendar.is_workday(d)
        table = self._tables.get(d.year)
        if table is None:
            raise CalendarNotLoaded(d.year)
        if d in table.workdays:
            return True
        if d in table.holidays:
            return False
        return d.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The `n`-th working day after `start` (the day after start is the first candidate).

        A negative `n` counts backwards: the `|n|`-th working day before `start`.
        """
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        day = start
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: a excluded, b included; negative when b is before a.

        Inverse of `add_working_days`: working_days_between(a, add_working_days(a, n)) == n.
        """
        if b < a:
            return -self.working_days_between(b, a)
        return sum(1 for i in range(1, (b - a).days + 1) if self.is_working_day(a + timedelta(days=i)))

    def add_calendar_days(self, start: date, n: int) -> date:
        return add_calendar_days(start, n)

    def add_months(self, start: date, n: int) -> date:
        return add_months(start, n)

    def roll_forward(self, d: date) -> date:
        """`d` itself if it is a working day, else the first working day after it."""
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def period_end(self, start: date, n: int, unit: str) -> date:
        """Last day of a period of `n` `unit`s starting after `start`.

        unit is "working_days", "calendar_days" or "months" (years: pass 12 × years months).
        Calendar-day and month periods ending on a rest day (holiday or non-调休 weekend) end on
        the next working day instead.
        """
        if unit == WORKING_DAYS:
            return self.add_working_days(start, n)
        return self.roll_forward(add_calendar_period(start, n, unit))
