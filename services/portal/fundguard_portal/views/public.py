"""The public page of published decisions (公示): no sign-in. The portal calls the cases service's
public, unauthenticated API (``/api/v1/public/decisions``); what it shows is already redacted there."""
from __future__ import annotations

import math

from flask import Blueprint, Response, g, render_template, request

from ..bff import _HTTP, Backend, ServiceError
from .common import int_arg, portal

bp = Blueprint("public", __name__, url_prefix="/public")

PER_PAGE = 20


def _anonymous() -> Backend:
    return Backend(portal().settings, None, g.request_id)  # no principal: only auth=False calls


@bp.get("/decisions")
def decisions():
    page_no = int_arg("page", 1)
    region = (request.args.get("region") or "").strip()[:32]
    params = {"page": page_no, "per_page": PER_PAGE}
    if region:
        params["region"] = region
    body = _anonymous().request("GET", "cases", "/api/v1/public/decisions", params=params, auth=False)
    pages = max(1, math.ceil(body["total"] / PER_PAGE))
    return render_template("public_decisions.html", items=body["items"], total=body["total"],
                           page_no=page_no, pages=pages, region=region)


@bp.get("/decisions.atom")
def feed():
    """The cases service's Atom feed, served from the portal's address."""
    backend = _anonymous()
    try:
        resp = _HTTP.get(backend._url("cases", "/api/v1/public/decisions/feed.atom"),
                         headers={"X-Request-ID": g.request_id}, timeout=portal().settings.service_timeout)
    except Exception:
        raise ServiceError(503, "service_unreachable", "案件服务暂时无法访问，请稍后再试", service="cases")
    if resp.status_code != 200:
        raise ServiceError(502, "bad_response", "案件服务返回了错误", service="cases")
    return Response(resp.content, mimetype="application/atom+xml")
