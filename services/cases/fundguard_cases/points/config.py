"""Points numbers that are not in ``rules.legal`` (thresholds, suspension range and staff bans
live there): the band × responsibility mapping, restoration (修复) activities and caps, and the
institution re-application bans. Same discipline as ``rules.legal``: each number carries its
source and certainty tag (V/S/U); ``config(overrides)`` merges an area's choices over the
defaults (all of these are S/U or local, so all are overridable).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..rules.legal import LegalEntry, POINTS, YEARS, Certainty, LegalParams
from ..rules.legal import params as legal_params

S, U = Certainty.S, Certainty.U
BANDS = ("1-3", "4-6", "7-9", "10-12")
RESPONSIBILITY = ("一般", "重要", "主要")
RESPONSIBILITY_EN = {"general": "一般", "important": "重要", "main": "主要"}
BAND_RANGES = {"1-3": (1, 3), "4-6": (4, 6), "7-9": (7, 9), "10-12": (10, 12)}
ACTIVITIES = "activities"  # unit: points per activity

_NHSA = "医保发〔2024〕23号；国家医保局 2024-09-27 发布会报道（domain.md §c）"
_MAP = "fundguard 默认：带内按责任程度 一般=下限、重要=中值、主要=上限；经办规程（医保办发〔2024〕34号）未取得"
_RESTORE = "县级新闻：学习、培训、参与医保管理或政策宣传可申请修复；分值与上限未见（domain.md §c）"
_LING2 = "令第2号（回忆，未核实；domain.md §b.3）"


def _e(value, unit, source, certainty, local=False) -> LegalEntry:
    return LegalEntry(value, unit, source, certainty, local)


@dataclass(frozen=True)
class PointsConfig:
    bands: LegalEntry = _e({b: dict(zip(RESPONSIBILITY, (lo, (lo + hi) // 2, hi)))
                            for b, (lo, hi) in BAND_RANGES.items()}, POINTS, _MAP, U, local=True)
    restoration_activities: LegalEntry = _e({"training": 1, "study": 1, "supervision": 2, "publicity": 1},
                                            ACTIVITIES, _RESTORE, U, local=True)
    restoration_cap_per_year: LegalEntry = _e(6, POINTS, _RESTORE, U, local=True)
    restoration_lifts_termination: LegalEntry = _e(False, "flag", "fundguard 默认：修复只减分，不解除已作出的终止", U, local=True)
    objection_window: LegalEntry = _e(15, "calendar_days", "复核/异议期限未取得（domain.md §c [NF]）；fundguard 默认", U, local=True)
    defence_window: LegalEntry = _e(5, "working_days", "记分前陈述申辩期限未取得（domain.md §c [NF]，经办规程 医保办发〔2024〕34号）；"
                                    "参照处罚告知书惯例 3–5 个工作日（domain.md §b 第9步）", U, local=True)
    credit_tiers: LegalEntry = _e((("D", "terminated"), ("C", "suspended"), ("B", "sanctioned_recently"), ("A", "always")),
                                  "tier_rules", "定点机构信用等级划分标准未取得（domain.md §b 信用管理 [NF]）；fundguard 默认："
                                  "解除=D，中止或暂停中=C，回看期内有生效处理=B，其余=A", U, local=True)
    credit_lookback_months: LegalEntry = _e(12, "months", "信用评价回看期未取得；fundguard 默认 12 个月", U, local=True)
    reapplication_ban_violation: LegalEntry = _e(3, YEARS, f"{_LING2}：因违规被解除协议", U)
    reapplication_ban_breach: LegalEntry = _e(1, YEARS, f"{_LING2}：因严重违约被解除协议", U)
    agreement_suspension_default_months: LegalEntry = _e(None, "months", "中止期限由协议约定（domain.md §b.3 [NF]）；未给出即至恢复为止", U, local=True)


DEFAULTS = PointsConfig()
_NAMES = frozenset(f.name for f in fields(PointsConfig))


def config(area_overrides: Mapping[str, Any] | None = None) -> PointsConfig:
    """Defaults with an area's overrides: bare values or {"value": ..., "source": ...}."""
    changes = {}
    for name, spec in (area_overrides or {}).items():
        if name not in _NAMES:
            raise ValueError(f"unknown points parameter {name!r}")
        entry: LegalEntry = getattr(DEFAULTS, name)
        raw, source = (spec["value"], spec.get("source")) if isinstance(spec, Mapping) and "value" in spec else (spec, None)
        if name == "bands":
            raw = _check_bands(raw)
        elif name == "restoration_activities":
            if not isinstance(raw, Mapping) or not all(isinstance(v, int) and v > 0 for v in raw.values()):
                raise ValueError("restoration_activities: {activity: positive points}")
            raw = dict(raw)
        elif name == "credit_tiers":
            raw = _check_tiers(raw)
        elif name in ("defence_window", "objection_window") and (not isinstance(raw, int) or isinstance(raw, bool) or raw < 1):
            raise ValueError(f"{name}: a positive integer")
        elif isinstance(entry.value, bool):
            raw = bool(raw)
        elif isinstance(entry.value, int) and (not isinstance(raw, int) or isinstance(raw, bool) or raw < 0):
            raise ValueError(f"{name}: a non-negative integer")
        changes[name] = replace(entry, value=raw, source=source or "地方配置 / area configuration", default=entry)
    return replace(DEFAULTS, **changes)


TIER_CONDITIONS = ("terminated", "suspended", "sanctioned_recently", "always")


def _check_tiers(raw) -> tuple:
    """An ordered list of [tier, condition]: the first matching condition gives the tier; the
    last must be ``always``."""
    try:
        rules = tuple((str(t), str(c)) for t, c in raw)
    except (TypeError, ValueError):
        raise ValueError("credit_tiers: a list of [tier, condition]") from None
    if not rules or rules[-1][1] != "always" or any(c not in TIER_CONDITIONS for _, c in rules):
        raise ValueError(f"credit_tiers: conditions from {TIER_CONDITIONS}, the last one 'always'")
    return rules


def _check_bands(raw) -> dict:
    if not isinstance(raw, Mapping) or set(raw) != set(BANDS):
        raise ValueError(f"bands: one mapping per band {BANDS}")
    out = {}
    for band, per in raw.items():
        lo, hi = BAND_RANGES[band]
        if not isinstance(per, Mapping) or set(per) != set(RESPONSIBILITY):
            raise ValueError(f"bands[{band}]: one value per responsibility {RESPONSIBILITY}")
        for resp, pts in per.items():
            if not isinstance(pts, int) or not lo <= pts <= hi:
                raise ValueError(f"bands[{band}][{resp}] must be an integer in {lo}–{hi}")
        out[band] = dict(per)
    return out


@dataclass(frozen=True)
class Settings:
    """What the ledger uses: the legal table (thresholds, ranges, bans) and the points config."""
    legal: LegalParams
    points: PointsConfig


def settings(legal_overrides=None, points_overrides=None) -> Settings:
    return Settings(legal_params(legal_overrides), config(points_overrides))
