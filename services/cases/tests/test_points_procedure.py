"""The procedure around a score (points/procedure.py): notice and 陈述申辩 before the points are
entered (window in working days, [U] configuration), waiver, a decision on the defence that may
never raise the points, entry after the window lapses, due dates that are not computable while
a year's calendar is not loaded; 复核 within the configured window afterwards, an upheld
objection reversing the entry (append-only). Every change is an event for notify."""
from __future__ import annotations

from datetime import date

import pytest

from fundguard_shared.workdays import WorkdayCalendar

from test_points_kit import agreement_sanctions, events, person, score, status

MON = date(2026, 3, 2)


def _error(fn):
    from fundguard_cases.points.ledger import PointsError
    with pytest.raises(PointsError) as exc:
        fn()
    return exc.value


def _propose(sessions, pid, case_sanction, on=MON, band="4-6", responsibility="主要", **kw):
    from fundguard_cases.models import Case, Person
    from fundguard_cases.points import procedure
    with sessions() as s, s.begin():
        from fundguard_cases.deadlines import calendar_for
        p = procedure.propose(s, s.get(Person, pid), s.get(Case, case_sanction[0]), sanction_id=case_sanction[1],
                              band=band, responsibility=responsibility, on=on, actor="leader-a",
                              reason="对违规行为负主要责任", cal=calendar_for(s), **kw)
        return p.id


def _run(sessions, fn_name, proposal_id, **kw):
    from fundguard_cases.models import Person
    from fundguard_cases.points import procedure
    from fundguard_cases.points.models import PointsProposal
    with sessions() as s, s.begin():
        p = s.get(PointsProposal, proposal_id)
        out = getattr(procedure, fn_name)(s, p, s.get(Person, p.person_id), actor=kw.pop("actor", "inst-a"), **kw)
        return {"status": out.status, "outcome": out.outcome, "scored_points": out.scored_points}


def _proposal(sessions, proposal_id):
    from fundguard_cases.points.models import PointsProposal
    with sessions() as s:
        p = s.get(PointsProposal, proposal_id)
        s.expunge(p)
        return p


def _tick(sessions, on):
    from fundguard_cases.points import procedure
    with sessions() as s, s.begin():
        return procedure.tick(s, on)


# ---- before scoring ------------------------------------------------------------------------------

def test_a_proposed_score_is_notified_with_the_defence_window_and_enters_nothing(desk, sessions):
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    prop = _propose(sessions, pid, cs)
    p = _proposal(sessions, prop)
    assert (p.status, p.points, p.defence_working_days) == ("notified", 6, 5)
    assert p.defence_due_on == WorkdayCalendar().add_working_days(MON, 5) == date(2026, 3, 9)
    assert status(sessions, pid, MON)["entries"] == []
    [(kind, payload)] = events(sessions)
    assert kind == "points.proposed"
    assert (payload["points"], payload["defence_due_on"], payload["institution_id"], payload["reason"]) == \
        (6, "2026-03-09", "H5101001", "对违规行为负主要责任")
    assert _error(lambda: _propose(sessions, pid, cs)).code == "already_proposed"


def test_the_defence_window_is_configurable_in_working_days():
    from fundguard_cases.points import config
    assert config.DEFAULTS.defence_window.certainty.value == "U"
    assert config.DEFAULTS.defence_window.unit == "working_days"
    assert config.config({"defence_window": 3}).defence_window.value == 3
    with pytest.raises(ValueError):
        config.config({"defence_window": 0})


def test_points_are_entered_only_after_the_window_lapses(desk, sessions):
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    prop = _propose(sessions, pid, cs)
    assert _tick(sessions, date(2026, 3, 9))["entered"] == 0  # the last day of the window
    assert status(sessions, pid, date(2026, 3, 9))["year_points"] == 0
    assert _tick(sessions, date(2026, 3, 10))["entered"] == 1
    p = _proposal(sessions, prop)
    assert (p.status, p.outcome, p.scored_on) == ("scored", "lapsed", date(2026, 3, 10))
    assert status(sessions, pid, date(2026, 3, 10))["year_points"] == 6
    assert _tick(sessions, date(2026, 3, 11))["entered"] == 0


def test_a_waiver_enters_the_points_at_once(desk, sessions):
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    prop = _propose(sessions, pid, cs)
    assert _run(sessions, "waive", prop, on=MON) == {"status": "scored", "outcome": "waived", "scored_points": 6}
    assert [k for k, _ in events(sessions)] == ["points.proposed", "points.scored"]


def test_a_defence_after_the_window_is_refused_naming_the_window(desk, sessions):
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    prop = _propose(sessions, pid, cs)
    err = _error(lambda: _run(sessions, "file_defence", prop, statement="不负主要责任", on=date(2026, 3, 10)))
    assert (err.status, err.code) == (422, "defence_window_closed")
    assert (err.extra["window_ends_on"], err.extra["working_days"]) == ("2026-03-09", 5)
    assert "5 个工作日" in err.zh and "2026-03-09" in err.zh


def test_the_defence_may_never_raise_the_points(desk, sessions):
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    prop = _propose(sessions, pid, cs)
    _run(sessions, "file_defence", prop, statement="仅负一般责任", on=date(2026, 3, 4))
    assert _tick(sessions, date(2026, 3, 20))["entered"] == 0  # a filed defence waits for a decision
    for pts in (6, 7):
        err = _error(lambda: _run(sessions, "decide", prop, outcome="reduce", points=pts, reason="r",
                                  on=date(2026, 3, 12), actor="leader-a"))
        assert err.code in ("defence_may_not_aggravate", "points_outside_band") and err.status == 422
    out = _run(sessions, "decide", prop, outcome="reduce", points=4, responsibility="一般", reason="申辩成立，减为一般责任",
               on=date(2026, 3, 12), actor="leader-a")
    assert out == {"status": "scored", "outcome": "reduce", "scored_points": 4}
    assert status(sessions, pid, date(2026, 3, 12))["year_points"] == 4
    assert [k for k, _ in events(sessions)] == ["points.proposed", "points.defence_filed", "points.scored",
                                                "points.defence_decided"]


def test_an_accepted_defence_can_drop_the_score(desk, sessions):
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    prop = _propose(sessions, pid, cs)
    err = _error(lambda: _run(sessions, "decide", prop, outcome="drop", reason="r", on=MON, actor="leader-a"))
    assert err.code == "defence_window_open"
    _run(sessions, "file_defence", prop, statement="当日不在岗", on=MON)
    assert _run(sessions, "decide", prop, outcome="drop", reason="申辩成立", on=MON, actor="leader-a")["status"] == "dropped"
    assert status(sessions, pid, MON)["entries"] == []


def test_a_window_in_a_year_without_calendar_is_not_computable_until_loaded(desk, sessions):
    from fundguard_cases.deadlines import load_calendar_year
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    prop = _propose(sessions, pid, cs, on=date(2026, 12, 28))
    p = _proposal(sessions, prop)
    assert p.defence_due_on is None and "2027" in p.due_note
    assert _tick(sessions, date(2027, 2, 1))["entered"] == 0  # never guessed
    with sessions() as s, s.begin():
        load_calendar_year(s, {"year": 2027, "holidays": ["2027-01-01"], "workdays": [], "source": "国办发明电（测试）"},
                           "admin-a")
    counts = _tick(sessions, date(2027, 2, 1))
    assert (counts["computed"], counts["entered"]) == (1, 1)
    assert _proposal(sessions, prop).defence_due_on == date(2027, 1, 5)  # 12-29, 12-30, 12-31, 01-04, 01-05


# ---- after scoring: 复核 ---------------------------------------------------------------------------

def _object(sessions, pid, seq, on, **kw):
    from fundguard_cases.deadlines import calendar_for
    from fundguard_cases.models import Person
    from fundguard_cases.points import procedure
    with sessions() as s, s.begin():
        return procedure.file_objection(s, s.get(Person, pid), entry_seq=seq, grounds="记分依据有误", on=on,
                                        actor="inst-a", cal=calendar_for(s), **kw).id


def _decide_objection(sessions, oid, outcome, on, points=None):
    from fundguard_cases.models import Person
    from fundguard_cases.points import procedure
    from fundguard_cases.points.models import PointsObjection
    with sessions() as s, s.begin():
        o = s.get(PointsObjection, oid)
        return procedure.decide_objection(s, o, s.get(Person, o.person_id), outcome=outcome, on=on, actor="leader-a",
                                          reason="复核", points=points).status


def test_an_objection_outside_the_window_is_refused_naming_the_window(desk, sessions):
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    score(sessions, pid, cs, on=MON)
    err = _error(lambda: _object(sessions, pid, 1, date(2026, 3, 18)))  # 15 days from 03-02 end 03-17 (Tue)
    assert (err.status, err.code, err.extra["window_ends_on"], err.extra["window"]) == \
        (422, "objection_out_of_window", "2026-03-17", 15)
    assert "2026-03-17" in err.zh
    assert _object(sessions, pid, 1, date(2026, 3, 17))


def test_an_upheld_objection_removes_the_points_by_a_reversing_entry(desk, sessions):
    pid = person(sessions)
    a, b = agreement_sanctions(desk, 2)
    score(sessions, pid, a, "4-6", "主要", on=MON)  # 6
    score(sessions, pid, b, "1-3", "主要", on=MON, suspension_months=3)  # 9: suspended
    oid = _object(sessions, pid, 2, date(2026, 3, 5))
    assert _error(lambda: _object(sessions, pid, 2, date(2026, 3, 5))).code == "objection_pending"
    assert _decide_objection(sessions, oid, "annul", date(2026, 3, 10)) == "annulled"
    st = status(sessions, pid, date(2026, 3, 10))
    assert st["year_points"] == 6 and st["restrictions"] == []
    assert st["entries"] == [("score", 6), ("score", 3), ("annul", -3)]
    kinds = [k for k, _ in events(sessions)]
    assert kinds[-4:] == ["points.objection_filed", "points.reversed", "points.suspension_ended",
                          "points.objection_decided"]


def test_a_changed_objection_enters_fewer_points_never_more(desk, sessions):
    pid = person(sessions)
    [a] = agreement_sanctions(desk, 1)
    score(sessions, pid, a, "4-6", "主要", on=MON)  # 6
    oid = _object(sessions, pid, 1, date(2026, 3, 5))
    assert _error(lambda: _decide_objection(sessions, oid, "change", MON, points=7)).code == "objection_may_not_aggravate"
    assert _decide_objection(sessions, oid, "change", date(2026, 3, 6), points=4) == "changed"
    st = status(sessions, pid, date(2026, 3, 6))
    assert st["year_points"] == 4 and st["entries"] == [("score", 6), ("annul", -6), ("score", 4)]
    assert _error(lambda: _decide_objection(sessions, oid, "reject", MON)).code == "objection_decided"


def test_a_rejected_objection_keeps_the_points(desk, sessions):
    pid = person(sessions)
    [a] = agreement_sanctions(desk, 1)
    score(sessions, pid, a, on=MON)
    oid = _object(sessions, pid, 1, date(2026, 3, 5))
    assert _decide_objection(sessions, oid, "reject", date(2026, 3, 6)) == "rejected"
    assert status(sessions, pid, date(2026, 3, 6))["year_points"] == 4
    assert events(sessions)[-1][1]["outcome"] == "reject"


# ---- events: every restriction change once ------------------------------------------------------------

def test_suspension_start_and_end_are_announced_once(desk, sessions):
    pid = person(sessions)
    a, b = agreement_sanctions(desk, 2)
    score(sessions, pid, a, "4-6", "主要", on=MON)
    score(sessions, pid, b, "1-3", "主要", on=MON, suspension_months=1)
    started = [p for k, p in events(sessions) if k == "points.suspension_started"]
    assert [p["suspended_until"] for p in started] == ["2026-04-02"]
    assert _tick(sessions, date(2026, 4, 1))["announced"] == 0
    assert _tick(sessions, date(2026, 4, 2))["announced"] == 1
    assert _tick(sessions, date(2026, 4, 3))["announced"] == 0
    ended = [p for k, p in events(sessions) if k == "points.suspension_ended"]
    assert [(p["suspended_until"], p["institution_id"]) for p in ended] == [("2026-04-02", "H5101001")]


def test_twelve_points_announce_the_termination(desk, sessions):
    pid = person(sessions)
    [a] = agreement_sanctions(desk, 1)
    score(sessions, pid, a, "10-12", "主要", on=MON)
    [(kind, payload)] = [(k, p) for k, p in events(sessions) if k == "points.terminated"]
    assert payload["ban_until"] == "2029-03-02"


def test_an_annulled_decision_withdraws_the_open_proposal(desk, sessions):
    from test_points_kit import project, served_case
    pid = person(sessions)
    case_id, decided = served_case(desk)
    prop = _propose(sessions, pid, (case_id, decided[0]))
    desk.fire(case_id, "file_appeal", "institution", {"kind": "litigation"})
    desk.fire(case_id, "record_appeal_outcome", "leader",
              {"appeal_id": desk.file(case_id).appeals[0].id, "outcome": "annulled"})
    assert project(sessions) >= 1
    p = _proposal(sessions, prop)
    assert (p.status, p.outcome) == ("dropped", "withdrawn")
    assert _tick(sessions, date(2026, 4, 1))["entered"] == 0
    assert status(sessions, pid, date(2026, 4, 1))["entries"] == []


def test_the_defence_window_counts_working_days_over_a_holiday(desk, sessions):
    """5 working days from Tue 2026-09-29 run over the National Day holiday to 2026-10-12."""
    pid = person(sessions)
    [cs] = agreement_sanctions(desk, 1)
    assert _proposal(sessions, _propose(sessions, pid, cs, on=date(2026, 9, 29))).defence_due_on == date(2026, 10, 12)
