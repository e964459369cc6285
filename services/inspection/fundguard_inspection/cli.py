"""``fundguard-inspection``: migrate, worker, dead-letters (shared) and the service's own commands:

* ``verify-evidence``   re-hash every stored evidence file; list altered or missing ones (exit 1);
* ``import-claims FILE`` import a settlement file into a region's screening database;
* ``screen``            run the screening rules over a region's claims (progress bar on stderr).
"""
from __future__ import annotations

import argparse
import json
import sys

from fundguard_shared.cli import service_main


def _verify_evidence(args: argparse.Namespace) -> int:
    from .evidence import verify_all
    from .runtime import runtime
    from .storage import default_store
    with runtime().sessions() as session:
        report = verify_all(session, default_store())
    for item in report["altered"]:
        print(json.dumps({"status": "altered"} | item, ensure_ascii=False))
    for item in report["missing"]:
        print(json.dumps({"status": "missing"} | item, ensure_ascii=False))
    summary = {"checked": report["checked"], "altered": len(report["altered"]),
               "missing": len(report["missing"]), "ok": report["ok"]}
    print(json.dumps(summary, ensure_ascii=False))
    if not report["ok"]:
        print("证据文件校验失败：存在被改动或缺失的文件 / evidence check FAILED", file=sys.stderr)
    return 0 if report["ok"] else 1


def _no_args(p: argparse.ArgumentParser) -> None:
    pass


def commands() -> dict:
    cmds = {"verify-evidence": ("re-hash stored evidence files / 校验证据文件哈希",
                                _verify_evidence, _no_args)}
    from .screening_cli import SCREENING_COMMANDS
    cmds.update(SCREENING_COMMANDS)
    return cmds


def main(argv: list[str] | None = None) -> None:
    from .worker import main as worker_main
    sys.exit(service_main("inspection", "fundguard_inspection", worker_main, extra=commands(),
                          argv=argv))
