"""Payload schemas of the events the cases service publishes beyond ``case.*``: decided sanctions
(for institution standing, the points ledger and notify) and deadline clocks (for notify's
reminders and escalation). Subjects are ``sanction:<case>`` and ``deadline:<case>``, each with its
own contiguous sequence, so consumers bound to ``sanction.#`` / ``deadline.#`` see no gaps.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .events import PARTY_TYPES, register_payload


class SanctionDecidedV1(Schema):
    """A sanction came into force (decision, simplified decision, agreement track, appeal change)."""
    sanction_id = fields.String(required=True)
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    institution_id = fields.String(required=True)
    institution_name = fields.String(required=True)
    party_type = fields.String(required=True, validate=validate.OneOf(PARTY_TYPES))
    region = fields.String(required=True)
    department = fields.String(required=True)
    track = fields.String(required=True, validate=validate.OneOf(("penalty", "order", "agreement", "referral")))
    kind = fields.String(required=True)
    article = fields.String(required=True)
    amount = fields.Decimal(as_string=True, places=2, allow_none=True, load_default=None)
    months = fields.Integer(allow_none=True, load_default=None)
    years = fields.Integer(allow_none=True, load_default=None)
    tier = fields.String(allow_none=True, load_default=None)
    decided_on = fields.Date(required=True)
    cause = fields.String(required=True, validate=validate.OneOf(
        ("decision", "simplified", "agreement", "appeal_changed", "appeal_annulled")))
    in_force = fields.Boolean(required=True)
    # added later, optional: the legal windows as this deployment's rules compute them
    # (cases rules/windows.py), quoted by notify's payment notice
    windows = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class DeadlineV1(Schema):
    deadline_id = fields.String(required=True)
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    kind = fields.String(required=True)
    label = fields.String(required=True)
    due_on = fields.Date(allow_none=True, load_default=None)
    status = fields.String(required=True)
    institution_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    # the area's legal windows in words (rules/windows.py), for reminders that quote them
    windows = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


register_payload("sanction.decided", 1, SanctionDecidedV1)
register_payload("deadline.due_soon", 1, DeadlineV1)
register_payload("deadline.overdue", 1, DeadlineV1)


# ---- staff points (驾照式记分) and institution standing: subjects ``person:<id>`` and
# ``standing:<institution>``, routing keys ``points.*`` / ``standing.*`` (notify binds both) ------

class PointsChangedV1(Schema):
    """A change in a person's points record. ``institution_id`` is the person's institution (its
    inbox receives the notice); the national identifier never leaves the cases service."""
    person_id = fields.String(required=True)
    institution_id = fields.String(allow_none=True, load_default=None)
    region = fields.String(allow_none=True, load_default=None)
    profession = fields.String(allow_none=True, load_default=None)
    case_id = fields.String(allow_none=True, load_default=None)
    case_number = fields.String(allow_none=True, load_default=None)
    sanction_id = fields.String(allow_none=True, load_default=None)
    proposal_id = fields.String(allow_none=True, load_default=None)
    objection_id = fields.String(allow_none=True, load_default=None)
    points = fields.Integer(allow_none=True, load_default=None)
    year = fields.Integer(allow_none=True, load_default=None)
    year_points = fields.Integer(allow_none=True, load_default=None)
    defence_due_on = fields.Date(allow_none=True, load_default=None)
    defence_working_days = fields.Integer(allow_none=True, load_default=None)
    objection_due_on = fields.Date(allow_none=True, load_default=None)
    outcome = fields.String(allow_none=True, load_default=None)
    activity = fields.String(allow_none=True, load_default=None)
    suspended_until = fields.Date(allow_none=True, load_default=None)
    ban_until = fields.Date(allow_none=True, load_default=None)
    effective_on = fields.Date(allow_none=True, load_default=None)
    reason = fields.String(allow_none=True, load_default=None)


class StandingChangedV1(Schema):
    """An institution's standing changed (agreement status, suspensions, ban or credit tier)."""
    institution_id = fields.String(required=True)
    institution_name = fields.String(required=True)
    region = fields.String(required=True)
    on = fields.Date(required=True)
    agreement_status = fields.String(required=True)
    agreement_status_label = fields.String(required=True)
    previous_status = fields.String(allow_none=True, load_default=None)
    credit_tier = fields.String(required=True)
    previous_tier = fields.String(allow_none=True, load_default=None)
    active_suspensions = fields.List(fields.String(), load_default=list)
    reapplication_banned_until = fields.Date(allow_none=True, load_default=None)
    cause = fields.String(required=True)
    case_id = fields.String(allow_none=True, load_default=None)
    case_number = fields.String(allow_none=True, load_default=None)


POINTS_EVENTS = ("points.proposed", "points.defence_filed", "points.defence_decided", "points.scored",
                 "points.objection_filed", "points.objection_decided", "points.restored", "points.reversed",
                 "points.suspension_started", "points.suspension_changed", "points.suspension_ended",
                 "points.terminated", "points.reinstated", "points.reregistered")
for _type in POINTS_EVENTS:
    register_payload(_type, 1, PointsChangedV1)
register_payload("standing.changed", 1, StandingChangedV1)


# ---- legal documents (执法文书): subject ``case:<id>`` like the case's own events, so notify's
# ``case.#`` binding receives it in order; the institution's inbox says a document awaits it ------

class CaseDocumentIssuedV1(Schema):
    """A document addressed to the institution was issued (not yet served: no clock runs)."""
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    document_id = fields.String(required=True)
    doc_type = fields.String(required=True)
    title = fields.String(required=True)
    number = fields.String(allow_none=True, load_default=None)
    institution_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    issued_on = fields.Date(required=True)


register_payload("case.document_issued", 1, CaseDocumentIssuedV1)
