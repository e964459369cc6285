"""documents, 文号 sequences, voided numbers, service (送达) records, electronic-service consents.

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("doc_type", sa.String(48), nullable=False),
        sa.Column("number", sa.String(96), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("addressee_id", sa.String(64), nullable=True),
        sa.Column("corrects_id", sa.String(36), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("issued_by", sa.String(128), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["corrects_id"], ["documents.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number", name="uq_documents_number"),
        sa.UniqueConstraint("case_id", "seq", name="uq_documents_case_seq"),
    )
    op.create_index("ix_documents_case_id", "documents", ["case_id"])
    op.create_index("ix_documents_region", "documents", ["region"])
    op.create_index("ix_documents_doc_type", "documents", ["doc_type"])
    op.create_index("ix_documents_addressee_id", "documents", ["addressee_id"])
    op.create_table(
        "document_number_sequences",
        sa.Column("authority", sa.String(32), nullable=False),
        sa.Column("doc_type", sa.String(48), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("authority", "doc_type", "year"),
    )
    op.create_table(
        "voided_numbers",
        sa.Column("number", sa.String(96), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "document_services",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("receipt_at", TS, nullable=True),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_document_services_document_id", "document_services", ["document_id"])
    op.create_table(
        "service_consents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("given_by", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("given_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_service_consents_case_id", "service_consents", ["case_id"])
    # frozen: the issued content of a document never changes (only status issued -> voided)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE OR REPLACE FUNCTION fundguard_documents_frozen() RETURNS trigger AS $$
                      BEGIN
                        IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'documents are never deleted'; END IF;
                        IF NEW.number IS DISTINCT FROM OLD.number OR NEW.sha256 <> OLD.sha256
                           OR NEW.size <> OLD.size OR NEW.fields::text <> OLD.fields::text
                           OR NEW.case_id <> OLD.case_id OR NEW.doc_type <> OLD.doc_type
                           OR NEW.issued_at <> OLD.issued_at OR NEW.corrects_id IS DISTINCT FROM OLD.corrects_id
                           OR NEW.title <> OLD.title
                        THEN RAISE EXCEPTION 'an issued document is frozen'; END IF;
                        RETURN NEW;
                      END $$ LANGUAGE plpgsql;""")
        op.execute("""CREATE TRIGGER documents_frozen BEFORE UPDATE OR DELETE ON documents
                      FOR EACH ROW EXECUTE FUNCTION fundguard_documents_frozen();""")
    else:
        op.execute("""CREATE TRIGGER documents_frozen BEFORE UPDATE ON documents
                      WHEN NEW.number IS NOT OLD.number OR NEW.sha256 <> OLD.sha256 OR NEW.size <> OLD.size
                           OR NEW.fields <> OLD.fields OR NEW.case_id <> OLD.case_id
                           OR NEW.doc_type <> OLD.doc_type OR NEW.issued_at <> OLD.issued_at
                           OR NEW.corrects_id IS NOT OLD.corrects_id OR NEW.title <> OLD.title
                      BEGIN SELECT RAISE(ABORT, 'an issued document is frozen'); END;""")
        op.execute("""CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
                      BEGIN SELECT RAISE(ABORT, 'documents are never deleted'); END;""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS documents_frozen ON documents")
        op.execute("DROP FUNCTION IF EXISTS fundguard_documents_frozen()")
    else:
        op.execute("DROP TRIGGER IF EXISTS documents_frozen")
        op.execute("DROP TRIGGER IF EXISTS documents_no_delete")
    op.drop_table("service_consents")
    op.drop_table("document_services")
    op.drop_table("voided_numbers")
    op.drop_table("document_number_sequences")
    op.drop_table("documents")
