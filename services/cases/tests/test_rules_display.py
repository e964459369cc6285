"""The legal range in words beside every sanction of the case file: computed from the one legal
table, sent by the cases service (clients keep no copy of the numbers)."""
from __future__ import annotations

from datetime import date

from casekit import PEOPLE, Desk, auth
from fundguard_cases import clock
from fundguard_cases.rules.display import range_zh


def test_range_of_a_fine_in_multiples_of_the_loss_names_both_multiples_and_yuan():
    assert range_zh("38", "fine", "48230.50") == "法定幅度 1–2 倍（48,230.50–96,461.00 元）"


def test_range_names_the_chosen_discretion_tier_beside_the_statutory_one():
    assert range_zh("38", "fine", "1000", "lenient") == \
        "法定幅度 1–2 倍（1,000.00–2,000.00 元）；从轻档 1–1.5 倍（1,000.00–1,500.00 元）"


def test_range_of_fixed_amounts_and_durations():
    assert range_zh("39", "fine", "1") == "法定幅度 10,000.00–50,000.00 元"
    assert range_zh("40", "department_suspension", "1") == "法定幅度 6–12 个月"


def test_no_range_where_the_law_sets_no_quantity_or_the_input_names_none():
    assert range_zh("38", "order_refund", "1") is None
    assert range_zh("38", "no_such_kind", "1") is None


def test_case_file_sends_the_range_beside_each_sanction(app, client):
    from fundguard_cases.runtime import runtime
    clock.set_today(date(2026, 3, 2))
    desk = Desk(runtime().sessions)
    c = desk.new_case(amount="120000.00")
    desk.to_reported(c)
    file = client.get(f"/api/v1/cases/{c}/file", headers=auth(PEOPLE["leader"])).json
    by_kind = {s["kind"]: s for s in file["sanctions"]}
    assert by_kind["fine"]["range_zh"] == "法定幅度 1–2 倍（120,000.00–240,000.00 元）"
    assert by_kind["order_refund"]["range_zh"] is None
