"""publications (公示) and case-file exports.

Revision ID: 0007
Revises: 0006
"""
from typing import Sequence, Union

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
