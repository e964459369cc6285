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


register_payload("sanction.decided", 1, SanctionDecidedV1)
register_payload("deadline.due_soon", 1, DeadlineV1)
register_payload("deadline.overdue", 1, DeadlineV1)
