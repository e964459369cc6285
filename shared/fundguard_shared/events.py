"""The event envelope and the payload schemas of every cross-service event.

A producer builds events with ``make_event`` (validated before they reach the outbox); a consumer
parses them with ``parse_event``, which raises ``EventRejected`` with a reason for anything it
cannot trust: not JSON, a bad envelope, an unknown type or version, a payload that does not match
its schema. The consumer sends rejected events to the dead-letter queue; it never crashes.

Personal data never travels in events: informant identities and staff identifiers stay in the
owning service (see the complaint and points events when they are added).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

PARTY_TYPES = ("entity", "individual")


class EventRejected(Exception):
    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Envelope(Schema):
    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]+(\.[a-z_]+)+$"))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=timezone.utc)
    producer = fields.String(required=True)
    correlation_id = fields.String(required=True, validate=validate.Length(max=128))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=128))
    sequence = fields.Integer(required=True, validate=validate.Range(min=1))
    actor = fields.String(required=True, validate=validate.Length(max=128))
    payload = fields.Dict(required=True)


# ---- payload schemas -------------------------------------------------------------------------

class EvidenceRef(Schema):
    """One evidence file as a fact: its id and SHA-256 in the inspection service's store."""
    evidence_id = fields.String(required=True)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    filename = fields.String(required=True)
    media_type = fields.String(required=True)
    size = fields.Integer(required=True, validate=validate.Range(min=0))
    added_at = fields.AwareDateTime(required=True, default_timezone=timezone.utc)


class FindingRecordedV1(Schema):
    finding_id = fields.String(required=True)
    institution_id = fields.String(required=True)
    institution_name = fields.String(required=True)
    party_type = fields.String(required=True, validate=validate.OneOf(PARTY_TYPES))
    region = fields.String(required=True)
    department = fields.String(required=True)
    violation_type = fields.String(required=True)
    legal_basis = fields.String(required=True)
    amount = fields.Decimal(required=True, as_string=True, places=2)
    description = fields.String(required=True)
    source = fields.String(required=True)
    act_date = fields.Date(load_default=None, allow_none=True)
    # added later, optional: events without it still parse (an empty list), older consumers ignore it
    evidence = fields.List(fields.Nested(EvidenceRef), load_default=list)


class CaseOpenedV1(Schema):
    """A case file was created from a clue (state: clue registered)."""
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    state = fields.String(required=True)
    source_event_id = fields.String(required=True)
    finding_id = fields.String(load_default=None, allow_none=True)
    institution_id = fields.String(required=True)
    institution_name = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    amount = fields.Decimal(required=True, as_string=True, places=2)
    workflow_version = fields.Integer(required=True)
    # added later, optional: the state's label from the workflow definition (notify shows it)
    state_label = fields.String(load_default=None, allow_none=True)


class CaseTransitionedV1(Schema):
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    trigger = fields.String(required=True)
    from_state = fields.String(required=True)
    to_state = fields.String(required=True)
    version = fields.Integer(required=True)
    reason = fields.String(load_default="", allow_none=True)
    institution_id = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    # added later, all optional (events already queued still parse; version stays 1):
    # state labels from the workflow definition, the legal windows as this deployment's rules
    # compute them (cases rules/windows.py: {"defence": "5 个工作日", ...}) and the due dates of
    # the clocks the step started
    from_state_label = fields.String(load_default=None, allow_none=True)
    to_state_label = fields.String(load_default=None, allow_none=True)
    windows = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    defence_due_on = fields.Date(load_default=None, allow_none=True)
    hearing_request_due_on = fields.Date(load_default=None, allow_none=True)
    hearing_on = fields.Date(load_default=None, allow_none=True)
    service_due_on = fields.Date(load_default=None, allow_none=True)
    payment_due_on = fields.Date(load_default=None, allow_none=True)


class NotificationCreatedV1(Schema):
    notification_id = fields.String(required=True)
    recipient_role = fields.String(required=True)
    region = fields.String(load_default=None, allow_none=True)
    department = fields.String(load_default=None, allow_none=True)
    institution_id = fields.String(load_default=None, allow_none=True)
    kind = fields.String(required=True)
    case_id = fields.String(load_default=None, allow_none=True)
    source_event_id = fields.String(required=True)


PAYLOAD_SCHEMAS: dict[tuple[str, int], type[Schema]] = {
    ("finding.recorded", 1): FindingRecordedV1,
    ("case.opened", 1): CaseOpenedV1,
    ("case.transitioned", 1): CaseTransitionedV1,
    ("notification.created", 1): NotificationCreatedV1,
}


def register_payload(event_type: str, version: int, schema: type[Schema]) -> None:
    """Add a payload schema (used by later event families). Re-registering must be identical."""
    key = (event_type, version)
    if key in PAYLOAD_SCHEMAS and PAYLOAD_SCHEMAS[key] is not schema:
        raise ValueError(f"payload schema {key} already registered")
    PAYLOAD_SCHEMAS[key] = schema


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    version: int
    occurred_at: datetime
    producer: str
    correlation_id: str
    subject: str
    sequence: int
    actor: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": self.type, "version": self.version,
            "occurred_at": self.occurred_at.isoformat(), "producer": self.producer,
            "correlation_id": self.correlation_id, "subject": self.subject,
            "sequence": self.sequence, "actor": self.actor, "payload": self.payload,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


def _payload_schema(event_type: str, version: int) -> Schema:
    schema = PAYLOAD_SCHEMAS.get((event_type, version))
    if schema is None:
        known = sorted(v for (t, v) in PAYLOAD_SCHEMAS if t == event_type)
        if known:
            raise EventRejected(f"unknown version {version} of {event_type} (known: {known})",
                                "unknown_version")
        raise EventRejected(f"unknown event type {event_type!r}", "unknown_type")
    return schema()


def make_event(event_type: str, payload: dict[str, Any], *, subject: str, sequence: int,
               producer: str, actor: str, correlation_id: str | None = None,
               version: int = 1) -> Event:
    """Build and validate an event. Invalid payloads raise ``ValueError`` in the producer."""
    schema = _payload_schema(event_type, version)
    dumped = schema.dump(payload)
    errors = schema.validate(dumped)
    if errors:
        raise ValueError(f"invalid payload for {event_type} v{version}: {errors}")
    return Event(
        id=str(uuid.uuid4()), type=event_type, version=version,
        occurred_at=datetime.now(timezone.utc), producer=producer,
        correlation_id=correlation_id or str(uuid.uuid4()), subject=subject,
        sequence=sequence, actor=actor, payload=dumped)


def parse_event(body: bytes | str | dict) -> Event:
    """Validate an incoming message; ``EventRejected`` says why it cannot be used."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise EventRejected("body is not UTF-8", "bad_encoding")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise EventRejected(f"body is not JSON: {exc}", "bad_json")
    if not isinstance(body, dict):
        raise EventRejected("body is not a JSON object", "bad_envelope")
    try:
        env = Envelope().load(body)
    except ValidationError as exc:
        raise EventRejected(f"invalid envelope: {exc.messages}", "bad_envelope")
    schema = _payload_schema(env["type"], env["version"])
    try:
        # loaded: Decimal amounts, dates; fields a newer producer added are ignored
        payload = schema.load(env["payload"], unknown=EXCLUDE)
    except ValidationError as exc:
        raise EventRejected(f"invalid payload for {env['type']} v{env['version']}: "
                            f"{exc.messages}", "bad_payload")
    return Event(id=str(env["id"]), type=env["type"], version=env["version"],
                 occurred_at=env["occurred_at"], producer=env["producer"],
                 correlation_id=env["correlation_id"], subject=env["subject"],
                 sequence=env["sequence"], actor=env["actor"], payload=payload)


# Event families of the individual services (each module registers its schemas on import).
from . import events_cases  # noqa: E402,F401
from . import events_inspection  # noqa: E402,F401
