"""Errors raised when a legal rule is broken. Each has a stable `code` and a bilingual message
(`zh`, `en`), the same fields the API's problem+json errors carry."""

from __future__ import annotations

from typing import Any


class RuleViolation(Exception):
    code = "rule_violation"

    def __init__(self, zh: str, en: str, **details: Any):
        self.zh = zh
        self.en = en
        self.details = details
        super().__init__(f"{zh} / {en}")


class LegalParamError(ValueError):
    """Area configuration of the legal table is invalid."""

    code = "legal_param_invalid"

    def __init__(self, zh: str, en: str):
        self.zh = zh
        self.en = en
        super().__init__(f"{zh} / {en}")


class StatutoryValueOverride(LegalParamError):
    """Area configuration tried to change a number fixed by a verified statute."""

    code = "statutory_value_override"
