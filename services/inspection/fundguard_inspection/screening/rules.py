"""Screening rules (智能监控规则) and versioned, per-pooling-area parameter sets.

Every rule is one DuckDB query over ``claims`` (line level) and ``_fg_hdr`` (one row per claim,
built by the run). A query returns the standard hit columns::

    institution_code, claim_id, patient_id_hash, department, doctor_id, subject,
    metric, threshold, suspected_amount, claim_ids, evidence, detail

``subject`` identifies the hit inside its rule and institution (for example ``claim:C1`` or
``item:X01|2025-03``) and makes the hit id stable; ``evidence`` is the list of
``{file, line}`` references (file = import id = first 12 hex digits of the file's SHA-256,
line = physical line in that file) of the rows the hit rests on; ``suspected_amount`` is the
amount in yuan the rule puts in question (its basis is stated per rule in ``amount_basis``).

Thresholds come from the 市定点医疗机构使用医保基金专项整治工作方案 (seed 001). Apart from the
DRG rule (细则 art.23) and the gender/age lists (national 两库 batch 1), none of them has
national standing (domain.md §f), so every number and every reference table is a parameter of a
``RuleSet``: a version string, a pooling-area code and the parameter overrides. A run records
the version and ``params_hash`` (SHA-256 of the effective parameters). A saved version is
immutable: saving the same (area, version) with other parameters is refused.

The reference tables shipped as defaults (expected exams per diagnosis, per-day maxima,
gender/age-restricted items, DRG weights) are SMALL ILLUSTRATIVE SAMPLES, not an official list;
an area loads its own 两库 data as parameters before production use.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

__all__ = [
    "ENGINE_VERSION",
    "DEFAULT_RULESET_VERSION",
    "NATIONAL_AREA_CODE",
    "Rule",
    "RuleSet",
    "RuleSetError",
    "RULES",
    "RULE_IDS",
    "get_rule",
    "save_ruleset",
    "load_ruleset",
    "list_rulesets",
]

ENGINE_VERSION = "1"  # bump when a rule's SQL logic changes (recorded in every run)
DEFAULT_RULESET_VERSION = "seed001-2026.1"
NATIONAL_AREA_CODE = "000000"

class RuleSetError(ValueError):
    """Invalid rule set or parameter. ``code`` is stable."""

    def __init__(self, code: str, zh: str, en: str):
        self.code, self.zh, self.en = code, zh, en
        super().__init__(f"[{code}] {zh} / {en}")


# --------------------------------------------------------------------------------------------
# SQL helpers


def _lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _num(x: Any) -> str:
    """An exact SQL numeric literal (DuckDB reads ``5.1`` as DECIMAL, so comparisons are exact)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, Decimal)):
        raise RuleSetError("rule_param_type", f"应为数字: {x!r}", f"number expected: {x!r}")
    if isinstance(x, float) and not math.isfinite(x):
        raise RuleSetError("rule_param_type", f"数值无效: {x!r}", f"not finite: {x!r}")
    d = Decimal(str(x))
    text = format(d, "f")
    return f"({text})" if text.startswith("-") else text


def _dx(expr: str) -> str:
    """Normalised ICD code: upper case, no dot (J18.9 -> J189)."""
    return f"upper(replace({expr}, '.', ''))"


def norm_dx(code: str) -> str:
    return str(code).upper().replace(".", "").strip()


def _any_prefix(expr: str, prefixes: list[str]) -> str:
    if not prefixes:
        return "false"
    return "(" + " OR ".join(f"starts_with({expr}, {_lit(p)})" for p in prefixes) + ")"


_PERIOD_UNITS = {"month": ("month", "%Y-%m"), "quarter": ("quarter", "%Y-Q"), "year": ("year", "%Y")}


def _period(expr: str, unit: str) -> str:
    """The period start (DATE) that ``expr`` falls in."""
    return f"CAST(date_trunc('{_PERIOD_UNITS[unit][0]}', {expr}) AS DATE)"


def _label(col: str, unit: str) -> str:
    """Text label of a period start column: 2025-03, 2025-Q1, 2025."""
    if unit == "quarter":
        return f"(strftime({col}, '%Y') || '-Q' || CAST(quarter({col}) AS VARCHAR))"
    return f"strftime({col}, '{_PERIOD_UNITS[unit][1]}')"


# --------------------------------------------------------------------------------------------
# rule definitions


@dataclass(frozen=True)
class Rule:
    id: str
    name_zh: str
    name_en: str
    legal_hook: str  # 条例 article the hit would be charged under
    threshold_source: str  # where the default number comes from and its reliability tag
    amount_basis: str  # what suspected_amount means
    defaults: Mapping[str, Any]
    build: Callable[[Mapping[str, Any]], str] = field(repr=False)
    tables: Callable[[Mapping[str, Any]], dict[str, tuple[list[tuple[str, str]], list[tuple]]]] | None = field(default=None, repr=False)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    validators: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict, repr=False)
    uses_header: bool = True

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name_zh": self.name_zh, "name_en": self.name_en,
                "legal_hook": self.legal_hook, "threshold_source": self.threshold_source,
                "amount_basis": self.amount_basis, "defaults": copy.deepcopy(dict(self.defaults))}


def _with_claim_evidence(hit_sql: str) -> str:
    """Attach as evidence every line of the claims a hit names.

    ``hit_sql`` returns the standard hit columns minus ``evidence`` plus ``ev_keys``, a list of
    ``{inst, claim}`` structs. Only the (few) hit claims are looked up, so the per-claim header
    does not have to carry line lists for every claim.
    """
    return f"""
WITH h AS (SELECT row_number() OVER () AS _hid, * FROM ({hit_sql})),
hk AS (SELECT _hid, unnest(ev_keys, recursive := true) FROM h),
ev AS (
  SELECT hk._hid, list({{'file': c.import_id, 'line': c.src_line}} ORDER BY c.import_id, c.src_line) AS evidence
  FROM hk JOIN claims c ON c.institution_code = hk.inst AND c.claim_id = hk.claim
  GROUP BY hk._hid
)
SELECT h.institution_code, h.claim_id, h.patient_id_hash, h.department, h.doctor_id, h.subject,
       h.metric, h.threshold, h.suspected_amount, h.claim_ids, ev.evidence, h.detail
FROM h JOIN ev USING (_hid)"""


def _hdr_hit(where: str, metric: str, threshold: str, amount: str, detail: str,
             subject: str = "'claim:' || claim_id", source: str = "_fg_hdr") -> str:
    return _with_claim_evidence(f"""
SELECT institution_code, claim_id, patient_id_hash, department, doctor_id,
       {subject} AS subject, CAST({metric} AS DOUBLE) AS metric,
       CAST({threshold} AS DOUBLE) AS threshold,
       CAST(round({amount}, 2) AS DECIMAL(18,2)) AS suspected_amount,
       [claim_id] AS claim_ids, [{{'inst': institution_code, 'claim': claim_id}}] AS ev_keys,
       CAST({detail} AS VARCHAR) AS detail
FROM {source} WHERE {where}""")


# 1 挂床住院 ---------------------------------------------------------------------------------

def _hanging_bed(p: Mapping[str, Any]) -> str:
    h = _num(p["min_presence_hours"])
    return _hdr_hit(
        where=f"visit_type = 'inpatient' AND presence_hours IS NOT NULL AND presence_hours < {h}",
        metric="presence_hours", threshold=h, amount="total_amount",
        detail="json_object('presence_hours', presence_hours, 'bed_days', bed_days, "
               "'admit_date', admit_date, 'discharge_date', discharge_date)")


# 2 分解住院 ---------------------------------------------------------------------------------

def _split_admission(p: Mapping[str, Any]) -> str:
    n = int(p["diagnosis_prefix_len"])
    dx = _dx("diagnosis_code")
    key = dx if n <= 0 else f"left({dx}, {n})"
    part = ("institution_code, patient_id_hash, dx_key" if p["same_institution"]
            else "patient_id_hash, dx_key")
    excl = _any_prefix(dx, [norm_dx(x) for x in p["exclude_diagnosis_prefixes"]])
    emerg = "AND NOT is_emergency" if p["exclude_emergency"] else ""
    days = int(p["max_gap_days"])
    return _with_claim_evidence(f"""
WITH s AS (
  SELECT *, {key} AS dx_key FROM _fg_hdr
  WHERE visit_type = 'inpatient' AND discharge_date IS NOT NULL AND diagnosis_code IS NOT NULL
    AND NOT {excl}
), o AS (
  SELECT *, lag(discharge_date) OVER w AS prev_discharge, lag(claim_id) OVER w AS prev_claim,
         lag(institution_code) OVER w AS prev_institution
  FROM s WINDOW w AS (PARTITION BY {part} ORDER BY admit_date, discharge_date, institution_code, claim_id)
)
SELECT institution_code, claim_id, patient_id_hash, department, doctor_id,
       'claim:' || claim_id AS subject,
       CAST(admit_date - prev_discharge AS DOUBLE) AS metric, CAST({days} AS DOUBLE) AS threshold,
       CAST(round(total_amount, 2) AS DECIMAL(18,2)) AS suspected_amount,
       [prev_claim, claim_id] AS claim_ids,
       [{{'inst': prev_institution, 'claim': prev_claim}}, {{'inst': institution_code, 'claim': claim_id}}] AS ev_keys,
       CAST(json_object('previous_claim', prev_claim, 'previous_institution', prev_institution,
                        'previous_discharge', prev_discharge, 'admit_date', admit_date,
                        'gap_days', admit_date - prev_discharge, 'diagnosis', dx_key) AS VARCHAR) AS detail
FROM o
WHERE prev_discharge IS NOT NULL AND admit_date - prev_discharge BETWEEN 0 AND {days} {emerg}""")


# 3 进销存不符 -------------------------------------------------------------------------------

def _stock_mismatch(p: Mapping[str, Any]) -> str:
    pct = _num(p["max_diff_pct"])
    cats = ", ".join(_lit(c) for c in p["categories"]) or "NULL"
    trunc, label = _period("service_date", p["period"]), _label("g.period", p["period"])
    return f"""
WITH l AS (
  SELECT import_id, src_line, institution_code, claim_id, item_code, quantity, stock_out_quantity,
         amount, {trunc} AS period
  FROM claims WHERE item_category IN ({cats}) AND stock_out_quantity IS NOT NULL
), g AS (
  SELECT institution_code, item_code, period, sum(quantity) AS billed,
         sum(stock_out_quantity) AS stocked, sum(amount) AS amt
  FROM l GROUP BY institution_code, item_code, period
  HAVING abs(sum(quantity) - sum(stock_out_quantity)) * 100 > {pct} * sum(stock_out_quantity)
)
SELECT g.institution_code, NULL AS claim_id, NULL AS patient_id_hash, NULL AS department,
       NULL AS doctor_id,
       'item:' || g.item_code || '|' || {label} AS subject,
       CASE WHEN g.stocked > 0 THEN CAST(abs(g.billed - g.stocked) * 100 / g.stocked AS DOUBLE) END AS metric,
       CAST({pct} AS DOUBLE) AS threshold,
       CAST(round(greatest(g.billed - g.stocked, 0) * g.amt / nullif(g.billed, 0), 2) AS DECIMAL(18,2)) AS suspected_amount,
       list(DISTINCT l.claim_id ORDER BY l.claim_id) AS claim_ids,
       list({{'file': l.import_id, 'line': l.src_line}} ORDER BY l.import_id, l.src_line) AS evidence,
       CAST(json_object('item_code', g.item_code, 'period', {label},
                        'billed_quantity', g.billed, 'stock_out_quantity', g.stocked) AS VARCHAR) AS detail
FROM g JOIN l USING (institution_code, item_code, period)
GROUP BY g.institution_code, g.item_code, g.period, g.billed, g.stocked, g.amt"""


# 4 检查与诊断不符 ---------------------------------------------------------------------------

_GROUP_COLS = {"doctor": "doctor_id", "department": "department", "institution": "NULL"}


def _exam_mismatch(p: Mapping[str, Any]) -> str:
    rate = _num(p["min_match_rate_pct"])
    min_n = int(p["min_exam_lines"])
    gcol = _GROUP_COLS[p["group_by"]]
    label = p["group_by"]
    dcol = "g.grp" if label == "department" else "NULL"
    doccol = "g.grp" if label == "doctor" else "NULL"
    ref = "_fg_ref_exam_diagnosis_mismatch_expected"
    # one hash semi-join per prefix length in the table: (dx, first L chars of the item code)
    lengths = sorted({len(pre) for _, pre in _exam_tables(p)["expected"][1]})
    matched = " OR ".join(
        f"(dx3 || '|' || left(item_code, {n})) IN (SELECT dx_prefix || '|' || exam_prefix FROM {ref} "
        f"WHERE length(exam_prefix) = {n})" for n in lengths) or "false"
    return f"""
WITH m AS (
  SELECT import_id, src_line, institution_code, claim_id, item_code, amount, grp, {matched} AS matched
  FROM (SELECT import_id, src_line, institution_code, claim_id, item_code, amount, {gcol} AS grp,
               left({_dx('diagnosis_code')}, 3) AS dx3
        FROM claims WHERE item_category = 'exam' AND diagnosis_code IS NOT NULL)
  WHERE dx3 IN (SELECT dx_prefix FROM {ref})
), g AS (
  SELECT institution_code, grp, count(*) AS n, count(*) FILTER (WHERE matched) AS n_ok
  FROM m GROUP BY institution_code, grp
  HAVING count(*) >= {min_n} AND count(*) FILTER (WHERE matched) * 100 < {rate} * count(*)
)
SELECT g.institution_code, NULL AS claim_id, NULL AS patient_id_hash,
       {dcol} AS department, {doccol} AS doctor_id,
       '{label}:' || coalesce(g.grp, '') AS subject,
       CAST(g.n_ok * 100.0 / g.n AS DOUBLE) AS metric, CAST({rate} AS DOUBLE) AS threshold,
       CAST(round(sum(m.amount), 2) AS DECIMAL(18,2)) AS suspected_amount,
       list(DISTINCT m.claim_id ORDER BY m.claim_id) AS claim_ids,
       list({{'file': m.import_id, 'line': m.src_line}} ORDER BY m.import_id, m.src_line) AS evidence,
       CAST(json_object('exam_lines', g.n, 'matched_lines', g.n_ok,
                        'unmatched_items', list(DISTINCT m.item_code ORDER BY m.item_code)) AS VARCHAR) AS detail
FROM g JOIN m ON m.institution_code = g.institution_code AND m.grp IS NOT DISTINCT FROM g.grp
WHERE NOT m.matched
GROUP BY g.institution_code, g.grp, g.n, g.n_ok"""


def _exam_tables(p: Mapping[str, Any]):
    table = {norm_dx(k): [str(x) for x in v] for k, v in p["expected_exams"].items()}
    universal = table.pop("*", [])
    rows = []
    for dx, prefixes in sorted(table.items()):
        for pre in sorted(set(prefixes) | set(universal)):
            rows.append((dx, pre))
    return {"expected": ([("dx_prefix", "VARCHAR"), ("exam_prefix", "VARCHAR")], rows)}


# 5 非必要联合用药 ---------------------------------------------------------------------------

def _combined_drugs(p: Mapping[str, Any]) -> str:
    k = int(p["max_drugs_per_class"])
    classes = [str(c).lower() for c in p["drug_classes"]]
    cls_cond = f"AND lower(drug_class) IN ({', '.join(_lit(c) for c in classes)})" if classes else ""
    excl = _any_prefix(_dx("coalesce(c.diagnosis_code, '')"), [norm_dx(x) for x in p["exempt_diagnosis_prefixes"]])
    return f"""
WITH cand AS (
  -- more than k lines of one class is necessary for more than k drugs of it
  SELECT institution_code, claim_id, lower(drug_class) AS cls FROM claims
  WHERE item_category = 'drug' AND drug_class IS NOT NULL {cls_cond}
  GROUP BY institution_code, claim_id, lower(drug_class) HAVING count(*) > {k}
), l AS (
  SELECT c.import_id, c.src_line, c.institution_code, c.claim_id, cand.cls, c.item_code, c.amount
  FROM claims c
  JOIN cand ON cand.institution_code = c.institution_code AND cand.claim_id = c.claim_id
           AND cand.cls = lower(c.drug_class)
  WHERE c.item_category = 'drug' AND NOT {excl}
), d AS (
  SELECT institution_code, claim_id, cls, item_code, sum(amount) AS amt
  FROM l GROUP BY institution_code, claim_id, cls, item_code
), over AS (
  SELECT institution_code, claim_id, cls FROM d
  GROUP BY institution_code, claim_id, cls HAVING count(*) > {k}
), c AS (
  SELECT d.institution_code, d.claim_id, d.cls, count(*) AS n,
         list(d.item_code ORDER BY d.amt DESC, d.item_code) AS items,
         list(d.amt ORDER BY d.amt DESC, d.item_code) AS amts
  FROM d SEMI JOIN over ON over.institution_code = d.institution_code
                        AND over.claim_id = d.claim_id AND over.cls = d.cls
  GROUP BY d.institution_code, d.claim_id, d.cls
)
SELECT c.institution_code, c.claim_id, h.patient_id_hash, h.department, h.doctor_id,
       'claim:' || c.claim_id || '|class:' || c.cls AS subject,
       CAST(c.n AS DOUBLE) AS metric, CAST({k} AS DOUBLE) AS threshold,
       CAST(round(coalesce(list_sum(c.amts[{k + 1}:]), 0), 2) AS DECIMAL(18,2)) AS suspected_amount,
       [c.claim_id] AS claim_ids,
       list({{'file': l.import_id, 'line': l.src_line}} ORDER BY l.import_id, l.src_line) AS evidence,
       CAST(json_object('drug_class', c.cls, 'drugs', c.items, 'flagged_drugs', c.items[{k + 1}:]) AS VARCHAR) AS detail
FROM c
JOIN l ON l.institution_code = c.institution_code AND l.claim_id = c.claim_id AND l.cls = c.cls
JOIN _fg_hdr h ON h.institution_code = c.institution_code AND h.claim_id = c.claim_id
GROUP BY c.institution_code, c.claim_id, c.cls, c.n, c.items, c.amts, h.patient_id_hash,
         h.department, h.doctor_id"""


# 6 抗菌药物使用强度 -------------------------------------------------------------------------

def _antibiotic_intensity(p: Mapping[str, Any]) -> str:
    mx = _num(p["max_ddd_per_100_bed_days"])
    cls = _lit(str(p["antibiotic_class"]).lower())
    trunc, label = _period("discharge_date", p["period"]), _label("g.period", p["period"])
    return f"""
WITH h AS (
  SELECT institution_code, claim_id, department, {trunc} AS period, bed_days
  FROM _fg_hdr WHERE visit_type = 'inpatient' AND discharge_date IS NOT NULL
), ab AS (
  SELECT import_id, src_line, institution_code, claim_id, ddd, amount FROM claims
  WHERE item_category = 'drug' AND lower(drug_class) = {cls} AND ddd IS NOT NULL
), a AS (
  SELECT institution_code, claim_id, sum(ddd) AS ddd, sum(amount) AS amt FROM ab
  GROUP BY institution_code, claim_id
), g AS (
  SELECT h.institution_code, h.department, h.period, sum(h.bed_days) AS bd,
         sum(coalesce(a.ddd, 0)) AS ddd, sum(coalesce(a.amt, 0)) AS amt
  FROM h LEFT JOIN a ON a.institution_code = h.institution_code AND a.claim_id = h.claim_id
  GROUP BY h.institution_code, h.department, h.period
  HAVING sum(h.bed_days) > 0 AND sum(coalesce(a.ddd, 0)) * 100 > {mx} * sum(h.bed_days)
)
SELECT g.institution_code, NULL AS claim_id, NULL AS patient_id_hash, g.department,
       NULL AS doctor_id,
       'dept:' || coalesce(g.department, '') || '|' || {label} AS subject,
       CAST(g.ddd * 100.0 / g.bd AS DOUBLE) AS metric, CAST({mx} AS DOUBLE) AS threshold,
       CAST(round(g.amt * (g.ddd * 100 - {mx} * g.bd) / (g.ddd * 100), 2) AS DECIMAL(18,2)) AS suspected_amount,
       list(DISTINCT ab.claim_id ORDER BY ab.claim_id) AS claim_ids,
       list({{'file': ab.import_id, 'line': ab.src_line}} ORDER BY ab.import_id, ab.src_line) AS evidence,
       CAST(json_object('ddd', g.ddd, 'bed_days', g.bd, 'period', {label},
                        'antibiotic_amount', g.amt) AS VARCHAR) AS detail
FROM g
JOIN h ON h.institution_code = g.institution_code AND h.department IS NOT DISTINCT FROM g.department
      AND h.period = g.period
JOIN ab ON ab.institution_code = h.institution_code AND ab.claim_id = h.claim_id
GROUP BY g.institution_code, g.department, g.period, g.bd, g.ddd, g.amt"""


# 7 病历无理由多次修改 -----------------------------------------------------------------------

def _record_edits(p: Mapping[str, Any]) -> str:
    mx = int(p["max_edits_without_reason"])
    return _hdr_hit(
        where=f"record_edits > {mx} AND NOT coalesce(record_edit_reasoned, false)",
        metric="record_edits", threshold=str(mx), amount="total_amount",
        detail="json_object('record_edits', record_edits, 'reasoned', record_edit_reasoned)")


# 8 重复收费 ---------------------------------------------------------------------------------

def _duplicate_charge(p: Mapping[str, Any]) -> str:
    exempt = [str(x) for x in p["exempt_item_codes"]]
    ex = f"AND item_code NOT IN ({', '.join(_lit(x) for x in exempt)})" if exempt else ""
    return f"""
WITH hk AS (
  -- cheap first pass on one 64-bit hash per line; a collision only adds a candidate
  SELECT hash(institution_code, claim_id, item_code, service_date, quantity, unit_price) AS hk
  FROM claims WHERE true {ex} GROUP BY hk HAVING count(*) > 1
), k AS (
  SELECT institution_code, claim_id, item_code, service_date, quantity, unit_price
  FROM claims
  WHERE true {ex} AND hash(institution_code, claim_id, item_code, service_date, quantity, unit_price)
                      IN (SELECT hk FROM hk)
  GROUP BY institution_code, claim_id, item_code, service_date, quantity, unit_price
  HAVING count(*) > 1
), l AS (
  SELECT c.import_id, c.src_line, c.amount, k.*
  FROM k JOIN claims c USING (institution_code, claim_id, item_code, service_date, quantity, unit_price)
)
SELECT l.institution_code, l.claim_id, any_value(h.patient_id_hash) AS patient_id_hash,
       any_value(h.department) AS department, any_value(h.doctor_id) AS doctor_id,
       'claim:' || l.claim_id || '|item:' || l.item_code || '|date:' || strftime(l.service_date, '%Y-%m-%d')
         || '|qty:' || CAST(l.quantity AS VARCHAR) || '|price:' || CAST(l.unit_price AS VARCHAR) AS subject,
       CAST(count(*) AS DOUBLE) AS metric, CAST(1 AS DOUBLE) AS threshold,
       CAST(round(sum(l.amount) - max(l.amount), 2) AS DECIMAL(18,2)) AS suspected_amount,
       [l.claim_id] AS claim_ids,
       list({{'file': l.import_id, 'line': l.src_line}} ORDER BY l.import_id, l.src_line) AS evidence,
       CAST(json_object('item_code', l.item_code, 'service_date', l.service_date,
                        'quantity', l.quantity, 'unit_price', l.unit_price, 'copies', count(*)) AS VARCHAR) AS detail
FROM l JOIN _fg_hdr h ON h.institution_code = l.institution_code AND h.claim_id = l.claim_id
GROUP BY l.institution_code, l.claim_id, l.item_code, l.service_date, l.quantity, l.unit_price"""


# 9 超标准 / 分解收费(日最大数量) ------------------------------------------------------------

def _over_standard(p: Mapping[str, Any]) -> str:
    return """
WITH g AS (
  SELECT c.institution_code, c.claim_id, c.item_code, c.service_date, r.max_per_day,
         sum(c.quantity) AS qty, sum(c.amount) AS amt
  FROM claims c JOIN _fg_ref_over_standard_quantity_max r ON r.item_code = c.item_code
  GROUP BY c.institution_code, c.claim_id, c.item_code, c.service_date, r.max_per_day
  HAVING sum(c.quantity) > r.max_per_day
)
SELECT g.institution_code, g.claim_id, h.patient_id_hash, h.department, h.doctor_id,
       'claim:' || g.claim_id || '|item:' || g.item_code || '|date:' || strftime(g.service_date, '%Y-%m-%d') AS subject,
       CAST(g.qty AS DOUBLE) AS metric, CAST(g.max_per_day AS DOUBLE) AS threshold,
       CAST(round((g.qty - g.max_per_day) * g.amt / g.qty, 2) AS DECIMAL(18,2)) AS suspected_amount,
       [g.claim_id] AS claim_ids,
       list({'file': c.import_id, 'line': c.src_line} ORDER BY c.import_id, c.src_line) AS evidence,
       CAST(json_object('item_code', g.item_code, 'service_date', g.service_date,
                        'quantity', g.qty, 'max_per_day', g.max_per_day) AS VARCHAR) AS detail
FROM g
JOIN claims c ON c.institution_code = g.institution_code AND c.claim_id = g.claim_id
             AND c.item_code = g.item_code AND c.service_date = g.service_date
JOIN _fg_hdr h ON h.institution_code = g.institution_code AND h.claim_id = g.claim_id
GROUP BY g.institution_code, g.claim_id, g.item_code, g.service_date, g.max_per_day, g.qty, g.amt,
         h.patient_id_hash, h.department, h.doctor_id"""


def _over_standard_tables(p: Mapping[str, Any]):
    rows = [(str(k), Decimal(str(v))) for k, v in sorted(p["max_per_day"].items())]
    return {"max": ([("item_code", "VARCHAR"), ("max_per_day", "DECIMAL(18,4)")], rows)}


# 10 / 11 性别、年龄限定 ---------------------------------------------------------------------

def _restricted(ref: str, mismatch: str, metric: str, threshold: str, detail_items: str) -> str:
    return f"""
WITH l AS (
  SELECT c.import_id, c.src_line, c.institution_code, c.claim_id, c.item_code, c.amount, c.gender,
         c.age, r.*
  FROM claims c JOIN {ref} r ON r.code = c.item_code
  WHERE {mismatch}
)
SELECT l.institution_code, l.claim_id, any_value(h.patient_id_hash) AS patient_id_hash,
       any_value(h.department) AS department, any_value(h.doctor_id) AS doctor_id,
       'claim:' || l.claim_id AS subject,
       CAST({metric} AS DOUBLE) AS metric, CAST({threshold} AS DOUBLE) AS threshold,
       CAST(round(sum(l.amount), 2) AS DECIMAL(18,2)) AS suspected_amount,
       [l.claim_id] AS claim_ids,
       list({{'file': l.import_id, 'line': l.src_line}} ORDER BY l.import_id, l.src_line) AS evidence,
       CAST(json_object({detail_items}) AS VARCHAR) AS detail
FROM l JOIN _fg_hdr h ON h.institution_code = l.institution_code AND h.claim_id = l.claim_id
GROUP BY l.institution_code, l.claim_id"""


def _gender_mismatch(p: Mapping[str, Any]) -> str:
    return _restricted(
        "_fg_ref_gender_mismatch_items",
        "c.gender IN ('M', 'F') AND c.gender <> r.sex",
        metric="count(*)", threshold="0",
        detail_items="'gender', any_value(l.gender), "
                     "'items', list(DISTINCT l.item_code ORDER BY l.item_code), "
                     "'allowed_sex', list(DISTINCT l.sex ORDER BY l.sex)")


def _gender_tables(p: Mapping[str, Any]):
    rows = [(str(k), str(v).upper()) for k, v in sorted(p["items"].items())]
    return {"items": ([("code", "VARCHAR"), ("sex", "VARCHAR")], rows)}


def _age_mismatch(p: Mapping[str, Any]) -> str:
    return _restricted(
        "_fg_ref_age_mismatch_items",
        "c.age IS NOT NULL AND ((r.min_age IS NOT NULL AND c.age < r.min_age) "
        "OR (r.max_age IS NOT NULL AND c.age > r.max_age))",
        metric="any_value(l.age)", threshold="NULL",
        detail_items="'age', any_value(l.age), "
                     "'items', list(DISTINCT l.item_code ORDER BY l.item_code), "
                     "'ranges', list(DISTINCT l.code || ':' || coalesce(CAST(l.min_age AS VARCHAR), '') "
                     "|| '-' || coalesce(CAST(l.max_age AS VARCHAR), '') ORDER BY l.code || ':' "
                     "|| coalesce(CAST(l.min_age AS VARCHAR), '') || '-' || coalesce(CAST(l.max_age AS VARCHAR), ''))")


def _age_tables(p: Mapping[str, Any]):
    rows = []
    for code, rng in sorted(p["items"].items()):
        lo, hi = rng
        rows.append((str(code), None if lo is None else int(lo), None if hi is None else int(hi)))
    return {"items": ([("code", "VARCHAR"), ("min_age", "INTEGER"), ("max_age", "INTEGER")], rows)}


# 12 DRG 高套 --------------------------------------------------------------------------------

def _drg_upcoding(p: Mapping[str, Any]) -> str:
    tol = _num(p["tolerance_pct"])
    rate = _num(p["base_rate_yuan"])
    src = (f"(SELECT h.*, r.weight AS expected_weight FROM _fg_hdr h "
           f"JOIN _fg_ref_drg_upcoding_weights r ON r.dx_prefix = left({_dx('h.diagnosis_code')}, 3) "
           f"WHERE h.drg_weight IS NOT NULL)")
    return _hdr_hit(
        where=f"drg_weight * 100 > expected_weight * (100 + {tol})",
        metric="drg_weight", threshold="expected_weight",
        amount=f"(drg_weight - expected_weight) * {rate}",
        detail="json_object('drg_group', drg_group, 'drg_weight', drg_weight, "
               "'expected_weight', expected_weight, 'diagnosis', diagnosis_code)",
        source=src)


def _drg_tables(p: Mapping[str, Any]):
    rows = [(norm_dx(k), Decimal(str(v))) for k, v in sorted(p["expected_weights"].items())]
    return {"weights": ([("dx_prefix", "VARCHAR"), ("weight", "DECIMAL(10,4)")], rows)}


# --------------------------------------------------------------------------------------------
# parameter validators


def _v_str_list(v: Any) -> list[str]:
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) and x for x in v):
        raise TypeError("list of non-empty strings expected")
    return list(v)


def _v_prefix_map(v: Any) -> dict[str, list[str]]:
    if not isinstance(v, Mapping):
        raise TypeError("mapping diagnosis prefix -> list of exam item-code prefixes expected")
    out = {}
    for k, pres in v.items():
        key = "*" if k == "*" else norm_dx(k)
        if key != "*" and len(key) != 3:
            raise TypeError(f"diagnosis key {k!r} must be a 3-character ICD-10 category or '*'")
        out[key] = sorted(_v_str_list(pres))
    return out


def _v_num_map(v: Any) -> dict[str, float]:
    if not isinstance(v, Mapping):
        raise TypeError("mapping code -> number expected")
    out = {}
    for k, x in v.items():
        _num(x)
        if x < 0:
            raise TypeError(f"negative value for {k!r}")
        out[str(k)] = x
    return out


def _v_weight_map(v: Any) -> dict[str, float]:
    out = _v_num_map(v)
    for k in out:
        if len(norm_dx(k)) != 3:
            raise TypeError(f"diagnosis key {k!r} must be a 3-character ICD-10 category")
    return {norm_dx(k): x for k, x in out.items()}


def _v_sex_map(v: Any) -> dict[str, str]:
    if not isinstance(v, Mapping) or not all(str(s).upper() in ("M", "F") for s in v.values()):
        raise TypeError("mapping item code -> 'M' or 'F' expected")
    return {str(k): str(s).upper() for k, s in v.items()}


def _v_age_map(v: Any) -> dict[str, list[int | None]]:
    if not isinstance(v, Mapping):
        raise TypeError("mapping item code -> [min_age, max_age] expected")
    out = {}
    for k, rng in v.items():
        if not isinstance(rng, (list, tuple)) or len(rng) != 2:
            raise TypeError(f"{k!r}: [min_age, max_age] expected (null for open end)")
        lo, hi = rng
        for x in (lo, hi):
            if x is not None and (isinstance(x, bool) or not isinstance(x, int) or x < 0):
                raise TypeError(f"{k!r}: ages must be non-negative integers or null")
        if lo is not None and hi is not None and lo > hi:
            raise TypeError(f"{k!r}: min_age > max_age")
        out[str(k)] = [lo, hi]
    return out


# --------------------------------------------------------------------------------------------
# default reference data (ILLUSTRATIVE; replace with the area's 两库 lists)

# Item-code prefixes follow the layout of the national 医疗服务项目 catalogue: 21xx imaging
# (2101 X-ray, 2102 CT, 2103 MRI), 22xx ultrasound, 23xx nuclear medicine, 25xx laboratory
# (2501 blood/body fluid, 2502 chemistry, 2503 immunology, 2504 microbiology), 27xx pathology,
# 31xx clinical diagnostics by system (3107 circulatory: ECG ...), 3106 respiratory function.
DEFAULT_EXPECTED_EXAMS: dict[str, list[str]] = {
    "*": ["2501"],  # routine blood / urine tests are expected for any diagnosis
    "I10": ["2502", "2201", "3107"],  # 高血压
    "I20": ["2502", "2503", "2201", "3107", "2102"],  # 心绞痛
    "I21": ["2502", "2503", "2201", "3107", "2102"],  # 急性心肌梗死
    "I63": ["2102", "2103", "2201", "2502", "3107"],  # 脑梗死
    "J18": ["2101", "2102", "2502", "2504", "3106"],  # 肺炎
    "J44": ["2101", "2102", "2502", "3106"],  # 慢阻肺
    "E11": ["2502", "2503", "2201"],  # 2型糖尿病
    "K35": ["2201", "2102", "2502"],  # 阑尾炎
    "N18": ["2502", "2503", "2201"],  # 慢性肾病
    "C34": ["2102", "2103", "2301", "2502", "2503", "2703"],  # 肺癌
}
DEFAULT_MAX_PER_DAY: dict[str, float] = {
    "110200001": 1,  # 床位费 per day
    "111000001": 1,  # 一般诊疗费 per day
    "120400001": 4,  # 静脉注射 times per day
    "121400001": 24,  # 血氧饱和度监测 hours per day
}
DEFAULT_GENDER_ITEMS: dict[str, str] = {
    "311201001": "F",  # 妇科检查
    "311202001": "F",  # 阴道镜检查
    "331300001": "F",  # 子宫手术类 (sample)
    "311101001": "M",  # 前列腺按摩
    "331100001": "M",  # 前列腺手术类 (sample)
}
DEFAULT_AGE_ITEMS: dict[str, list[int | None]] = {
    "311400001": [None, 14],  # 儿童(小儿)专用项目 sample
    "110900001": [None, 0],  # 新生儿项目 sample (age in years 0)
    "311500001": [60, None],  # 老年综合评估 sample
}
DEFAULT_DRG_WEIGHTS: dict[str, float] = {
    "I10": 0.70, "I20": 0.95, "I21": 2.50, "I63": 1.40, "J18": 0.90, "J44": 1.00,
    "E11": 0.80, "K35": 1.10, "N18": 1.20, "C34": 2.00,
}

# --------------------------------------------------------------------------------------------
# the catalogue

_SEED = "seed 001 市定点医疗机构使用医保基金专项整治工作方案"

RULES: tuple[Rule, ...] = (
    Rule("hanging_bed", "挂床住院", "Bed hanging (patient rarely on the ward)",
         "条例第38条第(一)项", f"{_SEED}: 日均在院时长低于6小时视为异常 — no national number [NF]",
         "total amount of the stay",
         {"min_presence_hours": 6}, _hanging_bed),
    Rule("split_admission", "分解住院", "Split admission (same diagnosis readmitted within N days)",
         "条例第38条第(一)项",
         f"{_SEED}: 同一患者15日内因相同诊断再次住院视为异常; same in agreements [S]",
         "total amount of the readmission",
         {"max_gap_days": 15, "same_institution": True, "exclude_emergency": True,
          "diagnosis_prefix_len": 0, "exclude_diagnosis_prefixes": ["Z51"]},
         _split_admission,
         validators={"exclude_diagnosis_prefixes": _v_str_list}),
    Rule("stock_mismatch", "进销存不符(虚增数量)", "Stock-out vs billed quantity mismatch",
         "条例第39条第(二)项; 虚构服务时第40条第一款第(三)项",
         f"{_SEED}: 药品出库量与收费数量差异超过5%视为异常 — no national number [NF]",
         "billed quantity above stock-out x average billed unit price",
         {"max_diff_pct": 5, "categories": ["drug"], "period": "month"}, _stock_mismatch,
         choices={"period": tuple(_PERIOD_UNITS)}, validators={"categories": _v_str_list},
         uses_header=False),
    Rule("exam_diagnosis_mismatch", "检查项目与诊断不符", "Exam-diagnosis match rate below threshold",
         "条例第38条第(二)项",
         f"{_SEED}: 检查项目与诊断符合率低于80%视为异常 — no national number [NF]",
         "amount of the exam lines that do not match the diagnosis",
         {"min_match_rate_pct": 80, "group_by": "doctor", "min_exam_lines": 10,
          "expected_exams": DEFAULT_EXPECTED_EXAMS},
         _exam_mismatch, tables=_exam_tables, choices={"group_by": tuple(_GROUP_COLS)},
         validators={"expected_exams": _v_prefix_map}, uses_header=False),
    Rule("combined_drugs", "非必要联合用药", "More than N drugs of one class on a claim",
         "条例第38条第(二)项",
         f"{_SEED}: 非必要联合用药超过2种视为异常 — no national number [NF]",
         "amount of the drugs beyond the allowed number (cheapest flagged first)",
         {"max_drugs_per_class": 2, "drug_classes": [],
          "exempt_diagnosis_prefixes": ["A15", "A16", "A17", "A18", "A19", "A40", "A41",
                                        "B20", "B21", "B22", "B23", "B24"]},
         _combined_drugs,
         validators={"drug_classes": _v_str_list, "exempt_diagnosis_prefixes": _v_str_list}),
    Rule("antibiotic_intensity", "抗菌药物使用强度超标", "Antibiotic use intensity above N DDD per 100 bed-days",
         "条例第38条第(二)项",
         f"{_SEED}: 抗菌药物使用强度超过40DDD视为异常; health-commission quality target [U]",
         "antibiotic amount x (intensity - limit) / intensity",
         {"max_ddd_per_100_bed_days": 40, "antibiotic_class": "antibiotic", "period": "month"},
         _antibiotic_intensity, choices={"period": tuple(_PERIOD_UNITS)}),
    Rule("record_edits", "病历无合理理由多次修改", "Record edited more than N times without reason",
         "条例第40条第一款第(二)项",
         f"{_SEED}: 无合理理由修改超过3次视为异常 — no national number [NF]",
         "total amount of the claim",
         {"max_edits_without_reason": 3}, _record_edits),
    Rule("duplicate_charge", "重复收费", "Duplicate charge (same claim, item, day, quantity, price)",
         "条例第38条第(三)项", "rule logic from seed 001 (重复收费); no threshold",
         "amount of the extra copies",
         {"exempt_item_codes": []}, _duplicate_charge,
         validators={"exempt_item_codes": _v_str_list}),
    Rule("over_standard_quantity", "超标准收费/分解收费", "Quantity per day above the configured maximum",
         "条例第38条第(三)项", "per-item daily maxima from the area's price catalogue (sample table)",
         "quantity above the maximum x average unit price",
         {"max_per_day": DEFAULT_MAX_PER_DAY}, _over_standard, tables=_over_standard_tables,
         validators={"max_per_day": _v_num_map}),
    Rule("gender_mismatch", "性别限定项目不符", "Gender-restricted item billed for the other gender",
         "条例第38条第(六)项", "national 两库 batch 1 (2025) gender rules [S]; sample table",
         "amount of the mismatching lines",
         {"items": DEFAULT_GENDER_ITEMS}, _gender_mismatch, tables=_gender_tables,
         validators={"items": _v_sex_map}),
    Rule("age_mismatch", "年龄限定项目不符", "Age-restricted item billed outside the age range",
         "条例第38条第(六)项", "national 两库 batch 1 (2025) child-only rules [S]; sample table",
         "amount of the mismatching lines",
         {"items": DEFAULT_AGE_ITEMS}, _age_mismatch, tables=_age_tables,
         validators={"items": _v_age_map}),
    Rule("drg_upcoding", "DRG高套病组", "DRG weight above the weight expected for the diagnosis",
         "细则第23条 → 条例第38条第(七)项", "细则 art.23 [V]; expected weights are an area table",
         "(billed weight - expected weight) x base rate (细则 art.35: difference between groups)",
         {"expected_weights": DEFAULT_DRG_WEIGHTS, "tolerance_pct": 0, "base_rate_yuan": 10000},
         _drg_upcoding, tables=_drg_tables, validators={"expected_weights": _v_weight_map}),
)
RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULES)
_BY_ID = {r.id: r for r in RULES}


def get_rule(rule_id: str) -> Rule:
    try:
        return _BY_ID[rule_id]
    except KeyError:
        raise RuleSetError("rule_unknown", f"未知规则 {rule_id}", f"unknown rule {rule_id}") from None


# --------------------------------------------------------------------------------------------
# rule sets


_INTEGER_PARAMS = frozenset({"max_gap_days", "diagnosis_prefix_len", "min_exam_lines",
                             "max_drugs_per_class", "max_edits_without_reason"})


def _check_param(rule: Rule, name: str, value: Any) -> Any:
    if name not in rule.defaults:
        raise RuleSetError("rule_param_unknown", f"规则 {rule.id} 无参数 {name}",
                           f"rule {rule.id} has no parameter {name}")
    default = rule.defaults[name]
    try:
        if name in rule.validators:
            return rule.validators[name](value)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TypeError("true/false expected")
            return value
        if isinstance(default, (int, float)):
            _num(value)
            if value < 0:
                raise TypeError("must not be negative")
            if name in _INTEGER_PARAMS and not float(value).is_integer():
                raise TypeError("integer expected")
            return int(value) if name in _INTEGER_PARAMS else value
        if isinstance(default, str):
            if not isinstance(value, str) or not value:
                raise TypeError("non-empty string expected")
            allowed = rule.choices.get(name)
            if allowed and value not in allowed:
                raise TypeError(f"one of {', '.join(allowed)} expected")
            return value
        if isinstance(default, (list, dict)):
            if type(value) is not type(default):
                raise TypeError(f"{type(default).__name__} expected")
            return copy.deepcopy(value)
    except (TypeError, RuleSetError) as exc:
        msg = exc.en if isinstance(exc, RuleSetError) else str(exc)
        raise RuleSetError("rule_param_invalid", f"规则 {rule.id} 参数 {name} 无效: {msg}",
                           f"rule {rule.id} parameter {name} invalid: {msg}") from None
    return value  # pragma: no cover


def _canonical(obj: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return str(o)
        raise TypeError(type(o).__name__)

    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=default)


@dataclass(frozen=True)
class RuleSet:
    """A versioned parameter set for one pooling area (统筹地区).

    ``parameters`` holds overrides per rule id; anything not overridden takes the rule's
    default. A table parameter (dict/list) is replaced as a whole, never merged. ``disabled``
    lists rules this area does not run.
    """

    version: str = DEFAULT_RULESET_VERSION
    area_code: str = NATIONAL_AREA_CODE
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version.strip():
            raise RuleSetError("ruleset_version_required", "规则版本号不能为空", "version is required")
        if not isinstance(self.area_code, str) or not self.area_code.strip():
            raise RuleSetError("ruleset_area_required", "统筹地区编码不能为空", "area code is required")
        # own a deep copy, so later changes to the caller's dict cannot drift from params_hash
        object.__setattr__(self, "parameters",
                           {str(k): copy.deepcopy(dict(v)) for k, v in (self.parameters or {}).items()})
        effective: dict[str, dict[str, Any]] = {}
        for rid in self.parameters:
            get_rule(rid)
        for rid in self.disabled:
            get_rule(rid)
        for rule in RULES:
            eff = copy.deepcopy(dict(rule.defaults))
            # validate defaults too (normalises table keys)
            for name in list(eff):
                eff[name] = _check_param(rule, name, eff[name])
            for name, value in (self.parameters.get(rule.id) or {}).items():
                eff[name] = _check_param(rule, name, value)
            effective[rule.id] = eff
        object.__setattr__(self, "disabled", tuple(sorted(set(self.disabled))))
        object.__setattr__(self, "_effective", effective)

    @classmethod
    def default(cls, area_code: str = NATIONAL_AREA_CODE) -> RuleSet:
        return cls(version=DEFAULT_RULESET_VERSION, area_code=area_code)

    def params(self, rule_id: str) -> dict[str, Any]:
        get_rule(rule_id)
        return copy.deepcopy(self._effective[rule_id])  # type: ignore[attr-defined]

    @property
    def effective_parameters(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self._effective)  # type: ignore[attr-defined]

    @property
    def enabled_rules(self) -> tuple[str, ...]:
        return tuple(r for r in RULE_IDS if r not in self.disabled)

    @property
    def params_hash(self) -> str:
        """SHA-256 of the effective parameters and the disabled list (not of the version label)."""
        payload = {"engine": ENGINE_VERSION, "parameters": self._effective,  # type: ignore[attr-defined]
                   "disabled": list(self.disabled)}
        return hashlib.sha256(_canonical(payload).encode()).hexdigest()

    def derive(self, version: str, parameters: Mapping[str, Mapping[str, Any]] | None = None,
               area_code: str | None = None, disabled: tuple[str, ...] | None = None,
               description: str = "") -> RuleSet:
        """A new version: this set's overrides updated with ``parameters``."""
        merged = {k: dict(v) for k, v in self.parameters.items()}
        for rid, ov in (parameters or {}).items():
            merged.setdefault(rid, {}).update(ov)
        return RuleSet(version=version, area_code=area_code or self.area_code, parameters=merged,
                       disabled=self.disabled if disabled is None else disabled,
                       description=description)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "area_code": self.area_code,
                "parameters": copy.deepcopy({k: dict(v) for k, v in self.parameters.items()}),
                "disabled": list(self.disabled), "description": self.description,
                "params_hash": self.params_hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSet:
        rs = cls(version=data["version"], area_code=data["area_code"],
                 parameters=data.get("parameters") or {}, disabled=tuple(data.get("disabled") or ()),
                 description=data.get("description", ""))
        if data.get("params_hash") and data["params_hash"] != rs.params_hash:
            raise RuleSetError("ruleset_hash_mismatch", "参数哈希不一致(规则引擎或参数已变)",
                               "parameter hash differs (engine or parameters changed)")
        return rs

    def reference_tables(self, rule_id: str) -> dict[str, tuple[list[tuple[str, str]], list[tuple]]]:
        rule = get_rule(rule_id)
        return rule.tables(self.params(rule_id)) if rule.tables else {}

    def sql(self, rule_id: str) -> str:
        return get_rule(rule_id).build(self.params(rule_id))


# --------------------------------------------------------------------------------------------
# persistence (immutable versions)


def _ensure_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("""
CREATE TABLE IF NOT EXISTS rule_sets (
  area_code VARCHAR NOT NULL,
  version VARCHAR NOT NULL,
  params_hash VARCHAR NOT NULL,
  definition VARCHAR NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (area_code, version)
)""")


def save_ruleset(conn: duckdb.DuckDBPyConnection, ruleset: RuleSet) -> bool:
    """Store a version; returns False if the identical version was already stored.

    Raises ``ruleset_version_conflict`` if (area, version) exists with other parameters.
    """
    _ensure_table(conn)
    row = conn.execute("SELECT params_hash FROM rule_sets WHERE area_code = ? AND version = ?",
                       [ruleset.area_code, ruleset.version]).fetchone()
    if row is not None:
        if row[0] != ruleset.params_hash:
            raise RuleSetError("ruleset_version_conflict",
                               f"统筹地区 {ruleset.area_code} 已有版本 {ruleset.version}，参数不同；请使用新版本号",
                               f"area {ruleset.area_code} already has version {ruleset.version} with "
                               "other parameters; use a new version")
        return False
    conn.execute("INSERT INTO rule_sets VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
                 [ruleset.area_code, ruleset.version, ruleset.params_hash,
                  _canonical(ruleset.to_dict())])
    return True


def load_ruleset(conn: duckdb.DuckDBPyConnection, area_code: str, version: str | None = None) -> RuleSet:
    """The given version, or the latest stored one, for an area."""
    _ensure_table(conn)
    if version is None:
        row = conn.execute("SELECT definition FROM rule_sets WHERE area_code = ? "
                           "ORDER BY created_at DESC, version DESC LIMIT 1", [area_code]).fetchone()
    else:
        row = conn.execute("SELECT definition FROM rule_sets WHERE area_code = ? AND version = ?",
                           [area_code, version]).fetchone()
    if row is None:
        raise RuleSetError("ruleset_not_found", f"统筹地区 {area_code} 无规则版本 {version or ''}".strip(),
                           f"no rule set {version or ''} for area {area_code}".replace("  ", " "))
    return RuleSet.from_dict(json.loads(row[0]))


def list_rulesets(conn: duckdb.DuckDBPyConnection, area_code: str | None = None) -> list[dict[str, Any]]:
    _ensure_table(conn)
    sql = "SELECT area_code, version, params_hash, created_at FROM rule_sets"
    args: list[Any] = []
    if area_code:
        sql += " WHERE area_code = ?"
        args.append(area_code)
    sql += " ORDER BY area_code, created_at, version"
    return [dict(zip(("area_code", "version", "params_hash", "created_at"), r))
            for r in conn.execute(sql, args).fetchall()]
