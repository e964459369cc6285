"""Inspector pages: evidence upload, complaint registration, claims import and screening with
progress, hit review, my tasks. Thin: each page calls the inspection (or cases) API with the
user's token; the services judge every value."""
from __future__ import annotations

import os
import re
import secrets
from datetime import date

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from fundguard_shared.catalogue import VIOLATION_TYPES
from fundguard_shared.events import PARTY_TYPES
from fundguard_shared.workdays import CalendarNotLoaded, WorkdayCalendar

from ..bff import ServiceError
from ..forms import china_today
from .common import FINDING_ROLES, backend, int_arg, page

bp = Blueprint("inspect", __name__)

PER_PAGE = 20
LONG = 300.0            # seconds the portal waits for an import or a screening run
CHANNEL_LABELS = {"web": "网络", "phone": "电话", "letter": "信函", "email": "电子邮件",
                  "in_person": "当面"}
TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _pages(total: int) -> int:
    return max(1, -(-total // PER_PAGE))


# ---- evidence --------------------------------------------------------------------------------

@bp.get("/evidence")
@page(*FINDING_ROLES)
def evidence():
    page_no = int_arg("page", 1)
    body = backend().get("inspection", "/api/v1/evidence", page=page_no, per_page=PER_PAGE,
                         attached_to=request.args.get("attached_to", "").strip()[:80] or None)
    return render_template("evidence.html", items=body["items"], total=body["total"],
                           page_no=page_no, pages=_pages(body["total"]),
                           attached_to=request.args.get("attached_to", ""), error=None, details=[])


@bp.post("/evidence")
@page(*FINDING_ROLES)
def evidence_upload():
    upload = request.files.get("file")
    fields = {"description": request.form.get("description", "").strip(),
              "attached_to": request.form.get("attached_to", "").strip()}
    if upload is None or not upload.filename:
        error, details, status = "请选择要上传的证据文件", [], 422
    else:
        try:
            ev = backend().upload("inspection", "/api/v1/evidence", upload, fields, timeout=LONG)
        except ServiceError as err:
            if err.status == 401:
                raise
            error, details, status = err.message, err.details, err.page_status
        else:
            flash(f"证据「{ev.get('original_name')}」已保存，SHA-256：{ev.get('sha256')}", "success")
            return redirect(url_for("inspect.evidence"))
    body = backend().get("inspection", "/api/v1/evidence", per_page=PER_PAGE)
    return render_template("evidence.html", items=body["items"], total=body["total"], page_no=1,
                           pages=_pages(body["total"]), attached_to=fields["attached_to"],
                           form=fields, error=error, details=details), status


# ---- complaints ------------------------------------------------------------------------------

def is_complaint_handler(user) -> bool:
    """May this user see and record informant identities? The inspection service's policy
    (FUNDGUARD_COMPLAINT_HANDLERS, FUNDGUARD_COMPLAINT_HANDLER_IDS), read from the same
    settings: it only decides whether the identity fields are offered; the service enforces it
    (a non-handler's informant read is refused and logged there)."""
    raw = os.environ.get("FUNDGUARD_COMPLAINT_HANDLERS") or "inspector:department,leader:region"
    rules = {r.strip() for r in raw.split(",") if r.strip()}
    ids = {i.strip() for i in (os.environ.get("FUNDGUARD_COMPLAINT_HANDLER_IDS") or "").split(",")
           if i.strip()}
    if ids and user.username not in ids:
        return False
    if user.role == "inspector":     # a complaint registered by an inspector is their department's
        return bool(rules & {"inspector:department", "inspector:region"})
    return user.role == "leader" and "leader:region" in rules


@bp.get("/complaints")
@page(*FINDING_ROLES)
def complaints():
    page_no = int_arg("page", 1)
    body = backend().get("inspection", "/api/v1/complaints", page=page_no, per_page=PER_PAGE)
    return render_template("complaints.html", items=body["items"], total=body["total"],
                           page_no=page_no, pages=_pages(body["total"]))


def _complaint_form(form: dict, error=None, details=(), status=200):
    return render_template("complaint_new.html", form=form, error=error, details=list(details),
                           channels=CHANNEL_LABELS, party_types=PARTY_TYPES,
                           violation_types=VIOLATION_TYPES,
                           handler=is_complaint_handler(g.user)), status


@bp.get("/complaints/new")
@page(*FINDING_ROLES)
def complaint_new():
    return _complaint_form({"channel": "phone", "party_type": "entity"})


INFORMANT_FIELDS = ("name", "id_number", "phone", "email", "address")


@bp.post("/complaints/new")
@page(*FINDING_ROLES)
def complaint_create():
    keys = ("channel", "institution_id", "institution_name", "party_type", "violation_type",
            "amount_estimate", "summary", "received_on")
    form = {k: request.form.get(k, "").strip() for k in keys}
    body: dict = {k: v for k, v in form.items() if v}
    body["real_name"] = request.form.get("real_name") == "1"
    form["real_name"] = "1" if body["real_name"] else ""
    if is_complaint_handler(g.user):
        informant = {k: request.form.get(f"informant_{k}", "").strip() for k in INFORMANT_FIELDS}
        form.update({f"informant_{k}": v for k, v in informant.items()})
        informant = {k: v for k, v in informant.items() if v}
        if informant:
            informant["is_insider"] = request.form.get("informant_is_insider") == "1"
            body["informant"] = informant
    elif body["real_name"]:
        return _complaint_form(form, "实名举报须由举报承办人员登记举报人信息", (), 422)
    try:
        created = backend().post("inspection", "/api/v1/complaints", json=body)
    except ServiceError as err:
        if err.status == 401:
            raise
        return _complaint_form(form, err.message, err.details,
                               err.page_status)
    flash(f"举报已登记（{created.get('institution_name')}，{created.get('received_on')} 收到），"
          "请在受理期限内作出是否受理的决定", "success")
    return redirect(url_for("inspect.complaints"))


# ---- claims import and screening -------------------------------------------------------------

def _progress_headers() -> dict:
    token = request.form.get("progress_token", "")
    return {"X-Progress-Token": token} if TOKEN.match(token) else {}


def _screening_page(error=None, details=(), status=200):
    api = backend()
    imports = api.get("inspection", "/api/v1/screening/imports", per_page=10)
    runs = api.get("inspection", "/api/v1/screening/runs", per_page=10)
    return render_template("screening.html", imports=imports, runs=runs, error=error,
                           details=list(details), token=secrets.token_urlsafe(12)), status


def _wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _done(message: str, target: str):
    flash(message, "success")           # shown on the next page either way
    if _wants_json():
        return jsonify({"ok": True, "message": message, "next": target})
    return redirect(target)


def _failed(err: ServiceError):
    if err.status == 401:
        raise err
    status = err.page_status
    if _wants_json():
        return jsonify({"ok": False, "message": err.message, "details": err.details}), status
    return _screening_page(err.message, err.details, status)


@bp.get("/screening")
@page(*FINDING_ROLES)
def screening():
    return _screening_page()


@bp.post("/screening/imports")
@page(*FINDING_ROLES)
def screening_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _failed(ServiceError(422, "file_required", "请选择结算数据文件（CSV 或 Parquet）",
                                    service="portal"))
    try:
        rep = backend().upload("inspection", "/api/v1/screening/imports", upload,
                               headers=_progress_headers(), timeout=LONG)
    except ServiceError as err:
        return _failed(err)
    return _done(f"导入完成：读取 {rep.get('rows_read')} 行，载入 {rep.get('rows_loaded')} 行，"
                 f"拒收 {rep.get('rows_rejected')} 行", url_for("inspect.screening"))


@bp.post("/screening/runs")
@page(*FINDING_ROLES)
def screening_run():
    try:
        run = backend().request("POST", "inspection", "/api/v1/screening/runs", json={},
                                headers=_progress_headers(), timeout=LONG)
    except ServiceError as err:
        return _failed(err)
    return _done(f"筛查完成：{run.get('rows_screened')} 条结算记录，发现疑点 {run.get('total_hits')} 个",
                 url_for("inspect.run", run_id=run["id"]))


@bp.get("/screening/progress/<token>")
@page(*FINDING_ROLES)
def screening_progress(token: str):
    """For the page's script: how far the import or run has got (404 until it starts)."""
    if not TOKEN.match(token):
        return jsonify({"stage": "unknown"}), 404
    try:
        return jsonify(backend().get("inspection", f"/api/v1/screening/progress/{token}"))
    except ServiceError as err:
        return jsonify({"stage": "unknown", "message": err.message}), err.status


@bp.get("/screening/runs/<run_id>")
@page(*FINDING_ROLES)
def run(run_id: str):
    api = backend()
    record = api.get("inspection", f"/api/v1/screening/runs/{run_id}")
    page_no = int_arg("page", 1)
    hits = api.get("inspection", f"/api/v1/screening/runs/{run_id}/hits", page=page_no,
                   per_page=PER_PAGE)
    return render_template("screening_run.html", run=record, hits=hits["items"],
                           total=hits["total"], page_no=page_no, pages=_pages(hits["total"]),
                           violation_types=VIOLATION_TYPES)


@bp.post("/screening/runs/<run_id>/hits/<hit_id>/review")
@page(*FINDING_ROLES)
def review_hit(run_id: str, hit_id: str):
    body = {k: request.form.get(k, "").strip() for k in ("decision", "reason", "violation_type",
                                                          "amount")}
    body = {k: v for k, v in body.items() if v}
    try:
        backend().post("inspection", f"/api/v1/screening/runs/{run_id}/hits/{hit_id}/review",
                       json=body)
    except ServiceError as err:
        if err.status in (401, 404):
            raise
        flash("复核未保存：" + "；".join([err.message, *err.details]), "error")
    else:
        flash("已确认疑点，系统将登记为检查发现" if body.get("decision") == "confirmed"
              else "已排除疑点", "success")
    return redirect(url_for("inspect.run", run_id=run_id, page=int_arg("page", 1)))


# ---- my tasks --------------------------------------------------------------------------------

TASK_SCAN = 50


def working_days_left(today: date, due: date | None, cal: WorkdayCalendar) -> int | None:
    """Working days from today (excluded) to the due day (included); negative when overdue;
    None when a year's calendar is not loaded."""
    if due is None:
        return None
    try:
        if due >= today:
            return cal.working_days_between(today, due)
        return -cal.working_days_between(due, today)
    except CalendarNotLoaded:
        return None


@bp.get("/tasks")
@page("inspector", "leader")
def tasks():
    """Running deadlines of the open cases in the user's scope, soonest first."""
    api = backend()
    cases, truncated = api.all_cases(cap=TASK_SCAN * 4)
    open_cases = [c for c in cases if c["state"] not in ("closed", "not_opened")][:TASK_SCAN]
    today, cal = china_today(), WorkdayCalendar()
    rows = []
    for c in open_cases:
        try:
            clocks = api.get("cases", f"/api/v1/cases/{c['id']}/deadlines")
        except ServiceError:
            continue
        for d in clocks:
            if d.get("status") not in ("running", "overdue", "calendar_not_loaded"):
                continue
            due = date.fromisoformat(d["due_on"]) if d.get("due_on") else None
            rows.append({"case": c, "label": d.get("label") or d.get("kind"), "due_on": due,
                         "status": d.get("status"), "note": d.get("note"),
                         "days": (due - today).days if due else None,
                         "workdays": working_days_left(today, due, cal)})
    rows.sort(key=lambda r: (r["due_on"] is None, r["due_on"] or date.max))
    return render_template("tasks.html", rows=rows, scanned=len(open_cases),
                           truncated=truncated or len(open_cases) >= TASK_SCAN, today=today)
