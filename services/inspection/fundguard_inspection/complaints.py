"""举报 (complaints, 国家医疗保障局令第5号) and rewards (医保办发〔2022〕22号).

The informant's identity and contact live apart (``complaint_informants``), encrypted with
Fernet (``pii.py``), shown only to complaint handlers, never put in events, responses of the
complaint itself, or logs; every access — and every refused attempt — is written to
``informant_access_log``.

Complaint handlers (``FUNDGUARD_COMPLAINT_HANDLERS``, comma-separated, default
``inspector:department,leader:region``): ``inspector:department`` = inspectors of the receiving
department, ``inspector:region`` = any inspector of the region, ``leader:region`` = leaders of the
region. ``FUNDGUARD_COMPLAINT_HANDLER_IDS`` (optional) narrows it to named user ids.

Telling a real-name informant (within 5 working days of the acceptance decision): the
``complaint.decided`` event carries only the due date; notify tracks it as a deadline for the
handlers; a handler, who may see the contact here, tells the informant and records it
(``POST /complaints/<id>/informant-notice``) → ``complaint.informant_notified`` closes it.
"""
from __future__ import annotations

import os
from decimal import Decimal
from functools import wraps

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal, require
from fundguard_shared.catalogue import VIOLATION_TYPES
from fundguard_shared.errors import ApiError
from fundguard_shared.events import PARTY_TYPES
from fundguard_shared.events_inspection import COMPLAINT_CHANNELS, NOTICE_METHODS
from fundguard_shared.outbox import add_event
from fundguard_shared.pagination import Page, PageArgs, page_query
from fundguard_shared.ratelimit import rate_limited
from fundguard_shared.workdays import MONTHS, add_months

from . import pii, rewards
from .common import (AMOUNT_DOC, add_working_days, amount_in_range,
                     check_version, department_for, env_int, get_or_404, in_scope, not_future,
                     period_end, scoped, stale_as_conflict, try_add_working_days)
from .findings import record_finding
from .models import (MESSAGING, RATE_LIMITS, SERVICE, Complaint, Informant, InformantAccess)
from .runtime import runtime

INFORMANT_NOTICE_WORKING_DAYS = 5   # 令第5号: 实名举报，作出是否立案决定后 5 个工作日内告知
DEFAULT_ACCEPTANCE_WORKING_DAYS = 15  # [U] background figure; FUNDGUARD_COMPLAINT_ACCEPTANCE_WORKDAYS
# Complaint submission is rate limited per client (address + signed-in user), counted in the
# database so the limit holds across gunicorn workers: FUNDGUARD_COMPLAINT_RATE_LIMIT requests per
# FUNDGUARD_COMPLAINT_RATE_WINDOW seconds (read per request, so operators and tests can tune it).
DEFAULT_COMPLAINT_RATE_LIMIT = 20
DEFAULT_COMPLAINT_RATE_WINDOW = 3600
CHANNEL_LABELS = {"web": "网络", "phone": "电话", "letter": "信函", "email": "电子邮件",
                  "in_person": "当面"}


# ---- schemas ---------------------------------------------------------------------------------

class InformantIn(Schema):
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 100))
    id_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 40))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 40))
    email = fields.Email(load_default=None, allow_none=True)
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 300))
    is_insider = fields.Boolean(load_default=False)

    @validates_schema
    def _some_contact(self, data, **_):
        if not any(data.get(k) for k in ("phone", "email", "address")):
            raise ValidationError("至少提供一种联系方式 / give at least one way to contact", "phone")


class ComplaintIn(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(COMPLAINT_CHANNELS))
    real_name = fields.Boolean(required=True)
    institution_id = fields.String(required=True, validate=validate.Length(1, 64))
    institution_name = fields.String(required=True, validate=validate.Length(1, 200))
    party_type = fields.String(load_default="entity", validate=validate.OneOf(PARTY_TYPES))
    violation_type = fields.String(load_default=None, allow_none=True,
                                   validate=validate.OneOf(sorted(VIOLATION_TYPES)))
    amount_estimate = fields.Decimal(load_default=None, allow_none=True, places=2, as_string=True,
                                     validate=amount_in_range, metadata=AMOUNT_DOC)
    summary = fields.String(required=True, validate=validate.Length(1, 20000))
    received_on = fields.Date(load_default=None, allow_none=True)
    department = fields.String(load_default=None, validate=validate.Length(1, 64))
    informant = fields.Nested(InformantIn, load_default=None, allow_none=True)

    @validates_schema
    def _real_name(self, data, **_):
        inf = data.get("informant")
        if data["real_name"] and not (inf and inf.get("name")):
            raise ValidationError("实名举报须登记举报人姓名与联系方式 / a real-name report needs the "
                                  "informant's name and contact", "informant")
        if data.get("amount_estimate") is not None and not data["amount_estimate"].is_finite():
            raise ValidationError("金额必须是有限数值 / amount must be finite", "amount_estimate")


class ComplaintOut(Schema):
    id = fields.String()
    region = fields.String()
    department = fields.String()
    channel = fields.String()
    channel_label = fields.Function(lambda c: CHANNEL_LABELS[c.channel])
    real_name = fields.Boolean()
    institution_id = fields.String()
    institution_name = fields.String()
    party_type = fields.String()
    violation_type = fields.String(allow_none=True)
    amount_estimate = fields.Decimal(as_string=True, places=2, allow_none=True)
    summary = fields.String()
    received_on = fields.Date()
    received_by = fields.String()
    status = fields.String()
    decision_reason = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_on = fields.Date(allow_none=True)
    informant_notice_due = fields.Date(allow_none=True)
    informant_notified_on = fields.Date(allow_none=True)
    finding_id = fields.String(allow_none=True)
    reward_scheme = fields.String(allow_none=True)
    reward_amount = fields.Decimal(as_string=True, places=2, allow_none=True)
    reward_basis = fields.Dict(allow_none=True)
    reward_notified_on = fields.Date(allow_none=True)
    reward_claim_deadline = fields.Date(allow_none=True)
    reward_claimed_on = fields.Date(allow_none=True)
    version = fields.Integer()


class ComplaintList(Page):
    items = fields.List(fields.Nested(ComplaintOut))


class InformantOut(InformantIn):
    complaint_id = fields.String()


class PurposeArgs(Schema):
    purpose = fields.String(load_default="未说明 / not stated", validate=validate.Length(2, 200),
                            metadata={"description": "why the identity is needed (logged with "
                                                     "every access)"})


class AccessOut(Schema):
    id = fields.Integer()
    complaint_id = fields.String()
    actor = fields.String()
    actor_role = fields.String()
    action = fields.String()
    purpose = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    at = fields.DateTime()


class ComplaintDecisionIn(Schema):
    accepted = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.Length(1, 10000))
    decided_on = fields.Date(load_default=None, allow_none=True)
    version = fields.Integer(load_default=None)


class NoticeIn(Schema):
    method = fields.String(required=True, validate=validate.OneOf(NOTICE_METHODS))
    notified_on = fields.Date(load_default=None, allow_none=True)


class RewardIn(Schema):
    case_value = fields.Decimal(required=True, places=2, as_string=True,
                                validate=amount_in_range, metadata=AMOUNT_DOC)
    grade = fields.String(load_default=None, allow_none=True)
    insider = fields.Boolean(load_default=None, allow_none=True)
    exclusions = fields.List(fields.String(validate=validate.OneOf(sorted(rewards.EXCLUSIONS))),
                             load_default=list)
    notified_on = fields.Date(load_default=None, allow_none=True)
    version = fields.Integer(load_default=None)


class ClaimIn(Schema):
    claimed_on = fields.Date(load_default=None, allow_none=True)
    identity_verified = fields.Boolean(required=True)


# ---- rules -----------------------------------------------------------------------------------

def handler_policy() -> tuple[set[str], set[str]]:
    raw = os.environ.get("FUNDGUARD_COMPLAINT_HANDLERS") or "inspector:department,leader:region"
    rules = {r.strip() for r in raw.split(",") if r.strip()}
    known = {"inspector:department", "inspector:region", "leader:region"}
    if rules - known:
        raise RuntimeError(f"FUNDGUARD_COMPLAINT_HANDLERS: unknown {sorted(rules - known)}")
    ids = {i.strip() for i in (os.environ.get("FUNDGUARD_COMPLAINT_HANDLER_IDS") or "").split(",")
           if i.strip()}
    return rules, ids


def is_handler(complaint: Complaint, principal: Principal) -> bool:
    """May ``principal`` see the informant of ``complaint``?"""
    rules, ids = handler_policy()
    if ids and principal.sub not in ids:
        return False
    if principal.region != complaint.region:
        return False
    if principal.role == "inspector":
        return ("inspector:region" in rules or
                ("inspector:department" in rules and principal.department == complaint.department))
    if principal.role == "leader":
        return "leader:region" in rules
    return False


def _access(session: Session, complaint_id: str, principal: Principal, action: str,
            purpose: str | None = None) -> None:
    session.add(InformantAccess(complaint_id=complaint_id, actor=principal.sub,
                                actor_role=principal.role, action=action, purpose=purpose,
                                request_id=getattr(g, "request_id", None)))


def _seal(informant: dict) -> str:
    try:
        return pii.seal(informant)
    except pii.PiiKeyMissing:
        raise ApiError(503, "pii_key_missing", "未配置举报人信息加密密钥，无法保存举报人信息",
                       "the PII encryption key is not configured") from None


def register_complaint(session: Session, data: dict, principal: Principal,
                       correlation_id: str) -> Complaint:
    department = department_for(principal, data.pop("department", None))
    informant = data.pop("informant", None)
    received = not_future(data.pop("received_on", None), "received_on")
    c = Complaint(region=principal.region, department=department, received_on=received,
                  received_by=principal.sub, status="received", **data)
    session.add(c)
    session.flush()
    if informant:
        session.add(Informant(complaint_id=c.id, ciphertext=_seal(informant)))
        _access(session, c.id, principal, "stored", "registration")
    days = env_int("FUNDGUARD_COMPLAINT_ACCEPTANCE_WORKDAYS", DEFAULT_ACCEPTANCE_WORKING_DAYS)
    add_event(session, MESSAGING, "complaint.received", {
        "complaint_id": c.id, "region": c.region, "department": c.department,
        "channel": c.channel, "real_name": c.real_name, "institution_id": c.institution_id,
        "received_on": c.received_on, "acceptance_due": try_add_working_days(c.received_on, days),
    }, subject=f"complaint:{c.id}", producer=SERVICE, actor=principal.sub,
        correlation_id=correlation_id)
    return c


def read_informant(session: Session, complaint: Complaint, principal: Principal,
                   purpose: str) -> dict:
    if not is_handler(complaint, principal):
        _access(session, complaint.id, principal, "refused", purpose)
        raise ApiError(403, "not_a_complaint_handler", "仅举报承办人员可查看举报人信息",
                       "only complaint handlers may see the informant")
    row = session.get(Informant, complaint.id)
    if row is None:
        raise ApiError(404, "no_informant_record", "该举报未登记举报人信息（匿名）",
                       "no informant identity is recorded (anonymous)")
    try:
        data = pii.unseal(row.ciphertext)
    except pii.PiiKeyMissing:
        raise ApiError(503, "pii_key_missing", "未配置举报人信息加密密钥",
                       "the PII encryption key is not configured") from None
    except pii.PiiUnreadable:
        raise ApiError(500, "pii_unreadable", "举报人信息无法用当前密钥解密",
                       "the informant record cannot be decrypted with the configured keys") from None
    _access(session, complaint.id, principal, "read", purpose)
    return data | {"complaint_id": complaint.id}


def store_informant(session: Session, complaint: Complaint, data: dict,
                    principal: Principal) -> None:
    if not is_handler(complaint, principal):
        _access(session, complaint.id, principal, "refused", "update")
        raise ApiError(403, "not_a_complaint_handler", "仅举报承办人员可登记举报人信息",
                       "only complaint handlers may record the informant")
    row = session.get(Informant, complaint.id)
    if row is None:
        session.add(Informant(complaint_id=complaint.id, ciphertext=_seal(data)))
    else:
        row.ciphertext = _seal(data)
    _access(session, complaint.id, principal, "stored", "update")


def decide(session: Session, c: Complaint, data: dict, principal: Principal,
           correlation_id: str) -> None:
    """Acceptance decision; real-name informants must be told within 5 working days."""
    if c.status != "received":
        raise ApiError(409, "already_decided", "该举报已作出受理决定",
                       "the acceptance of this complaint was already decided")
    decided = not_future(data.get("decided_on"), "decided_on")
    if decided < c.received_on:
        raise ApiError(422, "date_before_receipt", "决定日期早于收到举报日期",
                       "the decision predates the complaint")
    c.status = "accepted" if data["accepted"] else "rejected"
    c.decision_reason, c.decided_by, c.decided_on = data["reason"], principal.sub, decided
    if c.real_name:
        c.informant_notice_due = add_working_days(decided, INFORMANT_NOTICE_WORKING_DAYS)
    if data["accepted"] and c.violation_type:
        finding = record_finding(session, {
            "institution_id": c.institution_id, "institution_name": c.institution_name,
            "party_type": c.party_type, "violation_type": c.violation_type,
            "amount": c.amount_estimate or Decimal("0.00"),
            "description": f"[举报线索] {c.summary}", "source": "complaint", "act_date": None,
        }, principal, correlation_id, region=c.region, department=c.department)
        c.finding_id = finding.id
    add_event(session, MESSAGING, "complaint.decided", {
        "complaint_id": c.id, "region": c.region, "department": c.department,
        "accepted": data["accepted"], "decided_on": decided, "real_name": c.real_name,
        "informant_notice_due": c.informant_notice_due, "finding_id": c.finding_id,
    }, subject=f"complaint:{c.id}", producer=SERVICE, actor=principal.sub,
        correlation_id=correlation_id)


def record_notice(session: Session, c: Complaint, data: dict, principal: Principal,
                  correlation_id: str) -> None:
    if not is_handler(c, principal):
        raise ApiError(403, "not_a_complaint_handler", "仅举报承办人员可告知举报人",
                       "only complaint handlers contact the informant")
    if not c.real_name:
        raise ApiError(422, "anonymous_complaint", "匿名举报无需告知", "anonymous: nobody to tell")
    if c.decided_on is None:
        raise ApiError(409, "not_decided", "尚未作出受理决定", "no decision to tell yet")
    if c.informant_notified_on is not None:
        raise ApiError(409, "already_notified", "已告知举报人", "the informant was already told")
    notified = not_future(data.get("notified_on"), "notified_on")
    if notified < c.decided_on:
        raise ApiError(422, "date_before_decision", "告知日期早于决定日期",
                       "the notice predates the decision")
    c.informant_notified_on, c.informant_notice_method = notified, data["method"]
    _access(session, c.id, principal, "contacted", f"notice by {data['method']}")
    add_event(session, MESSAGING, "complaint.informant_notified", {
        "complaint_id": c.id, "region": c.region, "department": c.department,
        "notified_on": notified, "due": c.informant_notice_due,
        "on_time": notified <= c.informant_notice_due, "method": data["method"],
    }, subject=f"complaint:{c.id}", producer=SERVICE, actor=principal.sub,
        correlation_id=correlation_id)


def decide_reward(session: Session, c: Complaint, data: dict, principal: Principal,
                  correlation_id: str) -> None:
    if c.status != "accepted":
        raise ApiError(409, "not_accepted", "仅已受理并查实的举报可以奖励",
                       "only an accepted, verified complaint can be rewarded")
    if c.reward_amount is not None:
        raise ApiError(409, "reward_already_decided", "奖励已确定", "the reward was already decided")
    exclusions = list(data["exclusions"])
    informant = session.get(Informant, c.id)
    insider = data.get("insider")
    if informant is None and "identity_missing" not in exclusions:
        exclusions.append("identity_missing")
    elif insider is None and informant is not None:
        # the insider flag sits with the identity; reading it is an access like any other
        insider = bool(read_informant(session, c, principal, "reward: insider flag")
                       .get("is_insider"))
    name, scheme = rewards.scheme_for_region(c.region)
    try:
        reward = rewards.compute_reward(data["case_value"], name, scheme, party_type=c.party_type,
                                        grade=data.get("grade"), insider=bool(insider),
                                        exclusions=exclusions)
    except rewards.RewardError as exc:
        raise ApiError(422, exc.code, exc.zh, exc.en) from None
    notified = not_future(data.get("notified_on"), "notified_on")
    c.reward_scheme = name
    c.reward_amount = reward.amount
    c.reward_basis = reward.basis() | {"case_value": str(data["case_value"]),
                                       "grade": data.get("grade"), "insider": bool(insider)}
    if reward.amount > 0:
        c.reward_notified_on = notified
        try:
            c.reward_claim_deadline = period_end(notified, rewards.CLAIM_WINDOW_MONTHS, MONTHS)
        except ApiError:  # next year's calendar not loaded: settled when the claim comes
            c.reward_basis = c.reward_basis | {
                "claim_deadline_pending": "calendar not loaded",
                "claim_deadline_not_before": add_months(notified, 2).isoformat()}
    add_event(session, MESSAGING, "complaint.reward_decided", {
        "complaint_id": c.id, "region": c.region, "department": c.department,
        "amount": reward.amount, "excluded": list(reward.excluded),
        "notified_on": c.reward_notified_on, "claim_deadline": c.reward_claim_deadline,
    }, subject=f"complaint:{c.id}", producer=SERVICE, actor=principal.sub,
        correlation_id=correlation_id)


def claim_reward(session: Session, c: Complaint, data: dict, principal: Principal,
                 correlation_id: str) -> None:
    if not c.reward_amount:
        raise ApiError(409, "no_reward", "该举报无可领取的奖励", "there is no reward to claim")
    if c.reward_claimed_on is not None:
        raise ApiError(409, "reward_already_claimed", "奖励已领取", "the reward was already claimed")
    claimed = not_future(data.get("claimed_on"), "claimed_on")
    if c.reward_claim_deadline is None:
        if claimed <= add_months(c.reward_notified_on, rewards.CLAIM_WINDOW_MONTHS):
            deadline = None  # inside the window whatever the calendar says
        else:
            deadline = period_end(c.reward_notified_on, rewards.CLAIM_WINDOW_MONTHS, MONTHS)
            c.reward_claim_deadline = deadline
    else:
        deadline = c.reward_claim_deadline
    if deadline is not None and claimed > deadline:
        raise ApiError(422, "reward_claim_expired",
                       f"领取期限已于 {c.reward_claim_deadline} 届满，视为放弃奖励",
                       f"the claim window closed on {c.reward_claim_deadline}; the reward is "
                       "deemed waived")
    if not data["identity_verified"]:
        raise ApiError(422, "identity_not_verified", "领取奖励须核验举报人有效身份证件",
                       "the informant's ID must be checked before paying")
    c.reward_claimed_on = claimed
    add_event(session, MESSAGING, "complaint.reward_claimed", {
        "complaint_id": c.id, "region": c.region, "department": c.department,
        "claimed_on": claimed,
    }, subject=f"complaint:{c.id}", producer=SERVICE, actor=principal.sub,
        correlation_id=correlation_id)


# ---- HTTP ------------------------------------------------------------------------------------

blp = Blueprint("complaints", __name__, url_prefix="/api/v1/complaints",
                description="举报 / Complaints")


def complaint_rate_limited(view):
    """``rate_limited`` with the limit and window taken from the environment at request time."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        limited = rate_limited(
            lambda: runtime().engine, RATE_LIMITS, "complaint",
            limit=max(1, env_int("FUNDGUARD_COMPLAINT_RATE_LIMIT", DEFAULT_COMPLAINT_RATE_LIMIT)),
            per_seconds=max(1, env_int("FUNDGUARD_COMPLAINT_RATE_WINDOW",
                                       DEFAULT_COMPLAINT_RATE_WINDOW)))(view)
        return limited(*args, **kwargs)
    return wrapper


def _complaint_action(complaint_id: str, fn, data: dict | None = None, versioned: bool = True):
    with runtime().sessions() as session, stale_as_conflict():
        with session.begin():
            c = get_or_404(session, Complaint, complaint_id, g.principal, for_update=True)
            if versioned:
                check_version(c, data)
            fn(session, c)
            session.flush()
        return c


@blp.route("")
class Complaints(MethodView):
    @require("inspector", "leader")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ComplaintList)
    def get(self, args):
        with runtime().sessions() as session:
            q = scoped(select(Complaint), Complaint, g.principal) \
                .order_by(Complaint.created_at.desc())
            return page_query(session, q, args)

    @require("inspector", "leader")
    @complaint_rate_limited
    @blp.arguments(ComplaintIn)
    @blp.response(201, ComplaintOut)
    @blp.alt_response(429, description="提交过于频繁 / too many submissions (code "
                                       "``rate_limited``, ``retry_after`` seconds)")
    def post(self, data):
        """Register a complaint; the informant (if given) is stored apart, encrypted."""
        with runtime().sessions() as session, session.begin():
            return register_complaint(session, data, g.principal, g.request_id)


@blp.route("/<string:complaint_id>")
class ComplaintById(MethodView):
    @require("inspector", "leader")
    @blp.response(200, ComplaintOut)
    def get(self, complaint_id):
        with runtime().sessions() as session:
            return get_or_404(session, Complaint, complaint_id, g.principal)


def _load_for_informant(session: Session, complaint_id: str, purpose: str) -> Complaint:
    c = session.get(Complaint, complaint_id)
    if c is None:
        raise ApiError(404)
    if not in_scope(c, g.principal):
        _access(session, c.id, g.principal, "refused", purpose)
        session.commit()
        raise ApiError(404)
    return c


@blp.route("/<string:complaint_id>/informant")
class ComplaintInformant(MethodView):
    @require("inspector", "leader")
    @blp.arguments(PurposeArgs, location="query")
    @blp.response(200, InformantOut)
    def get(self, args, complaint_id):
        """The informant's identity and contact: complaint handlers only; every access logged."""
        with runtime().sessions() as session:
            try:
                c = _load_for_informant(session, complaint_id, args["purpose"])
                out = read_informant(session, c, g.principal, args["purpose"])
            except ApiError:
                session.commit()  # keep the refusal in the access log
                raise
            session.commit()
            return out

    @require("inspector", "leader")
    @blp.arguments(InformantIn)
    @blp.response(204)
    def put(self, data, complaint_id):
        """Record or replace the informant's identity (e.g. an anonymous informant identifies)."""
        with runtime().sessions() as session:
            try:
                c = _load_for_informant(session, complaint_id, "update")
                store_informant(session, c, data, g.principal)
            except ApiError:
                session.commit()
                raise
            session.commit()


@blp.route("/<string:complaint_id>/informant/access-log")
class InformantAccessLog(MethodView):
    @require("leader")
    @blp.response(200, AccessOut(many=True))
    def get(self, complaint_id):
        with runtime().sessions() as session:
            c = get_or_404(session, Complaint, complaint_id, g.principal)
            return list(session.execute(select(InformantAccess).where(
                InformantAccess.complaint_id == c.id).order_by(InformantAccess.id)).scalars())


@blp.route("/<string:complaint_id>/decision")
class ComplaintDecision(MethodView):
    @require("inspector", "leader")
    @blp.arguments(ComplaintDecisionIn)
    @blp.response(200, ComplaintOut)
    def post(self, data, complaint_id):
        """Accept or reject, with the reason (→ ``complaint.decided``; a finding when accepted)."""
        return _complaint_action(complaint_id,
                                 lambda s, c: decide(s, c, data, g.principal, g.request_id), data)


@blp.route("/<string:complaint_id>/informant-notice")
class ComplaintNotice(MethodView):
    @require("inspector", "leader")
    @blp.arguments(NoticeIn)
    @blp.response(200, ComplaintOut)
    def post(self, data, complaint_id):
        """A handler records that the real-name informant was told of the decision."""
        return _complaint_action(complaint_id, lambda s, c: record_notice(
            s, c, data, g.principal, g.request_id), versioned=False)


@blp.route("/<string:complaint_id>/reward")
class ComplaintReward(MethodView):
    @require("leader")
    @blp.arguments(RewardIn)
    @blp.response(200, ComplaintOut)
    def post(self, data, complaint_id):
        """Decide the reward under the region's scheme (national floor 200 元, cap 200,000 元)."""
        return _complaint_action(complaint_id, lambda s, c: decide_reward(
            s, c, data, g.principal, g.request_id), data)


@blp.route("/<string:complaint_id>/reward/claim")
class ComplaintRewardClaim(MethodView):
    @require("inspector", "leader")
    @blp.arguments(ClaimIn)
    @blp.response(200, ComplaintOut)
    def post(self, data, complaint_id):
        """The informant claims the reward with ID, within 2 months of the notice."""
        return _complaint_action(complaint_id, lambda s, c: claim_reward(
            s, c, data, g.principal, g.request_id), versioned=False)
