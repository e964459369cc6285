"""Helpers every inspection resource uses: scope filters, optimistic versions, the calendar."""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import date, datetime, timezone
from functools import lru_cache

from flask import request
from sqlalchemy.orm.exc import StaleDataError

from fundguard_shared.auth import Principal
from fundguard_shared.errors import ApiError
from fundguard_shared.workdays import CalendarNotLoaded, WorkdayCalendar

import fundguard_shared.events_inspection  # noqa: F401  (registers the payload schemas)


def scoped(query, model, principal: Principal):
    """Inspectors see their department's rows, leaders their region's; anyone else nothing."""
    if principal.role == "inspector":
        return query.where(model.region == principal.region,
                           model.department == principal.department)
    if principal.role == "leader":
        return query.where(model.region == principal.region)
    return query.where(False)


def in_scope(obj, principal: Principal) -> bool:
    if principal.role == "inspector":
        return obj.region == principal.region and obj.department == principal.department
    if principal.role == "leader":
        return obj.region == principal.region
    return False


def get_or_404(session, model, object_id: str, principal: Principal, *, for_update=False):
    from sqlalchemy import select
    query = scoped(select(model).where(model.id == object_id), model, principal)
    if for_update:
        query = query.with_for_update()
    obj = session.execute(query).scalar_one_or_none()
    if obj is None:
        raise ApiError(404)
    return obj


def department_for(principal: Principal, requested: str | None) -> str:
    """The department a new object belongs to: an inspector's own; a leader names one."""
    if principal.role == "inspector":
        return principal.department
    if not requested:
        raise ApiError(422, "department_required", "负责人录入时须指定承办科室",
                       "A leader must name the department")
    return requested


def client_version(data: dict | None) -> int:
    """The version the client saw: body ``version`` or ``If-Match``; missing → 428."""
    if data and data.get("version") is not None:
        return int(data["version"])
    header = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if header.isdigit():
        return int(header)
    raise ApiError(428)


def check_version(obj, data: dict | None) -> None:
    if client_version(data) != obj.version:
        raise ApiError(409, "stale_version", "数据已被他人修改，请刷新后重试",
                       "The object changed since you read it; reload and retry",
                       current_version=obj.version)


@contextmanager
def stale_as_conflict():
    try:
        yield
    except StaleDataError:
        raise ApiError(409, "stale_version", "数据已被他人修改，请刷新后重试",
                       "The object changed since you read it; reload and retry") from None


def today() -> date:
    """Today in China (UTC+8)."""
    from datetime import timedelta
    return (datetime.now(timezone.utc) + timedelta(hours=8)).date()


@lru_cache(maxsize=1)
def calendar() -> WorkdayCalendar:
    """The official calendar; years after 2026 from ``FUNDGUARD_CALENDAR_DIR/<year>.json``
    (the State Council's arrangement in the shape ``workdays.load_year_table`` validates)."""
    from pathlib import Path
    from fundguard_shared.workdays import PACKAGE_YEARS, load_year_table
    tables = {}
    folder = os.environ.get("FUNDGUARD_CALENDAR_DIR")
    if folder:
        for path in sorted(Path(folder).glob("*.json")):
            table = load_year_table(path.read_text(encoding="utf-8"))
            if table.year not in PACKAGE_YEARS:
                tables[table.year] = table
    return WorkdayCalendar(tables)


def try_add_working_days(start: date, n: int) -> date | None:
    """Like ``add_working_days`` but None (not a guess) when the calendar is not loaded."""
    try:
        return calendar().add_working_days(start, n)
    except CalendarNotLoaded:
        return None


def add_working_days(start: date, n: int) -> date:
    try:
        return calendar().add_working_days(start, n)
    except CalendarNotLoaded as exc:
        raise ApiError(422, "calendar_not_loaded", f"{exc.year} 年工作日历未加载，无法计算期限",
                       f"the working-day calendar for {exc.year} is not loaded") from None


def period_end(start: date, n: int, unit: str) -> date:
    try:
        return calendar().period_end(start, n, unit)
    except CalendarNotLoaded as exc:
        raise ApiError(422, "calendar_not_loaded", f"{exc.year} 年工作日历未加载，无法计算期限",
                       f"the working-day calendar for {exc.year} is not loaded") from None


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def not_future(d: date | None, field: str) -> date:
    """A date the user reports (decided on, notified on, ...): today when absent, never later."""
    if d is None:
        return today()
    if d > today():
        raise ApiError(422, "date_in_future", f"{field} 不能晚于今天", f"{field} may not be in the future")
    return d


def amount_in_range(value) -> None:
    """Amounts in 元: finite, 0 – 100,000,000,000. A plain validator rather than
    ``validate.Range``: apispec would print Decimal bounds as strings (invalid OpenAPI)."""
    from marshmallow import ValidationError
    if value is not None and (not value.is_finite() or not (0 <= value <= 10**11)):
        raise ValidationError("金额须在 0 至 1000 亿元之间 / amount must be between 0 and 1e11")


AMOUNT_DOC = {"description": "元, 0 – 100,000,000,000"}
