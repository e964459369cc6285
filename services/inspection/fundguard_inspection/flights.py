"""飞行检查 (flight inspections, 国家医疗保障局令第6号): pools, plans, 双随机 draws, teams with
recusal, on-site records, findings fed back to the inspected party, disputes settled by the team's
recorded decision, handover to the local department (each confirmed finding → ``finding.recorded``).

Plan states: draft → on_site (launched) → feedback → handed_over.
Rules live in the plain functions below; the views only load, call and commit.
"""
from __future__ import annotations

from datetime import date, datetime

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal, require
from fundguard_shared.catalogue import VIOLATION_TYPES
from fundguard_shared.errors import ApiError
from fundguard_shared.events import PARTY_TYPES
from fundguard_shared.outbox import utcnow
from fundguard_shared.pagination import Page, PageArgs, page_query

from . import draw as drawing
from .common import (AMOUNT_DOC, add_working_days, amount_in_range,
                     check_version, department_for, env_int, get_or_404, scoped,
                     stale_as_conflict, today)
from .findings import FindingOut, record_finding
from .models import (FlightDraw, FlightFinding, FlightPlan, FlightTarget, PoolInstitution,
                     PoolPerson, SiteRecord, TeamMember)
from .runtime import runtime

TRIGGERS = ("annual_plan", "complaint_clue", "screening_hit", "media", "other")
TRIGGER_LABELS = {"annual_plan": "年度工作计划", "complaint_clue": "举报线索",
                  "screening_hit": "智能监控/数据筛查", "media": "新闻媒体曝光", "other": "其他"}
ORGANISER_LEVELS = ("national", "provincial")
PLAN_STATES = ("draft", "on_site", "feedback", "handed_over")
TEAM_ROLES = ("officer", "expert", "third_party")
AMOUNT_METHODS = ("item_based", "drg_difference", "sampling_estimate")
DRAW_KINDS = ("institutions", "inspectors", "experts")
MIN_OFFICERS = 2  # 条例 art.29, 行政处罚法 art.42: ≥2 执法人员


def _err(status: int, code: str, zh: str, en: str, **extra) -> ApiError:
    return ApiError(status, code, zh, en, **extra)


# ---- schemas ---------------------------------------------------------------------------------

class PoolInstitutionIn(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(1, 64))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    party_type = fields.String(load_default="entity", validate=validate.OneOf(PARTY_TYPES))
    level = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    local_region = fields.String(load_default=None, validate=validate.Length(1, 32))
    local_department = fields.String(required=True, validate=validate.Length(1, 64))
    active = fields.Boolean(load_default=True)


class PoolInstitutionOut(Schema):
    id = fields.String()
    region = fields.String()
    institution_id = fields.String()
    name = fields.String()
    party_type = fields.String()
    level = fields.String(allow_none=True)
    local_region = fields.String()
    local_department = fields.String()
    active = fields.Boolean()


class PoolPersonIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("inspector", "expert")))
    person_id = fields.String(required=True, validate=validate.Length(1, 128))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    department = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    enforcement_cert = fields.String(load_default=None, allow_none=True,
                                     validate=validate.Length(max=64))
    conflicts = fields.List(fields.String(validate=validate.Length(1, 64)), load_default=list)
    active = fields.Boolean(load_default=True)


class PoolPersonOut(PoolPersonIn):
    id = fields.String()
    region = fields.String()


class PoolKindArgs(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(("inspector", "expert")))


class PlanIn(Schema):
    title = fields.String(required=True, validate=validate.Length(1, 200))
    trigger = fields.String(required=True, validate=validate.OneOf(TRIGGERS))
    trigger_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=128))
    organiser_level = fields.String(required=True, validate=validate.OneOf(ORGANISER_LEVELS))
    cross_province = fields.Boolean(load_default=False)
    nhsa_filing_ref = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Length(1, 128))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    department = fields.String(load_default=None, validate=validate.Length(1, 64))

    @validates_schema
    def _rules(self, data, **_):
        if data["period_end"] < data["period_start"]:
            raise ValidationError("检查结束日期早于开始日期 / period ends before it starts",
                                  "period_end")
        if data["trigger"] in ("complaint_clue", "screening_hit") and not data.get("trigger_ref"):
            raise ValidationError("举报线索或筛查疑点触发时须注明来源编号 / trigger_ref required",
                                  "trigger_ref")


class FilingIn(Schema):
    nhsa_filing_ref = fields.String(required=True, validate=validate.Length(1, 128))
    version = fields.Integer(load_default=None)


class TargetIn(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(1, 64))


class DrawIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(DRAW_KINDS))
    count = fields.Integer(required=True, validate=validate.Range(1, 500))
    seed = fields.String(load_default=None, allow_none=True, validate=validate.Length(8, 128))
    level = fields.String(load_default=None, allow_none=True)


class TeamIn(Schema):
    person_id = fields.String(required=True, validate=validate.Length(1, 128))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    role = fields.String(required=True, validate=validate.OneOf(TEAM_ROLES))
    enforcement_cert = fields.String(load_default=None, allow_none=True,
                                     validate=validate.Length(1, 64))
    conflicts = fields.List(fields.String(), load_default=list)


class RecusalIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class VersionIn(Schema):
    version = fields.Integer(load_default=None)


class FeedbackIn(VersionIn):
    response_working_days = fields.Integer(load_default=None, validate=validate.Range(1, 60))


class RecordIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("site", "interview")))
    institution_id = fields.String(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    place = fields.String(required=True, validate=validate.Length(1, 200))
    officers = fields.List(fields.String(), required=True)
    interviewee = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 200))
    content = fields.String(required=True, validate=validate.Length(1, 100000))
    evidence_ids = fields.List(fields.String(), load_default=list)


class RecordOut(RecordIn):
    recorded_at = fields.DateTime()
    id = fields.String()
    plan_id = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()


class FlightFindingIn(Schema):
    institution_id = fields.String(required=True)
    violation_type = fields.String(required=True, validate=validate.OneOf(sorted(VIOLATION_TYPES)))
    amount = fields.Decimal(required=True, places=2, as_string=True,
                            validate=amount_in_range, metadata=AMOUNT_DOC)
    amount_method = fields.String(required=True, validate=validate.OneOf(AMOUNT_METHODS))
    description = fields.String(required=True, validate=validate.Length(1, 10000))
    act_date = fields.Date(load_default=None, allow_none=True)
    responsible_department = fields.String(load_default=None, allow_none=True,
                                           validate=validate.Length(max=100))
    responsible_staff = fields.List(fields.String(validate=validate.Length(1, 64)),
                                    load_default=list)
    evidence_ids = fields.List(fields.String(), load_default=list)

    @validates("amount")
    def _finite(self, value, **_):
        if not value.is_finite():
            raise ValidationError("金额必须是有限数值 / amount must be finite")


class FlightFindingOut(Schema):
    id = fields.String()
    plan_id = fields.String()
    institution_id = fields.String()
    violation_type = fields.String()
    violation_label = fields.Function(lambda f: VIOLATION_TYPES[f.violation_type].label_zh)
    legal_basis = fields.Function(lambda f: VIOLATION_TYPES[f.violation_type].basis_zh)
    amount = fields.Decimal(as_string=True, places=2)
    amount_method = fields.String()
    description = fields.String()
    act_date = fields.Date(allow_none=True)
    responsible_department = fields.String(allow_none=True)
    responsible_staff = fields.List(fields.String())
    evidence_ids = fields.List(fields.String())
    status = fields.String()
    response = fields.String(allow_none=True)
    dispute_reason = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    decision = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decision_participants = fields.List(fields.String(), allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    finding_id = fields.String(allow_none=True)
    response_due = fields.Date(allow_none=True)


class FlightFindingList(Page):
    items = fields.List(fields.Nested(FlightFindingOut))


class ResponseIn(Schema):
    response = fields.String(required=True, validate=validate.OneOf(("accepted", "disputed")))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 10000))

    @validates_schema
    def _reason(self, data, **_):
        if data["response"] == "disputed" and not data.get("reason"):
            raise ValidationError("提出异议须说明理由 / a dispute needs its reason", "reason")


class DisputeDecisionIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(("upheld", "revised", "withdrawn")))
    reason = fields.String(required=True, validate=validate.Length(1, 10000))
    participants = fields.List(fields.String(), required=True)
    amount = fields.Decimal(load_default=None, allow_none=True, places=2, as_string=True,
                            validate=amount_in_range, metadata=AMOUNT_DOC)
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 10000))

    @validates_schema
    def _revised(self, data, **_):
        if data["outcome"] == "revised" and data.get("amount") is None and not data.get("description"):
            raise ValidationError("变更认定须给出新的金额或事实 / a revision changes amount or facts",
                                  "amount")


class TargetOut(Schema):
    institution_id = fields.String()
    institution_name = fields.String()
    party_type = fields.String()
    local_region = fields.String()
    local_department = fields.String()
    source = fields.String()
    draw_id = fields.String(allow_none=True)


class MemberOut(Schema):
    id = fields.String()
    person_id = fields.String()
    name = fields.String()
    role = fields.String()
    enforcement_cert = fields.String(allow_none=True)
    source = fields.String()
    draw_id = fields.String(allow_none=True)
    recused = fields.Boolean()
    recusal_reason = fields.String(allow_none=True)


class DrawOut(Schema):
    id = fields.String()
    plan_id = fields.String()
    kind = fields.String()
    seed = fields.String()
    algorithm = fields.String()
    pool = fields.List(fields.String())
    pool_hash = fields.String()
    excluded = fields.List(fields.Dict())
    count = fields.Integer()
    result = fields.List(fields.String())
    drawn_by = fields.String()
    drawn_at = fields.DateTime()


class DrawVerifyOut(Schema):
    draw_id = fields.String()
    matches = fields.Boolean()
    recorded = fields.List(fields.String())
    recomputed = fields.List(fields.String())
    pool_hash_matches = fields.Boolean()


class PlanOut(Schema):
    id = fields.String()
    region = fields.String()
    department = fields.String()
    title = fields.String()
    trigger = fields.String()
    trigger_label = fields.Function(lambda p: TRIGGER_LABELS[p.trigger])
    trigger_ref = fields.String(allow_none=True)
    organiser_level = fields.String()
    cross_province = fields.Boolean()
    nhsa_filing_ref = fields.String(allow_none=True)
    period_start = fields.Date()
    period_end = fields.Date()
    status = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    launched_by = fields.String(allow_none=True)
    launched_at = fields.DateTime(allow_none=True)
    feedback_on = fields.Date(allow_none=True)
    response_due = fields.Date(allow_none=True)
    handed_over_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class PlanDetailOut(PlanOut):
    targets = fields.List(fields.Nested(TargetOut))
    team = fields.List(fields.Nested(MemberOut))
    draws = fields.List(fields.Nested(DrawOut))


class PlanList(Page):
    items = fields.List(fields.Nested(PlanOut))


class HandoverOut(Schema):
    plan = fields.Nested(PlanOut)
    findings = fields.List(fields.Nested(FindingOut))
    withdrawn = fields.List(fields.String())


# ---- rules -----------------------------------------------------------------------------------

def _targets(session: Session, plan: FlightPlan) -> list[FlightTarget]:
    return list(session.execute(select(FlightTarget).where(FlightTarget.plan_id == plan.id)
                                .order_by(FlightTarget.institution_id)).scalars())


def _team(session: Session, plan: FlightPlan) -> list[TeamMember]:
    return list(session.execute(select(TeamMember).where(TeamMember.plan_id == plan.id)
                                .order_by(TeamMember.person_id)).scalars())


def _require_state(plan: FlightPlan, *states: str) -> None:
    if plan.status not in states:
        raise _err(409, "plan_state_invalid",
                   f"检查计划当前状态（{plan.status}）不允许此操作",
                   f"not allowed while the plan is {plan.status}",
                   plan_status=plan.status, allowed_states=list(states))


def conflicts_with(member_conflicts: list[str], target_ids: set[str]) -> list[str]:
    return sorted(set(member_conflicts or []) & target_ids)


def active_officers(team: list[TeamMember]) -> list[TeamMember]:
    """Officers who may act: not recused and holding a 执法证."""
    return [m for m in team if m.role == "officer" and not m.recused and m.enforcement_cert]


def launch_problems(plan: FlightPlan, targets: list[FlightTarget],
                    team: list[TeamMember]) -> list[dict]:
    """Everything that stops a plan from being launched (empty list: it may launch)."""
    problems = []
    if not targets:
        problems.append({"code": "targets_required", "message_zh": "尚未确定被检查对象",
                         "message_en": "no inspection target"})
    if len(active_officers(team)) < MIN_OFFICERS:
        problems.append({"code": "team_too_small",
                         "message_zh": f"检查组持执法证人员少于 {MIN_OFFICERS} 名",
                         "message_en": f"fewer than {MIN_OFFICERS} officers holding an "
                                       "enforcement certificate"})
    target_ids = {t.institution_id for t in targets}
    for m in team:
        if not m.recused and conflicts_with(m.conflicts, target_ids):
            problems.append({"code": "conflict_of_interest", "person_id": m.person_id,
                             "message_zh": f"{m.name} 与被检查对象存在利害关系，应当回避",
                             "message_en": f"{m.person_id} has a conflict of interest and must "
                                           "recuse"})
    if plan.cross_province and not plan.nhsa_filing_ref:
        problems.append({"code": "filing_required",
                         "message_zh": "跨省联合或交叉检查须在启动前报国家医保局备案",
                         "message_en": "a cross-province inspection must be filed with the NHSA "
                                       "before launch"})
    return problems


def do_draw(session: Session, plan: FlightPlan, data: dict, principal: Principal) -> FlightDraw:
    """双随机: draw targets or team members from the region's pool with a recorded seed."""
    _require_state(plan, "draft")
    kind = data["kind"]
    seed = data.get("seed") or drawing.new_seed()
    targets = _targets(session, plan)
    excluded: list[dict] = []
    if kind == "institutions":
        query = select(PoolInstitution).where(PoolInstitution.region == plan.region,
                                              PoolInstitution.active.is_(True))
        if data.get("level"):
            query = query.where(PoolInstitution.level == data["level"])
        rows = {r.institution_id: r for r in session.execute(query).scalars()}
        for t in targets:
            if t.institution_id in rows:
                excluded.append({"id": t.institution_id, "reason": "already_target"})
    else:
        if not targets:
            raise _err(422, "targets_required", "须先确定被检查对象，才能按利害关系回避抽取人员",
                       "draw the targets first, so conflicted people can be excluded")
        person_kind = "inspector" if kind == "inspectors" else "expert"
        rows = {r.person_id: r for r in session.execute(
            select(PoolPerson).where(PoolPerson.region == plan.region,
                                     PoolPerson.kind == person_kind,
                                     PoolPerson.active.is_(True))).scalars()}
        if person_kind == "inspector":
            for pid, r in list(rows.items()):
                if not r.enforcement_cert:
                    excluded.append({"id": pid, "reason": "no_enforcement_certificate"})
        target_ids = {t.institution_id for t in targets}
        members = {m.person_id for m in _team(session, plan)}
        for pid, r in rows.items():
            hit = conflicts_with(r.conflicts, target_ids)
            if hit:
                excluded.append({"id": pid, "reason": "conflict_of_interest", "institutions": hit})
            elif pid in members:
                excluded.append({"id": pid, "reason": "already_in_team"})
    pool = drawing.canonical_pool(rows)
    excluded_ids = {e["id"] for e in excluded}
    try:
        result = drawing.draw(seed, pool, data["count"], excluded_ids)
    except drawing.DrawError as exc:
        raise _err(422, exc.code, exc.zh, exc.en, pool_size=len(pool),
                   excluded=len(excluded_ids)) from None
    record = FlightDraw(plan_id=plan.id, kind=kind, seed=seed, algorithm=drawing.ALGORITHM,
                        pool=pool, pool_hash=drawing.pool_hash(pool), excluded=excluded,
                        count=data["count"], result=result, drawn_by=principal.sub)
    session.add(record)
    session.flush()
    for rid in result:
        r = rows[rid]
        if kind == "institutions":
            session.add(FlightTarget(plan_id=plan.id, institution_id=r.institution_id,
                                     institution_name=r.name, party_type=r.party_type,
                                     local_region=r.local_region, local_department=r.local_department,
                                     source="drawn", draw_id=record.id))
        else:
            session.add(TeamMember(plan_id=plan.id, person_id=r.person_id, name=r.name,
                                   role="officer" if kind == "inspectors" else "expert",
                                   enforcement_cert=r.enforcement_cert, conflicts=r.conflicts,
                                   source="drawn", draw_id=record.id))
    return record


def verify_draw(record: FlightDraw) -> dict:
    """Re-run a recorded draw from its seed and pool snapshot."""
    recomputed = drawing.draw(record.seed, record.pool, record.count,
                              {e["id"] for e in record.excluded})
    return {"draw_id": record.id, "matches": recomputed == list(record.result),
            "recorded": list(record.result), "recomputed": recomputed,
            "pool_hash_matches": drawing.pool_hash(record.pool) == record.pool_hash}


def name_target(session: Session, plan: FlightPlan, institution_id: str) -> FlightTarget:
    """Trigger-based inspections may name their target directly; plan-based ones draw it."""
    _require_state(plan, "draft")
    if plan.trigger == "annual_plan":
        raise _err(422, "draw_required", "按年度计划开展的飞行检查须通过“双随机”抽取检查对象",
                   "a plan-based inspection must draw its targets (双随机)")
    pool = session.execute(select(PoolInstitution).where(
        PoolInstitution.region == plan.region,
        PoolInstitution.institution_id == institution_id)).scalar_one_or_none()
    if pool is None:
        raise _err(422, "unknown_institution", "该机构不在被检查对象名录库中",
                   "the institution is not in the region's pool", institution_id=institution_id)
    if session.execute(select(FlightTarget).where(FlightTarget.plan_id == plan.id,
                                                  FlightTarget.institution_id == institution_id)
                       ).scalar_one_or_none():
        raise _err(409, "target_exists", "该机构已是本次检查对象",
                   "the institution is already a target")
    target = FlightTarget(plan_id=plan.id, institution_id=pool.institution_id,
                          institution_name=pool.name, party_type=pool.party_type,
                          local_region=pool.local_region, local_department=pool.local_department,
                          source="named")
    session.add(target)
    return target


def appoint_member(session: Session, plan: FlightPlan, data: dict) -> TeamMember:
    _require_state(plan, "draft", "on_site")
    target_ids = {t.institution_id for t in _targets(session, plan)}
    hit = conflicts_with(data["conflicts"], target_ids)
    if hit:
        raise _err(422, "conflict_of_interest", "该人员与被检查对象存在利害关系，应当回避",
                   "the person has a conflict of interest with a target", institutions=hit)
    if data["role"] == "officer" and not data.get("enforcement_cert"):
        raise _err(422, "enforcement_certificate_required", "检查人员须持有行政执法证",
                   "an officer must hold an enforcement certificate")
    if session.execute(select(TeamMember).where(TeamMember.plan_id == plan.id,
                                                TeamMember.person_id == data["person_id"])
                       ).scalar_one_or_none():
        raise _err(409, "member_exists", "该人员已在检查组中", "the person is already in the team")
    member = TeamMember(plan_id=plan.id, person_id=data["person_id"], name=data["name"],
                        role=data["role"], enforcement_cert=data.get("enforcement_cert"),
                        conflicts=data["conflicts"], source="appointed")
    session.add(member)
    return member


def recuse(member: TeamMember, reason: str, principal: Principal) -> None:
    if member.recused:
        raise _err(409, "already_recused", "该人员已回避", "the member has already recused")
    member.recused = True
    member.recusal_reason = reason
    member.recused_by = principal.sub
    member.recused_at = utcnow()


def launch(session: Session, plan: FlightPlan, principal: Principal) -> None:
    _require_state(plan, "draft")
    problems = launch_problems(plan, _targets(session, plan), _team(session, plan))
    if problems:
        raise _err(422, "launch_blocked", "检查计划尚不具备启动条件",
                   "the plan may not be launched yet", problems=problems)
    plan.status = "on_site"
    plan.launched_by = principal.sub
    plan.launched_at = utcnow()


def _target(session: Session, plan: FlightPlan, institution_id: str) -> FlightTarget:
    t = session.execute(select(FlightTarget).where(FlightTarget.plan_id == plan.id,
                                                   FlightTarget.institution_id == institution_id)
                        ).scalar_one_or_none()
    if t is None:
        raise _err(422, "not_a_target", "该机构不是本次检查对象",
                   "the institution is not a target of this plan", institution_id=institution_id)
    return t


def add_record(session: Session, plan: FlightPlan, data: dict, principal: Principal) -> SiteRecord:
    """现场笔录/询问笔录: on site, by ≥2 officers of the team who hold 执法证."""
    _require_state(plan, "on_site")
    _target(session, plan, data["institution_id"])
    officers = {m.person_id for m in active_officers(_team(session, plan))}
    named = set(data["officers"])
    if len(named) < MIN_OFFICERS or not named <= officers:
        raise _err(422, "officers_invalid",
                   f"笔录须由检查组中至少 {MIN_OFFICERS} 名持证且未回避的执法人员制作",
                   f"a record needs at least {MIN_OFFICERS} certified, non-recused officers of "
                   "the team", not_in_team=sorted(named - officers))
    if data["kind"] == "interview" and not data.get("interviewee"):
        raise _err(422, "interviewee_required", "询问笔录须记载被询问人",
                   "an interview record names the person interviewed")
    record = SiteRecord(plan_id=plan.id, created_by=principal.sub,
                        **{k: data[k] for k in ("kind", "institution_id", "recorded_at", "place",
                                                "officers", "interviewee", "content",
                                                "evidence_ids")})
    session.add(record)
    return record


def add_flight_finding(session: Session, plan: FlightPlan, data: dict,
                       principal: Principal) -> FlightFinding:
    _require_state(plan, "on_site")
    _target(session, plan, data["institution_id"])
    finding = FlightFinding(plan_id=plan.id, created_by=principal.sub, status="draft", **data)
    session.add(finding)
    return finding


def _findings(session: Session, plan: FlightPlan) -> list[FlightFinding]:
    return list(session.execute(select(FlightFinding).where(FlightFinding.plan_id == plan.id)
                                .order_by(FlightFinding.created_at, FlightFinding.id)).scalars())


def feed_back(session: Session, plan: FlightPlan, working_days: int | None) -> None:
    """Before concluding, the team feeds its findings back to the inspected party."""
    _require_state(plan, "on_site")
    plan.status = "feedback"
    plan.feedback_on = today()
    days = working_days or env_int("FUNDGUARD_FLIGHT_RESPONSE_WORKDAYS", 5)
    plan.response_due = add_working_days(plan.feedback_on, days)
    for f in _findings(session, plan):
        if f.status == "draft":
            f.status = "fed_back"


def respond(finding: FlightFinding, plan: FlightPlan, data: dict, principal: Principal) -> None:
    """The inspected party accepts or disputes one finding, inside the response window."""
    if plan.status != "feedback" or finding.status != "fed_back":
        raise _err(409, "response_closed", "该检查发现已不接受反馈意见",
                   "this finding no longer takes a response")
    if plan.response_due and today() > plan.response_due:
        raise _err(422, "response_window_closed", f"反馈意见期限已于 {plan.response_due} 届满",
                   f"the response window closed on {plan.response_due}")
    finding.response = data["response"]
    finding.dispute_reason = data.get("reason")
    finding.responded_by = principal.sub
    finding.responded_at = utcnow()
    finding.status = "accepted" if data["response"] == "accepted" else "disputed"


def decide_dispute(session: Session, finding: FlightFinding, plan: FlightPlan, data: dict,
                   principal: Principal) -> None:
    """A disputed point is settled by the team's collective decision, recorded with who took part."""
    if finding.status != "disputed":
        raise _err(409, "not_disputed", "只有被提出异议的检查发现需要检查组集体研究决定",
                   "only a disputed finding is settled by a team decision")
    officers = {m.person_id for m in active_officers(_team(session, plan))}
    participants = set(data["participants"])
    if not participants <= officers:
        raise _err(422, "participants_invalid", "参与集体研究的人员须为检查组中未回避的执法人员",
                   "participants must be non-recused officers of the team",
                   not_in_team=sorted(participants - officers))
    if len(participants) < MIN_OFFICERS or len(participants) * 2 <= len(officers):
        raise _err(422, "quorum_not_met",
                   f"集体研究须有检查组过半数且不少于 {MIN_OFFICERS} 名执法人员参加",
                   f"a team decision needs more than half of the officers and at least "
                   f"{MIN_OFFICERS}", officers=len(officers), participants=len(participants))
    finding.decision = data["outcome"]
    finding.decision_reason = data["reason"]
    finding.decision_participants = sorted(participants)
    finding.decided_by = principal.sub
    finding.decided_at = utcnow()
    if data["outcome"] == "revised":
        if data.get("amount") is not None:
            finding.amount = data["amount"]
        if data.get("description"):
            finding.description = data["description"]
    finding.status = "withdrawn" if data["outcome"] == "withdrawn" else "confirmed"


def _evidence_refs(session: Session, plan: FlightPlan, evidence_ids: list[str] | None) -> list[dict]:
    """The files a flight finding cites, as facts for ``finding.recorded`` (hashes, not content);
    only files of the plan's region (the ids are not checked when the finding is written)."""
    from .evidence import evidence_ref
    from .models import EvidenceFile
    if not evidence_ids:
        return []
    rows = session.execute(select(EvidenceFile).where(EvidenceFile.id.in_(evidence_ids),
                                                      EvidenceFile.region == plan.region)
                           .order_by(EvidenceFile.created_at, EvidenceFile.id)).scalars()
    return [evidence_ref(ev) for ev in rows]


def hand_over(session: Session, plan: FlightPlan, principal: Principal,
              correlation_id: str) -> tuple[list, list[str]]:
    """Hand the confirmed findings to the local department: one ``finding.recorded`` each."""
    _require_state(plan, "feedback")
    findings = _findings(session, plan)
    disputed = [f.id for f in findings if f.status == "disputed"]
    if disputed:
        raise _err(422, "disputes_pending", "尚有异议未经检查组集体研究决定",
                   "disputed findings still wait for the team's decision", findings=disputed)
    silent = [f.id for f in findings if f.status == "fed_back"]
    if silent and plan.response_due and today() <= plan.response_due:
        raise _err(422, "responses_pending", f"被检查方反馈期限（{plan.response_due}）尚未届满",
                   f"the inspected party may still respond until {plan.response_due}",
                   findings=silent)
    targets = {t.institution_id: t for t in _targets(session, plan)}
    recorded, withdrawn = [], []
    for f in findings:
        if f.status == "withdrawn":
            withdrawn.append(f.id)
            continue
        t = targets[f.institution_id]
        desc = f.description
        if f.status == "fed_back":
            desc += "（被检查方逾期未反馈意见）"
        finding = record_finding(session, {
            "institution_id": t.institution_id, "institution_name": t.institution_name,
            "party_type": t.party_type, "violation_type": f.violation_type, "amount": f.amount,
            "description": f"[飞行检查 {plan.title}] {desc}", "source": "flight_inspection",
            "act_date": f.act_date,
        }, principal, correlation_id, region=t.local_region, department=t.local_department,
            evidence=_evidence_refs(session, plan, f.evidence_ids))
        f.finding_id = finding.id
        f.status = "handed_over"
        recorded.append(finding)
    plan.status = "handed_over"
    plan.handed_over_at = utcnow()
    return recorded, withdrawn


# ---- HTTP ------------------------------------------------------------------------------------

blp = Blueprint("flight_inspections", __name__, url_prefix="/api/v1",
                description="飞行检查 / Flight inspections")

STAFF = ("inspector", "leader")


def _pool_region(principal: Principal) -> str:
    return principal.region


@blp.route("/pools/institutions")
class PoolInstitutions(MethodView):
    @require(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PoolInstitutionOut(many=True))
    def get(self, args):
        with runtime().sessions() as session:
            q = select(PoolInstitution).where(PoolInstitution.region == g.principal.region) \
                .order_by(PoolInstitution.institution_id)
            return page_query(session, q, args)["items"]

    @require("leader")
    @blp.arguments(PoolInstitutionIn(many=True))
    @blp.response(200, PoolInstitutionOut(many=True))
    def put(self, items):
        """Add or update institutions of the region's pool (被检查对象名录库)."""
        region = g.principal.region
        out = []
        with runtime().sessions() as session, session.begin():
            for data in items:
                row = session.execute(select(PoolInstitution).where(
                    PoolInstitution.region == region,
                    PoolInstitution.institution_id == data["institution_id"])).scalar_one_or_none()
                if row is None:
                    row = PoolInstitution(region=region, institution_id=data["institution_id"])
                    session.add(row)
                row.name, row.party_type, row.level = data["name"], data["party_type"], data["level"]
                row.local_region = data.get("local_region") or region
                row.local_department, row.active = data["local_department"], data["active"]
                out.append(row)
            session.flush()
        return out


@blp.route("/pools/people")
class PoolPeople(MethodView):
    @require(*STAFF)
    @blp.arguments(PoolKindArgs, location="query")
    @blp.response(200, PoolPersonOut(many=True))
    def get(self, args):
        with runtime().sessions() as session:
            q = select(PoolPerson).where(PoolPerson.region == g.principal.region)
            if args.get("kind"):
                q = q.where(PoolPerson.kind == args["kind"])
            return page_query(session, q.order_by(PoolPerson.person_id), args)["items"]

    @require("leader")
    @blp.arguments(PoolPersonIn(many=True))
    @blp.response(200, PoolPersonOut(many=True))
    def put(self, items):
        """Add or update people of the region's inspector pool and expert pool."""
        region = g.principal.region
        out = []
        with runtime().sessions() as session, session.begin():
            for data in items:
                row = session.execute(select(PoolPerson).where(
                    PoolPerson.region == region, PoolPerson.kind == data["kind"],
                    PoolPerson.person_id == data["person_id"])).scalar_one_or_none()
                if row is None:
                    row = PoolPerson(region=region, kind=data["kind"], person_id=data["person_id"])
                    session.add(row)
                for k in ("name", "department", "enforcement_cert", "conflicts", "active"):
                    setattr(row, k, data[k])
                out.append(row)
            session.flush()
        return out


def _detail(session: Session, plan: FlightPlan) -> FlightPlan:
    """The plan with its targets, team and draws attached (dumped by ``PlanDetailOut``)."""
    plan.targets = _targets(session, plan)
    plan.team = _team(session, plan)
    plan.draws = list(session.execute(select(FlightDraw).where(FlightDraw.plan_id == plan.id)
                                      .order_by(FlightDraw.drawn_at)).scalars())
    return plan


@blp.route("/flight-plans")
class Plans(MethodView):
    @require(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PlanList)
    def get(self, args):
        with runtime().sessions() as session:
            q = scoped(select(FlightPlan), FlightPlan, g.principal) \
                .order_by(FlightPlan.created_at.desc())
            return page_query(session, q, args)

    @require(*STAFF)
    @blp.arguments(PlanIn)
    @blp.response(201, PlanOut)
    def post(self, data):
        p = g.principal
        department = department_for(p, data.pop("department"))
        with runtime().sessions() as session, session.begin():
            plan = FlightPlan(region=p.region, department=department, created_by=p.sub,
                              status="draft", **data)
            session.add(plan)
            session.flush()
            return plan


def _plan_action(plan_id: str, fn, *, version_data=None, detail=True, for_update=True):
    with runtime().sessions() as session, stale_as_conflict():
        with session.begin():
            plan = get_or_404(session, FlightPlan, plan_id, g.principal, for_update=for_update)
            if version_data is not None:
                check_version(plan, version_data)
            result = fn(session, plan)
            session.flush()
            out = _detail(session, plan) if detail else result
        return out


@blp.route("/flight-plans/<string:plan_id>")
class PlanById(MethodView):
    @require(*STAFF)
    @blp.response(200, PlanDetailOut)
    def get(self, plan_id):
        with runtime().sessions() as session:
            return _detail(session, get_or_404(session, FlightPlan, plan_id, g.principal))


@blp.route("/flight-plans/<string:plan_id>/filing")
class PlanFiling(MethodView):
    @require(*STAFF)
    @blp.arguments(FilingIn)
    @blp.response(200, PlanDetailOut)
    def post(self, data, plan_id):
        """Record the NHSA filing (备案) a cross-province inspection needs before launch."""
        def fn(session, plan):
            _require_state(plan, "draft")
            plan.nhsa_filing_ref = data["nhsa_filing_ref"]
        return _plan_action(plan_id, fn)


@blp.route("/flight-plans/<string:plan_id>/targets")
class PlanTargets(MethodView):
    @require(*STAFF)
    @blp.arguments(TargetIn)
    @blp.response(201, PlanDetailOut)
    def post(self, data, plan_id):
        """Name a target directly (trigger-based inspections only)."""
        return _plan_action(plan_id, lambda s, plan: name_target(s, plan, data["institution_id"]))


@blp.route("/flight-plans/<string:plan_id>/draws")
class PlanDraws(MethodView):
    @require(*STAFF)
    @blp.arguments(DrawIn)
    @blp.response(201, DrawOut)
    def post(self, data, plan_id):
        """双随机: draw targets, inspectors or experts with a recorded seed."""
        return _plan_action(plan_id, lambda s, plan: do_draw(s, plan, data, g.principal),
                            detail=False)


@blp.route("/flight-plans/<string:plan_id>/draws/<string:draw_id>/verify")
class DrawVerify(MethodView):
    @require(*STAFF)
    @blp.response(200, DrawVerifyOut)
    def get(self, plan_id, draw_id):
        """Re-run a recorded draw from its seed and pool snapshot (audit)."""
        with runtime().sessions() as session:
            plan = get_or_404(session, FlightPlan, plan_id, g.principal)
            record = session.execute(select(FlightDraw).where(
                FlightDraw.id == draw_id, FlightDraw.plan_id == plan.id)).scalar_one_or_none()
            if record is None:
                raise ApiError(404)
            return verify_draw(record)


@blp.route("/flight-plans/<string:plan_id>/team")
class PlanTeam(MethodView):
    @require(*STAFF)
    @blp.arguments(TeamIn)
    @blp.response(201, PlanDetailOut)
    def post(self, data, plan_id):
        """Appoint a member (e.g. a third-party auditor or a named officer)."""
        return _plan_action(plan_id, lambda s, plan: appoint_member(s, plan, data))


@blp.route("/flight-plans/<string:plan_id>/team/<string:member_id>/recusal")
class MemberRecusal(MethodView):
    @require(*STAFF)
    @blp.arguments(RecusalIn)
    @blp.response(200, PlanDetailOut)
    def post(self, data, plan_id, member_id):
        """A member recuses (回避) for a conflict of interest; the reason is recorded."""
        def fn(session, plan):
            _require_state(plan, "draft", "on_site", "feedback")
            member = session.execute(select(TeamMember).where(
                TeamMember.id == member_id, TeamMember.plan_id == plan.id)).scalar_one_or_none()
            if member is None:
                raise ApiError(404)
            recuse(member, data["reason"], g.principal)
        return _plan_action(plan_id, fn)


@blp.route("/flight-plans/<string:plan_id>/launch")
class PlanLaunch(MethodView):
    @require("leader")
    @blp.arguments(VersionIn)
    @blp.response(200, PlanDetailOut)
    def post(self, data, plan_id):
        return _plan_action(plan_id, lambda s, plan: launch(s, plan, g.principal),
                            version_data=data)


@blp.route("/flight-plans/<string:plan_id>/records")
class PlanRecords(MethodView):
    @require(*STAFF)
    @blp.response(200, RecordOut(many=True))
    def get(self, plan_id):
        with runtime().sessions() as session:
            plan = get_or_404(session, FlightPlan, plan_id, g.principal)
            return list(session.execute(select(SiteRecord).where(SiteRecord.plan_id == plan.id)
                                        .order_by(SiteRecord.recorded_at)).scalars())

    @require(*STAFF)
    @blp.arguments(RecordIn)
    @blp.response(201, RecordOut)
    def post(self, data, plan_id):
        """现场笔录 / 询问笔录."""
        return _plan_action(plan_id, lambda s, plan: add_record(s, plan, data, g.principal),
                            detail=False)


@blp.route("/flight-plans/<string:plan_id>/findings")
class PlanFindings(MethodView):
    @require(*STAFF)
    @blp.response(200, FlightFindingOut(many=True))
    def get(self, plan_id):
        with runtime().sessions() as session:
            plan = get_or_404(session, FlightPlan, plan_id, g.principal)
            return [_with_due(f, plan) for f in _findings(session, plan)]

    @require(*STAFF)
    @blp.arguments(FlightFindingIn)
    @blp.response(201, FlightFindingOut)
    def post(self, data, plan_id):
        return _plan_action(plan_id, lambda s, plan: add_flight_finding(s, plan, data, g.principal),
                            detail=False)


@blp.route("/flight-plans/<string:plan_id>/feedback")
class PlanFeedback(MethodView):
    @require(*STAFF)
    @blp.arguments(FeedbackIn)
    @blp.response(200, PlanDetailOut)
    def post(self, data, plan_id):
        """Feed the findings back to the inspected party, which may dispute each until
        ``response_due`` (working days; FUNDGUARD_FLIGHT_RESPONSE_WORKDAYS, default 5)."""
        return _plan_action(plan_id, lambda s, plan: feed_back(s, plan,
                                                               data.get("response_working_days")),
                            version_data=data)


@blp.route("/flight-plans/<string:plan_id>/handover")
class PlanHandover(MethodView):
    @require("leader")
    @blp.arguments(VersionIn)
    @blp.response(200, HandoverOut)
    def post(self, data, plan_id):
        """Hand the confirmed findings to the local department (one ``finding.recorded`` each)."""
        def fn(session, plan):
            recorded, withdrawn = hand_over(session, plan, g.principal, g.request_id)
            return {"plan": plan, "findings": recorded, "withdrawn": withdrawn}
        return _plan_action(plan_id, fn, version_data=data, detail=False)


def _with_due(f: FlightFinding, plan: FlightPlan) -> FlightFinding:
    f.response_due = plan.response_due  # transient attribute for the response schema
    return f


def _flight_finding_for(session: Session, finding_id: str, principal: Principal,
                        for_update: bool = False) -> tuple[FlightFinding, FlightPlan]:
    """Staff see their scope's plans; an institution sees only its own fed-back findings."""
    q = select(FlightFinding, FlightPlan).join(FlightPlan, FlightPlan.id == FlightFinding.plan_id) \
        .where(FlightFinding.id == finding_id)
    if principal.role == "institution":
        q = q.where(FlightFinding.institution_id == principal.institution_id,
                    FlightFinding.status != "draft")
    else:
        q = scoped(q, FlightPlan, principal)
    if for_update:
        q = q.with_for_update()
    row = session.execute(q).one_or_none()
    if row is None:
        raise ApiError(404)
    return row[0], row[1]


@blp.route("/flight-findings")
class InstitutionFindings(MethodView):
    @require("institution")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, FlightFindingList)
    def get(self, args):
        """The findings fed back to the calling institution."""
        with runtime().sessions() as session:
            q = select(FlightFinding).where(
                FlightFinding.institution_id == g.principal.institution_id,
                FlightFinding.status != "draft").order_by(FlightFinding.created_at.desc())
            page = page_query(session, q, args)
            plans = {p.id: p for p in session.execute(select(FlightPlan).where(
                FlightPlan.id.in_({f.plan_id for f in page["items"]}))).scalars()}
            page["items"] = [_with_due(f, plans[f.plan_id]) for f in page["items"]]
            return page


@blp.route("/flight-findings/<string:finding_id>")
class FlightFindingById(MethodView):
    @require("institution", *STAFF)
    @blp.response(200, FlightFindingOut)
    def get(self, finding_id):
        with runtime().sessions() as session:
            f, plan = _flight_finding_for(session, finding_id, g.principal)
            return _with_due(f, plan)


@blp.route("/flight-findings/<string:finding_id>/response")
class FlightFindingResponse(MethodView):
    @require("institution")
    @blp.arguments(ResponseIn)
    @blp.response(200, FlightFindingOut)
    def post(self, data, finding_id):
        """The inspected party accepts or disputes (陈述、申辩) one finding."""
        with runtime().sessions() as session, session.begin():
            f, plan = _flight_finding_for(session, finding_id, g.principal, for_update=True)
            respond(f, plan, data, g.principal)
            session.flush()
            return _with_due(f, plan)


@blp.route("/flight-findings/<string:finding_id>/decision")
class FlightFindingDecision(MethodView):
    @require(*STAFF)
    @blp.arguments(DisputeDecisionIn)
    @blp.response(200, FlightFindingOut)
    def post(self, data, finding_id):
        """The team's collective decision on a disputed finding (upheld / revised / withdrawn)."""
        with runtime().sessions() as session, session.begin():
            f, plan = _flight_finding_for(session, finding_id, g.principal, for_update=True)
            decide_dispute(session, f, plan, data, g.principal)
            session.flush()
            return _with_due(f, plan)
