"""staff points ledger (驾照式记分) and institution standing.

New tables only: persons (keyed by the HMAC of the national identifier), points_ledger
(append-only, triggers like case_audit), person_restrictions (derived, rebuilt from the ledger),
institution_standing and standing_events (append-only projection of sanction.decided).

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("points_ledger", "standing_events")


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("profession", sa.String(32), nullable=False),
        sa.Column("institution_id", sa.String(64), nullable=True),
        sa.Column("region", sa.String(32), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id_hash"),
    )
    op.create_index("ix_persons_institution_id", "persons", ["institution_id"])
    op.create_table(
        "points_ledger",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("sanction_id", sa.String(36), nullable=True),
        sa.Column("band", sa.String(8), nullable=True),
        sa.Column("responsibility", sa.String(8), nullable=True),
        sa.Column("suspension_months", sa.Integer(), nullable=True),
        sa.Column("activity", sa.String(32), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("cause", sa.String(32), nullable=True),
        sa.Column("institution_id", sa.String(64), nullable=True),
        sa.Column("region", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "seq", name="uq_points_ledger_seq"),
    )
    op.create_index("ix_points_ledger_person_id", "points_ledger", ["person_id"])
    op.create_index("ix_points_ledger_case_id", "points_ledger", ["case_id"])
    op.create_index("ix_points_ledger_sanction_id", "points_ledger", ["sanction_id"])
    op.create_table(
        "person_restrictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("ban_until", sa.Date(), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("needs_decision", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_person_restrictions_person_id", "person_restrictions", ["person_id"])
    op.create_table(
        "institution_standing",
        sa.Column("institution_id", sa.String(64), nullable=False),
        sa.Column("institution_name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("institution_id"),
    )
    op.create_index("ix_institution_standing_region", "institution_standing", ["region"])
    op.create_table(
        "standing_events",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("outbox_id", _BIG, nullable=True),
        sa.Column("institution_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("sanction_id", sa.String(36), nullable=False),
        sa.Column("track", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("article", sa.String(16), nullable=False),
        sa.Column("months", sa.Integer(), nullable=True),
        sa.Column("years", sa.Integer(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("in_force", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_standing_events_outbox_id", "standing_events", ["outbox_id"])
    op.create_index("ix_standing_events_institution_id", "standing_events", ["institution_id"])
    op.create_index("ix_standing_events_sanction_id", "standing_events", ["sanction_id"])

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
    op.drop_table("standing_events")
    op.drop_table("institution_standing")
    op.drop_table("person_restrictions")
    op.drop_table("points_ledger")
    op.drop_table("persons")
