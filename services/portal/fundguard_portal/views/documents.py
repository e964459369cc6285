"""执法文书 on the case page: the case's documents, their PDFs through the portal, and for staff
issuing a document and recording its service (送达). Shown only when the cases service offers
documents (its answer 404/405 hides the section)."""
from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, request, url_for

from ..bff import ServiceError
from .common import CASE_ROLES, backend, page

bp = Blueprint("documents", __name__)

STAFF_ROLES = ("inspector", "leader")
SERVICE_METHODS = {"direct": "直接送达", "lien": "留置送达", "post": "邮寄送达",
                   "electronic": "电子送达", "public_notice": "公告送达"}


def _offered(fn):
    """None when the cases service has no such endpoint (404/405) or cannot answer."""
    try:
        return fn()
    except ServiceError as err:
        if err.status in (401,):
            raise
        return None


def documents(api, case_id: str) -> dict:
    """The case's documents and, for staff, the types they may issue (template context)."""
    docs = _offered(lambda: api.get("cases", f"/api/v1/cases/{case_id}/documents"))
    types = None
    if docs is not None and g.user.role in STAFF_ROLES:
        types = _offered(lambda: api.get("cases", "/api/v1/document-types"))
    return {"documents": docs, "doc_types": types or [], "service_methods": SERVICE_METHODS}


def _back(case_id: str):
    return redirect(url_for("pages.case", case_id=case_id) + "#docs-h" if case_id
                    else url_for("pages.cases"))


@bp.post("/cases/<case_id>/documents")
@page(*STAFF_ROLES)
def issue(case_id: str):
    doc_type = request.form.get("doc_type", "")
    prefix = f"field-{doc_type}-"
    fields = {k[len(prefix):]: v.strip() for k, v in request.form.items()
              if k.startswith(prefix) and v.strip()}
    try:
        doc = backend().post("cases", f"/api/v1/cases/{case_id}/documents",
                             json={"doc_type": doc_type, "fields": fields})
    except ServiceError as err:
        if err.status in (401, 404):
            raise
        flash("文书未出具：" + "；".join([err.message, *err.details]), "error")
    else:
        number = f"（{doc['number']}）" if doc.get("number") else ""
        flash(f"已出具{doc.get('label') or '文书'}{number}", "success")
    return _back(case_id)


@bp.post("/documents/<doc_id>/services")
@page(*STAFF_ROLES)
def serve(doc_id: str):
    case_id = request.form.get("case_id", "")
    body: dict = {"method": request.form.get("method", "")}
    day = request.form.get("receipt_on", "").strip()
    if day:
        body["receipt_at"] = f"{day}T09:00:00+08:00"
    try:
        backend().post("cases", f"/api/v1/documents/{doc_id}/services", json=body)
    except ServiceError as err:
        if err.status in (401, 404):
            raise
        flash("送达未登记：" + "；".join([err.message, *err.details]), "error")
    else:
        flash(f"已登记{SERVICE_METHODS.get(body['method'], '送达')}", "success")
    return _back(case_id)


@bp.get("/documents/<doc_id>/pdf")
@page(*CASE_ROLES)
def pdf(doc_id: str):
    """The frozen PDF through the portal (an institution's first opening of an electronically
    served document is its receipt: the cases service records it)."""
    content, headers = backend().get_bytes("cases", f"/api/v1/documents/{doc_id}/pdf")
    resp = Response(content, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = headers.get("Content-Disposition", "inline")
    if headers.get("X-Content-SHA256"):
        resp.headers["X-Content-SHA256"] = headers["X-Content-SHA256"]
    return resp


@bp.post("/cases/<case_id>/service-consent")
@page("institution", *STAFF_ROLES)
def consent(case_id: str):
    """The party agrees to electronic service (行政处罚法 art. 61): from then on documents can be
    served in the portal and the institution's first opening is the receipt. Staff record it from
    the signed 送达地址确认书 (its reference is required)."""
    body = {"reference": request.form.get("reference", "").strip()[:2000]}
    try:
        backend().post("cases", f"/api/v1/cases/{case_id}/service-consent", json=body)
    except ServiceError as err:
        if err.status in (401, 404):
            raise
        flash("未登记：" + "；".join([err.message, *err.details]), "error")
    else:
        flash("已登记同意电子送达：此后文书可在平台送达，首次打开即视为签收", "success")
    return _back(case_id)
