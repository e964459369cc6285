"""Synthetic settlement records for benchmarks and demos (no real data).

``generate_claims`` writes ``rows`` lines (8 lines per claim) with DuckDB's own vectorised SQL,
so a million rows take about a second. The data follows the default reference tables of
``rules.py`` and plants a small share of every anomaly the rules look for, so each rule has hits:
low presence hours, readmissions, stock-out gaps in some institutions, doctors with unrelated
exams, three drugs of one class, heavy antibiotic use in some departments, record edits,
duplicated lines, a second bed-day charge, gender/age-restricted items, up-coded DRG weights.
Same ``rows`` and ``seed`` give the same file.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

__all__ = ["generate_claims", "INSTITUTIONS"]

INSTITUTIONS = 200


def institution_levels(institutions: int = INSTITUTIONS) -> dict[str, str]:
    """Level of every synthetic institution (for review sampling)."""
    out = {}
    for n in range(institutions):
        lvl = "二级及以上" if n % 10 < 3 else ("基层" if n % 10 < 8 else "零售药店")
        out[f"H{n:04d}"] = lvl
    return out


_SQL = """
WITH b AS (
  SELECT i, i // 8 AS c, i % 8 AS j FROM range({rows}) t(i)
), k AS (
  SELECT i, c, j,
         CAST(hash(hash(c, {seed}) + 1) % {inst} AS INTEGER) AS inst_n,
         CAST(hash(hash(c, {seed}) + 2) % 10 AS INTEGER) < 8 AS inpatient,
         CAST(hash(hash(c, {seed}) + 3) % 250 AS INTEGER) AS pat_n,
         CAST(hash(hash(c, {seed}) + 4) % 10 AS INTEGER) AS dx_n,
         DATE '2025-01-01' + CAST(CAST(hash(hash(c, {seed}) + 5) % 360 AS INTEGER) AS INTEGER) AS admit,
         1 + CAST(CAST(hash(hash(c, {seed}) + 6) % 12 AS INTEGER) AS INTEGER) AS los,
         CAST(hash(hash(c, {seed}) + 7) % 16 AS INTEGER) AS pres_n,
         CAST(hash(hash(c, {seed}) + 8) % 100 AS INTEGER) AS pres_bad,
         CAST(hash(hash(c, {seed}) + 9) % 6 AS INTEGER) AS dept_n,
         CAST(hash(hash(c, {seed}) + 10) % 8 AS INTEGER) AS doc_n,
         CAST(hash(hash(c, {seed}) + 11) % 2 AS INTEGER) AS sex_n,
         1 + CAST(hash(hash(c, {seed}) + 12) % 90 AS INTEGER) AS age,
         CAST(hash(hash(c, {seed}) + 13) % 100 AS INTEGER) AS edit_n,
         CAST(hash(hash(c, {seed}) + 14) % 2 AS INTEGER) AS reason_n,
         CAST(hash(hash(c, {seed}) + 15) % 10 AS INTEGER) AS emerg_n,
         CAST(hash(hash(c, {seed}) + 16) % 300 AS INTEGER) AS special_n,
         CAST(hash(hash(c, {seed}) + 18) % 200 AS INTEGER) AS dup_n,
         CAST(hash(hash(c, {seed}) + 19) % 100 AS INTEGER) AS drg_n,
         CAST(hash(hash(i, {seed}) + 20) % 4 AS INTEGER) AS cls_n,
         CAST(hash(hash(i, {seed}) + 21) % 3 AS INTEGER) AS drug_n,
         1 + CAST(hash(hash(i, {seed}) + 22) % 6 AS INTEGER) AS qty_n,
         CAST(hash(hash(i, {seed}) + 23) % 100 AS INTEGER) AS exam_r,
         CAST(hash(hash(i, {seed}) + 24) % 5 AS INTEGER) AS exam_n
  FROM b
), d AS (
  SELECT *,
    ['I10', 'I20.0', 'I21.9', 'I63.9', 'J18.9', 'J44.1', 'E11.9', 'K35.8', 'N18.5', 'C34.9'][dx_n + 1] AS dx,
    [0.70, 0.95, 2.50, 1.40, 0.90, 1.00, 0.80, 1.10, 1.20, 2.00][dx_n + 1] AS w,
    [['2502', '2201', '3107'], ['2502', '2503', '2201'], ['2502', '2503', '3107'],
     ['2102', '2103', '2201'], ['2101', '2102', '2504'], ['2101', '2102', '3106'],
     ['2502', '2503', '2201'], ['2201', '2102', '2502'], ['2502', '2503', '2201'],
     ['2102', '2103', '2301']][dx_n + 1] AS exams,
    (inst_n % 10 = 0 AND doc_n = 0) AS bad_doctor,
    (inst_n % 40 = 1) AS bad_stock,
    (inst_n % 25 = 3 AND dept_n = 0) AS heavy_ab,
    CASE special_n WHEN 0 THEN '311201001' WHEN 1 THEN '311400001' ELSE '120400001' END AS line6_item
  FROM k
), l AS (
  SELECT *,
    CASE WHEN j <= 2 THEN 'drug' WHEN j <= 4 THEN 'exam'
         WHEN j = 7 AND dup_n <> 0 AND j7_surgery THEN 'surgery'
         WHEN j = 7 AND dup_n <> 0 THEN 'consumable' ELSE 'service' END AS category,
    ['antibiotic', 'ppi', 'nsaid', 'tcm_injection'][cls_n + 1] AS drug_class
  FROM (SELECT *, CAST(hash(hash(c, {seed}) + 25) % 20 AS INTEGER) = 0 AS j7_surgery FROM d)
)
SELECT
  'C' || lpad(CAST(c AS VARCHAR), 8, '0') AS claim_id,
  'H' || lpad(CAST(inst_n AS VARCHAR), 4, '0') AS institution_code,
  'P' || lpad(CAST(inst_n AS VARCHAR), 4, '0') || lpad(CAST(pat_n AS VARCHAR), 4, '0') AS patient_id_hash,
  CASE WHEN sex_n = 0 THEN 'M' ELSE 'F' END AS gender,
  age,
  admit AS admit_date,
  CASE WHEN inpatient THEN admit + los END AS discharge_date,
  CASE WHEN j IN (6, 7) THEN admit
       WHEN inpatient THEN admit + CAST((j * 3 + c) % los AS INTEGER) ELSE admit END AS service_date,
  CASE WHEN inpatient THEN 'inpatient' ELSE 'outpatient' END AS visit_type,
  dx AS diagnosis_code,
  CASE
    WHEN category = 'drug' THEN
      CASE drug_class WHEN 'antibiotic' THEN ['XJ01CA04', 'XJ01DD04', 'XJ01FA09'][drug_n + 1]
                      WHEN 'ppi' THEN ['XA02BC01', 'XA02BC02', 'XA02BC05'][drug_n + 1]
                      WHEN 'nsaid' THEN ['XM01AE01', 'XM01AB05', 'XM01AH01'][drug_n + 1]
                      ELSE ['ZZ0001', 'ZZ0002', 'ZZ0003'][drug_n + 1] END
    WHEN category = 'exam' THEN
      CASE WHEN exam_r < (CASE WHEN bad_doctor THEN 50 ELSE 4 END) THEN '270100001'
           WHEN exam_n = 0 THEN '250101001'
           ELSE exams[1 + exam_n % 3] || '00001' END
    WHEN j = 5 THEN CASE WHEN inpatient THEN '110200001' ELSE '111000001' END
    WHEN j = 6 OR (j = 7 AND dup_n = 0) THEN line6_item
    WHEN category = 'surgery' THEN '331500001'
    ELSE 'C' || lpad(CAST(CAST(hash(hash(i, {seed}) + 26) % 500 AS INTEGER) AS VARCHAR), 6, '0')
  END AS item_code,
  CASE category WHEN 'drug' THEN drug_class || '药品' WHEN 'exam' THEN '检查项目'
       WHEN 'surgery' THEN '手术' WHEN 'consumable' THEN '医用耗材' ELSE '医疗服务' END AS item_name,
  category AS item_category,
  CASE WHEN category = 'drug' THEN drug_class END AS drug_class,
  CAST(CASE WHEN j = 5 THEN (CASE WHEN CAST(hash(hash(c, {seed}) + 27) % 200 AS INTEGER) = 0 THEN 2 ELSE 1 END)
            WHEN j IN (6, 7) THEN 1 + (c % 3)
            WHEN category = 'exam' THEN 1 ELSE qty_n END AS DECIMAL(18,4)) AS quantity,
  CAST(CASE WHEN category = 'drug' THEN 5 + (CAST(hash(hash(i, {seed}) + 28) % 9000 AS INTEGER)) / 100.0
            WHEN category = 'exam' THEN 20 + (CAST(hash(hash(i, {seed}) + 29) % 40000 AS INTEGER)) / 100.0
            WHEN category = 'surgery' THEN 800 + (CAST(hash(hash(c, {seed}) + 30) % 200000 AS INTEGER)) / 100.0
            WHEN j IN (6, 7) THEN 12.50
            ELSE 2 + (CAST(hash(hash(i, {seed}) + 31) % 20000 AS INTEGER)) / 100.0 END AS DECIMAL(18,2)) AS unit_price,
  CAST(quantity * unit_price AS DECIMAL(18,2)) AS amount,
  ['内科', '外科', '呼吸科', '心内科', '神经内科', '肾内科'][dept_n + 1] AS department,
  'D' || lpad(CAST(inst_n AS VARCHAR), 4, '0') || '-' || CAST(doc_n AS VARCHAR) AS doctor_id,
  CASE WHEN inpatient THEN 'DRG-' || replace(dx, '.', '') END AS drg_group,
  CASE WHEN inpatient THEN CAST(CASE WHEN drg_n < 2 THEN w + 0.5 ELSE w * (80 + drg_n % 20) / 100.0 END AS DECIMAL(10,4)) END AS drg_weight,
  CASE WHEN inpatient THEN CAST(CASE WHEN pres_bad = 0 THEN 3.5 ELSE 8 + pres_n END AS DECIMAL(6,2)) END AS presence_hours,
  CASE WHEN edit_n = 0 THEN 5 ELSE edit_n % 3 END AS record_edits,
  CASE WHEN edit_n = 0 THEN reason_n = 0 ELSE true END AS record_edit_reasoned,
  CASE WHEN category = 'drug' THEN CAST(CASE WHEN bad_stock THEN quantity * 0.8 ELSE quantity END AS DECIMAL(18,4)) END AS stock_out_quantity,
  CASE WHEN category = 'drug' AND drug_class = 'antibiotic'
       THEN CAST(quantity * (CASE WHEN heavy_ab THEN 2.0 ELSE 0.3 END) AS DECIMAL(18,4)) END AS ddd,
  CASE WHEN inpatient THEN los ELSE 0 END AS bed_days,
  emerg_n = 0 AS is_emergency
FROM l
"""


def generate_claims(path: str | os.PathLike[str], rows: int = 1_000_000, *, seed: int = 7,
                    fmt: str = "csv", threads: int | None = None) -> Path:
    """Write synthetic settlement records to ``path`` (CSV with header, or Parquet)."""
    if rows < 1:
        raise ValueError("rows must be positive")
    out = Path(path)
    conn = duckdb.connect()
    try:
        conn.execute("SET memory_limit = '512MB'")
        conn.execute("SET enable_progress_bar = false")
        conn.execute("SET preserve_insertion_order = true")
        if threads:
            conn.execute(f"SET threads = {int(threads)}")
        q = _SQL.format(rows=int(rows), seed=int(seed), inst=INSTITUTIONS)
        target = str(out).replace("'", "''")
        if fmt == "csv":
            conn.execute(f"COPY ({q}) TO '{target}' (FORMAT csv, HEADER true)")
        elif fmt == "parquet":
            conn.execute(f"COPY ({q}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        else:
            raise ValueError("fmt must be csv or parquet")
    finally:
        conn.close()
    return out
