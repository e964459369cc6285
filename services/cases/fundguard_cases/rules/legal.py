"""The one place for every legal number: periods, ranges, thresholds.

Each entry carries its value, unit, source (instrument + article) and certainty tag from
domain.md: V = full text read, S = public excerpt or local rule, U = unconfirmed hypothesis.
`params(area_overrides)` merges a pooling area's configuration over the defaults: entries tagged
S/U and local choices may be overridden; verified statutory numbers may not.

Short names in sources: 条例 = 医疗保障基金使用监督管理条例 (国务院令第735号); 细则 = its 实施细则
(国家医保局, 2026); 令第2号/第4号/第5号 = NHSA orders (定点管理 / 行政处罚程序 / 举报处理).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from enum import Enum
from fractions import Fraction
from typing import Any

from fundguard_shared.workdays import CALENDAR_DAYS, MONTHS, WORKING_DAYS

from .errors import LegalParamError, StatutoryValueOverride

YEARS = "years"
YUAN = "yuan"
MULTIPLE_OF_LOSS = "multiple_of_loss"  # × the fund loss / amount defrauded
MULTIPLE_OF_FINE = "multiple_of_fine"
RATE_PER_DAY = "rate_per_day"
FRACTION_OF_RANGE = "fraction_of_range"  # a part of a legal range: 0 = its minimum, 1 = its maximum
RATIO = "ratio"
MEMBERS = "members"
POINTS = "points"

PERIOD_UNITS = (WORKING_DAYS, CALENDAR_DAYS, MONTHS, YEARS)


class Certainty(str, Enum):
    V = "V"  # verified against the full text
    S = "S"  # supported by a public excerpt, a local rule or an official Q&A
    U = "U"  # unconfirmed: check before relying on it


@dataclass(frozen=True)
class Range:
    """Closed range low–high; `high_exclusive` makes it low ≤ x < high (used for 减轻)."""

    low: Decimal | Fraction
    high: Decimal | Fraction
    high_exclusive: bool = False

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"range low {self.low} above high {self.high}")

    def contains(self, x: Decimal | Fraction) -> bool:
        return self.low <= x and (x < self.high if self.high_exclusive else x <= self.high)

    def scaled(self, factor: Decimal) -> Range:
        return Range(self.low * factor, self.high * factor, self.high_exclusive)

    def part(self, fractions: Range) -> Range:
        """The sub-range between two fractions of this range (0 = low, 1 = high)."""
        return Range(self._at(fractions.low), self._at(fractions.high))

    def _at(self, f: Fraction) -> Decimal:
        # multiply before dividing so thirds of 2–5 land exactly on 3 and 4
        return self.low + (self.high - self.low) * f.numerator / f.denominator


@dataclass(frozen=True)
class LegalEntry:
    value: Any
    unit: str
    source: str
    certainty: Certainty
    local: bool = False  # a provincial or pooling-area choice: configurable whatever its tag
    default: LegalEntry | None = None  # the national default an area override replaced

    @property
    def overridable(self) -> bool:
        return self.local or self.certainty is not Certainty.V

    def period(self) -> tuple[int, str]:
        """(n, unit) for `WorkdayCalendar.period_end`; years become months."""
        if self.unit == YEARS:
            return self.value * 12, MONTHS
        if self.unit in PERIOD_UNITS:
            return self.value, self.unit
        raise TypeError(f"{self.unit} is not a period unit")


V, S, U = Certainty.V, Certainty.S, Certainty.U
D = Decimal

_APPLY = "行政处罚法"
_NHSA4_THIRD_PARTY = "医疗保障行政处罚程序暂行规定（令第4号）；条号仅见于第三方代码，全文未核实"
_SHANWEI = "汕尾市医疗保障行政处罚程序实施办法"
_POINTS = "医保发〔2024〕23号；国家医保局 2024-09-27 发布会报道"


def _e(value: Any, unit: str, source: str, certainty: Certainty, local: bool = False) -> LegalEntry:
    return LegalEntry(value, unit, source, certainty, local)


@dataclass(frozen=True)
class LegalParams:
    # --- clue, case opening, limitation ---------------------------------------------------------
    clue_verification: LegalEntry = _e(15, WORKING_DAYS, f"{_NHSA4_THIRD_PARTY}（第22条）", U)
    clue_verification_extension: LegalEntry = _e(15, WORKING_DAYS, f"{_NHSA4_THIRD_PARTY}（第22条）", U)
    limitation: LegalEntry = _e(2, YEARS, f"{_APPLY} 第36条", V)
    limitation_health_harm: LegalEntry = _e(5, YEARS, f"{_APPLY} 第36条", V)
    first_violation_lookback: LegalEntry = _e(2, YEARS, "细则 第40条", V)
    first_violation_lookback_health_harm: LegalEntry = _e(5, YEARS, "细则 第40条", V)
    # --- investigation -------------------------------------------------------------------------
    preservation_decision: LegalEntry = _e(7, WORKING_DAYS, f"{_APPLY} 第56条、第85条", V)
    sealing: LegalEntry = _e(30, CALENDAR_DAYS, f"{_NHSA4_THIRD_PARTY}（第29条）", U)
    # --- legal review and panel ------------------------------------------------------------------
    legal_review: LegalEntry = _e(10, WORKING_DAYS, "咸宁市医疗保障局 重大行政执法决定法制审核目录清单", S, local=True)
    legal_review_extension: LegalEntry = _e(10, WORKING_DAYS, "咸宁市医疗保障局 重大行政执法决定法制审核目录清单", S, local=True)
    legal_review_threshold_individual: LegalEntry = _e(D(5000), YUAN, f"{_SHANWEI}（追回或罚款，累计）", S, local=True)
    legal_review_threshold_entity: LegalEntry = _e(D(100000), YUAN, f"{_SHANWEI}（追回或罚款，累计）", S, local=True)
    panel_quorum_ratio: LegalEntry = _e(Fraction(2, 3), RATIO, "fundguard 默认值，未见全国规定", U, local=True)
    panel_quorum_minimum: LegalEntry = _e(3, MEMBERS, "fundguard 默认值，未见全国规定", U, local=True)
    # --- prior notice, defence, hearing ----------------------------------------------------------
    defence_window: LegalEntry = _e(5, WORKING_DAYS, "地方告知书惯例 3–5 个工作日；法律未规定（行政处罚法 第44–45条）", U, local=True)
    hearing_request: LegalEntry = _e(5, WORKING_DAYS, f"{_APPLY} 第64条、第85条", V)
    hearing_notice: LegalEntry = _e(7, WORKING_DAYS, f"{_APPLY} 第64条、第85条", V)
    hearing_threshold_individual: LegalEntry = _e(D(5000), YUAN, f"{_SHANWEI}（较大数额罚款）", S, local=True)
    hearing_threshold_entity: LegalEntry = _e(D(100000), YUAN, f"{_SHANWEI}（较大数额罚款）", S, local=True)
    # --- decision, service -----------------------------------------------------------------------
    decision: LegalEntry = _e(90, CALENDAR_DAYS, f"{_APPLY} 第60条", V)
    decision_extension: LegalEntry = _e(30, CALENDAR_DAYS, f"{_NHSA4_THIRD_PARTY}；地方规则一致", U)
    service: LegalEntry = _e(7, WORKING_DAYS, f"{_APPLY} 第61条、第85条", V)
    # --- simplified procedure --------------------------------------------------------------------
    simplified_fine_individual: LegalEntry = _e(D(200), YUAN, f"{_APPLY} 第51条", V)
    simplified_fine_entity: LegalEntry = _e(D(3000), YUAN, f"{_APPLY} 第51条", V)
    on_the_spot_collection: LegalEntry = _e(D(100), YUAN, f"{_APPLY} 第68条", V)
    cash_handover: LegalEntry = _e(2, WORKING_DAYS, f"{_APPLY} 第71条、第85条", V)
    # --- enforcement -----------------------------------------------------------------------------
    payment: LegalEntry = _e(15, CALENDAR_DAYS, f"{_APPLY} 第67条", V)
    surcharge_rate: LegalEntry = _e(D("0.03"), RATE_PER_DAY, f"{_APPLY} 第72条", V)
    surcharge_cap: LegalEntry = _e(D(1), MULTIPLE_OF_FINE, f"{_APPLY} 第72条", V)
    public_notice_service: LegalEntry = _e(30, CALENDAR_DAYS, "民事诉讼法 第95条（2021年修正：自发出公告之日起经过三十日即视为送达；行政处罚法第61条：依民事诉讼法有关规定送达）", S)
    enforcement_demand: LegalEntry = _e(10, CALENDAR_DAYS, "行政强制法 第54条（催告书送达十日后仍未履行的，可申请人民法院强制执行；未对照全文）", U)
    court_enforcement_application: LegalEntry = _e(3, MONTHS, f"{_SHANWEI} 第58条（同行政强制法）", S)
    publication_withdrawal: LegalEntry = _e(3, WORKING_DAYS, f"{_APPLY} 第48条、第85条", V)
    publication: LegalEntry = _e(7, WORKING_DAYS, "“双公示”惯例：行政处罚决定作出之日起 7 个工作日内公示（地方信用信息公示规则，未核实）", U, local=True)
    # --- appeal ----------------------------------------------------------------------------------
    review_application: LegalEntry = _e(60, CALENDAR_DAYS, "行政复议法 第20条", V)
    review_outer_limit_not_told: LegalEntry = _e(1, YEARS, "行政复议法 第20条", V)
    review_hard_stop: LegalEntry = _e(5, YEARS, "行政复议法 第21条", V)
    review_acceptance_check: LegalEntry = _e(5, WORKING_DAYS, "行政复议法 第30条、第88条", V)
    review_decision: LegalEntry = _e(60, CALENDAR_DAYS, "行政复议法 第62条", V)
    review_decision_extension: LegalEntry = _e(30, CALENDAR_DAYS, "行政复议法 第62条", V)
    review_decision_simple: LegalEntry = _e(30, CALENDAR_DAYS, "行政复议法 第53条、第62条", V)
    litigation: LegalEntry = _e(6, MONTHS, "行政诉讼法 第46条", S)
    litigation_after_review: LegalEntry = _e(15, CALENDAR_DAYS, "行政诉讼法 第45条；行政复议法 第34条", S)
    litigation_outer_limit_not_told: LegalEntry = _e(1, YEARS, "最高人民法院关于适用《行政诉讼法》的解释 第64条（未核实）", U)
    litigation_hard_stop: LegalEntry = _e(5, YEARS, "行政诉讼法 第46条第2款（未核实）", U)
    # --- complaints and rewards --------------------------------------------------------------------
    complaint_result_notice: LegalEntry = _e(5, WORKING_DAYS, "举报处理暂行办法（令第5号），新闻报道", S)
    complaint_acceptance: LegalEntry = _e(15, WORKING_DAYS, "背景知识；西藏 2019 规则为 15 个工作日", U, local=True)
    complaint_completion: LegalEntry = _e(60, WORKING_DAYS, "背景知识，未核实", U, local=True)
    reward_maximum: LegalEntry = _e(D(200000), YUAN, "医保办发〔2022〕22号（新闻报道）", S)
    reward_minimum: LegalEntry = _e(D(200), YUAN, "医保办发〔2022〕22号（新闻报道）", S)
    reward_claim: LegalEntry = _e(2, MONTHS, "医保办发〔2022〕22号（地方细则转述）", S)
    # --- agreement track -------------------------------------------------------------------------
    coordination_request: LegalEntry = _e(60, CALENDAR_DAYS, "细则 第7条", V)
    voluntary_suspension_maximum: LegalEntry = _e(180, CALENDAR_DAYS, "令第2号 第42条；遂宁市医保局答问", S)
    voluntary_exit_notice: LegalEntry = _e(3, MONTHS, "令第2号 第44条", S)
    # --- staff points (驾照式记分) ----------------------------------------------------------------
    points_suspension_threshold: LegalEntry = _e(9, POINTS, _POINTS, S)
    points_termination_threshold: LegalEntry = _e(12, POINTS, _POINTS, S)
    points_suspension: LegalEntry = _e(Range(D(1), D(6)), MONTHS, _POINTS, S)
    points_reregistration_ban_cumulative: LegalEntry = _e(1, YEARS, _POINTS, S)
    points_reregistration_ban_single_score: LegalEntry = _e(3, YEARS, _POINTS, S)
    # --- sanction ranges (条例) --------------------------------------------------------------------
    art37_fine: LegalEntry = _e(Range(D(2), D(5)), MULTIPLE_OF_LOSS, "条例 第37条", V)
    art38_fine: LegalEntry = _e(Range(D(1), D(2)), MULTIPLE_OF_LOSS, "条例 第38条", V)
    art38_suspension: LegalEntry = _e(Range(D(6), D(12)), MONTHS, "条例 第38条", V)
    art39_fine: LegalEntry = _e(Range(D(10000), D(50000)), YUAN, "条例 第39条", V)
    art40_fine: LegalEntry = _e(Range(D(2), D(5)), MULTIPLE_OF_LOSS, "条例 第40条", V)
    art40_suspension: LegalEntry = _e(Range(D(6), D(12)), MONTHS, "条例 第40条", V)
    art41_suspension: LegalEntry = _e(Range(D(3), D(12)), MONTHS, "条例 第41条第1款", V)
    art41_2_fine: LegalEntry = _e(Range(D(2), D(5)), MULTIPLE_OF_LOSS, "条例 第41条第2款", V)
    art43_ban: LegalEntry = _e(Range(D(5), D(5)), YEARS, "条例 第43条", V)
    # 细则 art.33: loss ≥ floor → art.41 minimum; + step_months per further step; capped at the maximum
    suspension_schedule_floor: LegalEntry = _e(D(1000), YUAN, "细则 第33条", V)
    suspension_schedule_step: LegalEntry = _e(D(100), YUAN, "细则 第33条", V)
    suspension_schedule_step_months: LegalEntry = _e(1, MONTHS, "细则 第33条", V)
    # --- discretion tiers, as parts of the legal range (医保发〔2021〕35号 leaves them to provinces) ---
    tier_lenient: LegalEntry = _e(Range(Fraction(0), Fraction(1, 2)), FRACTION_OF_RANGE, "常见基准写法：从轻 = 下半幅（未核实）", U, local=True)
    tier_ordinary: LegalEntry = _e(Range(Fraction(0), Fraction(1)), FRACTION_OF_RANGE, "fundguard 默认：一般 = 全幅（未核实）", U, local=True)
    tier_severe: LegalEntry = _e(Range(Fraction(1, 2), Fraction(1)), FRACTION_OF_RANGE, "常见基准写法：从重 = 上半幅（未核实）", U, local=True)


DEFAULTS = LegalParams()
_NAMES = frozenset(f.name for f in fields(LegalParams))


def params(area_overrides: Mapping[str, Any] | None = None) -> LegalParams:
    """The legal table for one area: defaults, with `area_overrides` merged over them.

    Each override is a bare value or {"value": ..., "source": "<local instrument, article>"}.
    Ranges are given as [low, high]; fractions as "2/3". Unknown names, wrong types and
    overrides of verified statutory numbers raise LegalParamError / StatutoryValueOverride.
    """
    changes = {}
    for name, spec in (area_overrides or {}).items():
        if name not in _NAMES:
            raise LegalParamError(f"未知的法定参数 {name}", f"unknown legal parameter {name!r}")
        entry: LegalEntry = getattr(DEFAULTS, name)
        if not entry.overridable:
            raise StatutoryValueOverride(
                f"{name} 由 {entry.source} 规定，不得由地方配置修改",
                f"{name} is fixed by statute ({entry.source}) and may not be overridden by area configuration",
            )
        raw, source = (spec["value"], spec.get("source")) if isinstance(spec, Mapping) else (spec, None)
        changes[name] = replace(
            entry,
            value=_coerce(name, entry, raw),
            source=source or "地方配置 / area configuration",
            default=entry,
        )
    return replace(DEFAULTS, **changes)


def _bad(name: str, raw: Any, expected: str) -> LegalParamError:
    return LegalParamError(
        f"参数 {name} 的值 {raw!r} 无效（应为{expected}）", f"invalid value {raw!r} for {name}: expected {expected}"
    )


def _number(name: str, like: Any, raw: Any) -> Decimal | Fraction | int:
    if isinstance(raw, bool):
        raise _bad(name, raw, "数值 / a number")
    try:
        if isinstance(like, Fraction):
            return Fraction(str(raw))
        if isinstance(like, Decimal):
            if not isinstance(raw, (int, float, str, Decimal)):
                raise TypeError
            return Decimal(str(raw))
    except (TypeError, ValueError, ZeroDivisionError, InvalidOperation):
        raise _bad(name, raw, "数值 / a number") from None
    if not isinstance(raw, int):
        raise _bad(name, raw, "整数 / an integer")
    return raw


def _coerce(name: str, entry: LegalEntry, raw: Any) -> Any:
    default = entry.value
    if isinstance(default, Range):
        if not isinstance(raw, (list, tuple)) or len(raw) != 2:
            raise _bad(name, raw, "[下限, 上限] / [low, high]")
        low, high = (_number(name, default.low, x) for x in raw)
        if not 0 <= low <= high:
            raise _bad(name, raw, "0 ≤ 下限 ≤ 上限 / 0 ≤ low ≤ high")
        if entry.unit == FRACTION_OF_RANGE and high > 1:
            raise _bad(name, raw, "0 到 1 之间的比例 / fractions between 0 and 1")
        return Range(low, high)
    value = _number(name, default, raw)
    if value <= 0 or (entry.unit == RATIO and value > 1):
        raise _bad(name, raw, "正数（比例不超过 1）/ a positive number (a ratio at most 1)")
    return value
