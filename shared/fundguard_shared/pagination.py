"""Paging for every list endpoint: bounded page size, total count."""
from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 200


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_query(session: Session, query, args: dict) -> dict:
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())
                            ).scalar_one()
    items = session.execute(query.limit(args["per_page"])
                            .offset((args["page"] - 1) * args["per_page"])).scalars().all()
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


class Page(Schema):
    """Base of every paged list response: subclass it and add ``items``."""
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
