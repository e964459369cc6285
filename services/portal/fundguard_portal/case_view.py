"""What the case page shows of the case file, as plain functions of the services' answers: the
sanctions per stage with their legal ranges, and the generated step forms with the options they
need (``people(role, region)`` supplies the portal's users)."""
from __future__ import annotations

from typing import Callable

from fundguard_shared.catalogue import VIOLATION_TYPES

from . import forms, ranges

People = Callable[[str, "str | None"], "list[tuple[str, str]]"]

PREFILL = {"conclude_panel": ("panel", "proposed"), "decide": ("notified", "panel", "proposed"),
           "decide_simplified": ("proposed",), "record_appeal_outcome": ("decided",)}
STAGE_LABELS = {"proposed": "调查终结报告建议", "panel": "集体讨论决定", "notified": "事先告知",
                "decided": "处罚决定"}


def proposal(file: dict | None, stages: tuple[str, ...]) -> list[dict]:
    """The current sanctions of the first of ``stages`` that has any."""
    rows = (file or {}).get("sanctions") or []
    for stage in stages:
        found = [r for r in rows if r.get("stage") == stage and r.get("current", True)]
        if found:
            return found
    return []


def known_options(case: dict, file: dict | None, triggers: set[str], people: People,
                  region: str | None) -> dict:
    """Options the generated forms need, only for the steps on the page."""
    known: dict = {}
    region = case.get("region") or region
    if triggers & {"open_case", "recuse"}:
        known["inspectors"] = people("inspector", region)
    if "convene_panel" in triggers:
        known["panel_members"] = people("panel_member", region)
    if file and "recuse" in triggers:
        names = dict(known.get("inspectors", []) + people("panel_member", region))
        choices = [(f"officer:{o['officer_id']}", f"办案人员 {o.get('name') or o['officer_id']}")
                   for o in file.get("officers") or [] if not o.get("recused_on")]
        panel = file.get("panel") or {}
        votes = (panel.get("votes") or []) if not panel.get("concluded_on") else []
        choices += [(f"panel_member:{v['member']}", f"集体讨论成员 {names.get(v['member'], v['member'])}")
                    for v in votes if not v.get("recused")]
        known["people"] = choices
    if file and "record_appeal_outcome" in triggers:
        known["open_appeals"] = [
            (a["id"], f"{forms.APPEAL_KINDS.get(a['kind'], a['kind'])}（{a.get('filed_on')} 提出）")
            for a in file.get("appeals") or [] if not a.get("outcome")]
    return known


def sanction_rows(file: dict | None, case: dict) -> list[dict]:
    """The case file's current sanctions per stage, each with its legal range beside it."""
    if not file:
        return []
    return [{**s, "stage_label": STAGE_LABELS.get(s.get("stage"), s.get("stage")),
             "kind_label": forms.SANCTION_KINDS.get(s.get("kind"), s.get("kind")),
             "article_label": forms.ARTICLES.get(s.get("article"), s.get("article")),
             "value_text": ranges.value_text(s),
             "range_text": ranges.range_text(s)}
            for s in file.get("sanctions") or [] if s.get("current", True)]


def step_forms(case: dict, file: dict | None, steps: dict, people: People, region: str | None,
               values: dict | None = None, failed: str | None = None) -> list[forms.StepForm]:
    """One form per action the case offers this user (``actions`` then ``records``)."""
    every = (case.get("actions") or []) + (case.get("records") or [])
    known = known_options(case, file, {a["trigger"] for a in every}, people, region)
    vt = VIOLATION_TYPES.get(case.get("violation_type"))
    out = []
    for a in every:
        prefill = [{k: r.get(k) for k in ("kind", "article", "amount", "months", "years")}
                   for r in proposal(file, PREFILL.get(a["trigger"], ()))]
        out.append(forms.build(a, steps.get(a["trigger"]), known=known,
                               values=values if a["trigger"] == failed else None,
                               prefill_sanctions=prefill, article=vt.article if vt else "38"))
    return out


def attachment_rows(items: list[dict] | None, step_labels: dict[str, str]) -> list[dict] | None:
    """The case's attachments as the page lists them: name, purpose, size, SHA-256, who and
    when, and the steps (陈述申辩 / 听证申请 / 复议…) that referenced each. None: not offered."""
    if items is None:
        return None
    return [{**a, "steps": [step_labels.get(t, t) for t in a.get("linked_steps") or []]} for a in items]
