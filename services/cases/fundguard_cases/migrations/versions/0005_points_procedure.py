"""points procedure: notice and 陈述申辩 before scoring, objection window, credit tier.

New tables: points_proposals (a scoring notified before it is entered), points_objections
(复核 after scoring) and points_announced (the last person/institution state put on the bus).

Data: standing is now projected by the cases worker consuming ``sanction.#`` from the bus (an
ordered queue) instead of tailing the outbox. So that the first bus event of an existing case is
not parked behind sequence numbers the old projector already handled, the consumer's position on
every ``sanction:<case>`` subject starts at the last sequence the old projector applied. (Upgrade
with the old worker stopped after its projector caught up: it ran every 5 seconds.)

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "points_proposals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("sanction_id", sa.String(36), nullable=False),
        sa.Column("band", sa.String(8), nullable=False),
        sa.Column("responsibility", sa.String(8), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("suspension_months", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("institution_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(128), nullable=False),
        sa.Column("proposed_on", sa.Date(), nullable=False),
        sa.Column("defence_working_days", sa.Integer(), nullable=False),
        sa.Column("defence_due_on", sa.Date(), nullable=True),
        sa.Column("due_note", sa.String(200), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("defence", sa.Text(), nullable=True),
        sa.Column("defence_by", sa.String(128), nullable=True),
        sa.Column("defence_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("scored_points", sa.Integer(), nullable=True),
        sa.Column("scored_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_points_proposals_person_id", "points_proposals", ["person_id"])
    op.create_index("ix_points_proposals_sanction_id", "points_proposals", ["sanction_id"])
    op.create_index("ix_points_proposals_status", "points_proposals", ["status"])
    op.create_table(
        "points_objections",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=False),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.String(128), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("window_ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("new_points", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_points_objections_person_id", "points_objections", ["person_id"])
    op.create_index("ix_points_objections_entry_id", "points_objections", ["entry_id"])
    op.create_table(
        "points_announced",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.execute("""
        INSERT INTO subject_positions (consumer, producer, subject, last_sequence)
        SELECT 'cases', 'cases', o.subject, MAX(o.sequence)
        FROM outbox o JOIN standing_events s ON s.outbox_id = o.id
        WHERE o.event_type = 'sanction.decided'
          AND NOT EXISTS (SELECT 1 FROM subject_positions p WHERE p.consumer = 'cases'
                          AND p.producer = 'cases' AND p.subject = o.subject)
        GROUP BY o.subject""")


def downgrade() -> None:
    op.drop_table("points_announced")
    op.drop_table("points_objections")
    op.drop_table("points_proposals")
