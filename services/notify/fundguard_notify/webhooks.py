"""Webhook endpoints of institutions' systems (admin-managed).

The signing secret is generated here and shown once (on creation and on rotation); it is never
returned again, and is stored Fernet-encrypted (``secretbox``; FUNDGUARD_NOTIFY_SECRET_KEY). Removing an endpoint deactivates it: its delivery log stays readable.
"""
from __future__ import annotations

import secrets

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from fundguard_shared.auth import require
from fundguard_shared.errors import ApiError
from fundguard_shared.outbox import utcnow
from fundguard_shared.pagination import Page, PageArgs, page_query

from .channels.webhook import check_url
from .models import WebhookEndpoint
from .runtime import notify_config, runtime
from .validation import NO_NUL, object_id

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks",
                description="机构系统回调地址 / Institutions' webhook endpoints (admin)")


def _check_url(value: str) -> None:
    problem = check_url(value, notify_config().webhook_require_https)
    if problem:
        raise ValidationError(problem)


class EndpointIn(Schema):
    institution_id = fields.String(required=True,
                                   validate=[validate.Length(min=1, max=64), NO_NUL])
    url = fields.String(required=True, validate=[validate.Length(max=500), NO_NUL, _check_url],
                        metadata={"format": "uri", "example": "https://his.example.cn/fundguard"})
    description = fields.String(load_default="", validate=[validate.Length(max=300), NO_NUL])
    kinds = fields.List(fields.String(validate=[validate.Length(min=1, max=64), NO_NUL]),
                        load_default=None, allow_none=True,
                        validate=validate.Length(max=100),
                        metadata={"description": "notice kinds to send; null = all"})
    active = fields.Boolean(load_default=True)


class EndpointPatch(Schema):
    url = fields.String(validate=[validate.Length(max=500), NO_NUL, _check_url],
                        metadata={"format": "uri"})
    description = fields.String(validate=[validate.Length(max=300), NO_NUL])
    kinds = fields.List(fields.String(validate=[validate.Length(min=1, max=64), NO_NUL]),
                        allow_none=True,
                        validate=validate.Length(max=100))
    active = fields.Boolean()


class EndpointOut(Schema):
    id = fields.String()
    institution_id = fields.String()
    url = fields.String()
    description = fields.String()
    kinds = fields.List(fields.String(), allow_none=True)
    active = fields.Boolean()
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class EndpointWithSecret(EndpointOut):
    secret = fields.String(metadata={"description": "shown once; sign check: HMAC-SHA256"})


class EndpointPage(Page):
    items = fields.List(fields.Nested(EndpointOut))


class EndpointArgs(PageArgs):
    institution_id = fields.String(validate=[validate.Length(max=64), NO_NUL])


def _get(session, endpoint_id: str) -> WebhookEndpoint:
    ep = session.get(WebhookEndpoint, object_id(endpoint_id))
    if ep is None:
        raise ApiError(404)
    return ep


@blp.route("")
class Endpoints(MethodView):
    @require("admin")
    @blp.arguments(EndpointArgs, location="query")
    @blp.response(200, EndpointPage)
    def get(self, args):
        q = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        if args.get("institution_id"):
            q = q.where(WebhookEndpoint.institution_id == args["institution_id"])
        with runtime().sessions() as session:
            return page_query(session, q, args)

    @require("admin")
    @blp.arguments(EndpointIn)
    @blp.response(201, EndpointWithSecret)
    def post(self, data):
        with runtime().sessions() as session, session.begin():
            ep = WebhookEndpoint(**data, secret=secrets.token_urlsafe(32),
                                 created_by=g.principal.sub)
            session.add(ep)
            session.flush()
            current_app.logger.info("webhook endpoint %s created for %s", ep.id,
                                    ep.institution_id)
            return ep


@blp.route("/<string:endpoint_id>")
class Endpoint(MethodView):
    @require("admin")
    @blp.response(200, EndpointOut)
    def get(self, endpoint_id):
        with runtime().sessions() as session:
            return _get(session, endpoint_id)

    @require("admin")
    @blp.arguments(EndpointPatch)
    @blp.response(200, EndpointOut)
    def patch(self, data, endpoint_id):
        with runtime().sessions() as session, session.begin():
            ep = _get(session, endpoint_id)
            for key, value in data.items():
                setattr(ep, key, value)
            ep.updated_at = utcnow()
            return ep

    @require("admin")
    @blp.response(204)
    def delete(self, endpoint_id):
        with runtime().sessions() as session, session.begin():
            ep = _get(session, endpoint_id)
            ep.active, ep.updated_at = False, utcnow()


@blp.route("/<string:endpoint_id>/rotate-secret")
class RotateSecret(MethodView):
    @require("admin")
    @blp.response(200, EndpointWithSecret)
    def post(self, endpoint_id):
        with runtime().sessions() as session, session.begin():
            ep = _get(session, endpoint_id)
            ep.secret, ep.updated_at = secrets.token_urlsafe(32), utcnow()
            return ep
