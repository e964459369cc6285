"""The delivery log (per notice, channel, recipient, with every attempt) and the dead-letter
list an operator replays. Admin sees everything; an institution sees its own webhook
deliveries; nobody else sees the log."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from fundguard_shared.auth import Principal, require
from fundguard_shared.errors import ApiError
from fundguard_shared.pagination import Page, PageArgs, page_query

from .delivery import REPLAYABLE, replay
from .models import DELIVERY_STATUSES, Delivery, DeliveryAttempt
from .runtime import notify_config, runtime
from .validation import NO_NUL, object_id

blp = Blueprint("deliveries", __name__, url_prefix="/api/v1/deliveries",
                description="投递记录与死信 / Delivery log and dead letters")

CHANNELS = ("inbox", "email", "webhook")


def scoped(query, principal: Principal):
    if principal.role == "admin":
        return query
    return query.where(Delivery.channel == "webhook",
                       Delivery.institution_id == principal.institution_id)


class DeliveryArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    notification_id = fields.String(validate=[validate.Length(max=36), NO_NUL])
    kind = fields.String(validate=[validate.Length(max=64), NO_NUL])


class AttemptOut(Schema):
    number = fields.Integer()
    started_at = fields.DateTime()
    finished_at = fields.DateTime()
    outcome = fields.String()
    response_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


class DeliveryOut(Schema):
    id = fields.String()
    notification_id = fields.String(allow_none=True)
    channel = fields.String()
    recipient = fields.String()
    address = fields.String(allow_none=True)
    institution_id = fields.String(allow_none=True)
    kind = fields.String()
    subject = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    replays = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    digest_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class DeliveryDetail(DeliveryOut):
    attempt_log = fields.List(fields.Nested(AttemptOut))


class DeliveryPage(Page):
    items = fields.List(fields.Nested(DeliveryOut))


def _list(args, base):
    q = scoped(base, g.principal)
    for name in ("status", "channel", "notification_id", "kind"):
        if args.get(name):
            q = q.where(getattr(Delivery, name) == args[name])
    with runtime().sessions() as session:
        return page_query(session, q.order_by(Delivery.created_at.desc(), Delivery.id), args)


@blp.route("")
class Deliveries(MethodView):
    @require("admin", "institution")
    @blp.arguments(DeliveryArgs, location="query")
    @blp.response(200, DeliveryPage)
    def get(self, args):
        return _list(args, select(Delivery))


@blp.route("/dead-letters")
class DeadLetters(MethodView):
    @require("admin")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DeliveryPage)
    def get(self, args):
        """Deliveries that gave up (retries exhausted), for an operator to replay."""
        return _list(args, select(Delivery).where(Delivery.status == "dead"))


def attempts_of(session, delivery_id: str) -> list[DeliveryAttempt]:
    return list(session.execute(select(DeliveryAttempt).where(
        DeliveryAttempt.delivery_id == delivery_id).order_by(
        DeliveryAttempt.started_at, DeliveryAttempt.finished_at)).scalars())


@blp.route("/<string:delivery_id>")
class DeliveryResource(MethodView):
    @require("admin", "institution")
    @blp.response(200, DeliveryDetail)
    def get(self, delivery_id):
        with runtime().sessions() as session:
            query = select(Delivery).where(Delivery.id == object_id(delivery_id))
            d = session.execute(scoped(query, g.principal)).scalar_one_or_none()
            if d is None:
                raise ApiError(404)
            return {**{c.key: getattr(d, c.key) for c in Delivery.__table__.columns},
                    "attempt_log": attempts_of(session, d.id)}


@blp.route("/<string:delivery_id>/replay")
class Replay(MethodView):
    @require("admin")
    @blp.response(200, DeliveryOut)
    def post(self, delivery_id):
        """Send a dead / failed / uncertain / skipped delivery again (same delivery id)."""
        with runtime().sessions() as session, session.begin():
            try:
                return replay(session, object_id(delivery_id), notify_config())
            except LookupError:
                raise ApiError(404)
            except ValueError as exc:
                raise ApiError(409, "not_replayable",
                               f"当前状态「{exc}」的投递不能重发（可重发：{'、'.join(REPLAYABLE)}）",
                               f"A delivery in status {exc!r} cannot be replayed",
                               replayable=list(REPLAYABLE))
