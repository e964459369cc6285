"""Inspection intake across the real processes: a flight inspection handed over, a screening hit
confirmed and a complaint accepted each open a case through the bus; evidence above the JSON body
limit uploads; the informant's identity never reaches another service or any log."""
from __future__ import annotations

import io
import json
import uuid

import pytest
from sqlalchemy import text

from tests.helpers import case_for_finding
from tests.support.platform import wait_for

pytestmark = pytest.mark.platform

REGION, DEPT = "510100", "稽核一科"


def ensure_pii_key(platform):
    """What scripts/up.sh does for the one-machine run: a dev key file in the var directory."""
    from cryptography.fernet import Fernet
    path = platform.workdir / "dev-pii-key"
    if not path.exists():
        path.write_text(Fernet.generate_key().decode())
    return path


def inspection_objects(platform, tokens) -> dict:
    """One object of each inspection kind in scope of region 510100 / 稽核一科, keyed by the path
    parameter that names it (for the scope matrix: ``objects.update(inspection_objects(...))``)."""
    from fundguard_inspection.screening.samples import row, write_claims_csv
    import tempfile
    from pathlib import Path
    ensure_pii_key(platform)
    insp, leader = tokens["inspector"], tokens["leader"]

    def ok(r, status=(200, 201)):
        assert r.status_code in status, r.text
        return r.json()
    ok(platform.call("PUT", "inspection", "/api/v1/pools/institutions", leader, json=[
        {"institution_id": "H5101001", "name": "成都某某医院", "level": "二级及以上",
         "local_department": DEPT}]))
    plan = ok(platform.call("POST", "inspection", "/api/v1/flight-plans", insp, json={
        "title": "范围矩阵", "trigger": "complaint_clue", "trigger_ref": "c-1",
        "organiser_level": "provincial", "period_start": "2026-11-01", "period_end": "2026-11-30"}))
    evidence = ok(platform.call("POST", "inspection", "/api/v1/evidence", insp, files={
        "file": ("note.txt", f"笔录 {uuid.uuid4()}".encode(), "text/plain")}))
    preservation = ok(platform.call("POST", "inspection", "/api/v1/preservations", leader, json={
        "institution_id": "H5101001", "institution_name": "成都某某医院", "items": "病历 3 份",
        "department": DEPT, "started_on": "2026-11-02"}))
    complaint = ok(platform.call("POST", "inspection", "/api/v1/complaints", insp, json={
        "channel": "phone", "real_name": True, "institution_id": "H5101001",
        "institution_name": "成都某某医院", "summary": "虚构项目",
        "informant": {"name": "范围测试", "phone": "13000000000"}}))
    tag = uuid.uuid4().hex[:8]
    path = write_claims_csv(Path(tempfile.mkdtemp()) / "c.csv",
                            [row(claim_id=f"S{tag}", institution_code="H5101001")])
    imported = platform.call("POST", "inspection", "/api/v1/screening/imports", insp,
                             files={"file": ("c.csv", path.read_bytes(), "text/csv")})
    assert imported.status_code == 201, imported.text
    run = ok(platform.call("POST", "inspection", "/api/v1/screening/runs", insp, json={}))
    return {"plan_id": plan["id"], "evidence_id": evidence["id"],
            "preservation_id": preservation["id"], "complaint_id": complaint["id"],
            "import_id": imported.json()["import_id"], "run_id": run["id"]}


@pytest.fixture(scope="module")
def pii_key(platform):
    return ensure_pii_key(platform)


@pytest.fixture(scope="module")
def pools(platform, tokens):
    tag = uuid.uuid4().hex[:6]
    institutions = [{"institution_id": f"E2E{tag}{n}", "name": f"端到端医院{n}",
                     "level": "二级及以上", "local_department": DEPT} for n in range(3)]
    r = platform.call("PUT", "inspection", "/api/v1/pools/institutions", tokens["leader"],
                      json=institutions)
    assert r.status_code == 200, r.text
    people = [{"kind": "inspector", "person_id": f"e2e-officer-{tag}-{n}", "name": f"检查员{n}",
               "enforcement_cert": f"执{n}"} for n in range(3)]
    r = platform.call("PUT", "inspection", "/api/v1/pools/people", tokens["leader"], json=people)
    assert r.status_code == 200, r.text
    return [i["institution_id"] for i in institutions]


def test_flight_inspection_handover_opens_one_case_per_confirmed_finding(platform, tokens, pools):
    call = lambda m, p, t, **kw: platform.call(m, "inspection", p, tokens[t], **kw)  # noqa: E731
    plan = call("POST", "/api/v1/flight-plans", "inspector", json={
        "title": "端到端飞行检查", "trigger": "annual_plan", "organiser_level": "provincial",
        "period_start": "2026-11-01", "period_end": "2026-12-31"}).json()
    pid = plan["id"]
    assert call("POST", f"/api/v1/flight-plans/{pid}/draws", "inspector",
                json={"kind": "institutions", "count": 1, "seed": "e2e-seed"}).status_code == 201
    assert call("POST", f"/api/v1/flight-plans/{pid}/draws", "inspector",
                json={"kind": "inspectors", "count": 2}).status_code == 201
    detail = call("GET", f"/api/v1/flight-plans/{pid}", "inspector").json()
    r = call("POST", f"/api/v1/flight-plans/{pid}/launch", "leader", json={"version": detail["version"]})
    assert r.status_code == 200, r.text
    target = detail["targets"][0]["institution_id"]
    officers = [m["person_id"] for m in detail["team"]]
    findings = []
    for vt, amount in (("split_admission", "8800.00"), ("duplicate_charging", "120.00")):
        r = call("POST", f"/api/v1/flight-plans/{pid}/findings", "inspector", json={
            "institution_id": target, "violation_type": vt, "amount": amount,
            "amount_method": "item_based", "description": f"{vt} 端到端"})
        assert r.status_code == 201, r.text
        findings.append(r.json())
    version = call("GET", f"/api/v1/flight-plans/{pid}", "inspector").json()["version"]
    fed = call("POST", f"/api/v1/flight-plans/{pid}/feedback", "inspector",
               json={"version": version}).json()
    inst = platform.token("institution", "e2e-inst", institution_id=target)
    assert platform.call("POST", "inspection", f"/api/v1/flight-findings/{findings[0]['id']}/response",
                         inst, json={"response": "accepted"}).status_code == 200
    assert platform.call("POST", "inspection", f"/api/v1/flight-findings/{findings[1]['id']}/response",
                         inst, json={"response": "disputed", "reason": "有医嘱"}).status_code == 200
    assert call("POST", f"/api/v1/flight-findings/{findings[1]['id']}/decision", "inspector", json={
        "outcome": "withdrawn", "reason": "医嘱齐全", "participants": officers}).status_code == 200
    r = call("POST", f"/api/v1/flight-plans/{pid}/handover", "leader", json={"version": fed["version"]})
    assert r.status_code == 200, r.text
    recorded = r.json()["findings"]
    assert len(recorded) == 1 and r.json()["withdrawn"] == [findings[1]["id"]]
    case = case_for_finding(platform, tokens["leader"], recorded[0]["id"])
    assert case["institution_id"] == target and case["amount"] == "8800.00"


def test_evidence_larger_than_the_json_body_limit_uploads_and_round_trips(platform, tokens):
    content = b"%PDF-1.7\n" + uuid.uuid4().bytes * (2 * 1024 * 1024 // 16) + b"\n%%EOF\n"
    r = platform.call("POST", "inspection", "/api/v1/evidence", tokens["inspector"],
                      files={"file": ("scan.pdf", io.BytesIO(content), "application/pdf")})
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["size"] == len(content) and ev["media_type"] == "application/pdf"
    got = platform.call("GET", "inspection", f"/api/v1/evidence/{ev['id']}/content",
                        tokens["inspector"])
    assert got.status_code == 200 and got.content == content
    r = platform.call("POST", "inspection", "/api/v1/evidence", tokens["inspector"],
                      files={"file": ("scan.pdf", io.BytesIO(b"MZ" + bytes(4000)), "application/pdf")})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_file_type"


def test_screening_hit_confirmed_opens_a_case(platform, tokens, pools, tmp_path):
    from fundguard_inspection.screening.samples import row, write_claims_csv
    inst = pools[0]
    tag = uuid.uuid4().hex[:6]
    rows = [row(claim_id=f"A{tag}", institution_code=inst, patient_id_hash=f"P{tag}",
                admit_date="2025-05-01", discharge_date="2025-05-04", service_date="2025-05-01",
                unit_price="400.00"),
            row(claim_id=f"B{tag}", institution_code=inst, patient_id_hash=f"P{tag}",
                admit_date="2025-05-08", discharge_date="2025-05-12", service_date="2025-05-08",
                unit_price="400.00"),
            row(claim_id=f"X{tag}", institution_code="UNKNOWN")]
    path = write_claims_csv(tmp_path / "claims.csv", rows, encoding="gbk")
    r = platform.call("POST", "inspection", "/api/v1/screening/imports", tokens["inspector"],
                      files={"file": ("结算明细.csv", path.read_bytes(), "text/csv")})
    assert r.status_code == 201, r.text
    assert r.json()["rows_rejected"] == 1
    assert r.json()["report"]["errors"][0]["code"] == "row_unknown_institution"
    run = platform.call("POST", "inspection", "/api/v1/screening/runs", tokens["inspector"],
                        json={"rules": ["split_admission"]}).json()
    hits = platform.call("GET", "inspection", f"/api/v1/screening/runs/{run['id']}/hits?per_page=200",
                         tokens["inspector"]).json()["items"]
    hit = next(h for h in hits if h["institution_code"] == inst)
    r = platform.call("POST", "inspection",
                      f"/api/v1/screening/runs/{run['id']}/hits/{hit['hit_id']}/review",
                      tokens["inspector"], json={"decision": "confirmed", "reason": "核实属实"})
    assert r.status_code == 201, r.text
    case = case_for_finding(platform, tokens["leader"], r.json()["finding_id"])
    assert case["institution_id"] == inst


def test_complaint_accepted_opens_a_case_and_the_informant_never_leaves_inspection(
        platform, tokens, pii_key):
    marker = f"举报人{uuid.uuid4().hex[:8]}"
    phone = "139" + uuid.uuid4().hex[:8]
    r = platform.call("POST", "inspection", "/api/v1/complaints", tokens["inspector"], json={
        "channel": "web", "real_name": True, "institution_id": "H5101001",
        "institution_name": "成都某医院", "violation_type": "fictitious_service",
        "amount_estimate": "3000.00", "summary": "虚构诊疗项目",
        "informant": {"name": marker, "phone": phone}})
    assert r.status_code == 201, r.text
    c = r.json()
    r = platform.call("POST", "inspection", f"/api/v1/complaints/{c['id']}/decision",
                      tokens["leader"], json={"accepted": True, "reason": "线索具体",
                                              "version": c["version"]})
    assert r.status_code == 200, r.text
    decided = r.json()
    case = case_for_finding(platform, tokens["leader"], decided["finding_id"])
    assert case["amount"] == "3000.00"
    seen = platform.call("GET", "inspection",
                         f"/api/v1/complaints/{c['id']}/informant?purpose=告知受理结果",
                         tokens["inspector"])
    assert seen.status_code == 200 and seen.json()["name"] == marker
    # every complaint event was published (the outbox drained) ...
    with platform.engine("inspection").connect() as conn:
        def drained():
            pending = conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"
                                        " AND subject = :s"), {"s": f"complaint:{c['id']}"}
                                   ).scalar_one()
            conn.rollback()  # a fresh snapshot next time
            return pending == 0
        wait_for(drained, what="complaint events published")
        bodies = [b for (b,) in conn.execute(text(
            "SELECT body FROM outbox WHERE subject = :s ORDER BY sequence"), {"s": f"complaint:{c['id']}"})]
    assert [json.loads(b)["type"] for b in bodies] == ["complaint.received", "complaint.decided"]
    # ... and no trace of the identity in events, the other services' databases or any log
    for b in bodies:
        assert marker not in b and phone not in b
    for svc in ("cases", "notify"):
        with platform.engine(svc).connect() as conn:
            for table in ("processed_events", "dead_letters"):
                dump = json.dumps([list(map(str, row)) for row in conn.execute(
                    text(f"SELECT * FROM {table}"))], ensure_ascii=False)
                assert marker not in dump and phone not in dump
    for log in (platform.workdir / "logs").glob("*.log"):
        content = log.read_text(errors="replace")
        assert marker not in content and phone not in content, log.name


def test_inspection_objects_outside_scope_are_404_and_in_scope_visible(platform, tokens):
    objects = inspection_objects(platform, tokens)
    spec = platform.call("GET", "inspection", "/api/v1/openapi.json").json()
    checked = 0
    for path, ops in spec["paths"].items():
        params = [p for p in objects if "{" + p + "}" in path]
        if len(params) != 1 or path.count("{") != 1 or "get" not in ops:
            continue
        url = path.replace("{" + params[0] + "}", objects[params[0]])
        for who in ("inspector_other_dept", "inspector_other_region", "leader_other_region"):
            r = platform.call("GET", "inspection", url, tokens[who])
            # the access log admits leaders only: other roles get 403 before any scope check
            leaders_only = path.endswith("/access-log") and who.startswith("inspector")
            assert r.status_code == (403 if leaders_only else 404), f"{who} GET {url}: {r.status_code}"
            checked += 1
        for who in ("inspector", "leader"):
            r = platform.call("GET", "inspection", url, tokens[who])
            expected = 403 if (who == "inspector" and path.endswith("/access-log")) else 200
            assert r.status_code == expected, f"{who} GET {url}: {r.status_code} {r.text[:200]}"
            checked += 1
        for who in ("institution", "legal_reviewer", "panel_member", "admin"):
            assert platform.call("GET", "inspection", url, tokens[who]).status_code in (403, 404)
    assert checked >= 5 * 12


def test_concurrent_decisions_on_one_complaint_exactly_one_wins(platform, tokens, pii_key):
    from concurrent.futures import ThreadPoolExecutor
    c = platform.call("POST", "inspection", "/api/v1/complaints", tokens["inspector"], json={
        "channel": "letter", "real_name": False, "institution_id": "H5101001",
        "institution_name": "成都某医院", "summary": "并发测试"}).json()

    def attempt(n):
        return platform.call("POST", "inspection", f"/api/v1/complaints/{c['id']}/decision",
                             tokens["leader"], json={"accepted": n % 2 == 0, "reason": f"第{n}次",
                                                     "version": c["version"]}).status_code
    with ThreadPoolExecutor(10) as pool:
        codes = sorted(pool.map(attempt, range(10)))
    assert codes.count(200) == 1 and set(codes) <= {200, 409}, codes
    with platform.engine("inspection").connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM outbox WHERE subject = :s AND "
                                   "event_type = 'complaint.decided'"),
                              {"s": f"complaint:{c['id']}"}).scalar_one()
    assert events == 1
