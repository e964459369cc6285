"""HTTP resources of the points ledger and institution standing.

* ``GET|POST /api/v1/persons/check`` — may this person bill the fund on a date (any signed-in
  caller; POST takes the raw identifier, hashed here and never stored or logged).
* ``POST /api/v1/persons`` — register / move a person (一人一档).
* ``GET /api/v1/persons/<id>/points`` — ledger, year totals, restrictions.
* ``GET|POST /api/v1/persons/<id>/proposals`` — a proposed scoring, notified before it is entered;
  ``.../proposals/<pid>/defence|waiver`` (the institution for its staff, or a leader recording
  it) and ``.../proposals/<pid>/decision`` (leader): 陈述申辩, waiver, decision on the defence.
* ``POST /api/v1/persons/<id>/objections`` and ``.../objections/<oid>/decision`` — 复核.
* ``POST /api/v1/persons/<id>/restorations|reregistration`` — leader decisions.
* ``GET /api/v1/institutions/<id>/standing`` and ``/staff`` — institution standing, its staff.

Institutions (role ``institution``) see only themselves and their own staff (404 otherwise).
"""
from __future__ import annotations

from datetime import date

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import select

from fundguard_shared.auth import require
from fundguard_shared.errors import ApiError

from .. import clock
from ..deadlines import calendar_for
from ..models import Case, InstitutionStanding, Person
from ..runtime import runtime
from . import identity, ledger, procedure, standing
from .config import BANDS
from .models import PointsObjection, PointsProposal

pts = Blueprint("points", __name__, url_prefix="/api/v1", description="医保支付资格记分与机构信用 / Staff points and institution standing")

STAFF = ("inspector", "leader", "legal_reviewer", "panel_member", "admin")
READERS = STAFF + ("institution",)


def _raise(err: ledger.PointsError):
    raise ApiError(err.status, err.code, err.zh, err.en, **err.extra)


class CheckArgs(Schema):
    id_hash = fields.String(required=True, validate=validate.Regexp(identity.HASH_PATTERN))
    date = fields.Date(load_default=None)
    emergency = fields.Boolean(load_default=False)


class CheckIn(Schema):
    national_id = fields.String(required=True, load_only=True, validate=validate.Length(6, 64))
    date = fields.Date(load_default=None)
    emergency = fields.Boolean(load_default=False)


class CheckOut(Schema):
    may_bill = fields.Boolean()
    reason = fields.String()
    person_id = fields.String(allow_none=True)
    suspended_until = fields.String(allow_none=True)
    terminated = fields.Boolean()
    reregistration_from = fields.String(allow_none=True)
    emergency_exempt = fields.Boolean()
    date = fields.String()


class PersonIn(Schema):
    national_id = fields.String(required=True, load_only=True, validate=validate.Length(6, 64))
    profession = fields.String(required=True, validate=validate.OneOf(ledger.PROFESSIONS))
    institution_id = fields.String(required=True, validate=validate.Length(1, 64))
    region = fields.String(load_default=None, validate=validate.Length(max=32))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class PersonOut(Schema):
    id = fields.String()
    id_hash = fields.String()
    profession = fields.String()
    institution_id = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    created = fields.Boolean()


class ScoreIn(Schema):
    case_id = fields.String(required=True, validate=validate.Length(1, 36))
    sanction_id = fields.String(required=True, validate=validate.Length(1, 36))
    band = fields.String(required=True, validate=validate.OneOf(BANDS))
    responsibility = fields.String(required=True, validate=validate.Length(1, 16))
    points = fields.Integer(load_default=None, validate=validate.Range(1, 12))
    suspension_months = fields.Integer(load_default=None)
    reason = fields.String(required=True, validate=validate.Length(1, 5000))


class RestoreIn(Schema):
    activity = fields.String(required=True, validate=validate.Length(1, 32))
    reason = fields.String(load_default="", validate=validate.Length(max=5000))


class ReregisterIn(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=5000))


class EntryOut(Schema):
    seq = fields.Integer()
    kind = fields.String()
    year = fields.Integer()
    points = fields.Integer()
    effective_on = fields.Date()
    case_id = fields.String(allow_none=True)
    sanction_id = fields.String(allow_none=True)
    band = fields.String(allow_none=True)
    responsibility = fields.String(allow_none=True)
    suspension_months = fields.Integer(allow_none=True)
    activity = fields.String(allow_none=True)
    reverses_id = fields.Integer(allow_none=True)
    cause = fields.String(allow_none=True)
    institution_id = fields.String(allow_none=True)
    reason = fields.String()
    actor = fields.String()
    at = fields.DateTime()


class StatusOut(Schema):
    person_id = fields.String()
    institution_id = fields.String(allow_none=True)
    year = fields.Integer()
    year_points = fields.Integer()
    restored_this_year = fields.Integer()
    totals = fields.Dict()
    restrictions = fields.List(fields.Dict())
    check = fields.Nested(CheckOut)
    entries = fields.List(fields.Nested(EntryOut))


class DateArgs(Schema):
    date = fields.Date(load_default=None)


def _person(session, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise ApiError(404)
    p = g.principal
    if p.role == "institution" and person.institution_id != p.institution_id:
        raise ApiError(404)
    return person


def _status(session, person: Person, on: date) -> dict:
    return {**ledger.status(session, person, on), "institution_id": person.institution_id}


def _check(id_hash: str, on: date | None, emergency: bool) -> dict:
    """The hot path: a pooled DB-API connection and one prepared query (``ledger.check_raw``)."""
    on = on or clock.today()
    engine = runtime().engine
    raw = engine.raw_connection()
    try:
        result = ledger.check_raw(raw.driver_connection, engine.dialect.paramstyle, id_hash, on, emergency)
    finally:
        raw.close()
    result["date"] = on.isoformat()
    return result


_CHECK_ARGS = CheckArgs()
_CHECK_PARAMETERS = [
    {"in": "query", "name": "id_hash", "required": True,
     "schema": {"type": "string", "pattern": identity.HASH_PATTERN.pattern}},
    {"in": "query", "name": "date", "required": False, "schema": {"type": "string", "format": "date"}},
    {"in": "query", "name": "emergency", "required": False, "schema": {"type": "boolean", "default": False}},
]


def _check_query() -> dict:
    """The query of the check, loaded by the same schema and failing with the same 422 as
    ``@arguments`` would — without webargs' per-request machinery (the check is the hot path)."""
    try:
        return _CHECK_ARGS.load(request.args.to_dict(), unknown=EXCLUDE)
    except ValidationError as err:
        raise ApiError(422, errors={"query": err.messages}) from None


@pts.route("/persons/check")
class PersonCheck(MethodView):
    @require()
    @pts.doc(parameters=_CHECK_PARAMETERS)
    @pts.response(200, CheckOut)
    def get(self):
        """May the person bill the fund on this date? (id_hash = HMAC-SHA256 of the identifier)"""
        args = _check_query()
        return _check(args["id_hash"], args["date"], args["emergency"])

    @require()
    @pts.arguments(CheckIn())
    @pts.response(200, CheckOut)
    def post(self, body):
        """Same check with the raw identifier in the body: hashed here, never stored or logged."""
        try:
            id_hash = identity.hash_person_id(body["national_id"])
        except ValueError:
            raise ApiError(422, "invalid_national_id", "证件号码格式无效", "Invalid national identifier")
        return _check(id_hash, body["date"], body["emergency"])


@pts.route("/persons")
class Persons(MethodView):
    @require("inspector", "leader", "admin")
    @pts.arguments(PersonIn)
    @pts.response(200, PersonOut)
    def post(self, body):
        """Register a person, or move an existing one to another institution (points follow)."""
        try:
            with runtime().sessions() as session, session.begin():
                person, created = ledger.register(session, body["national_id"], body["profession"],
                                                  body["institution_id"], body["region"], g.principal.sub,
                                                  clock.today(), body["reason"])
                out = {c: getattr(person, c) for c in ("id", "id_hash", "profession", "institution_id", "region")}
        except ledger.PointsError as err:
            _raise(err)
        return {**out, "created": created}


@pts.route("/persons/<string:person_id>/points")
class PersonPoints(MethodView):
    @require(*READERS)
    @pts.arguments(DateArgs, location="query")
    @pts.response(200, StatusOut)
    def get(self, args, person_id):
        with runtime().sessions() as session:
            return _status(session, _person(session, person_id), args["date"] or clock.today())


def _decide(person_id: str, fn):
    try:
        with runtime().sessions() as session, session.begin():
            person = _person(session, person_id)
            fn(session, person)
            result = _status(session, person, clock.today())
    except ledger.PointsError as err:
        _raise(err)
    return result


class ProposalOut(Schema):
    id = fields.String()
    person_id = fields.String()
    case_id = fields.String()
    case_number = fields.String()
    sanction_id = fields.String()
    band = fields.String()
    responsibility = fields.String()
    points = fields.Integer()
    suspension_months = fields.Integer(allow_none=True)
    reason = fields.String()
    institution_id = fields.String()
    status = fields.String()
    proposed_by = fields.String()
    proposed_on = fields.Date()
    defence_working_days = fields.Integer()
    defence_due_on = fields.Date(allow_none=True)
    due_note = fields.String()
    waived = fields.Boolean()
    defence = fields.String(allow_none=True)
    defence_on = fields.Date(allow_none=True)
    outcome = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decided_on = fields.Date(allow_none=True)
    scored_points = fields.Integer(allow_none=True)
    scored_on = fields.Date(allow_none=True)


class ObjectionOut(Schema):
    id = fields.String()
    person_id = fields.String()
    entry_seq = fields.Integer()
    grounds = fields.String()
    filed_by = fields.String()
    filed_on = fields.Date()
    window_ends_on = fields.Date(allow_none=True)
    status = fields.String()
    new_points = fields.Integer(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decided_on = fields.Date(allow_none=True)


class ProceedingsOut(Schema):
    proposals = fields.List(fields.Nested(ProposalOut))
    objections = fields.List(fields.Nested(ObjectionOut))


class DefenceIn(Schema):
    statement = fields.String(required=True, validate=validate.Length(1, 10000))


class WaiverIn(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class DecisionIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(procedure.OUTCOMES))
    points = fields.Integer(load_default=None, validate=validate.Range(1, 12))
    responsibility = fields.String(load_default=None, validate=validate.Length(1, 16))
    suspension_months = fields.Integer(load_default=None, validate=validate.Range(0, 120))
    reason = fields.String(required=True, validate=validate.Length(1, 5000))


class ObjectionIn(Schema):
    entry_seq = fields.Integer(required=True, validate=validate.Range(1, 1_000_000))
    grounds = fields.String(required=True, validate=validate.Length(1, 10000))


class ObjectionDecisionIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(procedure.OBJECTION_OUTCOMES))
    points = fields.Integer(load_default=None, validate=validate.Range(1, 12))
    reason = fields.String(required=True, validate=validate.Length(1, 5000))


def _row(obj, schema) -> dict:
    return {name: getattr(obj, name) for name in schema._declared_fields}


def _proceed(person_id: str, fn, schema):
    """One decision in one transaction: load the person (scoped), run ``fn``, return its row."""
    try:
        with runtime().sessions() as session, session.begin():
            person = _person(session, person_id)
            out = _row(fn(session, person), schema)
    except ledger.PointsError as err:
        _raise(err)
    return out


def _proposal(session, person: Person, proposal_id: str, leader: bool = False) -> PointsProposal:
    p = session.get(PointsProposal, proposal_id)
    if p is None or p.person_id != person.id or (leader and p.region != g.principal.region):
        raise ApiError(404)
    return p


def _objection(session, person: Person, objection_id: str) -> PointsObjection:
    o = session.get(PointsObjection, objection_id)
    if o is None or o.person_id != person.id:
        raise ApiError(404)
    return o


@pts.route("/persons/<string:person_id>/proposals")
class PersonProposals(MethodView):
    @require(*READERS)
    @pts.response(200, ProceedingsOut)
    def get(self, person_id):
        """Proposed scorings (告知、陈述申辩) and objections (复核) of this person."""
        with runtime().sessions() as session:
            person = _person(session, person_id)
            proposals = session.execute(select(PointsProposal).where(PointsProposal.person_id == person.id)
                                        .order_by(PointsProposal.created_at)).scalars().all()
            objections = session.execute(select(PointsObjection).where(PointsObjection.person_id == person.id)
                                         .order_by(PointsObjection.created_at)).scalars().all()
            return {"proposals": [_row(p, ProposalOut) for p in proposals],
                    "objections": [_row(o, ObjectionOut) for o in objections]}

    @require("leader")
    @pts.arguments(ScoreIn)
    @pts.response(201, ProposalOut)
    def post(self, body, person_id):
        """Propose a scoring after a decided sanction on the case (in the leader's region): the
        person is notified with the points, reasons and defence window; nothing is entered yet."""
        def run(session, person):
            case = session.execute(select(Case).where(Case.id == body["case_id"],
                                                      Case.region == g.principal.region)).scalar_one_or_none()
            if case is None:
                raise ApiError(404)
            return procedure.propose(session, person, case, sanction_id=body["sanction_id"], band=body["band"],
                                     responsibility=body["responsibility"], points=body["points"],
                                     suspension_months=body["suspension_months"], on=clock.today(),
                                     actor=g.principal.sub, reason=body["reason"], cal=calendar_for(session))
        return _proceed(person_id, run, ProposalOut)


@pts.route("/persons/<string:person_id>/proposals/<string:proposal_id>/defence")
class ProposalDefence(MethodView):
    @require("institution", "leader")
    @pts.arguments(DefenceIn)
    @pts.response(200, ProposalOut)
    def post(self, body, person_id, proposal_id):
        """陈述申辩 within the window (the institution for its staff member, or a leader recording it)."""
        return _proceed(person_id, lambda s, p: procedure.file_defence(
            s, _proposal(s, p, proposal_id, leader=g.principal.role == "leader"), p, statement=body["statement"],
            on=clock.today(), actor=g.principal.sub), ProposalOut)


@pts.route("/persons/<string:person_id>/proposals/<string:proposal_id>/waiver")
class ProposalWaiver(MethodView):
    @require("institution", "leader")
    @pts.arguments(WaiverIn)
    @pts.response(200, ProposalOut)
    def post(self, body, person_id, proposal_id):
        """The person expressly waives the defence: the points are entered now."""
        return _proceed(person_id, lambda s, p: procedure.waive(
            s, _proposal(s, p, proposal_id, leader=g.principal.role == "leader"), p, on=clock.today(),
            actor=g.principal.sub, reason=body["reason"]), ProposalOut)


@pts.route("/persons/<string:person_id>/proposals/<string:proposal_id>/decision")
class ProposalDecision(MethodView):
    @require("leader")
    @pts.arguments(DecisionIn)
    @pts.response(200, ProposalOut)
    def post(self, body, person_id, proposal_id):
        """Decide on the defence: uphold, reduce (never more points) or drop."""
        return _proceed(person_id, lambda s, p: procedure.decide(
            s, _proposal(s, p, proposal_id, leader=True), p, outcome=body["outcome"], points=body["points"],
            responsibility=body["responsibility"], suspension_months=body["suspension_months"], on=clock.today(),
            actor=g.principal.sub, reason=body["reason"]), ProposalOut)


@pts.route("/persons/<string:person_id>/objections")
class PersonObjections(MethodView):
    @require("institution", "leader")
    @pts.arguments(ObjectionIn)
    @pts.response(201, ObjectionOut)
    def post(self, body, person_id):
        """复核: object to a score (by its ledger seq) within the configured window."""
        def run(session, person):
            if g.principal.role == "leader":  # a leader records it for a score of the own region
                region = session.execute(select(ledger.PointsEntry.region).where(
                    ledger.PointsEntry.person_id == person.id,
                    ledger.PointsEntry.seq == body["entry_seq"])).scalar_one_or_none()
                if region != g.principal.region:
                    raise ApiError(404)
            return procedure.file_objection(session, person, entry_seq=body["entry_seq"], grounds=body["grounds"],
                                            on=clock.today(), actor=g.principal.sub, cal=calendar_for(session))
        return _proceed(person_id, run, ObjectionOut)


@pts.route("/persons/<string:person_id>/objections/<string:objection_id>/decision")
class ObjectionDecision(MethodView):
    @require("leader")
    @pts.arguments(ObjectionDecisionIn)
    @pts.response(200, ObjectionOut)
    def post(self, body, person_id, objection_id):
        """Decide the objection: reject, annul (points removed) or change (fewer points)."""
        def run(session, person):
            obj = _objection(session, person, objection_id)
            entry = session.execute(select(ledger.PointsEntry.region).where(
                ledger.PointsEntry.id == obj.entry_id)).scalar_one_or_none()
            if entry != g.principal.region:
                raise ApiError(404)
            return procedure.decide_objection(session, obj, person, outcome=body["outcome"], points=body["points"],
                                              on=clock.today(), actor=g.principal.sub, reason=body["reason"])
        return _proceed(person_id, run, ObjectionOut)


@pts.route("/persons/<string:person_id>/restorations")
class PersonRestorations(MethodView):
    @require("leader")
    @pts.arguments(RestoreIn)
    @pts.response(201, StatusOut)
    def post(self, body, person_id):
        """修复: a configured activity reduces this year's points within the yearly cap."""
        return _decide(person_id, lambda s, p: ledger.restore(s, p, activity=body["activity"], on=clock.today(),
                                                              actor=g.principal.sub, reason=body["reason"]))


@pts.route("/persons/<string:person_id>/reregistration")
class PersonReregistration(MethodView):
    @require("leader")
    @pts.arguments(ReregisterIn)
    @pts.response(201, StatusOut)
    def post(self, body, person_id):
        """Re-registration after termination, once the ban has run out."""
        return _decide(person_id, lambda s, p: ledger.reregister(s, p, on=clock.today(), actor=g.principal.sub,
                                                                 reason=body["reason"]))


def _institution_visible(institution_id: str, region: str | None) -> bool:
    p = g.principal
    if p.role == "institution":
        return p.institution_id == institution_id
    if p.role == "admin":
        return True
    return region is not None and region == p.region


def _institution_region(session, institution_id: str) -> str | None:
    """Where an institution belongs: its standing record, else the region of its cases."""
    region = session.execute(select(InstitutionStanding.region).where(
        InstitutionStanding.institution_id == institution_id)).scalar_one_or_none()
    if region is None:
        region = session.execute(select(Case.region).where(
            Case.institution_id == institution_id).limit(1)).scalar_one_or_none()
    return region


@pts.route("/institutions/<string:institution_id>/standing")
class InstitutionStandingView(MethodView):
    @require(*READERS)
    @pts.arguments(DateArgs, location="query")
    @pts.response(200)
    def get(self, args, institution_id):
        """Agreement status (签约/中止/解除), credit tier (信用等级), active suspensions, re-application
        ban, sanction history."""
        with runtime().sessions() as session:
            result = standing.standing(session, institution_id, args["date"] or clock.today())
        if result is None or not _institution_visible(institution_id, result["region"]):
            raise ApiError(404)
        return result


@pts.route("/institutions/<string:institution_id>/staff")
class InstitutionStaff(MethodView):
    @require(*READERS)
    @pts.arguments(DateArgs, location="query")
    @pts.response(200)
    def get(self, args, institution_id):
        """The institution's current staff with this year's points and their check."""
        on = args["date"] or clock.today()
        with runtime().sessions() as session:
            if not _institution_visible(institution_id, _institution_region(session, institution_id)):
                raise ApiError(404)
            people = session.execute(select(Person).where(Person.institution_id == institution_id)
                                     .order_by(Person.registered_at)).scalars().all()
            out = []
            for person in people:
                s = ledger.status(session, person, on)
                out.append({"person_id": person.id, "profession": person.profession, "year_points": s["year_points"],
                            "check": s["check"]})
        return out
