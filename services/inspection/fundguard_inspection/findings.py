"""Findings: the rules (plain functions) and the HTTP resource (thin views)."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate, validates, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal, require
from fundguard_shared.catalogue import VIOLATION_TYPES
from fundguard_shared.errors import ApiError
from fundguard_shared.events import PARTY_TYPES
from fundguard_shared.outbox import add_event
from fundguard_shared.pagination import Page, PageArgs, page_query

from .models import MESSAGING, SERVICE, Finding
from .runtime import runtime

SOURCES = ("flight_inspection", "complaint", "screening", "agency_referral", "other")


class FindingIn(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(1, 64))
    institution_name = fields.String(required=True, validate=validate.Length(1, 200))
    party_type = fields.String(load_default="entity", validate=validate.OneOf(PARTY_TYPES))
    violation_type = fields.String(required=True, validate=validate.OneOf(sorted(VIOLATION_TYPES)))
    amount = fields.Decimal(required=True, places=2, as_string=True,
                            metadata={"description": "元, 0 – 100,000,000,000"})
    description = fields.String(required=True, validate=validate.Length(1, 10000))
    source = fields.String(load_default="flight_inspection", validate=validate.OneOf(SOURCES))
    act_date = fields.Date(load_default=None, allow_none=True)
    department = fields.String(load_default=None, validate=validate.Length(1, 64))

    @validates("amount")
    def _amount_range(self, value, **_):
        # checked here, not with validate.Range: apispec would print the Decimal bounds as
        # strings, which is not valid OpenAPI for a string-encoded decimal
        if not value.is_finite() or not (0 <= value <= 10**11):
            raise ValidationError("金额须在 0 至 1000 亿元之间 / amount must be between 0 and 1e11")


class FindingOut(Schema):
    id = fields.String()
    institution_id = fields.String()
    institution_name = fields.String()
    party_type = fields.String()
    region = fields.String()
    department = fields.String()
    violation_type = fields.String()
    violation_label = fields.Function(lambda f: VIOLATION_TYPES[f.violation_type].label_zh)
    legal_basis = fields.String()
    amount = fields.Decimal(as_string=True, places=2)
    description = fields.String()
    source = fields.String()
    act_date = fields.Date(allow_none=True)
    recorded_by = fields.String()
    created_at = fields.DateTime()
    case_id = fields.String(allow_none=True)
    case_number = fields.String(allow_none=True)


class FindingList(Page):
    items = fields.List(fields.Nested(FindingOut))


# ---- rules ---------------------------------------------------------------------------------

def scoped(query, principal: Principal):
    """Scope filter: inspectors see their department, leaders their region."""
    if principal.role == "inspector":
        return query.where(Finding.region == principal.region,
                           Finding.department == principal.department)
    if principal.role == "leader":
        return query.where(Finding.region == principal.region)
    return query.where(False)


def record_finding(session: Session, data: dict, principal: Principal,
                   correlation_id: str, *, region: str | None = None,
                   department: str | None = None, evidence: list[dict] | None = None) -> Finding:
    """Record a finding and its ``finding.recorded`` event in the caller's transaction.

    ``region``/``department`` name the local department a finding is handed to (flight
    inspections, screening); by default it is the caller's own. ``evidence``: the files already
    gathered for it (``evidence.evidence_ref`` of each), listed with their SHA-256 in the event;
    files attached later travel as ``evidence.registered``.
    """
    if department is None:
        department = (principal.department if principal.role == "inspector"
                      else data.get("department"))
    if not department:
        raise ApiError(422, "department_required", "负责人录入线索时须指定承办科室",
                       "A leader recording a finding must name the department")
    region = region or principal.region
    vt = VIOLATION_TYPES[data["violation_type"]]
    finding = Finding(
        institution_id=data["institution_id"], institution_name=data["institution_name"],
        party_type=data["party_type"], region=region, department=department,
        violation_type=vt.key, legal_basis=vt.basis_zh, amount=data["amount"],
        description=data["description"], source=data["source"], act_date=data.get("act_date"),
        recorded_by=principal.sub)
    session.add(finding)
    session.flush()
    add_event(session, MESSAGING, "finding.recorded", {
        "finding_id": finding.id, "institution_id": finding.institution_id,
        "institution_name": finding.institution_name, "party_type": finding.party_type,
        "region": finding.region, "department": finding.department,
        "violation_type": finding.violation_type, "legal_basis": finding.legal_basis,
        "amount": finding.amount, "description": finding.description,
        "source": finding.source, "act_date": finding.act_date, "evidence": evidence or [],
    }, subject=f"finding:{finding.id}", producer=SERVICE, actor=principal.sub,
        correlation_id=correlation_id)
    return finding


# ---- HTTP ------------------------------------------------------------------------------------

blp = Blueprint("findings", __name__, url_prefix="/api/v1/findings",
                description="检查发现 / Findings")


@blp.route("")
class Findings(MethodView):
    @require("inspector", "leader")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, FindingList)
    def get(self, args):
        with runtime().sessions() as session:
            query = scoped(select(Finding), g.principal).order_by(Finding.created_at.desc())
            return page_query(session, query, args)

    @require("inspector", "leader")
    @blp.arguments(FindingIn)
    @blp.response(201, FindingOut)
    def post(self, data):
        with runtime().sessions() as session, session.begin():
            return record_finding(session, data, g.principal, g.request_id)


@blp.route("/<string:finding_id>")
class FindingById(MethodView):
    @require("inspector", "leader")
    @blp.response(200, FindingOut)
    def get(self, finding_id):
        with runtime().sessions() as session:
            finding = session.execute(
                scoped(select(Finding).where(Finding.id == finding_id), g.principal)
            ).scalar_one_or_none()
            if finding is None:
                raise ApiError(404)
            return finding
