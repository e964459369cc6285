"""The audit trail is append-only and hash-chained: tampering is refused or detected."""
from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import exc, text

from tests.helpers import case_for_finding, record_finding
from tests.support.platform import _bin

pytestmark = pytest.mark.platform


def _case_with_two_entries(platform, tokens):
    finding = record_finding(platform, tokens["inspector"])
    case = case_for_finding(platform, tokens["leader"], finding["id"])
    r = platform.call("POST", "cases", f"/api/v1/cases/{case['id']}/transitions", tokens["leader"],
                      json={"trigger": "start_verification", "version": case["version"]})
    assert r.status_code == 200
    return case


def test_database_refuses_update_and_delete_of_audit_entries(platform, tokens):
    case = _case_with_two_entries(platform, tokens)
    engine = platform.engine("cases")
    for stmt in ("UPDATE case_audit SET reason = 'rewritten' WHERE case_id = :c",
                 "DELETE FROM case_audit WHERE case_id = :c"):
        with pytest.raises(exc.DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(stmt), {"c": case["id"]})
    with engine.begin() as conn:  # deleting the case cannot take its trail with it
        with pytest.raises(exc.IntegrityError):
            conn.execute(text("DELETE FROM cases WHERE id = :c"), {"c": case["id"]})


@pytest.mark.embedded_only
def test_tampered_entry_is_named_by_verify_endpoint_and_cli(platform, tokens):
    """Someone with file access bypasses the trigger: the chain still tells."""
    case = _case_with_two_entries(platform, tokens)
    engine = platform.engine("cases")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER case_audit_no_update"))
        conn.execute(text("UPDATE case_audit SET actor = 'mallory' WHERE case_id = :c AND seq = 2"),
                     {"c": case["id"]})
        conn.execute(text("""CREATE TRIGGER case_audit_no_update BEFORE UPDATE ON case_audit
                              BEGIN SELECT RAISE(ABORT, 'case_audit is append-only'); END;"""))
    report = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/audit/verify",
                           tokens["leader"]).json()
    assert report["ok"] is False and report["first_broken_seq"] == 2
    assert "altered" in report["problem"]
    cli = subprocess.run([_bin("fundguard-cases"), "verify-audit", case["id"]], env=platform.env,
                         capture_output=True, text=True)
    assert cli.returncode == 1 and '"first_broken_seq": 2' in cli.stdout
