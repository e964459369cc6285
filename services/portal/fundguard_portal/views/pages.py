"""The pages: home per role, cases, case page with actions, findings, inbox, dashboard."""
from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter

from flask import (Blueprint, Response, flash, g, redirect, render_template, request,
                   url_for)

from fundguard_shared.catalogue import VIOLATION_TYPES
from fundguard_shared.events import PARTY_TYPES
from sqlalchemy import select

from .. import case_view, forms, labels
from ..bff import ServiceError, workflow_diagram
from ..models import User
from ..workflow_view import flow_items, parse_mermaid, trigger_labels
from . import documents as documents_view
from .common import CASE_ROLES, FINDING_ROLES, backend, int_arg, page, portal, safe_next

bp = Blueprint("pages", __name__)

# A step's form may carry an attachment (陈述申辩 / 听证申请 / 复议材料, often a scanned PDF): its
# posts may be larger than the portal's general body limit. The cases service judges the file
# (type by content, its own size limit → 413). Set before the CSRF check reads the form: URL
# value preprocessors run ahead of every before_request function.
UPLOAD_MAX_BYTES = 20 * 1024 * 1024 + 256 * 1024


@bp.url_value_preprocessor
def _step_upload_limit(endpoint, values):
    if endpoint == "pages.transition" and request.method == "POST" and request.mimetype == "multipart/form-data":
        request.max_content_length = int(os.environ.get("PORTAL_UPLOAD_MAX_BYTES") or UPLOAD_MAX_BYTES)

PER_PAGE = 20
SOURCES = tuple(labels.SOURCE_LABELS)

def _diagram():
    try:
        raw = workflow_diagram(backend())
        return parse_mermaid(raw.get("mermaid", "")), trigger_labels(raw)
    except ServiceError:
        return parse_mermaid(""), {}


def _optional(fn, default=None):
    """A newer endpoint the services may not have yet: 404/405 means "not offered"."""
    try:
        return fn()
    except ServiceError as err:
        if err.status in (404, 405):
            return default
        raise


def _unread() -> int | None:
    try:
        return backend().get("notify", "/api/v1/inbox", per_page=1)["unread"]
    except (ServiceError, KeyError, TypeError):
        return None


@bp.app_context_processor
def _nav():
    if g.get("user") is None or request.endpoint in (None, "static"):
        return {}
    return {"unread_count": _unread() if g.user.role != "admin" else None}


# ---- home ----------------------------------------------------------------------------------

@bp.get("/")
@page()
def home():
    role = g.user.role
    if role == "admin":
        return redirect(url_for("admin.users"))
    api = backend()
    ctx: dict = {"errors": []}
    diagram, _ = _diagram()
    queue_state = {"legal_reviewer": "legal_review", "panel_member": "panel"}.get(role)

    def attempt(key, fn):
        try:
            ctx[key] = fn()
        except ServiceError as err:
            ctx["errors"].append(err.message)
            ctx[key] = None

    attempt("cases", lambda: api.get("cases", "/api/v1/cases", per_page=10, state=queue_state))
    if role == "inspector" or role == "leader":
        attempt("findings", lambda: api.get("inspection", "/api/v1/findings", per_page=5))
    if role == "leader":
        attempt("todo", lambda: {s: api.get("cases", "/api/v1/cases", per_page=1, state=s)["total"]
                                 for s in ("clue_registered", "clue_verifying")})
    attempt("inbox", lambda: api.get("notify", "/api/v1/inbox", per_page=5))
    return render_template(f"home_{role}.html", diagram=diagram, queue_state=queue_state, **ctx)


# ---- cases -----------------------------------------------------------------------------------

def _matches(case: dict, q: str) -> bool:
    q = q.lower()
    return any(q in str(case.get(k) or "").lower()
               for k in ("number", "institution_name", "institution_id", "summary"))


SORTS = {   # key -> (label, sort key, descending); the API itself orders by 登记时间 desc
    "": ("登记时间（新→旧）", None, True),
    "created_asc": ("登记时间（旧→新）", lambda c: c.get("created_at") or "", False),
    "updated": ("最近更新", lambda c: c.get("updated_at") or "", True),
    "amount": ("涉及金额（高→低）", lambda c: float(c.get("amount") or 0), True),
    "amount_asc": ("涉及金额（低→高）", lambda c: float(c.get("amount") or 0), False),
    "number": ("案件编号", lambda c: c.get("number") or "", False),
}


def case_list_query(args) -> dict:
    """The list's filters from the query string: what the cases API filters (state,
    institution_id, paging) and what the portal applies over the scope (search text,
    violation type, sort)."""
    sort = args.get("sort", "")
    vt = args.get("violation_type", "").strip()
    return {"state": args.get("state", "").strip()[:48],
            "institution_id": args.get("institution_id", "").strip()[:64],
            "q": args.get("q", "").strip()[:100],
            "violation_type": vt if vt in VIOLATION_TYPES else "",
            "sort": sort if sort in SORTS else ""}


def filter_and_sort(items: list[dict], f: dict) -> list[dict]:
    out = [c for c in items if (not f["q"] or _matches(c, f["q"]))
           and (not f["violation_type"] or c.get("violation_type") == f["violation_type"])]
    _, key, desc = SORTS[f["sort"]]
    if key is not None:
        out.sort(key=key, reverse=desc)
    return out


@bp.get("/cases")
@page(*CASE_ROLES)
def cases():
    api = backend()
    diagram, _ = _diagram()
    f = case_list_query(request.args)
    page_no = int_arg("page", 1)
    api_filters = {"state": f["state"] or None, "institution_id": f["institution_id"] or None}
    truncated = False
    if f["q"] or f["violation_type"] or f["sort"]:
        # the API has no text search, type filter or other order: read the scope (capped)
        found, truncated = api.all_cases(**api_filters)
        found = filter_and_sort(found, f)
        total = len(found)
        items = found[(page_no - 1) * PER_PAGE: page_no * PER_PAGE]
    else:
        body = api.get("cases", "/api/v1/cases", page=page_no, per_page=PER_PAGE, **api_filters)
        items, total = body["items"], body["total"]
    pages = max(1, -(-total // PER_PAGE))
    return render_template("cases.html", items=items, total=total, page_no=page_no, pages=pages,
                           f=f, args={k: v for k, v in f.items() if v}, sorts=SORTS,
                           diagram=diagram, truncated=truncated)


def _people(role: str, region: str | None) -> list[tuple[str, str]]:
    """(sub, name) of the portal's active users with ``role`` in ``region``: who can be named
    as an officer or a panel member (the portal's own user list; no business data)."""
    with portal().sessions() as s:
        q = select(User).where(User.role == role, User.active.is_(True))
        if region:
            q = q.where(User.region == region)
        return [(u.username, f"{u.display_name or u.username}（{u.username}）")
                for u in s.execute(q.order_by(User.username)).scalars()]


def _case_context(case_id: str, values: dict | None = None, failed: str | None = None) -> dict:
    api = backend()
    case = api.get("cases", f"/api/v1/cases/{case_id}")
    try:
        trail = api.get("cases", f"/api/v1/cases/{case_id}/audit")
    except ServiceError as err:
        trail, trail_error = [], err.message
    else:
        trail_error = None
    try:
        file = api.get("cases", f"/api/v1/cases/{case_id}/file")
    except ServiceError as err:
        if err.status in (401, 404):
            raise
        file = None
    diagram, step_labels = _diagram()
    steps = _steps()
    for a in (case.get("actions") or []) + (case.get("records") or []):
        step_labels.setdefault(a["trigger"], a.get("label") or a["trigger"])
    visited = {e.get("to_state") for e in trail} | {e.get("from_state") for e in trail}
    timeline = []
    for e in trail:
        label = (step_labels.get(e["action"]) or labels.ACTION_FALLBACK.get(e["action"]))
        if not label:
            options = diagram.edge_labels(e.get("from_state"), e.get("to_state"))
            label = options[0] if len(options) == 1 else e["action"]
        timeline.append({**e, "label": label, "from_label": diagram.label(e.get("from_state")),
                         "to_label": diagram.label(e.get("to_state")),
                         "role_label": labels.ACTOR_ROLE_LABELS.get(
                             e.get("actor_role"), e.get("actor_role") or "系统")})
    clocks = (file or {}).get("deadlines")
    if clocks is None:
        try:
            clocks = _optional(lambda: api.get("cases", f"/api/v1/cases/{case_id}/deadlines"), [])
        except ServiceError:
            clocks = []
    step_forms = case_view.step_forms(case, file, steps, _people, g.user.region, values, failed)
    documents = documents_view.documents(api, case_id)
    try:
        attachments = case_view.attachment_rows(
            _optional(lambda: api.get("cases", f"/api/v1/cases/{case_id}/attachments"), None), step_labels)
    except ServiceError:
        attachments = None
    return {"case": case, "timeline": list(reversed(timeline)), "trail_error": trail_error,
            "deadlines": clocks, "file": file, "cd": (file or {}).get("details") or {},
            "sanction_rows": case_view.sanction_rows(file, case),
            "moves": [f for f in step_forms if not f.record],
            "records": [f for f in step_forms if f.record],
            "open_form": failed, **documents, "attachments": attachments,
            "flow": flow_items(diagram, case["state"], visited),
            "violation_label": labels.VIOLATION_LABELS.get(case.get("violation_type"),
                                                           case.get("violation_type"))}


def _steps() -> dict:
    try:
        raw = workflow_diagram(backend())
    except ServiceError:
        return {}
    return {s["trigger"]: s for s in raw.get("steps") or [] if isinstance(s, dict) and "trigger" in s}


@bp.get("/cases/<case_id>")
@page(*CASE_ROLES)
def case(case_id: str):
    return render_template("case.html", **_case_context(case_id))


def _file_attachment(case_id: str, trigger: str) -> str | None:
    """The file chosen in a step's form goes to the case's attachments first (the cases service
    checks its type by content and keeps the original under its SHA-256); the step then names
    the returned id in ``data.attachments``. None when no file was chosen."""
    upload = request.files.get("attachment")
    if upload is None or not upload.filename:
        return None
    att = backend().upload("cases", f"/api/v1/cases/{case_id}/attachments", upload,
                           {"purpose": forms.ATTACHMENT_PURPOSES.get(trigger, "other")})
    return att["id"]


@bp.get("/attachments/<att_id>")
@page(*CASE_ROLES)
def attachment(att_id: str):
    """An attachment's original through the portal (the cases service scopes it and re-checks
    its SHA-256)."""
    content, headers = backend().get_bytes("cases", f"/api/v1/attachments/{att_id}")
    resp = Response(content, mimetype=headers.get("Content-Type") or "application/octet-stream")
    resp.headers["Content-Disposition"] = headers.get("Content-Disposition") or "attachment"
    if headers.get("X-Content-SHA256"):
        resp.headers["X-Content-SHA256"] = headers["X-Content-SHA256"]
    return resp


@bp.post("/cases/<case_id>/transition")
@page(*CASE_ROLES)
def transition(case_id: str):
    trigger = request.form.get("trigger", "")
    reason = request.form.get("reason", "").strip()
    error, details, status = None, [], 200
    data: dict = {}
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        error, status = "缺少版本号，请刷新页面后重试", 428
    if trigger in forms.STEP_FIELDS:
        try:
            people = dict(_people("inspector", g.user.region)) if trigger in (
                "open_case", "recuse") else {}
            people = {k: v.rsplit("（", 1)[0] for k, v in people.items()}
            data = forms.parse(trigger, request.form, people=people)
        except forms.FormProblem as problem_:
            error, status = str(problem_), 422
        if error is None and trigger in forms.ATTACHMENT_PURPOSES:
            try:
                att_id = _file_attachment(case_id, trigger)
            except ServiceError as err:
                if err.status in (401, 404):
                    raise
                error, details, status = f"附件未能保存：{err.message}", err.details, err.page_status
            else:
                if att_id:
                    data["attachments"] = [att_id]
    elif request.form.get("data", "").strip():
        try:
            data = json.loads(request.form["data"])
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            error, status = "补充数据须为 JSON 对象（形如 {\"键\": \"值\"}）", 422
    if error is None:
        try:
            after = backend().post("cases", f"/api/v1/cases/{case_id}/transitions", json={
                "trigger": trigger, "version": version, "reason": reason, "data": data})
        except ServiceError as err:
            if err.status in (401, 404):
                raise
            error, details, status = err.message, err.details, err.status
        else:
            flash(f"操作已完成，案件当前状态：{after.get('state_label') or after.get('state')}",
                  "success")
            return redirect(url_for("pages.case", case_id=case_id))
    values = request.form.to_dict(flat=True)
    for key in request.form:
        if len(request.form.getlist(key)) > 1 or key in ("members", "behaviours"):
            values[key] = request.form.getlist(key)
    values["reason"] = request.form.get("reason", "")
    ctx = _case_context(case_id, values, trigger)
    return render_template("case.html", error=error, details=details,
                           stale=(status == 409 and "刷新" in (error or "")), **ctx), status


@bp.get("/workflow")
@page()
def workflow():
    diagram, _ = _diagram()
    return render_template("workflow.html", diagram=diagram)


# ---- findings --------------------------------------------------------------------------------

@bp.get("/findings")
@page(*FINDING_ROLES)
def findings():
    page_no = int_arg("page", 1)
    body = backend().get("inspection", "/api/v1/findings", page=page_no, per_page=PER_PAGE)
    pages = max(1, -(-body["total"] // PER_PAGE))
    return render_template("findings.html", items=body["items"], total=body["total"],
                           page_no=page_no, pages=pages)


def _finding_form(form: dict, error=None, details=(), status=200):
    return render_template("finding_new.html", form=form, error=error, details=list(details),
                           violation_types=VIOLATION_TYPES, party_types=PARTY_TYPES,
                           sources=SOURCES, today=forms.china_today().isoformat()), status


@bp.get("/findings/new")
@page(*FINDING_ROLES)
def finding_new():
    return _finding_form({"party_type": "entity", "source": "flight_inspection"})


@bp.post("/findings/new")
@page(*FINDING_ROLES)
def finding_create():
    fields = ("institution_id", "institution_name", "party_type", "violation_type", "amount",
              "description", "source", "act_date", "department")
    form = {k: request.form.get(k, "").strip() for k in fields}
    body = {k: v for k, v in form.items() if v != ""}
    if g.user.role != "leader":
        body.pop("department", None)
    try:
        created = backend().post("inspection", "/api/v1/findings", json=body)
    except ServiceError as err:
        if err.status in (401,):
            raise
        return _finding_form(form, err.message, err.details, err.page_status)
    flash(f"检查发现已录入（{created.get('institution_name')}，{labels.fmt_amount(created.get('amount'))}），"
          "系统将自动登记线索并通知负责人", "success")
    return redirect(url_for("pages.findings"))


# ---- inbox -----------------------------------------------------------------------------------

@bp.get("/inbox")
@page(*CASE_ROLES)
def inbox():
    page_no = int_arg("page", 1)
    body = backend().get("notify", "/api/v1/inbox", page=page_no, per_page=PER_PAGE)
    pages = max(1, -(-body["total"] // PER_PAGE))
    return render_template("inbox.html", items=body["items"], total=body["total"],
                           unread=body.get("unread", 0), page_no=page_no, pages=pages)


@bp.post("/inbox/read")
@page(*CASE_ROLES)
def inbox_read():
    ids = [i for i in request.form.getlist("id") if i][:PER_PAGE]
    for nid in ids:
        backend().post("notify", f"/api/v1/inbox/{nid}/read")
    flash(f"已标记 {len(ids)} 条通知为已读", "success")
    return redirect(safe_next(request.form.get("next"), url_for("pages.inbox")))


# ---- leader dashboard ------------------------------------------------------------------------

def _month(value) -> str:
    dt = labels.parse_dt(value)
    return dt.strftime("%Y-%m") if dt else "未知"


@bp.get("/dashboard")
@page("leader")
def dashboard():
    api = backend()
    diagram, _ = _diagram()
    cases_, truncated = api.all_cases()
    served = _optional(lambda: api.get("cases", "/api/v1/dashboard/counts", by="state"))
    if served is not None:      # the cases service's read model, when it offers one
        by_state = Counter({r["key"]: r["count"] for r in served})
    elif truncated:             # exact totals per state when the scan was capped
        by_state = Counter({s: api.get("cases", "/api/v1/cases", per_page=1, state=s)["total"]
                            for s in diagram.ordered()})
    else:
        by_state = Counter(c["state"] for c in cases_)
    sanctions = _optional(lambda: api.get("cases", "/api/v1/dashboard/counts", by="sanction_type"))
    sanction_rows = [(r.get("label") or r["key"], r["count"], r["key"]) for r in sanctions or []]
    overdue = _optional(lambda: api.get("cases", "/api/v1/dashboard/overdue"))
    amounts = _optional(lambda: api.get("cases", "/api/v1/dashboard/amounts"))
    state_rows = [(diagram.label(s), by_state.get(s, 0), s) for s in diagram.ordered()
                  if by_state.get(s, 0)]
    vt = Counter(c.get("violation_type") for c in cases_)
    vt_rows = [(labels.VIOLATION_LABELS.get(k, k), n, k) for k, n in vt.most_common()]
    months = Counter(_month(c.get("created_at")) for c in cases_)
    month_rows = [(m, months[m], m) for m in sorted(months)][-12:]
    total_amount = sum(float(c.get("amount") or 0) for c in cases_)
    open_count = sum(n for s, n in by_state.items() if s not in diagram.final)
    appeals, appeals_truncated, scanned = _pending_appeals(api)
    return render_template("dashboard.html", state_rows=state_rows, vt_rows=vt_rows,
                           appeals=appeals, appeals_truncated=appeals_truncated,
                           appeals_scanned=scanned,
                           sanction_rows=sanction_rows, overdue=overdue, amounts=amounts,
                           month_rows=month_rows, total=sum(by_state.values()),
                           open_count=open_count, total_amount=total_amount,
                           truncated=truncated, scanned=len(cases_))


APPEAL_SCAN = 30
_AFTER_SERVICE = ("served", "enforcing", "closed")


def _pending_appeals(api) -> tuple[list[dict], bool, int]:
    """Appeals (复议/诉讼/申诉) without an outcome, from the case files of the cases after
    service (the most recent ``APPEAL_SCAN``; the cases API has no appeal list)."""
    candidates: list[dict] = []
    for state in _AFTER_SERVICE:
        body = api.get("cases", "/api/v1/cases", per_page=APPEAL_SCAN, state=state)
        candidates += body["items"]
        if body["total"] > len(body["items"]):
            candidates.append({})             # a marker: more than scanned
    truncated = any(not c for c in candidates)
    candidates = sorted((c for c in candidates if c), key=lambda c: c.get("updated_at") or "",
                        reverse=True)[:APPEAL_SCAN]
    truncated = truncated or len(candidates) >= APPEAL_SCAN
    out = []
    for c in candidates:
        try:
            file = api.get("cases", f"/api/v1/cases/{c['id']}/file")
        except ServiceError:
            continue
        for a in file.get("appeals") or []:
            if not a.get("outcome"):
                out.append({**a, "case": c, "kind_label": forms.APPEAL_KINDS.get(a["kind"], a["kind"])})
    return out, truncated, len(candidates)


_CSV_COLUMNS = (("number", "案件编号"), ("state_label", "状态"), ("institution_id", "机构编码"),
                ("institution_name", "机构名称"), ("violation", "违法类型"),
                ("legal_basis", "法律依据"), ("amount", "涉及金额（元）"), ("department", "承办科室"),
                ("region", "统筹区"), ("source", "线索来源"), ("created_at", "登记时间"),
                ("updated_at", "更新时间"))


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # No formula injection when the file is opened in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/dashboard/cases.csv")
@page("leader")
def dashboard_csv():
    cases_, _ = backend().all_cases()
    buf = io.StringIO()
    buf.write("\ufeff")      # BOM: spreadsheets open the UTF-8 Chinese text correctly
    w = csv.writer(buf)
    w.writerow([title for _, title in _CSV_COLUMNS])
    for c in cases_:
        row = dict(c, violation=labels.VIOLATION_LABELS.get(c.get("violation_type"),
                                                            c.get("violation_type")),
                   source=labels.SOURCE_LABELS.get(c.get("source"), c.get("source")),
                   created_at=labels.fmt_dt(c.get("created_at")),
                   updated_at=labels.fmt_dt(c.get("updated_at")))
        w.writerow([_csv_cell(row.get(k)) for k, _ in _CSV_COLUMNS])
    name = f"cases-{forms.china_today().isoformat()}.csv"
    return Response(buf.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
