"""Own notification preferences: e-mail address, e-mail on/off, quiet daily digest.

The in-app inbox is always on (it is the record of what the platform told whom). Saving also
records the caller's role and scope from the token: that is how an e-mail for "the leaders of
region 510100" finds its addresses. A user whose scope changes saves again to follow it.
"""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from fundguard_shared.auth import require
from fundguard_shared.outbox import utcnow

from .models import Preference
from .runtime import runtime
from .validation import NO_NUL

blp = Blueprint("preferences", __name__, url_prefix="/api/v1/preferences",
                description="通知设置 / Notification preferences (own)")


class PreferencesIn(Schema):
    email = fields.Email(allow_none=True, load_default=None,
                         validate=[validate.Length(max=254), NO_NUL])
    email_enabled = fields.Boolean(load_default=True)
    digest = fields.Boolean(load_default=False, metadata={
        "description": "每日汇总：一封汇总邮件代替逐条邮件 / one daily summary e-mail"})


class PreferencesOut(Schema):
    email = fields.String(allow_none=True)
    email_enabled = fields.Boolean()
    digest = fields.Boolean()
    inbox = fields.Boolean(metadata={"description": "always on"})
    role = fields.String()
    updated_at = fields.DateTime(allow_none=True)


def _out(p: Preference | None, role: str) -> dict:
    if p is None:
        return {"email": None, "email_enabled": True, "digest": False, "inbox": True,
                "role": role, "updated_at": None}
    return {"email": p.email, "email_enabled": p.email_enabled, "digest": p.digest,
            "inbox": True, "role": p.role, "updated_at": p.updated_at}


@blp.route("")
class Preferences(MethodView):
    @require()
    @blp.response(200, PreferencesOut)
    def get(self):
        with runtime().sessions() as session:
            return _out(session.get(Preference, g.principal.sub), g.principal.role)

    @require()
    @blp.arguments(PreferencesIn)
    @blp.response(200, PreferencesOut)
    def put(self, data):
        me = g.principal
        with runtime().sessions() as session, session.begin():
            p = session.get(Preference, me.sub)
            if p is None:
                p = Preference(user_sub=me.sub)
                session.add(p)
            p.role, p.region, p.department = me.role, me.region, me.department
            p.institution_id, p.display_name = me.institution_id, me.name
            p.email, p.email_enabled, p.digest = data["email"], data["email_enabled"], data["digest"]
            p.updated_at = utcnow()
            session.flush()
            return _out(p, me.role)
