import argparse
import json
import sys

from fundguard_shared.cli import service_main


def _verify_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("case_id", nargs="?", help="one case; all cases when omitted")


def _verify(args) -> int:
    from sqlalchemy import select

    from . import audit
    from .models import Case
    from .runtime import runtime
    bad = 0
    with runtime().sessions() as session:
        ids = [args.case_id] if args.case_id else session.execute(select(Case.id)).scalars().all()
        for case_id in ids:
            report = audit.verify(session, case_id)
            if not report.ok:
                bad += 1
            if not report.ok or args.case_id:
                print(json.dumps({"case_id": case_id, **report.__dict__}, ensure_ascii=False))
    print(f"verified {len(ids)} case(s), {bad} broken / 校验 {len(ids)} 件，异常 {bad} 件")
    return 1 if bad else 0


def _tick(args) -> int:
    from .runtime import runtime
    from .worker import run_tick
    print(json.dumps(run_tick(runtime().sessions)))
    return 0


def _calendar_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="JSON: {year, holidays, workdays, source}")


def _load_calendar(args) -> int:
    from . import deadlines
    from .runtime import runtime
    with open(args.file, encoding="utf-8") as fh:
        text = fh.read()
    with runtime().sessions() as session, session.begin():
        year = deadlines.load_calendar_year(session, text, "cli")
    print(f"calendar {year} loaded / {year} 年工作日历已加载")
    return 0


def main() -> None:
    from .worker import main as worker_main
    sys.exit(service_main("cases", "fundguard_cases", worker_main, extra={
        "verify-audit": ("verify the audit hash chains / 校验审计链", _verify, _verify_configure),
        "tick": ("run one deadline-scheduler round / 执行一次期限检查", _tick, lambda p: None),
        "load-calendar": ("load a year's working-day arrangement / 加载工作日历", _load_calendar,
                          _calendar_configure),
    }))
