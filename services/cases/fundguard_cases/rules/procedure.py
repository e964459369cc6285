"""Procedural predicates and deadlines of the ordinary and simplified procedures.

Pure functions over plain values. Working-day arithmetic comes from a `WorkdayCalendar` passed
in; every number comes from the legal table (`legal.params`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from fundguard_shared.workdays import WorkdayCalendar, add_calendar_period

from .errors import RuleViolation
from .legal import DEFAULTS, LegalEntry, LegalParams
from .sanctions import PartyType, Sanction, SanctionKind, as_sanctions

K = SanctionKind


def _money_total(sanctions: Iterable[Sanction], kinds: set[SanctionKind]) -> Decimal:
    return sum((s.amount or Decimal(0) for s in sanctions if s.kind in kinds), Decimal(0))


def _threshold(params: LegalParams, name: str, party_type: PartyType) -> Decimal:
    return getattr(params, f"{name}_{party_type.value}").value


def deadline(name: str, start: date, calendar: WorkdayCalendar, params: LegalParams = DEFAULTS) -> date:
    """Last day of the period `name` of the legal table, counted from `start` (start day excluded).

    E.g. deadline("hearing_request", notice_received_on, cal). Calendar-day and month periods
    ending on a rest day move to the next working day.
    """
    n, unit = getattr(params, name).period()
    return calendar.period_end(start, n, unit)


# --- legal review (行政处罚法 art.58) ------------------------------------------------------------


@dataclass(frozen=True)
class CaseFacts:
    party_type: PartyType
    sanctions: tuple[Sanction, ...] = ()  # the proposed decision
    recovery_amount: Decimal = Decimal(0)  # 追回 / 责令退回
    hearing_held: bool = False
    major_public_interest: bool = False  # 涉及重大公共利益
    complex_case: bool = False  # 案件情况疑难复杂、涉及多个法律关系 / 情节复杂
    major_violation: bool = False  # 重大违法行为
    other_law_requires_review: bool = False


class ReviewReason(Enum):
    AMOUNT = ("amount", "追回及罚没金额达到法制审核标准")
    TERMINATES_AGREEMENT = ("terminates_agreement", "解除服务协议")
    HEARING_HELD = ("hearing_held", "经过听证程序")
    MAJOR_PUBLIC_INTEREST = ("major_public_interest", "涉及重大公共利益")
    COMPLEX = ("complex", "案件情况疑难复杂、涉及多个法律关系")
    OTHER_LAW = ("other_law", "法律、法规规定应当进行法制审核")

    def __new__(cls, code: str, label_zh: str):
        member = object.__new__(cls)
        member._value_ = code
        member.label_zh = label_zh
        return member


def legal_review_reasons(facts: CaseFacts, params: LegalParams = DEFAULTS) -> list[ReviewReason]:
    """Why a legal review is mandatory before the decision (empty = not mandatory).

    National grounds [V 行政处罚法 art.58]; the amount threshold and 解除协议 are local [S 汕尾]:
    recovered amount, fines and confiscations are added up and compared per party type.
    """
    reasons = []
    amount = facts.recovery_amount + _money_total(facts.sanctions, {K.FINE, K.CONFISCATION})
    if amount >= _threshold(params, "legal_review_threshold", facts.party_type):
        reasons.append(ReviewReason.AMOUNT)
    if any(s.kind is K.TERMINATE_AGREEMENT for s in facts.sanctions):
        reasons.append(ReviewReason.TERMINATES_AGREEMENT)
    flags = [
        (facts.hearing_held, ReviewReason.HEARING_HELD),
        (facts.major_public_interest, ReviewReason.MAJOR_PUBLIC_INTEREST),
        (facts.complex_case, ReviewReason.COMPLEX),
        (facts.other_law_requires_review, ReviewReason.OTHER_LAW),
    ]
    reasons += [reason for flag, reason in flags if flag]
    return reasons


def legal_review_required(facts: CaseFacts, params: LegalParams = DEFAULTS) -> bool:
    return bool(legal_review_reasons(facts, params))


def panel_required(facts: CaseFacts) -> bool:
    """Collective discussion by the department's leaders for complex or serious cases [V 行政处罚法 art.57]."""
    return facts.complex_case or facts.major_violation


def panel_quorum_met(members: int, recused: int, present: int, params: LegalParams = DEFAULTS) -> bool:
    """Enough non-recused members present: ≥ ratio × non-recused members and ≥ the minimum [U, configurable].

    `present` counts only members who are not recused.
    """
    eligible = members - recused
    if not 0 <= present <= eligible:
        raise ValueError(f"present {present} must be between 0 and the {eligible} non-recused members")
    required = max(params.panel_quorum_minimum.value, math.ceil(params.panel_quorum_ratio.value * eligible))
    return present >= required


# --- hearing and simplified procedure -----------------------------------------------------------

_HEARING_KINDS = {K.SETTLEMENT_SUSPENSION, K.DEPARTMENT_SUSPENSION, K.TERMINATE_AGREEMENT, K.PRACTICE_BAN}


def hearing_available(
    sanctions: Sanction | Iterable[Sanction], party_type: PartyType, params: LegalParams = DEFAULTS
) -> bool:
    """A hearing must be offered [V 行政处罚法 art.63; thresholds S 汕尾]: fines and confiscations
    adding up to the party's threshold, suspensions, termination of the agreement, bans from practice."""
    items = as_sanctions(sanctions)
    if any(s.kind in _HEARING_KINDS for s in items):
        return True
    return _money_total(items, {K.FINE, K.CONFISCATION}) >= _threshold(params, "hearing_threshold", party_type)


def hearing_notice_in_time(
    notified_on: date, hearing_on: date, calendar: WorkdayCalendar, params: LegalParams = DEFAULTS
) -> bool:
    """The party is told at least 7 working days before the hearing [V 行政处罚法 arts.64, 85]."""
    return calendar.working_days_between(notified_on, hearing_on) >= params.hearing_notice.value


_NON_PENALTY_ORDERS = {K.ORDER_CORRECTION, K.ORDER_REFUND}


def simplified_allowed(
    sanctions: Sanction | Iterable[Sanction], party_type: PartyType, params: LegalParams = DEFAULTS
) -> bool:
    """简易程序: only a warning and/or a fine up to 200 元 (individual) / 3,000 元 (entity)
    [V 行政处罚法 art.51]. Orders to correct or repay may accompany it. Facts must also be
    certain with a legal basis: the caller's judgement."""
    penalties = [s for s in as_sanctions(sanctions) if s.kind not in _NON_PENALTY_ORDERS]
    if not penalties or any(s.kind not in {K.WARNING, K.FINE} for s in penalties):
        return False
    return _money_total(penalties, {K.FINE}) <= _threshold(params, "simplified_fine", party_type)


# --- limitation (行政处罚法 art.36) ---------------------------------------------------------------


def limitation_expired(
    act_date: date,
    act_end_date: date | None,
    discovered_on: date,
    health_harm: bool,
    params: LegalParams = DEFAULTS,
) -> bool:
    """Not discovered within 2 years (5 where life/health safety was involved and harm resulted) of
    the act, or of its end if it continued: no penalty. Discovery on the last day is in time."""
    entry = params.limitation_health_harm if health_harm else params.limitation
    n, unit = entry.period()
    return discovered_on > add_calendar_period(act_end_date or act_date, n, unit)


# --- appeals (行政复议法 arts.20–21; 行政诉讼法 arts.45–46) ---------------------------------------


class AppealKind(str, Enum):
    REVIEW = "administrative_review"  # 行政复议
    LITIGATION = "litigation"  # 行政诉讼, directly
    LITIGATION_AFTER_REVIEW = "litigation_after_review"  # 行政诉讼 after a 复议 decision


def _raw_end(entry: LegalEntry, start: date) -> date:
    n, unit = entry.period()
    return add_calendar_period(start, n, unit)


def appeal_deadline(
    kind: AppealKind,
    served_on: date,
    routes_stated: bool,
    act_date: date,
    calendar: WorkdayCalendar,
    *,
    right_known_on: date | None = None,
    params: LegalParams = DEFAULTS,
) -> date:
    """Last day to file.

    REVIEW: 60 days from service. If the decision did not state the routes and deadlines, 60 days
    from `right_known_on` (when the party learned them), never beyond 1 year from service; without
    `right_known_on` the 1-year outer limit is returned. Always within 5 years of the act.
    LITIGATION: the same shape with 6 months / 1 year [U] / 5 years [U].
    LITIGATION_AFTER_REVIEW: 15 days from `served_on` = receipt of the 复议 decision, or expiry of
    the 复议 period when no decision came.
    A last day on a rest day moves to the next working day. Raises CalendarNotLoaded when that
    day falls in a year whose calendar is not loaded.
    """
    if kind is AppealKind.LITIGATION_AFTER_REVIEW:
        return deadline("litigation_after_review", served_on, calendar, params)
    if kind is AppealKind.REVIEW:
        window, outer, hard_stop = params.review_application, params.review_outer_limit_not_told, params.review_hard_stop
    elif kind is AppealKind.LITIGATION:
        window, outer, hard_stop = params.litigation, params.litigation_outer_limit_not_told, params.litigation_hard_stop
    else:
        raise ValueError(f"unknown appeal kind {kind!r}")
    if routes_stated:
        candidates = [_raw_end(window, served_on)]
    else:
        candidates = [_raw_end(outer, served_on)]
        if right_known_on is not None:
            candidates.append(_raw_end(window, right_known_on))
    candidates.append(_raw_end(hard_stop, act_date))
    # rolling forward is monotonic, so rolling the earliest end equals the earliest rolled end
    return calendar.roll_forward(min(candidates))


def filing_in_window(
    kind: AppealKind,
    filed_on: date,
    served_on: date,
    routes_stated: bool,
    act_date: date,
    calendar: WorkdayCalendar,
    *,
    right_known_on: date | None = None,
    params: LegalParams = DEFAULTS,
) -> bool:
    return filed_on <= appeal_deadline(
        kind, served_on, routes_stated, act_date, calendar, right_known_on=right_known_on, params=params
    )


# --- enforcement (行政处罚法 arts.67, 72, 73) -----------------------------------------------------


def surcharge(
    fine: Decimal, due_date: date, paid_or_today: date, paused_days: int = 0, params: LegalParams = DEFAULTS
) -> Decimal:
    """Late-payment surcharge: 3 % of the fine per day after `due_date`, never more than the fine.

    `paused_days`: days not counted (复议 / 诉讼 pending, approved deferral).
    """
    days_late = max(0, (paid_or_today - due_date).days - paused_days)
    amount = Decimal(fine) * params.surcharge_rate.value * days_late
    cap = Decimal(fine) * params.surcharge_cap.value
    return min(amount, cap).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- decision deadline (行政处罚法 art.60; 令第4号 [U]) --------------------------------------------


class Approver(str, Enum):
    LEADER = "leader"  # 负责人批准: once, +30 days
    PANEL = "panel"  # 集体讨论: sets a new date


@dataclass(frozen=True)
class Extension:
    approved_by: Approver
    new_deadline: date | None = None  # required when the panel extends


class ExtensionNotAllowed(RuleViolation):
    code = "extension_not_allowed"


def _merged(periods: Sequence[tuple[date, date]]) -> list[tuple[date, date]]:
    merged: list[tuple[date, date]] = []
    for start, end in sorted(periods):
        if end < start:
            raise ValueError(f"pause resumes ({end}) before it starts ({start})")
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def decision_deadline(
    opened_on: date,
    extensions: Sequence[Extension] = (),
    paused_periods: Sequence[tuple[date, date]] = (),
    params: LegalParams = DEFAULTS,
) -> date:
    """Last day to decide: 90 days from 立案; +30 once with the leader's approval; beyond that only
    a date set by collective discussion (panel). Paused periods (hearing, appraisal, 中止), given as
    (paused_on, resumed_on), add their days if they start before the running deadline. A panel date
    is final: pauses after it need a new panel decision. No roll-forward: it is the department's
    own time limit.
    """
    days = params.decision.value
    panel_date = None
    leader_used = False
    for ext in extensions:
        if ext.approved_by is Approver.LEADER:
            if leader_used or panel_date is not None:
                raise ExtensionNotAllowed(
                    "负责人只能批准延长一次；再次延长须经集体讨论决定",
                    "the leader may extend only once; further extensions need a collective (panel) decision",
                )
            leader_used = True
            days += params.decision_extension.value
        else:
            if ext.new_deadline is None:
                raise ValueError("a panel extension must set the new deadline")
            if panel_date is not None and ext.new_deadline <= panel_date:
                raise _not_later(ext.new_deadline, panel_date)
            panel_date = ext.new_deadline
    last_day = opened_on + timedelta(days=days)
    for paused_on, resumed_on in _merged(paused_periods):
        if paused_on > last_day:
            break
        last_day += resumed_on - paused_on
    if panel_date is None:
        return last_day
    if panel_date <= last_day:
        raise _not_later(panel_date, last_day)
    return panel_date


def _not_later(new: date, current: date) -> ExtensionNotAllowed:
    return ExtensionNotAllowed(
        f"集体讨论确定的期限 {new} 不晚于现有期限 {current}",
        f"the panel's new deadline {new} is not after the current one {current}",
    )
