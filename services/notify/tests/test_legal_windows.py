"""One place for each legal number: notify keeps no legal window and no copy of the workflow's
state labels. The periods come in the event (`windows`, computed by the cases service's rules for
this deployment), the labels too; an old event without them gets words, never a number."""
from __future__ import annotations

import re
from datetime import date
import tomllib

from fundguard_notify.rules import PACKAGED_RULES, RuleBook
from notify_testkit import WINDOWS, raw_event, sanction_payload, transitioned

BOOK = RuleBook.load()
LEGAL_NUMBER = re.compile(r"\d+ ?个?(工作)?日|\d+ ?个月|\d+ ?%|\d+ ?年内")
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


def institution(notices):
    return next(n for n in notices if n.role == "institution")


def test_no_legal_window_number_in_the_static_text_of_notices_toml():
    section, offenders = None, []
    for no, line in enumerate(PACKAGED_RULES.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#"):
            continue
        header = re.match(r"^\[+([^\]]+)\]+\s*$", line)
        if header:
            section = header.group(1)
            continue
        if section == "legal" or (section or "").startswith("notice."):
            if LEGAL_NUMBER.search(TAG.sub("", line)):
                offenders.append(f"notices.toml:{no} [{section}]: {line.strip()}")
    assert not offenders, "legal numbers belong to cases rules/legal.py:\n" + "\n".join(offenders)


def test_notices_toml_has_no_copy_of_the_state_labels():
    with open(PACKAGED_RULES, "rb") as fh:
        assert "states" not in tomllib.load(fh)


def test_state_labels_come_from_the_event():
    event = transitioned("open_case", "clue_verifying", "opened", to_state_label="已立案（地方称谓）",
                         from_state_label="线索核查")
    notice = next(n for n in BOOK.notices_for(event) if n.role == "inspector")
    assert "已立案（地方称谓）" in notice.title and "「已立案（地方称谓）」" in notice.body


def test_state_label_falls_back_to_the_state_code_for_old_events():
    notice = next(n for n in BOOK.notices_for(transitioned("open_case", "clue_verifying", "opened"))
                  if n.role == "inspector")
    assert "「opened」" in notice.body


def test_prior_notice_quotes_the_defence_window_the_event_carries():
    short = institution(BOOK.notices_for(transitioned(
        "notify", "reviewed", "notified", windows={**WINDOWS, "defence": "3 个工作日"})))
    long = institution(BOOK.notices_for(transitioned(
        "notify", "reviewed", "notified", windows={**WINDOWS, "defence": "7 个工作日"})))
    assert "之日起 3 个工作日内提出陈述、申辩" in short.body
    assert "之日起 7 个工作日内提出陈述、申辩" in long.body


def test_old_events_without_windows_refer_to_the_document_not_a_number():
    prior = institution(BOOK.notices_for(transitioned("notify", "reviewed", "notified")))
    decision = institution(BOOK.notices_for(transitioned("decide", "notified", "decided")))
    payment = institution(BOOK.notices_for(raw_event("sanction.decided", sanction_payload())))
    assert "以告知书载明的期限为准" in prior.body
    assert "以决定书载明的期限为准" in decision.body and "以决定书载明的期限为准" in payment.body
    for notice in (prior, decision, payment):
        without_dates = re.sub(r"\d{4}年\d{1,2}月\d{1,2}日", "", notice.body)
        assert not LEGAL_NUMBER.search(without_dates), notice.body


def test_hearing_requested_quotes_the_hearing_notice_window():
    body = next(n.body for n in BOOK.notices_for(transitioned(
        "request_hearing", "notified", "hearing_requested", windows=WINDOWS)) if n.role == "leader")
    assert "在举行听证的 7 个工作日前通知" in body


def test_service_event_prints_the_payment_due_date():
    from fundguard_notify.rules import RuleBook as _RB  # the [legal] payment sentence directly
    ctx = {"windows": WINDOWS, "payment_due_on": "2026-06-20"}
    text = _RB.load().legal(ctx)["payment"]
    assert "请于 2026年6月20日 前缴纳罚款" in text and "3% 加处罚款" in text


def test_hearing_scheduled_prints_the_hearing_date_the_event_carries():
    body = institution(BOOK.notices_for(transitioned(
        "schedule_hearing", "hearing_requested", "hearing_scheduled", hearing_on=date(2026, 6, 22)))).body
    assert "定于 2026年6月22日 举行听证" in body


def test_payment_overdue_quotes_the_areas_surcharge_rate_the_deadline_event_carries():
    from notify_testkit import deadline_payload
    with_rate = BOOK.notices_for(raw_event("deadline.overdue", deadline_payload(
        "payment", windows={**WINDOWS, "surcharge_rate": "2%"})))
    assert "每日按罚款数额的 2% 加处罚款" in institution(with_rate).body
    without = BOOK.notices_for(raw_event("deadline.overdue", deadline_payload("payment")))
    assert "法定比例" in institution(without).body and "%" not in institution(without).body

