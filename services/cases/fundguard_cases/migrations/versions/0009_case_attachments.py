"""case_attachments: files a party (or staff) attached to a case — 陈述申辩 / 听证申请 / 复议 materials.

``case_attachments``: one row per uploaded file of a case (bytes in the content-addressed blob store
under their SHA-256); ``case_attachment_links``: which workflow step (file_defence, request_hearing,
file_appeal) referenced which attachment. Both append-only (triggers refuse UPDATE and DELETE).

Revision ID: 0009
Revises: 0008
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels = None
depends_on = None

APPEND_ONLY = ("case_attachments", "case_attachment_links")


def upgrade() -> None:
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("uploaded_by", sa.String(128), nullable=False),
        sa.Column("uploader_role", sa.String(32), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "sha256", "purpose", "uploader_role", name="uq_case_attachment_content"),
    )
    op.create_index("ix_case_attachments_case_id", "case_attachments", ["case_id"])
    op.create_table(
        "case_attachment_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("attachment_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("linked_by", sa.String(128), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attachment_id"], ["case_attachments.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_attachment_links_attachment_id", "case_attachment_links", ["attachment_id"])
    op.create_index("ix_case_attachment_links_case_id", "case_attachment_links", ["case_id"])
    if op.get_bind().dialect.name == "postgresql":
        # fundguard_audit_append_only() comes from 0002
        for table in APPEND_ONLY:
            op.execute(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION fundguard_audit_append_only();""")
            op.execute(f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                           FOR EACH STATEMENT EXECUTE FUNCTION fundguard_audit_append_only();""")
    else:
        for table in APPEND_ONLY:
            op.execute(f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                           BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""")
            op.execute(f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                           BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""")


def downgrade() -> None:
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_index("ix_case_attachment_links_case_id", table_name="case_attachment_links")
    op.drop_index("ix_case_attachment_links_attachment_id", table_name="case_attachment_links")
    op.drop_table("case_attachment_links")
    op.drop_index("ix_case_attachments_case_id", table_name="case_attachments")
    op.drop_table("case_attachments")
