"""``fundguard-inspection import-claims FILE`` and ``fundguard-inspection screen``: the same
service functions as the HTTP API, with a progress bar on stderr, for files too large to upload."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fundguard_shared.auth import Principal
from fundguard_shared.errors import ApiError


class ProgressBar:
    """A one-line progress bar on stderr: ``phase [#####-----]  52%  1.2 s``."""

    def __init__(self, stream=None, width: int = 30, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = enabled
        self.started = time.perf_counter()
        self._last = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        frac = (done / total) if total else 1.0
        frac = min(max(frac, 0.0), 1.0)
        filled = int(round(frac * self.width))
        line = (f"\r{phase:<24.24} [{'#' * filled}{'-' * (self.width - filled)}] "
                f"{frac * 100:5.1f}%  {time.perf_counter() - self.started:6.1f} s")
        if line != self._last:
            self.stream.write(line)
            self.stream.flush()
            self._last = line

    def close(self) -> None:
        if self.enabled and self._last:
            self.stream.write("\n")
            self.stream.flush()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", required=True, help="统筹地区代码, e.g. 510100")
    p.add_argument("--department", required=True, help="承办科室")
    p.add_argument("--by", default="cli", help="operator user id (recorded)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _configure_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path)
    _common(p)


def _configure_screen(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--rules", help="comma-separated rule ids (default: the rule set's enabled ones)")
    p.add_argument("--ruleset-version")


def _fail(exc: ApiError) -> int:
    print(json.dumps({"error": exc.code, "message_zh": exc.zh, "message_en": exc.en} | exc.extra,
                     ensure_ascii=False, default=str))
    return 2 if exc.status == 422 else 1


def import_claims_cmd(args: argparse.Namespace) -> int:
    from . import screening_service as svc
    from .runtime import runtime
    if not args.file.is_file():
        print(json.dumps({"error": "claims_file_not_found", "file": str(args.file)}))
        return 2
    bar = ProgressBar(enabled=not args.no_progress)
    try:
        with runtime().sessions() as session, session.begin():
            row, _ = svc.import_file(session, args.file, args.file.name, args.region,
                                     args.department, args.by, progress=bar)
            report = dict(row.report)
    except ApiError as exc:
        bar.close()
        return _fail(exc)
    bar.close()
    report["errors"] = report.get("errors", [])[:20]
    print(json.dumps(report, ensure_ascii=False, default=str))
    return 0


def screen_cmd(args: argparse.Namespace) -> int:
    from . import screening_service as svc
    from .runtime import runtime
    rules = [r.strip() for r in args.rules.split(",") if r.strip()] if args.rules else None
    bar = ProgressBar(enabled=not args.no_progress)
    try:
        with runtime().sessions() as session, session.begin():
            record = svc.run(session, args.region, args.department, args.by, rules,
                             args.ruleset_version, progress=bar)
            summary = {"run_id": record.id} | dict(record.summary)
    except ApiError as exc:
        bar.close()
        return _fail(exc)
    bar.close()
    print(json.dumps(summary, ensure_ascii=False, default=str))
    return 0


SCREENING_COMMANDS = {
    "import-claims": ("import a settlement file into a region's screening database / 导入结算数据",
                      import_claims_cmd, _configure_import),
    "screen": ("run the screening rules over a region's claims / 运行智能监控筛查",
               screen_cmd, _configure_screen),
}
