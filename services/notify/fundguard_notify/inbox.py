"""Who is told what: event -> inbox entries (rules), and the inbox resource (thin views)."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal, require
from fundguard_shared.errors import ApiError
from fundguard_shared.events import Event
from fundguard_shared.outbox import add_event
from fundguard_shared.pagination import PageArgs, page_query

from .models import MESSAGING, SERVICE, Notification, NotificationRead
from .runtime import runtime

STATE_LABELS = {  # what users read; the cases service owns the states themselves
    "clue_registered": "线索登记", "clue_verifying": "线索核查", "not_opened": "不予立案",
    "opened": "已立案",
}


def recipients_for(event: Event) -> list[dict]:
    """The rule: which roles in which scope hear about this event, with what text."""
    p = event.payload
    number = p.get("case_number", "")
    if event.type == "case.opened":
        text = f"新线索 {number}：{p['institution_name']}，涉及金额 {p['amount']} 元，请安排核查。"
        return [
            {"role": "leader", "region": p["region"], "kind": "clue_registered",
             "title": f"新线索登记 {number}", "body": text},
            {"role": "inspector", "region": p["region"], "department": p["department"],
             "kind": "clue_registered", "title": f"新线索登记 {number}", "body": text},
        ]
    if event.type == "case.transitioned":
        to_label = STATE_LABELS.get(p["to_state"], p["to_state"])
        text = f"案件 {number} 状态变更为「{to_label}」。" + (f"理由：{p['reason']}" if p.get("reason") else "")
        out = [{"role": "inspector", "region": p["region"], "department": p["department"],
                "kind": f"case_{p['to_state']}", "title": f"案件 {number}：{to_label}",
                "body": text}]
        if p["to_state"] in ("opened", "not_opened"):
            out.append({"role": "leader", "region": p["region"], "kind": f"case_{p['to_state']}",
                        "title": f"案件 {number}：{to_label}", "body": text})
        return out
    return []


def deliver(session: Session, event: Event) -> list[Notification]:
    created = []
    for r in recipients_for(event):
        n = Notification(recipient_role=r["role"], region=r.get("region"),
                         department=r.get("department"), institution_id=r.get("institution_id"),
                         kind=r["kind"], title=r["title"], body=r["body"],
                         case_id=event.payload.get("case_id"), source_event_id=event.id)
        session.add(n)
        session.flush()
        add_event(session, MESSAGING, "notification.created", {
            "notification_id": n.id, "recipient_role": n.recipient_role, "region": n.region,
            "department": n.department, "institution_id": n.institution_id, "kind": n.kind,
            "case_id": n.case_id, "source_event_id": event.id,
        }, subject=f"notification:{n.id}", producer=SERVICE, actor="system",
            correlation_id=event.correlation_id)
        created.append(n)
    return created


def scoped(query, principal: Principal):
    q = query.where(Notification.recipient_role == principal.role)
    if principal.role == "institution":
        return q.where(Notification.institution_id == principal.institution_id)
    if principal.role == "admin":
        return q
    q = q.where(Notification.region == principal.region)
    if principal.role == "inspector":
        q = q.where((Notification.department.is_(None)) |
                    (Notification.department == principal.department))
    return q


class NotificationOut(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    case_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read = fields.Boolean()


class Inbox(Schema):
    items = fields.List(fields.Nested(NotificationOut))
    total = fields.Integer()
    unread = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


blp = Blueprint("inbox", __name__, url_prefix="/api/v1/inbox", description="站内信 / Inbox")


@blp.route("")
class InboxResource(MethodView):
    @require()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, Inbox)
    def get(self, args):
        principal = g.principal
        read = exists().where(and_(NotificationRead.notification_id == Notification.id,
                                   NotificationRead.user_sub == principal.sub))
        with runtime().sessions() as session:
            query = scoped(select(Notification), principal).order_by(
                Notification.created_at.desc())
            result = page_query(session, query, args)
            ids = [n.id for n in result["items"]]
            read_ids = set(session.execute(select(NotificationRead.notification_id).where(
                NotificationRead.user_sub == principal.sub,
                NotificationRead.notification_id.in_(ids))).scalars()) if ids else set()
            result["items"] = [{**{c: getattr(n, c) for c in
                                   ("id", "kind", "title", "body", "case_id", "created_at")},
                                "read": n.id in read_ids} for n in result["items"]]
            from sqlalchemy import func
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
                Notification.id == notification_id), g.principal)).scalar_one_or_none()
            if n is None:
                raise ApiError(404)
            if session.get(NotificationRead, (n.id, g.principal.sub)) is None:
                session.add(NotificationRead(notification_id=n.id, user_sub=g.principal.sub))
