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


def _case_file_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("zip", help="a case file exported as ZIP (GET /api/v1/cases/{id}/file.zip)")
    p.add_argument("--registry", action="store_true",
                   help="also check against the cases database: a registered export, its audit head in the chain")


def _verify_case_file(args) -> int:
    """Re-check every hash of an exported case file; exit 1 naming what does not match."""
    from .documents.casefile import verify_zip
    try:
        with open(args.zip, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        print(f"cannot read {args.zip}: {exc} / 无法读取文件", file=sys.stderr)
        return 2
    problems = verify_zip(data)
    if args.registry:
        from .documents.casefile import check_registry
        from .runtime import runtime
        with runtime().sessions() as session:
            problems += check_registry(session, data)
    for p in problems:
        print(json.dumps(p, ensure_ascii=False))
    if problems:
        print(f"{len(problems)} problem(s): {', '.join(sorted({p['path'] for p in problems}))} "
              f"/ 案卷校验未通过", file=sys.stderr)
        return 1
    print("case file intact: every hash matches / 案卷完整，所有哈希一致")
    return 0


def _publish(args) -> int:
    from .runtime import runtime
    from .worker import run_publication
    print(json.dumps(run_publication(runtime().sessions)))
    return 0


def main() -> None:
    from .worker import main as worker_main
    sys.exit(service_main("cases", "fundguard_cases", worker_main, extra={
        "verify-audit": ("verify the audit hash chains / 校验审计链", _verify, _verify_configure),
        "tick": ("run one deadline-scheduler round / 执行一次期限检查", _tick, lambda p: None),
        "load-calendar": ("load a year's working-day arrangement / 加载工作日历", _load_calendar,
                          _calendar_configure),
        "verify-case-file": ("re-check every hash of an exported case file (ZIP) / 校验导出的案卷",
                             _verify_case_file, _case_file_configure),
        "publish": ("run one publication round (公示/撤回) / 执行一次公示处理", _publish, lambda p: None),
    }))
