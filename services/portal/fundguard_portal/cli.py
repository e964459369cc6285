"""``fundguard-portal``: migrate, create-user, seed-demo-users, set-password, unlock."""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from sqlalchemy import select

from fundguard_shared.auth import ROLES
from fundguard_shared.migrate import upgrade


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("PORTAL_NEW_PASSWORD"):
        return os.environ["PORTAL_NEW_PASSWORD"]
    first = getpass.getpass("密码 / password: ")
    if getpass.getpass("再次输入 / again: ") != first:
        raise SystemExit("两次输入的密码不一致 / passwords differ")
    return first


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="fundguard-portal", description="fundguard 门户 / web portal")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate", help="apply database migrations / 执行数据库迁移")
    cu = sub.add_parser("create-user", help="create a user / 创建用户")
    cu.add_argument("--username", required=True)
    cu.add_argument("--role", required=True, choices=ROLES)
    cu.add_argument("--name", default="", help="display name / 姓名")
    cu.add_argument("--region")
    cu.add_argument("--department")
    cu.add_argument("--institution-id")
    cu.add_argument("--password-stdin", action="store_true",
                    help="read the password from stdin (else PORTAL_NEW_PASSWORD, else prompt)")
    sp = sub.add_parser("set-password", help="set a user's password and unlock it / 重置密码")
    sp.add_argument("--username", required=True)
    sp.add_argument("--password-stdin", action="store_true")
    ul = sub.add_parser("unlock", help="clear a lockout / 解除锁定")
    ul.add_argument("--username", required=True)
    sd = sub.add_parser("seed-demo-users",
                        help="create the demo users of the one-machine run (idempotent) / 创建演示用户")
    sd.add_argument("--reset-passwords", action="store_true",
                    help="also reset existing demo users to the demo password")
    args = p.parse_args(argv)

    from .config import load_portal_settings
    settings = load_portal_settings()
    if args.cmd == "migrate":
        upgrade("fundguard_portal", settings.database_url)
        return

    from . import users
    from .models import User
    from .passwords import hash_password
    from .runtime import runtime
    rt = runtime()
    try:
        if args.cmd == "create-user":
            with rt.sessions() as s, s.begin():
                users.create_user(s, username=args.username, password=_password(args),
                                  role=args.role, display_name=args.name, region=args.region,
                                  department=args.department, institution_id=args.institution_id)
            print(f"created {args.username} ({args.role}) / 已创建")
        elif args.cmd in ("set-password", "unlock"):
            with rt.sessions() as s, s.begin():
                user = s.execute(select(User).where(User.username == args.username)).scalar_one_or_none()
                if user is None:
                    raise SystemExit(f"no such user / 用户不存在: {args.username}")
                if args.cmd == "set-password":
                    new = _password(args)
                    from .passwords import password_problem
                    if problem := password_problem(new):
                        raise users.UserError(problem)
                    user.password_hash = hash_password(new)
                    users.end_all_sessions(s, user)
                users.unlock(s, user)
            print(f"{args.cmd}: {args.username} ok")
        elif args.cmd == "seed-demo-users":
            from .demo import DEMO_PASSWORD, DEMO_USERS
            password = os.environ.get("PORTAL_DEMO_PASSWORD") or DEMO_PASSWORD
            made = 0
            with rt.sessions() as s, s.begin():
                for username, role, name, region, dept, inst in DEMO_USERS:
                    user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
                    if user is None:
                        users.create_user(s, username=username, password=password, role=role,
                                          display_name=name, region=region, department=dept,
                                          institution_id=inst, check_password=False)
                        made += 1
                    elif args.reset_passwords:
                        user.password_hash = hash_password(password)
                        users.unlock(s, user)
            print(f"demo users: {made} created, {len(DEMO_USERS) - made} already there "
                  f"/ 演示用户已就绪（密码 {password}）")
    except users.UserError as err:
        raise SystemExit(f"error / 错误: {err}")


if __name__ == "__main__":
    main()
