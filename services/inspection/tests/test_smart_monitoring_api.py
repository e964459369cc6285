"""智能监控 over HTTP and the CLI: claims import with a report of bad rows, duplicate and
malformed files, screening runs, hits with their evidence lines, review → findings, scope."""
from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from fundguard_inspection import screening_service
from fundguard_inspection.screening import import_claims
from fundguard_inspection.screening.samples import row, write_claims_csv

from inspection_testkit import DEPT, REGION, outbox

POOL = [{"institution_id": "H001", "name": "成都第一医院", "level": "二级及以上",
         "local_department": DEPT},
        {"institution_id": "H002", "name": "成都社区卫生服务中心", "level": "基层",
         "local_department": DEPT}]


def claims_rows(tag: str = "a"):
    p = f"P-{tag}"
    return [
        # split admission: same patient, same diagnosis, readmitted 5 days after discharge
        row(claim_id=f"C1{tag}", patient_id_hash=p, admit_date="2025-03-01",
            discharge_date="2025-03-05", service_date="2025-03-01", unit_price="300.00"),
        row(claim_id=f"C2{tag}", patient_id_hash=p, admit_date="2025-03-10",
            discharge_date="2025-03-14", service_date="2025-03-10", unit_price="300.00"),
        # duplicate charge: the same line twice on one day
        row(claim_id=f"C3{tag}", institution_code="H002", patient_id_hash=f"Q-{tag}",
            item_code="310100001", item_name="静脉注射", item_category="service",
            unit_price="20.00", quantity=2),
        row(claim_id=f"C3{tag}", institution_code="H002", patient_id_hash=f"Q-{tag}",
            item_code="310100001", item_name="静脉注射", item_category="service",
            unit_price="20.00", quantity=2),
        # bad rows: unknown institution (line 6), amount ≠ quantity × price (line 7)
        row(claim_id=f"C4{tag}", institution_code="H999"),
        row(claim_id=f"C5{tag}", amount="999.00"),
    ]


def csv_bytes(tmp_path, tag="a", encoding="utf-8", rows=None) -> bytes:
    path = write_claims_csv(tmp_path / f"claims-{tag}.csv", rows or claims_rows(tag),
                            encoding=encoding)
    return path.read_bytes()


def upload(api, token, content: bytes, name="jiesuan.csv"):
    return api.call("POST", "/api/v1/screening/imports", token,
                    data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


@pytest.fixture(scope="module")
def pool(api, tokens):
    r = api.call("PUT", "/api/v1/pools/institutions", tokens["leader"], json=POOL)
    assert r.status_code == 200


@pytest.fixture(scope="module")
def imported(api, tokens, pool, tmp_path_factory):
    content = csv_bytes(tmp_path_factory.mktemp("claims"), "a", encoding="gbk")
    r = upload(api, tokens["inspector"], content)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


@pytest.fixture(scope="module")
def run(api, tokens, imported):
    r = api.call("POST", "/api/v1/screening/runs", tokens["inspector"], json={})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_import_needs_the_region_institution_pool(api, tokens, tmp_path):
    lonely = api.token("inspector", "insp-z", region="999999", department=DEPT)
    r = upload(api, lonely, csv_bytes(tmp_path))
    assert r.status_code == 422 and r.get_json()["code"] == "institution_pool_empty"


def test_gbk_import_loads_good_rows_and_reports_bad_rows_with_line_numbers(api, tokens, imported):
    assert imported["rows_read"] == 6 and imported["rows_loaded"] == 4
    assert imported["rows_rejected"] == 2
    report = api.call("GET", f"/api/v1/screening/imports/{imported['import_id']}",
                      tokens["inspector"]).get_json()["report"]
    assert report["encoding"] in ("gbk", "gb18030")
    by_line = {e["line"]: e["code"] for e in report["errors"]}
    assert by_line == {6: "row_unknown_institution", 7: "row_amount_mismatch"}
    rejects = api.call("GET", f"/api/v1/screening/imports/{imported['import_id']}/rejects",
                       tokens["leader"]).get_json()
    assert rejects["total"] == 2 and [e["line"] for e in rejects["items"]] == [6, 7]
    assert rejects["items"][0]["message_zh"].startswith("第6行")


def test_duplicate_upload_is_409_and_loads_nothing(api, tokens, imported, tmp_path_factory):
    content = csv_bytes(tmp_path_factory.mktemp("dup"), "a", encoding="gbk")
    r = upload(api, tokens["inspector2"], content, name="same-file-other-name.csv")
    assert r.status_code == 409 and r.get_json()["code"] == "claims_duplicate_import"
    assert r.get_json()["import_id"] == imported["import_id"]
    listed = api.call("GET", "/api/v1/screening/imports", tokens["inspector"]).get_json()
    assert [i["import_id"] for i in listed["items"]].count(imported["import_id"]) == 1


@pytest.mark.parametrize("content,code", [
    (b"claim_id,institution_code\nC1,H001\n", "claims_missing_columns"),
    (b"\x00\x01\x02\x03binary\xff\xfe" * 50, None),
    (b"", None),
])
def test_malformed_files_are_refused_with_a_code_and_nothing_registered(api, tokens, pool, content,
                                                                         code):
    before = api.call("GET", "/api/v1/screening/imports", tokens["inspector"]).get_json()["total"]
    r = upload(api, tokens["inspector"], content)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["code"].startswith("claims_")
    if code:
        assert r.get_json()["code"] == code
    after = api.call("GET", "/api/v1/screening/imports", tokens["inspector"]).get_json()["total"]
    assert after == before


def test_upload_above_the_claims_size_limit_is_413(api, tokens, pool, monkeypatch):
    monkeypatch.setenv("FUNDGUARD_CLAIMS_MAX_BYTES", "1000")
    r = upload(api, tokens["inspector"], b"claim_id," + b"x" * 5000)
    assert r.status_code == 413 and r.get_json()["code"] == "claims_file_too_large"


def test_run_records_rule_version_and_data_hash_and_lists_hits_with_evidence(api, tokens, run):
    assert run["rows_screened"] == 4 and run["total_hits"] >= 2
    assert run["data_hash"] and run["params_hash"] and run["ruleset_version"]
    hits = api.call("GET", f"/api/v1/screening/runs/{run['id']}/hits?per_page=200",
                    tokens["inspector"]).get_json()
    rules = {h["rule_id"] for h in hits["items"]}
    assert {"split_admission", "duplicate_charge"} <= rules
    split = next(h for h in hits["items"] if h["rule_id"] == "split_admission")
    assert split["institution_code"] == "H001" and split["review"] is None
    assert sorted(e["line"] for e in split["evidence"]) == [2, 3]
    only = api.call("GET", f"/api/v1/screening/runs/{run['id']}/hits?rule_id=duplicate_charge",
                    tokens["inspector"]).get_json()
    assert {h["rule_id"] for h in only["items"]} == {"duplicate_charge"}


def test_confirmed_hit_becomes_a_finding_dismissed_hit_does_not(api, tokens, run):
    hits = api.call("GET", f"/api/v1/screening/runs/{run['id']}/hits?per_page=200",
                    tokens["inspector"]).get_json()["items"]
    split = next(h for h in hits if h["rule_id"] == "split_admission")
    dup = next(h for h in hits if h["rule_id"] == "duplicate_charge")
    base = f"/api/v1/screening/runs/{run['id']}/hits"
    r = api.call("POST", f"{base}/{split['hit_id']}/review", tokens["inspector"],
                 json={"decision": "confirmed", "reason": "病历核实属分解住院"})
    assert r.status_code == 201, r.get_json()
    review = r.get_json()
    event = [e for e in outbox("finding.recorded")
             if e["payload"]["finding_id"] == review["finding_id"]][0]["payload"]
    assert event["source"] == "screening" and event["violation_type"] == "split_admission"
    assert event["institution_name"] == "成都第一医院" and event["department"] == DEPT
    assert event["amount"] == str(Decimal(split["suspected_amount"]).quantize(Decimal("0.01")))
    assert Decimal(event["amount"]) > 0
    assert run["id"] in event["description"]
    again = api.call("POST", f"{base}/{split['hit_id']}/review", tokens["leader"],
                     json={"decision": "dismissed", "reason": "x"})
    assert again.status_code == 409 and again.get_json()["code"] == "already_reviewed"
    before = len(outbox("finding.recorded"))
    r = api.call("POST", f"{base}/{dup['hit_id']}/review", tokens["inspector"],
                 json={"decision": "dismissed", "reason": "两次注射均有医嘱"})
    assert r.status_code == 201 and r.get_json()["finding_id"] is None
    assert len(outbox("finding.recorded")) == before
    listed = api.call("GET", f"{base}?per_page=200", tokens["inspector"]).get_json()["items"]
    assert {h["hit_id"]: (h["review"] or {}).get("decision") for h in listed}[dup["hit_id"]] == "dismissed"
    r = api.call("POST", f"{base}/nonexistent/review", tokens["inspector"],
                 json={"decision": "dismissed", "reason": "x"})
    assert r.status_code == 404


def test_screening_objects_outside_scope_are_404(api, tokens, imported, run):
    for who in ("inspector_other_dept", "inspector_other_region", "leader_other_region"):
        t = tokens[who]
        assert api.call("GET", f"/api/v1/screening/imports/{imported['import_id']}", t).status_code == 404
        assert api.call("GET", f"/api/v1/screening/runs/{run['id']}", t).status_code == 404
        assert api.call("GET", f"/api/v1/screening/runs/{run['id']}/hits", t).status_code == 404
        assert api.call("POST", f"/api/v1/screening/runs/{run['id']}/hits/x/review", t,
                        json={"decision": "dismissed", "reason": "x"}).status_code == 404
    assert api.call("GET", f"/api/v1/screening/runs/{run['id']}", tokens["leader"]).status_code == 200
    assert api.call("POST", "/api/v1/screening/runs", tokens["institution"], json={}).status_code == 403


def test_unknown_rule_is_refused(api, tokens, imported):
    r = api.call("POST", "/api/v1/screening/runs", tokens["inspector"], json={"rules": ["astrology"]})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_rule"


def test_import_lost_between_the_two_stores_is_adopted_not_lost(api, tokens, pool, tmp_path):
    """DuckDB committed, the registry row did not (crash): the same file again is adopted."""
    path = write_claims_csv(tmp_path / "orphan.csv", claims_rows("orphan"))
    with screening_service.region_db(REGION) as conn:
        report = import_claims(path, conn, known_institutions={"H001": "", "H002": ""})
    r = upload(api, tokens["inspector"], path.read_bytes())
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["import_id"] == report.import_id
    assert r.get_json()["report"]["recovered"] is True and r.get_json()["rows_rejected"] == 2
    assert upload(api, tokens["inspector"], path.read_bytes()).status_code == 409


def test_cli_import_and_screen_show_a_progress_bar(api, tokens, pool, tmp_path, capsys):
    from fundguard_inspection import cli
    path = write_claims_csv(tmp_path / "cli.csv", claims_rows("cli"))
    with pytest.raises(SystemExit) as done:
        cli.main(["import-claims", str(path), "--region", REGION, "--department", DEPT,
                  "--by", "insp-a"])
    assert done.value.code == 0
    out, err = capsys.readouterr()
    report = json.loads(out.strip().splitlines()[-1])
    assert report["rows_loaded"] == 4 and report["rows_rejected"] == 2
    assert "[" in err and "%" in err
    with pytest.raises(SystemExit) as again:
        cli.main(["import-claims", str(path), "--region", REGION, "--department", DEPT,
                  "--no-progress"])
    assert again.value.code == 1
    assert json.loads(capsys.readouterr().out)["error"] == "claims_duplicate_import"
    with pytest.raises(SystemExit) as screened:
        cli.main(["screen", "--region", REGION, "--department", DEPT,
                  "--rules", "split_admission,duplicate_charge"])
    assert screened.value.code == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["rules"] == ["split_admission", "duplicate_charge"]
    assert "split_admission" in err or "done" in err
    r = api.call("GET", f"/api/v1/screening/runs/{summary['run_id']}", tokens["inspector"])
    assert r.status_code == 200 and r.get_json()["started_by"] == "cli"


def test_import_progress_is_readable_by_its_scope_only_and_old_progress_is_forgotten(api, tokens, pool, tmp_path):
    import os
    import time
    from fundguard_inspection import screening_api
    progress_dir = screening_service.screening_dir() / "progress"
    progress_dir.mkdir(parents=True, exist_ok=True)
    stale = progress_dir / "stale-token-0001.json"
    stale.write_text("{}")
    old = time.time() - screening_api.PROGRESS_KEEP_SECONDS - 60
    os.utime(stale, (old, old))
    content = csv_bytes(tmp_path, tag="progress")
    r = api.call("POST", "/api/v1/screening/imports", tokens["inspector"],
                 data={"file": (io.BytesIO(content), "p.csv")}, content_type="multipart/form-data",
                 headers={"X-Progress-Token": "import-progress-1"})
    assert r.status_code == 201, r.get_json()
    got = api.call("GET", "/api/v1/screening/progress/import-progress-1", tokens["inspector"])
    assert got.status_code == 200 and got.get_json()["stage"] == "done"
    assert got.get_json()["done"] == got.get_json()["total"] > 0
    assert api.call("GET", "/api/v1/screening/progress/import-progress-1",
                    tokens["leader"]).status_code == 200
    for outsider in ("inspector_other_dept", "inspector_other_region", "leader_other_region"):
        assert api.call("GET", "/api/v1/screening/progress/import-progress-1",
                        tokens[outsider]).status_code == 404, outsider
    assert not stale.exists()
