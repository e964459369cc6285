"""HTTP resources of the cases service (thin: parse, scope, call service, map errors)."""
from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from fundguard_shared.auth import require
from fundguard_shared.errors import ApiError
from fundguard_shared.pagination import PageArgs, page_query

from . import audit, service
from .models import AuditEntry, Case
from .runtime import runtime
from .workflow import TransitionRejected, allowed_actions, definition, mermaid

ALL_CASE_ROLES = ("inspector", "leader", "legal_reviewer", "panel_member", "institution")


class CaseOut(Schema):
    id = fields.String()
    number = fields.String()
    state = fields.String()
    state_label = fields.Function(lambda c: definition(c.workflow_version).states[c.state])
    version = fields.Integer()
    workflow_version = fields.Integer()
    institution_id = fields.String()
    institution_name = fields.String()
    party_type = fields.String()
    region = fields.String()
    department = fields.String()
    violation_type = fields.String()
    legal_basis = fields.String()
    amount = fields.Decimal(as_string=True, places=2)
    summary = fields.String()
    source = fields.String()
    finding_id = fields.String(allow_none=True)
    act_date = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CaseDetail(CaseOut):
    actions = fields.Method("_actions")

    def _actions(self, case):
        return allowed_actions(case, g.principal)


class CaseList(Schema):
    items = fields.List(fields.Nested(CaseOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class CaseListArgs(PageArgs):
    state = fields.String(validate=validate.Length(max=48))
    institution_id = fields.String(validate=validate.Length(max=64))


class TransitionIn(Schema):
    trigger = fields.String(required=True, validate=validate.Length(1, 64))
    version = fields.Integer(validate=validate.Range(min=1))
    reason = fields.String(load_default="", validate=validate.Length(max=5000))
    data = fields.Dict(load_default=dict)


class AuditOut(Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    actor_role = fields.String()
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    reason = fields.String()
    request_id = fields.String()
    hash = fields.String()


class ChainOut(Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    first_broken_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)


blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="案件 / Cases")


def _load(session, case_id, for_update=False) -> Case:
    case = service.get_case(session, case_id, g.principal, for_update=for_update)
    if case is None:
        raise ApiError(404)
    return case


def _expected_version(body: dict) -> int:
    header = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/").strip('"')
    raw = header or body.get("version")
    if raw in (None, ""):
        raise ApiError(428)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "bad_version", "版本号格式错误", "Version must be an integer")


_REJECTIONS = {
    "unknown_trigger": (422, "unknown_trigger", "未知的操作", "Unknown transition"),
    "invalid_transition": (409, "invalid_transition", "当前状态下不能执行此操作",
                           "Transition not allowed from the current state"),
    "role_forbidden": (403, "role_forbidden", "当前角色无权执行此操作", "Role may not do this"),
}


@blp.route("")
class Cases(MethodView):
    @require(*ALL_CASE_ROLES)
    @blp.arguments(CaseListArgs, location="query")
    @blp.response(200, CaseList)
    def get(self, args):
        with runtime().sessions() as session:
            query = service.scoped(select(Case), g.principal)
            if args.get("state"):
                query = query.where(Case.state == args["state"])
            if args.get("institution_id"):
                query = query.where(Case.institution_id == args["institution_id"])
            return page_query(session, query.order_by(Case.created_at.desc()), args)


@blp.route("/<string:case_id>")
class CaseById(MethodView):
    @require(*ALL_CASE_ROLES)
    @blp.response(200, CaseDetail)
    def get(self, case_id):
        with runtime().sessions() as session:
            return _load(session, case_id)


@blp.route("/<string:case_id>/transitions")
class CaseTransitions(MethodView):
    @require(*ALL_CASE_ROLES)
    @blp.arguments(TransitionIn)
    @blp.response(200, CaseDetail)
    def post(self, body, case_id):
        expected = _expected_version(body)
        try:
            with runtime().sessions() as session, session.begin():
                case = _load(session, case_id, for_update=False)
                if case.version != expected:
                    raise ApiError(409, "stale_version", "案件已被他人修改，请刷新后重试",
                                   "Stale version: the case changed; reload and retry",
                                   current_version=case.version)
                service.transition(session, case, body["trigger"], g.principal,
                                   body["reason"], g.request_id, body["data"])
            return case
        except StaleDataError:
            raise ApiError(409, "stale_version", "案件已被他人修改，请刷新后重试",
                           "Stale version: the case changed; reload and retry")
        except TransitionRejected as rej:
            if rej.kind == "guard_failed":
                raise ApiError(422, "guard_failed", "；".join(f.zh for f in rej.failures),
                               "; ".join(f.en for f in rej.failures),
                               failures=[{"code": f.code, "message_zh": f.zh,
                                          "message_en": f.en, **f.details}
                                         for f in rej.failures])
            status, code, zh, en = _REJECTIONS[rej.kind]
            raise ApiError(status, code, zh, en, **rej.info)


@blp.route("/<string:case_id>/audit")
class CaseAudit(MethodView):
    @require(*ALL_CASE_ROLES)
    @blp.response(200, AuditOut(many=True))
    def get(self, case_id):
        with runtime().sessions() as session:
            case = _load(session, case_id)
            return session.execute(select(AuditEntry).where(AuditEntry.case_id == case.id)
                                   .order_by(AuditEntry.seq)).scalars().all()


@blp.route("/<string:case_id>/audit/verify")
class CaseAuditVerify(MethodView):
    @require("leader", "legal_reviewer", "inspector")
    @blp.response(200, ChainOut)
    def get(self, case_id):
        with runtime().sessions() as session:
            case = _load(session, case_id)
            return audit.verify(session, case.id)


wf = Blueprint("workflow", __name__, url_prefix="/api/v1/workflow",
               description="流程定义 / Workflow definition")


@wf.route("/diagram")
class Diagram(MethodView):
    @wf.response(200)
    def get(self):
        """The case state machine as a mermaid diagram (no auth: it is the published procedure)."""
        return {"version": definition(1).version, "mermaid": mermaid()}
