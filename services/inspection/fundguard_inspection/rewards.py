"""举报奖励 (rewards for verified reports): one place for the numbers, formulas as configuration.

National frame (医保办发〔2022〕22号, [S 8] in domain.md §d): a one-off reward as a proportion of
the case value (案值), at least 200 元 and at most 200,000 元; no reward for 医保 staff or staff of
contracted third parties, nor for perpetrators confessing their own or accomplices' acts (or
denouncing others while under investigation); the informant must claim within 2 months of the
notice, with ID, or the reward is deemed waived.

How the proportion is computed is local. A *scheme* is data of one of two kinds:

* ``banded`` — the rate depends on the party type and the band the whole case value falls in,
  with an optional fixed bonus (Beijing: entities ≤500,000 → 2 %, above → 4 %; individuals 10 %,
  +500 元 above 10,000 元; floor 500, cap 200,000);
* ``graded`` — the rate and floor depend on the grade the department gives the report (evidence
  quality, help given), with a percentage bonus for insiders (the 3-grade scheme: 3 %/400,
  2 %/300, 1 %/200; insiders +20 %; cap 200,000).

The national floor and cap always apply on top. Regions pick a scheme in configuration:
``FUNDGUARD_REWARD_CONFIG`` names a JSON file ``{"schemes": {...}, "regions": {"110000": "beijing",
"default": "three_grade"}}`` merged over the built-ins below. A region code is looked up exactly,
then as its province (first two digits + "0000"), then ``default``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Mapping

NATIONAL_FLOOR = Decimal("200")      # 医保办发〔2022〕22号: 最低 200 元
NATIONAL_CAP = Decimal("200000")     # 医保办发〔2022〕22号: 最高 20 万元
CLAIM_WINDOW_MONTHS = 2              # 自通知之日起 2 个月内领取，逾期视为放弃

EXCLUSIONS: dict[str, tuple[str, str]] = {
    "informant_is_staff": ("举报人为医保部门或受委托第三方工作人员", "informant is 医保 or contracted third-party staff"),
    "self_confession": ("举报人为违法行为人本人或同案人的自首、检举", "perpetrator confessing own or accomplices' acts"),
    "under_investigation": ("举报人在被调查期间检举他人", "informant reported others while under investigation"),
    "identity_missing": ("匿名举报人未提供可核实的身份信息", "anonymous informant gave no verifiable identity"),
    "waived": ("举报人自愿放弃奖励", "informant waived the reward"),
    "not_first_reporter": ("非首位举报人（本地规定仅奖励首位举报人）", "not the first reporter (local rule)"),
    "no_fund_loss": ("举报事项未造成基金损失或未查实", "report not verified or caused no fund loss"),
}

BUILTIN_SCHEMES: dict[str, dict[str, Any]] = {
    "beijing": {
        "kind": "banded",
        "label_zh": "北京市举报奖励（机构 2 %/4 %，个人 10 %）",
        "floor": "500", "cap": "200000",
        "bands": {
            "entity": [{"up_to": "500000", "rate": "0.02"}, {"up_to": None, "rate": "0.04"}],
            "individual": [{"up_to": None, "rate": "0.10"}],
        },
        "bonus": {"individual": {"over": "10000", "amount": "500"}},
    },
    "three_grade": {
        "kind": "graded",
        "label_zh": "三等级举报奖励（一等 3 %、二等 2 %、三等 1 %，内部人员 +20 %）",
        "cap": "200000",
        "grades": {"1": {"rate": "0.03", "floor": "400"},
                   "2": {"rate": "0.02", "floor": "300"},
                   "3": {"rate": "0.01", "floor": "200"}},
        "insider_bonus": "0.20",
    },
}
BUILTIN_REGIONS: dict[str, str] = {"110000": "beijing", "default": "three_grade"}

CENT = Decimal("0.01")


class RewardError(ValueError):
    def __init__(self, code: str, zh: str, en: str):
        super().__init__(en)
        self.code, self.zh, self.en = code, zh, en


@dataclass(frozen=True)
class Reward:
    scheme: str
    amount: Decimal
    excluded: tuple[str, ...] = ()
    steps: list[str] = field(default_factory=list)

    def basis(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "amount": str(self.amount), "excluded": list(self.excluded),
                "steps": list(self.steps)}


@lru_cache(maxsize=4)
def _load_config(path: str | None) -> tuple[dict, dict]:
    schemes, regions = dict(BUILTIN_SCHEMES), dict(BUILTIN_REGIONS)
    if path:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        schemes.update(doc.get("schemes", {}))
        regions.update(doc.get("regions", {}))
    for name, scheme in schemes.items():
        validate_scheme(name, scheme)
    for region, name in regions.items():
        if name not in schemes:
            raise ValueError(f"region {region} names unknown reward scheme {name!r}")
    return schemes, regions


def config() -> tuple[dict, dict]:
    return _load_config(os.environ.get("FUNDGUARD_REWARD_CONFIG") or None)


def validate_scheme(name: str, scheme: Mapping[str, Any]) -> None:
    kind = scheme.get("kind")
    if kind == "banded":
        for party, bands in scheme["bands"].items():
            if not bands or bands[-1].get("up_to") is not None:
                raise ValueError(f"scheme {name}: the last {party} band must be open (up_to null)")
            for b in bands:
                Decimal(b["rate"])
    elif kind == "graded":
        for g in scheme["grades"].values():
            Decimal(g["rate"]), Decimal(g.get("floor", "0"))
    else:
        raise ValueError(f"scheme {name}: unknown kind {kind!r}")


def scheme_for_region(region: str) -> tuple[str, dict]:
    schemes, regions = config()
    for key in (region, (region or "")[:2] + "0000", "default"):
        if key in regions:
            return regions[key], schemes[regions[key]]
    raise RewardError("reward_scheme_missing", "本地区未配置举报奖励办法",
                      "no reward scheme is configured for this region")


def _q(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def compute_reward(case_value: Decimal, scheme_name: str, scheme: Mapping[str, Any], *,
                   party_type: str = "entity", grade: str | None = None, insider: bool = False,
                   exclusions: tuple[str, ...] | list[str] = ()) -> Reward:
    """The reward for a verified report of ``case_value`` 元 under ``scheme``."""
    unknown = sorted(set(exclusions) - set(EXCLUSIONS))
    if unknown:
        raise RewardError("reward_exclusion_unknown", f"未知的排除情形 {unknown}",
                          f"unknown exclusion codes {unknown}")
    if case_value is None or not Decimal(case_value).is_finite() or case_value < 0:
        raise RewardError("reward_case_value_invalid", "案值必须是非负数", "case value must be >= 0")
    excluded = tuple(sorted(set(exclusions)))
    if case_value == 0 and "no_fund_loss" not in excluded:
        excluded = tuple(sorted(excluded + ("no_fund_loss",)))
    if excluded:
        return Reward(scheme_name, Decimal("0.00"), excluded,
                      [f"excluded: {', '.join(excluded)}"])
    steps: list[str] = []
    value = Decimal(case_value)
    if scheme["kind"] == "banded":
        bands = scheme["bands"].get(party_type)
        if bands is None:
            raise RewardError("reward_party_type_unsupported", "该奖励办法未规定此类当事人",
                              f"scheme {scheme_name} has no bands for {party_type}")
        band = next(b for b in bands if b["up_to"] is None or value <= Decimal(b["up_to"]))
        rate = Decimal(band["rate"])
        amount = value * rate
        steps.append(f"{value} × {rate} = {_q(amount)}")
        bonus = (scheme.get("bonus") or {}).get(party_type)
        if bonus and value > Decimal(bonus["over"]):
            amount += Decimal(bonus["amount"])
            steps.append(f"+ {bonus['amount']} (case value above {bonus['over']})")
        floor = Decimal(scheme.get("floor", "0"))
    else:
        if grade is None or str(grade) not in scheme["grades"]:
            raise RewardError("reward_grade_required",
                              f"须指定奖励等级（{'/'.join(sorted(scheme['grades']))}）",
                              f"grade required, one of {sorted(scheme['grades'])}")
        g = scheme["grades"][str(grade)]
        rate = Decimal(g["rate"])
        amount = value * rate
        steps.append(f"grade {grade}: {value} × {rate} = {_q(amount)}")
        floor = Decimal(g.get("floor", "0"))
    if amount < floor:
        steps.append(f"scheme floor {floor}")
        amount = floor
    if insider and scheme.get("insider_bonus"):
        extra = Decimal(scheme["insider_bonus"])
        amount = amount * (1 + extra)
        steps.append(f"insider × {1 + extra} = {_q(amount)}")
    cap = Decimal(scheme.get("cap", NATIONAL_CAP))
    if amount > cap:
        steps.append(f"scheme cap {cap}")
        amount = cap
    if amount < NATIONAL_FLOOR:
        steps.append(f"national floor {NATIONAL_FLOOR}")
        amount = NATIONAL_FLOOR
    if amount > NATIONAL_CAP:
        steps.append(f"national cap {NATIONAL_CAP}")
        amount = NATIONAL_CAP
    return Reward(scheme_name, _q(amount), (), steps)
