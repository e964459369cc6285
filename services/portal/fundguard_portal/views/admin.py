"""User management (admin only): roles, scopes, passwords, unlock, deactivate."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from fundguard_shared.auth import ROLES

from .. import users
from ..bff import ServiceError
from ..models import User, utcnow
from .common import backend, page, portal

bp = Blueprint("admin", __name__, url_prefix="/admin")

FIELDS = ("username", "display_name", "role", "region", "department", "institution_id")


@bp.get("/users", endpoint="users")
@page("admin")
def list_users():
    with portal().sessions() as s:
        rows = s.execute(select(User).order_by(User.role, User.username)).scalars().all()
    return render_template("admin_users.html", users=rows, now=utcnow())


@bp.get("/users/new")
@page("admin")
def user_new():
    return render_template("admin_user_form.html", form={"role": "inspector"}, user=None,
                           roles=ROLES)


@bp.post("/users/new")
@page("admin")
def user_create():
    form = {k: request.form.get(k, "") for k in FIELDS}
    try:
        with portal().sessions() as s, s.begin():
            user = users.create_user(s, password=request.form.get("password", ""), **form)
            name = user.username
    except users.UserError as err:
        return render_template("admin_user_form.html", form=form, user=None, roles=ROLES,
                               error=str(err)), 422
    flash(f"已创建用户「{name}」", "success")
    return redirect(url_for("admin.users"))


def _load(s, user_id: str) -> User:
    user = s.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users/<user_id>")
@page("admin")
def user_edit(user_id: str):
    with portal().sessions() as s:
        user = _load(s, user_id)
        form = {k: getattr(user, k) or "" for k in FIELDS} | {"active": user.active}
    return render_template("admin_user_form.html", form=form, user=user, roles=ROLES,
                           locked=user.locked(utcnow()))


@bp.post("/users/<user_id>")
@page("admin")
def user_update(user_id: str):
    form = {k: request.form.get(k, "") for k in FIELDS} | {"active": bool(request.form.get("active"))}
    rt = portal()
    if request.form.get("unlock"):
        with rt.sessions() as s, s.begin():
            user = _load(s, user_id)
            users.unlock(s, user)
            name = user.username
        flash(f"已解除「{name}」的锁定", "success")
        return redirect(url_for("admin.user_edit", user_id=user_id))
    try:
        with rt.sessions() as s, s.begin():
            user = _load(s, user_id)
            name = user.username
            users.update_user(s, user, role=form["role"], display_name=form["display_name"],
                              region=form["region"], department=form["department"],
                              institution_id=form["institution_id"], active=form["active"],
                              new_password=request.form.get("new_password") or None,
                              actor=s.get(User, g.user.id))
    except users.UserError as err:
        with rt.sessions() as s:
            user = _load(s, user_id)
        form["username"] = user.username
        return render_template("admin_user_form.html", form=form, user=user, roles=ROLES,
                               error=str(err), locked=user.locked(utcnow())), 422
    flash(f"已保存用户「{name}」", "success")
    return redirect(url_for("admin.users"))


# ---- working-day calendar (years after the package's range) ------------------------------------

def _dates(text: str) -> list[str]:
    return [d for d in (x.strip() for x in text.replace("，", ",").replace(",", "\n").splitlines()) if d]


@bp.get("/calendar")
@page("admin")
def calendar():
    return render_template("admin_calendar.html", form={}, error=None, details=[])


@bp.post("/calendar")
@page("admin")
def calendar_load():
    """Load the State Council's holiday arrangement for a year into the cases service (which
    checks it); periods crossing into a year without it wait as "日历未载入"."""
    form = {k: request.form.get(k, "") for k in ("year", "holidays", "workdays", "source")}
    try:
        year = int(form["year"])
    except ValueError:
        return render_template("admin_calendar.html", form=form, error="请填写年份（如 2027）",
                               details=[]), 422
    try:
        backend().post("cases", "/api/v1/calendar/years", json={
            "year": year, "holidays": _dates(form["holidays"]), "workdays": _dates(form["workdays"]),
            "source": form["source"].strip()})
    except ServiceError as err:
        if err.status == 401:
            raise
        return render_template("admin_calendar.html", form=form, error=err.message,
                               details=err.details), err.page_status
    flash(f"已载入 {year} 年工作日历", "success")
    return redirect(url_for("admin.calendar"))
