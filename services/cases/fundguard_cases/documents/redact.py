"""Redaction of personal data for publication (公示), by rule — never by hand.

Two kinds of rule, applied to every text that leaves for the public page and feed:

* **Known names and addresses.** The case data knows which of its fields hold an individual's
  name (the party when the party is an individual, the officers, the hearing chair, names a
  document's fields declare) or an address. Those values are masked wherever they occur in any
  text of the record — not only in their own field.
* **Patterns.** 18-digit (and old 15-digit) ID numbers with a final X, any longer digit run
  (bank cards), mobile numbers (with +86, spaces or hyphens), landlines with an area code, numbers
  after 电话/手机/联系方式, addresses after 住址/地址/住所 and house-number addresses
  (…路12号3栋2单元501室).

``PUBLIC_LEAKS`` is the check the tests (and ``publication.publish``) run on the output: a
redacted record never matches it.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

ID_MASK = "[身份证号码已隐去]"
PHONE_MASK = "[电话号码已隐去]"
ADDRESS_MASK = "[地址已隐去]"
NUMBER_MASK = "[号码已隐去]"

# Compound surnames keep both characters: 欧阳某.
COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "令狐", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "澹台", "公冶", "太史"))

_DIGITS = r"0-9０-９"
_ID = re.compile(rf"(?<![{_DIGITS}])[{_DIGITS}]{{17}}[{_DIGITS}Xx]"  # 18-digit ID (X check digit)
                 rf"|[{_DIGITS}]{{15,}}[Xx]?")                          # 15-digit ID, any longer run
_MOBILE = re.compile(r"(?:(?:\+|＋)?86[-\s]?)?1[3-9][0-9](?:[-\s]?[0-9]{4}){2}")
_LANDLINE = re.compile(r"(?:[(（]0[0-9]{2,3}[)）][-\s]?|0[0-9]{2,3}[-\s]?)[2-9][0-9]{6,7}(?:[-转][0-9]{1,6})?")
_KEYED_NUMBER = re.compile(r"((?:联系)?(?:电话|手机|座机|联系方式|Tel|TEL|tel)[:：\s]*)([0-9+＋()（）\-\s]{5,}[0-9])")
_KEYED_ADDRESS = re.compile(r"((?:家庭住址|住址|住所地?|居住地|户籍地|现住|家住|通讯地址|联系地址|地址)[:：为是在\s]*)"
                            r"([^，,。；;、\n\r]{2,80})")
_HOUSE = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{0,16}?(?:路|街|大道|巷|胡同|弄|村|组|社区|小区|花园|大厦)"
                    r"[0-9一二三四五六七八九十百零〇]+(?:号|弄|组|栋|幢)"
                    r"(?:[-之附]?[0-9A-Za-z一二三四五六七八九十]+(?:号|栋|幢|单元|楼|层|室|户))*")

# What must never appear in published output (checked after redaction).
PUBLIC_LEAKS = {
    "id_number": re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}"),
    "mobile": re.compile(r"1[3-9][0-9](?:[-\s]?[0-9]{4}){2}"),
    "landline": re.compile(r"0[0-9]{2,3}[-)）]?[2-9][0-9]{6,7}"),
}


def mask_name(name: str) -> str:
    """张三 → 张某, 欧阳娜娜 → 欧阳某; a one-character value → 某."""
    name = name.strip()
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2] + "某"
    return (name[0] + "某") if len(name) >= 2 else "某"


@dataclass
class Redactor:
    """Masks the given names and addresses everywhere, then the patterns. ``hits`` counts what
    each rule masked (kept with the publication as its redaction report)."""
    names: Iterable[str] = ()
    addresses: Iterable[str] = ()
    hits: Counter = field(default_factory=Counter)

    def __post_init__(self):
        # longest first so 欧阳娜娜 is masked before a shorter name it contains
        self._names = sorted({n.strip() for n in self.names if n and len(n.strip()) >= 2}, key=len, reverse=True)
        self._addresses = sorted({a.strip() for a in self.addresses if a and len(a.strip()) >= 2},
                                 key=len, reverse=True)

    def _sub(self, rule: str, pattern: re.Pattern, repl, text: str) -> str:
        out, n = pattern.subn(repl, text)
        if n:
            self.hits[rule] += n
        return out

    def text(self, value: str) -> str:
        if not value:
            return value
        for addr in self._addresses:
            if addr in value:
                self.hits["address_field"] += value.count(addr)
                value = value.replace(addr, ADDRESS_MASK)
        for name in self._names:
            if name in value:
                self.hits["name"] += value.count(name)
                value = value.replace(name, mask_name(name))
        value = self._sub("keyed_address", _KEYED_ADDRESS, lambda m: m.group(1) + ADDRESS_MASK, value)
        value = self._sub("house_address", _HOUSE, ADDRESS_MASK, value)
        value = self._sub("id_number", _ID, ID_MASK, value)
        value = self._sub("keyed_phone", _KEYED_NUMBER, lambda m: m.group(1) + PHONE_MASK, value)
        value = self._sub("mobile", _MOBILE, PHONE_MASK, value)
        value = self._sub("landline", _LANDLINE, PHONE_MASK, value)
        return value

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value


def leaks(value: Any) -> list[str]:
    """Names of the PUBLIC_LEAKS patterns found anywhere in ``value`` (empty = clean)."""
    found: list[str] = []

    def walk(v):
        if isinstance(v, str):
            found.extend(k for k, p in PUBLIC_LEAKS.items() if p.search(v) and k not in found)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
    walk(value)
    return found
