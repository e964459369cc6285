"""documents, 文号 sequences, voided numbers, service (送达) records.

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
