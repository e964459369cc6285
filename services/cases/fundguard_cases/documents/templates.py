"""One template per document type (TOML + Jinja2 text), overridable per authority by
configuration: ``CASES_DOCUMENT_TEMPLATES`` is a directory searched first as
``<dir>/<region>/<type>.toml`` then ``<dir>/<type>.toml``; the built-in templates are the fallback.

A template has ``title``, optional ``addressee``, ``paragraphs`` and ``table`` (rows of cells, all
Jinja2 in a sandbox with StrictUndefined), ``required`` (items that must be present) and
``fields`` (the only values a user may supply — words such as a place or an address, never a
date, amount or window: those come from the case and rules/)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

BUILTIN = Path(__file__).parent / "templates"
MAX_FIELD = 2000


class TemplateProblem(ValueError):
    """``code``: template_invalid | missing_item | unknown_field | bad_field | template_render_failed."""

    def __init__(self, code: str, zh: str, en: str, **extra):
        super().__init__(en)
        self.code, self.zh, self.en, self.extra = code, zh, en, extra


@dataclass(frozen=True)
class Template:
    doc_type: str
    source: str
    title: str
    addressee: str = ""
    paragraphs: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] = ()
    required: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


@dataclass
class Rendered:
    title: str
    addressee: str
    paragraphs: list[str]
    table: list[list[str]] = field(default_factory=list)


_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _path(doc_type: str, region: str) -> Path:
    root = os.environ.get("CASES_DOCUMENT_TEMPLATES", "").strip()
    if root:
        for candidate in (Path(root) / region / f"{doc_type}.toml", Path(root) / f"{doc_type}.toml"):
            if candidate.is_file():
                return candidate
    return BUILTIN / f"{doc_type}.toml"


def load(doc_type: str, region: str) -> Template:
    path = _path(doc_type, region)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        tpl = Template(doc_type=doc_type, source=str(path), title=str(raw["title"]),
                       addressee=str(raw.get("addressee", "")),
                       paragraphs=tuple(str(p) for p in raw.get("paragraphs", [])),
                       table=tuple(tuple(str(c) for c in row) for row in raw.get("table", [])),
                       required=tuple(str(r) for r in raw.get("required", [])),
                       fields=tuple(str(r) for r in raw.get("fields", [])))
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise TemplateProblem("template_invalid", f"文书模板无法读取：{path.name}",
                              f"the template {path.name} cannot be read: {exc}", template=path.name) from None
    return tpl


def check_fields(tpl: Template, supplied: dict) -> dict[str, str]:
    """The user's values: only names the template allows, short plain strings."""
    unknown = sorted(k for k in supplied if k not in tpl.fields)
    if unknown:
        raise TemplateProblem("unknown_field", f"模板不接受以下字段：{'、'.join(unknown)}",
                              f"fields the template does not allow: {', '.join(unknown)}",
                              fields=unknown, allowed=list(tpl.fields))
    out = {}
    for k, v in supplied.items():
        if not isinstance(v, str) or len(v) > MAX_FIELD:
            raise TemplateProblem("bad_field", f"字段 {k} 应为不超过 {MAX_FIELD} 字的文本",
                                  f"field {k} must be text of at most {MAX_FIELD} characters", field=k)
        out[k] = v.strip()
    return out


def check_required(tpl: Template, values: dict) -> None:
    missing = [r for r in tpl.required if values.get(r) in (None, "", False, [], {})]
    if missing:
        raise TemplateProblem("missing_item", f"文书缺少必备事项：{'、'.join(missing)}",
                              f"the document lacks required items: {', '.join(missing)}", items=missing)


@lru_cache(maxsize=1024)
def _compiled(text: str):
    return _env.from_string(text)


def _render(text: str, values: dict) -> str:
    try:
        return _compiled(text).render(**values).strip()
    except TemplateError as exc:
        raise TemplateProblem("template_render_failed", f"文书模板无法生成：{exc}",
                              f"the template failed to render: {exc}") from None
    except Exception as exc:  # a sandboxed template may still raise e.g. TypeError on bad filters
        raise TemplateProblem("template_render_failed", f"文书模板无法生成：{type(exc).__name__}",
                              f"the template failed to render: {exc}") from None


def render(tpl: Template, values: dict) -> Rendered:
    paragraphs = [p for p in (_render(t, values) for t in tpl.paragraphs) if p]
    table = [[_render(c, values) for c in row] for row in tpl.table]
    return Rendered(title=_render(tpl.title, values), addressee=_render(tpl.addressee, values),
                    paragraphs=paragraphs, table=table)
