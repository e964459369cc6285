"""Payload schemas of the events the inspection service adds (evidence preservation, complaints).

Imported at the end of ``events.py`` so every consumer can parse them. No personal data: an
informant's identity and contact never travel; notify learns only *that* a real-name informant
must be told by a date, and a handler (a person allowed to see the identity in the inspection
service) does the telling and records it there.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .events import EvidenceRef, register_payload

COMPLAINT_CHANNELS = ("web", "phone", "letter", "email", "in_person")
NOTICE_METHODS = ("phone", "sms", "letter", "email", "in_person", "web")


class EvidencePreservedV1(Schema):
    """先行登记保存 started: the department must decide within 7 working days (行政处罚法 art.56)."""
    preservation_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    institution_id = fields.String(required=True)
    institution_name = fields.String(required=True)
    started_on = fields.Date(required=True)
    decision_due = fields.Date(required=True)
    period_working_days = fields.Integer(required=True)
    legal_basis = fields.String(required=True)
    finding_id = fields.String(load_default=None, allow_none=True)


class EvidencePreservationDecidedV1(Schema):
    preservation_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    decision = fields.String(required=True)
    decided_on = fields.Date(required=True)
    decision_due = fields.Date(required=True)
    on_time = fields.Boolean(required=True)


class ComplaintReceivedV1(Schema):
    complaint_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(COMPLAINT_CHANNELS))
    real_name = fields.Boolean(required=True)
    institution_id = fields.String(required=True)
    received_on = fields.Date(required=True)
    acceptance_due = fields.Date(load_default=None, allow_none=True)


class ComplaintDecidedV1(Schema):
    """Acceptance decided. For a real-name report ``informant_notice_due`` is the last day to tell
    the informant (5 working days, 令第5号); null for anonymous reports."""
    complaint_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    accepted = fields.Boolean(required=True)
    decided_on = fields.Date(required=True)
    real_name = fields.Boolean(required=True)
    informant_notice_due = fields.Date(load_default=None, allow_none=True)
    finding_id = fields.String(load_default=None, allow_none=True)


class ComplaintInformantNotifiedV1(Schema):
    complaint_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    notified_on = fields.Date(required=True)
    due = fields.Date(required=True)
    on_time = fields.Boolean(required=True)
    method = fields.String(required=True, validate=validate.OneOf(NOTICE_METHODS))


class ComplaintRewardDecidedV1(Schema):
    complaint_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    amount = fields.Decimal(required=True, as_string=True, places=2)
    excluded = fields.List(fields.String(), required=True)
    notified_on = fields.Date(load_default=None, allow_none=True)
    claim_deadline = fields.Date(load_default=None, allow_none=True)


class ComplaintRewardClaimedV1(Schema):
    complaint_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    claimed_on = fields.Date(required=True)


class EvidenceRegisteredV1(EvidenceRef):
    """An evidence file was attached to a finding (subject ``finding:<id>``, after its
    ``finding.recorded``): the case opened from the finding lists it with its SHA-256."""
    finding_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)


INSPECTION_PAYLOADS = {
    ("evidence.registered", 1): EvidenceRegisteredV1,
    ("evidence.preserved", 1): EvidencePreservedV1,
    ("evidence.preservation_decided", 1): EvidencePreservationDecidedV1,
    ("complaint.received", 1): ComplaintReceivedV1,
    ("complaint.decided", 1): ComplaintDecidedV1,
    ("complaint.informant_notified", 1): ComplaintInformantNotifiedV1,
    ("complaint.reward_decided", 1): ComplaintRewardDecidedV1,
    ("complaint.reward_claimed", 1): ComplaintRewardClaimedV1,
}

for (_type, _version), _schema in INSPECTION_PAYLOADS.items():
    register_payload(_type, _version, _schema)
