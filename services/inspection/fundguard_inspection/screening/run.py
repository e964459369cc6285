"""Screening runs and review sampling.

``run_screening`` executes the selected rules of a ``RuleSet`` over everything imported into
``claims`` and stores the hits in ``screening_hits`` and the run in ``screening_runs``, in one
transaction. A run records its rule-set version, area, parameter hash, engine version and a data
hash (SHA-256 over the sorted SHA-256 of every imported file), so the same data with the same
rule version gives the same hits: hit ids are derived from (rule, institution, subject), and the
``hits_digest`` over all hits (ids, amounts, metrics, evidence) is equal across runs and across
databases that imported the same files.

``sample_for_review`` draws the hits for manual review (人工复核), stratified by institution level
and rule, with the ratios of seed 001 (二级及以上 50 %, 基层 30 %, 零售药店 25 %; "不低于", so
each stratum takes ceil(n x ratio)) and a recorded seed.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import duckdb

from .claims import ensure_schema
from .rules import ENGINE_VERSION, RULE_IDS, RuleSet, get_rule

__all__ = [
    "Hit",
    "RunResult",
    "ReviewSample",
    "DEFAULT_REVIEW_RATIOS",
    "run_screening",
    "load_hits",
    "load_run",
    "data_hash",
    "normalise_level",
    "sample_for_review",
    "save_review_sample",
]

_EVIDENCE_TYPE = "STRUCT(file VARCHAR, line BIGINT)[]"


def _ensure_run_schema(conn: duckdb.DuckDBPyConnection) -> None:
    ensure_schema(conn)
    conn.execute(f"""
CREATE TABLE IF NOT EXISTS screening_runs (
  run_id VARCHAR PRIMARY KEY,
  started_at TIMESTAMP NOT NULL,
  ruleset_version VARCHAR NOT NULL,
  area_code VARCHAR NOT NULL,
  params_hash VARCHAR NOT NULL,
  engine_version VARCHAR NOT NULL,
  data_hash VARCHAR NOT NULL,
  rows_screened BIGINT NOT NULL,
  rules VARCHAR[] NOT NULL,
  hits_per_rule VARCHAR NOT NULL,
  hits_digest VARCHAR NOT NULL,
  elapsed_s DOUBLE NOT NULL,
  ruleset VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS screening_hits (
  run_id VARCHAR NOT NULL,
  hit_id VARCHAR NOT NULL,
  rule_id VARCHAR NOT NULL,
  institution_code VARCHAR,
  claim_id VARCHAR,
  patient_id_hash VARCHAR,
  department VARCHAR,
  doctor_id VARCHAR,
  subject VARCHAR NOT NULL,
  metric DOUBLE,
  threshold DOUBLE,
  suspected_amount DECIMAL(18,2),
  claim_ids VARCHAR[],
  evidence {_EVIDENCE_TYPE},
  detail VARCHAR
);
CREATE TABLE IF NOT EXISTS review_samples (
  sample_id VARCHAR PRIMARY KEY,
  run_id VARCHAR,
  seed BIGINT NOT NULL,
  ratios VARCHAR NOT NULL,
  strata VARCHAR NOT NULL,
  hit_ids VARCHAR[] NOT NULL,
  created_at TIMESTAMP NOT NULL
);
""")


@dataclass(frozen=True)
class Hit:
    run_id: str
    hit_id: str
    rule_id: str
    institution_code: str | None
    claim_id: str | None
    patient_id_hash: str | None
    department: str | None
    doctor_id: str | None
    subject: str
    metric: float | None
    threshold: float | None
    suspected_amount: Decimal
    claim_ids: tuple[str, ...]
    evidence: tuple[tuple[str, int], ...]  # (file import id, physical line)
    detail: dict[str, Any]

    @property
    def rule_name_zh(self) -> str:
        return get_rule(self.rule_id).name_zh

    @property
    def legal_hook(self) -> str:
        return get_rule(self.rule_id).legal_hook

    @property
    def lines(self) -> tuple[int, ...]:
        return tuple(line for _, line in self.evidence)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "hit_id": self.hit_id, "rule_id": self.rule_id,
                "rule_name_zh": self.rule_name_zh, "legal_hook": self.legal_hook,
                "institution_code": self.institution_code, "claim_id": self.claim_id,
                "patient_id_hash": self.patient_id_hash, "department": self.department,
                "doctor_id": self.doctor_id, "subject": self.subject, "metric": self.metric,
                "threshold": self.threshold, "suspected_amount": str(self.suspected_amount),
                "claim_ids": list(self.claim_ids),
                "evidence": [{"file": f, "line": ln} for f, ln in self.evidence],
                "detail": self.detail}


@dataclass
class RunResult:
    run_id: str
    started_at: datetime
    ruleset_version: str
    area_code: str
    params_hash: str
    engine_version: str
    data_hash: str
    rows_screened: int
    rules: tuple[str, ...]
    hits_per_rule: dict[str, int]
    suspected_amount_per_rule: dict[str, Decimal]
    rule_elapsed_s: dict[str, float]
    hits_digest: str
    elapsed_s: float

    @property
    def total_hits(self) -> int:
        return sum(self.hits_per_rule.values())

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at.isoformat(),
                "ruleset_version": self.ruleset_version, "area_code": self.area_code,
                "params_hash": self.params_hash, "engine_version": self.engine_version,
                "data_hash": self.data_hash, "rows_screened": self.rows_screened,
                "rules": list(self.rules), "hits_per_rule": dict(self.hits_per_rule),
                "suspected_amount_per_rule": {k: str(v) for k, v in self.suspected_amount_per_rule.items()},
                "rule_elapsed_s": dict(self.rule_elapsed_s), "hits_digest": self.hits_digest,
                "elapsed_s": self.elapsed_s, "total_hits": self.total_hits}


def data_hash(conn: duckdb.DuckDBPyConnection) -> str:
    """SHA-256 over the sorted SHA-256 of every imported file (the data a run sees)."""
    ensure_schema(conn)
    shas = [r[0] for r in conn.execute("SELECT file_sha256 FROM claim_imports ORDER BY file_sha256").fetchall()]
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()


_HEADER_SQL = """
CREATE TEMP TABLE _fg_hdr AS
SELECT institution_code, claim_id,
       max(patient_id_hash) AS patient_id_hash, max(gender) AS gender, max(age) AS age,
       min(admit_date) AS admit_date, max(discharge_date) AS discharge_date,
       CASE WHEN bool_or(visit_type = 'inpatient') THEN 'inpatient' ELSE max(visit_type) END AS visit_type,
       max(diagnosis_code) AS diagnosis_code, max(department) AS department,
       max(doctor_id) AS doctor_id, max(drg_group) AS drg_group, max(drg_weight) AS drg_weight,
       max(presence_hours) AS presence_hours, max(record_edits) AS record_edits,
       bool_or(record_edit_reasoned) AS record_edit_reasoned, max(bed_days) AS bed_days,
       bool_or(is_emergency) AS is_emergency, sum(amount) AS total_amount, count(*) AS n_lines
FROM claims GROUP BY institution_code, claim_id"""

_TEMP_TABLES = ["_fg_hdr"]


def _create_ref_tables(conn, ruleset: RuleSet, rule_ids: Iterable[str]) -> list[str]:
    made = []
    for rid in rule_ids:
        for name, (cols, rows) in ruleset.reference_tables(rid).items():
            tname = f"_fg_ref_{rid}_{name}"
            conn.execute(f"DROP TABLE IF EXISTS {tname}")
            sel = ", ".join(f"unnest(?::{typ}[]) AS {col}" for col, typ in cols)
            values = [[r[i] for r in rows] for i in range(len(cols))]
            if rows:
                conn.execute(f"CREATE TEMP TABLE {tname} AS SELECT {sel}", values)
            else:
                defs = ", ".join(f"{col} {typ}" for col, typ in cols)
                conn.execute(f"CREATE TEMP TABLE {tname} ({defs})")
            made.append(tname)
    return made


def run_screening(conn: duckdb.DuckDBPyConnection, ruleset: RuleSet,
                  rules: Iterable[str] | None = None, *, run_id: str | None = None,
                  progress: Callable[[str, int, int], None] | None = None) -> RunResult:
    """Run ``rules`` (default: the rule set's enabled rules) over all imported claims."""
    _ensure_run_schema(conn)
    selected = ruleset.enabled_rules if rules is None else tuple(rules)
    for rid in selected:
        get_rule(rid)
    selected = tuple(r for r in RULE_IDS if r in set(selected))  # catalogue order, no duplicates
    run_id = run_id or uuid.uuid4().hex
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    t0 = time.perf_counter()
    dhash = data_hash(conn)
    rows = conn.execute("SELECT count(*) FROM claims").fetchone()[0]
    hits_per_rule: dict[str, int] = {}
    amounts: dict[str, Decimal] = {}
    timings: dict[str, float] = {}
    temp: list[str] = []
    conn.execute("BEGIN TRANSACTION")
    try:
        temp += _create_ref_tables(conn, ruleset, selected)
        if any(get_rule(r).uses_header for r in selected):
            conn.execute("DROP TABLE IF EXISTS _fg_hdr")
            conn.execute(_HEADER_SQL)
            temp.append("_fg_hdr")
        for i, rid in enumerate(selected):
            if progress:
                progress(rid, i, len(selected))
            t = time.perf_counter()
            body = ruleset.sql(rid)
            conn.execute(
                f"""
INSERT INTO screening_hits
SELECT ? AS run_id,
       left(sha256(? || '|' || coalesce(institution_code, '') || '|' || subject), 16) AS hit_id,
       ? AS rule_id, institution_code, claim_id, patient_id_hash, department, doctor_id, subject,
       metric, threshold, suspected_amount, claim_ids, CAST(evidence AS {_EVIDENCE_TYPE}), detail
FROM ({body}) AS q""", [run_id, rid, rid])
            n, amt = conn.execute("SELECT count(*), coalesce(sum(suspected_amount), 0) FROM screening_hits "
                                  "WHERE run_id = ? AND rule_id = ?", [run_id, rid]).fetchone()
            hits_per_rule[rid] = int(n)
            amounts[rid] = Decimal(amt).quantize(Decimal("0.01"))
            timings[rid] = time.perf_counter() - t
        digest = conn.execute("""
SELECT coalesce(sha256(string_agg(concat_ws('|', rule_id, hit_id, coalesce(institution_code, ''),
         coalesce(claim_id, ''), subject, coalesce(CAST(round(metric, 6) AS VARCHAR), ''),
         coalesce(CAST(threshold AS VARCHAR), ''), CAST(suspected_amount AS VARCHAR),
         CAST(claim_ids AS VARCHAR), CAST(evidence AS VARCHAR), coalesce(detail, '')),
         chr(10) ORDER BY rule_id, hit_id)), sha256(''))
FROM screening_hits WHERE run_id = ?""", [run_id]).fetchone()[0]
        elapsed = time.perf_counter() - t0
        conn.execute("INSERT INTO screening_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [run_id, started, ruleset.version, ruleset.area_code, ruleset.params_hash,
                      ENGINE_VERSION, dhash, rows, list(selected), json.dumps(hits_per_rule),
                      digest, elapsed, json.dumps(ruleset.to_dict(), ensure_ascii=False, default=str)])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        for t in temp:
            try:
                conn.execute(f"DROP TABLE IF EXISTS {t}")
            except duckdb.Error:  # pragma: no cover
                pass
    if progress:
        progress("done", len(selected), len(selected))
    return RunResult(run_id=run_id, started_at=started, ruleset_version=ruleset.version,
                     area_code=ruleset.area_code, params_hash=ruleset.params_hash,
                     engine_version=ENGINE_VERSION, data_hash=dhash, rows_screened=int(rows),
                     rules=selected, hits_per_rule=hits_per_rule,
                     suspected_amount_per_rule=amounts, rule_elapsed_s=timings,
                     hits_digest=digest, elapsed_s=time.perf_counter() - t0)


def load_run(conn: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    _ensure_run_schema(conn)
    cur = conn.execute("SELECT run_id, started_at, ruleset_version, area_code, params_hash, "
                       "engine_version, data_hash, rows_screened, rules, hits_per_rule, hits_digest, "
                       "elapsed_s FROM screening_runs WHERE run_id = ?", [run_id])
    row = cur.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cur.description]
    out = dict(zip(names, row))
    out["hits_per_rule"] = json.loads(out["hits_per_rule"])
    return out


def load_hits(conn: duckdb.DuckDBPyConnection, run_id: str, rule_id: str | None = None, *,
              limit: int | None = None, offset: int = 0) -> list[Hit]:
    """Hits of a run, ordered by rule (catalogue order) then hit id."""
    _ensure_run_schema(conn)
    sql = ("SELECT run_id, hit_id, rule_id, institution_code, claim_id, patient_id_hash, department, "
           "doctor_id, subject, metric, threshold, suspected_amount, claim_ids, evidence, detail "
           "FROM screening_hits WHERE run_id = ?")
    args: list[Any] = [run_id]
    if rule_id is not None:
        sql += " AND rule_id = ?"
        args.append(rule_id)
    order = "CASE rule_id " + " ".join(f"WHEN '{r}' THEN {i}" for i, r in enumerate(RULE_IDS)) + " END"
    sql += f" ORDER BY {order}, hit_id"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    hits = []
    for r in conn.execute(sql, args).fetchall():
        hits.append(Hit(run_id=r[0], hit_id=r[1], rule_id=r[2], institution_code=r[3], claim_id=r[4],
                        patient_id_hash=r[5], department=r[6], doctor_id=r[7], subject=r[8],
                        metric=r[9], threshold=r[10], suspected_amount=Decimal(r[11]),
                        claim_ids=tuple(r[12] or ()),
                        evidence=tuple((e["file"], int(e["line"])) for e in (r[13] or ())),
                        detail=json.loads(r[14]) if r[14] else {}))
    return hits


# --------------------------------------------------------------------------------------------
# review sampling

SECONDARY_PLUS, PRIMARY, PHARMACY, UNKNOWN = "secondary_plus", "primary", "pharmacy", "unknown"

DEFAULT_REVIEW_RATIOS: dict[str, float] = {SECONDARY_PLUS: 0.50, PRIMARY: 0.30, PHARMACY: 0.25}

_LEVEL_ALIASES = {
    SECONDARY_PLUS: ("secondary_plus", "secondary", "tertiary", "二级及以上", "二级及以上医院", "二级",
                     "三级", "二甲", "二乙", "三甲", "三乙", "三级甲等", "三级乙等", "二级甲等", "二级乙等"),
    PRIMARY: ("primary", "基层", "基层医疗机构", "一级", "一级及以下", "未定级", "社区卫生服务中心",
              "社区卫生服务站", "乡镇卫生院", "村卫生室", "诊所", "门诊部"),
    PHARMACY: ("pharmacy", "药店", "零售药店", "定点零售药店", "定点药店"),
}
_ALIAS = {a.lower(): lvl for lvl, names in _LEVEL_ALIASES.items() for a in names}


def normalise_level(level: str | None) -> str:
    """Map a level label (二级及以上 / 三级 / 基层 / 乡镇卫生院 / 零售药店 ...) to a sampling stratum."""
    if level is None:
        return UNKNOWN
    return _ALIAS.get(str(level).strip().lower(), UNKNOWN)


@dataclass
class ReviewSample:
    seed: int
    ratios: dict[str, float]
    strata: list[dict[str, Any]]  # level, rule_id, population, sampled
    selected: list[Any]  # the sampled hits, in (level, rule, hit id) order
    unknown_institutions: list[str] = field(default_factory=list)

    @property
    def hit_ids(self) -> list[str]:
        return [_attr(h, "hit_id") for h in self.selected]

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "ratios": dict(self.ratios), "strata": list(self.strata),
                "hit_ids": self.hit_ids, "unknown_institutions": list(self.unknown_institutions)}


def _attr(h: Any, name: str) -> Any:
    return h[name] if isinstance(h, Mapping) else getattr(h, name)


def sample_for_review(hits: Iterable[Any],
                      institution_level: Mapping[str, str] | Callable[[str], str | None],
                      ratios: Mapping[str, float] | None = None,
                      seed: int | None = None) -> ReviewSample:
    """Stratified random sample of hits for manual review, reproducible from ``seed``.

    Strata are (institution level, rule). Each stratum takes ceil(population x ratio) hits
    ("抽查比例不低于"). Institutions whose level is unknown are sampled at the highest ratio and
    listed in ``unknown_institutions``. ``seed=None`` draws a fresh seed, which is recorded.
    """
    ratios = dict(DEFAULT_REVIEW_RATIOS if ratios is None else ratios)
    for k, v in ratios.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ValueError(f"ratio for {k!r} must be between 0 and 1")
    if seed is None:
        seed = secrets.randbits(63)
    lookup = institution_level.get if isinstance(institution_level, Mapping) else institution_level
    fallback = max(ratios.values()) if ratios else 1.0
    strata: dict[tuple[str, str], list[Any]] = {}
    unknown: set[str] = set()
    for h in hits:
        inst = _attr(h, "institution_code")
        lvl = normalise_level(lookup(inst) if inst is not None else None)
        if lvl == UNKNOWN:
            unknown.add(str(inst))
        strata.setdefault((lvl, _attr(h, "rule_id")), []).append(h)
    selected: list[Any] = []
    report = []
    order = {r: i for i, r in enumerate(RULE_IDS)}
    for (lvl, rid) in sorted(strata, key=lambda k: (k[0], order.get(k[1], 99), k[1])):
        pop = sorted(strata[(lvl, rid)], key=lambda h: _attr(h, "hit_id"))
        ratio = ratios.get(lvl, fallback)
        k = min(len(pop), math.ceil(Fraction(str(ratio)) * len(pop)))
        rng = random.Random(f"{seed}:{lvl}:{rid}")
        picked = sorted(rng.sample(pop, k), key=lambda h: _attr(h, "hit_id"))
        selected.extend(picked)
        report.append({"level": lvl, "rule_id": rid, "population": len(pop), "sampled": k,
                       "ratio": ratio})
    return ReviewSample(seed=seed, ratios=ratios, strata=report, selected=selected,
                        unknown_institutions=sorted(unknown))


def save_review_sample(conn: duckdb.DuckDBPyConnection, run_id: str | None, sample: ReviewSample) -> str:
    """Record a drawn sample (seed, ratios, strata, hit ids); returns its id."""
    _ensure_run_schema(conn)
    sample_id = uuid.uuid4().hex
    conn.execute("INSERT INTO review_samples VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                 [sample_id, run_id, sample.seed, json.dumps(sample.ratios, sort_keys=True),
                  json.dumps(sample.strata, ensure_ascii=False), sample.hit_ids])
    return sample_id
