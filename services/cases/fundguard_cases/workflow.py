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


# ---- guard results ---------------------------------------------------------------------------

@dataclass(frozen=True)
class GuardFailure:
    code: str
    zh: str
    en: str
    details: dict = field(default_factory=dict)


@dataclass
class Context:
    """What guards may look at: the case row, the actor, the request's data."""
    case: Any
    actor: Principal
    reason: str = ""
    data: dict = field(default_factory=dict)


Guard = Callable[[Context], GuardFailure | None]


def reason_given(ctx: Context) -> GuardFailure | None:
    if not (ctx.reason or "").strip():
        return GuardFailure("reason_required", "此操作必须填写理由", "A reason is required")
    return None


# ---- the definition --------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    trigger: str
    source: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    label_zh: str
    guards: tuple[Guard, ...] = ()


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


V1 = Definition(
    version=1,
    initial="clue_registered",
    states={
        "clue_registered": "线索登记",
        "clue_verifying": "线索核查",
        "not_opened": "不予立案",
        "opened": "已立案",
    },
    steps=(
        Step("start_verification", ("clue_registered",), "clue_verifying",
             ("inspector", "leader"), "开始核查"),
        Step("open_case", ("clue_verifying",), "opened", ("leader",), "批准立案"),
        Step("decline", ("clue_verifying",), "not_opened", ("leader",), "不予立案",
             guards=(reason_given,)),
    ),
    final=frozenset({"not_opened"}),
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
                    "conditions": [_condition(s)]} for s in defn.steps]
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


def allowed_actions(case, actor: Principal) -> list[dict]:
    """The triggers this actor may fire now (role and guards that need no request data)."""
    defn = definition(case.workflow_version)
    out = []
    for step in defn.steps:
        if case.state not in step.source or actor.role not in step.roles:
            continue
        blocking = check(step, Context(case, actor, reason="-"))
        out.append({"trigger": step.trigger, "label": step.label_zh, "to": step.dest,
                    "to_label": defn.states[step.dest], "available": not blocking,
                    "blocked_by": [f.code for f in blocking]})
    return out


def mermaid(version: int = WORKFLOW_VERSION) -> str:
    defn = definition(version)
    lines = ["stateDiagram-v2", f"    [*] --> {defn.initial}"]
    for name, label in defn.states.items():
        lines.append(f"    {name} : {label}")
    for s in defn.steps:
        for src in s.source:
            lines.append(f"    {src} --> {s.dest} : {s.label_zh}")
    for name in sorted(defn.final):
        lines.append(f"    {name} --> [*]")
    return "\n".join(lines)
