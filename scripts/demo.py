"""Demo data and the "where to look" banner for the one-machine run (scripts/up.sh).

Loads through the public HTTP APIs, as a client would: findings are recorded in inspection, the
bus carries them to cases and notify. Idempotent: nothing is loaded twice.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import requests

from fundguard_shared.auth import Principal, issue_token

PORTS = {s: int(os.environ.get(f"{s.upper()}_PORT", d))
         for s, d in (("inspection", 8101), ("cases", 8102), ("notify", 8103))}
BASE = {s: f"http://127.0.0.1:{p}" for s, p in PORTS.items()}

DEMO_USERS = [
    Principal("insp-zhang", "inspector", region="510100", department="稽核一科", name="张检查"),
    Principal("insp-li", "inspector", region="510100", department="稽核二科", name="李检查"),
    Principal("leader-wang", "leader", region="510100", name="王局长"),
    Principal("legal-zhao", "legal_reviewer", region="510100", name="赵法制"),
    Principal("panel-chen", "panel_member", region="510100", name="陈委员"),
    Principal("panel-liu", "panel_member", region="510100", name="刘委员"),
    Principal("panel-sun", "panel_member", region="510100", name="孙委员"),
    Principal("panel-zhou", "panel_member", region="510100", name="周委员"),
    Principal("inst-hx", "institution", institution_id="H5101001", name="成都某某医院"),
    Principal("admin", "admin", name="管理员"),
]

FINDINGS = [
    ("insp-zhang", {"institution_id": "H5101001", "institution_name": "成都某某医院",
                    "violation_type": "split_admission", "amount": "48230.50",
                    "description": "飞行检查发现同一患者15日内因相同诊断再次住院 23 人次；日均在院时长低于6小时 11 人次。",
                    "source": "flight_inspection", "act_date": "2026-03-15"}),
    ("insp-zhang", {"institution_id": "H5101002", "institution_name": "某某区人民医院",
                    "violation_type": "duplicate_charging", "amount": "12880.00",
                    "description": "同时收取「静脉穿刺」与「静脉置管」费用，重复收费 322 次。",
                    "source": "screening", "act_date": "2026-05-02"}),
    ("insp-li", {"institution_id": "P5101009", "institution_name": "某某大药房连锁有限公司",
                 "party_type": "entity", "violation_type": "substitution", "amount": "6320.00",
                 "description": "将医保目录外保健品串换为目录内药品结算。",
                 "source": "complaint", "act_date": "2026-06-20"}),
]


def token(p: Principal) -> str:
    return issue_token(p, os.environ["FUNDGUARD_JWT_SECRET"],
                       os.environ.get("FUNDGUARD_JWT_ISSUER", "fundguard-dev"),
                       os.environ.get("FUNDGUARD_JWT_AUDIENCE", "fundguard"), ttl_seconds=12 * 3600)


def wait_ready(timeout: float = 90) -> None:
    deadline = time.time() + timeout
    for svc, base in BASE.items():
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline:
                sys.exit(f"{svc} did not become ready at {base}")
            time.sleep(0.3)


def load() -> None:
    users = {u.sub: u for u in DEMO_USERS}
    leader = {"Authorization": f"Bearer {token(users['leader-wang'])}"}
    existing = requests.get(f"{BASE['inspection']}/api/v1/findings", headers=leader, timeout=5)
    existing.raise_for_status()
    if existing.json()["total"] > 0:
        print("demo data already loaded / 演示数据已存在")
        return
    for sub, body in FINDINGS:
        r = requests.post(f"{BASE['inspection']}/api/v1/findings", json=body, timeout=5,
                          headers={"Authorization": f"Bearer {token(users[sub])}"})
        r.raise_for_status()
    deadline = time.time() + 30
    while time.time() < deadline:
        cases = requests.get(f"{BASE['cases']}/api/v1/cases", headers=leader, timeout=5).json()
        if cases["total"] >= len(FINDINGS):
            break
        time.sleep(0.2)
    else:
        sys.exit("cases did not appear: is the bus running?")
    first = sorted(cases["items"], key=lambda c: c["created_at"])[0]
    steps = (("start_verification", {}),
             ("open_case", {"officers": [  # 立案: two officers with 执法证 numbers (行政处罚法 art. 42)
                 {"id": "insp-zhang", "name": "张检查", "credential_no": "川医保执 0001"},
                 {"id": "insp-li", "name": "李检查", "credential_no": "川医保执 0002"}]}))
    for trigger, data in steps:
        case = requests.get(f"{BASE['cases']}/api/v1/cases/{first['id']}", headers=leader, timeout=5).json()
        r = requests.post(f"{BASE['cases']}/api/v1/cases/{first['id']}/transitions", headers=leader,
                          json={"trigger": trigger, "version": case["version"], "data": data,
                                "reason": "演示：线索属实，予以立案"}, timeout=5)
        if r.status_code != 200:
            sys.exit(f"demo step {trigger} refused / 演示步骤被拒绝: {r.status_code} {r.text}")
    print(f"demo data loaded: {len(FINDINGS)} findings -> cases / 已载入演示数据")


def banner() -> None:
    var = os.environ.get("FUNDGUARD_VAR_DIR", "var")
    lines = ["", "fundguard is running / 平台已启动:"]
    for svc, base in BASE.items():
        lines.append(f"  {svc:<10} {base}/api/v1/docs  (API docs)  {base}/readyz  {base}/metrics")
    path = os.path.join(var, "demo-tokens.txt")
    with open(path, "w", encoding="utf-8") as fh:
        for u in DEMO_USERS:
            fh.write(f"{u.sub}\t{u.role}\t{token(u)}\n")
    lines.append(f"  demo users and bearer tokens (12 h) / 演示用户令牌: {path}")
    lines.append("  e.g.  curl -H \"Authorization: Bearer $(awk '$1==\"leader-wang\"{print $3}' "
                 f"{path})\" {BASE['cases']}/api/v1/cases")
    lines.append("  Ctrl-C stops the platform / 按 Ctrl-C 停止")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--wait", action="store_true")
    ap.add_argument("--load", action="store_true")
    ap.add_argument("--print", action="store_true")
    a = ap.parse_args()
    if a.wait:
        wait_ready()
    if a.load:
        load()
    if a.print:
        banner()
