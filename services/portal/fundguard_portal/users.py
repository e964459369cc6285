"""Users and login sessions: the rules, as plain functions over a SQLAlchemy session."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fundguard_shared.auth import ROLES

from .config import PortalSettings
from .models import LoginSession, User, aware, utcnow
from .passwords import DUMMY_HASH, hash_password, needs_rehash, password_problem, verify_password


class UserError(ValueError):
    """A Chinese message for the person filling the form."""


def scope_problem(role: str, region: str | None, department: str | None,
                  institution_id: str | None) -> str | None:
    """The scope each role needs (the same rule the services apply to a token)."""
    if role not in ROLES:
        return "角色无效"
    if role == "inspector" and not (region and department):
        return "检查/办案人员须填写统筹区（区划代码）和科室"
    if role in ("leader", "legal_reviewer", "panel_member") and not region:
        return "该角色须填写统筹区（区划代码）"
    if role == "institution" and not institution_id:
        return "定点医药机构用户须填写机构编码"
    return None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def normalise_scope(role: str, region, department, institution_id) -> dict:
    """Keep only the scope fields the role uses."""
    region, department, institution_id = map(_clean, (region, department, institution_id))
    return {
        "region": region if role in ("inspector", "leader", "legal_reviewer", "panel_member") else None,
        "department": department if role == "inspector" else None,
        "institution_id": institution_id if role == "institution" else None,
    }


def create_user(session: Session, *, username: str, password: str, role: str,
                display_name: str = "", region: str | None = None, department: str | None = None,
                institution_id: str | None = None, check_password: bool = True) -> User:
    username = (username or "").strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise UserError("用户名不能为空、不能含空格，最长 64 个字符")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise UserError(f"用户名「{username}」已存在")
    scope = normalise_scope(role, region, department, institution_id)
    problem = scope_problem(role, **scope)
    if problem:
        raise UserError(problem)
    if check_password and (problem := password_problem(password)):
        raise UserError(problem)
    user = User(username=username, display_name=(display_name or "").strip(), role=role,
                password_hash=hash_password(password), active=True, failed_logins=0, **scope)
    session.add(user)
    session.flush()
    return user


def update_user(session: Session, user: User, *, role: str, display_name: str, region, department,
                institution_id, active: bool, new_password: str | None, actor: User) -> None:
    scope = normalise_scope(role, region, department, institution_id)
    problem = scope_problem(role, **scope)
    if problem:
        raise UserError(problem)
    if user.id == actor.id and (role != "admin" or not active):
        raise UserError("不能取消自己的管理员角色或停用自己的账户")
    if user.role == "admin" and (role != "admin" or not active):
        others = session.execute(select(func.count()).select_from(User).where(
            User.role == "admin", User.active.is_(True), User.id != user.id)).scalar_one()
        if others == 0:
            raise UserError("至少需要保留一个启用的管理员账户")
    if new_password:
        if problem := password_problem(new_password):
            raise UserError(problem)
        user.password_hash = hash_password(new_password)
    scope_changed = (role, scope["region"], scope["department"], scope["institution_id"]) != (
        user.role, user.region, user.department, user.institution_id)
    user.role, user.display_name, user.active = role, (display_name or "").strip(), active
    user.region, user.department, user.institution_id = (
        scope["region"], scope["department"], scope["institution_id"])
    if new_password or not active or scope_changed:
        end_all_sessions(session, user)   # the old rights must not live on in an open session


def unlock(session: Session, user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None


# ---- sign-in -----------------------------------------------------------------------------------

@dataclass
class LoginResult:
    user: User | None
    error: str | None          # bad_credentials | locked | inactive
    locked_minutes: int = 0


def authenticate(session: Session, username: str, password: str, settings: PortalSettings,
                 now: datetime | None = None) -> LoginResult:
    """Check a password with lockout: ``lockout_threshold`` consecutive failures lock the
    account for ``lockout_minutes``; while locked even the right password is refused. Unknown
    names cost the same KDF run and get the same answer as a wrong password."""
    now = now or utcnow()
    user = session.execute(select(User).where(User.username == (username or "").strip())
                           ).scalar_one_or_none()
    if user is None:
        verify_password(password or "", DUMMY_HASH)
        return LoginResult(None, "bad_credentials")
    if user.locked(now):
        verify_password(password or "", DUMMY_HASH)
        left = int((aware(user.locked_until) - now).total_seconds() // 60) + 1
        return LoginResult(None, "locked", left)
    if not verify_password(password or "", user.password_hash):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= settings.lockout_threshold:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            return LoginResult(None, "locked", settings.lockout_minutes)
        return LoginResult(None, "bad_credentials")
    if not user.active:
        return LoginResult(None, "inactive")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginResult(user, None)


# ---- sessions ----------------------------------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def start_session(session: Session, user: User, settings: PortalSettings,
                  now: datetime | None = None) -> str:
    """A fresh session (new id at every sign-in: no fixation). Returns the cookie value."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(id=_digest(token), user_id=user.id,
                             csrf_token=secrets.token_urlsafe(32), created_at=now,
                             last_seen_at=now,
                             expires_at=now + timedelta(hours=settings.session_max_hours)))
    # Housekeeping: sessions that are over anyway.
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    return token


def load_session(session: Session, token: str | None, settings: PortalSettings,
                 now: datetime | None = None) -> tuple[LoginSession, User] | None:
    """The live session for a cookie value, or None (unknown, expired, idle too long, user
    disabled). Touches ``last_seen_at`` at most once a minute."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    row = session.get(LoginSession, _digest(token))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    idle = now - aware(row.last_seen_at)
    if (user is None or not user.active or aware(row.expires_at) <= now
            or idle > timedelta(minutes=settings.session_idle_minutes)):
        session.delete(row)
        return None
    if idle > timedelta(seconds=60):
        row.last_seen_at = now
    return row, user


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(LoginSession).where(LoginSession.id == _digest(token)))


def end_all_sessions(session: Session, user: User) -> None:
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
