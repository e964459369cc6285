"""points procedure: notice and 陈述申辩 before scoring, objection window, credit tier.

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
