"""Tolerant readers for events notify consumes whose schemas are not (yet) in ``shared/``.

The cases service registers ``sanction.decided`` and ``deadline.*`` in its own process
(``fundguard_cases.eventtypes``); notify may not import it. Until those schemas move to
``fundguard_shared.events`` (requested in the notify report), the notify *worker* registers
these readers at start, each asking only for the fields notify uses, ignoring the rest.
``install()`` never replaces a schema already registered (the shared one wins), and is not
called at import time, so a process that also loads the cases schemas (the test run) is not
disturbed.
"""
from __future__ import annotations

from marshmallow import Schema, fields

from fundguard_shared.events import PAYLOAD_SCHEMAS, register_payload


class SanctionDecidedReader(Schema):
    sanction_id = fields.String(required=True)
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    institution_id = fields.String(required=True)
    institution_name = fields.String(required=True)
    region = fields.String(required=True)
    department = fields.String(required=True)
    track = fields.String(required=True)
    kind = fields.String(required=True)
    article = fields.String(load_default="")
    amount = fields.Decimal(as_string=True, places=2, allow_none=True, load_default=None)
    months = fields.Integer(allow_none=True, load_default=None)
    years = fields.Integer(allow_none=True, load_default=None)
    decided_on = fields.Date(required=True)
    cause = fields.String(required=True)
    in_force = fields.Boolean(load_default=True)


class DeadlineReader(Schema):
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


READERS = {
    ("sanction.decided", 1): SanctionDecidedReader,
    ("deadline.due_soon", 1): DeadlineReader,
    ("deadline.overdue", 1): DeadlineReader,
}


def install() -> list[tuple[str, int]]:
    """Register the readers that nothing else registered; returns what it added."""
    added = []
    for key, schema in READERS.items():
        if key not in PAYLOAD_SCHEMAS:
            register_payload(key[0], key[1], schema)
            added.append(key)
    return added
