"""In-process workflow benchmark: guard evaluations per second (every step's role + guards for a
case in each state, as ``allowed_actions`` does) and ``fire()`` through the transitions machine,
against a baseline of the same loop calling a no-op. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_workflow.py [--seconds 3]
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import date
from types import SimpleNamespace

from fundguard_cases.guards import CaseFile, Context
from fundguard_cases.workflow import (WORKFLOW_VERSION, TransitionRejected, check, definition,
                                      fire)
from fundguard_shared.auth import Principal
from fundguard_shared.workdays import WorkdayCalendar

ACTORS = [Principal("leader-a", "leader", region="510100"),
          Principal("insp-a", "inspector", region="510100", department="稽核一科"),
          Principal("legal-a", "legal_reviewer", region="510100")]


def _case(state: str):
    return SimpleNamespace(id="c1", state=state, version=1, workflow_version=WORKFLOW_VERSION,
                           institution_id="H5101001", party_type="entity", region="510100",
                           department="稽核一科", amount=12345, act_date=date(2026, 3, 1),
                           opened_on=date(2026, 4, 1), created_at=None)


class _Details:
    """A case_details row with every field empty (what a fresh case has)."""
    def __getattr__(self, name):
        return None


def _rate(fn, seconds: float) -> tuple[float, int]:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += fn()
    return n / (time.perf_counter() - start), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    defn = definition(WORKFLOW_VERSION)
    calendar = WorkdayCalendar()
    pairs = []
    for state in defn.states:
        case = _case(state)
        for step in defn.steps:
            if state in step.source:
                for actor in ACTORS:
                    pairs.append((step, Context(case, actor, reason="bench", facts=CaseFile(details=_Details()),
                                                today=date(2026, 6, 1), calendar=calendar)))

    def guards_round():
        for step, ctx in pairs:
            check(step, ctx)
        return len(pairs)

    def baseline_round():
        for step, ctx in pairs:
            (lambda s, c: None)(step, ctx)
        return len(pairs)

    def fire_round():
        case = _case("clue_registered")
        ctx = Context(case, ACTORS[0], reason="bench", facts=CaseFile(details=_Details()), today=date(2026, 6, 1),
                      calendar=calendar)
        try:
            fire(case, "start_verification", ctx)
        except TransitionRejected:
            pass
        return 1

    guards, _ = _rate(guards_round, a.seconds)
    base, _ = _rate(baseline_round, a.seconds)
    fires, _ = _rate(fire_round, a.seconds)
    print(f"guard evaluations (role + guards of {len(pairs)} step/actor/state triples): "
          f"{guards:,.0f}/s   target >= 20,000/s: {'MET' if guards >= 20000 else 'NOT MET'}")
    print(f"baseline loop (no-op call):                 {base:,.0f}/s   ratio {guards / base:.3f}")
    print(f"fire() through the transitions machine:     {fires:,.0f}/s")
    print(json.dumps({"guard_evals_per_s": round(guards), "baseline_per_s": round(base),
                      "fire_per_s": round(fires), "pairs": len(pairs)}))


if __name__ == "__main__":
    main()
