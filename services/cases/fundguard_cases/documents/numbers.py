"""文号: ``{prefix}医保{code}〔{year}〕{n}号`` per authority, type and year; gap-free and unique.

The counter row is locked in the issuing transaction (PostgreSQL: SELECT ... FOR UPDATE after an
INSERT ... ON CONFLICT DO NOTHING creates it; SQLite: the transaction already holds the write lock,
BEGIN IMMEDIATE). A failed issue rolls the increment back, so no number is consumed; a voided
number stays recorded in ``voided_numbers`` and the counter never hands it out again."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .models import DocumentNumberSequence


def format_number(prefix: str, code: str, year: int, n: int) -> str:
    return f"{prefix}医保{code}〔{year}〕{n}号"


def take(session: Session, authority: str, doc_type: str, year: int) -> int:
    """The next number of (authority, type, year), row-locked until the caller's commit."""
    dialect = session.get_bind().dialect.name
    values = {"authority": authority, "doc_type": doc_type, "year": year, "last": 0}
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(DocumentNumberSequence).values(**values)
    session.execute(ins.on_conflict_do_nothing(index_elements=["authority", "doc_type", "year"]))
    row = session.execute(select(DocumentNumberSequence).where(
        DocumentNumberSequence.authority == authority, DocumentNumberSequence.doc_type == doc_type,
        DocumentNumberSequence.year == year).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    row.last += 1
    session.flush()
    return row.last
