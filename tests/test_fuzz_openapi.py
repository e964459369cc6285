"""schemathesis against each service's OpenAPI with every role's token, bounded in time:
zero 5xx, and documented responses match their schema. Prints the requests tried."""
from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.platform import SERVICES, _bin

pytestmark = pytest.mark.platform

ROLES = ("inspector", "leader", "legal_reviewer", "panel_member", "institution", "admin")
SECONDS_PER_RUN = 8  # per role and service; the spec load counts against it


def _fuzz(platform, token: str, service: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_bin("schemathesis"), "run", platform.url(service, "/api/v1/openapi.json"),
         "--checks", "not_a_server_error,response_schema_conformance",
         "--header", f"Authorization: Bearer {token}",
         "--max-time", str(SECONDS_PER_RUN), "--workers", "1", "--seed", "20261125",
         "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
         "--no-color"],
        capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("service", SERVICES)
def test_fuzzing_finds_no_server_error(platform, tokens, service):
    tried = 0
    with ThreadPoolExecutor(3) as pool:  # the roles' runs side by side, each bounded in time
        runs = list(pool.map(lambda role: _fuzz(platform, tokens[role], service), ROLES))
    for proc in runs:
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-4000:]
        generated = re.search(r"(\d+) generated", out)
        assert generated, out[-2000:]
        tried += int(generated.group(1))
    print(f"\n{service}: schemathesis tried {tried} requests over {len(ROLES)} roles, 0 server errors")
    assert tried > 50
