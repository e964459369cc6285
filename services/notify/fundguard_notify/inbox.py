"""The inbox resource (thin views). Who gets which entry is decided in ``rules.py`` /
``notices.py``; here a user sees the entries of their role and scope, plus those addressed to
them personally."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import and_, exists, func, or_, select

from fundguard_shared.auth import Principal, require
from fundguard_shared.errors import ApiError
from fundguard_shared.pagination import Page, PageArgs, page_query

from .models import Notification, NotificationRead
from .runtime import runtime
from .validation import object_id


def scoped(query, principal: Principal):
    """Entries this principal may see: its role, its scope, and either addressed to the whole
    scope or to this user."""
    q = query.where(Notification.recipient_role == principal.role,
                    or_(Notification.recipient_user.is_(None),
                        Notification.recipient_user == principal.sub))
    if principal.role == "institution":
        return q.where(Notification.institution_id == principal.institution_id)
    if principal.role == "admin":
        return q
    q = q.where(Notification.region == principal.region)
    if principal.role == "inspector":
        q = q.where((Notification.department.is_(None)) |
                    (Notification.department == principal.department))
    return q


class InboxArgs(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "only unread entries"})


class NotificationOut(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    case_id = fields.String(allow_none=True)
    personal = fields.Boolean(metadata={"description": "addressed to this user only"})
    created_at = fields.DateTime()
    read = fields.Boolean()


class Inbox(Page):
    items = fields.List(fields.Nested(NotificationOut))
    unread = fields.Integer()


blp = Blueprint("inbox", __name__, url_prefix="/api/v1/inbox", description="站内信 / Inbox")


@blp.route("")
class InboxResource(MethodView):
    @require()
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, Inbox)
    def get(self, args):
        principal = g.principal
        read = exists().where(and_(NotificationRead.notification_id == Notification.id,
                                   NotificationRead.user_sub == principal.sub))
        with runtime().sessions() as session:
            query = scoped(select(Notification), principal)
            if args.get("unread"):
                query = query.where(~read)
            result = page_query(session, query.order_by(Notification.created_at.desc(),
                                                        Notification.id), args)
            ids = [n.id for n in result["items"]]
            read_ids = set(session.execute(select(NotificationRead.notification_id).where(
                NotificationRead.user_sub == principal.sub,
                NotificationRead.notification_id.in_(ids))).scalars()) if ids else set()
            result["items"] = [{**{c: getattr(n, c) for c in
                                   ("id", "kind", "title", "body", "case_id", "created_at")},
                                "personal": n.recipient_user is not None,
                                "read": n.id in read_ids} for n in result["items"]]
            result["unread"] = session.execute(select(func.count()).select_from(
                scoped(select(Notification.id), principal).where(~read).subquery())).scalar_one()
            return result


@blp.route("/<string:notification_id>/read")
class MarkRead(MethodView):
    @require()
    @blp.response(204)
    def post(self, notification_id):
        with runtime().sessions() as session, session.begin():
            n = session.execute(scoped(select(Notification).where(
                Notification.id == object_id(notification_id)), g.principal)).scalar_one_or_none()
            if n is None:
                raise ApiError(404)
            if session.get(NotificationRead, (n.id, g.principal.sub)) is None:
                session.add(NotificationRead(notification_id=n.id, user_sub=g.principal.sub))
