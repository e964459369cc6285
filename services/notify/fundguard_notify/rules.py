"""The rule table: event -> notices (who, which kind, what text). Pure functions, no database.

The table and the Chinese templates live in ``notices.toml`` (configuration, not code): a new
event type or case state is a new ``[[rule]]`` there. ``RuleBook.notices_for(event)`` returns
the ``Notice`` list for one event; the caller (``notices.py``) stores them and fans them out to
channels. An event with no rule produces nothing (and is still recorded as handled).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from jinja2 import Environment, TemplateError, Undefined, pass_context

from fundguard_shared.auth import ROLES
from fundguard_shared.events import Event

PACKAGED_RULES = Path(__file__).with_name("notices.toml")


@dataclass(frozen=True)
class Audience:
    role: str
    mode: str = "scope"          # scope | actor | field
    field: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "Audience":
        parts = spec.split(":")
        if len(parts) == 1:
            a = cls(parts[0])
        elif len(parts) == 2 and parts[0] == "actor":
            a = cls(parts[1], "actor")
        elif len(parts) == 3 and parts[0] == "field":
            a = cls(parts[2], "field", parts[1])
        else:
            raise ValueError(f"bad audience {spec!r}")
        if a.role not in ROLES:
            raise ValueError(f"bad audience {spec!r}: unknown role {a.role!r}")
        return a


@dataclass(frozen=True)
class Rule:
    events: tuple[str, ...]
    notice: str
    audiences: tuple[Audience, ...]
    when: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None
    fallback: bool = False

    def matches(self, event_type: str, context: dict[str, Any]) -> bool:
        if event_type not in self.events:
            return False
        for key, want in self.when.items():
            have = context.get(key)
            wanted = want if isinstance(want, list) else [want]
            if have not in wanted:
                return False
        return True


@dataclass(frozen=True)
class Notice:
    """One notice to one audience: stored as an inbox entry, then delivered over channels."""
    kind: str
    template: str
    role: str
    user: str | None
    region: str | None
    department: str | None
    institution_id: str | None
    title: str
    body: str
    email_subject: str
    email_body: str
    webhook: bool

    @property
    def audience_key(self) -> str:
        return f"{self.role}:{self.user or '*'}:{self.kind}"


class _LenientUndefined(Undefined):
    """A missing payload field renders as empty text (templates serve several event versions)."""

    def __str__(self) -> str:
        return ""


def _cn_date(value: Any) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.date()
    return f"{value.year}年{value.month}月{value.day}日"


def _cn_datetime(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return f"{_cn_date(value)} {value:%H:%M}"
    return _cn_date(value)


@pass_context
def _state_label(ctx, state: Any) -> str:
    """A state's label as the event carries it (the cases service's workflow definition:
    ``to_state_label`` / ``from_state_label`` / ``state_label``); the raw code otherwise."""
    for code_field, label_field in (("to_state", "to_state_label"), ("from_state", "from_state_label"),
                                    ("state", "state_label")):
        if state is not None and ctx.get(code_field) == state and ctx.get(label_field):
            return ctx[label_field]
    return "" if state is None else str(state)


class RuleBook:
    def __init__(self, document: dict[str, Any]):
        self.doc = document
        self.sanction_kinds: dict[str, str] = dict(document.get("sanction_kinds", {}))
        self.footer: str = document.get("email", {}).get("footer", "")
        # Notices are plain text (text/plain e-mail, JSON inbox and webhook bodies); whoever
        # renders them as HTML escapes them there (the portal does). HTML-escaping here would
        # put "&lt;" into e-mails.
        self.env = Environment(  # nosec B701 - plain-text output, escaped where shown as HTML
            undefined=_LenientUndefined, autoescape=False, keep_trailing_newline=False)
        self.env.filters.update(
            state_label=_state_label,
            sanction_label=lambda k: self.sanction_kinds.get(k, k or ""),
            cn_date=_cn_date, cn_datetime=_cn_datetime)
        # [legal]: the statute references and rights in words; each entry is a template filled
        # with the event's `windows` (the periods the cases service's rules compute for this
        # deployment). notify keeps no legal number of its own.
        self.legal_templates = {key: self.env.from_string(text)
                                for key, text in document.get("legal", {}).items()}
        self.templates: dict[str, dict[str, Any]] = {}
        for key, spec in document.get("notice", {}).items():
            if "title" not in spec or "body" not in spec:
                raise ValueError(f"notice {key!r} needs title and body")
            compiled = {name: self.env.from_string(spec[name]) for name in
                        ("title", "body", "email_subject", "email_body") if name in spec}
            compiled["webhook"] = bool(spec.get("webhook", True))
            self.templates[key] = compiled
        self.rules: list[Rule] = []
        for i, raw in enumerate(document.get("rule", [])):
            events = raw["event"] if isinstance(raw["event"], list) else [raw["event"]]
            if raw["notice"] not in self.templates:
                raise ValueError(f"rule {i} ({events}) names unknown notice {raw['notice']!r}")
            unknown = set(raw) - {"event", "when", "notice", "to", "kind", "fallback"}
            if unknown:
                raise ValueError(f"rule {i} ({events}) has unknown keys {sorted(unknown)}")
            self.rules.append(Rule(
                events=tuple(events), notice=raw["notice"],
                audiences=tuple(Audience.parse(a) for a in raw["to"]),
                when=dict(raw.get("when", {})), kind=raw.get("kind"),
                fallback=bool(raw.get("fallback", False))))
        self._kind_templates = {r.kind: self.env.from_string(r.kind) for r in self.rules if r.kind}

    @classmethod
    def load(cls, path: Path | None = None) -> "RuleBook":
        with open(path or PACKAGED_RULES, "rb") as fh:
            return cls(tomllib.load(fh))

    # -- matching ------------------------------------------------------------------------------
    @property
    def event_types(self) -> set[str]:
        return {t for r in self.rules for t in r.events}

    def context(self, event: Event, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        p = dict(event.payload)
        ctx: dict[str, Any] = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in p.items()}
        ctx.update(event_type=event.type, event_id=event.id, actor=event.actor,
                   occurred_at=event.occurred_at)
        ctx["windows"] = dict(ctx.get("windows") or {})
        if "from_state" in p and "to_state" in p:
            ctx["changed"] = p["from_state"] != p["to_state"]
        ctx.setdefault("workdays_left", None)
        ctx.update(extra or {})
        ctx["legal"] = self.legal(ctx)
        return ctx

    def legal(self, ctx: dict[str, Any]) -> dict[str, str]:
        """The [legal] sentences filled with the event's windows (an old event without windows
        gets the wording that refers to the served document)."""
        out: dict[str, str] = {}
        for key, template in self.legal_templates.items():
            try:
                out[key] = template.render({**ctx, "legal": out}).strip()
            except TemplateError as exc:
                out[key] = f"（法律告知 {key} 渲染失败：{type(exc).__name__}）"
        return out

    def matching(self, event: Event, ctx: dict[str, Any]) -> list[Rule]:
        hits = [r for r in self.rules if r.matches(event.type, ctx)]
        specific = [r for r in hits if not r.fallback]
        return specific or hits

    def notices_for(self, event: Event, extra: dict[str, Any] | None = None) -> list[Notice]:
        ctx = self.context(event, extra)
        out: list[Notice] = []
        seen: set[str] = set()
        for rule in self.matching(event, ctx):
            kind = self._kind_templates[rule.kind].render(ctx) if rule.kind else rule.notice
            texts = self.render(rule.notice, ctx)
            for audience in rule.audiences:
                for scope in self._scopes(audience, event, ctx):
                    n = Notice(kind=kind, template=rule.notice, **scope, **texts)
                    if n.audience_key not in seen:
                        seen.add(n.audience_key)
                        out.append(n)
        return out

    def render(self, notice: str, ctx: dict[str, Any]) -> dict[str, Any]:
        t = self.templates[notice]
        try:
            title = t["title"].render(ctx).strip()[:300]
            body = t["body"].render(ctx).strip()
            subject = t["email_subject"].render(ctx).strip() if "email_subject" in t else title
            email_body = (t["email_body"].render(ctx).strip() if "email_body" in t
                          else body) + self.footer
        except TemplateError as exc:  # a template defect must not lose the notice
            title = f"通知：{ctx.get('case_number', '')} {notice}"
            body = f"（模板 {notice} 渲染失败：{type(exc).__name__}）"
            subject, email_body = title, body + self.footer
        return {"title": title, "body": body, "email_subject": subject,
                "email_body": email_body, "webhook": t["webhook"]}

    def render_digest(self, day: date, items: list[dict[str, str]]) -> tuple[str, str]:
        ctx: dict[str, Any] = {"day": day, "items": items, "windows": {}}
        ctx["legal"] = self.legal(ctx)
        texts = self.render("digest", ctx)
        return texts["email_subject"], texts["email_body"]

    @staticmethod
    def _scopes(audience: Audience, event: Event, ctx: dict[str, Any]) -> Iterable[dict]:
        role = audience.role
        scope = {"region": None, "department": None, "institution_id": None}
        if role == "institution":
            if not ctx.get("institution_id"):
                return []
            scope["institution_id"] = ctx["institution_id"]
        elif role == "inspector":
            if not ctx.get("region"):
                return []
            scope["region"], scope["department"] = ctx.get("region"), ctx.get("department")
        elif role in ("leader", "legal_reviewer", "panel_member"):
            if not ctx.get("region"):
                return []
            scope["region"] = ctx["region"]
        users: list[str | None] = [None]
        if audience.mode == "actor":
            if not event.actor or event.actor in ("system", "scheduler"):
                return []
            users = [event.actor]
        elif audience.mode == "field":
            value = ctx.get(audience.field or "")
            if value:
                users = [value] if isinstance(value, str) else [str(v) for v in value]
        return [{"role": role, "user": u, **scope} for u in users]

