"""HTTP of case attachments (thin: parse, scope, call ``attachments``, map errors).

* ``GET|POST /api/v1/cases/<case_id>/attachments`` — list / upload one file (multipart: ``file``,
  ``purpose`` = defence | hearing_request | appeal | other, optional ``note``).
* ``GET /api/v1/attachments/<attachment_id>`` — the bytes (re-hashed on the way out).

Scoped like cases: a case or attachment outside the caller's scope is 404; an institution sees its
own case only, and there the attachments its side uploaded. Append-only: no update, no delete.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy.exc import IntegrityError

from fundguard_shared import filetypes
from fundguard_shared.auth import require
from fundguard_shared.errors import ApiError
from fundguard_shared.uploads import multipart_file

from ..api import load_case
from .. import service
from ..documents import store
from ..runtime import runtime
from . import PURPOSES, UPLOADERS, CaseAttachment, attach, for_case, max_bytes, read_limited, visible_to

READERS = ("inspector", "leader", "legal_reviewer", "panel_member", "institution")

att = Blueprint("attachments", __name__, url_prefix="/api/v1",
                description="案件附件（陈述申辩、听证申请、复议材料）/ Case attachments")


class AttachmentOut(Schema):
    id = fields.String()
    case_id = fields.String()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    purpose = fields.String()
    purpose_label = fields.Function(lambda a: PURPOSES.get(a.purpose, a.purpose))
    note = fields.String()
    uploaded_by = fields.String()
    uploader_role = fields.String()
    uploaded_at = fields.DateTime()
    linked_steps = fields.List(fields.String())


class AttachmentUpload(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    purpose = fields.String(required=True, metadata={"enum": list(PURPOSES), "description": "用途"})
    note = fields.String(metadata={"description": "说明（可选）"})


@att.before_request
def _upload_limit():
    if request.method == "POST" and request.path.rstrip("/").endswith("/attachments"):
        # the multipart envelope adds a little to the file itself
        request.max_content_length = max_bytes() + 256 * 1024


@att.route("/cases/<string:case_id>/attachments")
class CaseAttachments(MethodView):
    @require(*READERS)
    @att.response(200, AttachmentOut(many=True))
    def get(self, case_id):
        """本案附件（机构只见本方上传的）：文件名、类型、大小、SHA-256、用途、上传人、时间、引用它的步骤。"""
        with runtime().sessions() as session:
            return for_case(session, load_case(session, case_id), g.principal)

    @require(*UPLOADERS)
    @att.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": AttachmentUpload}}})
    @att.response(201, AttachmentOut)
    @att.alt_response(200, schema=AttachmentOut, description="the same file was already attached (idempotent)")
    def post(self, case_id):
        """上传一个附件（multipart 字段 file、purpose、note）。按内容判断类型；存档按 SHA-256；写入审计链。"""
        with runtime().sessions() as session:  # scope first: a foreign case is 404 whatever the body
            load_case(session, case_id)
        upload, form = multipart_file(max_bytes())
        data = read_limited(upload.stream, max_bytes())
        try:
            with runtime().sessions() as session, session.begin():
                case = load_case(session, case_id, for_update=True)
                row, created = attach(session, case, g.principal, data, upload.filename or "",
                                      form.get("purpose", ""), form.get("note", ""), g.request_id)
                row.linked_steps = []
        except IntegrityError:
            raise ApiError(409, "concurrent_update", "案件正被他人同时修改，请重试",
                           "the case was changed at the same moment; retry") from None
        return row, 201 if created else 200


@att.route("/attachments/<string:attachment_id>")
class AttachmentContent(MethodView):
    @require(*READERS)
    @att.response(200, content_type="application/octet-stream")
    def get(self, attachment_id):
        """下载附件原件（读取时重新校验 SHA-256）。"""
        with runtime().sessions() as session:
            row = session.get(CaseAttachment, attachment_id)
            if row is None or service.get_case(session, row.case_id, g.principal) is None \
                    or not visible_to(row, g.principal):
                raise ApiError(404)
            sha, media_type, name, att_id = row.sha256, row.media_type, row.filename, row.id
        try:
            data = store.get_blob(sha)
        except store.BlobMissing:
            raise ApiError(503, "attachment_blob_missing", "附件文件缺失，请联系管理员",
                           "the stored attachment is missing") from None
        except store.BlobCorrupt:
            raise ApiError(503, "attachment_blob_corrupt", "附件文件校验失败（哈希不符），请联系管理员",
                           "the stored attachment no longer matches its SHA-256") from None
        ascii_name = f"{att_id}.{filetypes.EXTENSIONS.get(media_type, 'bin')}"
        return Response(data, mimetype=media_type, headers={
            "Content-Disposition": f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(name)}",
            "X-Content-SHA256": sha})
