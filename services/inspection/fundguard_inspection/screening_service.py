"""The inspection service around the screening engine (``screening/``): one DuckDB file per region,
who imported and ran what (SQL registry), and the review of hits → findings.

DuckDB lets one process hold a database file at a time, so every use opens the region's file
under an exclusive ``flock`` on ``<region>.lock`` and closes it afterwards: gunicorn workers and the
CLI take turns instead of failing on the file lock.

Consistency between the two stores: the claims import commits in DuckDB first, then its registry
row in SQL. If the process dies in between, importing the same file again finds it in DuckDB
(``duplicate``) and adopts it into the registry instead of refusing: nothing is lost or counted
twice. Runs work the same way (the engine's run row, then ours).
"""
from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared.auth import Principal
from fundguard_shared.catalogue import VIOLATION_TYPES
from fundguard_shared.config import var_dir
from fundguard_shared.errors import ApiError

from . import screening as engine
from .findings import record_finding
from .models import ClaimsImport, HitReview, PoolInstitution, ScreeningRunRecord

Progress = Callable[[str, int, int], None]

# Which violation type (and so which article) a confirmed hit is recorded under by default;
# the reviewer may choose another.
RULE_VIOLATION: dict[str, str] = {
    "hanging_bed": "split_admission",            # 条例 38(1) 挂床住院
    "split_admission": "split_admission",        # 条例 38(1) 分解住院
    "stock_mismatch": "substitution",            # 条例 38(4) 串换/虚增数量; 39(2) 进销存
    "exam_diagnosis_mismatch": "over_treatment",  # 条例 38(2)
    "combined_drugs": "over_treatment",          # 条例 38(2)
    "antibiotic_intensity": "over_treatment",    # 条例 38(2)
    "record_edits": "forged_records",            # 条例 40(2)
    "duplicate_charge": "duplicate_charging",    # 条例 38(3)
    "over_standard_quantity": "duplicate_charging",  # 条例 38(3)
    "gender_mismatch": "non_covered_billing",    # 条例 38(6)
    "age_mismatch": "non_covered_billing",       # 条例 38(6)
    "drg_upcoding": "drg_upcoding",              # 条例 38(7); 细则 23
}

_REGION = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


def screening_dir() -> Path:
    path = Path(os.environ.get("FUNDGUARD_SCREENING_DIR") or var_dir() / "screening")
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_claims_bytes() -> int:
    raw = os.environ.get("FUNDGUARD_CLAIMS_MAX_BYTES")
    return int(raw) if raw else 1024 * 1024 * 1024


@contextmanager
def region_db(region: str) -> Iterator:
    """The region's DuckDB connection, held under an exclusive inter-process lock."""
    if not _REGION.match(region or ""):
        raise ApiError(422, "region_invalid", "统筹地区代码无效", "invalid region code")
    folder = screening_dir()
    with open(folder / f"{region}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = engine.connect(folder / f"{region}.duckdb",
                              memory_limit=os.environ.get("FUNDGUARD_SCREENING_MEMORY", "768MB"),
                              temp_directory=str(folder / f"{region}.tmp"))
        try:
            yield conn
        finally:
            conn.close()
            fcntl.flock(lock, fcntl.LOCK_UN)


def institution_levels(session: Session, region: str) -> dict[str, str]:
    rows = session.execute(select(PoolInstitution.institution_id, PoolInstitution.level).where(
        PoolInstitution.region == region, PoolInstitution.active.is_(True))).all()
    return {i: (lvl or "") for i, lvl in rows}


def _import_error(exc: engine.ClaimsImportError) -> ApiError:
    extra = {k: v for k, v in exc.details.items() if k not in ("status", "code")}
    return ApiError(getattr(exc, "http_status", 422), exc.code, exc.zh, exc.en, **extra)


def _registry_row(region: str, department: str, principal_sub: str, report: dict) -> ClaimsImport:
    return ClaimsImport(region=region, department=department, import_id=report["import_id"],
                        file_sha256=report["file_sha256"], filename=report["filename"][:255],
                        rows_read=report["rows_read"], rows_loaded=report["rows_loaded"],
                        rows_rejected=report["rows_rejected"], report=report,
                        imported_by=principal_sub)


def import_file(session: Session, path: Path, filename: str, region: str, department: str,
                actor: str, progress: Progress | None = None) -> tuple[ClaimsImport, bool]:
    """Import one settlement file for ``region``; returns (registry row, created).

    Raises ApiError: 422 ``institution_pool_empty`` (the pool decides which institution codes
    are known), 422 with the engine's code for a file that cannot be imported at all, 409
    ``claims_duplicate_import`` when the same file was imported before.
    """
    known = institution_levels(session, region)
    if not known:
        raise ApiError(422, "institution_pool_empty",
                       "本统筹地区尚未建立定点医药机构名录库，无法校验机构编码",
                       "load the region's institution pool first: it decides which "
                       "institution codes are known")
    with region_db(region) as conn:
        try:
            report = engine.import_claims(path, conn, known_institutions=known, progress=progress)
        except engine.ClaimsImportError as exc:
            raise _import_error(exc) from None
        data = report.as_dict() | {"filename": filename or report.filename}
        existing = session.execute(select(ClaimsImport).where(
            ClaimsImport.region == region, ClaimsImport.import_id == report.import_id)
        ).scalar_one_or_none()
        if report.status == "duplicate":
            if existing is not None:
                raise ApiError(409, "claims_duplicate_import", "该文件已导入，本次未新增数据",
                               "this file was imported before; nothing new was loaded",
                               import_id=existing.import_id, imported_at=existing.created_at.isoformat(),
                               imported_by=existing.imported_by)
            data = _recover_report(conn, report.import_id) | {"filename": filename or report.filename}
    row = _registry_row(region, department, actor, data)
    session.add(row)
    session.flush()
    return row, True


def _recover_report(conn, import_id: str) -> dict:
    """Rebuild the report of an import DuckDB holds but the registry lost (crash in between)."""
    r = conn.execute("SELECT file_sha256, filename, file_format, encoding, rows_read, rows_loaded, "
                     "rows_rejected, blank_lines FROM claim_imports WHERE import_id = ?",
                     [import_id]).fetchone()
    errors = [engine.RowError(line=l, code=c, field=f, value=v).as_dict() for l, c, f, v in
              conn.execute("SELECT line, code, field, value FROM claim_rejects WHERE import_id = ? "
                           "ORDER BY line, code LIMIT 1000", [import_id]).fetchall()]
    counts = dict(conn.execute("SELECT code, count(*) FROM claim_rejects WHERE import_id = ? "
                               "GROUP BY code", [import_id]).fetchall())
    return {"status": "loaded", "import_id": import_id, "file_sha256": r[0], "filename": r[1],
            "file_format": r[2], "encoding": r[3], "rows_read": r[4], "rows_loaded": r[5],
            "rows_rejected": r[6], "blank_lines": r[7], "errors": errors, "error_counts": counts,
            "ignored_columns": [], "recovered": True}


def rejects(region: str, import_id: str, limit: int, offset: int) -> tuple[list[dict], int]:
    with region_db(region) as conn:
        total = conn.execute("SELECT count(*) FROM claim_rejects WHERE import_id = ?",
                             [import_id]).fetchone()[0]
        rows = conn.execute("SELECT line, code, field, value FROM claim_rejects WHERE import_id = ? "
                            "ORDER BY line, code LIMIT ? OFFSET ?",
                            [import_id, limit, offset]).fetchall()
    return [engine.RowError(line=l, code=c, field=f, value=v).as_dict()
            for l, c, f, v in rows], int(total)


def ruleset_for(conn, region: str, version: str | None):
    try:
        return engine.load_ruleset(conn, region, version)
    except engine.RuleSetError as exc:
        if version is not None:
            raise ApiError(422, exc.code, exc.zh, exc.en) from None
        return engine.RuleSet.default(area_code=region)


def run(session: Session, region: str, department: str, actor: str, rules: list[str] | None,
        ruleset_version: str | None, progress: Progress | None = None) -> ScreeningRunRecord:
    unknown = sorted(set(rules or ()) - set(engine.RULE_IDS))
    if unknown:
        raise ApiError(422, "unknown_rule", "未知的筛查规则", f"unknown rules {unknown}",
                       known=list(engine.RULE_IDS))
    with region_db(region) as conn:
        if conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0:
            raise ApiError(422, "no_claims", "本统筹地区尚未导入结算数据",
                           "no claims have been imported for this region")
        ruleset = ruleset_for(conn, region, ruleset_version)
        result = engine.run_screening(conn, ruleset, rules or None, progress=progress)
    summary = result.as_dict()
    record = ScreeningRunRecord(
        id=result.run_id, region=region, department=department,
        ruleset_version=result.ruleset_version, params_hash=result.params_hash,
        engine_version=result.engine_version, data_hash=result.data_hash,
        rows_screened=result.rows_screened, total_hits=result.total_hits,
        summary={k: v for k, v in summary.items() if k != "started_at"} |
                {"started_at": summary["started_at"]}, started_by=actor)
    session.add(record)
    session.flush()
    return record


def hits(region: str, run_id: str, rule_id: str | None, limit: int, offset: int) -> list:
    with region_db(region) as conn:
        return engine.load_hits(conn, run_id, rule_id, limit=limit, offset=offset)


def hit(region: str, run_id: str, hit_id: str):
    with region_db(region) as conn:
        found = conn.execute("SELECT rule_id FROM screening_hits WHERE run_id = ? AND hit_id = ?",
                             [run_id, hit_id]).fetchone()
        if found is None:
            return None
        return next((h for h in engine.load_hits(conn, run_id, found[0]) if h.hit_id == hit_id), None)


def review(session: Session, record: ScreeningRunRecord, hit_id: str, data: dict,
           principal: Principal, correlation_id: str) -> HitReview:
    """Confirm (→ a finding and its ``finding.recorded`` event) or dismiss one hit."""
    if session.execute(select(HitReview).where(HitReview.run_id == record.id,
                                               HitReview.hit_id == hit_id)).scalar_one_or_none():
        raise ApiError(409, "already_reviewed", "该疑点已复核", "this hit was already reviewed")
    h = hit(record.region, record.id, hit_id)
    if h is None:
        raise ApiError(404)
    rv = HitReview(run_id=record.id, hit_id=hit_id, decision=data["decision"],
                   reason=data["reason"], reviewed_by=principal.sub)
    if data["decision"] == "confirmed":
        if not h.institution_code:
            raise ApiError(422, "hit_without_institution", "该疑点未指向具体机构，无法形成线索",
                           "the hit names no institution; it cannot become a finding")
        pool = session.execute(select(PoolInstitution).where(
            PoolInstitution.region == record.region,
            PoolInstitution.institution_id == h.institution_code)).scalar_one_or_none()
        violation = data.get("violation_type") or RULE_VIOLATION.get(h.rule_id, "other_loss")
        amount = data.get("amount")
        if amount is None:
            amount = Decimal(h.suspected_amount).quantize(Decimal("0.01"))
        lines = ", ".join(f"{f}:{ln}" for f, ln in h.evidence[:20])
        more = f" 等 {len(h.evidence)} 行" if len(h.evidence) > 20 else ""
        finding = record_finding(session, {
            "institution_id": h.institution_code,
            "institution_name": pool.name if pool else h.institution_code,
            "party_type": pool.party_type if pool else "entity",
            "violation_type": violation, "amount": amount,
            "description": (f"[智能监控 {h.rule_name_zh}] {h.subject}；指标 {h.metric} / 阈值 "
                            f"{h.threshold}；规则版本 {record.ruleset_version}，筛查批次 "
                            f"{record.id}；证据行 {lines}{more}。复核意见：{data['reason']}"),
            "source": "screening", "act_date": None,
        }, principal, correlation_id, region=record.region, department=record.department)
        rv.finding_id = finding.id
    session.add(rv)
    session.flush()
    return rv


def violation_types() -> list[str]:
    return sorted(VIOLATION_TYPES)
