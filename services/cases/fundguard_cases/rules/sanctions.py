"""Sanctions: the catalogue by (article, kind), range checks, discretion tiers, one fine per act,
no aggravation after defence, the 细则 art.33 suspension schedule and mandatory police referral.

Ranges live in `legal.py`; this module only says which entry applies to which (article, kind).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from .errors import RuleViolation
from .legal import DEFAULTS, MULTIPLE_OF_LOSS, YEARS, YUAN, LegalParams, Range


class PartyType(str, Enum):
    INDIVIDUAL = "individual"  # 公民
    ENTITY = "entity"  # 法人或者其他组织


class Track(str, Enum):
    PENALTY = "penalty"  # 行政处罚, by the 医保行政部门
    ORDER = "order"  # 责令改正 / 责令退回 / 约谈: administrative, not a penalty
    AGREEMENT = "agreement"  # 协议处理, by the 经办机构 under the service agreement
    REFERRAL = "referral"  # 移送


class SanctionKind(Enum):
    """`rank` orders severity for the no-aggravation rule (警告 < 罚款 < 暂停 < 解除);
    None = not compared (orders to correct or repay, recovery, referrals)."""

    ORDER_CORRECTION = ("order_correction", "责令改正", "order to correct", None)
    ORDER_REFUND = ("order_refund", "责令退回", "order to repay the fund", None)
    WARNING = ("warning", "警告", "warning", 1)
    INTERVIEW = ("interview", "约谈", "interview of the person in charge", 1)
    RECTIFY = ("rectify", "限期整改", "rectification within a set time", 1)
    CRITICISM = ("criticism", "通报批评", "public criticism", 1)
    FINE = ("fine", "罚款", "fine", 2)
    CONFISCATION = ("confiscation", "没收违法所得", "confiscation of illegal income", 2)
    LIQUIDATED_DAMAGES = ("liquidated_damages", "违约金", "liquidated damages", 2)
    DEPARTMENT_SUSPENSION = (
        "department_suspension", "暂停相关责任部门涉及医疗保障基金使用的医药服务",
        "suspension of the responsible department's fund-related services", 3,
    )
    SETTLEMENT_SUSPENSION = ("settlement_suspension", "暂停医疗费用联网结算", "suspension of networked settlement", 3)
    SUSPEND_PAYMENT = ("suspend_payment", "暂停拨付", "suspension of fund payments", 3)
    SUSPEND_AGREEMENT = ("suspend_agreement", "中止服务协议", "suspension of the service agreement", 3)
    TERMINATE_AGREEMENT = ("terminate_agreement", "解除服务协议", "termination of the service agreement", 4)
    PRACTICE_BAN = ("practice_ban", "禁止从事定点医药机构管理活动", "ban from managing designated institutions", 4)
    RECOVERY = ("recovery", "追回违规费用", "recovery of non-compliant costs", None)
    REFER_POLICE = ("refer_police", "移送公安机关", "referral to the police", None)
    REFER_DISCIPLINE = ("refer_discipline", "移送纪检监察机关", "referral to discipline and supervision", None)
    REFER_HEALTH = ("refer_health", "移送卫生健康主管部门", "referral to the health authority", None)
    REFER_DRUG = ("refer_drug", "移送药品监督管理部门", "referral to the drug regulator", None)

    def __new__(cls, code: str, label_zh: str, label_en: str, rank: int | None):
        member = object.__new__(cls)
        member._value_ = code
        member.label_zh = label_zh
        member.label_en = label_en
        member.rank = rank
        return member


K = SanctionKind


@dataclass(frozen=True)
class Sanction:
    kind: SanctionKind
    amount: Decimal | None = None  # 元: fines, confiscation, 违约金
    months: int | None = None  # duration: suspensions, bans
    article: str | None = None


def as_sanctions(sanctions: Sanction | Iterable[Sanction]) -> tuple[Sanction, ...]:
    """One sanction or several, as a tuple."""
    return (sanctions,) if isinstance(sanctions, Sanction) else tuple(sanctions)


@dataclass(frozen=True)
class CatalogueEntry:
    article: str
    kind: SanctionKind
    track: Track
    param: str | None = None  # LegalParams entry holding the range; None = no quantity set by law
    condition: str = ""  # when the law provides it


def _entries() -> list[CatalogueEntry]:
    P, O, A, R = Track.PENALTY, Track.ORDER, Track.AGREEMENT, Track.REFERRAL
    loss = "造成基金损失的"
    return [
        # 条例 art.37: 经办机构 fraud
        CatalogueEntry("37", K.ORDER_REFUND, O),
        CatalogueEntry("37", K.FINE, P, "art37_fine", "骗取金额 2–5 倍"),
        # art.38: 定点医药机构 loss-causing acts
        CatalogueEntry("38", K.ORDER_CORRECTION, O),
        CatalogueEntry("38", K.INTERVIEW, O),
        CatalogueEntry("38", K.ORDER_REFUND, O, condition=loss),
        CatalogueEntry("38", K.FINE, P, "art38_fine", loss),
        CatalogueEntry("38", K.DEPARTMENT_SUSPENSION, P, "art38_suspension", "拒不改正或者造成严重后果的"),
        # art.39: management duties
        CatalogueEntry("39", K.ORDER_CORRECTION, O),
        CatalogueEntry("39", K.INTERVIEW, O),
        CatalogueEntry("39", K.FINE, P, "art39_fine", "拒不改正的"),
        # art.40: 定点医药机构 fraud (termination of the agreement is the agency's, see "agreement")
        CatalogueEntry("40", K.ORDER_REFUND, O),
        CatalogueEntry("40", K.FINE, P, "art40_fine"),
        CatalogueEntry("40", K.DEPARTMENT_SUSPENSION, P, "art40_suspension"),
        # art.41: individuals
        CatalogueEntry("41(1)", K.ORDER_CORRECTION, O),
        CatalogueEntry("41(1)", K.ORDER_REFUND, O, condition=loss),
        CatalogueEntry("41(1)", K.SETTLEMENT_SUSPENSION, P, "art41_suspension", "属于参保人员的"),
        CatalogueEntry("41(2)", K.ORDER_CORRECTION, O),
        CatalogueEntry("41(2)", K.ORDER_REFUND, O, condition=loss),
        CatalogueEntry("41(2)", K.SETTLEMENT_SUSPENSION, P, "art41_suspension", "属于参保人员的"),
        CatalogueEntry("41(2)", K.FINE, P, "art41_2_fine", "骗取金额 2–5 倍"),
        # art.42–44
        CatalogueEntry("42", K.CONFISCATION, P),
        CatalogueEntry("43", K.PRACTICE_BAN, P, "art43_ban", "造成重大损失或者严重不良社会影响的"),
        CatalogueEntry("44", K.ORDER_REFUND, O, condition="责令追回"),
        CatalogueEntry("44", K.CONFISCATION, P),
        # agreement track (条例 art.13; 令第2号 menu [U]); quantities are set by each area's agreement
        *(CatalogueEntry("agreement", kind, A) for kind in (
            K.INTERVIEW, K.RECTIFY, K.CRITICISM, K.SUSPEND_PAYMENT, K.SUSPEND_AGREEMENT,
            K.TERMINATE_AGREEMENT, K.LIQUIDATED_DAMAGES, K.RECOVERY,
        )),
        # referral (行政处罚法 arts.27, 82; 条例 art.40; 细则 arts.41–42)
        *(CatalogueEntry("referral", kind, R)
          for kind in (K.REFER_POLICE, K.REFER_DISCIPLINE, K.REFER_HEALTH, K.REFER_DRUG)),
    ]


CATALOGUE: dict[tuple[str, SanctionKind], CatalogueEntry] = {(e.article, e.kind): e for e in _entries()}


# --- errors ----------------------------------------------------------------------------------


class SanctionNotProvided(RuleViolation):
    code = "sanction_not_provided"


class SanctionOutOfRange(RuleViolation):
    code = "sanction_out_of_range"

    def __init__(self, zh: str, en: str, *, allowed: Range, value: Decimal, article: str, kind: SanctionKind):
        super().__init__(zh, en, allowed=allowed, value=value, article=article, kind=kind)
        self.allowed = allowed
        self.value = value


class OneFinePerAct(RuleViolation):
    code = "one_fine_per_act"


class DefenceAggravation(RuleViolation):
    code = "defence_aggravates"


# --- discretion tiers --------------------------------------------------------------------------


class Tier(Enum):
    NO_PENALTY = ("no_penalty", "不予处罚", "no penalty")
    MITIGATED = ("mitigated", "减轻", "mitigated")  # below the legal minimum
    LENIENT = ("lenient", "从轻", "lenient")
    ORDINARY = ("ordinary", "一般", "ordinary")
    SEVERE = ("severe", "从重", "severe")

    def __new__(cls, code: str, label_zh: str, label_en: str):
        member = object.__new__(cls)
        member._value_ = code
        member.label_zh = label_zh
        member.label_en = label_en
        return member


# --- catalogue look-ups and range checks -----------------------------------------------------


def article_label(article: str) -> tuple[str, str]:
    if article == "agreement":
        return "服务协议", "the service agreement"
    if article == "referral":
        return "移送规定", "the referral rules"
    number, _, paragraph = article.partition("(")
    zh = f"条例第{number}条" + (f"第{paragraph.rstrip(')')}款" if paragraph else "")
    return zh, f"条例 art.{article}"


def catalogue_entry(article: str, kind: SanctionKind) -> CatalogueEntry:
    entry = CATALOGUE.get((article, kind))
    if entry is None:
        zh, en = article_label(article)
        raise SanctionNotProvided(f"{zh}未规定{kind.label_zh}", f"{en} provides no {kind.label_en}", article=article, kind=kind)
    return entry


def _legal_range(article: str, kind: SanctionKind, params: LegalParams) -> tuple[Range, str]:
    """The legal range of (article, kind) in its own unit (× loss, 元, months, years)."""
    entry = catalogue_entry(article, kind)
    if entry.param is None:
        zh, en = article_label(article)
        raise ValueError(f"{zh}的{kind.label_zh}没有法定幅度 / {en}: {kind.label_en} has no legal range")
    legal = getattr(params, entry.param)
    return legal.value, legal.unit


def tier_range(article: str, tier: Tier, kind: SanctionKind = SanctionKind.FINE, params: LegalParams = DEFAULTS) -> Range:
    """Range for a discretion tier, in the legal range's unit (× loss, 元, months, years).

    不予 = nothing; 减轻 = below the legal minimum; 从轻/一般/从重 = the configured parts of the
    legal range (default [U]: lower half / whole range / upper half).
    """
    legal, _unit = _legal_range(article, kind, params)
    if tier is Tier.NO_PENALTY:
        return Range(Decimal(0), Decimal(0))
    if tier is Tier.MITIGATED:
        return Range(Decimal(0), legal.low, high_exclusive=True)
    return legal.part(getattr(params, f"tier_{tier.value}").value)


def individual_suspension_months(
    loss: Decimal, intentional_fraud: bool = False, params: LegalParams = DEFAULTS
) -> int | None:
    """细则 art.33 schedule for suspending an insured person's networked settlement.

    Intentional fraud → the maximum (12). Loss ≥ 1,000 元 → 3 months, +1 per further full 100 元,
    at most 12 (so ≥ 1,900 元 → 12). Below 1,000 元 → None: the schedule does not apply [U].
    """
    legal = params.art41_suspension.value
    if intentional_fraud:
        return int(legal.high)
    floor = params.suspension_schedule_floor.value
    if Decimal(loss) < floor:
        return None
    steps = int((Decimal(loss) - floor) // params.suspension_schedule_step.value)
    return int(min(legal.high, legal.low + steps * params.suspension_schedule_step_months.value))


def _ranges(article, kind, loss, intentional_fraud, tier, params) -> tuple[Range, str, Range, str]:
    """(range, unit) as the law states it, then (range, unit) in absolute terms (元 for multiples)."""
    legal, unit = _legal_range(article, kind, params)
    scheduled = None
    if kind is SanctionKind.SETTLEMENT_SUSPENSION:
        scheduled = individual_suspension_months(loss or Decimal(0), intentional_fraud, params)
    if scheduled is not None:
        chosen = Range(Decimal(scheduled), Decimal(scheduled))
    else:
        chosen = legal if tier is None else tier_range(article, tier, kind, params)
    if unit != MULTIPLE_OF_LOSS:
        return chosen, unit, chosen, unit
    if loss is None or Decimal(loss) <= 0:
        zh, en = article_label(article)
        raise ValueError(f"{zh}罚款按倍数计算，须提供基金损失金额 / {en}: the fine is a multiple of the loss; give the loss")
    return chosen, unit, chosen.scaled(Decimal(loss)), YUAN


def allowed_range(
    article: str,
    kind: SanctionKind,
    *,
    loss: Decimal | None = None,
    intentional_fraud: bool = False,
    tier: Tier | None = None,
    params: LegalParams = DEFAULTS,
) -> Range:
    """The allowed range in absolute terms: 元 for money (multiples × `loss`), months or years for durations.

    A settlement suspension under art.41 follows the 细则 art.33 schedule where it applies
    (intentional fraud, or a loss of at least 1,000 元); the tier is then ignored.
    """
    return _ranges(article, kind, loss, intentional_fraud, tier, params)[2]


def check_sanction(
    article: str,
    kind: SanctionKind,
    value: Decimal | int | str | None = None,
    *,
    loss: Decimal | None = None,
    intentional_fraud: bool = False,
    tier: Tier | None = None,
    params: LegalParams = DEFAULTS,
) -> Range | None:
    """Check that `article` provides `kind` and that `value` (元, months or years) lies in its range.

    Returns the allowed absolute range (None where the law sets no quantity). Raises
    SanctionNotProvided or SanctionOutOfRange.
    """
    if catalogue_entry(article, kind).param is None:
        return None
    stated, stated_unit, allowed, unit = _ranges(article, kind, loss, intentional_fraud, tier, params)
    amount = Decimal(str(value))
    if allowed.contains(amount):
        return allowed
    art_zh, art_en = article_label(article)
    scope_zh = "规定范围" if tier is None else f"{tier.label_zh}档范围"
    scope_en = "the range of" if tier is None else f"the {tier.label_en} tier of"
    if stated_unit == MULTIPLE_OF_LOSS:
        text_zh = f"{_span(stated, _plain)} 倍（{_span(allowed, _money)} 元）"
        text_en = f"{_span(stated, _plain)} × loss ({_span(allowed, _money)} 元)"
    elif unit == YUAN:
        text_zh = text_en = f"{_span(allowed, _money)} 元"
    else:
        word_zh, word_en = ("年", "years") if unit == YEARS else ("个月", "months")
        text_zh, text_en = f"{_span(allowed, _plain)} {word_zh}", f"{_span(allowed, _plain)} {word_en}"
    what_zh, what_en = ("金额", "amount") if unit == YUAN else ("期限", "period")
    raise SanctionOutOfRange(
        f"{kind.label_zh}{what_zh}超出{art_zh}{scope_zh} {text_zh}",
        f"{kind.label_en} {what_en} outside {scope_en} {art_en}: {text_en}",
        allowed=allowed, value=amount, article=article, kind=kind,
    )


def _plain(x: Decimal) -> str:
    return format(Decimal(x).normalize(), "f")


def _money(x: Decimal) -> str:
    return f"{Decimal(x):,.2f}"


def _span(r: Range, fmt) -> str:
    if r.high_exclusive:
        return f"<{fmt(r.high)}"
    return fmt(r.low) if r.low == r.high else f"{fmt(r.low)}–{fmt(r.high)}"


# --- 一事不再罚 (行政处罚法 art.29) -------------------------------------------------------------


def check_one_fine_per_act(existing_fines_for_act: Iterable[Sanction], new: Sanction) -> None:
    """At most one fine for one act: refuse `new` if it is a fine and the act already has one."""
    if new.kind is not SanctionKind.FINE:
        return
    if any(s.kind is SanctionKind.FINE for s in existing_fines_for_act):
        raise OneFinePerAct(
            "同一违法行为不得给予两次以上罚款（行政处罚法第29条）",
            "one act may not be fined twice (行政处罚法 art.29)",
        )


def highest_fine_article(articles: Iterable[str], loss: Decimal, params: LegalParams = DEFAULTS) -> str:
    """Where one act breaks several norms that each carry a fine, the one with the highest fine applies."""
    fines = {a: allowed_range(a, SanctionKind.FINE, loss=loss, params=params) for a in articles}
    if not fines:
        raise ValueError("no article given")
    return max(fines, key=lambda a: (fines[a].high, fines[a].low))


# --- no aggravation because of the defence (行政处罚法 art.45) --------------------------------


def _comparable(sanctions: Sanction | Iterable[Sanction]) -> dict[SanctionKind, Sanction]:
    totals: dict[SanctionKind, Sanction] = {}
    for s in as_sanctions(sanctions):
        if s.kind.rank is None:
            continue
        prior = totals.get(s.kind, Sanction(s.kind, Decimal(0), 0))
        totals[s.kind] = Sanction(s.kind, prior.amount + (s.amount or 0), prior.months + (s.months or 0))
    return totals


def aggravations(before: Sanction | Iterable[Sanction], after: Sanction | Iterable[Sanction]) -> list[str]:
    """Ways in which `after` is heavier than `before` (empty list = not heavier).

    Per kind, the total amount and total duration may not grow. A kind absent before may appear
    only in place of a dropped kind of strictly higher rank (e.g. a fine instead of a suspension).
    """
    old, new = _comparable(before), _comparable(after)
    reasons = []
    for kind in old.keys() & new.keys():
        if new[kind].amount > old[kind].amount:
            reasons.append(f"{kind.label_zh}金额提高 / {kind.label_en} amount raised")
        if new[kind].months > old[kind].months:
            reasons.append(f"{kind.label_zh}期限延长 / {kind.label_en} period extended")
    dropped = sorted((k.rank for k in old.keys() - new.keys()), reverse=True)
    for kind in sorted(new.keys() - old.keys(), key=lambda k: k.rank, reverse=True):
        if dropped and dropped[0] > kind.rank:
            dropped.pop(0)
        else:
            reasons.append(f"新增{kind.label_zh} / {kind.label_en} added")
    return reasons


def defence_may_not_raise(before: Sanction | Iterable[Sanction], after: Sanction | Iterable[Sanction]) -> None:
    """Raise DefenceAggravation if the sanction after 陈述申辩 is heavier than the one notified."""
    reasons = aggravations(before, after)
    if reasons:
        raise DefenceAggravation(
            "不得因当事人陈述、申辩而给予更重的处罚（行政处罚法第45条）：" + "；".join(r.split(" / ")[0] for r in reasons),
            "the penalty may not be raised because the party stated a defence (行政处罚法 art.45): "
            + "; ".join(r.split(" / ")[1] for r in reasons),
            reasons=reasons,
        )


# --- mandatory police referral (细则 art.41) ------------------------------------------------------


class PoliceReferral(Enum):
    """The twelve behaviours that must go to the police when they may be public-order violations
    or crimes. Labels paraphrase 细则 art.41."""

    ORGANISED_FAKE_ADMISSION = ("organised_fake_admission", "组织虚假住院")
    ORGANISED_DRUG_RESALE = ("organised_drug_resale", "组织倒卖医保药品")
    ORGANISED_CARD_SWIPING = ("organised_card_swiping", "组织盗刷、套刷医保凭证")
    FORGED_DOCUMENTS = ("forged_documents", "伪造处方、票据、病理报告或基因检测报告")
    BROKERING = ("brokering", "从事中介活动（招揽患者、收集医保凭证、经手资金）")
    CONCEALING_OTHERS = ("concealing_others", "隐瞒、包庇他人违法违规行为")
    HELPING_UNINSURED = ("helping_uninsured", "帮助非参保人员享受医保待遇")
    VIOLENT_OBSTRUCTION = ("violent_obstruction", "以暴力、威胁方法阻碍执法")
    DISPOSING_SEALED_PROPERTY = ("disposing_sealed_property", "隐藏、转移、变卖、损毁被封存的财物")
    DESTROYING_EVIDENCE = ("destroying_evidence", "毁灭证据或者作伪证")
    HANDLING_FRAUD_DRUGS = ("handling_fraud_drugs", "收购、销售骗保所得药品")
    OTHER = ("other", "其他可能违反治安管理或者涉嫌犯罪的行为")

    def __new__(cls, code: str, label_zh: str):
        member = object.__new__(cls)
        member._value_ = code
        member.label_zh = label_zh
        return member


def mandatory_referrals(behaviours: Iterable[PoliceReferral | str]) -> list[PoliceReferral]:
    """The behaviours among `behaviours` (members or their codes) that require referral to the police."""
    codes = {b.value if isinstance(b, PoliceReferral) else b for b in behaviours}
    return [member for member in PoliceReferral if member.value in codes]


def referral_required(behaviours: Iterable[PoliceReferral | str]) -> bool:
    return bool(mandatory_referrals(behaviours))
