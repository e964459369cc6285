"""Institution standing projected from sanction.decided: 签约 / 中止 / 解除 with dates and reason,
active suspensions, re-application bans after 解除 (points/config.py, [U] 令第2号), history;
in_force=false (appeal annulled/changed) takes a sanction back out."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from test_points_kit import project, served_case

INST = "H5101001"


@pytest.fixture(autouse=True)
def _release_clock():
    yield
    from fundguard_cases import clock
    clock.set_today(None)


def _standing(sessions, on, institution=INST):
    from fundguard_cases.points import standing
    with sessions() as s:
        return standing.standing(s, institution, on)


def _event(sessions, kind, decided_on, in_force=True, sanction_id=None, months=None, cause="agreement"):
    from fundguard_cases.points import standing
    sid = sanction_id or str(uuid.uuid4())
    payload = {"sanction_id": sid, "case_id": "c-1", "case_number": "510100-2026-0001", "institution_id": INST,
               "institution_name": "成都某某医院", "party_type": "entity", "region": "510100", "department": "稽核一科",
               "track": "agreement", "kind": kind, "article": "agreement", "amount": None, "months": months,
               "years": None, "tier": None, "decided_on": decided_on, "cause": cause, "in_force": in_force}
    with sessions() as s, s.begin():
        standing.apply_event(s, str(uuid.uuid4()), payload)
    return sid


def test_unknown_institution_has_no_standing(sessions):
    assert _standing(sessions, date(2026, 3, 2)) is None


def test_agreement_suspension_is_active_for_its_months_then_signed_again(desk, sessions):
    c = desk.new_case()
    desk.to_investigating(c)
    desk.fire(c, "agreement_action", "leader", {"kind": "suspend_agreement", "months": 3}, reason="中止服务协议")
    desk.fire(c, "agreement_action", "leader", {"kind": "suspend_payment", "months": 2}, reason="暂停拨付")
    assert project(sessions) == 2
    st = _standing(sessions, date(2026, 4, 1))
    assert (st["agreement_status"], st["agreement_status_label"], st["status_since"]) == ("suspended", "中止", "2026-03-02")
    assert [(x["kind"], x["ends_on"]) for x in st["active_suspensions"]] == [
        ("suspend_agreement", "2026-06-02"), ("suspend_payment", "2026-05-02")]
    later = _standing(sessions, date(2026, 6, 2))
    assert (later["agreement_status"], later["active_suspensions"]) == ("signed", [])
    assert len(later["history"]) == 2


def test_termination_bans_reapplication_for_the_configured_years(sessions):
    _event(sessions, "terminate_agreement", date(2026, 3, 2))
    st = _standing(sessions, date(2026, 3, 2))
    assert (st["agreement_status"], st["agreement_status_label"], st["reapplication_banned_until"]) == \
        ("terminated", "解除", "2029-03-02")
    assert _standing(sessions, date(2029, 3, 2))["reapplication_banned_until"] is None
    assert _standing(sessions, date(2026, 3, 1))["agreement_status"] == "signed"


def test_annulled_sanction_leaves_the_standing(sessions):
    sid = _event(sessions, "terminate_agreement", date(2026, 3, 2))
    _event(sessions, "terminate_agreement", date(2026, 5, 2), in_force=False, sanction_id=sid, cause="appeal_annulled")
    st = _standing(sessions, date(2026, 6, 1))
    assert st["agreement_status"] == "signed" and st["reapplication_banned_until"] is None
    assert all(h["withdrawn"] for h in st["history"])


def test_penalty_decisions_appear_in_the_history(desk, sessions):
    case_id, decided = served_case(desk)
    project(sessions)
    st = _standing(sessions, date(2026, 3, 3))
    assert st["agreement_status"] == "signed"
    assert {h["kind"] for h in st["history"]} == {"fine", "order_refund"}
    assert project(sessions) == 0


# ---- credit tier (信用等级) and standing events -------------------------------------------------------

def test_credit_tier_is_a_configurable_function_of_the_standing():
    from fundguard_cases.points import config
    from fundguard_cases.points.standing import credit_tier
    cfg = config.settings()
    assert credit_tier("terminated", False, True, cfg) == ("D", "terminated")
    assert credit_tier("signed", True, True, cfg) == ("C", "suspended")
    assert credit_tier("signed", False, True, cfg) == ("B", "sanctioned_recently")
    assert credit_tier("signed", False, False, cfg) == ("A", "always")
    assert cfg.points.credit_tiers.certainty.value == "U" and "[NF]" in cfg.points.credit_tiers.source
    local = config.settings(points_overrides={"credit_tiers": {"value": [["差", "terminated"], ["好", "always"]],
                                                              "source": "某市定点机构信用评价办法"}})
    assert credit_tier("signed", True, True, local) == ("好", "always")
    assert local.points.credit_tiers.source == "某市定点机构信用评价办法"
    with pytest.raises(ValueError):
        config.config({"credit_tiers": [["A", "suspended"]]})  # must end with 'always'


def test_every_standing_change_is_announced_with_its_credit_tier(desk, sessions):
    from fundguard_cases import clock
    from test_points_kit import events
    clock.set_today(date(2026, 3, 2))
    c = desk.new_case()
    desk.to_investigating(c)
    desk.fire(c, "agreement_action", "leader", {"kind": "suspend_payment", "months": 2}, reason="暂停拨付")
    desk.fire(c, "agreement_action", "leader", {"kind": "liquidated_damages", "amount": "5000"}, reason="违约金")
    assert project(sessions) == 2
    st = _standing(sessions, date(2026, 3, 2))
    assert (st["credit_tier"], st["credit_tier_rule"]) == ("C", "suspended")
    changed = [p for k, p in events(sessions, "standing.") if k == "standing.changed"]
    assert [(p["credit_tier"], p["previous_tier"], p["cause"]) for p in changed] == [("C", None, "sanction.agreement")]
    assert changed[0]["active_suspensions"] == ["suspend_payment"] and changed[0]["institution_id"] == INST
    from fundguard_cases.points import procedure
    with sessions() as s, s.begin():
        procedure.tick(s, date(2026, 4, 1))
    assert len(events(sessions, "standing.")) == 1  # nothing changed yet
    with sessions() as s, s.begin():
        procedure.tick(s, date(2026, 5, 2))  # the suspension ran out: sanctioned within the lookback → B
    last = events(sessions, "standing.")[-1][1]
    assert (last["credit_tier"], last["previous_tier"], last["cause"], last["active_suspensions"]) == \
        ("B", "C", "calendar", [])
    assert _standing(sessions, date(2027, 3, 3))["credit_tier"] == "A"  # outside the 12-month lookback


def test_an_annulled_termination_announces_the_restored_standing(sessions):
    from fundguard_cases import clock
    from test_points_kit import events
    clock.set_today(date(2026, 3, 2))
    sid = _event(sessions, "terminate_agreement", date(2026, 3, 2))
    _event(sessions, "terminate_agreement", date(2026, 3, 2), in_force=False, sanction_id=sid, cause="appeal_annulled")
    changed = [p for _, p in events(sessions, "standing.")]
    assert [(p["agreement_status"], p["credit_tier"]) for p in changed] == [("terminated", "D"), ("signed", "A")]
    assert changed[0]["reapplication_banned_until"] == "2029-03-02"


def test_upgrade_starts_the_bus_consumer_where_the_outbox_projector_stopped(tmp_path):
    """Migration 0005: the cases consumer's position on each sanction subject starts at the last
    sequence the old outbox projector applied, so the next bus event of that case is applied,
    not parked behind a gap."""
    from sqlalchemy import create_engine, text
    from fundguard_shared.migrate import upgrade
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade("fundguard_cases", url, "0004")
    engine = create_engine(url)
    with engine.begin() as c:
        for oid, seq in ((1, 1), (2, 2)):
            c.execute(text("INSERT INTO outbox (id, event_id, event_type, subject, sequence, body, created_at, attempts) "
                           "VALUES (:i, :e, 'sanction.decided', 'sanction:c-1', :s, '{}', '2026-03-02', 0)"),
                      {"i": oid, "e": f"e-{oid}", "s": seq})
            c.execute(text("INSERT INTO standing_events (event_id, outbox_id, institution_id, case_id, case_number, "
                           "sanction_id, track, kind, article, decided_on, cause, in_force, recorded_at) VALUES "
                           "(:e, :i, 'H1', 'c-1', 'N', :e, 'agreement', 'fine', '38', '2026-03-02', 'agreement', 1, "
                           "'2026-03-02')"), {"e": f"e-{oid}", "i": oid})
    upgrade("fundguard_cases", url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT consumer, producer, subject, last_sequence FROM subject_positions")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("cases", "cases", "sanction:c-1", 2)]
