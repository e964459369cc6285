"""How a sanction reads on the case page. The legal range beside it comes from the cases service
(``range_zh`` in GET /api/v1/cases/{id}/file, computed from its rules/): the portal keeps no copy
of the numbers."""
from __future__ import annotations

from decimal import Decimal


def _money(x) -> str:
    return f"{Decimal(x):,.2f}"


def range_text(sanction: dict) -> str | None:
    """E.g. "法定幅度 1–2 倍（48,230.50–96,461.00 元）" — as the cases service states it."""
    return str(sanction["range_zh"]) if sanction.get("range_zh") else None


def value_text(sanction: dict) -> str:
    for key, unit in (("amount", "元"), ("months", "个月"), ("years", "年")):
        v = sanction.get(key)
        if v not in (None, ""):
            return f"{_money(v)} 元" if key == "amount" else f"{v} {unit}"
    return "—"
