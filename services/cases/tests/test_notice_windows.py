"""One place for each legal number: the legal windows and state labels notify quotes travel in the
cases service's events, computed by its rules with the area's overrides (CASES_LEGAL_OVERRIDES).
In process: cases builds the event (service.transition -> outbox), notify's rule book renders it."""
from __future__ import annotations

from datetime import date

import json

import pytest
from sqlalchemy import select

from fundguard_shared.events import parse_event

from fundguard_cases import service
from fundguard_cases.rules import legal
from fundguard_cases.rules.windows import notice_windows, period_zh
from fundguard_cases.workflow import STATES


@pytest.fixture
def area(monkeypatch):
    """Configure this deployment's area overrides (the environment variable the service reads)."""
    def configure(overrides: dict | None):
        if overrides is None:
            monkeypatch.delenv("CASES_LEGAL_OVERRIDES", raising=False)
        else:
            monkeypatch.setenv("CASES_LEGAL_OVERRIDES", json.dumps(overrides))
        service.legal_params.cache_clear()
    yield configure
    service.legal_params.cache_clear()


def outbox(sessions, event_type: str) -> list:
    from fundguard_cases.models import MESSAGING
    t = MESSAGING.outbox
    with sessions() as s:
        bodies = s.execute(select(t.c.body).where(t.c.event_type == event_type).order_by(t.c.id)).scalars().all()
    return [parse_event(b if isinstance(b, (str, bytes)) else json.dumps(b)) for b in bodies]


def transitioned(sessions, trigger: str):
    return [e for e in outbox(sessions, "case.transitioned") if e.payload["trigger"] == trigger][-1]


def test_windows_are_the_legal_table_in_words():
    assert notice_windows() == {"defence": "5 个工作日", "hearing_request": "5 个工作日",
                                "hearing_notice": "7 个工作日", "payment": "15 日", "surcharge_rate": "3%",
                                "review": "60 日", "litigation": "6 个月"}
    assert notice_windows(legal.params({"defence_window": 3}))["defence"] == "3 个工作日"
    assert period_zh(legal.DEFAULTS.limitation) == "2 年"


def test_prior_notice_event_carries_the_areas_defence_window_and_due_dates(desk, sessions, area):
    area({"defence_window": 3})
    case_id = desk.new_case()
    desk.to_notified(case_id)
    event = transitioned(sessions, "notify")
    p = event.payload
    assert p["windows"]["defence"] == "3 个工作日" and p["windows"]["hearing_request"] == "5 个工作日"
    clocks = {d.kind: d.due_on for d in desk.file(case_id).deadlines}
    assert p["defence_due_on"] == clocks["defence_window"]
    assert p["hearing_request_due_on"] == clocks["hearing_request"]
    assert (p["from_state_label"], p["to_state_label"]) == (STATES["reviewed"], STATES["notified"])


def test_notify_renders_the_areas_window_when_cases_has_an_override(desk, sessions, area):
    from fundguard_notify.rules import RuleBook
    area({"defence_window": 3})
    case_id = desk.new_case()
    desk.to_notified(case_id)
    event = transitioned(sessions, "notify")
    # an old-style notice without the due dates: the window phrase itself is printed
    bare = event.__class__(**{**event.__dict__, "payload": {
        k: v for k, v in event.payload.items() if not k.endswith("_due_on")}})
    book = RuleBook.load()
    body = next(n.body for n in book.notices_for(bare) if n.role == "institution")
    assert "之日起 3 个工作日内提出陈述、申辩" in body and "5 个工作日内提出陈述" not in body
    dated = next(n.body for n in book.notices_for(event) if n.role == "institution")
    due = event.payload["defence_due_on"]
    assert f"陈述、申辩期限：收到告知书之日起 3 个工作日内，即 {due.year}年{due.month}月{due.day}日 前" in dated


def test_decision_and_service_events_carry_windows_and_the_clocks_they_start(desk, sessions, area):
    area(None)
    case_id = desk.new_case()
    desk.to_notified(case_id)
    desk.fire(case_id, "waive_rights", "institution")
    desk.fire(case_id, "decide", "leader", {"decision": "sanction", "sanctions": [
        {"kind": "fine", "article": "38", "amount": "150000.00"}]})
    decide = transitioned(sessions, "decide").payload
    assert decide["windows"]["review"] == "60 日" and decide["windows"]["litigation"] == "6 个月"
    assert decide["service_due_on"] is not None and decide["to_state_label"] == STATES["decided"]
    [fine] = [e for e in outbox(sessions, "sanction.decided") if e.payload["kind"] == "fine"]
    assert fine.payload["windows"]["payment"] == "15 日" and fine.payload["windows"]["surcharge_rate"] == "3%"
    desk.fire(case_id, "serve", "inspector")
    serve = transitioned(sessions, "serve").payload
    clocks = {d.kind: d.due_on for d in desk.file(case_id).deadlines}
    assert serve["payment_due_on"] == clocks["payment"] and serve["windows"]["payment"] == "15 日"


def test_case_opened_carries_the_state_label(desk, sessions):
    desk.new_case()
    [opened] = outbox(sessions, "case.opened")
    assert opened.payload["state_label"] == STATES["clue_registered"]


def test_steps_without_a_legal_notice_carry_no_windows(desk, sessions):
    case_id = desk.new_case()
    desk.fire(case_id, "start_verification", "inspector")
    p = transitioned(sessions, "start_verification").payload
    assert p["windows"] == {} and p["to_state_label"] == STATES["clue_verifying"]


def test_deadline_events_carry_the_areas_windows(monkeypatch):
    """A reminder's event carries the windows from the same rules/windows.py function."""
    from fundguard_cases import service
    from fundguard_cases.deadlines import _payload
    from fundguard_cases.models import Case, Deadline
    monkeypatch.setenv("CASES_LEGAL_OVERRIDES", '{"defence_window": 3}')
    service.legal_params.cache_clear()
    try:
        case = Case(id="c1", number="X-1", institution_id="H1", region="510100", department="稽核一科")
        dl = Deadline(id="d1", case_id="c1", kind="payment", due_on=date(2026, 6, 19), status="running")
        payload = _payload(dl, case)
        assert payload["windows"]["defence"] == "3 个工作日" and payload["windows"]["surcharge_rate"] == "3%"
    finally:
        service.legal_params.cache_clear()
