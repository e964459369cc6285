"""The guards of the workflow: plain functions of a ``Context`` that carry the law.

A guard returns ``None`` (allowed) or a ``GuardFailure`` with a stable code and a zh + en message.
Guards read the case row, the actor, the request's ``data`` and the ``CaseFile`` (what earlier
steps produced, loaded by the service before firing); every legal number and predicate comes from
``rules`` (legal / sanctions / procedure) and the ``WorkdayCalendar``. No I/O, no writes.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from fundguard_shared.auth import Principal
from fundguard_shared.workdays import CalendarNotLoaded, WorkdayCalendar

from .rules import procedure as P
from .rules import sanctions as S
from .rules.legal import DEFAULTS, MONTHS, YEARS, LegalParams
from .rules.errors import RuleViolation


# ---- results and context -------------------------------------------------------------------------

@dataclass(frozen=True)
class GuardFailure:
    code: str
    zh: str
    en: str
    details: dict = field(default_factory=dict)


@dataclass
class CaseFile:
    """What the earlier steps of one case produced (ORM rows or look-alikes; read-only here)."""
    details: Any = None
    officers: list = field(default_factory=list)
    sanctions: list = field(default_factory=list)
    reviews: list = field(default_factory=list)
    panel: Any = None
    votes: list = field(default_factory=list)
    pauses: list = field(default_factory=list)
    payments: list = field(default_factory=list)
    appeals: list = field(default_factory=list)
    deadlines: list = field(default_factory=list)
    report_author: str | None = None

    # -- derived views --
    def active_officers(self) -> list:
        return [o for o in self.officers if o.recused_on is None]

    def investigators(self) -> set[str]:
        """Everyone who investigated the case: assigned officers (recused ones too), the author
        of the report."""
        ids = {o.officer_id for o in self.officers}
        author = self.report_author or getattr(self.details, "report_author", None)
        if author:
            ids.add(author)
        return ids

    def stage(self, stage: str) -> list:
        return [s for s in self.sanctions if s.stage == stage and s.current]

    def latest_proposal(self) -> list:
        """The sanctions as they stand before the decision: panel result, else the report's."""
        return self.stage("panel") or self.stage("proposed")

    def running_deadline(self, kind: str):
        return next((d for d in self.deadlines if d.kind == kind
                     and d.status in ("running", "paused", "calendar_not_loaded", "overdue")), None)


@dataclass
class Context:
    """What guards may look at: the case row, the actor, the request's data, the case file, the
    day, the working-day calendar and the legal table of the area."""
    case: Any
    actor: Principal
    reason: str = ""
    data: dict = field(default_factory=dict)
    facts: CaseFile | None = None
    today: date = field(default_factory=date.today)
    calendar: WorkdayCalendar = field(default_factory=WorkdayCalendar)
    params: LegalParams = DEFAULTS

    @property
    def file(self) -> CaseFile:
        return self.facts if self.facts is not None else CaseFile()

    @property
    def details(self):
        return self.file.details


Guard = Callable[[Context], GuardFailure | None]


def fail(code: str, zh: str, en: str, **details) -> GuardFailure:
    return GuardFailure(code, zh, en, {k: _plain(v) for k, v in details.items()})


def _plain(v):
    if isinstance(v, (date, Decimal)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def needs_input(fn: Guard) -> Guard:
    """Mark a guard that judges the request's data (skipped when listing available actions)."""
    fn.needs_input = True
    return fn


class BadInput(Exception):
    def __init__(self, failure: GuardFailure):
        self.failure = failure


def _bad(key: str, zh: str, en: str) -> BadInput:
    return BadInput(fail("invalid_data", f"{key}：{zh}", f"{key}: {en}", field=key))


# ---- parsing the request's data ------------------------------------------------------------------

def get_date(data: dict, key: str, default: date | None = None, required: bool = False) -> date | None:
    raw = data.get(key)
    if raw in (None, ""):
        if required:
            raise _bad(key, "必须填写日期", "a date is required")
        return default
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise _bad(key, "不是 YYYY-MM-DD 日期", "not a YYYY-MM-DD date") from None


def get_decimal(raw, key: str) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise _bad(key, "不是数值", "not a number") from None
    if not value.is_finite() or value < 0:
        raise _bad(key, "必须是非负数", "must be a non-negative number")
    return value.quantize(Decimal("0.01"))


def get_int(raw, key: str) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise _bad(key, "必须是整数", "must be an integer")
    try:
        value = int(raw)
    except ValueError:
        raise _bad(key, "必须是整数", "must be an integer") from None
    if value < 0:
        raise _bad(key, "必须是非负整数", "must be a non-negative integer")
    return value


@dataclass(frozen=True)
class Item:
    """A sanction as requested (before it is stored)."""
    kind: S.SanctionKind
    article: str
    amount: Decimal | None = None
    months: int | None = None
    years: int | None = None
    act: str = "act-1"

    @property
    def track(self) -> S.Track:
        return S.catalogue_entry(self.article, self.kind).track

    def rule(self) -> S.Sanction:
        return S.Sanction(self.kind, self.amount, self.months if self.years is None else self.years * 12,
                          self.article)


def as_item(row) -> Item:
    return Item(S.SanctionKind(row.kind), row.article, row.amount, row.months, row.years, row.act)


def parse_items(raw, key: str = "sanctions") -> list[Item]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise _bad(key, "必须是列表", "must be a list")
    items = []
    for i, entry in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise _bad(where, "必须是对象", "must be an object")
        try:
            kind = S.SanctionKind(entry.get("kind"))
        except ValueError:
            raise _bad(f"{where}.kind", "未知的处理种类", "unknown sanction kind") from None
        article = str(entry.get("article") or "")
        try:
            S.catalogue_entry(article, kind)
        except S.SanctionNotProvided as exc:
            raise BadInput(fail(exc.code, exc.zh, exc.en, field=where)) from None
        items.append(Item(kind, article, get_decimal(entry.get("amount"), f"{where}.amount"),
                          get_int(entry.get("months"), f"{where}.months"),
                          get_int(entry.get("years"), f"{where}.years"),
                          str(entry.get("act") or "act-1")[:64]))
    return items


def parse_tier(raw, key: str = "tier") -> S.Tier:
    try:
        return S.Tier(raw)
    except ValueError:
        raise _bad(key, "未知的裁量档次", "unknown discretion tier") from None


def guarded(fn: Callable[[Context], GuardFailure | None]) -> Guard:
    """Turn BadInput raised while parsing into the guard's failure."""
    def guard(ctx: Context) -> GuardFailure | None:
        try:
            return fn(ctx)
        except BadInput as bad:
            return bad.failure
        except CalendarNotLoaded as exc:
            return fail("calendar_not_loaded", f"{exc.year} 年工作日历未加载，无法计算期限，请管理员加载",
                        f"calendar for {exc.year} not loaded; an admin must load it", year=exc.year)
    guard.__name__ = fn.__name__
    guard.__doc__ = fn.__doc__
    if getattr(fn, "needs_input", False):
        guard.needs_input = True
    return guard


# ---- checks used by several guards ----------------------------------------------------------------

NO_SANCTION_GROUNDS = {
    "minor_corrected_no_harm": "违法行为轻微并及时改正，没有造成危害后果（行政处罚法第33条第1款）",
    "no_fault": "当事人有证据足以证明没有主观过错（行政处罚法第33条第2款）",
    "first_minor_corrected": "初次违法且危害后果轻微并及时改正（行政处罚法第33条第1款；细则第39–40条）",
    "facts_not_established": "违法事实不能成立（行政处罚法第57条）",
    "limitation_expired": "超过追责时效（行政处罚法第36条）",
}
REFERRAL_TARGETS = {"police": S.SanctionKind.REFER_POLICE, "discipline": S.SanctionKind.REFER_DISCIPLINE,
                    "health": S.SanctionKind.REFER_HEALTH, "drug": S.SanctionKind.REFER_DRUG}
PROPOSALS = ("sanction", "no_sanction", "referral")


def loss_of(ctx: Context) -> Decimal:
    d = ctx.details
    if d is not None and d.loss is not None:
        return Decimal(d.loss)
    return Decimal(ctx.case.amount)


def range_failures(items: list[Item], loss: Decimal, tier: S.Tier | None = None,
                   intentional_fraud: bool = False, params: LegalParams = DEFAULTS) -> list[GuardFailure]:
    """Each item inside the legal range of its article (or of the tier's part of it); 一事不再罚."""
    out = []
    fines_by_act: dict[str, list[S.Sanction]] = {}
    for it in items:
        try:
            S.check_one_fine_per_act(fines_by_act.get(it.act, []), it.rule())
        except S.OneFinePerAct as exc:
            out.append(fail(exc.code, exc.zh, exc.en, act=it.act))
        fines_by_act.setdefault(it.act, []).append(it.rule())
        entry = S.catalogue_entry(it.article, it.kind)
        if entry.param is None:
            continue
        unit = getattr(params, entry.param).unit
        value = it.years if unit == YEARS else it.months if unit == MONTHS else it.amount
        if value is None:
            what = {YEARS: "years", MONTHS: "months"}.get(unit, "amount")
            out.append(fail("quantity_required", f"{it.kind.label_zh}须填写{ {'years': '年限', 'months': '期限（月）'}.get(what, '金额') }",
                            f"{it.kind.label_en} needs {what}", kind=it.kind.value, article=it.article))
            continue
        use_tier = tier if tier not in (None, S.Tier.NO_PENALTY) else None
        try:
            S.check_sanction(it.article, it.kind, value, loss=loss, tier=use_tier,
                             intentional_fraud=intentional_fraud, params=params)
        except S.SanctionOutOfRange as exc:
            out.append(fail(exc.code, exc.zh, exc.en, kind=it.kind.value, article=it.article,
                            value=exc.value, allowed={"low": str(exc.allowed.low), "high": str(exc.allowed.high),
                                                      "high_exclusive": exc.allowed.high_exclusive}))
        except ValueError as exc:
            out.append(fail("sanction_invalid", str(exc), str(exc), kind=it.kind.value, article=it.article))
    return out


def case_facts(ctx: Context, items: list[Item], hearing_held: bool | None = None) -> P.CaseFacts:
    d = ctx.details
    recovery = sum((i.amount or Decimal(0) for i in items
                    if i.kind in (S.SanctionKind.ORDER_REFUND, S.SanctionKind.RECOVERY)), Decimal(0))
    if hearing_held is None:
        hearing_held = bool(d is not None and d.hearing_outcome == "held")
    return P.CaseFacts(
        party_type=S.PartyType(ctx.case.party_type),
        sanctions=tuple(i.rule() for i in items),
        recovery_amount=recovery, hearing_held=hearing_held,
        major_public_interest=bool(d and d.major_public_interest),
        complex_case=bool(d and d.complex_case), major_violation=bool(d and d.major_violation))


def review_state(ctx: Context, items: list[Item]) -> GuardFailure | None:
    """No decision (or notice, panel) without a passed legal review where one is mandatory; after a
    hearing, the review must have followed the hearing (行政处罚法 art.58)."""
    facts = case_facts(ctx, items)
    reasons = P.legal_review_reasons(facts, ctx.params)
    if not reasons:
        return None
    reviews = sorted(ctx.file.reviews, key=lambda r: r.round)
    last = reviews[-1] if reviews else None
    need_after_hearing = facts.hearing_held
    if last is None or last.outcome != "passed" or (need_after_hearing and not last.after_hearing):
        return fail("legal_review_required",
                    "须经法制审核通过方可作出决定（行政处罚法第58条）：" + "、".join(r.label_zh for r in reasons),
                    "a passed legal review is mandatory before this step (行政处罚法 art.58): "
                    + ", ".join(r.value for r in reasons), reasons=[r.value for r in reasons],
                    after_hearing=need_after_hearing)
    return None


def working_days_window_ok(start: date, filed: date, n: int, cal: WorkdayCalendar) -> tuple[bool, date | None]:
    """(in time, last day). Filing within n calendar days is in time whatever the calendar says."""
    if filed < start:
        return True, None
    try:
        last = cal.add_working_days(start, n)
    except CalendarNotLoaded:
        if (filed - start).days <= n:
            return True, None
        raise
    return filed <= last, last


# ---- guards ---------------------------------------------------------------------------------------

def reason_given(ctx: Context) -> GuardFailure | None:
    if not (ctx.reason or "").strip():
        return fail("reason_required", "此操作必须填写理由", "A reason is required")
    return None


reason_given.needs_input = True


@needs_input
@guarded
def verification_not_extended(ctx: Context) -> GuardFailure | None:
    """15 working days, +15 once with the leader's approval [U 令第4号]."""
    dl = ctx.file.running_deadline("clue_verification")
    if dl is not None and "extended" in (dl.note or ""):
        return fail("already_extended", "线索核查期限只能延长一次", "clue verification may be extended only once")
    return None


@needs_input
@guarded
def officers_assigned(ctx: Context) -> GuardFailure | None:
    """≥ 2 officers holding 执法证 for every investigation (条例 art.29; 行政处罚法 art.42)."""
    raw = ctx.data.get("officers")
    if not isinstance(raw, list):
        raw = []
    seen, bad = set(), []
    for i, o in enumerate(raw):
        if not isinstance(o, dict) or not all(str(o.get(k) or "").strip() for k in ("id", "name", "credential_no")):
            bad.append(i)
            continue
        seen.add(str(o["id"]))
    if bad or len(seen) < 2 or len(seen) != len(raw):
        return fail("officers_required", "立案须指派至少两名持有执法证的办案人员（填写编号、姓名、执法证号）",
                    "opening a case needs at least two distinct officers, each with id, name and "
                    "enforcement credential number (条例 art.29)", invalid_entries=bad)
    return None


@needs_input
@guarded
def limitation_not_expired(ctx: Context) -> GuardFailure | None:
    """Not discovered within 2 years (5 with health harm) of the act or its end: no penalty (art.36)."""
    act = get_date(ctx.data, "act_date", ctx.case.act_date)
    if act is None:
        return fail("act_date_required", "须填写违法行为发生日期以核对追责时效",
                    "the date of the act is required for the limitation check", field="act_date")
    end = get_date(ctx.data, "act_end_date")
    d = ctx.details
    discovered = (d.clue_received_on if d is not None and d.clue_received_on else None) or ctx.today
    health = bool(ctx.data.get("health_harm", False))
    if P.limitation_expired(act, end, discovered, health, ctx.params):
        years = (ctx.params.limitation_health_harm if health else ctx.params.limitation).value
        return fail("limitation_expired", f"违法行为在{years}年内未被发现，不再给予行政处罚（行政处罚法第36条）",
                    f"the act was not discovered within {years} years: no penalty (行政处罚法 art.36)",
                    act_date=end or act, discovered_on=discovered)
    return None


def is_active_officer(ctx: Context) -> GuardFailure | None:
    if ctx.actor.role == "inspector" and ctx.actor.sub not in {o.officer_id for o in ctx.file.active_officers()}:
        return fail("not_assigned_officer", "只有本案指派且未回避的办案人员可以执行此操作",
                    "only an officer assigned to this case (and not recused) may do this")
    return None


def four_eyes(ctx: Context) -> GuardFailure | None:
    """The legal reviewer is never an investigator of the same case."""
    if ctx.actor.sub in ctx.file.investigators():
        return fail("reviewer_is_investigator", "法制审核人员不得是本案的调查人员",
                    "the legal reviewer may not be an investigator of this case")
    return None


@needs_input
@guarded
def recusal_valid(ctx: Context) -> GuardFailure | None:
    """回避: of an officer or a panel member; decided by a leader; ≥ 2 officers must remain."""
    person = str(ctx.data.get("person") or "")
    capacity = ctx.data.get("capacity", "officer")
    granted = ctx.data.get("granted", True)
    if capacity not in ("officer", "panel_member") or ctx.data.get("requested_by", "officer") not in ("party", "officer", "member"):
        raise _bad("capacity", "应为 officer 或 panel_member；requested_by 应为 party/officer/member",
                   "capacity must be officer or panel_member; requested_by party/officer/member")
    if not isinstance(granted, bool):
        raise _bad("granted", "必须是布尔值", "must be true or false")
    if capacity == "officer":
        active = {o.officer_id for o in ctx.file.active_officers()}
        if person not in active:
            return fail("not_an_officer", "该人员不是本案未回避的办案人员", "not an active officer of this case")
        if granted:
            repl = ctx.data.get("replacement")
            adds = 1 if isinstance(repl, dict) and all(str(repl.get(k) or "").strip()
                                                      for k in ("id", "name", "credential_no")) else 0
            if len(active) - 1 + adds < 2:
                return fail("officers_required", "回避后办案人员不足两名，须同时指派替换人员（replacement）",
                            "fewer than two officers would remain; assign a replacement")
    else:
        members = {v.member for v in ctx.file.votes if not v.recused}
        if ctx.file.panel is None or ctx.file.panel.concluded_on is not None or person not in members:
            return fail("not_a_member", "该人员不是正在进行的集体讨论的成员", "not a member of an open panel session")
    return None


@guarded
def no_open_preservation(ctx: Context) -> GuardFailure | None:
    if ctx.file.running_deadline("preservation_decision") is not None:
        return fail("preservation_pending", "已有先行登记保存的证据尚待处理决定",
                    "evidence under 先行登记保存 still awaits its decision")
    return None


@guarded
def preservation_pending(ctx: Context) -> GuardFailure | None:
    if ctx.file.running_deadline("preservation_decision") is None:
        return fail("no_preservation", "没有待处理的先行登记保存", "no evidence under 先行登记保存 awaits a decision")
    return None


@needs_input
@guarded
def report_complete(ctx: Context) -> GuardFailure | None:
    """调查终结报告: the proposal is a sanction (in range), no sanction with a statutory ground, or a
    referral; the 12 police-referral behaviours force a referral to the police (细则 art.41)."""
    data = ctx.data
    proposal = data.get("proposal")
    if proposal not in PROPOSALS:
        raise _bad("proposal", "应为 sanction / no_sanction / referral", "must be sanction, no_sanction or referral")
    behaviours = data.get("behaviours") or []
    if not isinstance(behaviours, list) or any(b not in {m.value for m in S.PoliceReferral} for b in behaviours):
        raise _bad("behaviours", "包含未知的移送情形", "contains an unknown police-referral behaviour")
    get_decimal(data.get("loss"), "loss")
    if S.referral_required(behaviours) and (proposal != "referral" or data.get("referral_target") != "police"):
        return mandatory_referral_failure(behaviours)
    if proposal == "no_sanction" and data.get("no_sanction_ground") not in NO_SANCTION_GROUNDS:
        return fail("no_sanction_ground_required", "不予处罚须写明法定理由", "no sanction needs its statutory ground",
                    allowed=sorted(NO_SANCTION_GROUNDS))
    if proposal == "referral" and data.get("referral_target") not in REFERRAL_TARGETS:
        return fail("referral_target_required", "移送须写明移送机关", "a referral needs its target",
                    allowed=sorted(REFERRAL_TARGETS))
    items = parse_items(data.get("sanctions"))
    if proposal == "sanction":
        if not items:
            return fail("sanctions_required", "处罚建议须列明处罚种类和幅度", "a sanction proposal must list the sanctions")
        loss = get_decimal(data.get("loss"), "loss") or Decimal(ctx.case.amount)
        failures = range_failures(items, loss, intentional_fraud=bool(data.get("intentional_fraud")), params=ctx.params)
        return failures[0] if failures else None
    return None


def mandatory_referral_failure(behaviours) -> GuardFailure:
    labels = [m.label_zh for m in S.mandatory_referrals(behaviours)]
    return fail("referral_mandatory", "涉及须移送公安机关的情形，必须移送（细则第41条）：" + "、".join(labels),
                "behaviours that must be referred to the police (细则 art.41): the case must be referred",
                behaviours=[m.value for m in S.mandatory_referrals(behaviours)])


@guarded
def review_passed_if_mandatory(ctx: Context) -> GuardFailure | None:
    return review_state(ctx, [as_item(s) for s in ctx.file.latest_proposal()])


@guarded
def proposal_is_sanction(ctx: Context) -> GuardFailure | None:
    if ctx.details is None or ctx.details.proposal != "sanction":
        return fail("no_sanction_proposed", "调查终结报告未建议给予处罚", "the report proposes no sanction")
    return None


@guarded
def panel_done_if_required(ctx: Context) -> GuardFailure | None:
    """Complex or serious cases: collective discussion of the leaders first (行政处罚法 art.57)."""
    facts = case_facts(ctx, [as_item(s) for s in ctx.file.latest_proposal()])
    panel = ctx.file.panel
    if P.panel_required(facts) and (panel is None or panel.concluded_on is None):
        return fail("panel_required", "情节复杂或重大违法行为，须经负责人集体讨论（行政处罚法第57条）",
                    "complex or serious case: collective discussion is required (行政处罚法 art.57)")
    return None


@needs_input
@guarded
def panel_setup(ctx: Context) -> GuardFailure | None:
    members = ctx.data.get("members")
    if not isinstance(members, list) or not all(isinstance(m, str) and m.strip() for m in members) \
            or len(set(members)) != len(members):
        raise _bad("members", "须列出参加讨论的成员（不重复）", "list the distinct members of the panel")
    if not str(ctx.data.get("agenda") or "").strip():
        raise _bad("agenda", "须填写议题", "an agenda is required")
    minimum = ctx.params.panel_quorum_minimum.value
    if len(members) < minimum:
        return fail("panel_too_small", f"集体讨论成员不得少于{minimum}人", f"a panel needs at least {minimum} members",
                    minimum=minimum)
    clash = set(members) & ctx.file.investigators()
    if clash:
        return fail("member_is_investigator", "本案调查人员不得作为集体讨论成员参与表决",
                    "investigators of the case may not sit on its panel", members=sorted(clash))
    return None


@needs_input
@guarded
def vote_valid(ctx: Context) -> GuardFailure | None:
    vote = next((v for v in ctx.file.votes if v.member == ctx.actor.sub), None)
    if vote is None:
        return fail("not_a_member", "您不是本次集体讨论的成员", "you are not a member of this panel")
    if vote.recused:
        return fail("member_recused", "已回避的成员不得表决", "a recused member may not vote")
    if vote.vote is not None:
        return fail("already_voted", "已经表决", "already voted")
    if ctx.data.get("vote") not in ("agree", "disagree", "abstain"):
        raise _bad("vote", "应为 agree / disagree / abstain", "must be agree, disagree or abstain")
    if ctx.data.get("vote") == "agree":
        parse_tier(ctx.data.get("tier"))
    return None


@needs_input
@guarded
def panel_result_valid(ctx: Context) -> GuardFailure | None:
    """Quorum counted without recused members; the tier carried by a majority of those present; the
    concrete sanctions inside that tier's part of the legal range."""
    votes = ctx.file.votes
    members = len(votes)
    recused = sum(1 for v in votes if v.recused)
    present = [v for v in votes if not v.recused and v.vote is not None]
    if not P.panel_quorum_met(members, recused, len(present), ctx.params):
        return fail("quorum_not_met", "出席表决的成员未达法定人数（回避成员不计）",
                    "quorum not met (recused members are not counted)",
                    members=members, recused=recused, present=len(present))
    tier = parse_tier(ctx.data.get("tier"))
    support = sum(1 for v in present if v.vote == "agree" and v.tier == tier.value)
    if support * 2 <= len(present):
        tally = Counter(v.tier for v in present if v.vote == "agree")
        return fail("no_majority", f"「{tier.label_zh}」未获出席成员过半数同意",
                    f"tier {tier.value!r} lacks a majority of the members present", tally=dict(tally))
    items = parse_items(ctx.data.get("sanctions"))
    penalties = [i for i in items if i.track is S.Track.PENALTY]
    if tier is S.Tier.NO_PENALTY and penalties:
        return fail("no_penalty_tier_with_penalty", "不予处罚档次不得列出行政处罚", "the no-penalty tier lists no penalties")
    if tier is not S.Tier.NO_PENALTY and not penalties:
        return fail("sanctions_required", "须写明具体处罚", "the concrete sanctions are required")
    failures = range_failures(items, loss_of(ctx), tier, params=ctx.params)
    return failures[0] if failures else None


@needs_input
@guarded
def notice_date_valid(ctx: Context) -> GuardFailure | None:
    served = get_date(ctx.data, "served_on", ctx.today)
    if served > ctx.today:
        raise _bad("served_on", "不得晚于今天", "may not be in the future")
    return None


def _window(ctx: Context, start: date | None, n: int, code: str, zh: str, en: str) -> GuardFailure | None:
    if start is None:
        return fail("no_notice", "尚未送达事先告知书", "the prior notice has not been served")
    ok, last = working_days_window_ok(start, ctx.today, n, ctx.calendar)
    if not ok:
        return fail(code, f"{zh}：自 {start} 起 {n} 个工作日内（截至 {last}）",
                    f"{en}: within {n} working days of {start} (until {last})",
                    window_starts_on=start, window_ends_on=last, working_days=n)
    return None


@guarded
def defence_in_window(ctx: Context) -> GuardFailure | None:
    """陈述申辩 within the configured window after the notice (default 5 working days [U, local])."""
    d = ctx.details
    if d.rights_waived:
        return fail("rights_waived", "当事人已明确放弃陈述申辩权利", "the party has waived its rights")
    return _window(ctx, d.notice_served_on, ctx.params.defence_window.value, "defence_window_closed",
                   "陈述申辩期限已过", "the defence window has closed")


@guarded
def rights_not_waived(ctx: Context) -> GuardFailure | None:
    if ctx.details.rights_waived:
        return fail("rights_waived", "当事人已明确放弃陈述申辩和听证权利", "the party has already waived its rights")
    return None


@guarded
def defence_filed(ctx: Context) -> GuardFailure | None:
    if ctx.details.defence_filed_on is None:
        return fail("no_defence", "当事人未提出陈述申辩", "the party filed no defence")
    return None


@guarded
def hearing_request_valid(ctx: Context) -> GuardFailure | None:
    """听证: offered for heavy sanctions (art.63, local thresholds); requested within 5 working days
    of the notice (arts.64, 85)."""
    d = ctx.details
    items = [as_item(s) for s in ctx.file.stage("notified")]
    if not P.hearing_available([i.rule() for i in items], S.PartyType(ctx.case.party_type), ctx.params):
        return fail("hearing_not_available", "拟作出的处罚不属于应当告知听证权利的情形",
                    "the intended sanction does not carry a right to a hearing")
    if d.rights_waived:
        return fail("rights_waived", "当事人已明确放弃陈述申辩和听证权利", "the party has waived its rights")
    return _window(ctx, d.notice_served_on, ctx.params.hearing_request.value, "hearing_request_late",
                   "听证申请已超过期限", "the hearing request is late")


@needs_input
@guarded
def hearing_schedule_valid(ctx: Context) -> GuardFailure | None:
    """Party told ≥ 7 working days before; chaired by a non-investigator (art.64)."""
    hearing_on = get_date(ctx.data, "hearing_on", required=True)
    told_on = get_date(ctx.data, "notified_on", ctx.today)
    chair = str(ctx.data.get("chair") or "").strip()
    if not chair:
        raise _bad("chair", "须指定听证主持人", "a chair is required")
    if chair in ctx.file.investigators():
        return fail("chair_is_investigator", "听证由非本案调查人员主持（行政处罚法第64条）",
                    "the hearing is chaired by someone who did not investigate the case (行政处罚法 art.64)")
    if not P.hearing_notice_in_time(told_on, hearing_on, ctx.calendar, ctx.params):
        earliest = ctx.calendar.add_working_days(told_on, ctx.params.hearing_notice.value)
        return fail("hearing_notice_too_short", f"应当在举行听证的七个工作日前通知当事人（最早 {earliest}）",
                    f"the party must be told at least 7 working days ahead (earliest {earliest})",
                    earliest_hearing_on=earliest)
    return None


@guarded
def hearing_day_reached(ctx: Context) -> GuardFailure | None:
    if ctx.details.hearing_on is None or ctx.today < ctx.details.hearing_on:
        return fail("hearing_not_yet", "听证日期未到", "the hearing date has not come",
                    hearing_on=ctx.details.hearing_on)
    return None


@needs_input
@guarded
def decision_valid(ctx: Context) -> GuardFailure | None:
    """决定: every rule of the decision at once (see the failures' codes)."""
    d = ctx.details
    kind = ctx.data.get("decision")
    if kind not in PROPOSALS:
        raise _bad("decision", "应为 sanction / no_sanction / referral", "must be sanction, no_sanction or referral")
    behaviours = [b for b in (d.behaviours or "").split(",") if b]
    if S.referral_required(behaviours) and (kind != "referral" or ctx.data.get("referral_target") != "police"):
        return mandatory_referral_failure(behaviours)
    if kind == "referral" and ctx.data.get("referral_target") not in REFERRAL_TARGETS:
        return fail("referral_target_required", "移送须写明移送机关", "a referral needs its target",
                    allowed=sorted(REFERRAL_TARGETS))
    if kind == "no_sanction" and ctx.data.get("no_sanction_ground") not in NO_SANCTION_GROUNDS:
        return fail("no_sanction_ground_required", "不予处罚须写明法定理由", "no sanction needs its statutory ground",
                    allowed=sorted(NO_SANCTION_GROUNDS))
    items = parse_items(ctx.data.get("sanctions"))
    if kind == "sanction":
        if not items:
            return fail("sanctions_required", "处罚决定须列明处罚", "a sanction decision must list the sanctions")
        failure = review_state(ctx, items) or panel_done_if_required(ctx) or prior_notice_heard(ctx)
        if failure:
            return failure
        if d.hearing_requested_on is not None and d.hearing_outcome is None:
            return fail("hearing_pending", "当事人申请的听证尚未结束", "the hearing the party requested has not ended")
        failures = range_failures(items, loss_of(ctx), params=ctx.params)
        if failures:
            return failures[0]
        try:
            S.defence_may_not_raise([as_item(s).rule() for s in ctx.file.stage("notified")],
                                    [i.rule() for i in items])
        except RuleViolation as exc:
            return fail(exc.code, exc.zh, exc.en, reasons=exc.details.get("reasons", []))
    return decision_in_time(ctx)


def prior_notice_heard(ctx: Context) -> GuardFailure | None:
    """事先告知 served, and the party heard: defence window over, defence re-checked, or rights
    expressly waived (行政处罚法 arts.44, 45, 62)."""
    d = ctx.details
    if d.notice_served_on is None:
        return fail("prior_notice_required", "未经事先告知不得作出处罚决定（行政处罚法第62条）",
                    "no penalty decision without prior notice (行政处罚法 art.62)")
    if d.rights_waived or d.hearing_outcome == "held":
        return None
    if d.defence_filed_on is not None and not d.defence_rechecked:
        return fail("defence_not_rechecked", "当事人提出的陈述申辩尚未复核（行政处罚法第45条）",
                    "the party's defence has not been re-checked (行政处罚法 art.45)")
    if d.defence_filed_on is None:
        n = ctx.params.defence_window.value
        last = ctx.calendar.add_working_days(d.notice_served_on, n)
        if ctx.today <= last:
            return fail("defence_window_open", f"陈述申辩期限未满（截至 {last}），当事人未放弃权利",
                        f"the defence window is still open (until {last}) and the party has not waived it",
                        window_ends_on=last)
        if d.hearing_offered and d.hearing_requested_on is None:
            last_h = ctx.calendar.add_working_days(d.notice_served_on, ctx.params.hearing_request.value)
            if ctx.today <= last_h:
                return fail("hearing_window_open", f"听证申请期限未满（截至 {last_h}）",
                            f"the hearing request window is still open (until {last_h})", window_ends_on=last_h)
    return None


def decision_deadline_of(ctx: Context) -> date | None:
    d = ctx.details
    if d is None or d.opened_on is None:
        return None
    exts = []
    if d.decision_extended_by_leader:
        exts.append(P.Extension(P.Approver.LEADER))
    if d.decision_panel_deadline:
        exts.append(P.Extension(P.Approver.PANEL, d.decision_panel_deadline))
    pauses = [(p.started_on, p.ended_on or ctx.today) for p in ctx.file.pauses]
    return P.decision_deadline(d.opened_on, exts, pauses, ctx.params)


def decision_in_time(ctx: Context) -> GuardFailure | None:
    """Within 90 days of 立案, +30 with the leader's approval, further only by the panel; paused
    periods not counted (行政处罚法 art.60; 令第4号 [U])."""
    last = decision_deadline_of(ctx)
    if last is not None and ctx.today > last:
        return fail("decision_time_limit_passed", f"作出决定的期限已于 {last} 届满，须先经批准延长",
                    f"the time limit to decide ended on {last}; an approved extension is needed first",
                    deadline=last)
    return None


@needs_input
@guarded
def extension_valid(ctx: Context) -> GuardFailure | None:
    d = ctx.details
    by = ctx.data.get("approved_by")
    if by not in ("leader", "panel"):
        raise _bad("approved_by", "应为 leader 或 panel", "must be leader or panel")
    new = get_date(ctx.data, "new_deadline", required=(by == "panel"))
    if by == "panel" and not str(ctx.data.get("minutes") or "").strip():
        raise _bad("minutes", "集体讨论延期须附会议纪要", "a panel extension needs the minutes")
    exts = ([P.Extension(P.Approver.LEADER)] if d.decision_extended_by_leader else []) + \
        ([P.Extension(P.Approver.PANEL, d.decision_panel_deadline)] if d.decision_panel_deadline else [])
    exts.append(P.Extension(P.Approver(by), new))
    try:
        P.decision_deadline(d.opened_on, exts, [(p.started_on, p.ended_on or ctx.today) for p in ctx.file.pauses],
                            ctx.params)
    except RuleViolation as exc:
        return fail(exc.code, exc.zh, exc.en)
    return None


@needs_input
@guarded
def simplified_valid(ctx: Context) -> GuardFailure | None:
    """简易程序: a warning or a fine ≤ 200 元 (individual) / 3,000 元 (entity) (行政处罚法 art.51)."""
    items = parse_items(ctx.data.get("sanctions"))
    if not P.simplified_allowed([i.rule() for i in items], S.PartyType(ctx.case.party_type), ctx.params):
        limit = P._threshold(ctx.params, "simplified_fine", S.PartyType(ctx.case.party_type))
        return fail("simplified_not_allowed", f"简易程序仅适用于警告或 {limit} 元以下罚款（行政处罚法第51条）",
                    f"the simplified procedure allows only a warning or a fine up to {limit} 元 (行政处罚法 art.51)",
                    limit=limit)
    failures = range_failures(items, loss_of(ctx), params=ctx.params)
    return failures[0] if failures else None


@needs_input
@guarded
def service_valid(ctx: Context) -> GuardFailure | None:
    served = get_date(ctx.data, "served_on", ctx.today)
    if served > ctx.today or (ctx.details.decided_on and served < ctx.details.decided_on):
        raise _bad("served_on", "应在决定日与今天之间", "must lie between the decision date and today")
    return None


def money_due(ctx: Context) -> dict[str, Decimal]:
    decided = [as_item(s) for s in ctx.file.stage("decided")]
    due = {"fine": Decimal(0), "recovery": Decimal(0), "liquidated_damages": Decimal(0)}
    for i in decided:
        if i.kind in (S.SanctionKind.FINE, S.SanctionKind.CONFISCATION):
            due["fine"] += i.amount or 0
        elif i.kind in (S.SanctionKind.ORDER_REFUND, S.SanctionKind.RECOVERY):
            due["recovery"] += i.amount or 0
        elif i.kind is S.SanctionKind.LIQUIDATED_DAMAGES:
            due["liquidated_damages"] += i.amount or 0
    return due


def money_paid(ctx: Context) -> dict[str, Decimal]:
    paid: dict[str, Decimal] = {}
    for p in ctx.file.payments:
        paid[p.kind] = paid.get(p.kind, Decimal(0)) + Decimal(p.amount)
    return paid


def surcharge_owed(ctx: Context) -> Decimal:
    """3 %/day after the due date, capped at the fine; days under 复议/诉讼 not counted (art.72–73)."""
    dl = next((x for x in ctx.file.deadlines if x.kind == "payment"), None)
    due = money_due(ctx)["fine"]
    if dl is None or dl.due_on is None or due <= 0:
        return Decimal(0)
    fine_paid_rows = sorted((p for p in ctx.file.payments if p.kind == "fine"), key=lambda p: p.paid_on)
    total, paid_day = Decimal(0), None
    for p in fine_paid_rows:
        total += Decimal(p.amount)
        if total >= due:
            paid_day = p.paid_on
            break
    end = paid_day or ctx.today
    paused = 0
    for a in ctx.file.appeals:
        if a.kind in ("administrative_review", "litigation", "litigation_after_review"):
            stop = min(a.decided_on or end, end)
            start = max(a.filed_on, dl.due_on)
            paused += max(0, (stop - start).days)
    return P.surcharge(due, dl.due_on, end, paused, ctx.params)


@guarded
def something_to_enforce(ctx: Context) -> GuardFailure | None:
    if ctx.details.decision_kind != "sanction" or not any(money_due(ctx).values()):
        return fail("nothing_to_enforce", "决定中没有需要执行的金钱给付", "the decision orders no payment")
    return None


@needs_input
@guarded
def payment_valid(ctx: Context) -> GuardFailure | None:
    if ctx.data.get("kind") not in ("fine", "surcharge", "recovery", "liquidated_damages"):
        raise _bad("kind", "应为 fine / surcharge / recovery / liquidated_damages",
                   "must be fine, surcharge, recovery or liquidated_damages")
    amount = get_decimal(ctx.data.get("amount"), "amount")
    if not amount:
        raise _bad("amount", "必须大于零", "must be above zero")
    paid_on = get_date(ctx.data, "paid_on", ctx.today)
    if paid_on > ctx.today:
        raise _bad("paid_on", "不得晚于今天", "may not be in the future")
    return None


@guarded
def enforcement_complete(ctx: Context) -> GuardFailure | None:
    """结案: the decision executed (fines, surcharge, recovery paid) or court enforcement applied for."""
    d = ctx.details
    if d.decision_kind != "sanction" or d.court_enforcement_on is not None:
        return None
    due, paid = money_due(ctx), money_paid(ctx)
    due["surcharge"] = surcharge_owed(ctx)
    missing = {k: str(v - paid.get(k, Decimal(0))) for k, v in due.items() if paid.get(k, Decimal(0)) < v}
    if missing:
        return fail("not_executed", "处罚决定尚未执行完毕（或未申请法院强制执行），不能结案",
                    "the decision is not fully executed (nor court enforcement applied for): cannot close",
                    outstanding=missing)
    return None


@needs_input
@guarded
def appeal_in_window(ctx: Context) -> GuardFailure | None:
    """复议 60 days (1 year if the routes were not stated; 5-year hard stop), 诉讼 6 months, 诉讼 after
    复议 15 days (行政复议法 arts.20–21; 行政诉讼法 arts.45–46)."""
    kind = ctx.data.get("kind")
    kinds = {"complaint", *(k.value for k in P.AppealKind)}
    if kind not in kinds:
        raise _bad("kind", "应为 " + " / ".join(sorted(kinds)), "must be one of " + ", ".join(sorted(kinds)))
    d = ctx.details
    if d.decision_kind in (None, "annulled") or d.served_on is None:
        return fail("no_decision_served", "没有已送达的决定可供申请救济", "no served decision to appeal against")
    if kind == "complaint":
        return None
    act = ctx.case.act_date or d.opened_on
    start = d.served_on
    if kind == P.AppealKind.LITIGATION_AFTER_REVIEW.value:
        review = next((a for a in ctx.file.appeals if a.kind == "administrative_review" and a.decided_on), None)
        if review is None:
            return fail("no_review_decision", "尚无复议决定", "there is no administrative-review decision")
        start = review.decided_on
    last = P.appeal_deadline(P.AppealKind(kind), start, d.routes_stated, act, ctx.calendar,
                             right_known_on=get_date(ctx.data, "right_known_on"), params=ctx.params)
    if ctx.today > last:
        return fail("appeal_out_of_window", f"已超过申请期限：自 {start} 起至 {last}",
                    f"filed outside the window: from {start} until {last}",
                    window_starts_on=start, window_ends_on=last, kind=kind)
    return None


@needs_input
@guarded
def appeal_outcome_valid(ctx: Context) -> GuardFailure | None:
    """Outcome upheld / changed / annulled; 复议 may not worsen the appellant's position (art.63)."""
    appeal = next((a for a in ctx.file.appeals if a.id == ctx.data.get("appeal_id")), None)
    if appeal is None or appeal.outcome is not None:
        return fail("no_open_appeal", "没有该待决的救济申请", "no such pending appeal")
    outcome = ctx.data.get("outcome")
    if outcome not in ("upheld", "changed", "annulled"):
        raise _bad("outcome", "应为 upheld / changed / annulled", "must be upheld, changed or annulled")
    if outcome == "changed":
        items = parse_items(ctx.data.get("sanctions"))
        if not items:
            return fail("sanctions_required", "变更决定须列明变更后的处罚", "a change must list the new sanctions")
        failures = range_failures(items, loss_of(ctx), params=ctx.params)
        if failures:
            return failures[0]
        if appeal.kind in ("administrative_review", "complaint"):
            worse = S.aggravations([as_item(s).rule() for s in ctx.file.stage("decided")], [i.rule() for i in items])
            if worse:
                return fail("reformatio_in_peius", "行政复议不得作出对申请人更为不利的变更（行政复议法第63条）",
                            "administrative review may not make the applicant worse off (行政复议法 art.63)",
                            reasons=worse)
    return None


AGREEMENT_KINDS = {e.kind.value for e in S.CATALOGUE.values() if e.track is S.Track.AGREEMENT}


@needs_input
@guarded
def agreement_action_valid(ctx: Context) -> GuardFailure | None:
    """协议处理 by the agency under the service agreement (条例 art.13); 解除协议 needs a passed legal
    review [S 汕尾]."""
    if ctx.data.get("kind") not in AGREEMENT_KINDS:
        raise _bad("kind", "应为 " + " / ".join(sorted(AGREEMENT_KINDS)), "must be one of " + ", ".join(sorted(AGREEMENT_KINDS)))
    item = parse_items([{**ctx.data, "article": "agreement"}])[0]
    if item.kind is S.SanctionKind.TERMINATE_AGREEMENT:
        return review_state(ctx, [item])
    return None
