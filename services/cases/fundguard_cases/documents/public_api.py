"""HTTP of publication (公示) and of the case-file export (thin: parse, scope, call, map errors).

* ``pub`` — public and unauthenticated (``security: []`` in the OpenAPI): the published, redacted
  decisions as a paged JSON list and as an Atom feed. Nothing pending, withdrawn or cancelled.
* ``files`` — staff, scoped like cases (404 outside the caller's scope; institutions are not
  admitted): the case file as PDF and ZIP, the case's publications with their log, and publishing
  a case's pending items on demand.
"""
from __future__ import annotations

from datetime import datetime, timezone
from xml.sax.saxutils import escape

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from fundguard_shared.auth import require
from fundguard_shared.errors import ApiError
from fundguard_shared.pagination import Page, PageArgs, page_query

from ..api import load_case
from .. import clock, deadlines, service
from ..models import Case
from ..runtime import runtime
from . import casefile, publication
from .publication import STATUS_LABELS, Publication

STAFF = ("inspector", "leader", "legal_reviewer", "panel_member")
FEED_ENTRIES = 50

# ---- public ---------------------------------------------------------------------------------------------

pub = Blueprint("public", __name__, url_prefix="/api/v1/public",
                description="公示 / Published decisions (public, no authentication; personal data redacted)")


class SanctionPublic(Schema):
    kind = fields.String()
    label = fields.String()
    article = fields.String()
    amount = fields.String(allow_none=True)
    months = fields.Integer(allow_none=True)
    years = fields.Integer(allow_none=True)


class DecisionPublic(Schema):
    id = fields.String()
    title = fields.String()
    document_number = fields.String()
    case_number = fields.String()
    party_type = fields.String()
    party = fields.String()
    institution_id = fields.String(allow_none=True)
    region = fields.String()
    violation_type = fields.String()
    legal_basis = fields.String()
    facts = fields.String()
    sanctions = fields.List(fields.Nested(SanctionPublic))
    decided_on = fields.String()
    authority = fields.String()
    addressee = fields.String()
    paragraphs = fields.List(fields.String())
    published_at = fields.DateTime()


class DecisionPublicList(Page):
    items = fields.List(fields.Nested(DecisionPublic))


class PublicArgs(PageArgs):
    region = fields.String(validate=validate.Length(max=32))


def _public_item(p: Publication) -> dict:
    return {**(p.content or {}), "id": p.id, "published_at": p.published_at}


def _published(args: dict):
    query = select(Publication).where(Publication.status == "published")
    if args.get("region"):
        query = query.where(Publication.region == args["region"])
    return query.order_by(Publication.published_at.desc(), Publication.id)


@pub.route("/decisions")
class PublicDecisions(MethodView):
    @pub.doc(security=[])
    @pub.arguments(PublicArgs, location="query")
    @pub.response(200, DecisionPublicList)
    def get(self, args):
        """行政处罚决定公示：已公示且未撤回的决定（个人信息已按规则脱敏）。"""
        with runtime().sessions() as session:
            page = page_query(session, _published(args), args)
            return {**page, "items": [_public_item(p) for p in page["items"]]}


def _atom_time(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(items: list[Publication], self_url: str) -> str:
    updated = _atom_time(items[0].published_at) if items else "1970-01-01T00:00:00Z"
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
           "<title>医疗保障行政处罚决定公示</title>", f"<id>urn:fundguard:public:decisions</id>",
           f'<link rel="self" href="{escape(self_url)}"/>', f"<updated>{updated}</updated>"]
    for p in items:
        c = p.content or {}
        penalties = "；".join(f"{s['label']}{(' ' + s['amount'] + ' 元') if s.get('amount') else ''}"
                             for s in c.get("sanctions", []))
        summary = f"{c.get('party', '')}：{c.get('facts', '')} 处罚：{penalties or '—'}（{c.get('decided_on', '')}）"
        out += ["<entry>", f"<id>urn:fundguard:publication:{p.id}</id>",
                f"<title>{escape(c.get('document_number') or c.get('title', ''))} {escape(c.get('title', ''))}</title>",
                f"<updated>{_atom_time(p.published_at)}</updated>",
                f"<author><name>{escape(c.get('region', ''))}</name></author>",
                f'<summary type="text">{escape(summary)}</summary>', "</entry>"]
    out.append("</feed>")
    return "\n".join(out)


@pub.route("/decisions/feed.atom")
class PublicFeed(MethodView):
    @pub.doc(security=[])
    @pub.response(200, content_type="application/atom+xml")
    def get(self):
        """公示订阅（Atom）：最近公示的 50 件决定。"""
        with runtime().sessions() as session:
            items = session.execute(_published({}).limit(FEED_ENTRIES)).scalars().all()
            body = atom_feed(items, request.base_url)
        return Response(body, mimetype="application/atom+xml")


# ---- staff: case file and publications -------------------------------------------------------------------

files = Blueprint("case_file", __name__, url_prefix="/api/v1/cases",
                  description="案卷导出与公示管理 / Case-file export and publication (staff)")


class LogOut(Schema):
    at = fields.DateTime()
    on_day = fields.Date()
    action = fields.String()
    actor = fields.String()
    note = fields.String()


class PublicationOut(Schema):
    id = fields.String()
    document_id = fields.String()
    status = fields.String()
    status_label = fields.Function(lambda p: STATUS_LABELS.get(p.status, p.status))
    decided_on = fields.Date()
    due_on = fields.Date(allow_none=True)
    due_note = fields.String()
    published_on = fields.Date(allow_none=True)
    published_by = fields.String(allow_none=True)
    withdraw_cause = fields.String(allow_none=True)
    withdraw_due_on = fields.Date(allow_none=True)
    withdrawn_on = fields.Date(allow_none=True)
    content = fields.Dict(allow_none=True)
    redaction = fields.Dict(allow_none=True)
    log = fields.List(fields.Nested(LogOut))


class RunOut(Schema):
    withdrawn = fields.Integer()
    scheduled = fields.Integer()
    published = fields.Integer()
    blocked = fields.Integer()


def _export(case_id: str, fmt: str) -> Response:
    try:
        with runtime().sessions() as session, session.begin():
            case = load_case(session, case_id)
            cf = casefile.collect(session, case, g.principal.sub)
            pdf = casefile.render(session, cf)
            data = pdf if fmt == "pdf" else casefile.build_zip(session, cf, pdf)
            casefile.record_export(session, cf, fmt, data)
            number = case.number
    except casefile.DocumentUnreadable as exc:
        raise ApiError(409, "document_blob_unreadable",
                       f"文书《{exc.title}》的存档文件{'缺失' if exc.problem == 'missing' else '已被改动'}，拒绝导出",
                       f"the stored PDF of document {exc.document_id} is {exc.problem}; export refused",
                       document_id=exc.document_id)
    mime = "application/pdf" if fmt == "pdf" else "application/zip"
    ascii_name = f"case-file-{case_id}.{fmt}"
    from urllib.parse import quote
    return Response(data, mimetype=mime, headers={
        "Content-Disposition": f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(number)}.{fmt}"})


@files.route("/<string:case_id>/file.pdf")
class CaseFilePdf(MethodView):
    @require(*STAFF)
    @files.response(200, content_type="application/pdf")
    def get(self, case_id):
        """一案一卷（PDF）：封面、卷内目录、全部文书（原样）、证据清单（SHA-256）、审计记录。"""
        return _export(case_id, "pdf")


@files.route("/<string:case_id>/file.zip")
class CaseFileZip(MethodView):
    @require(*STAFF)
    @files.response(200, content_type="application/zip")
    def get(self, case_id):
        """一案一卷（ZIP）：合并 PDF、各文书原件、证据清单与审计记录 JSON、manifest.json（每个文件的 SHA-256 与审计链头）。
        校验：`fundguard-cases verify-case-file <zip>`。"""
        return _export(case_id, "zip")


def _with_log(session, pubs):
    for p in pubs:
        p.log = publication.log_of(session, p.id)
    return pubs


@files.route("/<string:case_id>/publications")
class CasePublications(MethodView):
    @require(*STAFF)
    @files.response(200, PublicationOut(many=True))
    def get(self, case_id):
        """本案的公示：期限、状态、脱敏记录、撤回与日志。"""
        with runtime().sessions() as session:
            case = load_case(session, case_id)
            return _with_log(session, publication.for_case(session, case.id))


@files.route("/<string:case_id>/publications/run")
class CasePublicationsRun(MethodView):
    @require("leader")
    @files.response(200, RunOut)
    def post(self, case_id):
        """立即公示本案待公示的决定（并处理撤回），不等待定时任务。"""
        with runtime().sessions() as session, session.begin():
            case = load_case(session, case_id)
            return publication.run(session, clock.today(), deadlines.calendar_for(session), service.legal_params(),
                                   case_id=case.id, actor=g.principal.sub, actor_role=g.principal.role,
                                   request_id=g.request_id)
