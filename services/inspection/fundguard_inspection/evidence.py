"""Evidence files (content-addressed, type checked by content, chain of custody) and
先行登记保存 (evidence registered and kept in place; decision due within 7 working days).

Limits: ``FUNDGUARD_EVIDENCE_MAX_BYTES`` (default 20 MiB) per file; beyond it → 413
``file_too_large``. A type not accepted → 415 ``unsupported_file_type``; a broken file of an
accepted type → 422 ``malformed_file``; an empty file → 422 ``empty_file``; the same content
attached to the same object again in the same department → 409 ``duplicate_evidence``.
"""
from __future__ import annotations

import io
import os
import re
from functools import lru_cache

from flask import Response, g, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from fundguard_shared import filetypes
from fundguard_shared.uploads import multipart_file, too_large
from fundguard_shared.auth import Principal, require
from fundguard_shared.errors import ApiError
from fundguard_shared.outbox import add_event
from fundguard_shared.pagination import Page, PageArgs, page_query

from .common import (add_working_days, check_version, department_for, env_int,
                     get_or_404, in_scope, not_future, scoped, stale_as_conflict)
from .models import (MESSAGING, SERVICE, Complaint, CustodyEntry, EvidenceFile, Finding,
                     FlightPlan, Preservation)
from .runtime import runtime
from .storage import EvidenceStore, TooLarge, default_store

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
PRESERVATION_WORKING_DAYS = 7  # 行政处罚法 第五十六条：七日内及时作出处理决定 (art.85: 工作日)
PRESERVATION_BASIS = "《中华人民共和国行政处罚法》第五十六条、第八十五条"
PRESERVATION_DECISIONS = ("release", "copy_and_release", "seal_or_seize", "transfer")
ATTACHMENT = re.compile(r"^(plan|complaint|finding):[0-9a-f-]{36}$")


def max_bytes() -> int:
    return env_int("FUNDGUARD_EVIDENCE_MAX_BYTES", DEFAULT_MAX_BYTES)


@lru_cache(maxsize=1)
def store() -> EvidenceStore:
    return default_store()


# ---- schemas ---------------------------------------------------------------------------------

class EvidenceOut(Schema):
    id = fields.String()
    region = fields.String()
    department = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    media_type = fields.String()
    original_name = fields.String()
    description = fields.String()
    attached_to = fields.String()
    uploaded_by = fields.String()
    created_at = fields.DateTime()


class EvidenceList(Page):
    items = fields.List(fields.Nested(EvidenceOut))


class EvidenceArgs(PageArgs):
    attached_to = fields.String(load_default=None, validate=validate.Length(1, 80))


class EvidenceUpload(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    description = fields.String(metadata={"description": "说明"})
    attached_to = fields.String(metadata={"description": "plan:<id> | complaint:<id> | finding:<id>"})
    department = fields.String(metadata={"description": "leader only: the owning department"})


class CustodyOut(Schema):
    id = fields.Integer()
    evidence_id = fields.String()
    action = fields.String()
    actor = fields.String()
    actor_role = fields.String()
    request_id = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    at = fields.DateTime()


class PreservationIn(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(1, 64))
    institution_name = fields.String(required=True, validate=validate.Length(1, 200))
    items = fields.String(required=True, validate=validate.Length(1, 20000))
    evidence_ids = fields.List(fields.String(), load_default=list)
    finding_id = fields.String(load_default=None, allow_none=True)
    approved_by = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 128))
    started_on = fields.Date(load_default=None, allow_none=True)
    department = fields.String(load_default=None, validate=validate.Length(1, 64))


class PreservationDecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(PRESERVATION_DECISIONS))
    reason = fields.String(required=True, validate=validate.Length(1, 10000))
    decided_on = fields.Date(load_default=None, allow_none=True)
    version = fields.Integer(load_default=None)


class PreservationOut(Schema):
    id = fields.String()
    region = fields.String()
    department = fields.String()
    institution_id = fields.String()
    institution_name = fields.String()
    items = fields.String()
    evidence_ids = fields.List(fields.String())
    finding_id = fields.String(allow_none=True)
    approved_by = fields.String()
    started_on = fields.Date()
    decision_due = fields.Date()
    status = fields.String()
    decision = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decided_on = fields.Date(allow_none=True)
    overdue = fields.Method("_overdue")
    version = fields.Integer()

    def _overdue(self, p):
        from .common import today
        return p.status == "open" and today() > p.decision_due


class PreservationList(Page):
    items = fields.List(fields.Nested(PreservationOut))


# ---- rules -----------------------------------------------------------------------------------

def custody(session: Session, evidence_id: str, action: str, principal: Principal,
            detail: str | None = None) -> None:
    session.add(CustodyEntry(evidence_id=evidence_id, action=action, actor=principal.sub,
                             actor_role=principal.role, request_id=getattr(g, "request_id", None),
                             detail=detail))


def check_attachment(session: Session, attached_to: str, principal: Principal) -> None:
    if not attached_to:
        return
    if not ATTACHMENT.match(attached_to):
        raise ApiError(422, "attachment_invalid",
                       "attached_to 须为 plan:<编号>、complaint:<编号> 或 finding:<编号>",
                       "attached_to must be plan:<id>, complaint:<id> or finding:<id>")
    kind, _, oid = attached_to.partition(":")
    model = {"plan": FlightPlan, "complaint": Complaint, "finding": Finding}[kind]
    obj = session.get(model, oid)
    if obj is None or not in_scope(obj, principal):
        raise ApiError(422, "attachment_not_found", "关联的检查计划、举报或检查发现不存在或不在权限范围内",
                       "the object to attach to does not exist in your scope")


def evidence_ref(ev: EvidenceFile) -> dict:
    """The facts about one file that travel in events (``EvidenceRef``): never its content."""
    return {"evidence_id": ev.id, "sha256": ev.sha256, "filename": ev.original_name,
            "media_type": ev.media_type, "size": ev.size, "added_at": ev.created_at}


# evidence may be any document an inspection produces: scans, photos, OFD/Office files, text notes
EVIDENCE_TYPES = (filetypes.PDF, filetypes.JPEG, filetypes.PNG, filetypes.OFD, filetypes.DOCX,
                  filetypes.XLSX, filetypes.TEXT)


def register_evidence(session: Session, stream, filename: str, description: str,
                      attached_to: str, principal: Principal, department: str) -> EvidenceFile:
    """Check the type by content, store the bytes by hash, record the row and its custody entry."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    limit = max_bytes()
    if size > limit:
        raise too_large(limit)
    try:
        media_type = filetypes.detect(stream, size, EVIDENCE_TYPES)
    except filetypes.FileTypeError as exc:
        raise ApiError(exc.status, exc.code, exc.zh, exc.en) from None
    check_attachment(session, attached_to, principal)
    try:
        blob = store().put(stream, limit)
    except TooLarge:
        raise too_large(limit) from None
    existing = session.execute(select(EvidenceFile).where(
        EvidenceFile.region == principal.region, EvidenceFile.department == department,
        EvidenceFile.sha256 == blob.sha256, EvidenceFile.attached_to == attached_to)
    ).scalar_one_or_none()
    if existing is not None:
        raise ApiError(409, "duplicate_evidence", "相同内容的证据已登记", "the same file is already "
                       "registered for this object", existing_id=existing.id, sha256=blob.sha256)
    ev = EvidenceFile(region=principal.region, department=department, sha256=blob.sha256,
                      size=blob.size, media_type=media_type,
                      original_name=(filename or "upload")[:255], description=description or "",
                      attached_to=attached_to, uploaded_by=principal.sub)
    session.add(ev)
    session.flush()
    custody(session, ev.id, "added", principal, f"sha256={blob.sha256} size={blob.size}")
    if attached_to.startswith("finding:"):  # the case opened from the finding lists it (cases)
        finding_id = attached_to.partition(":")[2]
        add_event(session, MESSAGING, "evidence.registered", {
            **evidence_ref(ev), "finding_id": finding_id, "region": ev.region,
            "department": ev.department,
        }, subject=f"finding:{finding_id}", producer=SERVICE, actor=principal.sub,
            correlation_id=getattr(g, "request_id", None))
    return ev


def start_preservation(session: Session, data: dict, principal: Principal,
                       correlation_id: str) -> Preservation:
    """先行登记保存 needs a leader's approval; the department must decide within 7 working days."""
    department = department_for(principal, data.pop("department", None))
    approved_by = principal.sub if principal.role == "leader" else data.get("approved_by")
    if not approved_by:
        raise ApiError(422, "approval_required", "先行登记保存须经行政机关负责人批准（填写批准人）",
                       "先行登记保存 needs the approval of a leader (approved_by)")
    started = not_future(data.get("started_on"), "started_on")
    due = add_working_days(started, PRESERVATION_WORKING_DAYS)
    _check_evidence_ids(session, data["evidence_ids"], principal)
    p = Preservation(region=principal.region, department=department,
                     institution_id=data["institution_id"],
                     institution_name=data["institution_name"], items=data["items"],
                     evidence_ids=data["evidence_ids"], finding_id=data.get("finding_id"),
                     approved_by=approved_by, started_on=started, decision_due=due,
                     status="open", created_by=principal.sub)
    session.add(p)
    session.flush()
    add_event(session, MESSAGING, "evidence.preserved", {
        "preservation_id": p.id, "region": p.region, "department": p.department,
        "institution_id": p.institution_id, "institution_name": p.institution_name,
        "started_on": p.started_on, "decision_due": p.decision_due,
        "period_working_days": PRESERVATION_WORKING_DAYS, "legal_basis": PRESERVATION_BASIS,
        "finding_id": p.finding_id,
    }, subject=f"preservation:{p.id}", producer=SERVICE, actor=principal.sub,
        correlation_id=correlation_id)
    return p


def decide_preservation(session: Session, p: Preservation, data: dict, principal: Principal,
                        correlation_id: str) -> None:
    if p.status != "open":
        raise ApiError(409, "already_decided", "该先行登记保存已作出处理决定",
                       "a decision on this preservation was already made")
    decided = not_future(data.get("decided_on"), "decided_on")
    if decided < p.started_on:
        raise ApiError(422, "date_before_start", "处理决定日期早于保存日期",
                       "the decision predates the preservation")
    p.status, p.decision, p.decision_reason, p.decided_on = \
        "decided", data["decision"], data["reason"], decided
    add_event(session, MESSAGING, "evidence.preservation_decided", {
        "preservation_id": p.id, "region": p.region, "department": p.department,
        "decision": p.decision, "decided_on": decided, "decision_due": p.decision_due,
        "on_time": decided <= p.decision_due,
    }, subject=f"preservation:{p.id}", producer=SERVICE, actor=principal.sub,
        correlation_id=correlation_id)


def _check_evidence_ids(session: Session, ids: list[str], principal: Principal) -> None:
    if not ids:
        return
    found = set(session.execute(scoped(select(EvidenceFile.id).where(EvidenceFile.id.in_(ids)),
                                       EvidenceFile, principal)).scalars())
    missing = sorted(set(ids) - found)
    if missing:
        raise ApiError(422, "evidence_not_found", "引用的证据不存在或不在权限范围内",
                       "referenced evidence does not exist in your scope", missing=missing)


# ---- HTTP ------------------------------------------------------------------------------------

blp = Blueprint("evidence", __name__, url_prefix="/api/v1",
                description="证据与先行登记保存 / Evidence and preservation")


@blp.before_request
def _upload_limit():
    if request.method == "POST" and request.path.rstrip("/").endswith("/evidence"):
        # the multipart envelope adds a little to the file itself
        request.max_content_length = max_bytes() + 256 * 1024


@blp.route("/evidence")
class EvidenceCollection(MethodView):
    @require("inspector", "leader")
    @blp.arguments(EvidenceArgs, location="query")
    @blp.response(200, EvidenceList)
    def get(self, args):
        with runtime().sessions() as session:
            q = scoped(select(EvidenceFile), EvidenceFile, g.principal)
            if args.get("attached_to"):
                q = q.where(EvidenceFile.attached_to == args["attached_to"])
            return page_query(session, q.order_by(EvidenceFile.created_at.desc()), args)

    @require("inspector", "leader")
    @blp.doc(requestBody={"required": True, "content": {
        "multipart/form-data": {"schema": EvidenceUpload}}})
    @blp.response(201, EvidenceOut)
    def post(self):
        """Upload one evidence file (multipart field ``file``)."""
        upload, form = multipart_file(max_bytes())
        department = department_for(g.principal, form.get("department"))
        with runtime().sessions() as session, session.begin():
            return register_evidence(session, upload.stream, upload.filename or "",
                                     form.get("description", "")[:10000],
                                     form.get("attached_to", ""), g.principal, department)


@blp.route("/evidence/<string:evidence_id>")
class EvidenceById(MethodView):
    @require("inspector", "leader")
    @blp.response(200, EvidenceOut)
    def get(self, evidence_id):
        with runtime().sessions() as session, session.begin():
            ev = get_or_404(session, EvidenceFile, evidence_id, g.principal)
            custody(session, ev.id, "viewed", g.principal)
            return ev


@blp.route("/evidence/<string:evidence_id>/content")
class EvidenceContent(MethodView):
    @require("inspector", "leader")
    @blp.response(200, content_type="application/octet-stream")
    def get(self, evidence_id):
        """Download (export) the file; its hash is re-checked first, the export is logged."""
        with runtime().sessions() as session, session.begin():
            ev = get_or_404(session, EvidenceFile, evidence_id, g.principal)
            now = store().rehash(ev.sha256)
            intact = now == ev.sha256
            if intact:
                custody(session, ev.id, "exported", g.principal)
            else:  # the refusal is logged too (committed), then answered
                custody(session, ev.id, "export_refused", g.principal,
                        "blob missing" if now is None else f"content hash now {now}")
        if not intact:
            raise ApiError(409, "evidence_altered", "证据文件已缺失或被改动，拒绝导出",
                           "the stored file is missing or altered; export refused")
        f = store().open(ev.sha256)
        ext = filetypes.EXTENSIONS.get(ev.media_type, "bin")
        resp = Response(stream_with_context(iter(lambda: f.read(1 << 16), b"")),
                        mimetype=ev.media_type)
        resp.call_on_close(f.close)
        resp.headers["Content-Disposition"] = f'attachment; filename="{ev.id}.{ext}"'
        resp.headers["X-Content-SHA256"] = ev.sha256
        resp.headers["Content-Length"] = str(ev.size)
        return resp


@blp.route("/evidence/<string:evidence_id>/custody")
class EvidenceCustody(MethodView):
    @require("inspector", "leader")
    @blp.response(200, CustodyOut(many=True))
    def get(self, evidence_id):
        with runtime().sessions() as session:
            ev = get_or_404(session, EvidenceFile, evidence_id, g.principal)
            return list(session.execute(select(CustodyEntry).where(
                CustodyEntry.evidence_id == ev.id).order_by(CustodyEntry.id)).scalars())


@blp.route("/preservations")
class Preservations(MethodView):
    @require("inspector", "leader")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PreservationList)
    def get(self, args):
        with runtime().sessions() as session:
            q = scoped(select(Preservation), Preservation, g.principal) \
                .order_by(Preservation.created_at.desc())
            return page_query(session, q, args)

    @require("inspector", "leader")
    @blp.arguments(PreservationIn)
    @blp.response(201, PreservationOut)
    def post(self, data):
        """先行登记保存: starts the 7-working-day decision clock (event ``evidence.preserved``)."""
        with runtime().sessions() as session, session.begin():
            return start_preservation(session, data, g.principal, g.request_id)


@blp.route("/preservations/<string:preservation_id>")
class PreservationById(MethodView):
    @require("inspector", "leader")
    @blp.response(200, PreservationOut)
    def get(self, preservation_id):
        with runtime().sessions() as session:
            return get_or_404(session, Preservation, preservation_id, g.principal)


@blp.route("/preservations/<string:preservation_id>/decision")
class PreservationDecision(MethodView):
    @require("leader")
    @blp.arguments(PreservationDecisionIn)
    @blp.response(200, PreservationOut)
    def post(self, data, preservation_id):
        with runtime().sessions() as session, stale_as_conflict():
            with session.begin():
                p = get_or_404(session, Preservation, preservation_id, g.principal,
                               for_update=True)
                check_version(p, data)
                decide_preservation(session, p, data, g.principal, g.request_id)
                session.flush()
            return p


# ---- operator command ---------------------------------------------------------------------------

def verify_all(session: Session, evidence_store: EvidenceStore) -> dict:
    """Re-hash every stored file the database knows; report altered and missing ones."""
    rows = session.execute(select(EvidenceFile.sha256, EvidenceFile.id)
                           .order_by(EvidenceFile.sha256)).all()
    by_hash: dict[str, list[str]] = {}
    for sha, eid in rows:
        by_hash.setdefault(sha, []).append(eid)
    altered, missing = [], []
    for sha, ids in by_hash.items():
        now = evidence_store.rehash(sha)
        if now is None:
            missing.append({"sha256": sha, "evidence_ids": ids})
        elif now != sha:
            altered.append({"sha256": sha, "actual_sha256": now, "evidence_ids": ids})
    return {"checked": len(by_hash), "altered": altered, "missing": missing, "ok": not (altered or missing)}
