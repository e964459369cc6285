"""HTTP resources of legal documents (thin: parse, scope, call issue/delivery, map errors).

* ``GET  /api/v1/document-types`` — the types, the step that issues each, required items, fields.
* ``GET|POST /api/v1/cases/<case_id>/documents`` — list (issue order) / issue (or correct).
* ``GET  /api/v1/documents/<document_id>`` and ``.../pdf`` — the frozen document and its PDF.
* ``POST /api/v1/documents/<document_id>/services`` — record 送达 (drives the case clocks).
* ``POST /api/v1/documents/<document_id>/void`` — void its number, with the reason.
* ``POST /api/v1/cases/<case_id>/service-consent`` — the party's consent to electronic service.

Scoped like cases: a document of a case outside the caller's scope is 404; institutions see only
documents addressed to them, and their first opening of an electronically served one is its receipt.
"""
from __future__ import annotations

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy.orm.exc import StaleDataError

from fundguard_shared.auth import require
from fundguard_shared.errors import ApiError

from ..api import load_case
from .. import service as case_service
from ..runtime import runtime
from . import delivery, issue, store, templates
from .catalog import SERVICE_METHODS, TYPES
from .models import Document

READERS = ("inspector", "leader", "legal_reviewer", "panel_member", "institution")
STAFF = ("inspector", "leader")

docs = Blueprint("documents", __name__, url_prefix="/api/v1", description="执法文书 / Legal documents")


def _raise(err: issue.DocumentError):
    raise ApiError(err.status, err.code, err.zh, err.en, **err.extra)


class DocTypeOut(Schema):
    code = fields.String()
    label = fields.String()
    step = fields.String()
    has_number = fields.Boolean()
    external = fields.Boolean()
    serves = fields.String(allow_none=True)
    required = fields.List(fields.String())
    fields_ = fields.List(fields.String(), data_key="fields")


class ServiceOut(Schema):
    id = fields.String()
    method = fields.String()
    method_label = fields.Function(lambda s: SERVICE_METHODS.get(s.method, s.method))
    receipt_at = fields.DateTime(allow_none=True)
    recorded_by = fields.String()
    recorded_at = fields.DateTime()
    details = fields.Dict()


class DocumentOut(Schema):
    id = fields.String()
    case_id = fields.String()
    doc_type = fields.String()
    label = fields.Function(lambda d: TYPES[d.doc_type].label if d.doc_type in TYPES else d.doc_type)
    number = fields.String(allow_none=True)
    title = fields.String()
    status = fields.String()
    corrects_id = fields.String(allow_none=True)
    sha256 = fields.String()
    size = fields.Integer()
    issued_at = fields.DateTime()
    issued_by = fields.String()
    publish = fields.Boolean()
    seq = fields.Integer()
    fields_ = fields.Dict(attribute="fields", data_key="fields")
    services = fields.Method("_services")

    def _services(self, d):
        return ServiceOut(many=True).dump(getattr(d, "_services", []))


class IssueIn(Schema):
    doc_type = fields.String(required=True, validate=validate.Length(1, 48))
    fields_ = fields.Dict(keys=fields.String(validate=validate.Length(1, 64)), data_key="fields", load_default=dict)
    corrects = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 36))
    publish = fields.Boolean(load_default=False)


class ServiceIn(Schema):
    method = fields.String(required=True, validate=validate.OneOf(list(SERVICE_METHODS)))
    receipt_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=delivery.CN)
    details = fields.Dict(keys=fields.String(validate=validate.Length(1, 64)),
                          values=fields.String(validate=validate.Length(max=500)), load_default=dict)


class VoidIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class ConsentIn(Schema):
    reference = fields.String(load_default="", validate=validate.Length(max=2000))


class ConsentOut(Schema):
    id = fields.String()
    case_id = fields.String()
    given_by = fields.String()
    role = fields.String()
    reference = fields.String()
    given_at = fields.DateTime()


def _visible(doc: Document) -> bool:
    p = g.principal
    if p.role == "institution":
        return doc.addressee_id is not None and doc.addressee_id == p.institution_id
    return True


def _document(session, document_id):
    doc = session.get(Document, document_id)
    if doc is None:
        raise ApiError(404)
    case = case_service.get_case(session, doc.case_id, g.principal)
    if case is None or not _visible(doc):
        raise ApiError(404)
    return doc, case


def _with_services(session, doc):
    doc._services = delivery.services_of(session, doc.id)
    return doc


@docs.route("/document-types")
class DocumentTypes(MethodView):
    @require(*READERS)
    @docs.response(200, DocTypeOut(many=True))
    def get(self):
        """Every document type, the workflow step that issues it, its required items and the
        fields a user may supply (everything else is computed from the case)."""
        out = []
        for t in TYPES.values():
            try:
                tpl = templates.load(t.code, g.principal.region or "")
                required, allowed = list(tpl.required), list(tpl.fields)
            except templates.TemplateProblem:
                required, allowed = [], []
            out.append({"code": t.code, "label": t.label, "step": t.step, "has_number": t.number_code is not None,
                        "external": t.external, "serves": t.serves, "required": required, "fields_": allowed})
        return out


@docs.route("/cases/<string:case_id>/documents")
class CaseDocuments(MethodView):
    @require(*READERS)
    @docs.response(200, DocumentOut(many=True))
    def get(self, case_id):
        """The case's documents in issue order (institutions: those addressed to them)."""
        with runtime().sessions() as session:
            case = load_case(session, case_id)
            return [_with_services(session, d) for d in issue.list_case_documents(session, case.id) if _visible(d)]

    @require(*STAFF)
    @docs.arguments(IssueIn)
    @docs.response(201, DocumentOut)
    def post(self, body, case_id):
        """Issue a document (or, with ``corrects``, a correction naming the original): renders the
        PDF once, takes the 文号, stores both; nothing is issued on any error."""
        try:
            with runtime().sessions() as session, session.begin():
                case = load_case(session, case_id)
                doc = issue.issue_document(session, case, body["doc_type"], g.principal, body["fields_"],
                                           corrects=body["corrects"], publish=body["publish"],
                                           request_id=g.request_id)
                doc._services = []
            return doc
        except issue.DocumentError as err:
            _raise(err)


@docs.route("/documents/<string:document_id>")
class DocumentById(MethodView):
    @require(*READERS)
    @docs.response(200, DocumentOut)
    def get(self, document_id):
        with runtime().sessions() as session:
            doc, _ = _document(session, document_id)
            return _with_services(session, doc)


@docs.route("/documents/<string:document_id>/pdf")
class DocumentPdf(MethodView):
    @require(*READERS)
    @docs.response(200, content_type="application/pdf")
    def get(self, document_id):
        """The frozen PDF. An institution's first opening of an electronically served document
        records its receipt (and starts the clocks that service starts)."""
        try:
            with runtime().sessions() as session, session.begin():
                doc, case = _document(session, document_id)
                if g.principal.role == "institution":
                    delivery.opened_by_party(session, doc, case, request_id=g.request_id)
                data = store.get_blob(doc.sha256)
                name = doc.sha256[:16]
        except store.BlobMissing:
            raise ApiError(503, "document_blob_missing", "文书文件缺失，请联系管理员", "the stored PDF is missing")
        except store.BlobCorrupt:
            raise ApiError(503, "document_blob_corrupt", "文书文件校验失败（哈希不符），请联系管理员",
                           "the stored PDF no longer matches its SHA-256")
        except StaleDataError:
            raise ApiError(409, "stale_version", "案件已被他人修改，请重试", "the case changed; retry")
        return Response(data, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"',
                                 "X-Content-SHA256": doc.sha256})


@docs.route("/documents/<string:document_id>/services")
class DocumentServices(MethodView):
    @require(*STAFF)
    @docs.arguments(ServiceIn)
    @docs.response(201, DocumentOut)
    def post(self, body, document_id):
        """Record 送达: direct / lien (留置) / post / public_notice with the receipt time, or
        electronic (party's consent required; receipt = the party's first opening). The receipt
        date of a 事先告知书 / 决定书 fires notify / serve and starts their clocks."""
        try:
            with runtime().sessions() as session, session.begin():
                doc, case = _document(session, document_id)
                delivery.record_service(session, doc, case, g.principal, body["method"], body["receipt_at"],
                                        body["details"], request_id=g.request_id)
                _with_services(session, doc)
            return doc
        except issue.DocumentError as err:
            _raise(err)
        except StaleDataError:
            raise ApiError(409, "stale_version", "案件已被他人修改，请重试", "the case changed; retry")


@docs.route("/documents/<string:document_id>/void")
class DocumentVoid(MethodView):
    @require("leader")
    @docs.arguments(VoidIn)
    @docs.response(200, DocumentOut)
    def post(self, body, document_id):
        """Void the document and its 文号 (recorded with the reason, never reused)."""
        try:
            with runtime().sessions() as session, session.begin():
                doc, case = _document(session, document_id)
                issue.void_document(session, doc, case, g.principal, body["reason"], g.request_id)
                _with_services(session, doc)
            return doc
        except issue.DocumentError as err:
            _raise(err)


@docs.route("/cases/<string:case_id>/service-consent")
class ServiceConsent(MethodView):
    @require("institution", *STAFF)
    @docs.arguments(ConsentIn)
    @docs.response(201, ConsentOut)
    def post(self, body, case_id):
        """The party consents to electronic service (institution in the portal, or staff citing
        the signed 送达地址确认书)."""
        try:
            with runtime().sessions() as session, session.begin():
                case = load_case(session, case_id)
                return delivery.record_consent(session, case, g.principal, body["reference"], g.request_id)
        except issue.DocumentError as err:
            _raise(err)
