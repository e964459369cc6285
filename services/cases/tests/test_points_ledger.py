"""Staff points (驾照式记分): identity hashing, scoring after a decided sanction, natural-year
totals, 9 → suspension 1–6 months, 12 → termination with 1- or 3-year bans, restoration caps,
reversal when the decision is annulled or changed. Sources and tags: points/config.py, rules/legal.py."""
from __future__ import annotations

import hashlib
import hmac
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from test_points_kit import ID_A, ID_B, agreement_sanctions, check, person, project, score, served_case, status


def _error(fn):
    from fundguard_cases.points.ledger import PointsError
    with pytest.raises(PointsError) as exc:
        fn()
    return exc.value


# ---- identity ---------------------------------------------------------------------------------------

def test_national_id_is_stored_only_as_a_keyed_hash(sessions, db_url, monkeypatch):
    monkeypatch.setenv("FUNDGUARD_PERSON_ID_KEY", "k" * 40)
    pid = person(sessions, ID_A.lower())  # the check letter is normalised
    with sessions() as s:
        stored = s.execute(text("SELECT id_hash FROM persons WHERE id = :i"), {"i": pid}).scalar()
    assert stored == hmac.new(b"k" * 40, ID_A.encode(), hashlib.sha256).hexdigest()
    raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    assert ID_A.encode() not in raw and ID_A.lower().encode() not in raw


def test_production_refuses_to_hash_without_a_key(monkeypatch):
    from fundguard_cases.points import identity
    monkeypatch.delenv("FUNDGUARD_PERSON_ID_KEY", raising=False)
    monkeypatch.setenv("FUNDGUARD_ENV", "production")
    with pytest.raises(identity.PersonIdKeyMissing):
        identity.hash_person_id(ID_A)
    monkeypatch.setenv("FUNDGUARD_ENV", "development")
    assert len(identity.hash_person_id(ID_A)) == 64


def test_one_record_per_person_nationally(sessions):
    a = person(sessions, ID_A, institution="H5101001")
    assert person(sessions, ID_A, institution="H4401002", region="440100") == a
    assert person(sessions, ID_B) != a


# ---- scoring --------------------------------------------------------------------------------------

def test_points_only_after_a_decided_sanction(desk, sessions):
    pid = person(sessions)
    c = desk.new_case()
    desk.to_reported(c)  # proposed, not decided
    proposed = desk.file(c).stage("proposed")[0].id
    assert _error(lambda: score(sessions, pid, (c, proposed))).code == "sanction_not_decided"
    assert _error(lambda: score(sessions, pid, (c, "no-such-sanction"))).code == "sanction_not_decided"
    case_id, decided = served_case(desk)
    assert score(sessions, pid, (case_id, decided[0])) == 4
    assert _error(lambda: score(sessions, pid, (case_id, decided[0]))).code == "already_scored"
    from fundguard_cases.models import PointsEntry
    with sessions() as s:
        e = s.query(PointsEntry).filter_by(kind="score").one()
        assert (e.case_id, e.sanction_id, e.institution_id) == (case_id, decided[0], "H5101001")


def test_points_from_band_and_responsibility_mapping_is_configurable(desk, sessions):
    from fundguard_cases.points import config, ledger
    cfg = config.settings()
    assert [ledger.points_for("4-6", r, cfg) for r in ("一般", "重要", "主要")] == [4, 5, 6]
    assert ledger.points_for("10-12", "main", cfg) == 12
    bands = {b: {r: hi for r in config.RESPONSIBILITY} for b, (lo, hi) in config.BAND_RANGES.items()}
    local = config.settings(points_overrides={"bands": {"value": bands, "source": "某省细则"}})
    assert ledger.points_for("4-6", "一般", local) == 6
    assert local.points.bands.source == "某省细则" and local.points.bands.default.certainty.value == "U"
    with pytest.raises(ValueError):
        config.config({"bands": {**bands, "1-3": {r: 4 for r in config.RESPONSIBILITY}}})
    err = _error(lambda: ledger.points_for("7-9", "一般", cfg, points=10))
    assert (err.code, err.extra) == ("points_outside_band", {"low": 7, "high": 9})


def test_reaching_9_in_a_year_suspends_for_the_chosen_months(desk, sessions):
    pid = person(sessions)
    s1, s2 = agreement_sanctions(desk, 2)
    score(sessions, pid, s1, "4-6", "主要", on=date(2026, 3, 2))  # 6
    err = _error(lambda: score(sessions, pid, s2, "1-3", "主要", on=date(2026, 4, 1)))
    assert (err.status, err.code, err.extra["low"], err.extra["high"], err.extra["year_total"]) == \
        (422, "suspension_months_required", 1, 6, 9)
    assert _error(lambda: score(sessions, pid, s2, "1-3", "主要", on=date(2026, 4, 1),
                                suspension_months=7)).code == "suspension_months_required"
    score(sessions, pid, s2, "1-3", "主要", on=date(2026, 4, 1), suspension_months=3)
    assert check(sessions, pid, date(2026, 3, 31))["may_bill"] is True
    during = check(sessions, pid, date(2026, 6, 30))
    assert (during["may_bill"], during["reason"], during["suspended_until"]) == (False, "suspended", "2026-07-01")
    assert check(sessions, pid, date(2026, 6, 30), emergency=True)["may_bill"] is True  # 急救/抢救 exempt
    assert check(sessions, pid, date(2026, 7, 1))["may_bill"] is True


def test_points_reset_at_year_end(desk, sessions):
    pid = person(sessions)
    s1, s2 = agreement_sanctions(desk, 2)
    score(sessions, pid, s1, "7-9", "重要", on=date(2026, 12, 30))  # 8 in 2026
    score(sessions, pid, s2, "1-3", "重要", on=date(2027, 1, 4))   # 2 in 2027: no suspension needed
    st = status(sessions, pid, date(2027, 1, 5))
    assert (st["year_points"], st["totals"], st["restrictions"]) == (2, {"2026": 8, "2027": 2}, [])


def test_12_cumulative_terminates_with_a_1_year_ban(desk, sessions):
    pid = person(sessions)
    s1, s2, s3 = agreement_sanctions(desk, 3)
    score(sessions, pid, s1, "4-6", "主要", on=date(2026, 3, 2))
    score(sessions, pid, s2, "1-3", "主要", on=date(2026, 4, 1), suspension_months=1)
    score(sessions, pid, s3, "1-3", "主要", on=date(2026, 6, 1))  # 12: termination, no months asked
    c = check(sessions, pid, date(2026, 9, 1))
    assert (c["may_bill"], c["reason"], c["terminated"], c["reregistration_from"]) == \
        (False, "terminated", True, "2027-06-01")
    assert check(sessions, pid, date(2028, 1, 1))["may_bill"] is False  # until re-registered
    from fundguard_cases.models import Person
    from fundguard_cases.points import ledger
    with sessions() as s, s.begin():
        err = _error(lambda: ledger.reregister(s, s.get(Person, pid), on=date(2027, 5, 31), actor="leader-a"))
        assert (err.code, err.extra["ban_until"]) == ("reregistration_banned", "2027-06-01")
    with sessions() as s, s.begin():
        ledger.reregister(s, s.get(Person, pid), on=date(2027, 6, 1), actor="leader-a")
    assert check(sessions, pid, date(2027, 6, 1))["may_bill"] is True
    assert check(sessions, pid, date(2026, 9, 1))["may_bill"] is False  # history kept


def test_12_at_once_terminates_with_a_3_year_ban(desk, sessions):
    pid = person(sessions)
    [s1] = agreement_sanctions(desk, 1)
    score(sessions, pid, s1, "10-12", "主要", on=date(2026, 3, 2))
    c = check(sessions, pid, date(2026, 3, 2))
    assert (c["may_bill"], c["reason"], c["reregistration_from"]) == (False, "terminated", "2029-03-02")


def test_points_follow_the_person_to_a_new_institution(desk, sessions):
    pid = person(sessions, institution="H5101001")
    s1, s2 = agreement_sanctions(desk, 2)
    score(sessions, pid, s1, "7-9", "重要", on=date(2026, 3, 2))  # 8 at the first institution
    assert person(sessions, institution="H4401002", region="440100") == pid
    st = status(sessions, pid, date(2026, 5, 1))
    assert st["year_points"] == 8 and ("move", 0) in st["entries"]
    err = _error(lambda: score(sessions, pid, s2, "1-3", "一般", on=date(2026, 5, 1)))
    assert err.code == "suspension_months_required"  # 8 + 1 reaches 9 wherever the person works now


def test_restoration_reduces_points_within_the_yearly_cap(desk, sessions):
    from fundguard_cases.models import Person
    from fundguard_cases.points import config, ledger
    pid = person(sessions)
    s1, s2 = agreement_sanctions(desk, 2)
    score(sessions, pid, s1, "7-9", "重要", on=date(2026, 3, 2))  # 8
    with sessions() as s, s.begin():
        p = s.get(Person, pid)
        for _ in range(3):
            ledger.restore(s, p, activity="supervision", on=date(2026, 4, 1), actor="leader-a")  # −2 each
        err = _error(lambda: ledger.restore(s, p, activity="training", on=date(2026, 4, 2), actor="leader-a"))
        assert (err.code, err.extra["cap"], err.extra["used"]) == ("restoration_cap_reached", 6, 6)
        assert _error(lambda: ledger.restore(s, p, activity="karaoke", on=date(2026, 4, 2),
                                             actor="leader-a")).code == "invalid_activity"
    st = status(sessions, pid, date(2026, 4, 2))
    assert (st["year_points"], st["restored_this_year"]) == (2, 6)
    score(sessions, pid, s2, "4-6", "主要", on=date(2026, 5, 1))  # 2 + 6 = 8: still below 9
    # a smaller cap configured by the area
    local = config.settings(points_overrides={"restoration_cap_per_year": 1})
    with sessions() as s, s.begin():
        err = _error(lambda: ledger.restore(s, s.get(Person, pid), activity="training", on=date(2026, 6, 1),
                                            actor="leader-a", cfg=local))
        assert err.code == "restoration_cap_reached"


def test_annulled_decision_removes_the_points_and_the_suspension(desk, sessions):
    pid = person(sessions)
    case_id, decided = served_case(desk)
    [other] = agreement_sanctions(desk, 1)
    score(sessions, pid, other, "4-6", "主要", on=date(2026, 3, 2))  # 6
    score(sessions, pid, (case_id, decided[0]), "1-3", "主要", on=date(2026, 3, 3), suspension_months=2)
    assert check(sessions, pid, date(2026, 4, 1))["may_bill"] is False
    desk.fire(case_id, "file_appeal", "institution", {"kind": "litigation"})
    desk.fire(case_id, "record_appeal_outcome", "leader",
              {"appeal_id": desk.file(case_id).appeals[0].id, "outcome": "annulled"})
    assert project(sessions) >= 2
    st = status(sessions, pid, date(2026, 4, 1))
    assert st["year_points"] == 6 and st["restrictions"] == []
    assert [k for k, _ in st["entries"]] == ["score", "score", "annul"]  # the ledger keeps what happened
    assert check(sessions, pid, date(2026, 4, 1))["may_bill"] is True
    assert project(sessions) == 0  # idempotent


def test_changed_decision_moves_the_points_to_the_changed_sanction(desk, sessions):
    pid = person(sessions)
    case_id, decided = served_case(desk)
    fine_id = next(s.id for s in desk.file(case_id).stage("decided") if s.kind == "fine")
    score(sessions, pid, (case_id, fine_id), "4-6", "重要", on=date(2026, 3, 3))
    desk.fire(case_id, "file_appeal", "institution", {"kind": "administrative_review"})
    better = {"appeal_id": desk.file(case_id).appeals[0].id, "outcome": "changed",
              "sanctions": [{"kind": "fine", "article": "38", "amount": "125000"},
                            {"kind": "order_refund", "article": "38", "amount": "120000.00"}]}
    desk.fire(case_id, "record_appeal_outcome", "leader", better)
    project(sessions)
    new_fine = next(s.id for s in desk.file(case_id).stage("decided") if s.kind == "fine")
    from fundguard_cases.models import PointsEntry
    with sessions() as s:
        rows = s.query(PointsEntry).filter_by(person_id=pid).order_by(PointsEntry.seq).all()
        assert [(r.kind, r.points, r.sanction_id) for r in rows] == [
            ("score", 5, fine_id), ("annul", -5, fine_id), ("score", 5, new_fine)]
    assert status(sessions, pid, date(2026, 4, 1))["year_points"] == 5


def test_the_ledger_is_append_only(desk, sessions):
    import sqlalchemy.exc
    pid = person(sessions)
    [s1] = agreement_sanctions(desk, 1)
    score(sessions, pid, s1)
    for sql in ("UPDATE points_ledger SET points = 0", "DELETE FROM points_ledger"):
        with sessions() as s, pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"):
            s.execute(text(sql))


def test_every_points_number_has_a_source_and_a_tag():
    from dataclasses import fields
    from fundguard_cases.points.config import DEFAULTS
    from fundguard_cases.rules.legal import DEFAULTS as LEGAL
    entries = [getattr(DEFAULTS, f.name) for f in fields(DEFAULTS)]
    entries += [getattr(LEGAL, n) for n in ("points_suspension_threshold", "points_termination_threshold",
                                            "points_suspension", "points_reregistration_ban_cumulative",
                                            "points_reregistration_ban_single_score")]
    assert all(e.source and e.certainty.value in ("V", "S", "U") and e.overridable for e in entries)


def test_annulment_that_moves_the_crossing_flags_the_suspension_for_a_decision(desk, sessions):
    from fundguard_cases.points import ledger
    pid = person(sessions)
    a, b, c, d = agreement_sanctions(desk, 4)
    score(sessions, pid, a, "1-3", "重要", on=date(2026, 3, 2))  # 2
    score(sessions, pid, b, "4-6", "重要", on=date(2026, 3, 3))  # 7
    score(sessions, pid, c, "1-3", "重要", on=date(2026, 3, 4), suspension_months=3)  # 9
    score(sessions, pid, d, "1-3", "重要", on=date(2026, 3, 5))  # 11
    with sessions() as s, s.begin():
        ledger.reverse_sanction(s, a[1], cause="appeal_annulled", on=date(2026, 4, 1), actor="leader-a")
    [r] = status(sessions, pid, date(2026, 4, 1))["restrictions"]
    # d now reaches 9; its scoring chose no months: the minimum applies, flagged for a decision
    assert (r["kind"], r["starts_on"], r["ends_on"], r["needs_decision"]) == ("suspension", "2026-03-05", "2026-04-05", True)


def test_the_endpoints_raw_check_answers_as_the_ledger_check(desk, sessions):
    """``check_raw`` (DB-API, the endpoint's hot path) and ``check`` (SQLAlchemy) agree."""
    from fundguard_cases.models import Person
    from fundguard_cases.points import ledger
    a, b = person(sessions), person(sessions, ID_B)
    x, y, z = agreement_sanctions(desk, 3)
    score(sessions, a, x, "4-6", "主要", on=date(2026, 3, 2))
    score(sessions, a, y, "1-3", "主要", on=date(2026, 3, 2), suspension_months=2)
    score(sessions, b, z, "10-12", "主要", on=date(2026, 3, 2))
    with sessions() as s:
        hashes = [s.get(Person, a).id_hash, s.get(Person, b).id_hash, "0" * 64]
        raw = s.connection().connection.driver_connection
        style = s.get_bind().dialect.paramstyle
        for h in hashes:
            for on in (date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 2)):
                for emergency in (False, True):
                    assert ledger.check_raw(raw, style, h, on, emergency) == ledger.check(s, h, on, emergency)
        assert ledger.check_raw(raw, style, hashes[0], date(2026, 4, 1))["suspended_until"] == "2026-05-02"
        assert ledger.check_raw(raw, style, hashes[1], date(2026, 4, 1))["reregistration_from"] == "2029-03-02"
