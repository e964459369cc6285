"""The legal range of a sanction in words, for people reading a case file: e.g.
"法定幅度 1–2 倍（48,230.50–96,461.00 元）；从轻档 1–1.5 倍（1,000.00–1,500.00 元）".

Computed from the one legal table (legal.py, sanctions.py) with the deployment's area overrides;
the case file (GET /api/v1/cases/{id}/file) sends it as ``range_zh`` beside every sanction, so no
client keeps a copy of the numbers."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from . import legal
from . import sanctions as S


def _money(x) -> str:
    return f"{Decimal(x):,.2f}"


def _num(x) -> str:
    return format(Decimal(x).normalize(), "f")


def _span(low, high, high_exclusive, fmt) -> str:
    if high_exclusive:
        return f"低于 {fmt(high)}"
    return fmt(low) if low == high else f"{fmt(low)}–{fmt(high)}"


def range_zh(article: str, kind: str, loss, tier: str | None = None,
             params: legal.LegalParams | None = None) -> str | None:
    """The statutory range (and the discretion tier's, when one is chosen); None where the law
    sets no quantity for this (article, kind) or the input does not name one."""
    params = params or legal.DEFAULTS
    try:
        k = S.SanctionKind(kind)
        entry = S.catalogue_entry(str(article or ""), k)
        if entry.param is None:
            return None
        stated = getattr(params, entry.param)
        loss_d = Decimal(str(loss)) if loss not in (None, "") else None
        tiers = [None] + ([S.Tier(tier)] if tier and tier != "no_penalty" else [])
    except (ValueError, InvalidOperation, S.SanctionNotProvided):
        return None
    parts = []
    for t in tiers:
        try:
            absolute = S.allowed_range(str(article), k, loss=loss_d, tier=t, params=params)
        except (ValueError, TypeError):
            return None
        label = "法定幅度" if t is None else f"{t.label_zh}档"
        if stated.unit == legal.MULTIPLE_OF_LOSS:
            rel = stated.value if t is None else S.tier_range(str(article), t, k, params)
            parts.append(f"{label} {_span(rel.low, rel.high, rel.high_exclusive, _num)} 倍"
                         f"（{_span(absolute.low, absolute.high, absolute.high_exclusive, _money)} 元）")
        elif stated.unit == legal.YUAN:
            parts.append(f"{label} {_span(absolute.low, absolute.high, absolute.high_exclusive, _money)} 元")
        else:
            word = "年" if stated.unit == legal.YEARS else "个月"
            parts.append(f"{label} {_span(absolute.low, absolute.high, absolute.high_exclusive, _num)} {word}")
    return "；".join(parts)
