"""Evidence hashes reach the case file (一案一卷) across the real processes: files uploaded to a
finding in the inspection service travel as events (``evidence.registered``, ordered after the
finding's ``finding.recorded``), the cases service lists each with its SHA-256 in the exported
file's evidence.json, and ``fundguard-cases verify-case-file`` passes on what was downloaded."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from tests.helpers import case_for_finding, record_finding
from tests.support.platform import ROOT, wait_for

pytestmark = pytest.mark.platform

CLI = str(Path(sys.executable).with_name("fundguard-cases"))


def upload(platform, token, finding_id, content: bytes, name: str) -> dict:
    r = platform.call("POST", "inspection", "/api/v1/evidence", token,
                      files={"file": (name, content, "application/pdf")},
                      data={"attached_to": f"finding:{finding_id}", "description": "询问笔录"})
    assert r.status_code == 201, r.text
    return r.json()


def evidence_of(zip_bytes: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return {e["reference"]: e["sha256"] for e in json.loads(zf.read("evidence.json"))
                if e["kind"] == "evidence_file"}


def test_evidence_uploaded_to_a_finding_is_listed_with_its_sha256_in_the_verified_case_file(
        platform, tokens, tmp_path):
    insp, leader = tokens["inspector"], tokens["leader"]
    finding = record_finding(platform, insp)
    # uploaded at once: its event may well reach the cases service before the case exists
    early_pdf = b"%PDF-1.4\n% early " + uuid.uuid4().hex.encode() + b"\n%%EOF\n"
    early = upload(platform, insp, finding["id"], early_pdf, "现场笔录.pdf")
    case = case_for_finding(platform, leader, finding["id"])
    late_pdf = b"%PDF-1.4\n% late " + uuid.uuid4().hex.encode() + b"\n%%EOF\n"
    late = upload(platform, insp, finding["id"], late_pdf, "询问笔录.pdf")
    expected = {early["id"]: hashlib.sha256(early_pdf).hexdigest(),
                late["id"]: hashlib.sha256(late_pdf).hexdigest()}
    assert {early["sha256"], late["sha256"]} == set(expected.values())

    def exported():
        r = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/file.zip", leader)
        assert r.status_code == 200, r.text
        return r.content if evidence_of(r.content) == expected else None
    data = wait_for(exported, timeout=60, interval=0.5, what="both evidence hashes in the case file")

    path = tmp_path / "case-file.zip"
    path.write_bytes(data)
    env = dict(platform.env, CASES_DATABASE_URL=platform.db_urls["cases"])
    done = subprocess.run([CLI, "verify-case-file", "--registry", str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # the same file fails verification once an evidence hash in it is changed
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(tmp_path / "bad.zip", "w") as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            if info.filename == "evidence.json":
                body = body.replace(expected[early["id"]].encode(), b"0" * 64)
            zout.writestr(info.filename, body)
    bad = subprocess.run([CLI, "verify-case-file", str(tmp_path / "bad.zip")], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "evidence.json" in bad.stdout
