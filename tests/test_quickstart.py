"""The README's first command on the embedded default: ``bash scripts/up.sh`` migrates, starts
every process, loads the demo data through the public APIs and prints where to look. Run here
with its own var directory and free ports, exiting after the demo data is in."""
from __future__ import annotations

import os
import re
import socket
import subprocess

import pytest

from tests.support.platform import ROOT

pytestmark = [pytest.mark.embedded_only]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_quick_start_runs_the_platform_and_loads_the_demo_data(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not re.match(r"^(\w+_DATABASE_URL|DATABASE_URL|BROKER_URL|FUNDGUARD_\w+|CASES_\w+|PORTAL_\w+)$", k)}
    ports = {name: str(_free_port()) for name in ("PORTAL_PORT", "INSPECTION_PORT", "CASES_PORT", "NOTIFY_PORT")}
    env.update(ports, FUNDGUARD_VAR_DIR=str(tmp_path / "var"), FUNDGUARD_UP_EXIT_AFTER_DEMO="1", CI="true")
    run = subprocess.run(["bash", "scripts/up.sh"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "demo data loaded" in out, out[-4000:]
    assert f"http://127.0.0.1:{ports['PORTAL_PORT']}/" in out and "leader-wang" in out
    assert f"http://127.0.0.1:{ports['CASES_PORT']}/api/v1/docs" in out
    tokens = (tmp_path / "var" / "demo-tokens.txt").read_text(encoding="utf-8")
    assert {line.split("\t")[0] for line in tokens.splitlines()} >= {"insp-zhang", "leader-wang", "inst-hx"}
    for db in ("inspection", "cases", "notify", "portal"):
        assert (tmp_path / "var" / f"{db}.db").is_file(), f"{db}.db not under FUNDGUARD_VAR_DIR"
