"""HTTP resource of claims import and screening (智能监控): upload a settlement file, read its
report (bad rows with line numbers), run the rules, page through hits, confirm or dismiss each
(a confirmed hit becomes a finding → ``finding.recorded``)."""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from fundguard_shared.auth import require
from fundguard_shared.catalogue import VIOLATION_TYPES
from fundguard_shared.errors import ApiError
from fundguard_shared.pagination import Page, PageArgs, page_query

from . import screening_service as svc
from .common import (AMOUNT_DOC, amount_in_range, department_for, get_or_404,
                     scoped)
from .models import ClaimsImport, HitReview, ScreeningRunRecord
from .runtime import runtime

STAFF = ("inspector", "leader")


class ImportOut(Schema):
    id = fields.String()
    region = fields.String()
    department = fields.String()
    import_id = fields.String()
    file_sha256 = fields.String()
    filename = fields.String()
    rows_read = fields.Integer()
    rows_loaded = fields.Integer()
    rows_rejected = fields.Integer()
    imported_by = fields.String()
    created_at = fields.DateTime()


class ImportReportOut(ImportOut):
    report = fields.Dict()


class ImportList(Page):
    items = fields.List(fields.Nested(ImportOut))


class ClaimsUpload(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    department = fields.String(metadata={"description": "leader only: the owning department"})


class RejectsOut(Page):
    items = fields.List(fields.Dict())


class RunIn(Schema):
    rules = fields.List(fields.String(), load_default=None, allow_none=True)
    ruleset_version = fields.String(load_default=None, allow_none=True)
    department = fields.String(load_default=None, validate=validate.Length(1, 64))


class RunOut(Schema):
    id = fields.String()
    region = fields.String()
    department = fields.String()
    ruleset_version = fields.String()
    params_hash = fields.String()
    engine_version = fields.String()
    data_hash = fields.String()
    rows_screened = fields.Integer()
    total_hits = fields.Integer()
    summary = fields.Dict()
    started_by = fields.String()
    created_at = fields.DateTime()


class RunList(Page):
    items = fields.List(fields.Nested(RunOut))


class HitArgs(PageArgs):
    rule_id = fields.String(load_default=None)


class HitList(Page):
    items = fields.List(fields.Dict())


class ReviewIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("confirmed", "dismissed")))
    reason = fields.String(required=True, validate=validate.Length(1, 5000))
    violation_type = fields.String(load_default=None, allow_none=True,
                                   validate=validate.OneOf(sorted(VIOLATION_TYPES)))
    amount = fields.Decimal(load_default=None, allow_none=True, places=2, as_string=True,
                            validate=amount_in_range, metadata=AMOUNT_DOC)


class ReviewOut(Schema):
    id = fields.String()
    run_id = fields.String()
    hit_id = fields.String()
    decision = fields.String()
    reason = fields.String()
    finding_id = fields.String(allow_none=True)
    reviewed_by = fields.String()
    reviewed_at = fields.DateTime()


blp = Blueprint("screening", __name__, url_prefix="/api/v1/screening",
                description="结算数据导入与智能监控筛查 / Claims import and screening")


@blp.before_request
def _upload_limit():
    if request.method == "POST" and request.path.rstrip("/").endswith("/imports"):
        request.max_content_length = svc.max_claims_bytes() + 256 * 1024


def _too_large() -> ApiError:
    limit = svc.max_claims_bytes()
    return ApiError(413, "claims_file_too_large", f"结算数据文件超过大小上限（{limit} 字节）",
                    f"the settlement file exceeds the limit of {limit} bytes", max_bytes=limit)


def _save_upload(upload) -> Path:
    """Stream the upload to a private temporary file next to the databases."""
    fd, tmp = tempfile.mkstemp(dir=svc.screening_dir(), prefix=".upload-", suffix=".csv")
    size, limit = 0, svc.max_claims_bytes()
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.stream.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise _too_large()
                out.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


# ---- progress of a long import or run (the smallest read: a JSON file per operation) ----------

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class ProgressOut(Schema):
    stage = fields.String(metadata={"description": "hash / prepare / load / validate / a rule id / done"})
    done = fields.Integer()
    total = fields.Integer()
    updated_at = fields.Float()


def _progress_path(token: str) -> Path:
    folder = svc.screening_dir() / "progress"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{token}.json"


PROGRESS_KEEP_SECONDS = 24 * 3600


def _forget_old_progress(folder: Path) -> None:
    """Progress of operations finished more than a day ago is of no use to anyone: removed when
    the next operation starts."""
    cutoff = time.time() - PROGRESS_KEEP_SECONDS
    for f in folder.glob("*.json"):
        try:
            if f.stat().st_mtime < cutoff:
                f.unlink()
        except OSError:  # another worker removed it first
            pass


def _progress_writer(department: str):
    """The engine's ``progress(stage, done, total)`` callback for the operation named by the
    request's ``X-Progress-Token`` header (None without one). Written at most every 0.2 s, and
    always for the last stage; readable by the caller's scope only."""
    token = request.headers.get("X-Progress-Token", "")
    if not _TOKEN.match(token):
        return None
    path, last = _progress_path(token), [0.0]
    _forget_old_progress(path.parent)
    owner = {"region": g.principal.region, "department": department}

    def write(stage: str, done: int, total: int) -> None:
        now = time.time()
        if stage != "done" and now - last[0] < 0.2:
            return
        last[0] = now
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**owner, "stage": stage, "done": int(done), "total": int(total),
                                   "updated_at": now}))
        os.replace(tmp, path)
    write("start", 0, 0)
    return write


@blp.route("/progress/<string:progress_id>")
class ProgressById(MethodView):
    @require(*STAFF)
    @blp.response(200, ProgressOut)
    def get(self, progress_id):
        """How far an import or run started with ``X-Progress-Token: <progress_id>`` has got."""
        if not _TOKEN.match(progress_id):
            raise ApiError(404)
        try:
            data = json.loads(_progress_path(progress_id).read_text())
        except (OSError, ValueError):
            raise ApiError(404) from None
        p = g.principal
        if data.get("region") != p.region or (
                p.role != "leader" and data.get("department") != p.department):
            raise ApiError(404)
        return data


@blp.route("/imports")
class Imports(MethodView):
    @require(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ImportList)
    def get(self, args):
        with runtime().sessions() as session:
            q = scoped(select(ClaimsImport), ClaimsImport, g.principal) \
                .order_by(ClaimsImport.created_at.desc())
            return page_query(session, q, args)

    @require(*STAFF)
    @blp.doc(requestBody={"required": True, "content": {
        "multipart/form-data": {"schema": ClaimsUpload}}})
    @blp.response(201, ImportReportOut)
    def post(self):
        """Import a settlement-record CSV (UTF-8 or GBK) or Parquet file (multipart ``file``).

        Bad rows are reported with their line and reason; good rows load. The same file again
        → 409 ``claims_duplicate_import``. Unknown institution codes are rejected per row.
        """
        try:
            upload = request.files.get("file")
            form = request.form
        except RequestEntityTooLarge:
            raise _too_large() from None
        if not request.mimetype.startswith("multipart/"):
            raise ApiError(415, "multipart_required", "请以 multipart/form-data 上传文件",
                           "upload the file as multipart/form-data")
        if upload is None:
            raise ApiError(422, "file_required", "缺少文件字段 file", "the form field 'file' is missing")
        department = department_for(g.principal, form.get("department"))
        tmp = _save_upload(upload)
        try:
            with runtime().sessions() as session, session.begin():
                row, _ = svc.import_file(session, tmp, upload.filename or "upload.csv",
                                         g.principal.region, department, g.principal.sub,
                                         progress=_progress_writer(department))
                return row
        finally:
            tmp.unlink(missing_ok=True)


def _import_or_404(session, import_id: str) -> ClaimsImport:
    """By the engine's import id (first 12 hex of the file's SHA-256), inside the caller's scope."""
    row = session.execute(scoped(select(ClaimsImport).where(ClaimsImport.import_id == import_id),
                                 ClaimsImport, g.principal)).scalar_one_or_none()
    if row is None:
        raise ApiError(404)
    return row


@blp.route("/imports/<string:import_id>")
class ImportById(MethodView):
    @require(*STAFF)
    @blp.response(200, ImportReportOut)
    def get(self, import_id):
        """The import report: counts, the first 1,000 bad rows with line and reason, per-code totals."""
        with runtime().sessions() as session:
            return _import_or_404(session, import_id)


@blp.route("/imports/<string:import_id>/rejects")
class ImportRejects(MethodView):
    @require(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, RejectsOut)
    def get(self, args, import_id):
        """Every bad row of an import, by line (all of them, page by page)."""
        with runtime().sessions() as session:
            imp = _import_or_404(session, import_id)
        items, total = svc.rejects(imp.region, imp.import_id, args["per_page"],
                                   (args["page"] - 1) * args["per_page"])
        return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/runs")
class Runs(MethodView):
    @require(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, RunList)
    def get(self, args):
        with runtime().sessions() as session:
            q = scoped(select(ScreeningRunRecord), ScreeningRunRecord, g.principal) \
                .order_by(ScreeningRunRecord.created_at.desc())
            return page_query(session, q, args)

    @require(*STAFF)
    @blp.arguments(RunIn)
    @blp.response(201, RunOut)
    def post(self, data):
        """Run the screening rules over the region's claims (reproducible: rule version + data hash)."""
        department = department_for(g.principal, data.get("department"))
        with runtime().sessions() as session, session.begin():
            return svc.run(session, g.principal.region, department, g.principal.sub,
                           data.get("rules"), data.get("ruleset_version"),
                           progress=_progress_writer(department))


@blp.route("/runs/<string:run_id>")
class RunById(MethodView):
    @require(*STAFF)
    @blp.response(200, RunOut)
    def get(self, run_id):
        with runtime().sessions() as session:
            return get_or_404(session, ScreeningRunRecord, run_id, g.principal)


@blp.route("/runs/<string:run_id>/hits")
class RunHits(MethodView):
    @require(*STAFF)
    @blp.arguments(HitArgs, location="query")
    @blp.response(200, HitList)
    def get(self, args, run_id):
        """Hits with their evidence rows (import id + line) and the review decision, if any."""
        with runtime().sessions() as session:
            record = get_or_404(session, ScreeningRunRecord, run_id, g.principal)
            if args.get("rule_id"):
                total = record.summary.get("hits_per_rule", {}).get(args["rule_id"], 0)
            else:
                total = record.total_hits
            page = svc.hits(record.region, record.id, args.get("rule_id"), args["per_page"],
                            (args["page"] - 1) * args["per_page"])
            reviews = {r.hit_id: r for r in session.execute(select(HitReview).where(
                HitReview.run_id == record.id,
                HitReview.hit_id.in_([h.hit_id for h in page]))).scalars()}
        items = []
        for h in page:
            item = h.as_dict()
            rv = reviews.get(h.hit_id)
            item["review"] = ReviewOut().dump(rv) if rv else None
            item["default_violation_type"] = svc.RULE_VIOLATION.get(h.rule_id)
            items.append(item)
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/runs/<string:run_id>/hits/<string:hit_id>/review")
class HitReviewResource(MethodView):
    @require(*STAFF)
    @blp.arguments(ReviewIn)
    @blp.response(201, ReviewOut)
    def post(self, data, run_id, hit_id):
        """Confirm (→ finding) or dismiss one hit, with the reviewer's reason."""
        try:
            with runtime().sessions() as session, session.begin():
                record = get_or_404(session, ScreeningRunRecord, run_id, g.principal,
                                    for_update=True)
                return svc.review(session, record, hit_id, data, g.principal, g.request_id)
        except IntegrityError:  # a concurrent review of the same hit won
            raise ApiError(409, "already_reviewed", "该疑点已复核",
                           "this hit was already reviewed") from None
