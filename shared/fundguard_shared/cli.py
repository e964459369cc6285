"""Operator command lines.

``fundguard-token``         issue a development JWT for the one-machine run;
``fundguard-<service> ...`` each service's own: ``migrate``, ``worker``, ``dead-letters`` (and
                            whatever the service adds).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable

from .auth import ROLES, Principal, issue_token


def token_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fundguard-token",
                                description="签发开发用令牌 / issue a development JWT")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--sub", required=True, help="user id")
    p.add_argument("--name")
    p.add_argument("--region")
    p.add_argument("--department")
    p.add_argument("--institution-id")
    p.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    args = p.parse_args(argv)
    secret = os.environ.get("FUNDGUARD_JWT_SECRET")
    if not secret:
        print("FUNDGUARD_JWT_SECRET is not set / 未设置签名密钥", file=sys.stderr)
        return 2
    principal = Principal(sub=args.sub, role=args.role, region=args.region,
                          department=args.department, institution_id=args.institution_id,
                          name=args.name)
    try:
        print(issue_token(principal, secret, os.environ.get("FUNDGUARD_JWT_ISSUER", "fundguard-dev"),
                          os.environ.get("FUNDGUARD_JWT_AUDIENCE", "fundguard"), args.ttl))
    except ValueError as exc:
        print(f"invalid scope: {exc}", file=sys.stderr)
        return 2
    return 0


def service_main(service: str, package: str, worker_main: Callable[[], None],
                 extra: dict[str, tuple[str, Callable[[argparse.Namespace], int],
                                        Callable[[argparse.ArgumentParser], None]]] | None = None,
                 argv: list[str] | None = None) -> int:
    from .config import load_settings
    from .migrate import upgrade

    p = argparse.ArgumentParser(prog=f"fundguard-{service}")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate", help="apply database migrations / 执行数据库迁移")
    sub.add_parser("worker", help="run the queue consumer and outbox relay / 运行消费者与发件箱")
    dl = sub.add_parser("dead-letters", help="list what the consumer gave up on / 列出死信")
    dl.add_argument("--limit", type=int, default=20)
    for name, (help_text, _run, configure) in (extra or {}).items():
        configure(sub.add_parser(name, help=help_text))
    args = p.parse_args(argv)
    settings = load_settings(service)
    if args.cmd == "migrate":
        upgrade(package, settings.database_url)
        return 0
    if args.cmd == "worker":
        worker_main()
        return 0
    if args.cmd == "dead-letters":
        from sqlalchemy import select
        import importlib
        rt = importlib.import_module(f"{package}.runtime").runtime()
        t = rt.tables.dead_letters
        with rt.engine.connect() as conn:
            for row in conn.execute(select(t).order_by(t.c.id.desc()).limit(args.limit)):
                print(json.dumps({"id": row.id, "event_id": row.event_id,
                                  "reason": row.reason_code, "error": row.error,
                                  "at": row.created_at.isoformat()}, ensure_ascii=False))
        return 0
    return extra[args.cmd][1](args)
