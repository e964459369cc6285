"""The legal windows a party is told about, in words, as this deployment's rules compute them.

Events the notify service turns into legal notices (事先告知, 听证, 决定, 送达, 缴纳) carry
``windows`` built here from the one legal table (legal.py) with the area's overrides, so the
institution's notice states the area's period, e.g. "3 个工作日" when an area configured
``defence_window = 3``. Notify keeps no copy of any of these numbers.
"""
from __future__ import annotations

from decimal import Decimal

from fundguard_shared.workdays import CALENDAR_DAYS, MONTHS, WORKING_DAYS

from .legal import DEFAULTS, YEARS, LegalEntry, LegalParams

_UNIT_ZH = {WORKING_DAYS: "个工作日", CALENDAR_DAYS: "日", MONTHS: "个月", YEARS: "年"}

# window name in events -> entry of the legal table
WINDOW_ENTRIES = {
    "defence": "defence_window",            # 陈述申辩 (local practice, [U])
    "hearing_request": "hearing_request",   # 听证申请 (行政处罚法 第64条)
    "hearing_notice": "hearing_notice",     # 听证通知 提前 (行政处罚法 第64条)
    "payment": "payment",                   # 缴纳罚款 (行政处罚法 第67条)
    "surcharge_rate": "surcharge_rate",     # 每日加处罚款 (行政处罚法 第72条)
    "review": "review_application",         # 行政复议 (行政复议法 第20条)
    "litigation": "litigation",             # 行政诉讼 (行政诉讼法 第46条)
}


def period_zh(entry: LegalEntry, sep: str = " ") -> str:
    """A period of the legal table in words: "5 个工作日", "15 日", "6 个月", "1 年" (documents
    print it without the space: ``sep=""``)."""
    return f"{entry.value}{sep}{_UNIT_ZH[entry.unit]}" if entry.unit in _UNIT_ZH else f"{entry.value}"


def rate_zh(value: Decimal) -> str:
    """A rate as a percentage: Decimal("0.03") -> "3%"."""
    return f"{format((Decimal(value) * 100).normalize(), 'f')}%"


def notice_windows(params: LegalParams | None = None) -> dict[str, str]:
    """Every window a legal notice quotes, as short Chinese phrases (see WINDOW_ENTRIES)."""
    params = params or DEFAULTS
    out = {}
    for name, attr in WINDOW_ENTRIES.items():
        entry: LegalEntry = getattr(params, attr)
        out[name] = rate_zh(entry.value) if name == "surcharge_rate" else period_zh(entry)
    return out
