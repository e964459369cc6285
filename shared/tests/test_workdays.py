"""Working-day calendar: 调休, holidays, art.85 counting, unloaded years, admin-loaded tables."""

import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fundguard_shared.workdays import (
    CalendarNotLoaded,
    WorkdayCalendar,
    YearTable,
    add_months,
    load_year_table,
)

CAL = WorkdayCalendar()

TABLE_2027 = {
    "year": 2027,
    "holidays": ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-08", "2027-02-09"],
    "workdays": ["2027-02-07"],
    "source": "国务院办公厅关于2027年部分节假日安排的通知（测试数据）",
}


def calendar_2027() -> WorkdayCalendar:
    return WorkdayCalendar({2027: load_year_table(json.dumps(TABLE_2027))})


# --- 调休 and holidays from the package -------------------------------------------------------


def test_tiaoxiu_sunday_2025_09_28_is_working_day():
    assert date(2025, 9, 28).weekday() == 6
    assert CAL.is_working_day(date(2025, 9, 28))


def test_tiaoxiu_saturday_2025_10_11_is_working_day():
    assert date(2025, 10, 11).weekday() == 5
    assert CAL.is_working_day(date(2025, 10, 11))


def test_ordinary_saturday_is_rest_day():
    assert date(2025, 9, 27).weekday() == 5
    assert not CAL.is_working_day(date(2025, 9, 27))


def test_national_day_2026_10_01_is_holiday_although_a_weekday():
    assert date(2026, 10, 1).weekday() == 3
    assert not CAL.is_working_day(date(2026, 10, 1))


# --- counting (行政处罚法 art.85: start day not counted) ----------------------------------------


def test_start_day_is_not_counted():
    monday = date(2025, 3, 3)
    assert CAL.add_working_days(monday, 1) == date(2025, 3, 4)
    assert CAL.add_working_days(monday, 5) == date(2025, 3, 10)


def test_five_working_days_across_national_day_2025_skip_holiday_and_use_tiaoxiu_saturday():
    # 10-01..10-08 off; 10-09 (1), 10-10 (2), Sat 10-11 调休 (3), 10-13 (4), 10-14 (5)
    assert CAL.add_working_days(date(2025, 9, 30), 5) == date(2025, 10, 14)
    # Sun 09-28 调休 (1), 09-29 (2), 09-30 (3), 10-09 (4), 10-10 (5)
    assert CAL.add_working_days(date(2025, 9, 26), 5) == date(2025, 10, 10)


def test_five_working_days_across_national_day_2026():
    # 10-01..10-07 off; 10-08 (1), 10-09 (2), Sat 10-10 调休 (3), 10-12 (4), 10-13 (5)
    assert CAL.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_negative_working_days_count_backwards_over_holidays():
    assert CAL.add_working_days(date(2025, 10, 9), -1) == date(2025, 9, 30)


def test_working_days_between_excludes_start_and_includes_end():
    assert CAL.working_days_between(date(2025, 9, 30), date(2025, 10, 14)) == 5
    assert CAL.working_days_between(date(2025, 10, 14), date(2025, 9, 30)) == -5
    assert CAL.working_days_between(date(2025, 10, 1), date(2025, 10, 8)) == 0


@given(
    start=st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 11, 30)),
    n=st.integers(min_value=0, max_value=20),
)
def test_working_days_between_inverts_add_working_days(start, n):
    end = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, end) == n
    if n:
        assert CAL.is_working_day(end)


# --- months and calendar-day periods ---------------------------------------------------------


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (date(2025, 8, 31), 6, date(2026, 2, 28)),  # clamp to month end
        (date(2023, 8, 31), 6, date(2024, 2, 29)),  # leap year
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # 1 year from 29 Feb
        (date(2025, 3, 15), 60, date(2030, 3, 15)),  # 5 years, no calendar needed
        (date(2025, 11, 30), 3, date(2026, 2, 28)),  # crosses a year
    ],
)
def test_add_months_keeps_day_number_and_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected
    assert CAL.add_months(start, months) == expected


def test_calendar_day_period_ending_on_holiday_ends_on_next_working_day():
    # 2025-09-16 + 15 days = 2025-10-01 (National Day) → first working day 2025-10-09
    assert CAL.add_calendar_days(date(2025, 9, 16), 15) == date(2025, 10, 1)
    assert CAL.period_end(date(2025, 9, 16), 15, "calendar_days") == date(2025, 10, 9)


def test_calendar_day_period_ending_on_tiaoxiu_saturday_does_not_move():
    assert CAL.period_end(date(2025, 9, 26), 15, "calendar_days") == date(2025, 10, 11)


def test_calendar_day_period_ending_on_ordinary_sunday_moves_to_monday():
    assert CAL.period_end(date(2025, 9, 28), 14, "calendar_days") == date(2025, 10, 13)


def test_month_period_ending_on_tiaoxiu_saturday_does_not_move():
    assert CAL.period_end(date(2025, 8, 31), 6, "months") == date(2026, 2, 28)


def test_month_period_ending_on_sunday_moves_to_monday():
    assert CAL.period_end(date(2025, 3, 1), 12, "months") == date(2026, 3, 2)


def test_working_day_period_end_is_add_working_days():
    assert CAL.period_end(date(2025, 9, 30), 5, "working_days") == date(2025, 10, 14)


def test_unknown_period_unit_rejected():
    with pytest.raises(ValueError, match="weeks"):
        CAL.period_end(date(2025, 1, 1), 2, "weeks")


# --- years without a calendar: never guess ---------------------------------------------------


def test_date_in_unloaded_2027_raises_calendar_not_loaded():
    with pytest.raises(CalendarNotLoaded) as caught:
        CAL.is_working_day(date(2027, 1, 4))
    assert caught.value.year == 2027
    assert str(caught.value) == "2027 年工作日历未加载 / calendar for 2027 not loaded"


def test_working_day_deadline_crossing_into_unloaded_year_raises():
    with pytest.raises(CalendarNotLoaded):
        CAL.add_working_days(date(2026, 12, 28), 10)


def test_calendar_period_ending_in_unloaded_year_raises():
    with pytest.raises(CalendarNotLoaded):
        CAL.period_end(date(2026, 12, 15), 60, "calendar_days")


def test_year_before_package_coverage_is_not_guessed_either():
    with pytest.raises(CalendarNotLoaded):
        CAL.is_working_day(date(2003, 5, 6))


# --- admin-loaded tables ---------------------------------------------------------------------


def test_loaded_2027_table_gives_holidays_tiaoxiu_and_ordinary_days():
    cal = calendar_2027()
    assert not cal.is_working_day(date(2027, 1, 1))  # listed holiday (Friday)
    assert cal.is_working_day(date(2027, 2, 7))  # listed 调休 Sunday
    assert not cal.is_working_day(date(2027, 1, 2))  # ordinary Saturday
    assert cal.is_working_day(date(2027, 1, 4))  # ordinary Monday


def test_loaded_2027_table_lets_deadlines_cross_the_year():
    # 2026-12-31 (1), 2027-01-01 holiday, weekend, 01-04 (2), 01-05 (3)
    assert calendar_2027().add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)


def test_table_keeps_its_source():
    assert load_year_table(TABLE_2027).source.startswith("国务院办公厅")


def test_table_for_a_year_covered_by_the_package_is_refused():
    table = load_year_table({**TABLE_2027, "year": 2026, "holidays": ["2026-10-01"], "workdays": []})
    with pytest.raises(ValueError, match="2026"):
        WorkdayCalendar({2026: table})


def test_table_filed_under_the_wrong_year_is_refused():
    with pytest.raises(ValueError, match="2028"):
        WorkdayCalendar({2028: load_year_table(TABLE_2027)})


@pytest.mark.parametrize(
    "change, message",
    [
        ({"source": ""}, "source must name"),
        ({"source": None}, "source must name"),
        ({"year": "2027"}, "year must be"),
        ({"year": True}, "year must be"),
        ({"holidays": []}, "holidays may not be empty"),
        ({"holidays": "2027-01-01"}, "holidays must be a list"),
        ({"holidays": ["2027/01/01"]}, "not a YYYY-MM-DD date"),
        ({"holidays": ["2027-02-30"]}, "not a valid date"),
        ({"holidays": ["2028-01-01"]}, "not in 2027"),
        ({"holidays": ["2027-01-01", "2027-01-01"]}, "duplicate"),
        ({"workdays": ["2027-01-01"]}, "both a holiday and a working day"),
        ({"workdays": ["2027-02-10"]}, "not weekend days"),
        ({"holiday": ["2027-01-01"]}, "unknown keys"),
    ],
)
def test_invalid_year_table_rejected_with_clear_message(change, message):
    with pytest.raises(ValueError, match=message):
        load_year_table({**TABLE_2027, **change})


def test_table_missing_a_key_rejected():
    document = {k: v for k, v in TABLE_2027.items() if k != "workdays"}
    with pytest.raises(ValueError, match="missing keys"):
        load_year_table(document)


@pytest.mark.parametrize("text", ["{not json", "[]", '"2027"'])
def test_table_that_is_not_a_json_object_rejected(text):
    with pytest.raises(ValueError, match="invalid calendar table"):
        load_year_table(text)


def test_year_table_is_immutable():
    table = load_year_table(TABLE_2027)
    assert isinstance(table, YearTable)
    with pytest.raises(AttributeError):
        table.year = 2028  # type: ignore[misc]
    assert date(2027, 1, 1) in table.holidays
