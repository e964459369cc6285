"""case_evidence: the evidence files of a case as the inspection service reported them.

One row per file per case (unique on case_id, evidence_id and on finding_id, evidence_id): its
SHA-256, name, media type, size and when it was added, from ``finding.recorded`` (``evidence``) and
``evidence.registered``. ``case_id`` is empty for a file whose case was not found when the event
was applied; such a row joins the case opened from its finding (``fundguard_cases.evidence``).

Revision ID: 0008
Revises: 0007
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_evidence",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("finding_id", sa.String(36), nullable=False),
        sa.Column("evidence_id", sa.String(36), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_event_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "evidence_id", name="uq_case_evidence"),
        sa.UniqueConstraint("finding_id", "evidence_id", name="uq_case_evidence_finding"),
    )
    op.create_index("ix_case_evidence_case_id", "case_evidence", ["case_id"])
    op.create_index("ix_case_evidence_finding_id", "case_evidence", ["finding_id"])


def downgrade() -> None:
    op.drop_index("ix_case_evidence_finding_id", table_name="case_evidence")
    op.drop_index("ix_case_evidence_case_id", table_name="case_evidence")
    op.drop_table("case_evidence")
