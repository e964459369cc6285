"""The case page's generated forms: one per workflow step, fields matching what the step's
guards read, values the cases service accepts; the legal range beside a sanction comes from the
one table of legal numbers; working days left count the working-day calendar."""
from __future__ import annotations

import inspect
import re
from datetime import date

from werkzeug.datastructures import MultiDict

from fundguard_cases import guards
from fundguard_cases.rules import procedure as P
from fundguard_cases.rules import sanctions as S
from fundguard_cases.workflow import V1
from fundguard_portal import forms, ranges
from fundguard_portal.views.inspect import working_days_left
from fundguard_portal.views.pages import SORTS, case_list_query, filter_and_sort
from fundguard_shared.workdays import WorkdayCalendar


def _data_keys_read_by(step) -> set[str]:
    """Keys of ``ctx.data`` the step's guards read (their source, and the parsers they call)."""
    keys: set[str] = set()
    for g in step.guards:
        fn = next((c.cell_contents for c in g.__closure__ or ()        # under @guarded
                   if getattr(c.cell_contents, "__name__", "") == g.__name__), g)
        src = inspect.getsource(fn)
        keys |= set(re.findall(r"""(?:data|ctx\.data)\.get\(["'](\w+)["']""", src))
        keys |= set(re.findall(r"""get_date\(ctx\.data, ["'](\w+)["']""", src))
    return keys


def test_the_data_keys_are_found_in_the_guards():
    by_trigger = {s.trigger: _data_keys_read_by(s) for s in V1.steps}
    assert by_trigger["open_case"] >= {"officers", "act_date", "act_end_date", "health_harm"}
    assert by_trigger["submit_report"] >= {"proposal", "sanctions", "loss", "behaviours"}


def test_every_step_that_reads_data_has_a_form_with_those_fields():
    for step in V1.steps:
        wanted = _data_keys_read_by(step)
        fields = {f.name for f in forms.STEP_FIELDS.get(step.trigger, ())}
        if step.trigger == "recuse":
            fields |= {"capacity"}               # the person's choice carries the capacity
        missing = wanted - fields
        assert not missing, f"{step.trigger}: the form lacks {sorted(missing)}"


def test_form_choices_are_values_the_cases_service_accepts():
    assert set(forms.SANCTION_KINDS) == {k.value for k in S.SanctionKind}
    assert set(forms.TIERS) == {t.value for t in S.Tier}
    assert set(forms.POLICE_BEHAVIOURS) == {b.value for b in S.PoliceReferral}
    assert set(forms.NO_SANCTION_GROUNDS) == set(guards.NO_SANCTION_GROUNDS)
    assert set(forms.REFERRAL_TARGETS) == set(guards.REFERRAL_TARGETS)
    assert set(forms.PROPOSALS) == set(guards.PROPOSALS)
    assert set(forms.AGREEMENT_KINDS) == guards.AGREEMENT_KINDS
    assert set(forms.APPEAL_KINDS) == {"complaint", *(k.value for k in P.AppealKind)}
    assert {a for a, _ in S.CATALOGUE} <= set(forms.ARTICLES)
    for kind, label in forms.SANCTION_KINDS.items():
        assert S.SanctionKind(kind).label_zh == label


def test_reason_is_required_exactly_where_the_workflow_guards_it():
    for step in V1.steps:
        form = forms.build({"trigger": step.trigger, "label": step.label_zh},
                           {"guards": [g.__name__ for g in step.guards]}, known={})
        assert form.reason_required == (guards.reason_given in step.guards), step.trigger


def test_parse_turns_rows_and_checkboxes_into_the_steps_data():
    data = forms.parse("submit_report", MultiDict([
        ("proposal", "sanction"), ("sanctions-0-kind", "fine"), ("sanctions-0-article", "38"),
        ("sanctions-0-amount", "4823.05"), ("sanctions-1-kind", ""), ("sanctions-1-article", "38"),
        ("complex_case", "1"), ("behaviours", "brokering"), ("behaviours", "other")]))
    assert data["sanctions"] == [{"kind": "fine", "article": "38", "amount": "4823.05"}]
    assert data["complex_case"] is True and data["major_violation"] is False
    assert data["behaviours"] == ["brokering", "other"] and data["proposal"] == "sanction"
    officers = forms.parse("open_case", MultiDict({
        "officers-0-id": "insp-zhang", "officers-0-credential_no": "川医保执 001",
        "officers-1-id": "insp-li", "officers-1-credential_no": "川医保执 002"}),
        people={"insp-zhang": "张检查"})
    assert officers["officers"] == [
        {"id": "insp-zhang", "name": "张检查", "credential_no": "川医保执 001"},
        {"id": "insp-li", "name": "insp-li", "credential_no": "川医保执 002"}]
    recusal = forms.parse("recuse", MultiDict({"person": "panel_member:panel-zhou",
                                              "requested_by": "member", "granted": "1"}))
    assert recusal == {"person": "panel-zhou", "capacity": "panel_member",
                       "requested_by": "member", "granted": True}


def test_a_missing_required_field_is_named_in_chinese():
    try:
        forms.parse("cast_vote", MultiDict({"tier": "ordinary"}))
    except forms.FormProblem as problem:
        assert str(problem) == "请填写「表决意见」"
    else:
        raise AssertionError("no problem reported")


def test_legal_range_beside_a_sanction_is_what_the_cases_service_states():
    assert ranges.range_text({"kind": "fine", "article": "38", "range_zh": "法定幅度 1–2 倍"}) == "法定幅度 1–2 倍"
    assert ranges.range_text({"kind": "order_refund", "article": "38", "range_zh": None}) is None


def test_working_days_left_skip_weekends_and_holidays():
    cal = WorkdayCalendar()
    # Friday 2026-09-25 → Friday 2026-10-09: National Day week off, Sunday 9-27 and Saturday 10-10 worked
    assert working_days_left(date(2026, 9, 25), date(2026, 10, 9), cal) == \
        cal.working_days_between(date(2026, 9, 25), date(2026, 10, 9))
    assert working_days_left(date(2026, 11, 23), date(2026, 11, 27), cal) == 4
    assert working_days_left(date(2026, 11, 27), date(2026, 11, 23), cal) == -4
    assert working_days_left(date(2026, 11, 27), None, cal) is None
    assert working_days_left(date(2026, 12, 28), date(2031, 1, 6), cal) is None   # year not loaded


def test_case_list_sorts_and_filters_over_the_scope():
    cases = [{"number": "B", "amount": "10.00", "violation_type": "split_admission", "created_at": "2026-01-02"},
             {"number": "A", "amount": "900.00", "violation_type": "duplicate_charging", "created_at": "2026-01-01"},
             {"number": "C", "amount": "50.00", "violation_type": "split_admission", "created_at": "2026-01-03"}]
    f = case_list_query({"sort": "amount"})
    assert [c["number"] for c in filter_and_sort(cases, f)] == ["A", "C", "B"]
    f = case_list_query({"sort": "created_asc", "violation_type": "split_admission"})
    assert [c["number"] for c in filter_and_sort(cases, f)] == ["B", "C"]
    assert case_list_query({"sort": "<script>", "violation_type": "nope"}) == \
        {"state": "", "institution_id": "", "q": "", "violation_type": "", "sort": ""}
    assert set(SORTS) >= {"", "amount", "amount_asc", "updated", "number", "created_asc"}
