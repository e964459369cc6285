"""THE workflow definition: every state, transition, role and guard of a case, written once as
data, and the one ``transitions`` machine per definition version that enforces it.

Nothing else changes ``Case.state``: ``fire`` runs a trigger on the shared machine, which checks
the source state, the actor's role and the guards (plain functions of ``Context``); callbacks do
no I/O, the caller's transaction does the writing (state, audit entry, outbox event together).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from transitions import Machine, MachineError

from fundguard_shared.auth import Principal

WORKFLOW_VERSION = 1


from .guards import (CaseFile, Context, Guard, GuardFailure, agreement_action_valid,  # noqa: F401
                     appeal_in_window, appeal_outcome_valid, decision_valid, defence_filed,
                     defence_in_window, enforcement_complete, extension_valid, four_eyes,
                     hearing_day_reached, hearing_request_valid, hearing_schedule_valid,
                     is_active_officer, limitation_not_expired, no_open_preservation,
                     notice_date_valid, officers_assigned, panel_done_if_required,
                     panel_result_valid, panel_setup, payment_valid, preservation_pending,
                     proposal_is_sanction, reason_given, recusal_valid, report_complete,
                     review_passed_if_mandatory, rights_not_waived, service_valid, simplified_valid,
                     something_to_enforce, verification_not_extended, vote_valid)


# ---- the definition --------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One transition. ``dest=None`` is a record step: it writes what it produces (a vote, a
    payment, an appeal...) and the audit entry, and leaves the state as it is."""
    trigger: str
    source: tuple[str, ...]
    dest: str | None
    roles: tuple[str, ...]
    label_zh: str
    guards: tuple[Guard, ...] = ()

    @property
    def is_record(self) -> bool:
        return self.dest is None


@dataclass(frozen=True)
class Definition:
    version: int
    initial: str
    states: dict[str, str]           # name -> Chinese label
    steps: tuple[Step, ...]
    final: frozenset[str]

    def step(self, trigger: str, source: str) -> Step | None:
        for s in self.steps:
            if s.trigger == trigger and source in s.source:
                return s
        return None

    @property
    def triggers(self) -> set[str]:
        return {s.trigger for s in self.steps}


STATES = {
    "clue_registered": "线索登记",
    "clue_verifying": "线索核查",
    "not_opened": "不予立案",
    "opened": "已立案",
    "investigating": "调查取证",
    "suspended": "中止调查",
    "terminated": "终止调查",
    "reported": "调查终结",
    "legal_review": "法制审核",
    "reviewed": "法制审核通过",
    "panel": "集体讨论",
    "discussed": "集体讨论已决",
    "notified": "事先告知（陈述申辩）",
    "hearing_requested": "听证申请",
    "hearing_scheduled": "听证通知",
    "heard": "听证结束",
    "decided": "已决定",
    "served": "已送达",
    "enforcing": "执行",
    "closed": "结案",
}

INVESTIGATION = ("opened", "investigating", "suspended")
BEFORE_DECISION = ("opened", "investigating", "suspended", "reported", "legal_review", "reviewed",
                   "panel", "discussed", "notified", "hearing_requested", "hearing_scheduled", "heard")
LIVE = BEFORE_DECISION + ("decided", "served", "enforcing")
AFTER_SERVICE = ("served", "enforcing", "closed")
STAFF = ("inspector", "leader")
# the platform itself, never a token role: fires the service steps when an institution opens an
# electronically served document in the portal (documents/delivery.py)
SYSTEM_ROLE = "system"

V1 = Definition(
    version=1,
    initial="clue_registered",
    states=STATES,
    steps=(
        # -- clue (线索) --------------------------------------------------------------------------
        Step("start_verification", ("clue_registered",), "clue_verifying", STAFF, "开始核查"),
        Step("extend_verification", ("clue_verifying",), None, ("leader",), "批准延长核查期限",
             guards=(reason_given, verification_not_extended)),
        Step("open_case", ("clue_verifying",), "opened", ("leader",), "批准立案",
             guards=(officers_assigned, limitation_not_expired)),
        Step("decline", ("clue_verifying",), "not_opened", ("leader",), "不予立案",
             guards=(reason_given,)),
        # -- investigation (调查取证) ---------------------------------------------------------------
        Step("start_investigation", ("opened",), "investigating", STAFF, "开始调查",
             guards=(is_active_officer,)),
        Step("suspend", ("investigating",), "suspended", ("leader",), "中止调查",
             guards=(reason_given,)),
        Step("resume", ("suspended",), "investigating", ("leader",), "恢复调查",
             guards=(reason_given,)),
        Step("terminate", INVESTIGATION, "terminated", ("leader",), "终止调查",
             guards=(reason_given,)),
        Step("recuse", LIVE, None, ("leader",), "决定回避",
             guards=(reason_given, recusal_valid)),
        Step("preserve_evidence", ("investigating",), None, ("leader",), "批准先行登记保存",
             guards=(reason_given, no_open_preservation)),
        Step("decide_preservation", ("investigating", "suspended"), None, STAFF,
             "先行登记保存处理决定", guards=(reason_given, preservation_pending)),
        Step("submit_report", ("investigating",), "reported", ("inspector",), "提交调查终结报告",
             guards=(is_active_officer, no_open_preservation, report_complete)),
        # -- legal review (法制审核), possibly again after a hearing --------------------------------
        Step("submit_for_review", ("reported", "heard"), "legal_review", STAFF, "送法制审核"),
        Step("pass_review", ("legal_review",), "reviewed", ("legal_reviewer",), "法制审核通过",
             guards=(four_eyes,)),
        Step("return_review", ("legal_review",), "investigating", ("legal_reviewer",),
             "法制审核退回补充调查", guards=(four_eyes, reason_given)),
        # -- discretion panel (集体讨论) -------------------------------------------------------------
        Step("convene_panel", ("reported", "reviewed"), "panel", ("leader",), "提交集体讨论",
             guards=(proposal_is_sanction, review_passed_if_mandatory, panel_setup)),
        Step("cast_vote", ("panel",), None, ("panel_member",), "表决", guards=(vote_valid,)),
        Step("conclude_panel", ("panel",), "discussed", ("leader",), "集体讨论决定",
             guards=(panel_result_valid,)),
        # -- prior notice, defence, hearing (事先告知、陈述申辩、听证) -------------------------------
        Step("notify", ("reported", "reviewed", "discussed"), "notified", STAFF + (SYSTEM_ROLE,), "送达事先告知书",
             guards=(proposal_is_sanction, review_passed_if_mandatory, panel_done_if_required,
                     notice_date_valid)),
        Step("file_defence", ("notified",), None, ("institution",), "提出陈述申辩",
             guards=(reason_given, defence_in_window)),
        Step("recheck_defence", ("notified",), None, ("inspector",), "复核陈述申辩",
             guards=(reason_given, defence_filed)),
        Step("waive_rights", ("notified",), None, ("institution",), "明确放弃陈述申辩和听证",
             guards=(rights_not_waived,)),
        Step("request_hearing", ("notified",), "hearing_requested", ("institution",), "申请听证",
             guards=(hearing_request_valid,)),
        Step("schedule_hearing", ("hearing_requested",), "hearing_scheduled", STAFF, "通知听证",
             guards=(hearing_schedule_valid,)),
        Step("hold_hearing", ("hearing_scheduled",), "heard", STAFF, "举行听证",
             guards=(hearing_day_reached, reason_given)),
        Step("hearing_no_show", ("hearing_scheduled",), "notified", STAFF, "当事人无正当理由未到场（视为放弃听证）",
             guards=(hearing_day_reached,)),
        # -- decision (决定) -------------------------------------------------------------------------
        Step("extend_decision_deadline", BEFORE_DECISION, None, ("leader",), "批准延长办案期限",
             guards=(reason_given, extension_valid)),
        Step("decide", ("reported", "reviewed", "discussed", "notified", "heard"), "decided",
             ("leader",), "作出决定", guards=(decision_valid,)),
        Step("decide_simplified", ("opened", "investigating"), "decided", STAFF, "简易程序当场处罚",
             guards=(is_active_officer, simplified_valid)),
        # -- service, enforcement, closure (送达、执行、结案) -----------------------------------------
        Step("serve", ("decided",), "served", STAFF + (SYSTEM_ROLE,), "送达决定书", guards=(service_valid,)),
        Step("start_enforcement", ("served",), "enforcing", STAFF, "进入执行",
             guards=(something_to_enforce,)),
        Step("record_payment", ("enforcing",), None, STAFF, "登记缴款/追回", guards=(payment_valid,)),
        Step("grant_deferral", ("enforcing",), None, ("leader",), "批准延期或分期缴纳",
             guards=(reason_given,)),
        Step("apply_court_enforcement", ("enforcing",), None, ("leader",), "申请法院强制执行",
             guards=(reason_given,)),
        Step("close_case", ("served", "enforcing", "terminated"), "closed", ("leader",), "批准结案",
             guards=(enforcement_complete,)),
        # -- remedies (申诉、行政复议、行政诉讼) -------------------------------------------------------
        Step("file_appeal", AFTER_SERVICE, None, ("institution",), "申请复议/提起诉讼/申诉",
             guards=(appeal_in_window,)),
        Step("record_appeal_outcome", AFTER_SERVICE, None, ("leader",), "登记复议/诉讼结果",
             guards=(appeal_outcome_valid,)),
        # -- agreement track (协议处理, beside the administrative one) -------------------------------
        Step("agreement_action", LIVE, None, STAFF, "协议处理（约谈/限期整改/通报/暂停拨付/中止/解除/违约金）",
             guards=(reason_given, agreement_action_valid)),
    ),
    final=frozenset({"not_opened", "closed"}),
)

DEFINITIONS: dict[int, Definition] = {1: V1}


# ---- the machine -------------------------------------------------------------------------------

class TransitionRejected(Exception):
    """``kind``: unknown_trigger | invalid_transition | role_forbidden | guard_failed."""

    def __init__(self, kind: str, failures: list[GuardFailure] | None = None, **info):
        super().__init__(kind)
        self.kind = kind
        self.failures = failures or []
        self.info = info


class _Flow:
    """The model the machine drives; it carries the context and collects guard failures."""

    def __init__(self, state: str, ctx: Context):
        self.state = state
        self.ctx = ctx
        self.failures: list[GuardFailure] = []


def check(step: Step, ctx: Context) -> list[GuardFailure]:
    """Role and guards of one step; empty list = allowed."""
    if ctx.actor.role not in step.roles:
        return [GuardFailure("role_forbidden", "当前角色无权执行此操作", "Role may not do this",
                             {"allowed_roles": list(step.roles)})]
    return [f for f in (g(ctx) for g in step.guards) if f is not None]


def _condition(step: Step):
    def condition(event) -> bool:
        failures = check(step, event.model.ctx)
        event.model.failures.extend(failures)
        return not failures
    condition.__name__ = f"guard_{step.trigger}"
    return condition


def _build(defn: Definition) -> Machine:
    transitions = [{"trigger": s.trigger, "source": list(s.source), "dest": s.dest,
                    "conditions": [_condition(s)]} for s in defn.steps]  # dest None: internal
    return Machine(model=None, states=list(defn.states), transitions=transitions,
                   initial=defn.initial, auto_transitions=False, ignore_invalid_triggers=False,
                   send_event=True)


_MACHINES: dict[int, Machine] = {v: _build(d) for v, d in DEFINITIONS.items()}
_LOCK = threading.Lock()


def definition(version: int) -> Definition:
    return DEFINITIONS[version]


def fire(case, trigger: str, ctx: Context) -> tuple[str, str]:
    """Run ``trigger`` on the case's machine. Returns (from_state, to_state); the caller writes.

    Raises ``TransitionRejected`` (nothing changed) when the trigger is unknown, not allowed
    from the current state, not allowed for the role, or a guard fails.
    """
    defn = definition(case.workflow_version)
    if trigger not in defn.triggers:
        raise TransitionRejected("unknown_trigger", trigger=trigger)
    step = defn.step(trigger, case.state)
    if step is None:
        raise TransitionRejected("invalid_transition", trigger=trigger, state=case.state)
    if ctx.actor.role not in step.roles:
        raise TransitionRejected("role_forbidden", allowed_roles=list(step.roles))
    machine = _MACHINES[defn.version]
    flow = _Flow(case.state, ctx)
    with _LOCK:
        machine.add_model(flow, initial=case.state)
        try:
            moved = getattr(flow, trigger)()
        except MachineError:
            raise TransitionRejected("invalid_transition", trigger=trigger, state=case.state)
        finally:
            machine.remove_model(flow)
    if not moved:
        raise TransitionRejected("guard_failed", flow.failures)
    before = case.state
    case.state = flow.state
    return before, flow.state


def allowed_actions(case, actor: Principal, facts: CaseFile | None = None, *,
                    records: bool = False, **ctx_kw) -> list[dict]:
    """The triggers this actor may fire now: moves of the procedure (``records=False``) or record
    steps that keep the state (``records=True``). Role and state decide; guards that judge the
    request's data are not run, the others only when the case file is given."""
    defn = definition(case.workflow_version)
    out = []
    for step in defn.steps:
        if step.is_record != records or case.state not in step.source or actor.role not in step.roles:
            continue
        blocking = []
        if facts is not None:
            ctx = Context(case, actor, reason="-", facts=facts, **ctx_kw)
            blocking = [f for f in (g(ctx) for g in step.guards
                                    if not getattr(g, "needs_input", False)) if f is not None]
        dest = step.dest or case.state
        out.append({"trigger": step.trigger, "label": step.label_zh, "to": dest,
                    "to_label": defn.states[dest], "available": not blocking,
                    "blocked_by": [f.code for f in blocking]})
    return out


def mermaid(version: int = WORKFLOW_VERSION) -> str:
    defn = definition(version)
    lines = ["stateDiagram-v2", f"    [*] --> {defn.initial}"]
    for name, label in defn.states.items():
        lines.append(f"    {name} : {label}")
    for s in defn.steps:
        for src in s.source:
            lines.append(f"    {src} --> {s.dest or src} : {s.label_zh}")
    for name in sorted(defn.final):
        lines.append(f"    {name} --> [*]")
    return "\n".join(lines)
