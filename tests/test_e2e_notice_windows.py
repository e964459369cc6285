"""One place for each legal number, through the real processes: the cases service runs with an
area override of the defence window (CASES_LEGAL_OVERRIDES) and the institution's prior notice,
rendered by notify from the bus event, states the area's window and the date its clock computed;
the inspectors' state-change notice shows the workflow's label carried by the event."""
from __future__ import annotations

import json

import pytest

from tests.helpers import case_for_finding, inbox_entries, record_finding
from tests.support.platform import Platform, wait_for

pytestmark = pytest.mark.platform

OFFICERS = [{"id": "insp-a", "name": "张三", "credential_no": "川医保执 001"},
            {"id": "insp-b", "name": "李四", "credential_no": "川医保执 002"}]


@pytest.fixture(scope="module")
def area_platform(tmp_path_factory, backend):
    p = Platform(backend, tmp_path_factory.mktemp(f"windows-e2e-{backend}"))
    p.env["CASES_LEGAL_OVERRIDES"] = json.dumps({"defence_window": 3})
    try:
        p.setup().start()
        yield p
    finally:
        p.teardown()


def test_prior_notice_states_the_areas_defence_window_and_the_event_carries_labels(area_platform):
    platform = area_platform
    leader = platform.token("leader", "leader-a", region="510100")
    insp = platform.token("inspector", "insp-a", region="510100", department="稽核一科")
    reviewer = platform.token("legal_reviewer", "lr-a", region="510100")
    inst = platform.token("institution", "inst-a", institution_id="H5101001")
    finding = record_finding(platform, insp, amount="120000.00", act_date="2026-06-01")
    case = case_for_finding(platform, leader, finding["id"])
    fine = {"kind": "fine", "article": "38", "amount": "150000.00"}
    for token, trigger, data in (
            (insp, "start_verification", {}), (leader, "open_case", {"officers": OFFICERS}),
            (insp, "start_investigation", {}), (insp, "submit_report", {"proposal": "sanction", "sanctions": [fine]}),
            (insp, "submit_for_review", {}), (reviewer, "pass_review", {}), (insp, "notify", {})):
        r = platform.call("POST", "cases", f"/api/v1/cases/{case['id']}/transitions", token,
                          json={"trigger": trigger, "version": case["version"], "reason": "依法办理", "data": data})
        assert r.status_code == 200, (trigger, r.text)
        case = r.json()
    file = platform.call("GET", "cases", f"/api/v1/cases/{case['id']}/file", leader).json()
    due = next(d["due_on"] for d in file["deadlines"] if d["kind"] == "defence_window")
    y, m, d = (int(x) for x in due.split("-"))

    prior = wait_for(lambda: next((n for n in inbox_entries(platform, inst, case["id"])
                                   if n["kind"] == "prior_notice"), None), timeout=60, what="prior notice")
    assert f"收到告知书之日起 3 个工作日内，即 {y}年{m}月{d}日 前" in prior["body"]
    assert "5 个工作日内提出陈述" not in prior["body"]
    state = wait_for(lambda: next((n for n in inbox_entries(platform, insp, case["id"])
                                   if n["kind"] == "case_notified"), None), timeout=60, what="state notice")
    assert "「事先告知（陈述申辩）」" in state["body"]
