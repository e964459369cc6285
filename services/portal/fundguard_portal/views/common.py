"""What every page view needs: the signed-in user, role checks, the backend client."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort, current_app, g, redirect, request, url_for

from ..bff import Backend

CASE_ROLES = ("inspector", "leader", "legal_reviewer", "panel_member", "institution")
FINDING_ROLES = ("inspector", "leader")


def portal():
    return current_app.config["PORTAL"]


def page(*roles: str) -> Callable:
    """Signed-in users only (others go to the login page); then only ``roles`` (403 page)."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("user") is None:
                nxt = request.full_path if request.method == "GET" else "/"
                return redirect(url_for("auth.login", next=nxt.rstrip("?")))
            if roles and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def backend() -> Backend:
    if "backend" not in g:
        g.backend = Backend(portal().settings, g.user.principal(), g.request_id)
    return g.backend


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def int_arg(name: str, default: int, lo: int = 1, hi: int = 100000) -> int:
    try:
        return min(max(int(request.args.get(name, default)), lo), hi)
    except (TypeError, ValueError):
        return default
