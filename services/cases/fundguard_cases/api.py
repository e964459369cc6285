"""HTTP resources of the cases service (thin: parse, scope, call service, map errors)."""
from __future__ import annotations

from decimal import Decimal

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from fundguard_shared.auth import require
from fundguard_shared.errors import ApiError
from fundguard_shared.pagination import Page, PageArgs, page_query

from . import audit, clock, dashboard, deadlines, service
from .rules import display
from .models import AuditEntry, Case, Recusal
from .runtime import runtime
from .workflow import WORKFLOW_VERSION, TransitionRejected, allowed_actions, definition, mermaid

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
    records = fields.Method("_records")

    def _actions(self, case):
        """Moves of the procedure this caller may make now."""
        return allowed_actions(case, g.principal)

    def _records(self, case):
        """Record steps (vote, payment, appeal, recusal...) this caller may take in this state."""
        return allowed_actions(case, g.principal, records=True)


class CaseList(Page):
    items = fields.List(fields.Nested(CaseOut))


class DeadlineOut(Schema):
    id = fields.String()
    kind = fields.String()
    label = fields.Function(lambda d: deadlines.LABELS.get(d.kind, d.kind))
    n = fields.Integer()
    unit = fields.String()
    started_on = fields.Date()
    due_on = fields.Date(allow_none=True)
    status = fields.String()
    note = fields.String()
    paused_on = fields.Date(allow_none=True)
    closed_on = fields.Date(allow_none=True)
    remaining_days = fields.Function(lambda d: deadlines.remaining(d, clock.today()))


class SanctionOut(Schema):
    id = fields.String()
    stage = fields.String()
    track = fields.String()
    kind = fields.String()
    article = fields.String()
    amount = fields.Decimal(as_string=True, places=2, allow_none=True)
    months = fields.Integer(allow_none=True)
    years = fields.Integer(allow_none=True)
    tier = fields.String(allow_none=True)
    act = fields.String()
    current = fields.Boolean()
    range_zh = fields.String(allow_none=True, metadata={
        "description": "法定幅度（及所选裁量档）的文字说明 / the legal range in words, from rules/"})


class FileOut(Schema):
    """The case file: what every step produced."""
    details = fields.Method("_details")
    officers = fields.Method("_officers")
    recusals = fields.Method("_recusals")
    sanctions = fields.List(fields.Nested(SanctionOut))
    reviews = fields.Method("_reviews")
    panel = fields.Method("_panel")
    deadlines = fields.List(fields.Nested(DeadlineOut))
    pauses = fields.Method("_pauses")
    appeals = fields.Method("_appeals")
    payments = fields.Method("_payments")
    decision_deadline = fields.Method("_decision_deadline")

    @staticmethod
    def _cols(row, skip=()):
        if row is None:
            return None
        out = {}
        for c in row.__table__.columns:
            if c.name in skip:
                continue
            v = getattr(row, c.name)
            out[c.name] = v.isoformat() if hasattr(v, "isoformat") else str(v) if isinstance(v, Decimal) else v
        return out

    def _details(self, f):
        skip = ("defence_text",) if g.principal.role == "institution" else ()
        return self._cols(f.details, skip)

    def _officers(self, f):
        return [self._cols(o) for o in f.officers]

    def _recusals(self, f):
        return [self._cols(r) for r in getattr(f, "recusals", [])]

    def _reviews(self, f):
        return [self._cols(r) for r in f.reviews]

    def _panel(self, f):
        if f.panel is None:
            return None
        return {**self._cols(f.panel), "votes": [self._cols(v) for v in f.votes]}

    def _pauses(self, f):
        return [self._cols(p) for p in f.pauses]

    def _appeals(self, f):
        return [self._cols(a) for a in f.appeals]

    def _payments(self, f):
        return [self._cols(p) for p in f.payments]

    def _decision_deadline(self, f):
        d = getattr(f, "decision_deadline", None)
        return d.isoformat() if d else None


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


def load_case(session, case_id, for_update=False) -> Case:
    """The case if the caller may see it, else 404 — every view of a case starts here."""
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
            return load_case(session, case_id)


@blp.route("/<string:case_id>/transitions")
class CaseTransitions(MethodView):
    @require(*ALL_CASE_ROLES)
    @blp.arguments(TransitionIn)
    @blp.response(200, CaseDetail)
    def post(self, body, case_id):
        expected = _expected_version(body)
        try:
            with runtime().sessions() as session, session.begin():
                case = load_case(session, case_id, for_update=False)
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


@blp.route("/<string:case_id>/file")
class CaseFileView(MethodView):
    @require(*ALL_CASE_ROLES)
    @blp.response(200, FileOut)
    def get(self, case_id):
        """The case file: officers, recusals, sanctions per stage, reviews, panel and votes,
        clocks, pauses, appeals, payments."""
        with runtime().sessions() as session:
            case = load_case(session, case_id)
            ctx = service.context(session, case, g.principal)
            f = ctx.facts
            f.recusals = session.execute(select(Recusal).where(Recusal.case_id == case.id)
                                         .order_by(Recusal.decided_on)).scalars().all()
            from .guards import decision_deadline_of, loss_of
            f.decision_deadline = decision_deadline_of(ctx)
            loss = loss_of(ctx)
            for s in f.sanctions:  # display only: the guards judge every value when a step fires
                s.range_zh = display.range_zh(s.article, s.kind, loss, s.tier, ctx.params)
            return f


@blp.route("/<string:case_id>/deadlines")
class CaseDeadlines(MethodView):
    @require(*ALL_CASE_ROLES)
    @blp.response(200, DeadlineOut(many=True))
    def get(self, case_id):
        with runtime().sessions() as session:
            case = load_case(session, case_id)
            return service.load_file(session, case).deadlines


@blp.route("/<string:case_id>/audit")
class CaseAudit(MethodView):
    @require(*ALL_CASE_ROLES)
    @blp.response(200, AuditOut(many=True))
    def get(self, case_id):
        with runtime().sessions() as session:
            case = load_case(session, case_id)
            return session.execute(select(AuditEntry).where(AuditEntry.case_id == case.id)
                                   .order_by(AuditEntry.seq)).scalars().all()


@blp.route("/<string:case_id>/audit/verify")
class CaseAuditVerify(MethodView):
    @require("leader", "legal_reviewer", "inspector")
    @blp.response(200, ChainOut)
    def get(self, case_id):
        with runtime().sessions() as session:
            case = load_case(session, case_id)
            return audit.verify(session, case.id)


wf = Blueprint("workflow", __name__, url_prefix="/api/v1/workflow",
               description="流程定义 / Workflow definition")


@wf.route("/diagram")
class Diagram(MethodView):
    @wf.response(200)
    def get(self):
        """The case state machine as a mermaid diagram (no auth: it is the published procedure)."""
        defn = definition(WORKFLOW_VERSION)
        return {"version": defn.version, "mermaid": mermaid(),
                "states": [{"name": k, "label": v, "final": k in defn.final} for k, v in defn.states.items()],
                "steps": [{"trigger": st.trigger, "label": st.label_zh, "from": list(st.source),
                           "to": st.dest, "record": st.is_record, "roles": list(st.roles),
                           "guards": [gd.__name__ for gd in st.guards]} for st in defn.steps]}


# ---- leadership dashboard ------------------------------------------------------------------------

dash = Blueprint("dashboard", __name__, url_prefix="/api/v1/dashboard",
                 description="领导看板 / Leadership dashboard (scoped to the caller's region)")


class CountsArgs(Schema):
    by = fields.String(load_default="state", validate=validate.OneOf(dashboard.GROUPINGS))


class CountOut(Schema):
    key = fields.String()
    label = fields.String()
    count = fields.Integer()


class OverdueOut(Schema):
    deadline_id = fields.String()
    case_id = fields.String()
    case_number = fields.String()
    kind = fields.String()
    label = fields.String()
    due_on = fields.Date(allow_none=True)
    status = fields.String()
    note = fields.String()
    institution_id = fields.String()
    institution_name = fields.String()
    region = fields.String()
    department = fields.String()
    state = fields.String()


class AmountsOut(Schema):
    fines_decided = fields.String()
    recovery_decided = fields.String()
    liquidated_damages_decided = fields.String()
    fines_paid = fields.String()
    surcharge_paid = fields.String()
    recovered = fields.String()
    liquidated_damages_paid = fields.String()


@dash.route("/counts")
class DashCounts(MethodView):
    @require("leader")
    @dash.arguments(CountsArgs, location="query")
    @dash.response(200, CountOut(many=True))
    def get(self, args):
        """Cases by state / region / institution / sanction type."""
        with runtime().sessions() as session:
            return dashboard.counts(session, g.principal, args["by"])


@dash.route("/overdue")
class DashOverdue(MethodView):
    @require("leader")
    @dash.response(200, OverdueOut(many=True))
    def get(self):
        """Overdue clocks, and clocks waiting for a calendar year to be loaded."""
        with runtime().sessions() as session:
            return dashboard.overdue(session, g.principal)


@dash.route("/amounts")
class DashAmounts(MethodView):
    @require("leader")
    @dash.response(200, AmountsOut)
    def get(self):
        """Amounts decided (fines, recovery, 违约金) and received."""
        with runtime().sessions() as session:
            return dashboard.amounts(session, g.principal)


@dash.route("/export.csv")
class DashExport(MethodView):
    @require("leader")
    @dash.response(200, content_type="text/csv")
    def get(self):
        """Every case in scope as CSV (UTF-8 with BOM for spreadsheet programs)."""
        with runtime().sessions() as session:
            body = dashboard.export_csv(session, g.principal)
        return Response("\ufeff" + body, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=cases.csv"})


# ---- admin: working-day calendar years -----------------------------------------------------------

cal = Blueprint("calendar", __name__, url_prefix="/api/v1/calendar",
                description="工作日历 / Working-day calendar (years after the package's range)")


class YearIn(Schema):
    year = fields.Integer(required=True)
    holidays = fields.List(fields.String(), required=True)
    workdays = fields.List(fields.String(), required=True)
    source = fields.String(required=True)


@cal.route("/years")
class CalendarYears(MethodView):
    @require("admin")
    @cal.arguments(YearIn)
    @cal.response(201)
    def post(self, body):
        """Load the State Council's arrangement for a year (e.g. 2027)."""
        try:
            with runtime().sessions() as session, session.begin():
                year = deadlines.load_calendar_year(session, body, g.principal.sub)
        except ValueError as exc:
            raise ApiError(422, "calendar_invalid", str(exc), str(exc))
        return {"year": year}
